// The decode-and-hash lanes of the install path (write.ts). A lane takes one chunk at a time: the
// chunk's zstd frame goes in as it arrives from the network, and the lane decodes it straight into
// its own page-aligned staging buffers and hashes each decoded run right after the decoder wrote
// it: the chunk's sha256, the one inline hash of every byte written. Full staging buffers go to
// write.ts, which writes them (O_DIRECT) and hands them back. Two lanes decode two chunks
// (independent frames) at once, each on its own thread, beside the network reads and the disk
// writes on the main thread.
//
// Why not zlib's public API: the stream (`createZstdDecompress`) and one-shot (`zstdDecompress*`)
// decoders put every output in freshly allocated memory, and on the build VM first touches of fresh
// pages are what costs (a page fault is ~5 ms per MiB there). Measured on the bench's 805 MB image
// (decode only, no network or disk): the stream decoder took 1.0–1.7 CPU-s, the one-shot sync call
// 3.9, and the decoder's own handle writing into reused buffers 0.38–0.49, as much as the `zstd` CLI
// (0.25–0.36). So the lane drives that handle (`_handle.writeSync` and `_writeState`, what zlib's
// own sync path runs) on a stream object used for nothing else. That is not public API: each lane
// checks for it when it starts (a clear "broken" failure, not a wrong write) and the install tests
// run it on the Node the agent ships with.
//
// The same lane code runs in a worker thread (default) or on the calling thread over a
// MessageChannel (`inWorker: false`): one code path. It reaches the worker as its own source text
// (`laneMain.toString()`): self-contained, no imports, built-ins through `process.getBuiltinModule`,
// as the agent is one esbuild bundle with no second file to find.
import { MessageChannel, Worker } from 'node:worker_threads';

/** What write.ts sends a lane. */
export type ToLane =
  | { op: 'begin'; id: number; rawSize: number }
  | { op: 'in'; id: number; piece: number; mem: SharedArrayBuffer; len: number }
  | { op: 'end'; id: number }
  | { op: 'abort'; id: number }
  | { op: 'free'; buf: number };

/** What a lane sends back. */
export type FromLane =
  | { op: 'in-free'; piece: number }
  | { op: 'out'; id: number; buf: number; len: number; at: number }
  | { op: 'done'; id: number; sha256: string; produced: number }
  | { op: 'fail'; id: number; message: string }
  | { op: 'aborted'; id: number }
  | { op: 'broken'; message: string };

/** The messages a lane handles in order (`free` is taken at once). */
type Queued = Exclude<ToLane, { op: 'free' }>;

interface LaneInit { staging: SharedArrayBuffer; count: number; size: number }
interface Port { on(ev: 'message', fn: (m: ToLane) => void): unknown; postMessage(m: FromLane): void }

/** The zstd decoder handle the lane drives (zlib's own sync path uses the same calls). */
interface ZstdHandle { writeSync(flush: number, input: Uint8Array, inOff: number, inLen: number, out: Uint8Array, outOff: number, outLen: number): void }
interface ZstdStream { _handle?: ZstdHandle; _writeState?: Uint32Array; errored: Error | null; on(ev: 'error', fn: () => void): unknown; close(): void }

/**
 * The lane: one job (chunk) at a time, messages handled in order. Every staging buffer it emits
 * (`out`) is written by the main thread and comes back (`free`); every input piece it gets (`in`)
 * goes back (`in-free`), decoded or dropped. A job ends in one `done` or `fail`; an `abort` is
 * answered with `aborted`, after which the lane emits nothing more for that job.
 */
