// The server loop with stand-in sockets: every rule of proxy and full mode, relays, two zones and the
// failure paths, without a network. The same server against real clients runs in *.lab.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type dgram from 'node:dgram';
import { edk2Discover, httpBootDiscover, ipxeDiscover, relayedPxeDiscover } from '../../test/fixtures/dhcp/firmware.ts';
import type { Booter } from './boot.ts';
import { BootfileName, DomainNameServers, LeaseTime, MaxMessageSize, MessageType, MSG, ParameterRequestList, RequestedIp, ServerId } from './options/basic.ts';
import { getOption, getSubOption, setOption, type OptionCodec } from './options/codec.ts';
import { IpxeNoPxeDhcp, IpxeOptions } from './options/ipxe.ts';
import { ClientArch, PxeBootItem, PxeDiscoveryControl, PxeVendorOptions, VendorClass } from './options/pxe.ts';
import { decodePacket, encodePacket, type Packet } from './packet.ts';
import type { LeaseRecord, LeaseStore } from './pool.ts';
import { createDhcpServer, type ClientSeen, type DhcpServerOptions, type DhcpZone } from './server.ts';

type Sent = { ifname: string; port: number; to: string; packet: Packet; bytes: number };

class FakeSocket extends EventEmitter {
  readonly ifname: string;
  readonly port: number;
  readonly sent: Sent[];
  constructor(ifname: string, port: number, sent: Sent[]) {
    super();
    this.ifname = ifname;
    this.port = port;
    this.sent = sent;
  }
  send(buf: Uint8Array, port: number, address: string, cb: (err: Error | null) => void): void {
    const r = decodePacket(buf);
    assert.ok(r.ok, 'the server sent something that does not decode');
    this.sent.push({ ifname: this.ifname, port: this.port, to: `${address}:${port}`, packet: r.packet, bytes: buf.length });
    cb(null);
  }
  close(cb: () => void): void {
    cb();
  }
}

class MemoryStore implements LeaseStore {
  rows = new Map<string, LeaseRecord>();
  listLeases = (zone: string): LeaseRecord[] => [...this.rows.values()].filter((r) => r.zone === zone);
  putLease = (l: LeaseRecord): void => void this.rows.set(`${l.zone}/${l.ip}`, { ...l });
  deleteLease = (zone: string, ip: string): void => void this.rows.delete(`${zone}/${ip}`);
}

const tableBooter: Booter = {
  bootFor: (r) => (r.kind === 'pxe' ? { kind: 'tftp', file: r.arch.code === 7 ? 'ipxe.efi' : 'undionly.kpxe' } : { kind: 'http', url: `http://${r.serverIp}:8080/boot/ipxe?mac=${r.mac}` }),
};

const ZONE_A: DhcpZone = { name: 'zone-a', mode: 'full', interfaces: ['eth-a'], pools: [{ subnet: '10.253.1.0/24', range: ['10.253.1.100', '10.253.1.199'], routers: ['10.253.1.1'] }], relays: [] };
const ZONE_B: DhcpZone = { name: 'zone-b', mode: 'proxy', interfaces: ['eth-b'], pools: [], relays: [] };
const ADDRESSES: Record<string, string> = { 'eth-a': '10.253.1.1', 'eth-b': '10.253.2.1', 'eth-c': '10.253.3.1' };

