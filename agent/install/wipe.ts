// Wipes disks so nothing on them is found again: no partition table, no filesystem, RAID or LVM
// signature that could be auto-assembled or mounted, or mistaken for an installed OS.
//
// Quick wipe (what `wipefs -a` + `sgdisk --zap-all` achieve, without either tool): zero
//   - the first MiB of the disk (MBR, primary GPT header and entries, LVM/md 1.1/1.2 near the start),
//   - the last MiB (backup GPT header and entries, md 0.90/1.0 superblocks, ZFS labels 2-3),
//   - the first and last MiB of every partition (filesystem superblocks; md/ZFS at a partition's end).
// Partitions come from sysfs (`/sys/class/block/<disk>/<part>/{start,size}`, what the kernel knows)
// and from the disk's own GPT/MBR (what it says even if the kernel never read it), both in sectors.
// Then BLKRRPART (`blockdev --rereadpt`) so the kernel forgets the old partitions.
// Full wipe: every byte of the disk becomes zero, with progress.
//
// Every disk is resolved (name + size + serial + WWN) before the first byte is written: a task that
// names one disk wrongly touches none.
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import type { DiskRef, WipeSpec } from '../protocol.ts';
import type { TargetResolution } from './target.ts';
import { alignedBuffers, TargetIo, targetSize, WRITE_BYTES } from './write.ts';

export const MIB = 1024 * 1024;

export interface WipeProgress { phase: 'wiping'; bytesDone: number; bytesTotal: number; rateBps: number; message?: string }

export interface WipeOptions {
  spec: WipeSpec;
  /** Resolves a disk against a fresh listing (target.ts's rules). */
  resolve: (ref: DiskRef) => Promise<TargetResolution>;
  onProgress: (p: WipeProgress) => void;
  log?: (msg: string) => void;
  /** Where sysfs is; tests pass a directory shaped like it. */
  sysRoot?: string;
  /** BLKRRPART; default `blockdev --rereadpt` for block devices, nothing for files. */
  rereadPartitions?: (path: string, isBlockDevice: boolean) => Promise<void>;
  signal?: AbortSignal;
  progressIntervalMs?: number;
  now?: () => number;
}

export interface WipeResult { disks: Array<{ name: string; path: string; bytesZeroed: number }>; bytesZeroed: number }

export class WipeError extends Error {
  /** Nothing was written to any disk. */
  readonly untouched: boolean;
  constructor(message: string, untouched = false) { super(message); this.name = 'WipeError'; this.untouched = untouched; }
}

export interface Extent { start: number; size: number }

/** Partitions the kernel knows for `disk`, in bytes, from `<sysRoot>/class/block/<disk>/<part>/{start,size}`. */
export async function sysfsPartitions(disk: string, sysRoot = '/sys'): Promise<Extent[]> {
  const dir = `${sysRoot}/class/block/${disk}`;
  const entries = await readdir(dir).catch(() => [] as string[]);
  const out: Extent[] = [];
  for (const e of entries.filter((x) => x.startsWith(disk))) {
    const start = Number((await readFile(`${dir}/${e}/start`, 'utf8').catch(() => '')).trim());
    const size = Number((await readFile(`${dir}/${e}/size`, 'utf8').catch(() => '0')).trim());
    // sysfs start/size are in 512-byte sectors regardless of the logical block size.
    if (Number.isSafeInteger(start) && start > 0) out.push({ start: start * 512, size: Number.isSafeInteger(size) ? size * 512 : 0 });
  }
  return out;
}

/**
 * Partitions described by the disk's own GPT (header at LBA 1 for 512- or 4096-byte sectors) or MBR,
 * in bytes. Reads only what it must; a damaged table yields what could be read, never throws.
 */
export async function tablePartitions(fh: FileHandle, diskSize: number): Promise<Extent[]> {
  const read = async (pos: number, len: number): Promise<Buffer> => {
    const b = Buffer.alloc(len);
    const { bytesRead } = await fh.read(b, 0, len, pos);
    return b.subarray(0, bytesRead);
  };
  const out: Extent[] = [];
  for (const sector of [512, 4096]) {
    const h = await read(sector, 92);
    if (h.length < 92 || h.toString('latin1', 0, 8) !== 'EFI PART') continue;
    const entriesLba = Number(h.readBigUInt64LE(72));
    const count = Math.min(h.readUInt32LE(80), 1024);
    const entrySize = h.readUInt32LE(84);
    if (entrySize < 128 || entrySize > 4096 || entriesLba * sector >= diskSize) continue;
    const table = await read(entriesLba * sector, count * entrySize);
    for (let i = 0; (i + 1) * entrySize <= table.length; i++) {
      const e = table.subarray(i * entrySize, (i + 1) * entrySize);
      if (e.subarray(0, 16).every((b) => b === 0)) continue; // unused entry: zero type GUID
      const first = Number(e.readBigUInt64LE(32));
      const last = Number(e.readBigUInt64LE(40));
      if (first > 0 && last >= first) out.push({ start: first * sector, size: (last - first + 1) * sector });
    }
  }
  const mbr = await read(0, 512);
  if (mbr.length === 512 && mbr[510] === 0x55 && mbr[511] === 0xaa) {
    for (let i = 0; i < 4; i++) {
      const e = mbr.subarray(446 + 16 * i, 462 + 16 * i);
      const type = e[4];
      const start = e.readUInt32LE(8);
      const sectors = e.readUInt32LE(12);
      if (type !== 0 && type !== 0xee && start > 0) out.push({ start: start * 512, size: sectors * 512 });
    }
  }
  return out;
}

