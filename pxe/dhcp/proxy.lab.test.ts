// proxyDHCP beside the site's own DHCP server (dnsmasq) on one bridge, with real firmware as the
// client: SeaBIOS's NIC option ROM (iPXE 2019), OVMF's own EDK2 PXE client, and OVMF's UEFI HTTP
// Boot, under qemu (TCG). The address must come from dnsmasq and the boot file from Tether. dnsmasq
// also sends IPv6 router adverts so iPXE does not wait ~13 s for them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { dhclient, jsonLines, logged, startDnsmasq, startTether } from './fixtures/peers.ts';

const SITE = '10.253.50.1';
const TETHER = '10.253.50.2';
const SITE_RANGE = /10\.253\.50\.(5\d|60)\b/;
const plain = (s: string): string => s.replace(/\x1b\[[0-9;?=]*[A-Za-z]/g, '').replace(/\r/g, '');

describe('proxy mode beside dnsmasq, with real firmware', () => {
  let lab: Lab;
  let hub: string;
  let tether: Spawned;
  let dnsmasq: Spawned;
  const started = Date.now();

  before(async () => {
    lab = new Lab('dproxy');
    hub = lab.ns('hub');
    const srv = lab.ns('srv');
    const site = lab.ns('site');
    lab.bridge(hub, 'br0');
    lab.veth(srv, 'zonea', hub, 'psrv', { bridgeB: 'br0', cidrA: `${TETHER}/24` });
    lab.veth(site, 'eth0', hub, 'psite', { bridgeB: 'br0', cidrA: `${SITE}/24` });
    lab.exec(site, 'ip', ['-6', 'addr', 'add', 'fd53::1/64', 'dev', 'eth0', 'nodad']);
    lab.tap(hub, 'tap0', 'br0');
    lab.tap(hub, 'tap1', 'br0');
    lab.tap(hub, 'tap2', 'br0');
    tether = await startTether(lab, srv, { db: join(lab.dir, 'leases.db'), zones: [{ name: 'zone-a', mode: 'proxy', interfaces: ['zonea'], pools: [], relays: [] }] });
    dnsmasq = await startDnsmasq(lab, site, 'eth0', [`--dhcp-range=10.253.50.50,10.253.50.60,255.255.255.0,1h`, '--enable-ra', '--dhcp-range=fd53::,ra-only']);
  });

  after(async () => {
    console.log(`# proxy.lab: ${Date.now() - started} ms`);
    await lab?.teardown();
  });

  const ovmf = (vars: string): string[] => {
    copyFileSync('/usr/share/OVMF/OVMF_VARS_4M.fd', join(lab.dir, vars));
    return ['-machine', 'q35', '-drive', 'if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd', '-drive', `if=pflash,format=raw,file=${join(lab.dir, vars)}`];
  };
  const qemu = (tap: string, mac: string, extra: string[]): Spawned =>
    lab.spawn(hub, 'qemu-system-x86_64', [
      '-accel', 'tcg', '-m', '256', '-smp', '1', '-no-reboot', '-nographic', '-boot', 'n',
      '-netdev', `tap,id=n0,ifname=${tap},script=no,downscript=no`, ...extra, '-device', `virtio-net-pci,netdev=n0,mac=${mac}${extra.length ? ',romfile=' : ''}`,
    ], { logName: `qemu-${tap}` });

  test('SeaBIOS + iPXE ROM: address from dnsmasq, next-server and script URL from the proxy offer', async () => {
    const mac = '52:54:00:35:00:01';
    const t0 = Date.now();
    const vm = qemu('tap0', mac, []);
    await vm.waitFor(/Filename: \S+/, 60_000);
    await vm.waitFor(/http:\/\/\S+\.\.\. /, 30_000);
    console.log(`# iPXE had its boot file after ${Date.now() - t0} ms`);
    vm.kill('SIGKILL');
    const console_ = plain(vm.output());
    const address = /net0: (10\.253\.50\.\d+)\/255\.255\.255\.0/.exec(console_)?.[1];
    assert.match(String(address), SITE_RANGE, console_);
    assert.match(console_, new RegExp(`Next server: ${TETHER.replaceAll('.', '\\.')}\\n`));
    assert.match(console_, new RegExp(`Filename: http://${TETHER.replaceAll('.', '\\.')}:8080/boot/ipxe\\?mac=${mac}\\n`));
    assert.match(dnsmasq.output(), new RegExp(`DHCPACK\\(eth0\\) ${address} ${mac}`));
    const offers = jsonLines(tether).filter((l) => l.mac === mac && l.msg === 'dhcp offer');
    assert.ok(offers.length >= 1);
    assert.ok(offers.every((l) => l.rule === 'proxy-offer' && l.yiaddr === '0.0.0.0' && l.kind === 'ipxe' && l.boot === 'ipxe-http'));
  });

  test('OVMF (EDK2 PXE): address from dnsmasq, ipxe.efi from the boot server ACK on port 4011', async () => {
    const mac = '52:54:00:35:00:02';
    const t0 = Date.now();
    const vm = qemu('tap1', mac, ovmf('vars-pxe.fd'));
    await vm.waitFor(/NBP filename is \S+\r?\n/, 75_000);
    console.log(`# EDK2 had its boot file after ${Date.now() - t0} ms`);
    vm.kill('SIGKILL');
    const console_ = plain(vm.output());
    assert.match(/Station IP address is (\S+)/.exec(console_)?.[1] ?? '', SITE_RANGE, console_);
    assert.match(console_, new RegExp(`Server IP address is ${TETHER.replaceAll('.', '\\.')}\\n`));
    assert.match(console_, /NBP filename is ipxe\.efi\n/);
    const lines = jsonLines(tether).filter((l) => l.mac === mac);
    const offer = lines.find((l) => l.msg === 'dhcp offer');
    assert.deepEqual([offer?.rule, offer?.yiaddr, offer?.kind, offer?.arch], ['proxy-offer', '0.0.0.0', 'pxe', 7]);
    const ack = lines.find((l) => l.msg === 'dhcp ack');
    assert.ok(ack, 'EDK2 asked the boot server on port 4011');
    assert.equal(ack.port, 4011);
    assert.equal(ack.rule, 'boot-server-ack');
    assert.match(String(ack.from), /:4011$/, 'EDK2 asks from port 4011');
    assert.equal(ack.to, ack.from, 'answered to its source');
    const seen = jsonLines(tether).filter((l) => l.event === 'client' && l.mac === mac).map((l) => l.msgType);
    assert.ok(seen.includes('discover') && seen.includes('request'));
  });

  test('OVMF UEFI HTTP Boot: address from dnsmasq, the URL from the proxy offer itself (it never asks 4011)', async () => {
    const mac = '52:54:00:35:00:03';
    const t0 = Date.now();
    // OVMF tries HTTP Boot only after PXEv4 and PXEv6 gave up (~60 s); its fw_cfg knobs skip them.
    const noPxe = ['-fw_cfg', 'name=opt/org.tianocore/IPv4PXESupport,string=n', '-fw_cfg', 'name=opt/org.tianocore/IPv6PXESupport,string=n'];
    const vm = qemu('tap2', mac, [...ovmf('vars-http.fd'), ...noPxe]);
    await vm.waitFor(/URI: \S+\r?\n/, 75_000);
    console.log(`# EDK2 HTTP Boot had its URL after ${Date.now() - t0} ms`);
    vm.kill('SIGKILL');
    const console_ = plain(vm.output());
    assert.match(console_, />>Start HTTP Boot over IPv4/);
    assert.match(/Station IP address is (\S+)/.exec(console_)?.[1] ?? '', SITE_RANGE, console_);
    assert.match(console_, new RegExp(`URI: http://${TETHER.replaceAll('.', '\\.')}:8080/boot/ipxe\\?mac=${mac}\\n`));
    const offer = jsonLines(tether).find((l) => l.mac === mac && l.msg === 'dhcp offer');
    assert.deepEqual([offer?.kind, offer?.arch, offer?.rule, offer?.boot, offer?.yiaddr], ['http-boot', 16, 'proxy-offer', 'http-boot-url', '0.0.0.0']);
    assert.equal(jsonLines(tether).filter((l) => l.mac === mac && l.port === 4011).length, 0);
  });

  test('a plain client is left to the site DHCP: dnsmasq answers, Tether stays silent', async () => {
    const c = lab.ns('plain');
    lab.veth(c, 'eth0', hub, 'pplain', { bridgeB: 'br0', macA: '02:74:68:32:00:01' });
    const lease = await dhclient(lab, c, 'plain', 'request subnet-mask, routers;\n');
    assert.match(lease.ip, SITE_RANGE);
    assert.equal(lease.serverid, SITE);
    const line = await logged(tether, /"msg":"dhcp drop: not-a-boot-client"[^\n]*02:74:68:32:00:01/);
    assert.match(line, /"level":"debug"/);
    assert.equal(jsonLines(tether).filter((l) => l.mac === '02:74:68:32:00:01' && l.msg !== 'dhcp drop: not-a-boot-client').length, 0);
  });
});
