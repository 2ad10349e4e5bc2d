// The whole discovery chain with nothing but Tether on the wire, in two zones at once: a SeaBIOS VM
// in zone-a and an OVMF VM in zone-b (each with set UUID, serial, 2 disks, 2 NICs) power on, get
// their address and boot file from Tether's DHCP on their zone's interface, chain to the iPXE script
// Tether renders for them, boot the discovery OS from Tether's artifacts, and their agents report.
// Each machine ends up inventoried in its zone with exactly the hardware qemu was given; zone-a's
// auto-approve rule then approves its machine, zone-b (no rules) leaves its machine to a person.
// Zone-a's bridge has a "switch" on it — lldpd on a veth port, the bridge forwarding LLDP — whose
// name and port the site table maps to a rack: the zone-a machine reports that neighbour and lands
// in that rack. It also has a BMC (OpenIPMI's ipmi_sim behind qemu's ipmi-bmc-extern + isa-ipmi-bt)
// whose LAN address it reports; zone-b has neither, and its machine says so.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab } from '../lib/lab.ts';
import { CACHE } from '../lib/marker-initrd.ts';
import { assertInventory, hardwareArgs, labBmc, labLldpd, type LabVm } from '../lib/vms.ts';
import { buildDiscovery } from '../../images/discovery/builder.ts';
import { fetchIpxe } from '../../images/ipxe/fetch.ts';
import { Store } from '../../appliance/store/store.ts';
import { hashPassword } from '../../appliance/auth/secrets.ts';
import { mintApiToken } from '../../appliance/auth/users.ts';

const root = new URL('../../', import.meta.url).pathname;
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';

// Zone-a's top-of-rack switch: lldpd on port swp12 (a veth whose peer is a br-a port).
const SWITCH = { name: 'tor-a07', port: 'swp12', mac: '02:00:5e:a0:70:12', rack: 'r07' };
const BMC_ADDRESS = '192.0.2.71';

/** A terminal client run inside the lab's namespace: prints {out, code} or how the socket closed. */
const SHELL_CLIENT = `
const [url, token] = process.argv.slice(1);
const ws = new WebSocket(url, { headers: { authorization: 'Bearer ' + token } });
let out = '';
const done = (r) => { console.log(JSON.stringify({ out, ...r })); process.exit(0); };
ws.onopen = () => ws.send(JSON.stringify({ type: 'hello', cols: 80, rows: 24 }));
ws.onmessage = (m) => {
  const f = JSON.parse(m.data);
  if (f.type === 'ready') ws.send(JSON.stringify({ type: 'input', data: 'uname -n; echo tether-$((6*7)); exit 3\\r' }));
  else if (f.type === 'output') out += f.data;
  else if (f.type === 'exit') done({ code: f.code });
};
ws.onclose = (e) => done({ close: e.code, reason: e.reason });
setTimeout(() => done({ timeout: true }), 60000);
`;

const VMS: Array<LabVm & { zone: string; firmware: 'bios' | 'uefi'; rack: string | null }> = [
  { name: 'a', zone: 'zone-a', firmware: 'bios', uuid: '7e7e7e7e-1111-4222-8333-444455556666', serial: 'CHAIN-A-0001',
    macs: ['52:54:00:c4:00:01', '52:54:00:c4:00:02'], disks: [{ serial: 'CHAIN-A-D1', kind: 'virtio' }, { serial: 'CHAIN-A-D2', kind: 'sata', wwn: '0x5000c500a1b2c3e1' }],
    lldp: { chassisId: SWITCH.mac, portId: SWITCH.port, systemName: SWITCH.name }, rack: SWITCH.rack, bmc: BMC_ADDRESS },
  { name: 'b', zone: 'zone-b', firmware: 'uefi', uuid: '8f8f8f8f-2222-4333-8444-555566667777', serial: 'CHAIN-B-0001',
    macs: ['52:54:00:c5:00:01', '52:54:00:c5:00:02'], disks: [{ serial: 'CHAIN-B-D1', kind: 'virtio' }, { serial: 'CHAIN-B-D2', kind: 'sata', wwn: '0x5000c500a1b2c3e2' }], rack: null },
];