/** The byte ranges a quick wipe zeroes: disk head and tail, each partition's head and tail; merged, in order. */
export function quickWipeRegions(diskSize: number, partitions: readonly Extent[]): Extent[] {
  const raw: Extent[] = [{ start: 0, size: MIB }, { start: diskSize - MIB, size: MIB }];
  for (const p of partitions) {
    raw.push({ start: p.start, size: MIB });
    if (p.size > 0) raw.push({ start: p.start + p.size - MIB, size: MIB });
  }
  const clamped = raw
    .map((r) => ({ start: Math.max(0, r.start), end: Math.min(diskSize, r.start + r.size) }))
    .filter((r) => r.end > r.start)
    .sort((a, b) => a.start - b.start);
  const merged: Array<{ start: number; end: number }> = [];
  for (const r of clamped) {
    const last = merged.at(-1);
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged.map((r) => ({ start: r.start, size: r.end - r.start }));
}

function blockdevRereadpt(path: string, isBlockDevice: boolean): Promise<void> {
  if (!isBlockDevice) return Promise.resolve();
  return new Promise((resolve, reject) => {
    execFile('blockdev', ['--rereadpt', path], { timeout: 60_000, encoding: 'utf8' }, (err, _o, stderr) => {
      if (err) reject(new Error(`blockdev --rereadpt ${path} failed: ${(stderr || err.message).trim()}`));
      else resolve();
    });
  });
}

export async function wipeDisks(o: WipeOptions): Promise<WipeResult> {
  const now = o.now ?? Date.now;
  const targets: Array<{ ref: DiskRef; path: string }> = [];
  const refused: string[] = [];
  for (const ref of o.spec.disks) {
    const r = await o.resolve(ref);
    if ('refused' in r) refused.push(r.refused);
    else targets.push({ ref, path: r.path });
  }
  if (refused.length) throw new WipeError(`wipe refused, no disk was touched: ${refused.join(' | ')}`, true);

  // Open and plan every disk before zeroing any, so a disk that cannot be opened stops the task early.
  const plans: Array<{ name: string; path: string; io: TargetIo | null; block: boolean; regions: Extent[] }> = [];
  try {
    for (const t of targets) {
      // O_DIRECT where allowed (write.ts's TargetIo): a full wipe leaves no dirty pages behind.
      const io = await TargetIo.open(t.path, (m) => o.log?.(m)).catch((e: unknown) => { throw new WipeError(`wipe refused, no disk was touched: ${(e as Error).message}`, true); });
      const block = (await io.fh.stat()).isBlockDevice();
      plans.push({ name: t.ref.name, path: t.path, io, block, regions: [] });
      const size = await targetSize(io.fh, o.sysRoot);
      const parts = [...await sysfsPartitions(t.ref.name, o.sysRoot), ...await tablePartitions(io.fh, size)];
      plans.at(-1)!.regions = o.spec.full ? [{ start: 0, size }] : quickWipeRegions(size, parts);
      o.log?.(`wipe ${t.ref.name} (${t.path}): ${o.spec.full ? `all ${size} bytes` : `${parts.length} partition entries found, ${plans.at(-1)!.regions.length} regions`}`);
    }

    const total = plans.reduce((n, p) => n + p.regions.reduce((m, r) => m + r.size, 0), 0);
    const [zeros] = alignedBuffers(1, WRITE_BYTES); // page-aligned, and zeros (wasm memory starts zeroed)
    let done = 0;
    let lastT = now();
    let lastDone = 0;
    const progress = (force: boolean, message?: string): void => {
      const t = now();
      if (!force && t - lastT < (o.progressIntervalMs ?? 1000)) return;
      const rateBps = t > lastT ? Math.round(((done - lastDone) * 1000) / (t - lastT)) : 0;
      lastT = t;
      lastDone = done;
      o.onProgress({ phase: 'wiping', bytesDone: done, bytesTotal: total, rateBps, ...(message ? { message } : {}) });
    };
    const result: WipeResult = { disks: [], bytesZeroed: 0 };
    for (const p of plans) {
      progress(true, `wiping ${p.name}`);
      let zeroed = 0;
      const io = p.io!;
      for (const r of p.regions) {
        // Two writes in flight: a full wipe of a large disk is bound by the disk, not by the queue.
        const inflight: Promise<void>[] = [];
        for (let pos = r.start; pos < r.start + r.size;) {
          if (o.signal?.aborted) throw new WipeError(`cancelled after ${done} bytes`);
          const len = Math.min(WRITE_BYTES, r.start + r.size - pos);
          const at = pos;
          const write = io.writeAll(zeros, len, at);
          write.catch(() => {}); // awaited below; this only keeps a second failure from going unhandled
          inflight.push(write);
          pos += len;
          if (inflight.length >= 2) await inflight.shift();
          done += len;
          zeroed += len;
          progress(false);
        }
        await Promise.all(inflight);
      }
      await io.datasync();
      p.io = null; // closed here: the finally below must not close it again
      await io.close();
      // The kernel drops its view of the old partitions; partition nodes disappear.
      await (o.rereadPartitions ?? blockdevRereadpt)(p.path, p.block);
      result.disks.push({ name: p.name, path: p.path, bytesZeroed: zeroed });
      result.bytesZeroed += zeroed;
    }
    progress(true);
    return result;
  } catch (e) {
    if (e instanceof WipeError) throw e;
    throw new WipeError(`wipe failed: ${(e as Error).message}`);
  } finally {
    for (const p of plans) await p.io?.close().catch(() => {});
  }
}
