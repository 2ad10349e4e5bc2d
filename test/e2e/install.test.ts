// Install, end to end with real firmware: a SeaBIOS VM and an OVMF VM, each with a blank virtio
// disk, power on in a zone whose rule approves them. Each boots the discovery OS (no writes),
// reports, is approved, reboots into the install boot (tether.write=1), streams the node OS image
// onto its disk, verifies it, stages its per-machine files and reboots. qemu runs with -no-reboot,
// so every reboot ends the process: between boots the test reads the disk file itself and checks
// that its sha256 over the image length equals the manifest's, then powers the VM on again. The
// next PXE boot gets the local-disk script, the node OS comes up from the disk (serial log:
// systemd reaches multi-user), its first boot phones home, and the machine is `installed`.
// Then the BIOS machine is wiped: afterwards its disk file holds no partition table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Lab, type Spawned } from '../lib/lab.ts';
import { CACHE } from '../lib/marker-initrd.ts';
import { hardwareArgs, type LabVm } from '../lib/vms.ts';
import { buildDiscovery } from '../../images/discovery/builder.ts';
import { fetchIpxe } from '../../images/ipxe/fetch.ts';
import { buildLocalBoot } from '../../images/ipxe/localboot.ts';
import { ensureNodeImage } from '../../images/node/builder.ts';
import { Store } from '../../appliance/store/store.ts';
import { listDiskTasks } from '../../appliance/store/disk-tasks.ts';
import { applyAction } from '../../appliance/lifecycle/lifecycle.ts';
import type { ImageManifest } from '../../images/manifest.ts';

const root = new URL('../../', import.meta.url).pathname;
const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
const KEY = join(CACHE, 'keys', 'image-signing.key');
const DISK_BYTES = 4 * 1024 ** 3;
const RUN_LIMIT_MS = 600_000;

interface InstallVm extends LabVm { firmware: 'bios' | 'uefi' }
const VMS: InstallVm[] = [
  { name: 'ia', firmware: 'bios', uuid: '5a5a5a5a-1111-4222-8333-444455550001', serial: 'INSTALL-A', macs: ['52:54:00:d1:00:01'], disks: [] },
  { name: 'ib', firmware: 'uefi', uuid: '5a5a5a5a-1111-4222-8333-444455550002', serial: 'INSTALL-B', macs: ['52:54:00:d2:00:01'], disks: [] },
];

