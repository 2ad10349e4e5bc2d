// A running sha256 that can run on its own thread. The install path hashes every raw byte twice
// (per chunk and over the whole image); on the main thread that is most of the CPU the write costs
// (~1 GB/s per hash on the build VM), and it would stall the network and the decoder meanwhile. In a
// worker each hash runs beside them, reading the same staging buffers (SharedArrayBuffer, no copy).
//
// Messages are handled in order, so an `update` posted before a `digest` is in that digest.
// `mark` keeps a `hash.copy()` (the whole-image hash at a verified chunk boundary) and `rewind`
// goes back to it: that is how a resumed download continues the whole-image hash.
import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

export interface RunningHash {
  /** Hashes `len` bytes of `buf`; resolves when the bytes may be reused. */
  update(buf: Buffer, len: number): Promise<void>;
  /** The digest so far (hex); the hash goes on. */
  digest(): Promise<string>;
  /** The digest so far, then starts afresh (one hash per chunk). */
  digestReset(): Promise<string>;
  mark(): void;
  rewind(): void;
  close(): Promise<void>;
}

/** On the calling thread: for small images and as the fallback. */
export function inlineHash(): RunningHash {
  let h: Hash = createHash('sha256');
  let saved: Hash = h.copy();
  return {
    update: async (buf, len) => { h.update(buf.subarray(0, len)); },
    digest: async () => h.copy().digest('hex'),
    digestReset: async () => { const d = h.digest('hex'); h = createHash('sha256'); return d; },
    mark: () => { saved = h.copy(); },
    rewind: () => { h = saved.copy(); },
    close: async () => {},
  };
}

// Plain JS evaluated in the worker (a bundle-friendly way to ship it: no second file to find).
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let h = createHash('sha256');
let saved = h.copy();
parentPort.on('message', (m) => {
  switch (m.op) {
    case 'update': h.update(new Uint8Array(m.buf, m.off, m.len)); parentPort.postMessage({ seq: m.seq }); break;
    case 'digest': parentPort.postMessage({ seq: m.seq, hex: h.copy().digest('hex') }); break;
    case 'digestReset': { const hex = h.digest('hex'); h = createHash('sha256'); parentPort.postMessage({ seq: m.seq, hex }); break; }
    case 'mark': saved = h.copy(); break;
    case 'rewind': h = saved.copy(); break;
  }
});
`;

/**
 * In a worker thread. Buffers passed to `update` must be backed by a SharedArrayBuffer (the
 * worker reads them in place); others are copied.
 */
export function workerHash(): RunningHash {
  const w = new Worker(WORKER_SOURCE, { eval: true });
  w.unref(); // never keeps the agent alive on its own
  const pending = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  let seq = 0;
  let failed: Error | null = null;
  const failAll = (e: Error): void => {
    failed ??= e;
    for (const p of pending.values()) p.reject(e);
    pending.clear();
  };
  w.on('message', (m: { seq: number; hex?: string }) => {
    const p = pending.get(m.seq);
    pending.delete(m.seq);
    p?.resolve(m.hex ?? '');
  });
  w.on('error', (e: unknown) => failAll(e instanceof Error ? e : new Error(String(e))));
  w.on('exit', (code) => failAll(new Error(`the hash worker exited (${code})`)));
  const ask = (msg: Record<string, unknown>): Promise<string> => {
    if (failed) return Promise.reject(failed);
    const id = ++seq;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      w.postMessage({ ...msg, seq: id });
    });
  };
  return {
    update: async (buf, len) => {
      if (buf.buffer instanceof SharedArrayBuffer) await ask({ op: 'update', buf: buf.buffer, off: buf.byteOffset, len });
      else {
        const copy = new Uint8Array(new SharedArrayBuffer(len));
        copy.set(buf.subarray(0, len));
        await ask({ op: 'update', buf: copy.buffer, off: 0, len });
      }
    },
    digest: () => ask({ op: 'digest' }),
    digestReset: () => ask({ op: 'digestReset' }),
    mark: () => { w.postMessage({ op: 'mark' }); },
    rewind: () => { w.postMessage({ op: 'rewind' }); },
    close: async () => {
      w.removeAllListeners('exit');
      await w.terminate();
    },
  };
}
