// After a verified write: put this machine's files (hostname, network, first-boot and join files)
// on the new root filesystem. The kernel still holds the disk's old partition table, so it is told
// to re-read it; the root partition is found by number (manifest.root.partition) and must carry the
// ext4 label the manifest names — read from the superblock here, no tool needed — before it is
// mounted. Files are written to a temp name, fsynced and renamed, so the installed OS never boots
// with half a join file. The filesystem is always unmounted again, also when staging fails.
//
// Every tool call goes through `StageTools`, so unit tests stage into a directory; the real tools
// (busybox `blockdev`, `mount`, `umount` in the discovery OS) are wired by agent/main.ts.
import { execFile } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, open, realpath, rename, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, sep } from 'node:path';
import type { ImageManifest } from '../../images/manifest.ts';
import type { StagedFile } from '../protocol.ts';

export interface StageTools {
  /** Makes the kernel re-read the disk's partition table (BLKRRPART). */
  rereadPartitions(disk: string): Promise<void>;
  /** Whether a device node exists yet (devtmpfs creates partition nodes a moment after the re-read). */
  exists(path: string): Promise<boolean>;
  /** Reads `length` bytes at `offset` of a device (the ext4 superblock). */
  readAt(path: string, offset: number, length: number): Promise<Buffer>;
  mount(device: string, dir: string, fs: 'ext4'): Promise<void>;
  unmount(dir: string): Promise<void>;
  /** A fresh empty directory to mount on. */
  mkdtemp(): Promise<string>;
  sleep(ms: number): Promise<void>;
}

/** Bounds on what the appliance may ask to stage (it is trusted, but not with the agent's RAM). */
export const STAGE_LIMITS = { files: 256, totalBytes: 16 * 1024 * 1024, pathChars: 255 } as const;

/** `/dev/vda` + 2 → `/dev/vda2`; a disk name ending in a digit takes a `p` (`nvme0n1p2`, `mmcblk0p2`, `loop0p2`). */
export function partitionPath(disk: string, n: number): string {
  return /\d$/.test(disk) ? `${disk}p${n}` : `${disk}${n}`;
}

/** The ext4 (ext2/3) volume label from a superblock read at byte 1024 of the partition; null when it is not one. */
export function ext4Label(superblock: Buffer): string | null {
  if (superblock.length < 136 || superblock.readUInt16LE(56) !== 0xef53) return null; // s_magic
  const raw = superblock.subarray(120, 136); // s_volume_name[16], NUL-padded
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? 16 : end).toString('utf8');
}

/** Why a staged file's path or mode is unacceptable, or null. Paths are relative to the root fs. */
export function stagedFileProblem(f: StagedFile): string | null {
  if (typeof f.path !== 'string' || f.path.length === 0 || f.path.length > STAGE_LIMITS.pathChars) return 'path is empty or too long';
  if (f.path.startsWith('/')) return `path ${JSON.stringify(f.path)} is absolute; staged paths are relative to the root filesystem`;
  if (f.path.includes('\0') || f.path.includes('\\')) return `path ${JSON.stringify(f.path)} has a NUL or backslash`;
  const parts = f.path.split('/');
  if (parts.some((p) => p === '..')) return `path ${JSON.stringify(f.path)} climbs out with ..`;
  if (parts.some((p) => p === '' || p === '.')) return `path ${JSON.stringify(f.path)} has an empty or . component`;
  if (!Number.isInteger(f.mode) || f.mode < 0 || f.mode > 0o7777) return `mode ${f.mode} of ${f.path} is not a permission mode`;
  if (typeof f.contentBase64 !== 'string') return `content of ${f.path} is missing`;
  return null;
}

/**
 * Writes `files` under `root` (a mounted filesystem, or any directory). Checks every path first and
 * writes nothing when one is bad. Parent directories are created (0755); a parent that is a symlink
 * must resolve inside `root` — an image's absolute symlink would otherwise point into the discovery
 * OS's own filesystem.
 */