async function serve(o: Partial<DhcpServerOptions> = {}) {
  const sent: Sent[] = [];
  const sockets = new Map<string, FakeSocket>();
  const logs: Array<{ level: string; msg: string } & Record<string, unknown>> = [];
  const seen: ClientSeen[] = [];
  const store = new MemoryStore();
  const server = createDhcpServer({
    zones: [ZONE_A, ZONE_B],
    booter: tableBooter,
    leases: store,
    observer: { onClient: (c) => void seen.push(c) },
    log: (level, msg, fields) => logs.push({ level, msg, ...fields }),
    now: () => 1_700_000_000_000,
    bind: async (ifname, port) => {
      const s = new FakeSocket(ifname, port, sent);
      sockets.set(`${ifname}:${port}`, s);
      return s as unknown as dgram.Socket;
    },
    interfaceAddress: (ifname) => ADDRESSES[ifname],
    ...o,
  });
  await server.start();
  /** Delivers a datagram to the socket of `ifname:port` and waits until the loop is done with it. */
  const deliver = async (ifname: string, port: number, bytes: Uint8Array, from = '0.0.0.0:68'): Promise<Sent | undefined> => {
    const before = sent.length;
    const [address, srcPort] = from.split(':');
    const s = sockets.get(`${ifname}:${port}`);
    assert.ok(s, `no socket on ${ifname}:${port}`);
    s.emit('message', Buffer.from(bytes), { address, port: Number(srcPort), family: 'IPv4', size: bytes.length });
    await new Promise((r) => setTimeout(r, 5));
    return sent.length > before ? sent.at(-1) : undefined;
  };
  return { server, sent, sockets, logs, seen, store, deliver };
}

function decoded(bytes: Uint8Array): Packet {
  const r = decodePacket(bytes);
  assert.ok(r.ok);
  return r.packet;
}

/** A request from firmware fixture bytes with options changed: [codec, value] sets, a number deletes. */
function edit(bytes: Uint8Array, changes: Array<[OptionCodec<any>, unknown] | number>, header: Partial<Packet> = {}): Uint8Array {
  let options = new Map(decoded(bytes).options);
  for (const c of changes) {
    if (typeof c === 'number') options.delete(c);
    else options = setOption(options, c[0], c[1]);
  }
  return encodePacket({ ...decoded(bytes), framing: undefined, options, ...header });
}

const PLAIN = [ClientArch.code, VendorClass.code, 94, 97, 77, 175];
const plainDiscover = (mac = 1): Uint8Array => edit(edk2Discover(), PLAIN, { chaddr: Uint8Array.of(2, 0, 0, 0, 0, mac), flags: 0 });
const type = (p: Packet | undefined): number | undefined => p && getOption(p.options, MessageType);

test('full: a plain client gets an address and nothing about booting', async () => {
  const t = await serve();
  const offer = await t.deliver('eth-a', 67, plainDiscover());
  assert.ok(offer);
  assert.deepEqual([offer.ifname, offer.port, offer.to], ['eth-a', 67, '255.255.255.255:68']);
  const p = offer.packet;
  assert.equal(type(p), MSG.Offer);
  assert.equal(p.yiaddr, '10.253.1.100');
  assert.equal(getOption(p.options, ServerId), '10.253.1.1');
  assert.equal(getOption(p.options, LeaseTime), 3600);
  assert.deepEqual([p.siaddr, p.file, p.options.has(VendorClass.code), p.options.has(BootfileName.code)], ['0.0.0.0', '', false, false]);
  assert.equal(t.seen.length, 0, 'the observer hears of boot clients only');
  const ack = await t.deliver('eth-a', 67, edit(plainDiscover(), [[MessageType, MSG.Request], [RequestedIp, p.yiaddr], [ServerId, '10.253.1.1']]));
  assert.equal(type(ack?.packet), MSG.Ack);
  assert.equal(ack?.packet.yiaddr, '10.253.1.100');
  assert.equal(t.store.rows.get('zone-a/10.253.1.100')?.state, 'bound');
  assert.deepEqual(t.logs.filter((l) => l.msg.startsWith('dhcp offer') || l.msg.startsWith('dhcp ack')).map((l) => [l.msg, l.rule]), [['dhcp offer', 'free-address'], ['dhcp ack', 'offered']]);
});