export function laneMain(port: Port, init: LaneInit): void {
  const zlib = process.getBuiltinModule('node:zlib');
  const crypto = process.getBuiltinModule('node:crypto');
  const staging = Array.from({ length: init.count }, (_, i) => new Uint8Array(init.staging, i * init.size, init.size));
  const free: number[] = staging.map((_, i) => i);
  const queue: Queued[] = [];
  let wake: (() => void) | null = null; // the pump, waiting for a staging buffer to come back
  let aborting = -1;
  let pumping = false;

  interface Job { id: number; rawSize: number; produced: number; at: number; cur: number; curLen: number; dec: ZstdStream | null; hash: ReturnType<typeof crypto.createHash> }
  let job: Job | null = null;

  function newDecoder(): ZstdStream {
    const dec = zlib.createZstdDecompress() as unknown as ZstdStream;
    dec.on('error', () => {}); // seen through `errored` right after the call that failed
    return dec;
  }
  const probe = newDecoder();
  if (typeof probe._handle?.writeSync !== 'function' || !(probe._writeState instanceof Uint32Array)) {
    port.postMessage({ op: 'broken', message: `this Node (${process.version}) has no zstd decoder handle to drive (zlib internals changed): the install path needs one` });
  }
  probe.close();

  async function take(): Promise<number> {
    while (free.length === 0) await new Promise<void>((r) => { wake = r; });
    wake = null;
    return free.pop()!;
  }
  function emit(j: Job): void {
    port.postMessage({ op: 'out', id: j.id, buf: j.cur, len: j.curLen, at: j.at });
    j.at += j.curLen;
    j.cur = -1;
    j.curLen = 0;
  }
  function drop(j: Job): void {
    if (j.cur >= 0) free.push(j.cur);
    j.cur = -1;
    j.dec?.close();
    j.dec = null;
    if (job === j) job = null;
  }

  /** Decodes input[off, off + len) into staging buffers until it is consumed and nothing is pending. */
  async function decode(j: Job, input: Uint8Array, off: number, len: number): Promise<void> {
    const dec = j.dec!;
    const handle = dec._handle!;
    const state = dec._writeState!;
    for (;;) {
      if (j.cur < 0) {
        j.cur = await take();
        if (aborting === j.id) return;
      }
      const buf = staging[j.cur];
      const room = init.size - j.curLen;
      handle.writeSync(0, input, off, len, buf, j.curLen, room);
      if (dec.errored) throw new Error(`the downloaded frame is corrupt (zstd: ${dec.errored.message})`);
      const availOut = state[0];
      const availIn = state[1];
      const n = room - availOut;
      const used = len - availIn;
      // The last guard of a chunk's size: its excess is never emitted, so never written.
      if (j.produced + n > j.rawSize) throw new Error(`the frame decodes to more than the chunk's ${j.rawSize} bytes`);
      if (n > 0) j.hash.update(buf.subarray(j.curLen, j.curLen + n)); // right behind the decoder: one read of fresh output
      j.curLen += n;
      j.produced += n;
      off += used;
      len = availIn;
      if (j.curLen === init.size) emit(j);
      if (availOut > 0 && len === 0) return; // all consumed, nothing held back
      if (availOut > 0 && n === 0 && used === 0) throw new Error('the frame is followed by bytes that are not zstd');
    }
  }

  async function handle(m: Queued): Promise<void> {
    const j = job !== null && job.id === m.id && aborting !== m.id ? job : null;
    switch (m.op) {
      case 'begin':
        job = { id: m.id, rawSize: m.rawSize, produced: 0, at: 0, cur: -1, curLen: 0, dec: newDecoder(), hash: crypto.createHash('sha256') };
        return;
      case 'in':
        try {
          if (j) await decode(j, new Uint8Array(m.mem, 0, m.len), 0, m.len);
        } finally {
          port.postMessage({ op: 'in-free', piece: m.piece });
        }
        return;
      case 'end':
        if (!j) return;
        if (j.curLen > 0) emit(j);
        drop(j);
        if (j.produced !== j.rawSize) throw new Error(`the frame decodes to ${j.produced} bytes, the chunk has ${j.rawSize}`);
        port.postMessage({ op: 'done', id: j.id, sha256: j.hash.digest('hex'), produced: j.produced });
        return;
      case 'abort':
        if (job?.id === m.id) drop(job);
        aborting = -1;
        port.postMessage({ op: 'aborted', id: m.id });
        return;
    }
  }

  async function pump(): Promise<void> {
    pumping = true;
    while (queue.length > 0) {
      const m = queue.shift()!;
      const current = job;
      try {
        await handle(m);
      } catch (e) {
        // This job is over; its later pieces are dropped (`j` is null for them), its `end` ignored.
        if (current && current.id === m.id) {
          drop(current);
          port.postMessage({ op: 'fail', id: m.id, message: (e as Error).message });
        }
      }
    }
    pumping = false;
  }

  port.on('message', (m: ToLane) => {
    if (m.op === 'free') { free.push(m.buf); wake?.(); return; }
    if (m.op === 'abort') { aborting = m.id; wake?.(); } // the pump stops that job at once, answers in order
    queue.push(m);
    if (!pumping) void pump();
  });
}

/**
 * The main thread's side of one lane: its staging buffers (page-aligned shared memory, for
 * O_DIRECT), its input pieces, and the messages. `onMessage` gets what the lane reports about jobs;
 * `onError` that the lane itself is gone (its thread died, or this Node cannot drive the decoder).
 */
