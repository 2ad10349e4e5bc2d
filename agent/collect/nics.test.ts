import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeHost, loadFixture } from '../fixtures/fake-host.ts';
import { collectNics, pciAddressOf } from './nics.ts';

test('nics: this machine\'s virtio NIC; lo (no device) is not a NIC', async () => {
  const nics = await collectNics(fakeHost(loadFixture('firecracker')));
  assert.deepEqual(nics, [{
    name: 'eth0', mac: '02:fc:00:00:00:01', driver: 'virtio_net', pci: '0000:00:03.0',
    speedMbps: { absent: 'the driver does not report a speed' }, link: 'up', firmware: { absent: 'ethtool not found' },
    lldp: { absent: 'no LLDP listener ran on this machine (/run/lldp is missing)' },
  }]);
});

test('nics: PCI NICs with link and without; bridges and InfiniBand are not Ethernet hardware', async () => {
  const nics = await collectNics(fakeHost(loadFixture('server-uefi')));
  assert.ok(Array.isArray(nics));
  assert.deepEqual(nics.map((n) => [n.name, n.mac, n.driver, n.pci, n.speedMbps, n.link, n.firmware]), [
    ['eno1', 'b0:26:28:aa:bb:01', 'ixgbe', '0000:3b:00.0', 10000, 'up', '0x800008b2, 20.5.13'],
    ['eno2', 'b0:26:28:aa:bb:02', 'ixgbe', '0000:3b:00.1', { absent: 'no link, so no speed' }, 'down', '0x800008b2, 20.5.13'],
  ]);
});

test('nics: the PCI function of a device path', () => {
  assert.equal(pciAddressOf('/sys/devices/pci0000:00/0000:00:1c.0/0000:02:00.0'), '0000:02:00.0');
  assert.equal(pciAddressOf('/sys/devices/pci0000:00/0000:00:03.0/virtio0'), '0000:00:03.0');
  assert.equal(pciAddressOf('/sys/devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0'), null);
});
