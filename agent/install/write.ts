// Streams a signed, chunked zstd image (images/manifest.ts) onto a disk and proves it got there.
//
// - Nothing is opened for writing before the manifest's signature verifies with the appliance's key:
//   every later check (per-chunk sha256, sizes) is only as good as the manifest it comes from.
// - One HTTP GET streams the compressed file. Each chunk is its own zstd frame, so chunks are decoded
//   independently: two lanes (hasher.ts), each on its own thread, decode two chunks at once while the
//   main thread reads the network and writes the disk. A chunk's frame is copied into its lane as it
//   arrives, up to 16 MiB ahead of that lane's decoding, so the download moves on to the next chunk
//   (and lane) while this one still decodes.
// - Every raw byte is hashed once, inline, by its lane as it is decoded, against the chunk's sha256
//   in the signed manifest. That proves the whole image: the chunks are contiguous and cover
//   raw.size. The whole-image sha256 (raw.sha256) is then checked by the re-read (phase `verifying`,
//   which reads the disk anyway) instead of by a second inline pass over every byte: measured, the
//   second pass was a quarter of the CPU this path cost (bench/README.md).
// - Chunks finish out of order; a chunk counts as verified (and becomes the resume point) only once it
//   and every chunk before it are decoded, hashed, matched and written. A failure in chunk k stops
//   the chunks in flight after it and waits for their writes: nothing past k is reported as verified.
// - A dropped or stalled connection resumes with `Range: bytes=<offset of the first unverified
//   chunk>-`; a chunk whose frame had fully arrived before the drop is finished first. A server that
//   ignores Range (200) is read from the start and skipped forward to that chunk. Retries are
//   bounded per streak without progress, with exponential backoff.
// - Writes are 4 MiB, positional (at chunk.rawOffset + n·4 MiB, so 4 KiB aligned: compressImage
//   makes chunks multiples of 4096), with O_DIRECT from the lanes' page-aligned staging buffers (a
//   shared WebAssembly.Memory: the one page-aligned allocation JavaScript can make): no copy into the
//   page cache (measured: that copy was ~20% of this path's CPU, more than decoding), no dirty pages
//   in the RAM-only discovery OS. A tail that is not a 4 KiB multiple goes through a buffered handle;
//   where O_DIRECT is refused (tmpfs, some drivers) everything does. Each verified chunk is made
//   durable with an fdatasync that runs beside the stream, not in its way.
// - Never a byte past raw.size: a frame that decodes to more than its chunk's size fails before the
//   excess is written, and a target smaller than raw.size is refused before anything is written.
// - Last, the target is read back over raw.size and hashed (phase `verifying`); a mismatch is then
//   narrowed down to the chunk that reads back wrong.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { Lane, type FromLane } from './hasher.ts';
import { fromFetch, imageGet, type ImageFetch, type ImageGet } from './http-get.ts';
import { manifestProblems, signatureProblem, type ImageChunk, type ImageManifest } from '../../images/manifest.ts';
import type { InstallSpec } from '../protocol.ts';

export type { ImageFetch } from './http-get.ts';

export interface WriteProgress { phase: 'downloading' | 'verifying'; bytesDone: number; bytesTotal: number; rateBps: number }

export interface WriteOptions {
  spec: InstallSpec;
  targetPath: string;
  /** Default: http-get.ts's client (it says why not node:http or global fetch). */
  fetch?: ImageFetch;
  /** About once a second, and once at the end of each phase. */
  onProgress: (p: WriteProgress) => void;
  log: (msg: string) => void;
  signal?: AbortSignal;
  /** Failed attempts in a row (without a newly verified chunk) before giving up. Default 8. */
  maxRetries?: number;
  /** Delay before retry `n` (0-based). Default 1, 2, 4 … s capped at 30 s. */
  backoffMs?: (n: number) => number;
  sleep?: (ms: number) => Promise<void>;
  /** A connection that delivers nothing for this long is dropped and resumed. Default 30 s. */
  idleTimeoutMs?: number;
  /** Re-read the target over raw.size and compare with raw.sha256. Default true. */
  verify?: boolean;
  /**
   * Runs between the write and the re-read; the agent drops the device's page cache here
   * (`blockdev --flushbufs`) so the re-read comes from the disk, not from memory.
   */
  beforeVerify?: () => Promise<void>;
  progressIntervalMs?: number;
  now?: () => number;
  /** Decode and hash in worker threads (default) or on the calling thread (same code, one core). */
  workers?: boolean;
  /** O_DIRECT for aligned writes and re-reads where the kernel allows it (default). */
  directIo?: boolean;
}

