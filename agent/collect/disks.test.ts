import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeHost, loadFixture } from '../fixtures/fake-host.ts';
import { collectDisks, vpdNaa, vpdSerial, wwidToWwn } from './disks.ts';

test('disks: this machine\'s virtio disk (lsblk has no serial without udev; sysfs does); zram is not hardware', async () => {
  const disks = await collectDisks(fakeHost(loadFixture('firecracker')));
  assert.deepEqual(disks, [{
    name: 'vda', model: { absent: 'the disk reports no model' }, serial: '17766352111618760', wwn: { absent: 'the disk reports no WWN' },
    sizeBytes: 274877906944, rotational: true, transport: 'virtio', removable: false,
  }]);
});

test('disks: SATA serial and WWN from the VPD pages, NVMe from sysfs; CD-ROM and loop left out', async () => {
  const disks = await collectDisks(fakeHost(loadFixture('server-uefi')));
  assert.ok(Array.isArray(disks));
  assert.deepEqual(disks.map((d) => [d.name, d.serial, d.wwn, d.transport, d.rotational]), [
    ['sda', 'S4Z1NX0N123456', '0x5002538e40a1b2c3', 'sata', false],
    ['sdb', 'ZC1A2B3C', '0x5000c500a1b2c3d4', 'sata', true],
    ['nvme0n1', 'S4ENNA0N900123', 'eui.01000000000000005cd2e4ab12345678', 'nvme', false],
  ]);
});

test('disks: VPD parsers refuse pages of another kind; T10 ids are not WWNs', () => {
  assert.equal(vpdSerial(Buffer.from([0, 0x83, 0, 2, 65, 66])), null);
  assert.equal(vpdSerial(Buffer.from([0, 0x80, 0, 3, 65, 66, 0])), 'AB');
  assert.equal(vpdNaa(Buffer.from([0, 0x83, 0, 200, 1, 3, 0, 8])), null, 'a truncated descriptor is ignored');
  assert.equal(wwidToWwn('t10.ATA     QEMU HARDDISK                           QM00001'), null);
  assert.equal(wwidToWwn('naa.5000C500A1B2C3D4'), '0x5000c500a1b2c3d4');
});

test('disks: without lsblk the whole list is absent (the collector throws, inventory records why)', async () => {
  await assert.rejects(collectDisks(fakeHost({})), /lsblk not found/);
});
