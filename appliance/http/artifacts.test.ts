import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testAppliance, type TestAppliance } from '../../test/lib/appliance.ts';

let t: TestAppliance;
let url: string;
let dir: string;
const data = randomBytes(3 * 1024 * 1024 + 17);
const sha = createHash('sha256').update(data).digest('hex');

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-art-'));
  mkdirSync(join(dir, 'artifacts/discovery'), { recursive: true });
  writeFileSync(join(dir, 'artifacts/discovery/vmlinuz'), data);
  writeFileSync(join(dir, 'secret'), 'outside');
  symlinkSync(join(dir, 'secret'), join(dir, 'artifacts/escape'));
  t = await testAppliance({ dataDir: dir });
  url = await t.app.listen({ host: '127.0.0.1', port: 0 });
});
after(async () => { await t.close(); rmSync(dir, { recursive: true, force: true }); });

test('artifacts: whole file with sha256 ETag, HEAD, conditional GET', async () => {
  const r = await fetch(`${url}/artifacts/discovery/vmlinuz`);
  assert.equal(r.status, 200);
  const body = Buffer.from(await r.arrayBuffer());
  assert.ok(body.equals(data));
  assert.equal(r.headers.get('etag'), `"sha256-${sha}"`);
  assert.equal(r.headers.get('x-checksum-sha256'), sha);
  assert.equal(r.headers.get('accept-ranges'), 'bytes');
  const head = await fetch(`${url}/artifacts/discovery/vmlinuz`, { method: 'HEAD' });
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(data.length));
  assert.equal((await head.arrayBuffer()).byteLength, 0);
  const cached = await fetch(`${url}/artifacts/discovery/vmlinuz`, { headers: { 'if-none-match': `"sha256-${sha}"` } });
  assert.equal(cached.status, 304);
});

test('artifacts: ranges resume a download; unsatisfiable ranges are 416; If-Range with a stale ETag gets the whole file', async () => {
  const cases: Array<[string, number, number]> = [['bytes=100-199', 100, 199], ['bytes=3145000-', 3145000, data.length - 1], ['bytes=-10', data.length - 10, data.length - 1], ['bytes=0-99999999', 0, data.length - 1]];
  for (const [range, start, end] of cases) {
    const r = await fetch(`${url}/artifacts/discovery/vmlinuz`, { headers: { range } });
    assert.equal(r.status, 206, range);
    assert.equal(r.headers.get('content-range'), `bytes ${start}-${end}/${data.length}`);
    assert.ok(Buffer.from(await r.arrayBuffer()).equals(data.subarray(start, end + 1)), range);
  }
  const bad = await fetch(`${url}/artifacts/discovery/vmlinuz`, { headers: { range: `bytes=${data.length}-` } });
  assert.equal(bad.status, 416);
  assert.equal(bad.headers.get('content-range'), `bytes */${data.length}`);
  const stale = await fetch(`${url}/artifacts/discovery/vmlinuz`, { headers: { range: 'bytes=0-9', 'if-range': '"sha256-old"' } });
  assert.equal(stale.status, 200);
  assert.equal((await stale.arrayBuffer()).byteLength, data.length);
});

test('artifacts: confined to the root — traversal, symlink escape and missing files refused; fetches land on the timeline', async () => {
  for (const p of ['/artifacts/../secret', '/artifacts/%2e%2e/secret', '/artifacts/discovery/..%2f..%2fsecret', '/artifacts/escape']) {
    const r = await fetch(`${url}${p}`);
    assert.ok(r.status === 403 || r.status === 404, `${p} → ${r.status}`);
    assert.ok(!(await r.text()).includes('outside'), p);
  }
  assert.equal((await fetch(`${url}/artifacts/escape`)).status, 403);
  assert.equal((await fetch(`${url}/artifacts/nope`)).status, 404);
  assert.equal((await fetch(`${url}/artifacts/discovery`)).status, 404, 'a directory is not an artifact');
  await fetch(`${url}/boot/ipxe?mac=52:54:00:ee:00:01`);
  await (await fetch(`${url}/artifacts/discovery/vmlinuz?mac=52:54:00:ee:00:01&step=kernel`)).arrayBuffer();
  const steps = t.store.listEvents({ machineId: t.store.getMachine('52:54:00:ee:00:01')!.id, kind: 'boot' }).reverse().map((e) => e.data?.step);
  assert.deepEqual(steps, ['script', 'kernel']);
});