export interface WriteResult {
  /**
   * Of the target over raw.size as read back. With verify off, the manifest's raw.sha256: every
   * chunk matched its signed sha256, but nothing hashed the whole image.
   */
  rawSha256: string;
  bytesWritten: number;
  /** HTTP requests made, and how many of them resumed. */
  requests: number;
  resumes: number;
}

/** Why an install write failed, in words for the operator (the task result's reason). */
export class WriteError extends Error {
  /** Nothing was written to the target. */
  readonly untouched: boolean;
  constructor(message: string, untouched = false) {
    super(message);
    this.name = 'WriteError';
    this.untouched = untouched;
  }
}

/** A failure that another attempt cannot fix (bad data, wrong file, 4xx, disk error). */
class Fatal extends Error {}

export const WRITE_BYTES = 4 * 1024 * 1024;
/** Chunks decoded at once, one per thread: two cores' worth, the least a server has. */
const LANES = 2;
/** Staging buffers (WRITE_BYTES each) per lane: one being decoded into, the rest being written. */
const STAGING_PER_LANE = 4;
/** Network reads are gathered into shared pieces of this size: one message to a lane per piece. */
const PIECE_BYTES = 1024 * 1024;
/**
 * Compressed bytes a lane may have queued (pieces): enough for a typical chunk's whole frame (64 MiB
 * raw at ~20%), so the download moves on to the next chunk while this one is still decoding.
 */
const LANE_QUEUE_PIECES = 16;
/** Direct writes in flight: each waits for the device, and two or more keep it busy (measured 2 ≈ 4). */
const DIRECT_WRITES = 3;

const defaultBackoff = (n: number): number => Math.min(30_000, 1000 * 2 ** Math.min(n, 10));
const mib = (n: number): string => `${(n / 1048576).toFixed(1)} MiB`;
const chunkName = (i: number, c: ImageChunk): string => `chunk ${i} (raw bytes ${c.rawOffset}-${c.rawOffset + c.rawSize - 1})`;

/** The size of a regular file or a block device (from sysfs by major:minor: fstat says 0 for a device). */
export async function targetSize(fh: FileHandle, sysRoot = '/sys'): Promise<number> {
  const st = await fh.stat();
  if (st.isFile()) return st.size;
  if (!st.isBlockDevice()) throw new WriteError('the target is neither a block device nor a file', true);
  const major = Number((BigInt(st.rdev) >> 8n) & 0xfffn | ((BigInt(st.rdev) >> 32n) & ~0xfffn));
  const minor = Number((BigInt(st.rdev) & 0xffn) | ((BigInt(st.rdev) >> 12n) & ~0xffn));
  const sectors = Number((await readFile(`${sysRoot}/dev/block/${major}:${minor}/size`, 'utf8')).trim());
  return sectors * 512; // sysfs counts 512-byte sectors whatever the logical block size
}

/**
 * Opens a disk for writing. O_EXCL on a block device makes the kernel refuse (EBUSY) a disk that is
 * mounted or otherwise held: the agent never writes a disk something is using.
 */
export async function openTarget(path: string): Promise<FileHandle> {
  let excl = 0;
  try {
    const probe = await open(path, 'r');
    try { if ((await probe.stat()).isBlockDevice()) excl = fsc.O_EXCL; } finally { await probe.close(); }
    return await open(path, fsc.O_RDWR | excl);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'EBUSY' ? 'it is in use (mounted or held by another device)' : code === 'ENOENT' ? 'it does not exist' : (e as Error).message;
    throw new WriteError(`cannot open ${path} for writing: ${why}; nothing was written`, true);
  }
}

