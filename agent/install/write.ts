// Streams a signed, chunked zstd image (images/manifest.ts) onto a disk and proves it got there.
//
// - Nothing is opened for writing before the manifest's signature verifies with the appliance's key:
//   every later check (per-chunk sha256, sizes) is only as good as the manifest it comes from.
// - One HTTP GET streams the compressed file; each chunk is its own zstd frame, fed to its own
//   decompressor, so a chunk's bytes are known exactly and a bad byte is blamed on its chunk.
// - Raw bytes are hashed inline twice: per chunk (against the manifest, the unit of resume) and over
//   the whole image (against raw.sha256). At every verified chunk boundary a `hash.copy()` of the
//   whole-image hash is kept, so a resumed download continues that hash instead of re-reading disk.
//   Each hash runs in its own worker thread (hasher.ts) over the same shared staging buffers the
//   disk writes use: hashing is the largest CPU cost of this path (~25%) and would stall it.
// - A dropped or stalled connection resumes with `Range: bytes=<offset of the first unverified
//   chunk>-`. A server that ignores Range (200) is read from the start and skipped forward to that
//   chunk. Retries are bounded per streak without progress, with exponential backoff.
// - Writes are 4 MiB, positional (at chunk.rawOffset + n·4 MiB, so 4 KiB aligned: compressImage
//   makes chunks multiples of 4096), with O_DIRECT from page-aligned buffers (a shared
//   WebAssembly.Memory: the one page-aligned allocation JavaScript can make): no copy into the page
//   cache (measured: that copy was ~20% of this path's CPU, more than decoding), no dirty pages in
//   the RAM-only discovery OS. A tail that is not a 4 KiB multiple goes through a buffered handle;
//   where O_DIRECT is refused (tmpfs, some drivers) everything does. fdatasync after each chunk
//   makes a verified chunk a durable one.
// - Never a byte past raw.size: a frame that decodes to more than its chunk's size fails before the
//   excess is written, and a target smaller than raw.size is refused before anything is written.
// - Last, the target is read back over raw.size and hashed (phase `verifying`).
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { open, readFile, type FileHandle } from 'node:fs/promises';
import { createZstdDecompress, type ZstdDecompress } from 'node:zlib';
import { inlineHash, workerHash, type RunningHash } from './hasher.ts';
import { fromFetch, nodeHttpGet, type ImageFetch, type ImageGet } from './http-get.ts';
import { manifestProblems, signatureProblem, type ImageChunk, type ImageManifest } from '../../images/manifest.ts';
import type { InstallSpec } from '../protocol.ts';

export type { ImageFetch } from './http-get.ts';

export interface WriteProgress { phase: 'downloading' | 'verifying'; bytesDone: number; bytesTotal: number; rateBps: number }

export interface WriteOptions {
  spec: InstallSpec;
  targetPath: string;
  /** Default: node:http(s) (http-get.ts says why not global fetch). */
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
  /** Hash in worker threads (default) or on the calling thread. */
  hashInWorkers?: boolean;
  /** O_DIRECT for aligned writes and re-reads where the kernel allows it (default). */
  directIo?: boolean;
}

