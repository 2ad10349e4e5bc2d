// The one way a test waits for something to happen: poll a condition until it holds or a deadline
// passes. Tests run two files at a time beside qemu VMs on two CPUs, so a fixed sleep followed by
// "it happened" is a flake waiting for a busy minute; wait on the condition instead, with a deadline
// far above what it takes, and print how long it took (tests never assert on time).

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** Poll interval (default 20 ms). */
  everyMs?: number;
  /** What was seen instead, for the timeout message. */
  seen?: () => unknown;
  /** Do not print the time waited (for waits inside loops and helpers). */
  quiet?: boolean;
}

/** Resolves with the first truthy value of `check`; throws "timed out … waiting for <what>". */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, options: number | WaitOptions = {}): Promise<NonNullable<T>> {
  const o = typeof options === 'number' ? { timeoutMs: options } : options;
  const timeoutMs = o.timeoutMs ?? 30_000;
  const t0 = Date.now();
  for (;;) {
    const v = await check();
    if (v) {
      if (!o.quiet) console.log(`  waited ${Date.now() - t0} ms for ${what}`);
      return v as NonNullable<T>;
    }
    if (Date.now() - t0 > timeoutMs) {
      const seen = o.seen ? `; got ${JSON.stringify(o.seen())}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`);
    }
    await new Promise((r) => setTimeout(r, o.everyMs ?? 20));
  }
}
