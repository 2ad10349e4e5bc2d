import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeHost, loadFixture } from '../fixtures/fake-host.ts';
import { chassisTypeName, dmiFromId, readDmiId } from './dmi.ts';

test('dmi: identity strings from /sys/class/dmi/id; UUID lowercased; chassis type named', async () => {
  const dmi = dmiFromId(await readDmiId(fakeHost(loadFixture('server-uefi'))));
  assert.deepEqual(dmi.system, {
    vendor: 'Dell Inc.', product: 'PowerEdge R640', version: { absent: 'the firmware leaves it empty' }, serial: '7XK4M23',
    uuid: '4c4c4544-0058-4b10-8034-b7c04f4d3233',
  });
  assert.deepEqual(dmi.chassis, { vendor: 'Dell Inc.', type: 'Rack Mount Chassis', serial: '7XK4M23', assetTag: { absent: 'the firmware does not provide it' } });
  assert.deepEqual(dmi.bios, { vendor: 'Dell Inc.', version: '2.17.1', date: '11/14/2022' });
});

test('dmi: a machine without SMBIOS tables (this one) reports every field absent with the reason', async () => {
  const dmi = dmiFromId(await readDmiId(fakeHost(loadFixture('firecracker'))));
  assert.deepEqual(dmi.system.serial, { absent: 'no SMBIOS tables (/sys/class/dmi/id is missing)' });
  assert.deepEqual(dmi.chassis.type, { absent: 'no SMBIOS tables (/sys/class/dmi/id is missing)' });
});

test('dmi: chassis types by SMBIOS number, lock bit ignored', () => {
  assert.equal(chassisTypeName('17'), 'Main Server Chassis');
  assert.equal(chassisTypeName(String(0x80 | 23)), 'Rack Mount Chassis');
  assert.equal(chassisTypeName('99'), null);
  assert.equal(chassisTypeName('x'), null);
});
