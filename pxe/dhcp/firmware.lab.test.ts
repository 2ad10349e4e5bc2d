// Full mode with real firmware under qemu (TCG): SeaBIOS's NIC option ROM (iPXE 2019, which asks as
// iPXE at once) and OVMF's own EDK2 PXE client (UEFI x64), both booted at the same time on Tether's
// bridge. A router namespace sends IPv6 router adverts (dnsmasq, RA only) so iPXE does not wait
// ~13 s for them. Nothing serves TFTP or HTTP here: the firmware shows what it was told, then fails.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../appliance/store/store.ts';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { jsonLines, startTether } from './fixtures/peers.ts';

const SERVER = '10.253.70.1';
const IPXE_MAC = '52:54:00:46:00:01';
const EDK2_MAC = '52:54:00:46:00:02';
const plain = (s: string): string => s.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, '').replace(/\r/g, '');

describe('full mode with real firmware', () => {
  let lab: Lab;
  let tether: Spawned;
  let ipxe: Spawned;
  let edk2: Spawned;
  const started = Date.now();

  before(async () => {
    lab = new Lab('dfw');
    const hub = lab.ns('hub');
    const router = lab.ns('router');
    lab.bridge(hub, 'br0', `${SERVER}/24`);
    lab.veth(router, 'eth0', hub, 'prouter', { bridgeB: 'br0' });
    lab.exec(router, 'ip', ['-6', 'addr', 'add', 'fd53::1/64', 'dev', 'eth0', 'nodad']);
    lab.spawn(router, 'dnsmasq', ['--no-daemon', '--conf-file=/dev/null', '--port=0', '--interface=eth0', '--bind-interfaces', '--enable-ra', '--dhcp-range=fd53::,ra-only', `--pid-file=${join(lab.dir, 'ra.pid')}`], { logName: 'ra' });
    lab.tap(hub, 'tap0', 'br0');
    lab.tap(hub, 'tap1', 'br0');
    tether = await startTether(lab, hub, {
      db: join(lab.dir, 'leases.db'),
      zones: [{ name: 'zone-a', mode: 'full', interfaces: ['br0'], relays: [], pools: [{ subnet: '10.253.70.0/24', range: ['10.253.70.100', '10.253.70.110'] }] }],
    });
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', join(lab.dir, 'vars.fd'));
    const qemu = (tap: string, mac: string, extra: string[], nic: string): Spawned =>
      lab.spawn(hub, 'qemu-system-x86_64', ['-accel', 'tcg', '-m', '256', '-no-reboot', '-nographic', '-boot', 'n',
        '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, ...extra, '-device', `virtio-net-pci,netdev=n0,mac=${mac}${nic}`], { logName: `qemu-${tap}` });
    ipxe = qemu('tap0', IPXE_MAC, [], '');
    // romfile= drops the NIC's iPXE ROM: OVMF's own PXE client does the asking.
    edk2 = qemu('tap1', EDK2_MAC, ['-machine', 'q35', '-drive', 'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd', '-drive', `if=pflash,format=raw,file=${join(lab.dir, 'vars.fd')}`], ',romfile=');
    await Promise.all([ipxe.waitFor(/http:\/\/\S+\.\.\. /, 75_000), edk2.waitFor(/NBP filename is \S+\r?\n/, 75_000)]);
    console.log(`# both firmwares had their boot files after ${Date.now() - started} ms`);
    ipxe.kill('SIGKILL');
    edk2.kill('SIGKILL');
  });

  after(async () => {
    console.log(`# firmware.lab: ${Date.now() - started} ms`);
    await lab?.teardown();
  });

  test('iPXE (SeaBIOS ROM) gets an address from the pool and the HTTP script URL straight away', () => {
    const out = plain(ipxe.output());
    assert.match(out, /net0: 10\.253\.70\.1\d\d\/255\.255\.255\.0\n/);
    assert.match(out, new RegExp(`Next server: ${SERVER.replaceAll('.', '\\.')}\\n`));
    assert.match(out, new RegExp(`Filename: http://${SERVER.replaceAll('.', '\\.')}:8080/boot/ipxe\\?mac=${IPXE_MAC}\\n`));
    const acks = jsonLines(tether).filter((l) => l.msg === 'dhcp ack' && l.mac === IPXE_MAC);
    assert.deepEqual(acks.map((l) => [l.kind, l.boot, l.via]), [['ipxe', 'ipxe-http', 'no-arp']]);
  });

  test('EDK2 PXE (OVMF, UEFI x64) gets an address from the pool, next-server and ipxe.efi', () => {
    const out = plain(edk2.output());
    assert.match(out, /Station IP address is 10\.253\.70\.1\d\d\n/);
    assert.match(out, new RegExp(`Server IP address is ${SERVER.replaceAll('.', '\\.')}\\n`));
    assert.match(out, /NBP filename is ipxe\.efi\n/);
    const acks = jsonLines(tether).filter((l) => l.msg === 'dhcp ack' && l.mac === EDK2_MAC);
    assert.deepEqual(acks.map((l) => [l.kind, l.arch, l.boot, l.via]), [['pxe', 7, 'pxe-tftp', 'broadcast-flag']]);
  });

  test('both were seen as boot clients and bound in the lease store', () => {
    const seen = jsonLines(tether).filter((l) => l.event === 'client' && l.msgType === 'request').map((l) => l.mac);
    assert.deepEqual(new Set(seen), new Set([IPXE_MAC, EDK2_MAC]));
    const store = Store.open(join(lab.dir, 'leases.db'));
    try {
      assert.deepEqual(store.listLeases('zone-a').map((l) => [l.mac, l.state]).sort(), [[IPXE_MAC, 'bound'], [EDK2_MAC, 'bound']]);
    } finally {
      store.close();
    }
    assert.deepEqual(jsonLines(tether).filter((l) => l.level === 'warn' || l.level === 'error'), []);
  });
});