export class Lane {
  readonly staging: Buffer[];
  private readonly port: { postMessage(m: ToLane): void };
  private readonly stop: () => Promise<void>;
  private readonly pieces: Array<{ mem: SharedArrayBuffer; buf: Buffer }> = [];
  private readonly freePieces: number[] = [];
  private readonly waiting: Array<() => void> = [];
  private cur = -1;
  private curLen = 0;
  private broken: Error | null = null;
  private readonly pieceBytes: number;
  private readonly maxPieces: number;

  private readonly onError: (e: Error) => void;

  constructor(o: { staging: Buffer[]; inWorker: boolean; pieceBytes: number; maxPieces: number; onMessage: (m: FromLane) => void; onError: (e: Error) => void }) {
    this.staging = o.staging;
    this.pieceBytes = o.pieceBytes;
    this.maxPieces = o.maxPieces;
    const init: LaneInit = { staging: o.staging[0].buffer as SharedArrayBuffer, count: o.staging.length, size: o.staging[0].length };
    this.onError = o.onError;
    const onMessage = (m: FromLane): void => {
      if (m.op === 'in-free') { this.freePieces.push(m.piece); this.waiting.shift()?.(); return; }
      if (m.op === 'broken') { this.fail(new Error(m.message)); return; }
      o.onMessage(m);
    };
    if (o.inWorker) {
      const w = new Worker(`(${laneMain.toString()})(require('node:worker_threads').parentPort, require('node:worker_threads').workerData)`, { eval: true, workerData: init });
      // Not unref'd: while the download waits on a lane (socket paused, no write in flight), the
      // lane's messages are all that keeps the process alive. close() ends it in every case.
      w.on('message', onMessage);
      w.on('error', (e: unknown) => this.fail(e instanceof Error ? e : new Error(String(e))));
      w.on('exit', (code) => this.fail(new Error(`the decoder thread exited (${code})`)));
      this.port = w;
      this.stop = async () => { w.removeAllListeners('exit'); await w.terminate(); };
    } else {
      const { port1, port2 } = new MessageChannel();
      laneMain(port2 as unknown as Port, init);
      port1.on('message', onMessage);
      this.port = port1;
      this.stop = async () => { port1.close(); port2.close(); };
    }
  }

  /** A lane that failed fails every later call. */
  private fail(e: Error): void {
    if (this.broken) return;
    this.broken = e;
    for (const w of this.waiting.splice(0)) w();
    this.onError(e);
  }

  begin(id: number, rawSize: number): void { this.post({ op: 'begin', id, rawSize }); }

  /** Copies `data` into input pieces, sending each when full; waits while the lane has maxPieces queued. */
  async feed(id: number, data: Uint8Array): Promise<void> {
    for (let off = 0; off < data.length;) {
      if (this.cur < 0) this.cur = await this.takePiece();
      const p = this.pieces[this.cur];
      const n = Math.min(this.pieceBytes - this.curLen, data.length - off);
      p.buf.set(data.subarray(off, off + n), this.curLen);
      this.curLen += n;
      off += n;
      if (this.curLen === this.pieceBytes) this.send(id);
    }
  }

  /** The frame's last byte was fed. */
  end(id: number): void {
    if (this.curLen > 0) this.send(id);
    this.post({ op: 'end', id });
  }

  /** Stops job `id` (its piece being filled is dropped); the lane replies `aborted` (a dead one cannot). */
  abort(id: number): void {
    if (this.cur >= 0) { this.freePieces.push(this.cur); this.cur = -1; this.curLen = 0; }
    if (!this.broken) this.port.postMessage({ op: 'abort', id });
  }

  /** A staging buffer is written: the lane may decode into it again (a dead lane needs it no more). */
  release(buf: number): void { if (!this.broken) this.port.postMessage({ op: 'free', buf }); }

  close(): Promise<void> { return this.stop(); }

  private send(id: number): void {
    this.post({ op: 'in', id, piece: this.cur, mem: this.pieces[this.cur].mem, len: this.curLen });
    this.cur = -1;
    this.curLen = 0;
  }

  private post(m: ToLane): void {
    if (this.broken) throw this.broken;
    this.port.postMessage(m);
  }

  private async takePiece(): Promise<number> {
    for (;;) {
      if (this.broken) throw this.broken;
      const free = this.freePieces.pop();
      if (free !== undefined) return free;
      if (this.pieces.length < this.maxPieces) {
        const mem = new SharedArrayBuffer(this.pieceBytes);
        this.pieces.push({ mem, buf: Buffer.from(mem) });
        return this.pieces.length - 1;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }
}
