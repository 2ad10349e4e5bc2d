// Full mode against real clients: busybox udhcpc and ISC dhclient, each in its own namespace on the
// zone's bridge, as a plain host, a UEFI PXE ROM (arch 7) and iPXE. What they received is read from
// their own scripts; what they sent is captured on the wire and must round-trip through the codec.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { capture, dhclient, jsonLines, logged, startTether, udhcpc, type Capture, type Datagram } from './fixtures/peers.ts';
import { clientKind } from './arch.ts';
import { BootfileName, MessageType, MSG, ServerId } from './options/basic.ts';
import { getOption } from './options/codec.ts';
import { decodePacket, encodePacket, hwAddr } from './packet.ts';

const SERVER = '10.253.10.1';
const mac = (n: number): string => `02:74:68:0a:00:0${n}`;

describe('full mode with real DHCP clients', () => {
  let lab: Lab;
  let tether: Spawned;
  let wire: Capture;
  let captured: Datagram[] = [];
  const ns: string[] = [];
  const started = Date.now();

  before(async () => {
    lab = new Lab('dcli');
    const srv = lab.ns('srv');
    lab.bridge(srv, 'zonea', `${SERVER}/24`);
    for (let n = 1; n <= 5; n++) {
      ns[n] = lab.ns(`c${n}`);
      lab.veth(ns[n], 'eth0', srv, `p${n}`, { bridgeB: 'zonea', macA: mac(n) });
    }
    wire = await capture(lab, srv, 'zonea', 'zonea');
    tether = await startTether(lab, srv, {
      db: `${lab.dir}/leases.db`,
      zones: [{ name: 'zone-a', mode: 'full', interfaces: ['zonea'], relays: [], pools: [{ subnet: '10.253.10.0/24', range: ['10.253.10.100', '10.253.10.149'], routers: [SERVER], leaseSeconds: 600 }] }],
    });
  });

  after(async () => {
    console.log(`# clients.lab: ${Date.now() - started} ms`);
    await lab?.teardown();
  });

  test('udhcpc as a plain host: an address, a mask, a router, and no boot file', () => {
    const lease = udhcpc(lab, ns[1]);
    assert.ok(lease);
    assert.equal(lease.ip, '10.253.10.100');
    assert.deepEqual([lease.serverid, lease.subnet, lease.router, lease.lease], [SERVER, '255.255.255.0', SERVER, '600']);
    assert.deepEqual([lease.boot_file, lease.vendor, lease.opt43], ['', '', '']);
  });

  test('udhcpc as a UEFI x64 PXE ROM (option 93 = 7): next-server and the TFTP iPXE binary', async () => {
    const lease = udhcpc(lab, ns[2], ['-V', 'PXEClient:Arch:00007:UNDI:003016', '-x', '93:0007']);
    assert.ok(lease);
    assert.deepEqual([lease.siaddr, lease.boot_file, lease.vendor, lease.opt43], [SERVER, 'ipxe.efi', 'PXEClient', '060108ff']);
    await logged(tether, new RegExp(`"msg":"dhcp ack".*"mac":"${mac(2)}"`));
    const seen = jsonLines(tether).filter((l) => l.event === 'client' && l.mac === mac(2));
    assert.deepEqual(seen.map((l) => [l.kind, l.arch, l.msgType, l.zone, l.ifname]), [['pxe', 7, 'discover', 'zone-a', 'zonea'], ['pxe', 7, 'request', 'zone-a', 'zonea']]);
  });

  test('udhcpc as iPXE (option 77 "iPXE", option 175): the HTTP script URL, never the TFTP binary', () => {
    const lease = udhcpc(lab, ns[3], ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '93:0000', '-x', '77:69505845', '-x', '175:130101']);
    assert.ok(lease);
    assert.equal(lease.boot_file, `http://${SERVER}:8080/boot/ipxe?mac=${mac(3)}`);
    assert.equal(lease.opt175, 'b00101', 'no-pxedhcp: do not wait for proxy offers');
  });

  test('dhclient as a BIOS PXE ROM: the BIOS binary and next-server', async () => {
    const lease = await dhclient(lab, ns[4], 'pxe', 'send vendor-class-identifier "PXEClient:Arch:00000:UNDI:002001";\nrequest subnet-mask, routers, bootfile-name;\n');
    assert.deepEqual([lease.ip, lease.serverid, lease.next, lease.filename, lease.vendor], ['10.253.10.103', SERVER, SERVER, 'undionly.kpxe', 'PXEClient']);
  });

  test('dhclient with user class iPXE: the script URL', async () => {
    const lease = await dhclient(lab, ns[5], 'ipxe', 'send user-class "iPXE";\nrequest subnet-mask, routers, bootfile-name;\n');
    assert.deepEqual([lease.ip, lease.serverid], ['10.253.10.104', SERVER]);
    // dhclient got the URL but keeps it from its script: it refuses values with shell-unsafe
    // characters ("suspect value in http://...?mac=... option - discarded"). The wire test below
    // checks the ACK itself.
    assert.equal(lease.filename, '');
  });

  test('every request the clients sent decodes, is classified, and re-encodes byte for byte', async () => {
    captured = await wire.stop();
    const requests = captured.filter((d) => d.dst.endsWith(':67'));
    assert.equal(requests.length, 10, 'five clients, DISCOVER and REQUEST each');
    const kinds = new Map<string, string>();
    for (const d of requests) {
      const r = decodePacket(d.payload);
      assert.ok(r.ok, `${d.src} > ${d.dst}`);
      assert.deepEqual(encodePacket(r.packet), d.payload);
      kinds.set(hwAddr(r.packet), clientKind(r.packet));
    }
    assert.deepEqual(Object.fromEntries(kinds), { [mac(1)]: 'plain', [mac(2)]: 'pxe', [mac(3)]: 'ipxe', [mac(4)]: 'pxe', [mac(5)]: 'ipxe' });
  });

  test('every reply on the wire came from the zone address and carried the boot file for its client', () => {
    const replies = captured.filter((d) => d.src.endsWith(':67')).map((d) => {
      const r = decodePacket(d.payload);
      assert.ok(r.ok);
      return r.packet;
    });
    assert.equal(replies.length, 10, 'an OFFER and an ACK each');
    const acks = new Map(replies.filter((p) => getOption(p.options, MessageType) === MSG.Ack).map((p) => [hwAddr(p), p]));
    const boot = (n: number): unknown => getOption(acks.get(mac(n))!.options, BootfileName);
    assert.deepEqual([1, 2, 3, 4, 5].map(boot), [undefined, 'ipxe.efi', `http://${SERVER}:8080/boot/ipxe?mac=${mac(3)}`, 'undionly.kpxe', `http://${SERVER}:8080/boot/ipxe?mac=${mac(5)}`]);
    assert.ok(replies.every((p) => getOption(p.options, ServerId) === SERVER));
    assert.doesNotMatch(tether.output(), /"level":"(warn|error)"/);
  });
});
