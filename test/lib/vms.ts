// Lab VMs with a known hardware identity (DMI UUID/serial, disks with serials and WWNs, NICs with
// MACs and drivers), and the field-by-field check that the appliance recorded exactly that.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from './lab.ts';
import type { Store } from '../../appliance/store/store.ts';
import { getInventory } from '../../appliance/store/inventory.ts';
import type { Disk, Nic } from '../../agent/protocol.ts';

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export interface LabVm {
  name: string;
  uuid: string;
  serial: string;
  /** The first NIC (virtio) boots; the others are e1000. */
  macs: string[];
  disks: Array<{ serial: string; kind: 'virtio' | 'sata'; wwn?: string }>;
}

/** qemu arguments for the VM's identity, NICs (taps on `bridge` in `ns`) and blank disks. */
export function hardwareArgs(lab: Lab, ns: string, bridge: string, vm: LabVm, o: { pxeRom?: boolean } = {}): string[] {
  const args = ['-uuid', vm.uuid, '-smbios', `type=1,manufacturer=LabVendor,product=LabBox,serial=${vm.serial}`];
  vm.macs.forEach((mac, i) => {
    const tap = `tap${vm.name}${i}`;
    lab.tap(ns, tap, bridge);
    // romfile= (empty) leaves UEFI's own PXE client in charge; only the boot NIC may PXE.
    const rom = o.pxeRom === false || i > 0 ? ',romfile=' : '';
    args.push('-netdev', `tap,id=n${i},ifname=${tap},script=no,downscript=no`, '-device', `${i === 0 ? 'virtio-net-pci' : 'e1000'},netdev=n${i},mac=${mac}${rom}${i === 0 ? ',bootindex=1' : ''}`);
  });
  vm.disks.forEach((d, i) => {
    const file = join(lab.dir, `${vm.name}-disk${i}.img`);
    writeFileSync(file, '');
    execFileSync('truncate', ['-s', `${64 * (i + 1)}M`, file]);
    args.push('-drive', `file=${file},if=none,id=d${i},format=raw`);
    if (d.kind === 'virtio') args.push('-device', `virtio-blk-pci,drive=d${i},serial=${d.serial}`);
    else args.push('-device', `ahci,id=ahci${i}`, '-device', `ide-hd,drive=d${i},bus=ahci${i}.0,serial=${d.serial},model=TetherDisk,wwn=${d.wwn}`);
  });
  return args;
}

/** The machine is inventoried (or later) in `zone` with exactly the identity, disks and NICs `vm` was started with. */
export function assertInventory(store: Store, vm: LabVm, zone: string, firmware: 'bios' | 'uefi'): string {
  const m = store.getMachine(vm.macs[0]);
  assert.ok(m, `machine ${vm.macs[0]}`);
  assert.equal(m.zone, zone);
  // The kernel does not show an all-zero (or all-F) UUID at all: it is absent, never "000…".
  const uuid = vm.uuid === ZERO_UUID ? null : vm.uuid;
  assert.equal(m.smbiosUuid, uuid);
  assert.equal(m.serial, vm.serial);
  assert.deepEqual(m.macs, [...vm.macs].sort());
  const doc = getInventory(store, m.id)!.doc;
  assert.deepEqual([doc.system.vendor, doc.system.product, doc.system.serial], ['LabVendor', 'LabBox', vm.serial]);
  assert.deepEqual(doc.system.uuid, uuid ?? { absent: 'the firmware does not provide it' });
  assert.equal(doc.firmware.mode, firmware);
  const disks = doc.disks as Disk[];
  assert.deepEqual(disks.map((d) => d.serial).sort(), vm.disks.map((d) => d.serial).sort());
  for (const [i, d] of vm.disks.entries()) {
    const got = disks.find((x) => x.serial === d.serial)!;
    assert.equal(got.sizeBytes, 64 * (i + 1) * 1024 ** 2);
    assert.equal(got.transport, d.kind);
    if (d.wwn) assert.equal(got.wwn, d.wwn);
  }
  const nics = doc.nics as Nic[];
  assert.deepEqual(nics.map((n) => [n.mac, n.driver]).sort(), vm.macs.map((mac, i) => [mac, i === 0 ? 'virtio_net' : 'e1000']).sort());
  assert.equal(nics.find((n) => n.mac === vm.macs[0])?.link, 'up');
  return m.id;
}
