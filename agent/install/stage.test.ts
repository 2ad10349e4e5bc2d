import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ImageManifest } from '../../images/manifest.ts';
import type { StagedFile } from '../protocol.ts';
import { ext4Label, partitionPath, stageFiles, stageOnDisk, type StageTools } from './stage.ts';

const dir = mkdtempSync(join(tmpdir(), 'tether-stage-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = (path: string, mode: number, text: string): StagedFile => ({ path, mode, contentBase64: Buffer.from(text).toString('base64') });

test('partitionPath: sda2, vda2, nvme0n1p2, mmcblk0p2', () => {
  assert.equal(partitionPath('/dev/sda', 2), '/dev/sda2');
  assert.equal(partitionPath('/dev/vda', 2), '/dev/vda2');
  assert.equal(partitionPath('/dev/nvme0n1', 2), '/dev/nvme0n1p2');
  assert.equal(partitionPath('/dev/mmcblk0', 1), '/dev/mmcblk0p1');
});

test('stageFiles: files land with their modes, parents created, replacing what was there', async () => {
  const root = join(dir, 'root1');
  mkdirSync(join(root, 'etc'), { recursive: true });
  execFileSync('sh', ['-c', `echo old > ${root}/etc/hostname`]);
  const old = process.umask(0o077); // a strict umask must not change the modes asked for
  try {
    await stageFiles(root, [
      file('etc/hostname', 0o644, 'node-a1\n'),
      file('etc/kubernetes/bootstrap-kubelet.conf', 0o600, 'apiVersion: v1\n'),
      file('usr/local/bin/tether-firstboot', 0o755, '#!/bin/sh\n'),
    ]);
  } finally {
    process.umask(old);
  }
  assert.equal(readFileSync(join(root, 'etc/hostname'), 'utf8'), 'node-a1\n');
  assert.equal(statSync(join(root, 'etc/hostname')).mode & 0o7777, 0o644);
  assert.equal(statSync(join(root, 'etc/kubernetes/bootstrap-kubelet.conf')).mode & 0o7777, 0o600);
  assert.equal(statSync(join(root, 'usr/local/bin/tether-firstboot')).mode & 0o7777, 0o755);
  assert.equal(statSync(join(root, 'etc/kubernetes')).isDirectory(), true);
  assert.deepEqual(execFileSync('find', [root, '-name', '*.tmp']).toString(), '', 'no temp files left');
});

test('stageFiles: ../, absolute and escaping-symlink paths are refused and nothing is written', async () => {
  const root = join(dir, 'root2');
  mkdirSync(root);
  for (const bad of ['../escape', 'etc/../../escape', '/etc/shadow', 'etc//x', './x']) {
    await assert.rejects(stageFiles(root, [file('etc/ok', 0o644, 'ok'), file(bad, 0o644, 'x')]), /refusing to stage files/, bad);
  }
  assert.equal(existsSync(join(root, 'etc/ok')), false, 'a bad path stops the whole set before any write');
  assert.equal(existsSync(join(dir, 'escape')), false);
  await assert.rejects(stageFiles(root, [file('etc/x', 0o10000, 'x')]), /not a permission mode/);
  // An image's absolute symlink would point into the discovery OS's own filesystem once mounted.
  mkdirSync(join(dir, 'outside'));
  symlinkSync(join(dir, 'outside'), join(root, 'etc'));
  await assert.rejects(stageFiles(root, [file('etc/hostname', 0o644, 'x')]), /symlink that leads outside/);
  assert.equal(existsSync(join(dir, 'outside/hostname')), false);
  // A relative symlink that stays inside (merged /usr: lib -> usr/lib) is followed.
  mkdirSync(join(root, 'usr/lib'), { recursive: true });
  symlinkSync('usr/lib', join(root, 'lib'));
  await stageFiles(root, [file('lib/tether/x', 0o644, 'inside')]);
  assert.equal(readFileSync(join(root, 'usr/lib/tether/x'), 'utf8'), 'inside');
});

test('ext4Label reads the superblock label', async () => {
  const img = join(dir, 'label.ext4');
  execFileSync('truncate', ['-s', '4M', img]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'tether-root', img]);
  const fh = await open(img, 'r');
  const sb = Buffer.alloc(1024);
  await fh.read(sb, 0, 1024, 1024);
  await fh.close();
  assert.equal(ext4Label(sb), 'tether-root');
  assert.equal(ext4Label(Buffer.alloc(1024)), null);
});

const manifest = { root: { partition: 2, label: 'tether-root', fs: 'ext4' } } as ImageManifest;

/** Tools over files: the "disk" is `<dir>/vdz`, its partition 2 is the file `<dir>/vdz2` holding an ext4. */
function fakeTools(mountDir: string, calls: string[]): StageTools {
  return {
    rereadPartitions: async (d) => { calls.push(`reread ${d}`); },
    exists: async (p) => existsSync(p),
    readAt: async (p, offset, length) => {
      const fh = await open(p, 'r');
      try { const b = Buffer.alloc(length); await fh.read(b, 0, length, offset); return b; } finally { await fh.close(); }
    },
    mount: async (dev, d, fs) => { calls.push(`mount -t ${fs} ${dev} ${d}`); },
    unmount: async (d) => { calls.push(`umount ${d}`); },
    mkdtemp: async () => { mkdirSync(mountDir, { recursive: true }); return mountDir; },
    sleep: async () => {},
  };
}

test('stageOnDisk: re-reads the table, checks the root label, mounts, stages, unmounts', async () => {
  const disk = join(dir, 'vdz');
  execFileSync('truncate', ['-s', '4M', `${disk}2`]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'tether-root', `${disk}2`]);
  const mnt = join(dir, 'mnt1');
  const calls: string[] = [];
  const r = await stageOnDisk({ disk, manifest, files: [file('etc/hostname', 0o644, 'node-b7\n')], tools: fakeTools(mnt, calls), log: () => {} });
  assert.equal(r.partition, `${disk}2`);
  assert.deepEqual(calls, [`reread ${disk}`, `mount -t ext4 ${disk}2 ${mnt}`, `umount ${mnt}`]);
  assert.equal(readFileSync(join(mnt, 'etc/hostname'), 'utf8'), 'node-b7\n');

  // A bad file still unmounts.
  const calls2: string[] = [];
  await assert.rejects(stageOnDisk({ disk, manifest, files: [file('../x', 0o644, 'x')], tools: fakeTools(join(dir, 'mnt2'), calls2), log: () => {} }), /climbs out/);
  assert.equal(calls2.at(-1), `umount ${join(dir, 'mnt2')}`);

  // Another label: not mounted at all.
  const calls3: string[] = [];
  await assert.rejects(stageOnDisk({ disk, manifest: { root: { ...manifest.root, label: 'other' } } as ImageManifest, files: [], tools: fakeTools(join(dir, 'mnt3'), calls3), log: () => {} }), /labelled "tether-root", the manifest says "other"/);
  assert.deepEqual(calls3, [`reread ${disk}`]);

  // No partition 2 after the re-read.
  await assert.rejects(stageOnDisk({ disk: join(dir, 'vdy'), manifest, files: [], tools: fakeTools(join(dir, 'mnt4'), []), log: () => {}, waitMs: 400 }), /did not appear/);
});
