// Real firmware boots from Tether: qemu (TCG) VMs with no disk, on taps of two zone bridges inside
// a namespace, network-boot through Tether's DHCP, TFTP and HTTP, fetch a kernel and a marker
// initrd, and print the marker on the serial console. SeaBIOS's NIC ROM is itself iPXE (straight to
// the HTTP script); OVMF with an empty romfile runs EDK2's own PXE client (TFTP ipxe.efi → iPXE →
// HTTP). One Tether process serves both zones, each from its own interface address.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../lib/lab.ts';
import { markerBootFiles, MARKER, CACHE } from '../lib/marker-initrd.ts';
import { fetchIpxe } from '../../images/ipxe/fetch.ts';
import { Store } from '../../appliance/store/store.ts';

const root = new URL('../../', import.meta.url).pathname;
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

function qemuArgs(o: { tap: string; mac: string; uefi: boolean; vars?: string }): string[] {
  const common = ['-accel', 'tcg', '-m', '512', '-no-reboot', '-nographic', '-nodefaults', '-serial', 'stdio', '-boot', 'n',
    '-netdev', `tap,id=n0,ifname=${o.tap},script=no,downscript=no`];
  if (!o.uefi) return [...common, '-device', `virtio-net-pci,netdev=n0,mac=${o.mac}`];
  return [...common, '-machine', 'q35',
    '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${o.vars}`,
    // An empty romfile leaves EDK2's own PXE client in charge: the genuine first-stage chain.
    '-device', `virtio-net-pci,netdev=n0,mac=${o.mac},romfile=`];
}

test('firmware: SeaBIOS (zone-a) and OVMF (zone-b) boot Tether\'s kernel and initrd over the network', { timeout: 600_000 }, async () => {
  const lab = new Lab('fw');
  try {
    const data = join(lab.dir, 'data');
    const boot = await markerBootFiles();
    mkdirSync(join(data, 'artifacts/discovery'), { recursive: true });
    copyFileSync(boot.vmlinuz, join(data, 'artifacts/discovery/vmlinuz'));
    copyFileSync(boot.initrd, join(data, 'artifacts/discovery/initrd.img'));
    await fetchIpxe({ cache: join(CACHE, 'debs'), tftpRoot: join(data, 'tftp'), artifactsDir: join(data, 'artifacts') });

    const ns = lab.ns('appl');
    lab.bridge(ns, 'br-a', '10.247.1.1/24');
    lab.bridge(ns, 'br-b', '10.247.2.1/24');
    lab.tap(ns, 'tap-a', 'br-a');
    lab.tap(ns, 'tap-b', 'br-b');
    const pool = (n: number) => ({ subnet: `10.247.${n}.0/24`, range: [`10.247.${n}.100`, `10.247.${n}.150`], routers: [`10.247.${n}.1`] });
    const cfg = join(lab.dir, 'tether.yaml');
    writeFileSync(cfg, JSON.stringify({
      dataDir: data,
      http: { listen: '127.0.0.1:8080' }, // the zone addresses get their own listeners
      zones: [
        { name: 'zone-a', interfaces: ['br-a'], dhcp: { mode: 'full', pools: [pool(1)] } },
        { name: 'zone-b', interfaces: ['br-b'], dhcp: { mode: 'full', pools: [pool(2)] } },
      ],
    }));
    const tether = lab.spawn(ns, process.execPath, [join(root, 'appliance/cli.ts'), 'serve', '-c', cfg], { logName: 'tether' });
    await tether.waitFor('DHCP serving', 30_000);

    const vars = join(lab.dir, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    const t0 = performance.now();
    const vms = [
      { name: 'seabios', zone: 'zone-a', mac: '52:54:00:fa:00:01', args: qemuArgs({ tap: 'tap-a', mac: '52:54:00:fa:00:01', uefi: false }) },
      { name: 'ovmf', zone: 'zone-b', mac: '52:54:00:fb:00:01', args: qemuArgs({ tap: 'tap-b', mac: '52:54:00:fb:00:01', uefi: true, vars }) },
    ].map((vm) => ({ ...vm, proc: lab.spawn(ns, 'qemu-system-x86_64', vm.args, { logName: vm.name }) }));

    await Promise.all(vms.map(async (vm) => {
      const out = await vm.proc.waitFor(new RegExp(`${MARKER} cmdline: [^\\n]*\\n`), 420_000);
      console.log(`firmware: ${vm.name} reached the marker initrd in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const cmdline = new RegExp(`${MARKER} cmdline: (.*)`).exec(out)![1];
      assert.match(cmdline, new RegExp(`tether\\.mac=${vm.mac}`));
      assert.match(cmdline, /tether\.mode=discovery tether\.write=0/);
      // Each zone's machine fetched from its own zone address.
      assert.match(cmdline, new RegExp(`tether\\.url=http://10\\.247\\.${vm.zone === 'zone-a' ? 1 : 2}\\.1:8080`));
      await vm.proc.exited;
    }));

    const store = Store.open(join(data, 'tether.db'));
    try {
      for (const vm of vms) {
        const m = store.getMachine(vm.mac)!;
        assert.ok(m, `${vm.name} is a machine`);
        assert.equal(m.state, 'discovered');
        assert.equal(m.zone, vm.zone);
        const steps = store.listEvents({ machineId: m.id, kind: 'boot', limit: 100 }).reverse().map((e) => e.data?.step as string);
        console.log(`firmware: ${vm.name} timeline: ${steps.join(' → ')}`);
        const expected = vm.name === 'ovmf' ? ['dhcp', 'tftp', 'script', 'kernel', 'initrd'] : ['dhcp', 'script', 'kernel', 'initrd'];
        let at = -1;
        for (const step of expected) {
          const i = steps.indexOf(step, at + 1);
          assert.ok(i > at, `${vm.name}: ${step} after ${expected.slice(0, expected.indexOf(step)).join(', ')} in ${steps.join(', ')}`);
          at = i;
        }
      }
    } finally {
      store.close();
    }
  } finally {
    await lab.teardown();
  }
});
