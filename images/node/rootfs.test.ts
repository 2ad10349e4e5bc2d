import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { lockRootPassword, removeStaleWork, stageKubeBinaries, treeUsage, withBuildLock, writeIn } from './rootfs.ts';

const work = mkdtempSync(join(tmpdir(), 'tether-rootfs-'));
after(() => rmSync(work, { recursive: true, force: true }));
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const FAKE_KUBELET = '#!/bin/sh\necho "Kubernetes v1.31.0-fake"\n';

function emptyTree(name: string): string {
  const t = join(work, name);
  mkdirSync(join(t, 'usr/bin'), { recursive: true });
  return t;
}

test('kubelet binaries from a directory: kubelet (required) and kubeadm when present land executable in /usr/bin', async () => {
  const src = join(work, 'k8s-bin');
  mkdirSync(src);
  writeFileSync(join(src, 'kubelet'), FAKE_KUBELET, { mode: 0o644 });
  writeFileSync(join(src, 'kubeadm'), '#!/bin/sh\necho kubeadm\n');
  const tree = emptyTree('dir-tree');
  const staged = await stageKubeBinaries(tree, src, () => {});
  assert.deepEqual(staged.map((s) => s.name), ['kubelet', 'kubeadm']);
  assert.equal(staged[0].sha256, sha256(FAKE_KUBELET));
  assert.equal(statSync(join(tree, 'usr/bin/kubelet')).mode & 0o777, 0o755);
  assert.equal((await execa(join(tree, 'usr/bin/kubelet'))).stdout, 'Kubernetes v1.31.0-fake');
  assert.ok(!existsSync(join(tree, 'usr/bin/kubectl')));

  await assert.rejects(stageKubeBinaries(emptyTree('no-kubelet'), join(work, 'usr'), () => {}), /kubelet\.binaries: .* has no kubelet/);
});

test('kubelet binaries from an http URL prefix: a 404 for an optional one is fine, for kubelet it is an error', async () => {
  const served = new Map([['/v1.31/kubelet', FAKE_KUBELET], ['/v1.31/kubectl', '#!/bin/sh\necho kubectl\n']]);
  const asked: string[] = [];
  const server = createServer((req, res) => {
    asked.push(req.url ?? '');
    const body = served.get(req.url ?? '');
    res.writeHead(body ? 200 : 404).end(body ?? 'not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const tree = emptyTree('http-tree');
    const staged = await stageKubeBinaries(tree, `${base}/v1.31`, () => {});
    assert.deepEqual(asked, ['/v1.31/kubelet', '/v1.31/kubeadm', '/v1.31/kubectl']);
    assert.deepEqual(staged.map((s) => s.name), ['kubelet', 'kubectl']);
    assert.equal(readFileSync(join(tree, 'usr/bin/kubelet'), 'utf8'), FAKE_KUBELET);
    assert.equal(statSync(join(tree, 'usr/bin/kubectl')).mode & 0o777, 0o755);
    await assert.rejects(stageKubeBinaries(emptyTree('http-missing'), `${base}/v9`, () => {}), /GET .*\/v9\/kubelet answered HTTP 404/);
  } finally {
    await new Promise((r) => server.close(r));
  }
});

test('the root password is locked in place; other accounts and fields stay as they were', () => {
  const tree = emptyTree('shadow');
  writeIn(tree, '/etc/shadow', 'root:*:20000:0:99999:7:::\ndaemon:*:20000:0:99999:7:::\n', 0o640);
  lockRootPassword(tree);
  lockRootPassword(tree); // twice: still one '!'
  assert.equal(readFileSync(join(tree, 'etc/shadow'), 'utf8'), 'root:!*:20000:0:99999:7:::\ndaemon:*:20000:0:99999:7:::\n');
  assert.equal(statSync(join(tree, 'etc/shadow')).mode & 0o777, 0o640);
});

test('writeIn gives the mode asked for, whatever the umask, and replaces a symlink rather than writing through it', () => {
  const tree = emptyTree('write');
  writeFileSync(join(work, 'outside'), 'keep');
  mkdirSync(join(tree, 'etc'));
  symlinkSync(join(work, 'outside'), join(tree, 'etc/resolv.conf'));
  writeIn(tree, '/etc/resolv.conf', 'nameserver 127.0.0.53\n', 0o600);
  assert.equal(readFileSync(join(work, 'outside'), 'utf8'), 'keep');
  assert.equal(statSync(join(tree, 'etc/resolv.conf')).mode & 0o777, 0o600);
});

test('treeUsage counts whole blocks, hard links once', () => {
  const tree = emptyTree('usage');
  writeFileSync(join(tree, 'usr/bin/a'), Buffer.alloc(5000));
  linkSync(join(tree, 'usr/bin/a'), join(tree, 'usr/bin/b'));
  writeFileSync(join(tree, 'usr/bin/empty'), '');
  assert.deepEqual(treeUsage(tree), { bytes: 2 * 4096 + 2 * 4096, inodes: 4 });
});

test('a build lock left by a dead builder is taken over; a live one is waited for', async () => {
  const lock = join(work, 'x.lock');
  mkdirSync(lock);
  // A PID that is not running: a child that has exited.
  const dead = await execa('sh', ['-c', 'echo $$']);
  writeFileSync(join(lock, 'pid'), dead.stdout);
  assert.equal(await withBuildLock(lock, async () => 'ran'), 'ran');
  assert.ok(!existsSync(lock), 'released');

  const order: string[] = [];
  const first = withBuildLock(lock, async () => { order.push('first in'); await new Promise((r) => setTimeout(r, 500)); order.push('first out'); });
  await new Promise((r) => setTimeout(r, 50));
  const second = withBuildLock(lock, async () => { order.push('second'); });
  await Promise.all([first, second]);
  assert.deepEqual(order, ['first in', 'first out', 'second']);
});

test('work directories of dead builds are removed; live ones and the cache itself stay', async () => {
  const cache = join(work, 'stale');
  mkdirSync(cache);
  const dead = Number((await execa('sh', ['-c', 'echo $$'])).stdout);
  for (const d of [`build-${dead}-abc`, `debootstrap-${dead}-x`, `build-${process.pid}-mine`, `debian-12-node-0123456789abcdef.tmp-${dead}`, 'debian-12-node-0123456789abcdef', 'debootstrap-bookworm-0123456789abcdef.tar.zst']) {
    mkdirSync(join(cache, d, 'root/etc'), { recursive: true });
  }
  await removeStaleWork(cache);
  assert.deepEqual(readdirSync(cache).sort(), [`build-${process.pid}-mine`, 'debian-12-node-0123456789abcdef', 'debootstrap-bookworm-0123456789abcdef.tar.zst']);
});