test('discovery chain: SeaBIOS in zone-a and OVMF in zone-b boot from Tether into the discovery OS and are inventoried field by field', { timeout: 900_000 }, async () => {
  const build = await buildDiscovery({ out: join(CACHE, 'discovery-chain'), cache: CACHE, level: 3, log: () => {} });
  console.log(`discovery chain: image ${build.skipped ? 'up to date' : 'built'} in ${(build.tookMs / 1000).toFixed(1)} s`);
  const lab = new Lab('chain');
  try {
    const data = join(lab.dir, 'data');
    mkdirSync(join(data, 'artifacts/discovery'), { recursive: true });
    for (const f of ['vmlinuz', 'initrd.img']) copyFileSync(join(CACHE, 'discovery-chain', f), join(data, 'artifacts/discovery', f));
    await fetchIpxe({ cache: join(CACHE, 'debs'), tftpRoot: join(data, 'tftp'), artifactsDir: join(data, 'artifacts') });
    const ns = lab.ns('site');
    lab.bridge(ns, 'br-a', '10.246.1.1/24');
    lab.bridge(ns, 'br-b', '10.246.2.1/24');
    // A Linux bridge drops 802.1AB's nearest-bridge group (01:80:c2:00:00:0e) unless told to forward it.
    lab.exec(ns, 'ip', ['link', 'set', 'br-a', 'type', 'bridge', 'group_fwd_mask', '0x4000']);
    lab.veth(ns, SWITCH.port, ns, `${SWITCH.port}-br`, { bridgeB: 'br-a', macA: SWITCH.mac });
    const lldpd = labLldpd(lab, ns, SWITCH.port, [`configure system hostname ${SWITCH.name}`, 'configure lldp portidsubtype ifname', 'configure lldp tx-interval 5']);
    const bmc = labBmc(lab, ns, 'a', { port: 9002, address: BMC_ADDRESS });
    const zone = (n: number, extra: Record<string, unknown>) => ({
      name: `zone-${'ab'[n - 1]}`, interfaces: [`br-${'ab'[n - 1]}`],
      dhcp: { mode: 'full', pools: [{ subnet: `10.246.${n}.0/24`, range: [`10.246.${n}.100`, `10.246.${n}.150`], routers: [`10.246.${n}.1`] }] },
      ...extra,
    });
    const cfg = join(lab.dir, 'tether.yaml');
    writeFileSync(cfg, JSON.stringify({
      dataDir: data,
      http: { listen: '127.0.0.1:8080' },
      zones: [zone(1, { autoApprove: [{ minMemoryGiB: 0.5, minDisks: 2 }] }), zone(2, {})],
      racks: [{ rack: SWITCH.rack, switch: SWITCH.name, ports: [SWITCH.port] }, { rack: 'r99', switch: 'some-other-switch', ports: [] }],
    }));
    const tether = lab.spawn(ns, process.execPath, [join(root, 'appliance/cli.ts'), 'serve', '-c', cfg], { logName: 'tether' });
    await tether.waitFor('DHCP serving', 30_000);

    const vars = join(lab.dir, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    const started = VMS.map((vm) => {
      const firmware = vm.firmware === 'uefi'
        ? ['-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${vars}`]
        : ['-boot', 'n'];
      const args = ['-accel', 'tcg', '-m', '1024', '-no-reboot', '-nographic', '-nodefaults', '-serial', 'stdio', ...firmware,
        ...hardwareArgs(lab, ns, `br-${vm.zone.slice(-1)}`, vm, { pxeRom: vm.firmware === 'bios' }), ...(vm.bmc ? bmc.qemuArgs : [])];
      return { vm, t0: performance.now(), proc: lab.spawn(ns, 'qemu-system-x86_64', args, { logName: `vm-${vm.name}` }) };
    });
    await Promise.all(started.map(async ({ vm, t0, proc }) => {
      await proc.waitFor(/tether-agent: reported: machine m-[0-9a-f]+/, 720_000);
      console.log(`discovery chain: ${vm.firmware} VM in ${vm.zone}: power-on → inventoried in ${((performance.now() - t0) / 1000).toFixed(1)} s (2 VMs in parallel, TCG)`);
      const steps = proc.output().split('\n').filter((l) => /^tether-(init|agent|lldp): /.test(l.trim())).map((l) => l.trim());
      console.log(`  ${steps.slice(0, 14).join('\n  ')}`);
    }));
    // A shell on the zone-b machine through its real agent: an admin's terminal over the API's
    // WebSocket (bearer token: a script, so no CSRF hello token), answered by busybox in the VM.
    {
      const b = started.find((s) => s.vm.name === 'b')!;
      await b.proc.waitFor(/tether-agent: console channel to the appliance open/, 120_000);
      const store = Store.open(join(data, 'tether.db'));
      let token: string;
      let id: string;
      try {
        store.createUser('chain-admin', await hashPassword('chain-admin-password'), 'admin');
        token = mintApiToken(store, { user: 'chain-admin', name: 'discovery-chain', role: 'admin' });
        id = store.getMachine(b.vm.macs[0])!.id;
      } finally {
        store.close();
      }
      const t0 = performance.now();
      const got = JSON.parse(lab.exec(ns, process.execPath, ['-e', SHELL_CLIENT, `ws://127.0.0.1:8080/api/v1/machines/${id}/terminal`, token], { timeoutMs: 90_000 })) as { out: string; code?: number; close?: number; reason?: string };
      console.log(`discovery chain: shell on ${id} through its agent in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${JSON.stringify(got.out.slice(-200))}`);
      assert.equal(got.code, 3, JSON.stringify(got));
      assert.match(got.out, /\r\ntether-discovery\r\n/, 'the hostname of the discovery OS: the shell ran in the VM');
      assert.match(got.out, /\r\ntether-42\r\n/);
    }
    assert.match(lldpd.output(), /system name set to new value/, 'lldpd took its configuration');
    assert.equal(bmc.proc.proc.exitCode, null, `ipmi_sim is still running:\n${bmc.proc.output()}`);

    const store = Store.open(join(data, 'tether.db'));
    try {
      for (const vm of VMS) {
        const id = assertInventory(store, vm, vm.zone, vm.firmware);
        // Placement: the LLDP neighbour (tor-a07 / swp12) through the site table; zone-b has no switch.
        assert.equal(store.getMachine(vm.macs[0])!.rack, vm.rack, `${vm.zone}: rack`);
        const events = store.listEvents({ machineId: id, limit: 200 }).reverse();
        const transitions = events.filter((e) => e.kind === 'transition').map((e) => `${e.to}/${e.actor}`);
        const steps = events.filter((e) => e.kind === 'boot').map((e) => e.data?.step as string);
        console.log(`discovery chain: ${vm.zone} timeline ${steps.join(' → ')}; ${transitions.join(' → ')}`);
        for (const step of ['dhcp', ...(vm.firmware === 'uefi' ? ['tftp'] : []), 'script', 'kernel', 'initrd']) assert.ok(steps.includes(step), `${vm.zone}: ${step} on the timeline`);
        const expected = vm.zone === 'zone-a' ? ['discovered/dhcp', 'inventoried/agent', 'approved/rule'] : ['discovered/dhcp', 'inventoried/agent'];
        assert.deepEqual(transitions, expected);
      }
    } finally {
      store.close();
    }
  } finally {
    await lab.teardown();
  }
});