const ALIGN = 4096;

/**
 * The target, opened twice: buffered (O_EXCL on a device) and, where the kernel allows, O_DIRECT.
 * Aligned requests go direct, the rest buffered; a direct request the kernel refuses (EINVAL) turns
 * direct I/O off for the rest of the run, and is done buffered.
 */
export class TargetIo {
  readonly fh: FileHandle;
  private direct: FileHandle | null;
  private readonly log: (msg: string) => void;
  private constructor(fh: FileHandle, direct: FileHandle | null, log: (msg: string) => void) { this.fh = fh; this.direct = direct; this.log = log; }

  static async open(path: string, log: (msg: string) => void, useDirect = true): Promise<TargetIo> {
    const fh = await openTarget(path);
    const direct = useDirect ? await open(path, fsc.O_RDWR | fsc.O_DIRECT).catch(() => null) : null;
    return new TargetIo(fh, direct, log);
  }

  get isDirect(): boolean { return this.direct !== null; }

  private usable(buf: Buffer, len: number, pos: number): FileHandle | null {
    return this.direct && pos % ALIGN === 0 && len % ALIGN === 0 && buf.byteOffset % ALIGN === 0 && isAligned(buf) ? this.direct : null;
  }

  private async io(kind: 'write' | 'read', buf: Buffer, off: number, len: number, pos: number): Promise<number> {
    const d = off === 0 ? this.usable(buf, len, pos) : null;
    if (d) {
      try {
        return kind === 'write' ? (await d.write(buf, 0, len, pos)).bytesWritten : (await d.read(buf, 0, len, pos)).bytesRead;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EINVAL') throw e;
        this.log(`direct I/O refused by the kernel (${(e as Error).message}); going on with buffered I/O`);
        const fd = this.direct;
        this.direct = null;
        await fd?.close().catch(() => {});
      }
    }
    return kind === 'write' ? (await this.fh.write(buf, off, len, pos)).bytesWritten : (await this.fh.read(buf, off, len, pos)).bytesRead;
  }

  /** Writes all of buf[0, len) at `pos`: the 4 KiB-aligned prefix direct, any tail buffered. */
  async writeAll(buf: Buffer, len: number, pos: number): Promise<void> {
    const head = this.direct ? len - (len % ALIGN) : 0;
    if (head > 0) {
      for (let done = 0; done < head;) {
        const n = await this.io('write', done === 0 ? buf.subarray(0, head) : buf, done === 0 ? 0 : done, head - done, pos + done);
        if (n <= 0) throw new Error('the disk accepted no bytes');
        done += n;
      }
    }
    for (let done = head; done < len;) {
      const n = (await this.fh.write(buf, done, len - done, pos + done)).bytesWritten;
      if (n <= 0) throw new Error('the disk accepted no bytes');
      done += n;
    }
  }

  /** Reads exactly `len` bytes at `pos` into buf (direct for the aligned prefix). */
  async readAll(buf: Buffer, len: number, pos: number): Promise<void> {
    const head = this.direct ? len - (len % ALIGN) : 0;
    for (let got = 0; got < len;) {
      const direct = got === 0 && head > 0;
      const n = direct
        ? await this.io('read', buf.subarray(0, head), 0, head, pos)
        : (await this.fh.read(buf, got, len - got, pos + got)).bytesRead;
      if (n === 0) throw new Error(`the target ended at byte ${pos + got}`);
      got += n;
    }
  }

  async datasync(): Promise<void> {
    await Promise.all([this.fh.datasync(), this.direct?.datasync()]);
  }

  async close(): Promise<void> {
    await this.direct?.close().catch(() => {});
    await this.fh.close();
  }
}

