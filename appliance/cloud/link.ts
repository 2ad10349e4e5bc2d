// The cloud link's health as staff see it: up | degraded | down, from periodic /readyz and
// /version probes. Reachable-but-unhealthy is degraded at once; unreachable becomes down only after
// `downAfter` probes in a row fail (one lost packet must not send the fleet headless). While
// failing, probes back off exponentially (with jitter) up to `maxBackoffMs`, so a dead link costs
// little and a returning one is seen within that bound. Every change of state is one event.
import type { Store } from '../store/store.ts';

export type LinkState = 'unconfigured' | 'up' | 'degraded' | 'down';

export interface ProbeResult {
  /** The API server answered at all (any HTTP status). */
  reachable: boolean;
  /** /readyz said ok and /version parsed. */
  healthy: boolean;
  version: string | null;
  error: string | null;
}

export interface LinkStatus {
  state: LinkState;
  since: number;
  lastError: string | null;
  version: string | null;
  checkedAt: number | null;
  /** Consecutive unreachable probes. */
  failures: number;
  /** False until a probe decided the state (at start the link is assumed down, not known down). */
  known: boolean;
}

export interface LinkTiming { probeMs: number; maxBackoffMs: number; downAfter: number }

export interface Link {
  status(): LinkStatus;
  start(): void;
  /** Stops the timer; resolves once a probe in flight has finished. */
  stop(): Promise<void>;
  /** Probe now (also what the timer calls); resolves with the state after it. */
  probeNow(): Promise<LinkStatus>;
}

export function createLink(o: {
  store: Store;
  timing: LinkTiming;
  now: () => number;
  probe: () => Promise<ProbeResult>;
  onChange: (prev: LinkStatus, next: LinkStatus) => void;
  /** After every probe, whatever it found (the headless sweep hangs off this). */
  onProbe?: (s: LinkStatus) => void;
}): Link {
  let s: LinkStatus = { state: 'down', since: o.now(), lastError: 'not probed yet', version: null, checkedAt: null, failures: 0, known: false };
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<LinkStatus> | null = null;
  let stopped = true;

  const nextDelay = (): number => {
    if (s.state === 'up' || s.failures === 0) return o.timing.probeMs;
    const backoff = Math.min(o.timing.probeMs * 2 ** (s.failures - 1), o.timing.maxBackoffMs);
    return Math.max(1, Math.round(backoff * (0.9 + Math.random() * 0.2)));
  };

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => { void probeNow(); }, nextDelay());
    timer.unref();
  };

  const apply = (r: ProbeResult): void => {
    const at = o.now();
    const failures = r.reachable ? 0 : s.failures + 1;
    let state: LinkState = s.state;
    if (r.reachable) state = r.healthy ? 'up' : 'degraded';
    else if (failures >= o.timing.downAfter) state = 'down';
    const prev = s;
    s = { state, since: state === prev.state && prev.known ? prev.since : at, lastError: r.error, version: r.version ?? prev.version, checkedAt: at, failures, known: prev.known || r.reachable || failures >= o.timing.downAfter };
    if (state !== prev.state || (s.known && !prev.known)) {
      o.store.appendEvent({
        kind: 'link', actor: 'cloud', machineId: null, from: prev.known ? prev.state : null, to: state,
        reason: state === 'up' ? `cloud link up${r.version ? ` (Kubernetes ${r.version})` : ''}` : `cloud link ${state}: ${r.error ?? 'unknown error'}`,
        data: { failures, version: r.version },
      });
      o.onChange(prev, s);
    }
    o.onProbe?.(s);
  };

  const probeNow = (): Promise<LinkStatus> => {
    if (running) return running;
    if (timer) { clearTimeout(timer); timer = null; }
    running = (async () => {
      let r: ProbeResult;
      try { r = await o.probe(); } catch (e) { r = { reachable: false, healthy: false, version: null, error: (e as Error).message }; }
      apply(r);
      return s;
    })().finally(() => { running = null; schedule(); });
    return running;
  };

  return {
    status: () => ({ ...s }),
    start() {
      if (!stopped) return;
      stopped = false;
      void probeNow();
    },
    async stop() {
      stopped = true;
      if (timer) { clearTimeout(timer); timer = null; }
      await running?.catch(() => {});
    },
    probeNow,
  };
}
