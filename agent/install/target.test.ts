import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Disk } from '../protocol.ts';
import { resolveTarget } from './target.ts';

const disk = (name: string, sizeBytes: number, serial: string | null, wwn: string | null = null): Disk => ({
  name, sizeBytes,
  model: 'QEMU HARDDISK',
  serial: serial ?? { absent: 'the disk reports no serial' },
  wwn: wwn ?? { absent: 'the disk reports no WWN' },
  rotational: false, transport: 'sata', removable: false,
});
const G = 1024 ** 3;
const disks = [disk('sda', 480 * G, 'S4EVNX0N123456', '0x5002538e40a1b2c3'), disk('sdb', 480 * G, 'S4EVNX0N654321'), disk('nvme0n1', 960 * G, null)];

test('resolveTarget: the named disk with matching size, serial and WWN resolves to /dev/<name>', () => {
  assert.deepEqual(resolveTarget({ name: 'sda', sizeBytes: 480 * G, serial: 'S4EVNX0N123456', wwn: '0x5002538E40A1B2C3' }, disks), { path: '/dev/sda' });
  // Fields the appliance does not know are not compared; the disk's own absence of one is fine then.
  assert.deepEqual(resolveTarget({ name: 'nvme0n1', sizeBytes: 960 * G, serial: null, wwn: null }, disks), { path: '/dev/nvme0n1' });
});

test('resolveTarget: a name that now carries another serial or size refuses, and never picks another disk', () => {
  // sda and sdb swapped names between boots: same size, other serial.
  const swapped = resolveTarget({ name: 'sda', sizeBytes: 480 * G, serial: 'S4EVNX0N654321', wwn: null }, disks);
  assert.ok('refused' in swapped);
  assert.match(swapped.refused, /disk sda is not the disk the task was made for: serial is S4EVNX0N123456, the task expects S4EVNX0N654321/);
  assert.match(swapped.refused, /Nothing was written/);
  const resized = resolveTarget({ name: 'sdb', sizeBytes: 240 * G, serial: 'S4EVNX0N654321', wwn: null }, disks);
  assert.ok('refused' in resized);
  assert.match(resized.refused, /size is 515396075520 bytes, the task expects 257698037760/);
  const wwn = resolveTarget({ name: 'sda', sizeBytes: 480 * G, serial: 'S4EVNX0N123456', wwn: '0x5000000000000001' }, disks);
  assert.ok('refused' in wwn && /WWN is 0x5002538e40a1b2c3, the task expects 0x5000000000000001/.test(wwn.refused));
});

test('resolveTarget: a serial the appliance knows must still be readable', () => {
  const r = resolveTarget({ name: 'nvme0n1', sizeBytes: 960 * G, serial: 'PHLJ0001', wwn: null }, disks);
  assert.ok('refused' in r);
  assert.match(r.refused, /expects serial PHLJ0001, the disk reports none now/);
});

test('resolveTarget: a missing name refuses, pointing at where that serial went', () => {
  const r = resolveTarget({ name: 'sdc', sizeBytes: 480 * G, serial: 'S4EVNX0N654321', wwn: null }, disks);
  assert.ok('refused' in r);
  assert.match(r.refused, /disk sdc does not exist on this boot \(a disk with serial S4EVNX0N654321 is now named sdb; re-inventory and choose it again\); nothing was written/);
  assert.ok('refused' in resolveTarget({ name: 'sda', sizeBytes: 1, serial: null, wwn: null }, []));
});
