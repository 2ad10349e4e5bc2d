import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeCpio } from './cpio.ts';

test('cpio: GNU cpio unpacks what we write (dirs, files with modes, symlinks)', () => {
  const data = Buffer.from('#!/bin/sh\necho hi\n');
  const archive = writeCpio([
    { kind: 'dir', path: 'bin' },
    { kind: 'file', path: 'init', data, mode: 0o755 },
    { kind: 'file', path: 'bin/odd', data: Buffer.from('12345') },
    { kind: 'symlink', path: 'bin/sh', target: '/init' },
  ]);
  assert.equal(archive.length % 4, 0);
  const dir = mkdtempSync(join(tmpdir(), 'tether-cpio-'));
  try {
    const listing = execFileSync('cpio', ['-idv', '--quiet'], { cwd: dir, input: archive, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
    void listing;
    assert.ok(readFileSync(join(dir, 'init')).equals(data));
    assert.equal(statSync(join(dir, 'init')).mode & 0o777, 0o755);
    assert.equal(readFileSync(join(dir, 'bin/odd'), 'utf8'), '12345');
    assert.equal(readlinkSync(join(dir, 'bin/sh')), '/init');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => writeCpio([{ kind: 'dir', path: '../x' }]), /bad cpio path/);
});
