import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testAppliance, type TestAppliance } from '../../test/lib/appliance.ts';
import { checkBootToken } from '../auth/boot-tokens.ts';
import { transition } from '../lifecycle/lifecycle.ts';

let t: TestAppliance;
before(async () => { t = await testAppliance(); });
after(() => t.close());

const script = (mac: string, extra = '') => t.app.inject({ method: 'GET', url: `/boot/ipxe?mac=${mac}&platform=efi&arch=x86_64${extra}`, headers: { host: '10.0.0.1:8080' } });

test('boot script: an unknown machine is discovered and gets the discovery OS with a one-time token', async () => {
  const r = await script('52:54:00:dd:00:01', '&zone=zone-a');
  assert.equal(r.statusCode, 200);
  assert.match(r.headers['content-type'] as string, /^text\/plain/);
  const m = t.store.getMachine('52:54:00:dd:00:01')!;
  assert.equal(m.state, 'discovered');
  assert.equal(m.zone, 'zone-a');
  assert.match(r.body, /^kernel http:\/\/10\.0\.0\.1:8080\/artifacts\/discovery\/vmlinuz\?mac=52:54:00:dd:00:01&step=kernel initrd=initrd\.img .*tether\.mode=discovery tether\.write=0/m);
  const token = /tether\.token=(\S+)/.exec(r.body)![1];
  assert.equal(checkBootToken(t.store, token), m.id);
  // The next boot's token replaces this one: only the latest boot can authenticate.
  const r2 = await script('52:54:00:dd:00:01');
  const token2 = /tether\.token=(\S+)/.exec(r2.body)![1];
  assert.notEqual(token2, token);
  assert.equal(checkBootToken(t.store, token), null);
  assert.equal(checkBootToken(t.store, token2), m.id);
  assert.equal(checkBootToken(t.store, `${token2.split('.')[0]}.${'A'.repeat(32)}`), null, 'a forged secret is refused');
  const timeline = t.store.listEvents({ machineId: m.id, kind: 'boot' });
  assert.deepEqual(timeline.map((e) => e.data?.step), ['script', 'script']);
});

test('boot script: installed boots the local disk (per firmware), rescue the rescue OS, approved may write', async () => {
  const mac = '52:54:00:dd:00:02';
  await script(mac);
  const id = t.store.getMachine(mac)!.id;
  transition(t.store, id, 'rescue', { actor: 'operator' });
  assert.match((await script(mac)).body, /tether\.mode=rescue tether\.write=0/);
  transition(t.store, id, 'approved', { actor: 'operator' });
  assert.match((await script(mac)).body, /tether\.mode=install tether\.write=1/);
  t.store.transition(id, () => ({ to: 'installed', actor: 'system' }));
  const efi = (await script(mac)).body;
  assert.match(efi, /^exit$/m);
  assert.ok(!efi.includes('kernel'));
  const bios = (await t.app.inject({ method: 'GET', url: `/boot/ipxe?mac=${mac}&platform=pcbios`, headers: { host: '10.0.0.1:8080' } })).body;
  assert.match(bios, /^sanboot --no-describe --drive 0x80/m);
});

test('boot script: bad input is refused with the error shape', async () => {
  for (const url of ['/boot/ipxe', '/boot/ipxe?mac=zz', '/boot/ipxe?mac=52:54:00:dd:00:03&platform=$(reboot)']) {
    const r = await t.app.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 400, url);
    assert.equal(r.json().error, 'bad_request');
  }
  // A hostile Host header does not end up in the script.
  const r = await t.app.inject({ method: 'GET', url: '/boot/ipxe?mac=52:54:00:dd:00:04', headers: { host: 'x y\nshell' } });
  assert.ok(!r.body.includes('shell'));
});

test('boot script: an installed UEFI x86_64 machine chains the GRUB local-disk booter once it is built; other CPUs and a missing booter fall back to exit', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-boot-'));
  const u = await testAppliance({ boot: { artifactsDir: dir } });
  try {
    const mac = '52:54:00:dd:00:09';
    const get = (arch: string) => u.app.inject({ method: 'GET', url: `/boot/ipxe?mac=${mac}&platform=efi&arch=${arch}`, headers: { host: '10.0.0.1:8080' } });
    await get('x86_64');
    u.store.transition(u.store.getMachine(mac)!.id, () => ({ to: 'installed', actor: 'system' }));
    assert.match((await get('x86_64')).body, /^exit$/m, 'not built yet: the firmware takes over');
    mkdirSync(join(dir, 'localboot'));
    writeFileSync(join(dir, 'localboot/localboot-x86_64.efi'), 'MZ');
    const efi = (await get('x86_64')).body;
    assert.match(efi, /^chain --autofree http:\/\/10\.0\.0\.1:8080\/artifacts\/localboot\/localboot-x86_64\.efi\?mac=52:54:00:dd:00:09&step=localboot \|\| goto failed$/m);
    assert.match((await get('arm64')).body, /^exit$/m);
    assert.ok(!(await get('arm64')).body.includes('chain'));
  } finally {
    await u.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