/** Page-aligned memory shared with worker threads: a shared WebAssembly.Memory is mapped page-aligned. */
export function alignedBuffers(count: number, size: number): Buffer[] {
  const pages = Math.ceil((count * size) / 65536); // wasm pages are 64 KiB
  // The project's TS lib has no WebAssembly types (no DOM lib); Node has the global.
  const wasm = (globalThis as unknown as { WebAssembly: { Memory: new (d: { initial: number; maximum: number; shared: boolean }) => { buffer: SharedArrayBuffer } } }).WebAssembly;
  const mem = new wasm.Memory({ initial: pages, maximum: pages, shared: true });
  return Array.from({ length: count }, (_, i) => Buffer.from(mem.buffer, i * size, size));
}
const alignedMemory = new WeakSet<ArrayBufferLike>();
function isAligned(buf: Buffer): boolean { return alignedMemory.has(buf.buffer); }
function markAligned(bufs: Buffer[]): Buffer[] { for (const b of bufs) alignedMemory.add(b.buffer); return bufs; }

/** Writes `spec`'s image to `targetPath`; resolves when written and verified, rejects with WriteError. */
export async function writeImage(o: WriteOptions): Promise<WriteResult> {
  const m = o.spec.manifest;
  const problems = manifestProblems(m);
  if (problems.length) throw new WriteError(`image refused: the manifest is malformed (${problems.join('; ')}); nothing was written`, true);
  let key: KeyObject;
  try { key = createPublicKey(o.spec.publicKey); } catch (e) {
    throw new WriteError(`image refused: the appliance's public key does not parse (${(e as Error).message}); nothing was written`, true);
  }
  const sig = signatureProblem(m, key);
  if (sig) throw new WriteError(`image refused: ${sig}; nothing was written`, true);
  if (o.signal?.aborted) throw new WriteError('cancelled before writing', true);

  const io = await TargetIo.open(o.targetPath, o.log, o.directIo !== false);
  try {
    const size = await targetSize(io.fh);
    if (size < m.raw.size) {
      throw new WriteError(`${o.targetPath} is ${size} bytes, smaller than the image (${m.raw.size} bytes); nothing was written`, true);
    }
    const streamed = await download(o, m, io);
    if (o.verify === false) return { rawSha256: m.raw.sha256, bytesWritten: m.raw.size, requests: streamed.requests, resumes: streamed.resumes };
    await o.beforeVerify?.();
    const reread = await readBack(o, m, io);
    if (reread.sha256 !== m.raw.sha256) {
      // Every chunk matched while writing. A second read, hashed per chunk, says which side is wrong.
      const again = await readBack(o, m, io, true);
      const bad = m.chunks.findIndex((c, i) => again.chunks[i] !== c.sha256);
      const why = bad >= 0 ? `${chunkName(bad, m.chunks[bad])} reads back as ${again.chunks[bad]}, not as written: the disk did not keep what was written`
        : again.sha256 === m.raw.sha256 ? 'a second read matched: the disk returned other bytes the first time'
        : 'every chunk reads back as the manifest says: its raw.sha256 does not describe its chunks';
      throw new WriteError(`sha256 mismatch over the whole image on re-read of ${o.targetPath}: the disk returned ${reread.sha256}, the manifest says ${m.raw.sha256} (${why})`);
    }
    return { rawSha256: reread.sha256, bytesWritten: m.raw.size, requests: streamed.requests, resumes: streamed.resumes };
  } finally {
    await io.close();
  }
}

/** Calls onProgress at most once per interval, with the rate over that interval. */
function progressMeter(o: WriteOptions, phase: WriteProgress['phase'], total: number) {
  const now = o.now ?? Date.now;
  const every = o.progressIntervalMs ?? 1000;
  let lastT = now();
  let lastBytes = 0;
  return (done: number, force = false): void => {
    const t = now();
    if (!force && t - lastT < every) return;
    const rateBps = t > lastT ? Math.max(0, ((done - lastBytes) * 1000) / (t - lastT)) : 0;
    lastT = t;
    lastBytes = done;
    o.onProgress({ phase, bytesDone: done, bytesTotal: total, rateBps: Math.round(rateBps) });
  };
}