export interface WriteResult {
  /** Of the target over raw.size as read back (or as streamed, when verify is off). */
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
/** Staging buffers: one being filled, the rest being written and hashed. */
const BUFFERS = 4;
/**
 * The decoder's output size. Each output is a fresh allocation the decoder page-faults into: 512 KiB
 * ones are reused by malloc more often than 4 MiB ones, and cost fewer round trips than 64 KiB ones
 * (measured the least CPU of 128 KiB–4 MiB; see bench/README.md).
 */
const DECODE_OUT_BYTES = 512 * 1024;
/** Network reads (16–64 KiB each) are gathered to this size before a decoder call. */
const FEED_BYTES = 1024 * 1024;

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
  const fh = io.fh;
  try {
    const size = await targetSize(fh);
    if (size < m.raw.size) {
      throw new WriteError(`${o.targetPath} is ${size} bytes, smaller than the image (${m.raw.size} bytes); nothing was written`, true);
    }
    const streamed = await download(o, m, io);
    if (o.verify === false) return { rawSha256: streamed.sha256, bytesWritten: m.raw.size, requests: streamed.requests, resumes: streamed.resumes };
    await o.beforeVerify?.();
    const reread = await readBack(o, m, io);
    if (reread !== m.raw.sha256) {
      throw new WriteError(`sha256 mismatch over the whole image on re-read of ${o.targetPath}: the disk returned ${reread}, the manifest says ${m.raw.sha256} (every chunk matched while writing: the disk did not keep what was written)`);
    }
    return { rawSha256: reread, bytesWritten: m.raw.size, requests: streamed.requests, resumes: streamed.resumes };
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
 * 4 MiB staging buffers (shared memory, so the hash workers read them in place), each written
 * positionally and hashed by both hashes at once; a buffer is reused when all three are done.
 * The decoder's own output buffers are not written directly: they are fresh memory each time and
 * cannot be shared with the workers; the copy into a reused staging buffer is the cheaper part.
 * `push` waits when every buffer is busy: that is the backpressure up to the decoder and the network.
 */
class Sink {
  private readonly free: Buffer[] = markAligned(alignedBuffers(BUFFERS, WRITE_BYTES));
  private readonly waiting: Array<() => void> = [];
  private readonly inflight = new Set<Promise<void>>();
  private cur: Buffer | null = null;
  private curLen = 0;
  private curPos = 0;
  private failure: Error | null = null;
  private readonly lanes: Array<Promise<void>> = [Promise.resolve(), Promise.resolve()];
  private issued = 0;
  private readonly io: TargetIo;
  private readonly limit: number;
  private readonly hashes: RunningHash[];
  constructor(io: TargetIo, limit: number, hashes: RunningHash[]) { this.io = io; this.limit = limit; this.hashes = hashes; }

  /** Starts a run of contiguous bytes at `pos` (a chunk's rawOffset). */
  start(pos: number): void { this.curPos = pos; this.curLen = 0; }

  async push(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.failure) throw this.failure;
      if (!this.cur) this.cur = await this.take();
      const n = Math.min(WRITE_BYTES - this.curLen, data.length - off);
      this.cur.set(data.subarray(off, off + n), this.curLen);
      this.curLen += n;
      off += n;
      if (this.curLen === WRITE_BYTES) this.issue();
    }
  }

  /** Writes and hashes what is staged and waits for everything in flight. */
  async flush(): Promise<void> {
    if (this.cur && this.curLen > 0) this.issue();
    await Promise.allSettled([...this.inflight]);
    if (this.failure) throw this.failure;
  }

  /** Drops what is staged (an attempt failed mid-chunk) once the work in flight is done. */
  async reset(): Promise<void> {
    if (this.cur) { this.free.push(this.cur); this.cur = null; }
    this.curLen = 0;
    await Promise.allSettled([...this.inflight]);
  }

  private issue(): void {
    const buf = this.cur!;
    const len = this.curLen;
    const pos = this.curPos;
    // The last guard against writing past the image: the manifest's own arithmetic keeps us inside.
    if (pos + len > this.limit) { this.failure = new Fatal(`refusing to write past the image end (${pos + len} > ${this.limit})`); return; }
    this.cur = null;
    this.curLen = 0;
    this.curPos = pos + len;
    // Direct writes: two in flight keep the disk busy (each waits for the device). Buffered writes:
    // one after another, as they serialize on the inode lock anyway and concurrent ones spin on it
    // (5% of the CPU in a profile with three in flight).
    // Hash updates are posted now, in stream order; the workers keep that order.
    const lane = this.io.isDirect ? this.issued++ % this.lanes.length : 0;
    const write = this.lanes[lane].then(() => this.writeAt(buf, len, pos));
    this.lanes[lane] = write;
    const p = Promise.all([write, ...this.hashes.map((h) => h.update(buf, len))])
      .then(() => {}, (e: unknown) => { this.failure ??= new Fatal(`hashing failed: ${(e as Error).message}`); });
    this.inflight.add(p);
    void p.then(() => {
      this.inflight.delete(p);
      this.give(buf);
    });
  }

  /** Never rejects: a failed write is kept and thrown by the next push or flush. */
  private async writeAt(buf: Buffer, len: number, pos: number): Promise<void> {
    try {
      await this.io.writeAll(buf, len, pos);
    } catch (e) {
      this.failure ??= new Fatal(`write error at byte ${pos}: ${(e as Error).message}`);
    }
  }

  private take(): Promise<Buffer> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    return new Promise((resolve) => this.waiting.push(() => resolve(this.free.pop()!)));
  }

  private give(b: Buffer): void {
    this.free.push(b);
    this.waiting.shift()?.();
  }
}

interface Streamed { sha256: string; requests: number; resumes: number }

