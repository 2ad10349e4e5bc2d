import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Disk, DiskRef } from '../protocol.ts';
import { resolveTarget } from './target.ts';
import { MIB, quickWipeRegions, tablePartitions, wipeDisks, WipeError, type WipeProgress } from './wipe.ts';
import { fileSha } from './test-image.ts';

const dir = mkdtempSync(join(tmpdir(), 'tether-wipe-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SIZE = 64 * MIB;
const P1 = { start: 2048, size: 32768 }; // sectors
const P2 = { start: 34816, size: 94208 };

/** A disk image file with a real GPT (sfdisk) and an ext4 in each partition (mkfs.ext4 -E offset=). */
function makeDisk(name: string): string {
  const path = join(dir, name);
  execFileSync('truncate', ['-s', String(SIZE), path]);
  execFileSync('sfdisk', ['-q', path], { input: `label: gpt\nstart=${P1.start}, size=${P1.size}, type=L\nstart=${P2.start}, size=${P2.size}, type=L\n` });
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'old-boot', '-E', `offset=${P1.start * 512}`, path, '16M']);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'old-root', '-E', `offset=${P2.start * 512}`, path, '40M']);
  return path;
}

/** What blkid finds, probing (-p) the whole file or at a byte offset; '' when nothing. */
const blkid = (path: string, offset?: number): string => {
  const r = spawnSync('blkid', ['-p', ...(offset !== undefined ? ['-O', String(offset)] : []), path], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
};
const sfdiskDump = (path: string) => spawnSync('sfdisk', ['-d', path], { encoding: 'utf8' });

/** A sysfs-shaped directory: class/block/<disk>/<disk><n>/{start,size}, as the kernel shows partitions. */
function fakeSysfs(disk: string, parts: Array<{ start: number; size: number }>): string {
  const root = join(dir, `sys-${disk}`);
  parts.forEach((p, i) => {
    const d = join(root, 'class/block', disk, `${disk}${i + 1}`);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'start'), `${p.start}\n`);
    writeFileSync(join(d, 'size'), `${p.size}\n`);
  });
  return root;
}

const asDisk = (name: string): Disk => ({ name, sizeBytes: SIZE, model: 'QEMU', serial: `SN-${name}`, wwn: { absent: 'none' }, rotational: false, transport: 'virtio', removable: false });
const ref = (name: string): DiskRef => ({ name, sizeBytes: SIZE, serial: `SN-${name}`, wwn: null });

test('quickWipeRegions: head and tail of the disk and of each partition, clamped and merged', () => {
  assert.deepEqual(quickWipeRegions(64 * MIB, [{ start: MIB, size: 16 * MIB }, { start: 17 * MIB, size: 46 * MIB }]), [
    { start: 0, size: 2 * MIB }, // disk head + p1 head
    { start: 16 * MIB, size: 2 * MIB }, // p1 tail + p2 head
    { start: 62 * MIB, size: 2 * MIB }, // p2 tail + disk tail
  ]);
  assert.deepEqual(quickWipeRegions(MIB / 2, []), [{ start: 0, size: MIB / 2 }]);
});

test('tablePartitions reads the GPT that sfdisk wrote', async () => {
  const path = makeDisk('gpt-only');
  const fh = await open(path, 'r');
  try {
    const parts = await tablePartitions(fh, SIZE);
    assert.deepEqual(parts, [{ start: P1.start * 512, size: P1.size * 512 }, { start: P2.start * 512, size: P2.size * 512 }]);
  } finally { await fh.close(); }
});