test('full: a UEFI PXE ROM gets its address and the TFTP iPXE binary for x64', async () => {
  const t = await serve();
  const p = (await t.deliver('eth-a', 67, edk2Discover()))!.packet;
  assert.equal(p.yiaddr, '10.253.1.100');
  assert.equal(p.siaddr, '10.253.1.1', 'next-server: the receiving interface');
  assert.equal(p.file, 'ipxe.efi');
  assert.equal(getOption(p.options, BootfileName), 'ipxe.efi');
  assert.equal(getOption(p.options, VendorClass), 'PXEClient');
  assert.equal(getSubOption(p.options, PxeVendorOptions, PxeDiscoveryControl), 8);
  assert.deepEqual(p.options.get(97), decoded(edk2Discover()).options.get(97));
  assert.deepEqual(t.seen, [{ mac: '52:54:00:12:34:56', zone: 'zone-a', ifname: 'eth-a', arch: t.seen[0].arch, kind: 'pxe', msgType: 'discover' }]);
  assert.equal(t.seen[0].arch.code, 7);
});

test('full: iPXE gets the HTTP script URL and is told not to wait for proxyDHCP', async () => {
  const t = await serve();
  const p = (await t.deliver('eth-a', 67, ipxeDiscover()))!.packet;
  assert.equal(getOption(p.options, BootfileName), 'http://10.253.1.1:8080/boot/ipxe?mac=52:54:00:12:34:56');
  assert.equal(p.siaddr, '10.253.1.1');
  assert.deepEqual(getSubOption(p.options, IpxeOptions, IpxeNoPxeDhcp), 1);
});

test('full: iPXE is never handed a TFTP file (boot loop): address only, logged as an error', async () => {
  const t = await serve({ booter: { bootFor: () => ({ kind: 'tftp', file: 'undionly.kpxe' }) } });
  const p = (await t.deliver('eth-a', 67, ipxeDiscover()))!.packet;
  assert.equal(p.yiaddr, '10.253.1.100');
  assert.deepEqual([p.file, p.options.has(BootfileName.code)], ['', false]);
  const line = t.logs.find((l) => l.msg === 'dhcp offer');
  assert.deepEqual([line?.level, line?.boot], ['error', 'ipxe-tftp-loop']);
});

test('full: REQUEST for another server is ignored silently; a wrong address is NAKed', async () => {
  const t = await serve();
  await t.deliver('eth-a', 67, plainDiscover());
  const other = await t.deliver('eth-a', 67, edit(plainDiscover(), [[MessageType, MSG.Request], [RequestedIp, '10.253.1.100'], [ServerId, '10.253.1.254']]));
  assert.equal(other, undefined);
  assert.equal(t.server.stats().drops['other-server'], 1);
  const nak = await t.deliver('eth-a', 67, edit(plainDiscover(2), [[MessageType, MSG.Request], [RequestedIp, '192.168.7.7']]));
  assert.equal(type(nak?.packet), MSG.Nak);
  assert.equal(nak?.to, '255.255.255.255:68');
  assert.equal(t.logs.find((l) => l.msg === 'dhcp nak')?.rule, 'wrong-network');
});

test('full: RELEASE frees, INFORM answers without an address, renewals are unicast', async () => {
  const t = await serve();
  await t.deliver('eth-a', 67, plainDiscover());
  await t.deliver('eth-a', 67, edit(plainDiscover(), [[MessageType, MSG.Request], [RequestedIp, '10.253.1.100']]));
  const renew = await t.deliver('eth-a', 67, edit(plainDiscover(), [[MessageType, MSG.Request]], { ciaddr: '10.253.1.100' }), '10.253.1.100:68');
  assert.deepEqual([type(renew?.packet), renew?.to, renew?.packet.ciaddr], [MSG.Ack, '10.253.1.100:68', '10.253.1.100']);
  const inform = await t.deliver('eth-a', 67, edit(plainDiscover(), [[MessageType, MSG.Inform]], { ciaddr: '10.253.1.100' }), '10.253.1.100:68');
  assert.deepEqual([type(inform?.packet), inform?.packet.yiaddr, inform?.packet.options.has(LeaseTime.code)], [MSG.Ack, '0.0.0.0', false]);
  assert.equal(await t.deliver('eth-a', 67, edit(plainDiscover(), [[MessageType, MSG.Release]], { ciaddr: '10.253.1.100' }), '10.253.1.100:68'), undefined);
  assert.equal(t.store.rows.get('zone-a/10.253.1.100')?.state, 'released');
  assert.equal(t.server.stats().releases, 1);
});

