import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from './store.ts';
import { discover } from '../lifecycle/lifecycle.ts';
import { getInventory, saveInventory } from './inventory.ts';
import type { Inventory } from '../../agent/protocol.ts';

const doc = (n: number) => ({ agentVersion: `test-${n}` }) as unknown as Inventory;

test('inventory store: saves and replaces the document, sets identity, attaches only unowned MACs', () => {
  const store = Store.open(':memory:');
  const a = discover(store, { mac: '52:54:00:00:01:01', actor: 'dhcp' }).machine;
  const b = discover(store, { mac: '52:54:00:00:02:01', actor: 'dhcp' }).machine;
  const r = saveInventory(store, a.id, doc(1), { uuid: 'u-1', serial: 'S1', nics: [
    { mac: '52:54:00:00:01:01', ifname: 'eno1' }, { mac: '52:54:00:00:01:02', ifname: 'eno2' }, { mac: '52:54:00:00:02:01', ifname: 'eno3' },
  ] }, 1000);
  assert.deepEqual(r.added, ['52:54:00:00:01:02']);
  assert.deepEqual(r.foreign, [{ mac: '52:54:00:00:02:01', machineId: b.id }]);
  assert.deepEqual(r.machine.macs, ['52:54:00:00:01:01', '52:54:00:00:01:02']);
  assert.equal(r.machine.smbiosUuid, 'u-1');
  assert.equal(r.machine.inventoriedAt, 1000);
  const ifnames = store.db.prepare('SELECT mac, ifname FROM machine_macs WHERE machine_id = ? ORDER BY mac').all(a.id);
  assert.deepEqual(ifnames, [{ mac: '52:54:00:00:01:01', ifname: 'eno1' }, { mac: '52:54:00:00:01:02', ifname: 'eno2' }]);
  saveInventory(store, a.id, doc(2), { uuid: 'u-1', serial: 'S1', nics: [] }, 2000);
  assert.deepEqual(getInventory(store, a.id), { doc: doc(2), reportedAt: 2000 });
  assert.equal(getInventory(store, b.id), undefined);
});

test('inventory store: inside a caller\'s transaction that fails, nothing of it stays', () => {
  const store = Store.open(':memory:');
  const a = discover(store, { mac: '52:54:00:00:03:01', actor: 'dhcp' }).machine;
  assert.throws(() => store.db.transaction(() => {
    saveInventory(store, a.id, doc(1), { uuid: 'u', serial: 's', nics: [{ mac: '52:54:00:00:03:02', ifname: 'x' }] });
    throw new Error('the caller\'s next step failed');
  }).immediate(), /next step failed/);
  assert.equal(getInventory(store, a.id), undefined);
  assert.deepEqual(store.mustGetMachine(a.id).macs, ['52:54:00:00:03:01']);
  assert.equal(store.mustGetMachine(a.id).smbiosUuid, null);
  assert.throws(() => saveInventory(store, 'm-nope', doc(1), { uuid: null, serial: null, nics: [] }), /does not exist/);
});
