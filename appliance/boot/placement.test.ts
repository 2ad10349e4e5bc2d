import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFrom } from '../config/load.ts';
import { rackFor, rackFromLldp } from './placement.ts';
import type { Inventory } from '../../agent/protocol.ts';

test('placement: switch and port to rack, port entries before top-of-rack entries, unknown stays unplaced', () => {
  const { racks } = configFrom({ racks: [
    { rack: 'r12', switch: 'tor-r12' },
    { rack: 'r13', switch: 'spine-1', ports: ['Gi1/0/1', 'Gi1/0/2'] },
    { rack: 'r14', switch: 'spine-1', ports: ['Gi1/0/3'] },
    { rack: 'r12-special', switch: 'tor-r12', ports: ['eth48'] },
  ] });
  assert.equal(rackFor(racks, { switch: 'tor-r12', port: 'eth7' }), 'r12');
  assert.equal(rackFor(racks, { switch: 'tor-r12', port: 'eth48' }), 'r12-special');
  assert.equal(rackFor(racks, { switch: 'tor-r12', port: null }), 'r12');
  assert.equal(rackFor(racks, { switch: 'spine-1', port: 'Gi1/0/3' }), 'r14');
  assert.equal(rackFor(racks, { switch: 'spine-1', port: 'Gi1/0/9' }), null);
  assert.equal(rackFor(racks, { switch: 'unknown', port: 'x' }), null);
  assert.equal(rackFor(racks, { switch: null, port: 'Gi1/0/1' }), null);
});

test('placement: from the LLDP neighbour an agent reported; absent LLDP places nothing', () => {
  const racks = [{ rack: 'r7', switch: 'leaf-07', ports: [] }];
  const nic = (lldp: unknown) => ({ name: 'eth0', mac: '52:54:00:00:00:01', driver: 'e1000', pci: { absent: 'x' }, speedMbps: 1000, link: 'up', firmware: { absent: 'x' }, lldp });
  const inv = (nics: unknown) => ({ nics } as unknown as Inventory);
  assert.equal(rackFromLldp(racks, inv([nic({ absent: 'no LLDP frame seen' }), nic({ chassisId: '00:11:22:33:44:55', portId: 'swp3', systemName: 'leaf-07' })])), 'r7');
  assert.equal(rackFromLldp(racks, inv([nic({ absent: 'no LLDP frame seen' })])), null);
  assert.equal(rackFromLldp(racks, inv({ absent: 'no /sys/class/net' })), null);
});
