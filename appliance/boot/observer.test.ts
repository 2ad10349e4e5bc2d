import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../store/store.ts';
import { arpMac, createBootObserver } from './observer.ts';

test('observer: DHCP discovers a machine in its zone with its relay location, once per half minute on the timeline', () => {
  const store = Store.open(':memory:');
  let t = 1_000_000;
  const obs = createBootObserver(store, [{ rack: 'r12', switch: 'sw-r12', ports: [] }], () => t);
  const ev = { mac: '52:54:00:ab:00:01', zone: 'zone-b', kind: 'pxe', arch: 'x64 UEFI', relay: { giaddr: '10.2.0.1', circuitId: 'Gi1/0/12', remoteId: 'sw-r12' } };
  obs.dhcpClient(ev);
  obs.dhcpClient(ev);
  const m = store.getMachine(ev.mac)!;
  assert.equal(m.state, 'discovered');
  assert.equal(m.zone, 'zone-b');
  assert.deepEqual(m.location, { source: 'dhcp-option-82', giaddr: '10.2.0.1', circuitId: 'Gi1/0/12', remoteId: 'sw-r12' });
  assert.equal(m.rack, 'r12', 'placed by the site table');
  assert.equal(store.listEvents({ machineId: m.id, kind: 'boot' }).length, 1);
  t += 31_000;
  obs.dhcpClient(ev);
  assert.equal(store.listEvents({ machineId: m.id, kind: 'boot' }).length, 2);
  obs.tftpTransfer({ clientIp: '10.2.0.50', file: 'ipxe.efi', bytes: 1000, result: 'complete', ms: 12 }, (ip) => (ip === '10.2.0.50' ? ev.mac : undefined));
  obs.tftpTransfer({ clientIp: '10.9.9.9', file: 'ipxe.efi', bytes: 1000, result: 'complete', ms: 12 }, () => undefined);
  const steps = store.listEvents({ machineId: m.id, kind: 'boot' }).map((e) => e.data?.step);
  assert.deepEqual(steps, ['tftp', 'dhcp', 'dhcp']);
  store.close();
});

test('observer: MAC from the kernel ARP table format', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-arp-'));
  try {
    const f = join(dir, 'arp');
    writeFileSync(f, 'IP address       HW type     Flags       HW address            Mask     Device\n10.0.0.5         0x1         0x2         52:54:00:AA:BB:CC     *        br0\n10.0.0.6         0x1         0x0         00:00:00:00:00:00     *        br0\n');
    assert.equal(arpMac('10.0.0.5', f), '52:54:00:aa:bb:cc');
    assert.equal(arpMac('10.0.0.6', f), undefined, 'incomplete entries are not identities');
    assert.equal(arpMac('10.0.0.7', f), undefined);
    assert.equal(arpMac('10.0.0.5', join(dir, 'missing')), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