test('proxy: only boot clients are answered, never with an address', async () => {
  const t = await serve();
  assert.equal(await t.deliver('eth-b', 67, plainDiscover()), undefined);
  assert.equal(t.server.stats().drops['not-a-boot-client'], 1);
  const bios = (await t.deliver('eth-b', 67, edit(edk2Discover(), [[ClientArch, [0]], [VendorClass, 'PXEClient:Arch:00000:UNDI:002001']])))!;
  assert.equal(bios.ifname, 'eth-b');
  const p = bios.packet;
  assert.deepEqual([type(p), p.yiaddr, p.siaddr, p.file], [MSG.Offer, '0.0.0.0', '10.253.2.1', 'undionly.kpxe']);
  assert.equal(getOption(p.options, ServerId), '10.253.2.1');
  assert.equal(getOption(p.options, VendorClass), 'PXEClient');
  assert.equal(getSubOption(p.options, PxeVendorOptions, PxeDiscoveryControl), 8, 'BIOS: boot the file, skip discovery');
  assert.ok(!p.options.has(LeaseTime.code));
  const uefi = (await t.deliver('eth-b', 67, edk2Discover()))!.packet;
  assert.equal(uefi.file, 'ipxe.efi');
  assert.ok(!uefi.options.has(PxeVendorOptions.code), 'UEFI: no 43, so it asks port 4011 (pixiecore)');
  assert.equal(await t.deliver('eth-b', 67, edit(edk2Discover(), [[MessageType, MSG.Request], [ServerId, '10.253.2.9'], [RequestedIp, '10.253.2.50']])), undefined);
  assert.equal(t.server.stats().drops['proxy-assigns-no-address'], 1);
});

test('proxy: a boot server REQUEST on port 4011 is ACKed back to its source port', async () => {
  const t = await serve();
  const item = new Map([[PxeBootItem.code, PxeBootItem.encode({ type: 0, layer: 0 })]]);
  const req = edit(edk2Discover(), [[MessageType, MSG.Request], [PxeVendorOptions, item]], { ciaddr: '10.253.2.50', flags: 0 });
  const ack = (await t.deliver('eth-b', 4011, req, '10.253.2.50:4011'))!;
  assert.deepEqual([ack.ifname, ack.port, ack.to], ['eth-b', 4011, '10.253.2.50:4011']);
  assert.deepEqual([type(ack.packet), ack.packet.file, ack.packet.siaddr], [MSG.Ack, 'ipxe.efi', '10.253.2.1']);
  assert.deepEqual(getSubOption(ack.packet.options, PxeVendorOptions, PxeBootItem), { type: 0, layer: 0 }, '43.71 echoed');
  const ipxe = (await t.deliver('eth-b', 4011, edit(ipxeDiscover(), [[MessageType, MSG.Request]], { ciaddr: '10.253.2.51' }), '10.253.2.51:68'))!;
  assert.equal(ipxe.to, '10.253.2.51:68');
});

test('proxy: UEFI HTTP Boot gets the URL and HTTPClient in the proxy offer itself', async () => {
  const t = await serve();
  const p = (await t.deliver('eth-b', 67, httpBootDiscover()))!.packet;
  assert.equal(getOption(p.options, VendorClass), 'HTTPClient');
  assert.equal(getOption(p.options, BootfileName), 'http://10.253.2.1:8080/boot/ipxe?mac=52:54:00:12:34:56');
  assert.equal(p.yiaddr, '0.0.0.0');
});