async function download(o: WriteOptions, m: ImageManifest, io: TargetIo): Promise<Streamed> {
  const doGet: ImageGet = o.fetch ? fromFetch(o.fetch) : nodeHttpGet;
  const maxRetries = o.maxRetries ?? 8;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const idleMs = o.idleTimeoutMs ?? 30_000;
  const makeHash = o.hashInWorkers === false ? inlineHash : workerHash;
  const chunkHash = makeHash(); // restarts at every chunk
  const wholeHash = makeHash(); // marked at every verified boundary, rewound on a resume
  try {
    return await downloadWith(o, m, io, chunkHash, wholeHash, doGet, maxRetries, sleep, idleMs);
  } finally {
    await Promise.all([chunkHash.close(), wholeHash.close()]);
  }
}

async function downloadWith(o: WriteOptions, m: ImageManifest, io: TargetIo, chunkHash: RunningHash, wholeHash: RunningHash,
  doGet: ImageGet, maxRetries: number, sleep: (ms: number) => Promise<void>, idleMs: number): Promise<Streamed> {
  const chunks = m.chunks;
  const sink = new Sink(io, m.raw.size, [chunkHash, wholeHash]);
  const meter = progressMeter(o, 'downloading', m.raw.size);

  let next = 0; // the first chunk not yet verified: where a resume starts; wholeHash is marked there
  let pendingSync: Promise<void> = Promise.resolve();
  let requests = 0;
  let resumes = 0;

  /** One GET from chunk `next` on; returns normally when every chunk is verified. */
  async function attempt(): Promise<void> {
    const first = next;
    const start = chunks[first].offset;
    const ctl = new AbortController();
    const onAbort = (): void => ctl.abort(new Fatal('cancelled'));
    o.signal?.addEventListener('abort', onAbort, { once: true });
    let idle: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(idle);
      idle = setTimeout(() => ctl.abort(new Error(`no data for ${idleMs / 1000} s`)), idleMs);
    };
    let pass: ChunkPass | null = null;
    let response: { close(): void } | null = null;
    let acc = Buffer.allocUnsafe(FEED_BYTES);
    let accLen = 0;
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
      for await (const piece of res.body) {
        arm();
        let p: Uint8Array = piece;
        if (pos < start) { // a server that ignored Range: skip what is already verified
          const skip = Math.min(p.length, start - pos);
          pos += skip;
          p = p.subarray(skip);
        }
        while (p.length > 0 && i < chunks.length) {
          const c = chunks[i];
          if (!pass) { pass = new ChunkPass(i, c, sink, chunkHash, (n) => meter(c.rawOffset + n)); }
          const take = Math.min(p.length, c.size - fed, FEED_BYTES - accLen);
          acc.set(p.subarray(0, take), accLen);
          accLen += take;
          fed += take;
          pos += take;
          p = p.subarray(take);
          if (accLen === FEED_BYTES || fed === c.size) {
            await pass.feed(acc.subarray(0, accLen));
            acc = Buffer.allocUnsafe(FEED_BYTES); // the decoder holds on to the fed buffer
            accLen = 0;
          }
          if (fed === c.size) {
            await pass.finish();
            pass = null;
            // Chunk i is verified: it becomes the resume point, with the whole-image hash so far.
            wholeHash.mark();
            next = i + 1;
            i++;
            fed = 0;
            await pendingSync; // at most one chunk's dirty data waits for the disk behind the stream
            pendingSync = io.datasync().catch((e: unknown) => { throw new Fatal(`fdatasync failed: ${(e as Error).message}`); });
            pendingSync.catch(() => {}); // awaited at the next boundary or the end
          }
        }
        if (i >= chunks.length) break; // anything after the last chunk is not ours: stop reading
      }
      if (i < chunks.length) throw new Error(`the connection ended at compressed byte ${pos} of ${m.compressed.size}`);
    } catch (e) {
      if (pass) await pass.abort(e as Error);
      await sink.reset();
      // Back to the last verified boundary: the chunk hash starts afresh, the whole hash rewinds.
      await chunkHash.digestReset().catch(() => {});
      wholeHash.rewind();
      const reason = ctl.signal.aborted && ctl.signal.reason instanceof Error && !(e instanceof Fatal) ? ctl.signal.reason : e;
      throw reason;
    } finally {
      clearTimeout(idle);
      response?.close(); // done or failed: this connection is not read any further
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  for (let failures = 0; next < chunks.length;) {
    const before = next;
    if (o.signal?.aborted) throw new WriteError(`cancelled; ${next} of ${chunks.length} chunks were written and verified`);
    try {
      await attempt();
    } catch (e) {
      if (e instanceof Fatal || e instanceof WriteError) throw e instanceof WriteError ? e : new WriteError(e.message);
      if (o.signal?.aborted) throw new WriteError('cancelled');
      if (next > before) failures = 0; // progress was made: a flaky link gets its retries afresh
      if (++failures > maxRetries) {
        throw new WriteError(`image download failed ${failures} times in a row without progress (last: ${(e as Error).message}); ${next} of ${chunks.length} chunks were written and verified`);
      }
      const ms = (o.backoffMs ?? defaultBackoff)(failures - 1);
      o.log(`image download interrupted at chunk ${next} of ${chunks.length} (${(e as Error).message}); resuming from byte ${chunks[next].offset} in ${(ms / 1000).toFixed(1)} s`);
      await sleep(ms);
    }
  }
  await pendingSync.catch((e: unknown) => { throw new WriteError((e as Error).message); });
  meter(m.raw.size, true);
  const sha256 = await wholeHash.digest();
  if (sha256 !== m.raw.sha256) {
    throw new WriteError(`sha256 mismatch over the whole image as streamed: ${sha256}, the manifest says ${m.raw.sha256} (every chunk matched: the manifest's raw hash does not describe its chunks)`);
  }
  return { sha256, requests, resumes };
}

