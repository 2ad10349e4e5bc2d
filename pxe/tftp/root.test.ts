import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rootSource } from './root.ts';
import type { FileSource } from './source.ts';

const client = { address: '127.0.0.1', port: 2000, localAddress: '127.0.0.1' };

async function outcome(src: FileSource, path: string): Promise<string> {
  const f = await src.open(path, client);
  if ('error' in f) return f.error;
  try {
    return (await f.read(0, f.size)).toString();
  } finally {
    await f.close();
  }
}

test('root source: serves regular files inside the root and nothing else', async () => {
  const base = mkdtempSync(join(tmpdir(), 'tether-tftp-root-'));
  try {
    const root = join(base, 'root');
    mkdirSync(join(root, 'grub'), { recursive: true });
    writeFileSync(join(root, 'pxelinux.0'), 'PXE');
    writeFileSync(join(root, 'grub', 'grub.cfg'), 'GRUB');
    writeFileSync(join(base, 'secret'), 'SECRET');
    symlinkSync('grub/grub.cfg', join(root, 'alias.cfg')); // inside → inside: fine
    symlinkSync('/etc/passwd', join(root, 'passwd'));
    symlinkSync('../secret', join(root, 'up'));
    symlinkSync('/', join(root, 'slash'));
    symlinkSync('/nonexistent/x', join(root, 'dangling'));
    execFileSync('mkfifo', [join(root, 'fifo')]);
    const src = rootSource(root);
    const cases: Array<[string, string]> = [
      ['pxelinux.0', 'PXE'],
      ['/pxelinux.0', 'PXE'],
      ['grub\\grub.cfg', 'GRUB'],
      ['alias.cfg', 'GRUB'],
      ['missing', 'not-found'],
      ['pxelinux.0/x', 'not-found'],
      ['/etc/passwd', 'not-found'], // looked up inside the root
      ['../secret', 'access-violation'],
      ['grub/../../secret', 'access-violation'],
      ['passwd', 'access-violation'],
      ['up', 'access-violation'],
      ['slash/etc/passwd', 'access-violation'],
      ['dangling', 'not-found'],
      ['grub', 'access-violation'], // a directory
      ['fifo', 'access-violation'], // and it must not hang waiting for a writer
    ];
    for (const [path, want] of cases) assert.equal(await outcome(src, path), want, path);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('root source: positional reads, short only at the end', async () => {
  const root = mkdtempSync(join(tmpdir(), 'tether-tftp-root-'));
  try {
    writeFileSync(join(root, 'f'), Buffer.from('0123456789'));
    const f = await rootSource(root).open('f', client);
    assert.ok(!('error' in f));
    assert.equal(f.size, 10);
    assert.equal((await f.read(3, 4)).toString(), '3456');
    assert.equal((await f.read(8, 512)).toString(), '89');
    assert.equal((await f.read(10, 512)).length, 0);
    await f.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('root source: a missing root is a fault, not a refusal', async () => {
  await assert.rejects(rootSource('/nonexistent/tether-root').open('x', client), { code: 'ENOENT' });
});
