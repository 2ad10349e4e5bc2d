import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../store/store.ts';
import { discover } from './lifecycle.ts';
import { identify, isPlaceholderSerial, isPlaceholderUuid } from './identity.ts';

const ZERO = '00000000-0000-0000-0000-000000000000';

test('identity: placeholder UUIDs and serials are recognized', () => {
  for (const u of [null, '', ZERO, 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '1234']) assert.ok(isPlaceholderUuid(u), String(u));
  assert.ok(!isPlaceholderUuid('4c4c4544-0042-3510-8052-b4c04f4a4e32'));
  for (const s of [null, '', 'To Be Filled By O.E.M.', 'Not Specified', '0', 'System Serial Number']) assert.ok(isPlaceholderSerial(s), String(s));
  assert.ok(!isPlaceholderSerial('CZJ1234ABC'));
});

function withInventory(store: Store, mac: string, uuid: string, serial: string) {
  const { machine } = discover(store, { mac, actor: 'dhcp' });
  return store.updateMachine(machine.id, { smbiosUuid: uuid, serial });
}

test('identity: never merges on an all-zero or duplicated UUID alone; merges on MAC or UUID+serial', () => {
  const store = Store.open(':memory:');
  const a = withInventory(store, '52:54:00:00:00:01', ZERO, 'SER-A');
  const b = withInventory(store, '52:54:00:00:00:02', ZERO, 'SER-B');
  // A third box with the same all-zero UUID and yet another serial is a new machine.
  const r1 = { uuid: ZERO, serial: 'SER-C', macs: ['52:54:00:00:00:03'] };
  assert.deepEqual(identify(r1, store.identityCandidates(r1)), { kind: 'none' });
  // All-zero UUID + matching serial: still not enough (the UUID carries no identity).
  const r2 = { uuid: ZERO, serial: 'SER-A', macs: ['52:54:00:00:00:09'] };
  assert.equal(identify(r2, store.identityCandidates(r2)).kind, 'none');
  // Same real UUID on two machines (cloned VM), different serials: UUID alone never merges.
  const u = '4c4c4544-0042-3510-8052-b4c04f4a4e32';
  const c = withInventory(store, '52:54:00:00:00:04', u, 'SER-D');
  withInventory(store, '52:54:00:00:00:05', u, 'SER-E');
  const r3 = { uuid: u, serial: 'SER-F', macs: ['52:54:00:00:00:06'] };
  assert.equal(identify(r3, store.identityCandidates(r3)).kind, 'none');
  // UUID + serial both real and equal: the same machine booting from another NIC.
  const r4 = { uuid: u, serial: 'SER-D', macs: ['52:54:00:00:00:07'] };
  assert.deepEqual(identify(r4, store.identityCandidates(r4)), { kind: 'match', machine: c, by: 'uuid+serial' });
  // A shared MAC is decisive whatever the UUID says.
  const r5 = { uuid: ZERO, serial: null, macs: ['52:54:00:00:00:02'] };
  assert.deepEqual(identify(r5, store.identityCandidates(r5)), { kind: 'match', machine: b, by: 'mac' });
  // NICs of two machines in one report: ambiguous, never merged.
  const r6 = { uuid: null, serial: null, macs: ['52:54:00:00:00:01', '52:54:00:00:00:02'] };
  const m6 = identify(r6, store.identityCandidates(r6));
  assert.equal(m6.kind, 'ambiguous');
  assert.ok(a.id !== b.id);
  store.close();
});