/** One chunk: its own zstd frame and decoder; bytes go to the sink (disk + hashes) as decoded. */
class ChunkPass {
  private readonly dec: ZstdDecompress;
  private produced = 0;
  private readonly done: Promise<void>;
  private readonly index: number;
  private readonly chunk: ImageChunk;
  private readonly hash: RunningHash;
  constructor(index: number, chunk: ImageChunk, sink: Sink, hash: RunningHash, progress: (n: number) => void) {
    this.index = index;
    this.chunk = chunk;
    this.hash = hash;
    const dec = createZstdDecompress({ chunkSize: DECODE_OUT_BYTES });
    this.dec = dec;
    sink.start(chunk.rawOffset);
    this.done = (async () => {
      for await (const out of dec as AsyncIterable<Buffer>) {
        if (this.produced + out.length > chunk.rawSize) {
          throw new Fatal(`sha256 mismatch in ${chunkName(index, chunk)}: the frame decodes to more than the chunk's ${chunk.rawSize} bytes`);
        }
        await sink.push(out);
        this.produced += out.length;
        progress(this.produced);
      }
      await sink.flush(); // every byte of the chunk written and hashed
    })();
    this.done.catch(() => {}); // observed by feed/finish/abort
  }

  async feed(data: Uint8Array): Promise<void> {
    if (this.dec.write(data)) return;
    // Backpressure: the consumer (disk + hashes) is behind. It may also have failed meanwhile.
    await Promise.race([new Promise<void>((r) => this.dec.once('drain', r)), this.done.then(() => { throw new Fatal('the decoder finished early'); })]);
  }

  /** Ends the frame and checks the chunk: size, then sha256. */
  async finish(): Promise<void> {
    const name = chunkName(this.index, this.chunk);
    this.dec.end();
    try {
      await this.done;
    } catch (e) {
      if (e instanceof Fatal) throw e;
      // The frame was complete (all its bytes were fed): a decoder error means corrupt data.
      throw new Fatal(`sha256 mismatch in ${name}: the downloaded frame is corrupt (zstd: ${(e as Error).message})`);
    }
    if (this.produced !== this.chunk.rawSize) {
      throw new Fatal(`sha256 mismatch in ${name}: the frame decodes to ${this.produced} bytes, the chunk has ${this.chunk.rawSize}`);
    }
    const got = await this.hash.digestReset();
    if (got !== this.chunk.sha256) throw new Fatal(`sha256 mismatch in ${name}: downloaded ${got}, the manifest says ${this.chunk.sha256}`);
  }

  async abort(why: Error): Promise<void> {
    this.dec.destroy(why);
    await this.done.catch(() => {});
  }
}

/** Reads the target back over raw.size (two reads in flight, direct where allowed) and returns its sha256. */
async function readBack(o: WriteOptions, m: ImageManifest, io: TargetIo): Promise<string> {
  const meter = progressMeter(o, 'verifying', m.raw.size);
  const hash = createHash('sha256');
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
    pos = nextPos;
    meter(pos);
  }
  meter(pos, true);
  return hash.digest('hex');
}
