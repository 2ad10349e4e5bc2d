import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { collectInventory } from '../../agent/inventory.ts';
import { fakeHost, loadFixture } from '../../agent/fixtures/fake-host.ts';
import type { Inventory } from '../../agent/protocol.ts';
import { configFrom } from '../config/load.ts';
import { Store } from '../store/store.ts';
import { discover, transition } from './lifecycle.ts';
import { autoApprove, describeRule, ruleMismatch } from './autoapprove.ts';

let inv: Inventory;
before(async () => { inv = await collectInventory(fakeHost(loadFixture('server-uefi')), { now: () => new Date('2026-05-01T00:00:00Z') }); });

test('auto-approve: conditions match the inventory, absent facts never match', () => {
  const mem = (inv.memory.totalBytes as number) / 2 ** 30;
  assert.equal(ruleMismatch({}, inv), null);
  assert.equal(ruleMismatch({ minMemoryGiB: Math.floor(mem) }, inv), null);
  assert.match(ruleMismatch({ minMemoryGiB: Math.ceil(mem) + 1 }, inv)!, /GiB </);
  assert.match(ruleMismatch({ minDisks: 99 }, inv)!, /disks < 99/);
  assert.match(ruleMismatch({ vendor: 'NoSuchVendor' }, inv)!, /is not NoSuchVendor/);
  const blind = { ...inv, memory: { ...inv.memory, totalBytes: { absent: 'dmidecode not found' } }, cpu: { ...inv.cpu, threads: { absent: 'lscpu failed' } } };
  assert.match(ruleMismatch({ minMemoryGiB: 1 }, blind)!, /memory unknown/);
  assert.match(ruleMismatch({ minCpuThreads: 1 }, blind)!, /unknown CPU threads/);
  assert.equal(describeRule({ minMemoryGiB: 64, minDisks: 2 }), 'memory ≥ 64 GiB, disks ≥ 2');
});

test('auto-approve: the first matching rule of the machine\'s zone approves it, as the rule actor; other zones stay manual', () => {
  const config = configFrom({ zones: [
    { name: 'zone-a', autoApprove: [{ minDisks: 99 }, { minMemoryGiB: 1 }] },
    { name: 'zone-b' },
  ] });
  const store = Store.open(':memory:');
  const a = discover(store, { mac: '52:54:00:aa:aa:01', zone: 'zone-a', actor: 'dhcp' }).machine;
  const b = discover(store, { mac: '52:54:00:aa:aa:02', zone: 'zone-b', actor: 'dhcp' }).machine;
  for (const m of [a, b]) transition(store, m.id, 'inventoried', { actor: 'agent' });
  assert.deepEqual(autoApprove(store, config, store.mustGetMachine(a.id), inv), { rule: 1, description: 'memory ≥ 1 GiB' });
  const ev = store.listEvents({ machineId: a.id })[0];
  assert.deepEqual([ev.to, ev.actor, ev.actorName], ['approved', 'rule', 'zone-a/autoApprove[1]']);
  assert.equal(autoApprove(store, config, store.mustGetMachine(b.id), inv), null);
  assert.equal(store.mustGetMachine(b.id).state, 'inventoried');
  assert.equal(autoApprove(store, config, store.mustGetMachine(a.id), inv), null, 'already approved: nothing to do');
  store.close();
});