/**
 * The resume point. Chunks are verified in any order (two lanes); the point moves only over a
 * contiguous run of verified chunks, so a chunk verified early never counts while one before it
 * may still fail.
 */
export class InOrder {
  next: number;
  private readonly done = new Set<number>();
  constructor(first = 0) { this.next = first; }
  /** Chunk `i` is verified and written; returns how many chunks joined the verified prefix. */
  verified(i: number): number {
    this.done.add(i);
    const before = this.next;
    while (this.done.delete(this.next)) this.next++;
    return this.next - before;
  }
}

/** A job stopped on purpose (the attempt ended before its frame was all there). */
class Stopped extends Error {}

interface JobContext {
  /** Writes staged bytes (positional, limited in flight); rejects with Fatal. */
  write(buf: Buffer, len: number, pos: number): Promise<void>;
  written(len: number): void;
  /** A failure that ends the write: stop the attempt. */
  fatal(e: Error): void;
}

/**
 * One chunk on a lane, from `begin` until the lane is done with it and every write of it has
 * completed. `settled` gives null (decoded to rawSize bytes, every byte written, sha256 matched),
 * a Stopped, or the Fatal that ended it.
 */
class Job {
  readonly id: number;
  readonly index: number;
  readonly chunk: ImageChunk;
  readonly lane: Lane;
  /** Every compressed byte of the chunk went to the lane. */
  fed = false;
  readonly settled: Promise<Error | null>;
  private resolve!: (outcome: Error | null) => void;
  private isSettled = false;
  private writes = 0;
  private laneDone = false;
  private stopped = false;
  private failure: Error | null = null;
  private digest: string | null = null;
  private readonly ctx: JobContext;

  constructor(id: number, index: number, chunk: ImageChunk, lane: Lane, ctx: JobContext) {
    this.id = id;
    this.index = index;
    this.chunk = chunk;
    this.lane = lane;
    this.ctx = ctx;
    this.settled = new Promise((r) => { this.resolve = r; });
    lane.begin(id, chunk.rawSize);
  }

  onMessage(m: Exclude<FromLane, { op: 'in-free' | 'broken' }>): void {
    switch (m.op) {
      case 'out': {
        if (this.stopped || this.failure) { this.lane.release(m.buf); return; }
        this.writes++;
        const pos = this.chunk.rawOffset + m.at;
        this.ctx.write(this.lane.staging[m.buf], m.len, pos).then(
          () => this.ctx.written(m.len),
          (e: unknown) => this.fail(e instanceof Fatal ? e : new Fatal(`write error at byte ${pos}: ${(e as Error).message}`)),
        ).finally(() => {
          this.writes--;
          this.lane.release(m.buf);
          this.check();
        });
        return;
      }
      case 'done': this.digest = m.sha256; break;
      case 'fail': this.fail(new Fatal(`sha256 mismatch in ${chunkName(this.index, this.chunk)}: ${m.message}`)); break;
      case 'aborted': break;
    }
    this.laneDone = true;
    this.check();
  }

  /** Stops the chunk: the lane drops it, and it settles once the lane said so and its writes are done. */
  stop(): void {
    if (this.isSettled || this.stopped) return;
    this.stopped = true;
    // A lane that already failed the chunk mid-frame still holds its half-filled input piece.
    if (!this.laneDone || !this.fed) this.lane.abort(this.id);
    this.check();
  }

  /** The lane died: it will say nothing more about this chunk. */
  laneGone(e: Error): void {
    this.laneDone = true;
    this.fail(e);
  }

  private fail(e: Error): void {
    if (!this.failure) {
      this.failure = e;
      this.ctx.fatal(e);
    }
    this.check();
  }

