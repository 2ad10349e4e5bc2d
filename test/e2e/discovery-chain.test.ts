// The whole discovery chain with nothing but Tether on the wire: a diskful SeaBIOS VM powers on in
// zone-a, gets its address and boot URL from Tether's DHCP, runs the iPXE script Tether renders for
// it, boots the discovery OS from Tether's artifacts, and its agent reports the hardware. The
// machine ends up inventoried in its zone, then approved by the zone's auto-approve rule, with a
// boot timeline of every step.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Lab } from '../lib/lab.ts';
import { CACHE } from '../lib/marker-initrd.ts';
import { buildDiscovery } from '../../images/discovery/builder.ts';
import { Store } from '../../appliance/store/store.ts';
import { getInventory } from '../../appliance/store/inventory.ts';

const root = new URL('../../', import.meta.url).pathname;
const MAC = '52:54:00:c4:00:01';
const UUID = '7e7e7e7e-1111-4222-8333-444455556666';
const SERIAL = 'CHAIN-0001';

test('discovery chain: power-on → Tether DHCP → iPXE script → discovery OS → agent report → inventoried → auto-approved', { timeout: 900_000 }, async () => {
  const build = await buildDiscovery({ out: join(CACHE, 'discovery-chain'), cache: CACHE, level: 3, log: () => {} });
  console.log(`discovery chain: image ${build.skipped ? 'up to date' : 'built'} in ${(build.tookMs / 1000).toFixed(1)} s`);
  const lab = new Lab('chain');
  try {
    const data = join(lab.dir, 'data');
    mkdirSync(join(data, 'artifacts/discovery'), { recursive: true });
    for (const f of ['vmlinuz', 'initrd.img']) copyFileSync(join(CACHE, 'discovery-chain', f), join(data, 'artifacts/discovery', f));
    const ns = lab.ns('site');
    lab.bridge(ns, 'br-a', '10.246.1.1/24');
    lab.tap(ns, 'tap0', 'br-a');
    const cfg = join(lab.dir, 'tether.yaml');
    writeFileSync(cfg, JSON.stringify({
      dataDir: data,
      http: { listen: '10.246.1.1:8080' },
      zones: [{
        name: 'zone-a', interfaces: ['br-a'],
        dhcp: { mode: 'full', pools: [{ subnet: '10.246.1.0/24', range: ['10.246.1.100', '10.246.1.150'], routers: ['10.246.1.1'] }] },
        autoApprove: [{ minMemoryGiB: 0.5, minDisks: 1 }],
      }],
    }));
    const tether = lab.spawn(ns, process.execPath, [join(root, 'appliance/cli.ts'), 'serve', '-c', cfg], { logName: 'tether' });
    await tether.waitFor('DHCP serving', 30_000);

    const disk = join(lab.dir, 'disk.img');
    execFileSync('truncate', ['-s', '256M', disk]);
    const t0 = performance.now();
    const vm = lab.spawn(ns, 'qemu-system-x86_64', ['-accel', 'tcg', '-m', '1024', '-no-reboot', '-nographic', '-nodefaults', '-serial', 'stdio', '-boot', 'n',
      '-uuid', UUID, '-smbios', `type=1,manufacturer=ChainVendor,product=ChainBox,serial=${SERIAL}`,
      '-drive', `file=${disk},if=none,id=d0,format=raw`, '-device', 'virtio-blk-pci,drive=d0,serial=CHAIN-DISK-0',
      '-netdev', 'tap,id=n0,ifname=tap0,script=no,downscript=no', '-device', `virtio-net-pci,netdev=n0,mac=${MAC}`], { logName: 'vm' });
    await vm.waitFor(/tether-agent: reported: machine m-[0-9a-f]+/, 600_000);
    console.log(`discovery chain: power-on → agent report in ${((performance.now() - t0) / 1000).toFixed(1)} s (TCG)`);

    const store = Store.open(join(data, 'tether.db'));
    try {
      const m = store.getMachine(MAC)!;
      assert.equal(m.zone, 'zone-a');
      assert.equal(m.smbiosUuid, UUID);
      assert.equal(m.serial, SERIAL);
      assert.equal(m.state, 'approved', 'the zone rule approved it');
      const doc = getInventory(store, m.id)!.doc;
      assert.deepEqual([doc.system.vendor, doc.system.product], ['ChainVendor', 'ChainBox']);
      const events = store.listEvents({ machineId: m.id, limit: 200 }).reverse();
      const transitions = events.filter((e) => e.kind === 'transition').map((e) => `${e.to}/${e.actor}`);
      assert.deepEqual(transitions, ['discovered/dhcp', 'inventoried/agent', 'approved/rule']);
      const steps = events.filter((e) => e.kind === 'boot').map((e) => e.data?.step);
      console.log(`discovery chain: timeline ${steps.join(' → ')} → ${transitions.join(' → ')}`);
      for (const step of ['dhcp', 'script', 'kernel', 'initrd']) assert.ok(steps.includes(step), `${step} on the timeline`);
    } finally {
      store.close();
    }
  } finally {
    await lab.teardown();
  }
});