test('relays: the pool is picked by giaddr, the reply goes to the relay with 82 echoed', async () => {
  const relayed: DhcpZone = { ...ZONE_A, relays: ['10.20.0.1'], pools: [...ZONE_A.pools, { subnet: '10.20.0.0/24', range: ['10.20.0.50', '10.20.0.60'] }] };
  const t = await serve({ zones: [relayed, ZONE_B] });
  const offer = (await t.deliver('eth-a', 67, relayedPxeDiscover(), '10.20.0.1:67'))!;
  assert.equal(offer.to, '10.20.0.1:67');
  assert.equal(offer.packet.yiaddr, '10.20.0.50');
  assert.deepEqual(offer.packet.options.get(82), decoded(relayedPxeDiscover()).options.get(82));
  assert.deepEqual(t.seen[0].relay, { giaddr: '10.20.0.1', circuitId: 'Gi1/0/12', remoteId: '00:1c:73:aa:bb:cc' });
  // A relay that is not listed: dropped, on any interface.
  const rogue = edit(relayedPxeDiscover(), [], { giaddr: '10.20.0.9' });
  assert.equal(await t.deliver('eth-a', 67, rogue, '10.20.0.9:67'), undefined);
  assert.equal(await t.deliver('eth-b', 67, rogue, '10.20.0.9:67'), undefined);
  assert.equal(t.server.stats().drops['relay-not-allowed'], 2);
  assert.equal(t.logs.filter((l) => l.reason === 'relay-not-allowed' && l.level === 'warn').length, 2);
});

test('two zones: each interface answers with its own address, on its own socket', async () => {
  const zoneC: DhcpZone = { name: 'zone-c', mode: 'full', interfaces: ['eth-c'], pools: [{ subnet: '10.253.3.0/24', range: ['10.253.3.100', '10.253.3.110'] }], relays: [] };
  const t = await serve({ zones: [ZONE_A, zoneC] });
  const a = (await t.deliver('eth-a', 67, edk2Discover()))!;
  const c = (await t.deliver('eth-c', 67, edk2Discover()))!;
  assert.deepEqual([a.ifname, a.packet.yiaddr, a.packet.siaddr, getOption(a.packet.options, ServerId)], ['eth-a', '10.253.1.100', '10.253.1.1', '10.253.1.1']);
  assert.deepEqual([c.ifname, c.packet.yiaddr, c.packet.siaddr, getOption(c.packet.options, ServerId)], ['eth-c', '10.253.3.100', '10.253.3.1', '10.253.3.1']);
  assert.deepEqual(t.seen.map((s) => [s.zone, s.ifname]), [['zone-a', 'eth-a'], ['zone-c', 'eth-c']]);
});

test('the loop survives garbage, a failing observer, a failing booter and a failing logger', async () => {
  let logCalls = 0;
  const t = await serve({
    observer: { onClient: () => { throw new Error('observer down'); } },
    booter: { bootFor: async () => { throw new Error('lifecycle down'); } },
  });
  assert.equal(await t.deliver('eth-a', 67, Uint8Array.of(1, 2, 3)), undefined);
  const warn = t.logs.find((l) => l.reason === 'undecodable');
  assert.deepEqual([warn?.level, warn?.ifname, warn?.detail], ['warn', 'eth-a', 'packet-too-short: 3 bytes, need at least 240']);
  const offer = await t.deliver('eth-a', 67, edk2Discover());
  assert.equal(offer?.packet.yiaddr, '10.253.1.100', 'full mode: the address still comes');
  assert.ok(t.logs.some((l) => l.msg === 'dhcp observer failed' && l.error === 'observer down'));
  assert.equal(t.logs.find((l) => l.msg === 'dhcp offer')?.boot, 'booter-failed');
  assert.equal(await t.deliver('eth-b', 67, edk2Discover()), undefined, 'proxy mode: nothing to offer');
  assert.equal(t.server.stats().drops['booter-failed'], 1);

  const quiet = await serve({ log: () => { logCalls++; throw new Error('log down'); } });
  assert.equal((await quiet.deliver('eth-a', 67, plainDiscover()))?.packet.yiaddr, '10.253.1.100');
  assert.ok(logCalls > 0);
});

