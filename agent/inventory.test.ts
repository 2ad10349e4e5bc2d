import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ajv } from 'ajv';
import { fakeHost, loadFixture } from './fixtures/fake-host.ts';
import { collectInventory } from './inventory.ts';
import { PROTOCOL_VERSION, reportSchema } from './protocol.ts';

// The appliance validates reports with this schema: what the agent collects must pass it.
const validate = new Ajv({ strict: true, allErrors: true }).compile(reportSchema);
const now = () => new Date('2026-05-01T12:00:00Z');

test('inventory: a server with everything readable, checked against the protocol schema', async () => {
  const inv = await collectInventory(fakeHost(loadFixture('server-uefi')), { now });
  assert.ok(validate({ version: PROTOCOL_VERSION, mac: 'b0:26:28:aa:bb:01', inventory: inv }), JSON.stringify(validate.errors));
  assert.equal(inv.collectedAt, '2026-05-01T12:00:00.000Z');
  assert.equal(inv.kernel, '6.1.0-56-amd64');
  assert.deepEqual(inv.firmware, { mode: 'uefi', vendor: 'Dell Inc.', version: '2.17.1', date: '11/14/2022', secureBoot: true });
  assert.equal(inv.memory.totalBytes, 64 * 1024 ** 3, 'installed memory is the DIMMs, not MemTotal');
  assert.equal(inv.memory.usableBytes, 65404820 * 1024);
  assert.deepEqual(inv.bmc, { present: true, address: { absent: 'the SMBIOS tables describe a BMC but there is no /dev/ipmi0 (the kernel\'s IPMI driver did not bind to it)' } });
  assert.deepEqual(inv.tpm, { present: true, version: '2.0' });
  assert.equal(inv.cpu.threads, 4);
  assert.ok(Array.isArray(inv.disks) && inv.disks.length === 3);
  assert.ok(Array.isArray(inv.nics) && inv.nics.length === 2);
});

test('inventory: a VM without SMBIOS, dmidecode or ethtool (this machine) still reports, with reasons', async () => {
  const inv = await collectInventory(fakeHost(loadFixture('firecracker')), { now });
  assert.ok(validate({ version: PROTOCOL_VERSION, mac: '02:fc:00:00:00:01', inventory: inv }), JSON.stringify(validate.errors));
  assert.deepEqual(inv.system.uuid, { absent: 'no SMBIOS tables (/sys/class/dmi/id is missing)' });
  assert.deepEqual(inv.memory.dimms, { absent: 'dmidecode not found' });
  assert.equal(inv.memory.totalBytes, 192 * 0x8000000, 'no DIMMs: the kernel memory blocks');
  assert.deepEqual(inv.bmc.present, { absent: 'dmidecode not found' });
  assert.deepEqual(inv.firmware.mode, 'bios');
  assert.equal(inv.cpu.model, 'AMD EPYC');
});

test('inventory: an empty machine (nothing readable, no tools) is a valid document of absent facts', async () => {
  const inv = await collectInventory(fakeHost({}), { now });
  assert.ok(validate({ version: PROTOCOL_VERSION, mac: '52:54:00:00:00:01', inventory: inv }), JSON.stringify(validate.errors));
  assert.deepEqual(inv.disks, { absent: 'lsblk not found' });
  assert.deepEqual(inv.nics, { absent: '/sys/class/net: no such file' });
  assert.deepEqual(inv.kernel, { absent: '/proc/sys/kernel/osrelease: no such file' });
  assert.deepEqual(inv.memory.totalBytes, { absent: '/sys/devices/system/memory/block_size_bytes: no such file' });
});

// The qemu command line the qemu-* fixtures were captured with (fixtures/README.md), fact by fact.
test('inventory: a qemu VM under SeaBIOS reports exactly what its command line set', async () => {
  const inv = await collectInventory(fakeHost(loadFixture('qemu-seabios')), { now });
  assert.ok(validate({ version: PROTOCOL_VERSION, mac: '52:54:00:12:34:56', inventory: inv }), JSON.stringify(validate.errors));
  assert.deepEqual(inv.system, { vendor: 'LabVendor', product: 'LabBox', version: '1.0', serial: 'TESTSERIAL123', uuid: '5c0ffee0-1234-4abc-9def-0123456789ab' });
  assert.deepEqual(inv.board, { vendor: 'LabBoards', product: 'LB-1', version: 'A1', serial: 'BOARD-77' });
  assert.deepEqual(inv.chassis, { vendor: 'LabChassis', type: 'Other', serial: 'CHASSIS-88', assetTag: 'ASSET-99' });
  assert.deepEqual({ ...inv.firmware, version: undefined }, { mode: 'bios', vendor: 'SeaBIOS', version: undefined, date: '04/01/2014', secureBoot: false });
  assert.deepEqual(inv.memory.dimms, [{ slot: 'DIMM 0', sizeBytes: 1024 ** 3, type: 'RAM', speedMTs: 3200, vendor: 'LabRAM', partNumber: 'LR-1G', serial: 'DIMM-SER' }]);
  assert.equal(inv.memory.totalBytes, 1024 ** 3);
  assert.deepEqual([inv.cpu.sockets, inv.cpu.cores, inv.cpu.threads], [1, 2, 2]);
  assert.deepEqual(inv.disks, [
    { name: 'sda', model: 'TetherDisk', serial: 'SATA-SER-2', wwn: '0x5000c500a1b2c3d4', sizeBytes: 64 * 1024 ** 2, rotational: true, transport: 'sata', removable: false },
    { name: 'vda', model: { absent: 'the disk reports no model' }, serial: 'VIRTIO-SER-1', wwn: { absent: 'the disk reports no WWN' }, sizeBytes: 64 * 1024 ** 2, rotational: true, transport: 'virtio', removable: false },
  ]);
  assert.ok(Array.isArray(inv.nics));
  assert.deepEqual(inv.nics.map((n) => [n.name, n.mac, n.driver, n.link, n.speedMbps]), [
    ['eth0', '52:54:00:12:34:56', 'virtio_net', 'up', { absent: 'the driver does not report a speed' }],
    ['eth1', '52:54:00:12:34:57', 'e1000', 'up', 1000],
  ]);
  assert.deepEqual(inv.bmc, { present: false, address: { absent: 'no BMC' } });
  assert.deepEqual(inv.tpm, { present: false, version: { absent: 'no TPM' } });
});

test('inventory: the same VM under OVMF is UEFI with Secure Boot off (efivarfs says 0)', async () => {
  const inv = await collectInventory(fakeHost(loadFixture('qemu-ovmf')), { now });
  assert.ok(validate({ version: PROTOCOL_VERSION, mac: '52:54:00:12:34:56', inventory: inv }), JSON.stringify(validate.errors));
  assert.equal(inv.firmware.mode, 'uefi');
  assert.equal(inv.firmware.secureBoot, false);
  assert.equal(inv.system.uuid, '5c0ffee0-1234-4abc-9def-0123456789ab');
  assert.equal(inv.system.serial, 'TESTSERIAL123');
});