test('wipeDisks: afterwards neither sfdisk nor blkid finds a partition table or a filesystem', async () => {
  // vdx: the kernel knows its partitions (sysfs); vdy: only its own GPT says where they are.
  const x = makeDisk('vdx');
  const y = makeDisk('vdy');
  for (const p of [x, y]) {
    assert.equal(sfdiskDump(p).status, 0);
    assert.match(blkid(p), /PTTYPE="gpt"/);
    assert.match(blkid(p, P2.start * 512), /LABEL="old-root".*TYPE="ext4"/);
    assert.match(blkid(p, P1.start * 512), /TYPE="ext4"/);
  }
  const sysRoot = fakeSysfs('vdx', [P1, P2]);
  const reread: string[] = [];
  const progress: WipeProgress[] = [];
  const paths: Record<string, string> = { vdx: x, vdy: y };
  const r = await wipeDisks({
    spec: { id: 'w1', disks: [ref('vdx'), ref('vdy')], full: false },
    resolve: async (d) => resolveTarget(d, [asDisk('vdx'), asDisk('vdy')], (n) => paths[n]),
    onProgress: (p) => progress.push(p),
    sysRoot,
    rereadPartitions: async (p, block) => { reread.push(`${p} ${block}`); },
  });
  for (const p of [x, y]) {
    const dump = sfdiskDump(p);
    assert.notEqual(dump.status, 0, `sfdisk -d ${p} still finds: ${dump.stdout}`);
    assert.match(dump.stderr, /does not contain a recognized partition table/);
    assert.equal(blkid(p), '', 'no signature on the disk');
    assert.equal(blkid(p, P1.start * 512), '', 'no filesystem in p1');
    assert.equal(blkid(p, P2.start * 512), '', 'no filesystem in p2');
  }
  assert.deepEqual(reread, [`${x} false`, `${y} false`]);
  assert.equal(r.disks.length, 2);
  assert.equal(r.bytesZeroed, 2 * 6 * MIB); // 3 merged regions of 2 MiB on each disk
  assert.equal(progress.at(-1)!.bytesDone, r.bytesZeroed);
  assert.ok(progress.every((p) => p.phase === 'wiping'));
});

test('wipeDisks full: every byte becomes zero', async () => {
  const path = makeDisk('vdf');
  const progress: WipeProgress[] = [];
  const r = await wipeDisks({
    spec: { id: 'w2', disks: [ref('vdf')], full: true },
    resolve: async (d) => resolveTarget(d, [asDisk('vdf')], () => path),
    onProgress: (p) => progress.push(p),
    sysRoot: join(dir, 'no-sys'),
    rereadPartitions: async () => {},
    progressIntervalMs: 0,
  });
  assert.equal(r.bytesZeroed, SIZE);
  const data = readFileSync(path);
  assert.equal(data.length, SIZE);
  assert.ok(data.equals(Buffer.alloc(SIZE)), 'all zeros');
  assert.ok(progress.length > 3, 'progress along the way');
  assert.equal(progress.at(-1)!.bytesDone, SIZE);
});

test('wipeDisks: partitions only the kernel still knows (table already gone) are wiped from sysfs', async () => {
  const path = makeDisk('vdk');
  execFileSync('dd', ['if=/dev/zero', `of=${path}`, 'bs=1M', 'count=1', 'conv=notrunc', 'status=none']);
  execFileSync('dd', ['if=/dev/zero', `of=${path}`, 'bs=1M', 'count=1', `seek=${SIZE / MIB - 1}`, 'conv=notrunc', 'status=none']);
  assert.notEqual(sfdiskDump(path).status, 0);
  assert.match(blkid(path, P2.start * 512), /TYPE="ext4"/, 'the filesystem survives a table-only wipe');
  await wipeDisks({
    spec: { id: 'w4', disks: [ref('vdk')], full: false },
    resolve: async (d) => resolveTarget(d, [asDisk('vdk')], () => path),
    onProgress: () => {},
    sysRoot: fakeSysfs('vdk', [P1, P2]),
    rereadPartitions: async () => {},
  });
  assert.equal(blkid(path, P2.start * 512), '');
  assert.equal(blkid(path, P1.start * 512), '');
});

test('wipeDisks: one disk that does not match refuses the task and touches no disk', async () => {
  const a = makeDisk('vda1x');
  const b = makeDisk('vdb1x');
  const before = [fileSha(a), fileSha(b)];
  const paths: Record<string, string> = { vda1x: a, vdb1x: b };
  await assert.rejects(
    wipeDisks({
      spec: { id: 'w3', disks: [ref('vda1x'), { ...ref('vdb1x'), serial: 'SOMEONE-ELSE' }], full: true },
      resolve: async (d) => resolveTarget(d, [asDisk('vda1x'), asDisk('vdb1x')], (n) => paths[n]),
      onProgress: () => {},
      rereadPartitions: async () => {},
    }),
    (e: unknown) => e instanceof WipeError && e.untouched && /no disk was touched: disk vdb1x is not the disk the task was made for: serial is SN-vdb1x, the task expects SOMEONE-ELSE/.test(e.message),
  );
  assert.deepEqual([fileSha(a), fileSha(b)], before);
});
