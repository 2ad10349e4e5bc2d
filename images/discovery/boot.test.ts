// The discovery OS for real: qemu VMs (TCG) on a bridge inside a lab namespace boot Debian's kernel
// with our initrd (direct kernel boot: the firmware → iPXE chain is the boot path's own test) and
// the command line the appliance rendered for them; their agents report to `tether serve` running
// in that namespace. Asserted field by field against each VM's qemu command line.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { assertInventory, hardwareArgs, ZERO_UUID, type LabVm } from '../../test/lib/vms.ts';
import { Store } from '../../appliance/store/store.ts';
import { buildDiscovery } from './builder.ts';

const ROOT = new URL('../../', import.meta.url).pathname;
const CACHE = join(ROOT, '.cache');

const VMS: LabVm[] = [
  { name: 'a', uuid: '5c0ffee0-1234-4abc-9def-0123456789ab', serial: 'LAB-A-0001', macs: ['52:54:00:d1:00:01', '52:54:00:d1:00:02'],
    disks: [{ serial: 'VIRTIO-A-1', kind: 'virtio' }, { serial: 'SATA-A-2', kind: 'sata', wwn: '0x5000c500a1b2c3d4' }] },
  // Two boxes whose firmware says nothing useful: the same all-zero UUID and a placeholder serial.
  { name: 'z1', uuid: ZERO_UUID, serial: 'To Be Filled By O.E.M.', macs: ['52:54:00:d1:01:01'], disks: [{ serial: 'VIRTIO-Z1', kind: 'virtio' }] },
  { name: 'z2', uuid: ZERO_UUID, serial: 'To Be Filled By O.E.M.', macs: ['52:54:00:d1:02:01'], disks: [{ serial: 'VIRTIO-Z2', kind: 'virtio' }] },
];

let lab: Lab | undefined;
after(async () => { await lab?.teardown(); });

test('discovery OS: qemu VMs boot it and their agents inventory them into the appliance', { timeout: 1_200_000 }, async () => {
  const image = join(CACHE, 'discovery-test');
  const build = await buildDiscovery({ out: image, cache: CACHE, level: 3, log: (l) => console.log(l) });
  console.log(`discovery image ${build.skipped ? 'up to date' : 'built'} in ${(build.tookMs / 1000).toFixed(1)} s`);

  const l = new Lab('disc');
  lab = l;
  const ns = l.ns('site');
  const net = `10.248.${1 + Math.floor(Math.random() * 250)}`;
  l.bridge(ns, 'br0', `${net}.1/24`);
  const dataDir = join(l.dir, 'data');
  const config = join(l.dir, 'tether.yaml');
  writeFileSync(config, `dataDir: ${dataDir}\nhttp:\n  listen: ${net}.1:8080\nlog:\n  level: info\nzones:\n  - name: zone-a\n    interfaces: [br0]\n    dhcp: { mode: off }\n`);
  // The real daemon; DHCP is the site's (dnsmasq below) in this test, so the zone's DHCP is off.
  const appliance = l.spawn(ns, process.execPath, [join(ROOT, 'appliance/cli.ts'), 'serve', '-c', config], { logName: 'appliance' });
  await appliance.waitFor('Tether listening on', 30_000);
  // The site's DHCP server (the VMs' addresses are not the appliance's business in this test).
  l.spawn(ns, 'dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--interface=br0', '--bind-interfaces', '--port=0', '--user=root',
    `--dhcp-range=${net}.100,${net}.200,255.255.255.0,1h`, `--dhcp-leasefile=${join(l.dir, 'leases')}`, '--log-dhcp'], { logName: 'dnsmasq' });

  const started = new Map<string, { console: Spawned; t0: number }>();
  for (const vm of VMS) {
    // The boot script the appliance renders for this MAC: a fresh one-time token on its command line.
    const script = l.exec(ns, 'curl', ['-sf', `http://${net}.1:8080/boot/ipxe?mac=${vm.macs[0]}&zone=zone-a&platform=pcbios&arch=x86_64`]);
    const cmdline = /^kernel \S+ (.*)$/m.exec(script)?.[1] ?? '';
    assert.ok(cmdline.includes('tether.token='), script);
    const args = ['-accel', 'tcg', '-m', '1024', '-smp', '1', '-nodefaults', '-display', 'none', '-serial', 'stdio', '-monitor', 'none', '-no-reboot',
      '-kernel', join(image, 'vmlinuz'), '-initrd', join(image, 'initrd.img'), '-append', `${cmdline.replace(/\binitrd=\S+\s*/, '')} panic=-1`,
      ...hardwareArgs(l, ns, 'br0', vm, { pxeRom: false })];
    started.set(vm.name, { console: l.spawn(ns, 'qemu-system-x86_64', args, { logName: `vm-${vm.name}` }), t0: performance.now() });
  }

  for (const vm of VMS) {
    const { console: c, t0 } = started.get(vm.name)!;
    await c.waitFor(/tether-agent: reported: machine m-[0-9a-f]+ is inventoried/, 600_000);
    const steps = c.output().split('\n').filter((l) => /^tether-(init|agent): .*(\bat [\d.]+ s|collected in)/.test(l)).map((l) => l.trim());
    console.log(`VM ${vm.name}: power-on → inventoried in ${((performance.now() - t0) / 1000).toFixed(1)} s (${VMS.length} VMs in parallel, TCG)\n  ${steps.join('\n  ')}`);
  }

  const store = Store.open(join(dataDir, 'tether.db'));
  try {
    const ids = new Set<string>();
    for (const vm of VMS) {
      ids.add(assertInventory(store, vm, 'zone-a', 'bios'));
      assert.equal(store.getMachine(vm.macs[0])!.state, 'inventoried');
    }
    assert.equal(ids.size, VMS.length, 'two boxes with the same all-zero UUID stay two machines');
  } finally {
    store.close();
  }
});
