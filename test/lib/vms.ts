// Lab VMs with a known hardware identity (DMI UUID/serial, disks with serials and WWNs, NICs with
// MACs and drivers, optionally a BMC and an LLDP-speaking switch), and the field-by-field check that
// the appliance recorded exactly that.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Lab, Spawned } from './lab.ts';
import type { Store } from '../../appliance/store/store.ts';
import { getInventory } from '../../appliance/store/inventory.ts';
import type { Disk, LldpNeighbour, Nic } from '../../agent/protocol.ts';

export const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

export interface LabVm {
  name: string;
  uuid: string;
  serial: string;
  /** The first NIC (virtio) boots; the others are e1000. */
  macs: string[];
  disks: Array<{ serial: string; kind: 'virtio' | 'sata'; wwn?: string }>;
  /** The LLDP neighbour the boot NIC must report; without it, it must report none (the listener ran, heard nothing). */
  lldp?: LldpNeighbour;
  /** The BMC's LAN address it must report (a BMC from labBmc); without it, no BMC. */
  bmc?: string;
}

/**
 * Debian's lldpd as the switch on `port` (an interface in `ns`, e.g. a veth end whose peer is a
 * bridge port), chassis ID from that port's MAC; `config` lines are applied by its lldpcli at start.
 * It gets a private /run (tmpfs) inside `ip netns exec`'s own mount namespace: nothing on the host.
 */
export function labLldpd(lab: Lab, ns: string, port: string, config: string[]): Spawned {
  // lldpd reads its configuration as its unprivileged user: the lab dir must be traversable.
  chmodSync(lab.dir, 0o711);
  const dir = join(lab.dir, `lldpd-${port}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const conf = join(dir, 'lldpd.conf');
  writeFileSync(conf, `${config.join('\n')}\n`, { mode: 0o644 });
  return lab.spawn(ns, 'sh', ['-c', `mount -t tmpfs tmpfs /run && mkdir /run/lldpd && exec lldpd -d -I ${port} -C ${port} -O ${conf}`], { logName: `lldpd-${port}` });
}

/**
 * OpenIPMI's ipmi_sim as a VM's BMC, in `ns`, listening for qemu on 127.0.0.1:`port`; its LAN
 * channel 1 reports `address` (static). Returns the qemu arguments that give the VM a BT interface to
 * it (SMBIOS type 38 and ACPI describe it; Linux's ipmi_si finds it).
 */
export function labBmc(lab: Lab, ns: string, name: string, o: { port: number; address: string }): { proc: Spawned; qemuArgs: string[] } {
  const dir = join(lab.dir, `bmc-${name}`);
  mkdirSync(join(dir, 'state'), { recursive: true });
  // ipmi_sim asks this program for the LAN parameters it reports (lan_config_program).
  const lanctl = join(dir, 'lanctl.sh');
  writeFileSync(lanctl, `#!/bin/sh\n[ "$2" = get ] || exit 0\nshift 2\nfor v in "$@"; do case $v in\n  ip_addr) echo "ip_addr: ${o.address}";;\n  ip_addr_src) echo "ip_addr_src: static";;\n  subnet_mask) echo "subnet_mask: 255.255.255.0";;\n  mac_addr) echo "mac_addr: 02:00:00:b0:0c:01";;\nesac; done\n`, { mode: 0o755 });
  writeFileSync(join(dir, 'lan.conf'), [
    `name "bmc-${name}"`, 'set_working_mc 0x20', '  startlan 1', `    addr 127.0.0.1 ${o.port + 1}`, '    priv_limit admin',
    '    allowed_auths_admin none md5', `    lan_config_program "${lanctl} eth0"`, '  endlan',
    `  serial 15 127.0.0.1 ${o.port} codec VM`, '  user 2 true "admin" "admin" admin 10 none md5', '',
  ].join('\n'));
  writeFileSync(join(dir, 'bmc.emu'), 'mc_setbmc 0x20\nmc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\nmc_enable 0x20\n');
  const proc = lab.spawn(ns, 'ipmi_sim', ['-c', join(dir, 'lan.conf'), '-f', join(dir, 'bmc.emu'), '-s', join(dir, 'state'), '-n'], { logName: `ipmi_sim-${name}` });
  return {
    proc,
    qemuArgs: ['-chardev', `socket,id=ipmi-${name},host=127.0.0.1,port=${o.port},reconnect=2`,
      '-device', `ipmi-bmc-extern,id=bmc-${name},chardev=ipmi-${name}`, '-device', `isa-ipmi-bt,bmc=bmc-${name}`],
  };
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
  const boot = nics.find((n) => n.mac === vm.macs[0]);
  assert.equal(boot?.link, 'up');
  // LLDP: the neighbour the lab's switch announced, or none — heard by a listener that did run.
  if (vm.lldp) assert.deepEqual(boot?.lldp, vm.lldp, `${vm.name}: LLDP neighbour of the boot NIC`);
  else assert.match((boot?.lldp as { absent?: string } | undefined)?.absent ?? '', /^no LLDP frame in \d+ s of listening$/, `${vm.name}: ${JSON.stringify(boot?.lldp)}`);
  assert.deepEqual(doc.bmc, vm.bmc ? { present: true, address: vm.bmc } : { present: false, address: { absent: 'no BMC' } }, `${vm.name}: BMC`);
  return m.id;
}