export async function stageFiles(root: string, files: readonly StagedFile[]): Promise<void> {
  if (files.length > STAGE_LIMITS.files) throw new Error(`the appliance sent ${files.length} files to stage; at most ${STAGE_LIMITS.files}`);
  let total = 0;
  const decoded: Array<{ f: StagedFile; data: Buffer }> = [];
  for (const f of files) {
    const p = stagedFileProblem(f);
    if (p) throw new Error(`refusing to stage files: ${p}`);
    const data = Buffer.from(f.contentBase64, 'base64');
    total += data.length;
    if (total > STAGE_LIMITS.totalBytes) throw new Error(`refusing to stage files: more than ${STAGE_LIMITS.totalBytes} bytes`);
    decoded.push({ f, data });
  }
  const realRoot = await realpath(root);
  const inside = (p: string): boolean => p === realRoot || p.startsWith(realRoot + sep);
  for (const { f, data } of decoded) {
    const parts = f.path.split('/');
    let dir = realRoot;
    for (const part of parts.slice(0, -1)) {
      const next = join(dir, part);
      const st = await lstat(next).catch(() => null);
      if (!st) {
        await mkdir(next, { mode: 0o755 });
        dir = next;
      } else if (st.isSymbolicLink()) {
        const target = await realpath(next).catch(() => null);
        if (!target || !inside(target)) throw new Error(`refusing to stage ${f.path}: ${part} is a symlink that leads outside the root filesystem`);
        dir = target;
      } else if (st.isDirectory()) {
        dir = next;
      } else {
        throw new Error(`refusing to stage ${f.path}: ${join(dir, part).slice(realRoot.length + 1)} is not a directory`);
      }
    }
    const final = join(dir, parts.at(-1)!);
    const tmp = join(dir, `.${parts.at(-1)!}.tether-${process.pid}.tmp`);
    const fh = await open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(data);
      await fh.chmod(f.mode); // after the write and explicit: the process umask must not change the mode
      await fh.sync();
    } finally {
      await fh.close();
    }
    // rename replaces a symlink at the final name instead of following it.
    await rename(tmp, final);
    await chmod(final, f.mode);
    await syncDir(dir);
  }
}

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

export interface StageOptions {
  /** The disk just written, e.g. `/dev/vda`. */
  disk: string;
  manifest: ImageManifest;
  files: readonly StagedFile[];
  tools: StageTools;
  log: (msg: string) => void;
  /** How long to wait for the partition node after the re-read. Default 10 s. */
  waitMs?: number;
}

/** Re-reads the partition table, checks the root partition's label, mounts it and stages `files`. */
export async function stageOnDisk(o: StageOptions): Promise<{ partition: string; files: number }> {
  const { tools, manifest } = o;
  // The kernel can refuse (EBUSY) for a moment while udev-less probing still holds the disk.
  for (let i = 0; ; i++) {
    try { await tools.rereadPartitions(o.disk); break; } catch (e) {
      if (i >= 4) throw new Error(`the kernel did not re-read the partition table of ${o.disk}: ${(e as Error).message}`);
      await tools.sleep(500 * (i + 1));
    }
  }
  const part = partitionPath(o.disk, manifest.root.partition);
  const deadline = o.waitMs ?? 10_000;
  for (let waited = 0; !(await tools.exists(part)); waited += 200) {
    if (waited >= deadline) throw new Error(`${part} did not appear after re-reading the partition table of ${o.disk}: the image has no partition ${manifest.root.partition}?`);
    await tools.sleep(200);
  }
  const label = ext4Label(await tools.readAt(part, 1024, 1024));
  if (label === null) throw new Error(`${part} holds no ext4 filesystem; the manifest says partition ${manifest.root.partition} is the ext4 root`);
  if (label !== manifest.root.label) throw new Error(`${part} is labelled ${JSON.stringify(label)}, the manifest says ${JSON.stringify(manifest.root.label)}: not staging files on it`);
  if (o.files.length === 0) return { partition: part, files: 0 };
  const dir = await tools.mkdtemp();
  try {
    await tools.mount(part, dir, 'ext4');
    try {
      await stageFiles(dir, o.files);
      o.log(`staged ${o.files.length} files on ${part} (${label})`);
    } finally {
      await tools.unmount(dir); // umount writes back everything; a failed umount is an error to report
    }
  } finally {
    await rmdir(dir).catch(() => {});
  }
  return { partition: part, files: o.files.length };
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: 60_000, encoding: 'utf8' }, (err, _out, stderr) => {
      if (!err) return resolve();
      const code = (err as NodeJS.ErrnoException).code;
      reject(new Error(code === 'ENOENT' ? `${cmd} not found` : `${cmd} ${args.join(' ')} failed: ${(stderr || err.message).trim().split('\n').at(-1)}`));
    });
  });
}

/** The discovery OS's tools (busybox applets). */
export function realStageTools(): StageTools {
  return {
    rereadPartitions: (disk) => run('blockdev', ['--rereadpt', disk]),
    exists: (p) => lstat(p).then(() => true, () => false),
    readAt: async (p, offset, length) => {
      const fh = await open(p, 'r');
      try {
        const buf = Buffer.alloc(length);
        const { bytesRead } = await fh.read(buf, 0, length, offset);
        return buf.subarray(0, bytesRead);
      } finally { await fh.close(); }
    },
    mount: (dev, dir, fs) => run('mount', ['-t', fs, dev, dir]),
    unmount: (dir) => run('umount', [dir]),
    mkdtemp: () => mkdtemp(join(tmpdir(), 'tether-root-')),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  };
}