  private check(): void {
    if (this.isSettled || !this.laneDone || this.writes > 0) return;
    this.isSettled = true;
    let outcome: Error | null = this.failure ?? (this.stopped ? new Stopped('stopped') : null);
    if (!outcome && this.digest !== this.chunk.sha256) {
      outcome = new Fatal(`sha256 mismatch in ${chunkName(this.index, this.chunk)}: downloaded ${this.digest}, the manifest says ${this.chunk.sha256}`);
      this.ctx.fatal(outcome);
    }
    this.resolve(outcome);
  }
}

interface Streamed { requests: number; resumes: number }

async function download(o: WriteOptions, m: ImageManifest, io: TargetIo): Promise<Streamed> {
  const doGet: ImageGet = o.fetch ? fromFetch(o.fetch) : imageGet;
  const maxRetries = o.maxRetries ?? 8;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const idleMs = o.idleTimeoutMs ?? 30_000;
  const chunks = m.chunks;
  const meter = progressMeter(o, 'downloading', m.raw.size);

  const jobs = new Map<number, Job>(); // by id: the lanes' messages find their chunk here
  let lost: Fatal | null = null; // a lane died: nothing can go on
  const lanes: Lane[] = [];
  try {
    for (let k = 0; k < Math.min(LANES, chunks.length); k++) {
      const lane: Lane = new Lane({
        staging: markAligned(alignedBuffers(STAGING_PER_LANE, WRITE_BYTES)),
        inWorker: o.workers !== false,
        pieceBytes: PIECE_BYTES,
        maxPieces: LANE_QUEUE_PIECES,
        onMessage: (msg) => { if (msg.op !== 'in-free' && msg.op !== 'broken') jobs.get(msg.id)?.onMessage(msg); },
        onError: (e) => {
          lost ??= new Fatal(`the image decoder failed: ${e.message}`);
          for (const j of jobs.values()) if (j.lane === lane) j.laneGone(lost);
        },
      });
      lanes.push(lane);
    }
    return await downloadWith();
  } finally {
    await Promise.all(lanes.map((l) => l.close()));
  }

  async function downloadWith(): Promise<Streamed> {
    const order = new InOrder(0); // order.next: the first chunk not yet verified, where a resume starts
    let synced: Promise<void> = Promise.resolve();
    let syncError: Fatal | null = null;
    let requests = 0;
    let resumes = 0;
    let ids = 0;

    // Positional writes: up to DIRECT_WRITES in flight with O_DIRECT; buffered ones one at a time, as
    // they serialize on the inode lock anyway and concurrent ones spin on it (5% of the CPU in a
    // profile with three in flight).
    let writing = 0;
    const writeWaiters: Array<() => void> = [];
    const write = async (buf: Buffer, len: number, pos: number): Promise<void> => {
      // The last guard against writing past the image: the manifest's own arithmetic keeps us inside.
      if (pos + len > m.raw.size) throw new Fatal(`refusing to write past the image end (${pos + len} > ${m.raw.size})`);
      while (writing >= (io.isDirect ? DIRECT_WRITES : 1)) await new Promise<void>((r) => writeWaiters.push(r));
      writing++;
      try { await io.writeAll(buf, len, pos); } finally {
        writing--;
        writeWaiters.shift()?.();
      }
    };

    /** Chunk `i` (and any verified after it) joined the verified prefix: make it durable, beside the stream. */
    const commit = (i: number): void => {
      if (order.verified(i) === 0) return;
      synced = synced.then(() => io.datasync()).catch((e: unknown) => { syncError ??= new Fatal(`fdatasync failed: ${(e as Error).message}`); });
    };

    /** One GET from chunk order.next on; returns normally when every chunk is verified. */
    async function attempt(): Promise<void> {
      const first = order.next;
      const start = chunks[first].offset;
      const ctl = new AbortController();
      const st: { fatal: Error | null } = { fatal: null }; // what ended this attempt for good, if anything
      const stopWith = (e: Error): void => { st.fatal ??= e; ctl.abort(e); };
      const onAbort = (): void => ctl.abort(new Fatal('cancelled'));
      o.signal?.addEventListener('abort', onAbort, { once: true });
      let idle: NodeJS.Timeout | undefined;
      const arm = (): void => {
        clearTimeout(idle);
        idle = setTimeout(() => ctl.abort(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
      };
      let written = 0;
      const ctx: JobContext = { write, written: (n) => { written += n; meter(chunks[first].rawOffset + written); }, fatal: stopWith };
      const mine: Job[] = [];
      const settled: Array<Promise<void>> = []; // every job of this attempt, committed or not
      /** Chunk `i` on the next lane, once that lane's previous chunk has settled. */
      const startJob = async (i: number): Promise<Job> => {
        const lane = lanes[(i - first) % lanes.length];
        const prev = mine.findLast((j) => j.lane === lane);
        if (prev) await prev.settled;
        if (lost || st.fatal || syncError) throw lost ?? st.fatal ?? syncError;
        const job = new Job(ids++, i, chunks[i], lane, ctx);
        jobs.set(job.id, job);
        mine.push(job);
        settled.push(job.settled.then((outcome) => {
          jobs.delete(job.id);
          if (outcome === null) commit(job.index);
          else if (!(outcome instanceof Stopped)) stopWith(outcome);
        }));
        return job;
      };

      let response: { close(): void } | null = null;
      try {
        arm();
        requests++;
        if (first > 0) resumes++;
        const res = await doGet(o.spec.imageUrl, first > 0 ? { range: `bytes=${start}-` } : {}, ctl.signal);
        let pos: number; // compressed offset of the next body byte
        if (res.status === 206) {
          const cr = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.header('content-range') ?? '');
          if (!cr) throw new Error('206 without a usable Content-Range');
          if (cr[3] !== '*' && Number(cr[3]) !== m.compressed.size) throw new Fatal(`the server's image is ${cr[3]} bytes, the manifest says ${m.compressed.size}: it serves another file`);
          pos = Number(cr[1]);
          if (pos > start) throw new Error(`asked for bytes from ${start}, the server sent from ${pos}`);
        } else if (res.status === 200) {
          const len = res.header('content-length');
          if (len !== null && Number(len) !== m.compressed.size) throw new Fatal(`the server's image is ${len} bytes, the manifest says ${m.compressed.size}: it serves another file`);
          pos = 0;
          if (start > 0) o.log(`the image server ignored Range (200): reading from byte 0 and skipping ${mib(start)} already verified`);
        } else {
          res.close();
          const msg = `the image server answered ${res.status} ${res.statusText}`.trim();
          if (res.status >= 500 || res.status === 408 || res.status === 429) throw new Error(msg);
          throw new Fatal(`${msg} for ${o.spec.imageUrl}`);
        }
        response = res;

        let i = first;
        let fed = 0; // compressed bytes of chunk i fed so far
        let job: Job | null = null;
        for await (const piece of res.body) {
          clearTimeout(idle); // the idle clock runs while we wait for the network, not for the lanes
          let p: Uint8Array = piece;
          if (pos < start) { // a server that ignored Range: skip what is already verified
            const skip = Math.min(p.length, start - pos);
            pos += skip;
            p = p.subarray(skip);
          }
          while (p.length > 0 && i < chunks.length) {
            const c = chunks[i];
            job ??= await startJob(i);
            const take = Math.min(p.length, c.size - fed);
            await job.lane.feed(job.id, p.subarray(0, take)); // waits while the lane has a full queue
            fed += take;
            pos += take;
            p = p.subarray(take);
            if (fed === c.size) { // the frame is all there: its lane finishes it while we read the next
              job.lane.end(job.id);
              job.fed = true;
              job = null;
              i++;
              fed = 0;
            }
          }
          if (i >= chunks.length) break; // anything after the last chunk is not ours: stop reading
          arm();
        }
        if (i < chunks.length) throw new Error(`the connection ended at compressed byte ${pos} of ${m.compressed.size}`);
        await Promise.all(settled);
        if (st.fatal) throw st.fatal;
      } catch (e) {
        // A network failure stops the chunk that was arriving; chunks whose frame is all here are
        // finished (they may verify and move the resume point). Anything fatal stops every chunk.
        // Either way every write in flight completes before this returns: nothing lands after.
        const stopAll = lost !== null || st.fatal !== null || e instanceof Fatal;
        for (const j of mine) if (stopAll || !j.fed) j.stop();
        await Promise.all(settled);
        const reason = ctl.signal.aborted && ctl.signal.reason instanceof Error && !(e instanceof Fatal) ? ctl.signal.reason : e;
        throw lost ?? st.fatal ?? reason;
      } finally {
        clearTimeout(idle);
        response?.close(); // done or failed: this connection is not read any further
        o.signal?.removeEventListener('abort', onAbort);
      }
    }

    for (let failures = 0; order.next < chunks.length;) {
      const before = order.next;
      if (o.signal?.aborted) throw new WriteError(`cancelled; ${order.next} of ${chunks.length} chunks were written and verified`);
      try {
        await attempt();
      } catch (e) {
        if (e instanceof WriteError) throw e;
        if (e instanceof Fatal) throw new WriteError(`${e.message}; ${order.next} of ${chunks.length} chunks were written and verified`);
        if (o.signal?.aborted) throw new WriteError('cancelled');
        if (order.next > before) failures = 0; // progress was made: a flaky link gets its retries afresh
        if (++failures > maxRetries) {
          throw new WriteError(`image download failed ${failures} times in a row without progress (last: ${(e as Error).message}); ${order.next} of ${chunks.length} chunks were written and verified`);
        }
        const ms = (o.backoffMs ?? defaultBackoff)(failures - 1);
        o.log(`image download interrupted at chunk ${order.next} of ${chunks.length} (${(e as Error).message}); resuming from byte ${chunks[order.next].offset} in ${(ms / 1000).toFixed(1)} s`);
        await sleep(ms);
      }
    }
    await synced;
    if (syncError) throw new WriteError((syncError as Fatal).message);
    meter(m.raw.size, true);
    return { requests, resumes };
  }
}

/**
 * Reads the target back over raw.size (two reads in flight, direct where allowed) and hashes it; with
 * `perChunk` (a diagnosis, no progress reports) also each chunk on its own.
 */
async function readBack(o: WriteOptions, m: ImageManifest, io: TargetIo, perChunk = false): Promise<{ sha256: string; chunks: string[] }> {
  const meter = perChunk ? () => {} : progressMeter(o, 'verifying', m.raw.size);
  const hash = createHash('sha256');
  const sums: string[] = [];
  let chunkHash = createHash('sha256');
  const bufs = markAligned(alignedBuffers(2, WRITE_BYTES));
  const readAt = async (buf: Buffer, pos: number): Promise<Buffer> => {
    const len = Math.min(WRITE_BYTES, m.raw.size - pos);
    try {
      await io.readAll(buf, len, pos);
    } catch (e) {
      throw new WriteError(`re-read of ${o.targetPath} failed at byte ${pos}: ${(e as Error).message}`);
    }
    return buf.subarray(0, len);
  };
  let pos = 0;
  let pending: Promise<Buffer> | null = readAt(bufs[0], 0);
  for (let k = 1; pending; k++) {
    if (o.signal?.aborted) throw new WriteError('cancelled while verifying');
    const data: Buffer = await pending;
    const nextPos: number = pos + data.length;
    pending = nextPos < m.raw.size ? readAt(bufs[k % 2], nextPos) : null;
    hash.update(data);
    for (let off = 0; perChunk && off < data.length;) {
      const c = m.chunks[sums.length];
      const n = Math.min(data.length - off, c.rawOffset + c.rawSize - (pos + off));
      chunkHash.update(data.subarray(off, off + n));
      off += n;
      if (pos + off === c.rawOffset + c.rawSize) { sums.push(chunkHash.digest('hex')); chunkHash = createHash('sha256'); }
    }
    pos = nextPos;
    meter(pos);
  }
  meter(pos, true);
  return { sha256: hash.digest('hex'), chunks: sums };
}
