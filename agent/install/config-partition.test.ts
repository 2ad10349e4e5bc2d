import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configArchive, writeConfigPartition } from './config-partition.ts';
import type { ImageManifest } from '../../images/manifest.ts';
import type { StagedFile } from '../protocol.ts';

const file = (path: string, body: string, mode = 0o644): StagedFile => ({ path, mode, contentBase64: Buffer.from(body).toString('base64') });

test('config partition: the archive unpacks with the real cpio into the right paths and modes, at the manifest\'s offset; the tail lands after it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cfgpart-'));
  try {
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, Buffer.alloc(8 << 20, 0xee));
    const m = { name: 'x', config: { partition: 3, label: 'tether-config', offset: 4 << 20, size: 1 << 20 }, tail: { offset: 5 << 20, base64: Buffer.from('EFI PART backup').toString('base64') } } as ImageManifest;
    const files = [file('etc/hostname', 'node-1\n'), file('etc/tether/firstboot.json', '{"token":"t"}\n', 0o600), file('etc/kubernetes/pki/ca.crt', 'PEM')];
    const fh = await open(disk, 'r+');
    const { archiveBytes } = await writeConfigPartition(fh, m, files);
    await fh.close();
    const bytes = readFileSync(disk);
    assert.equal(bytes[(4 << 20) - 1], 0xee, 'nothing before the config partition changed');
    assert.equal(bytes.subarray(5 << 20, (5 << 20) + 15).toString(), 'EFI PART backup');
    const out = join(dir, 'root');
    execFileSync('mkdir', ['-p', out]);
    // What the node OS does at boot: cpio reads from the partition until its trailer.
    execFileSync('cpio', ['-idmu', '--no-absolute-filenames', '--quiet'], { cwd: out, input: bytes.subarray(4 << 20, (4 << 20) + archiveBytes + 4096) });
    assert.equal(readFileSync(join(out, 'etc/hostname'), 'utf8'), 'node-1\n');
    assert.equal(statSync(join(out, 'etc/tether/firstboot.json')).mode & 0o777, 0o600);
    assert.equal(readFileSync(join(out, 'etc/kubernetes/pki/ca.crt'), 'utf8'), 'PEM');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config partition: bad paths, too many bytes and images without a config partition are refused before any write', async () => {
  assert.throws(() => configArchive([file('../etc/passwd', 'x')]), /climbs out/);
  assert.throws(() => configArchive([file('/etc/passwd', 'x')]), /absolute/);
  const dir = mkdtempSync(join(tmpdir(), 'tether-cfgpart-'));
  try {
    const disk = join(dir, 'disk.img');
    writeFileSync(disk, Buffer.alloc(1 << 20));
    const fh = await open(disk, 'r+');
    await assert.rejects(writeConfigPartition(fh, { name: 'old' } as ImageManifest, [file('etc/hostname', 'x')]), /reserves no config partition/);
    const small = { name: 's', config: { partition: 3, label: 'tether-config', offset: 4096, size: 512 } } as ImageManifest;
    await assert.rejects(writeConfigPartition(fh, small, [file('etc/big', 'x'.repeat(4096))]), /do not fit/);
    await fh.close();
    assert.ok(readFileSync(disk).every((b) => b === 0), 'the disk is untouched');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
