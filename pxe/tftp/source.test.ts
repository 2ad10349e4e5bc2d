import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainSources, requestSegments, virtualSource, type FileSource, type TftpClient, type VirtualFile } from './source.ts';

const client: TftpClient = { address: '10.252.1.2', port: 2000, localAddress: '10.252.1.1' };

test('request paths: leading slash is the root, backslash separates, .. is refused', () => {
  const ok: Array<[string, string[]]> = [
    ['pxelinux.0', ['pxelinux.0']],
    ['/pxelinux.0', ['pxelinux.0']],
    ['//grub//grub.cfg', ['grub', 'grub.cfg']],
    ['./a/./b', ['a', 'b']],
    ['boot\\x64\\wdsnbp.com', ['boot', 'x64', 'wdsnbp.com']],
    ['a..b/..c', ['a..b', '..c']],
  ];
  for (const [path, segments] of ok) assert.deepEqual(requestSegments(path), { ok: true, segments }, path);
  const refused: Array<[string, string]> = [
    ['../etc/passwd', 'access-violation'],
    ['a/../../x', 'access-violation'],
    ['a/..', 'access-violation'],
    ['..\\..\\etc\\passwd', 'access-violation'],
    ['/..', 'access-violation'],
    ['a\0b', 'access-violation'],
    ['/', 'not-found'],
    ['./', 'not-found'],
  ];
  for (const [path, error] of refused) {
    const r = requestSegments(path);
    assert.ok('error' in r, path);
    assert.equal(r.error, error, path);
  }
});

test('virtual files: fixed Buffers and per-client content', async () => {
  const src = virtualSource(new Map<string, VirtualFile>([
    ['grub/grub.cfg', Buffer.from('set timeout=1\n')],
    ['machine.ipxe', (c: TftpClient) => (c.address === client.address ? Buffer.from(`#!ipxe\n# for ${c.address}\n`) : undefined)],
  ]));
  const cfg = await src.open('/grub/grub.cfg', client);
  assert.ok(!('error' in cfg));
  assert.equal(cfg.size, 14);
  assert.equal((await cfg.read(4, 7)).toString(), 'timeout');
  assert.equal((await cfg.read(11, 100)).toString(), '=1\n');
  const mine = await src.open('machine.ipxe', client);
  assert.ok(!('error' in mine));
  assert.match((await mine.read(0, 100)).toString(), /10\.252\.1\.2/);
  assert.deepEqual(await src.open('machine.ipxe', { ...client, address: '10.252.1.3' }), { error: 'not-found', message: 'no such file' });
  assert.equal(((await src.open('../grub/grub.cfg', client)) as { error: string }).error, 'access-violation');
});

test('chained sources: first answer other than not-found wins', async () => {
  const refusing: FileSource = { open: async () => ({ error: 'access-violation', message: 'no' }) };
  const a = virtualSource(new Map([['a', Buffer.from('A')]]));
  const b = virtualSource(new Map([['a', Buffer.from('B')], ['b', Buffer.from('B')]]));
  const src = chainSources(a, b);
  const read = async (s: FileSource, p: string) => {
    const f = await s.open(p, client);
    return 'error' in f ? f.error : (await f.read(0, 10)).toString();
  };
  assert.equal(await read(src, 'a'), 'A');
  assert.equal(await read(src, 'b'), 'B');
  assert.equal(await read(src, 'c'), 'not-found');
  assert.equal(await read(chainSources(a, refusing, b), 'b'), 'access-violation');
});