test('option 57: the reply fits the client\'s maximum, trimming what it did not ask for', async () => {
  const dns = Array.from({ length: 40 }, (_, i) => `10.9.0.${i + 1}`);
  const zone: DhcpZone = { ...ZONE_A, pools: [{ ...ZONE_A.pools[0], dns }] };
  const url = `http://10.253.1.1:8080/${'x'.repeat(200)}`;
  const t = await serve({ zones: [zone], booter: { bootFor: () => ({ kind: 'http', url }) } });
  const ask = (maxSize: number | undefined): Uint8Array =>
    edit(ipxeDiscover(), [[ParameterRequestList, [1, 3, 67]], ...(maxSize ? [[MaxMessageSize, maxSize] as [OptionCodec<number>, number]] : [57])]);
  const small = (await t.deliver('eth-a', 67, ask(576)))!;
  assert.ok(small.bytes <= 548, `${small.bytes} bytes`);
  assert.equal(getOption(small.packet.options, BootfileName), url);
  assert.ok(!small.packet.options.has(DomainNameServers.code), 'option 6 was not asked for');
  const large = (await t.deliver('eth-a', 67, ask(1500)))!;
  assert.ok(large.bytes > 548);
  assert.equal(getOption(large.packet.options, DomainNameServers)?.length, 40);
  const none = (await t.deliver('eth-a', 67, ask(undefined)))!;
  assert.ok(none.bytes <= 548, 'no option 57: the RFC minimum, 576 bytes of IP datagram');
});

test('start refuses an interface without an address, or one interface in two zones', async () => {
  await assert.rejects(serve({ zones: [{ ...ZONE_A, interfaces: ['eth-x'] }] }), /interface eth-x of zone zone-a has no IPv4 address/);
  await assert.rejects(serve({ zones: [ZONE_A, { ...ZONE_B, interfaces: ['eth-a'] }] }), /interface eth-a is in zones zone-a and zone-b/);
  await assert.rejects(serve({ zones: [{ ...ZONE_A, pools: [] }] }), /full mode but has no pools/);
  let closed = 0;
  const failing = createDhcpServer({
    zones: [ZONE_A, ZONE_B],
    booter: tableBooter,
    leases: new MemoryStore(),
    log: () => {},
    interfaceAddress: (ifname) => ADDRESSES[ifname],
    bind: async (ifname, port) => {
      if (ifname === 'eth-b') throw new Error('EADDRINUSE');
      const s = new FakeSocket(ifname, port, []);
      s.close = (cb) => { closed++; cb(); };
      return s as unknown as dgram.Socket;
    },
  });
  await assert.rejects(failing.start(), /EADDRINUSE/);
  assert.equal(closed, 1, 'the socket already bound is closed again');
});

test('stats count offers, acks, naks and drops by reason', async () => {
  const t = await serve();
  await t.deliver('eth-a', 67, plainDiscover());
  await t.deliver('eth-a', 67, edit(plainDiscover(), [[MessageType, MSG.Request], [RequestedIp, '10.253.1.100']]));
  await t.deliver('eth-a', 67, edit(plainDiscover(3), [[MessageType, MSG.Request], [RequestedIp, '10.253.1.100']]));
  await t.deliver('eth-b', 67, plainDiscover());
  await t.deliver('eth-a', 67, edit(plainDiscover(), [53]));
  assert.deepEqual(t.server.stats(), {
    received: 5, offers: 1, acks: 1, naks: 1, releases: 0, declines: 0, drops: { 'not-a-boot-client': 1, bootp: 1 },
  });
});