async function sha256OfRange(path: string, length: number): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { start: 0, end: length - 1, highWaterMark: 4 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

const secs = (t0: number) => ((performance.now() - t0) / 1000).toFixed(1);

test('install: SeaBIOS and OVMF VMs go approved → installing → installed, boot the node OS from disk, phone home; the disk verifies; wipe leaves no partition table', { timeout: 1_800_000 }, async () => {
  const t0 = performance.now();
  const [discovery, node] = await Promise.all([
    buildDiscovery({ out: join(CACHE, 'discovery-install'), cache: CACHE, level: 3, log: () => {} }),
    ensureNodeImage({ cacheDir: CACHE, key: KEY, log: () => {} }),
  ]);
  const manifest: ImageManifest = node.manifest;
  console.log(`install e2e: discovery image ${discovery.skipped ? 'cached' : 'built'}, node image ${node.manifest.name} (${(manifest.raw.size / 2 ** 20).toFixed(0)} MiB raw, ${(manifest.compressed.size / 2 ** 20).toFixed(0)} MiB zstd) ready at ${secs(t0)} s`);

  const lab = new Lab('install');
  let store: Store | undefined;
  try {
    const data = join(lab.dir, 'data');
    mkdirSync(join(data, 'artifacts/discovery'), { recursive: true });
    for (const f of ['vmlinuz', 'initrd.img']) copyFileSync(join(CACHE, 'discovery-install', f), join(data, 'artifacts/discovery', f));
    await fetchIpxe({ cache: join(CACHE, 'debs'), tftpRoot: join(data, 'tftp'), artifactsDir: join(data, 'artifacts') });
    await buildLocalBoot({ cache: join(CACHE, 'debs'), artifactsDir: join(data, 'artifacts') });
    const ns = lab.ns('site');
    lab.bridge(ns, 'br-a', '10.247.1.1/24');
    const cfg = join(lab.dir, 'tether.yaml');
    writeFileSync(cfg, JSON.stringify({
      dataDir: data,
      site: 'lab',
      http: { listen: '10.247.1.1:8080' },
      zones: [{
        name: 'zone-a', interfaces: ['br-a'], autoApprove: [{ minMemoryGiB: 0.5 }],
        dhcp: { mode: 'full', pools: [{ subnet: '10.247.1.0/24', range: ['10.247.1.100', '10.247.1.150'], routers: ['10.247.1.1'] }] },
      }],
      images: { catalog: [{ name: manifest.name, path: node.dir, zones: ['zone-a'] }], signingKey: KEY, target: { minSizeGiB: 1 } },
    }));
    const tether = lab.spawn(ns, process.execPath, [join(root, 'appliance/cli.ts'), 'serve', '-c', cfg], { logName: 'tether' });
    await tether.waitFor('DHCP serving', 30_000);
    const db = Store.open(join(data, 'tether.db'));
    store = db;
    const machineOf = (vm: InstallVm) => db.getMachine(vm.macs[0]);

    const vars = join(lab.dir, 'OVMF_VARS.fd');
    copyFileSync(OVMF_VARS, vars);
    const disks = new Map<string, string>();
    const argsOf = VMS.map((vm) => {
      const disk = join(lab.dir, `${vm.name}-disk.img`);
      writeFileSync(disk, '');
      execFileSync('truncate', ['-s', String(DISK_BYTES), disk]);
      disks.set(vm.name, disk);
      const firmware = vm.firmware === 'uefi'
        ? ['-machine', 'q35', '-drive', `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`, '-drive', `if=pflash,format=raw,file=${vars}`]
        : ['-boot', 'n'];
      return ['-accel', 'tcg', '-m', '1024', '-no-reboot', '-nographic', '-nodefaults', '-serial', 'stdio', ...firmware,
        ...hardwareArgs(lab, ns, 'br-a', vm, { pxeRom: vm.firmware === 'bios' }),
        // UEFI: network first, then the disk — a server's usual boot order (OVMF also connects only
        // the devices in the boot order). The local-disk script chains GRUB, which boots the disk.
        '-drive', `file=${disk},if=none,id=d0,format=raw`, '-device', `virtio-blk-pci,drive=d0,serial=${vm.serial}-D0${vm.firmware === 'uefi' ? ',bootindex=2' : ''}`];
    });
    const diskChecked = new Map<string, string>();
    /** Powers the VM on until `done` holds after a power-off; between runs, `between` sees the disk at rest. */
    async function cycle(vm: InstallVm, args: string[], until: (log: string) => boolean, between: (run: number) => Promise<void>, maxRuns: number): Promise<Spawned> {
      for (let run = 1; ; run++) {
        const tRun = performance.now();
        const proc = lab.spawn(ns, 'qemu-system-x86_64', args, { logName: `${vm.name}-run${run}` });
        // A run ends by the guest rebooting (-no-reboot) or by the test once `until` holds.
        const ended = await Promise.race([proc.exited.then(() => 'exited' as const), (async () => {
          for (;;) {
            if (until(proc.output())) return 'done' as const;
            await new Promise((r) => setTimeout(r, 1000));
            if (proc.proc.exitCode !== null || proc.proc.signalCode !== null) return 'exited' as const;
            // A boot that neither ends nor gets there is a failure to report, not a wait to the test's timeout.
            if (performance.now() - tRun > RUN_LIMIT_MS) {
              proc.kill('SIGKILL');
              throw new Error(`${vm.name}: run ${run} neither rebooted nor got there in ${RUN_LIMIT_MS / 1000} s; machine ${machineOf(vm)?.state}\n${proc.output().slice(-3000)}`);
            }
          }
        })()]);
        const m = machineOf(vm);
        console.log(`install e2e: ${vm.firmware} run ${run} ${ended} after ${secs(tRun)} s; machine ${m?.state ?? '(unknown)'}`);
        if (ended === 'done') return proc;
        await between(run);
        if (run >= maxRuns) throw new Error(`${vm.name}: still not done after ${run} power cycles; machine ${m?.state}, reason ${m?.stateReason}\n${proc.output().slice(-3000)}`);
      }
    }

    await Promise.all(VMS.map(async (vm, i) => {
      const tVm = performance.now();
      const proc = await cycle(vm, argsOf[i], (log) => /Reached target.*Multi-User System/.test(log) && machineOf(vm)?.state === 'installed', async () => {
        // The install boot ended with the image written: check the disk before the node OS touches it.
        const m = machineOf(vm);
        const task = m ? listDiskTasks(db, m.id, 1)[0] : undefined;
        if (task?.status === 'written' && !diskChecked.has(vm.name)) {
          diskChecked.set(vm.name, await sha256OfRange(disks.get(vm.name)!, manifest.raw.size));
          console.log(`install e2e: ${vm.firmware} disk written and checked at ${secs(tVm)} s`);
        }
      }, 5);
      console.log(`install e2e: ${vm.firmware} power-on → installed and booted from disk in ${secs(tVm)} s (2 VMs in parallel, TCG)`);
      assert.match(proc.output(), /root=LABEL=tether-root/, 'the kernel came from the disk\'s bootloader');
      // The server decided the disk boot: PXE → iPXE → local-disk script → (UEFI: Tether's GRUB) → disk.
      assert.match(proc.output(), /booting its local disk/, 'the local-disk script ran before the disk booted');
      if (vm.firmware === 'uefi') assert.match(proc.output(), /Tether: booting the local disk \(looking for a disk/, 'GRUB chainloaded the disk');
      assert.match(proc.output(), /tether-firstboot/, 'the first-boot unit ran');
      proc.kill('SIGKILL');
      await proc.exited;
    }));

    for (const vm of VMS) {
      assert.equal(diskChecked.get(vm.name), manifest.raw.sha256, `${vm.name}: the disk's sha256 over the image length equals the manifest's`);
      const m = machineOf(vm)!;
      const events = db.listEvents({ machineId: m.id, limit: 500 }).reverse();
      const moves = events.filter((e) => e.kind === 'transition').map((e) => e.to);
      console.log(`install e2e: ${vm.firmware} transitions ${moves.join(' → ')}`);
      assert.deepEqual(moves, ['discovered', 'inventoried', 'approved', 'installing', 'installed']);
      const task = listDiskTasks(db, m.id, 1)[0];
      assert.equal(task.status, 'done');
      assert.ok(events.some((e) => e.kind === 'install' && e.data?.phase === 'downloading'), 'progress reached the timeline');
    }

    // Wipe the BIOS machine: it PXE-boots the wipe boot, erases, and is `discovered` again.
    const vm = VMS[0];
    const m = machineOf(vm)!;
    applyAction(db, m.id, 'wipe', { actorName: 'e2e', reason: 'test: wipe after install' });
    const tWipe = performance.now();
    const proc = await cycle(vm, argsOf[0], () => machineOf(vm)?.state === 'discovered', async () => {}, 2);
    proc.kill('SIGKILL');
    await proc.exited;
    console.log(`install e2e: wipe of the bios machine took ${secs(tWipe)} s`);
    const disk = disks.get(vm.name)!;
    const sf = spawnSync('sfdisk', ['-d', disk], { encoding: 'utf8' });
    assert.notEqual(sf.status, 0, `sfdisk still finds a partition table:\n${sf.stdout}`);
    assert.match(sf.stderr, /does not contain a recognized partition table/);
    const probe = spawnSync('blkid', ['-p', disk], { encoding: 'utf8' });
    assert.equal(probe.stdout.trim(), '', 'no filesystem or partition-table signature left');
    assert.equal(listDiskTasks(db, m.id, 1)[0].kind, 'wipe');
    assert.equal(listDiskTasks(db, m.id, 1)[0].status, 'done');
  } finally {
    store?.close();
    await lab.teardown();
  }
});
