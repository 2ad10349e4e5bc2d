import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testAppliance, bearer, type TestAppliance } from '../../../test/lib/appliance.ts';
import { discover } from '../../lifecycle/lifecycle.ts';

let t: TestAppliance;
before(async () => { t = await testAppliance({ site: 'dc1', zones: [{ name: 'zone-a', autoApprove: [{ minMemoryGiB: 64, minDisks: 2 }] }, { name: 'zone-b' }] }); });
after(() => t.close());

test('site: configured zones (even empty ones), counts per state, and an unconfigured cloud link', async () => {
  discover(t.store, { mac: '52:54:00:cc:00:01', zone: 'zone-a', actor: 'dhcp' });
  discover(t.store, { mac: '52:54:00:cc:00:02', actor: 'dhcp' });
  const r = await t.app.inject({ url: '/api/v1/site', headers: bearer(t.tokens.viewer) });
  assert.equal(r.statusCode, 200);
  assert.deepEqual(r.json(), { site: 'dc1', zones: ['zone-a', 'zone-b'], autoApprove: { 'zone-a': ['memory ≥ 64 GiB, disks ≥ 2'], 'zone-b': [] }, counts: { discovered: 2 }, total: 2, cloudLink: { configured: false, status: null, since: null, lastError: null, queued: 0, pooledTokens: 0 } });
});

test('site tiles: every machine in one response with only what a tile shows; the slot only when the placement gives a number', async () => {
  const { machine: a } = discover(t.store, { mac: '52:54:00:cc:01:01', zone: 'zone-b', rack: 'b7', hostname: 'b7-node-01', actor: 'dhcp' });
  t.store.updateMachine(a.id, { location: { slot: 12 } });
  const { machine: b } = discover(t.store, { mac: '52:54:00:cc:01:02', zone: 'zone-b', rack: 'b7', actor: 'dhcp' });
  t.store.updateMachine(b.id, { location: { unit: 'top' } });
  const r = await t.app.inject({ url: '/api/v1/site/tiles', headers: bearer(t.tokens.viewer) });
  assert.equal(r.statusCode, 200);
  const items = r.json().items as Array<Record<string, unknown>>;
  assert.equal(items.length, t.store.listMachines({ limit: 1000 }).total);
  assert.deepEqual(items.find((x) => x.id === a.id), { id: a.id, hostname: 'b7-node-01', bootMac: '52:54:00:cc:01:01', state: 'discovered', stateReason: a.stateReason, zone: 'zone-b', rack: 'b7', slot: 12 });
  assert.equal(items.find((x) => x.id === b.id)?.slot, null);
  assert.equal((await t.app.inject({ url: '/api/v1/site/tiles' })).statusCode, 401);
});
