// Golden tests against real traffic (shared/captures/dhcp-external): every DHCPv4 packet decodes,
// agrees with what the capture's own decoder recorded, and re-encodes byte for byte.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedPacket, loadCaptures, type CapturedPacket } from '../../test/fixtures/dhcp/captures.ts';
import { clientArch, clientKind } from './arch.ts';
import {
  ClientId,
  HostName,
  MaxMessageSize,
  MessageType,
  MSG,
  ParameterRequestList,
  RequestedIp,
  ServerId,
} from './options/basic.ts';
import { getOption, getSubOption } from './options/codec.ts';
import {
  ClientArch,
  ClientMachineId,
  ClientNdi,
  PxeBootMenu,
  PxeBootServers,
  PxeDiscoveryControl,
  PxeMenuPrompt,
  PxeVendorOptions,
  VendorClass,
} from './options/pxe.ts';
import { UserClass } from './options/userclass.ts';
import { decodePacket, encodePacket, hwAddr, type Packet } from './packet.ts';

const hex = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('hex'));

function decoded(c: CapturedPacket): Packet {
  const r = decodePacket(c.bytes);
  assert.ok(r.ok, r.ok ? '' : `${c.capture} frame ${c.frame}: ${r.error.code} ${r.error.message}`);
  return r.packet;
}

const messageTypes: Record<string, number | undefined> = {
  BOOTREQUEST: undefined,
  DISCOVER: MSG.Discover,
  OFFER: MSG.Offer,
  REQUEST: MSG.Request,
  ACK: MSG.Ack,
  RELEASE: MSG.Release,
  LEASEQUERY: MSG.LeaseQuery,
  LEASEUNKNOWN: MSG.LeaseUnknown,
  LEASEACTIVE: MSG.LeaseActive,
};

/** Each fact the capture's decoder recorded, read back from our packet. An unknown key fails,
 *  so no recorded fact goes unchecked. */
const facts: Record<string, (p: Packet, c: CapturedPacket) => unknown> = {
  msgtype: (p) => Object.keys(messageTypes).find((k) => messageTypes[k] === getOption(p.options, MessageType)),
  xid: (p) => p.xid.toString(16).padStart(8, '0'),
  chaddr: (p) => hwAddr(p),
  flags: (p) => p.flags,
  broadcast_flag: (p) => (p.flags & 0x8000) !== 0,
  ciaddr: (p) => p.ciaddr,
  yiaddr: (p) => p.yiaddr,
  siaddr: (p) => p.siaddr,
  giaddr: (p) => p.giaddr,
  hops: (p) => p.hops,
  secs: (p) => p.secs,
  sname: (p) => p.sname,
  file: (p) => p.file,
  length: (_p, c) => c.bytes.length,
  options_in_order: (p) => [...p.options.keys()],
  opt50_requested_ip: (p) => getOption(p.options, RequestedIp),
  opt54_server_id: (p) => getOption(p.options, ServerId),
  opt55_prl: (p) => getOption(p.options, ParameterRequestList),
  opt57_max_msg_size: (p) => getOption(p.options, MaxMessageSize),
  opt60_vendor_class: (p) => getOption(p.options, VendorClass),
  opt60: (p) => getOption(p.options, VendorClass),
  opt61_client_id: (p) => hex(getOption(p.options, ClientId)),
  opt12_hostname: (p) => getOption(p.options, HostName),
  opt93_arch: (p) => getOption(p.options, ClientArch),
  opt94_ndi: (p) => hex(p.options.get(ClientNdi.code)),
  opt97_uuid: (p) => hex(p.options.get(ClientMachineId.code)),
  opt43: (p) => Object.fromEntries([...(getOption(p.options, PxeVendorOptions) ?? [])].map(([k, v]) => [String(k), hex(v)])),
  opt77_user_class: (p) => {
    const v = getOption(p.options, UserClass);
    return v?.form === 'rfc3004' ? { format: 'rfc3004', values: v.classes, hex: hex(p.options.get(UserClass.code)) } : v;
  },
};

test('golden: every DHCP packet of every capture decodes and re-encodes byte for byte', () => {
  const all = loadCaptures();
  assert.ok(all.length >= 60, `only ${all.length} DHCP packets found`);
  for (const c of all) {
    const p = decoded(c);
    assert.deepEqual(encodePacket(p), c.bytes, `${c.capture} frame ${c.frame}`);
  }
});

test('golden: what the captures recorded about each packet, we decode too', () => {
  for (const c of loadCaptures()) {
    const p = decoded(c);
    for (const [key, want] of Object.entries(c.decoded)) {
      const read = facts[key];
      assert.ok(read, `no check for recorded fact ${key}`);
      assert.deepEqual(read(p, c), want, `${c.capture} frame ${c.frame}: ${key}`);
    }
  }
});

test('golden: laid out afresh, every captured packet still decodes to the same content', () => {
  for (const c of loadCaptures()) {
    const p = decoded(c);
    const again = decodePacket(encodePacket({ ...p, framing: undefined }));
    assert.ok(again.ok);
    const { framing: _a, ...content } = again.packet;
    const { framing: _b, ...want } = p;
    assert.deepEqual(content, want, `${c.capture} frame ${c.frame}`);
  }
});

test('golden: a real BIOS PXE ROM (ASRock, Pixiecore capture)', () => {
  const p = decoded(capturedPacket('netboot-dhcp4', 1));
  assert.equal(getOption(p.options, VendorClass), 'PXEClient:Arch:00000:UNDI:002001');
  assert.equal(getOption(p.options, MaxMessageSize), 1260);
  assert.deepEqual(getOption(p.options, ClientNdi), { type: 1, major: 2, minor: 1 });
  assert.deepEqual(getOption(p.options, ClientMachineId)?.type, 0);
  assert.equal(p.flags, 0x8000);
  assert.equal(clientKind(p), 'pxe');
  assert.deepEqual(clientArch(p), { code: 0, name: 'x86 BIOS', firmware: 'bios', cpu: 'x86', http: false });
  assert.equal(capturedPacket('netboot-dhcp4', 1).bytes.length, 548, 'padded to 548 bytes, 200 of them after the end');
});

test("golden: Pixiecore's proxy offer carries PXEClient and boot menu sub-options in 43", () => {
  const p = decoded(capturedPacket('netboot-dhcp4', 2));
  assert.equal(getOption(p.options, MessageType), MSG.Offer);
  assert.equal(p.yiaddr, '0.0.0.0', 'a proxy offer assigns no address');
  assert.equal(getOption(p.options, VendorClass), 'PXEClient');
  assert.equal(getSubOption(p.options, PxeVendorOptions, PxeDiscoveryControl), 3);
  assert.deepEqual(getSubOption(p.options, PxeVendorOptions, PxeBootServers), [{ type: 0x8000, addresses: ['192.168.16.10'] }]);
  assert.deepEqual(getSubOption(p.options, PxeVendorOptions, PxeBootMenu), [{ type: 0x8000, description: 'Pixiecore' }]);
  assert.deepEqual(getSubOption(p.options, PxeVendorOptions, PxeMenuPrompt), { timeout: 0, prompt: 'Pixiecore' });
  assert.deepEqual(p.options.get(ClientMachineId.code), decoded(capturedPacket('netboot-dhcp4', 1)).options.get(97), '97 echoed');
});

test('golden: relayed requests carry giaddr and come from the relay', () => {
  const linux = decoded(capturedPacket('netboot-dhcp4', 4));
  assert.deepEqual([linux.giaddr, linux.hops, getOption(linux.options, HostName)], ['192.168.40.1', 1, 'sibeal']);
  assert.equal(clientKind(linux), 'plain');
  const relayed = loadCaptures().filter((c) => c.capture.startsWith('tcpdump-dhcp-rfc4388') && c.role === 'request');
  assert.ok(relayed.length > 10);
  for (const c of relayed) {
    assert.ok(c.udp.includes(':67 >'), 'relays send from port 67');
    assert.notEqual(decoded(c).giaddr, '0.0.0.0');
  }
  const pi = decoded(capturedPacket('tcpdump-dhcp-mud', 1));
  assert.deepEqual([pi.giaddr, pi.ciaddr, getOption(pi.options, MaxMessageSize)], ['62.12.173.121', '62.12.173.123', 1472]);
  assert.ok(pi.options.has(161), 'an option we do not know (MUD URL) is kept');
});

test('golden: RFC 3004 user classes; misaligned leasequeries decode as plain BOOTP', () => {
  const p = decoded(capturedPacket('tcpdump-dhcp-rfc3004', 1));
  assert.deepEqual(getOption(p.options, UserClass), { form: 'rfc3004', classes: ['subopt1', 'subopt2-123456789', 'subopt3-12'] });
  assert.equal(clientKind(p), 'plain');
  for (const frame of [43, 44]) {
    // tcpdump's malformed-packet tests: the cookie sits a byte or two late, so no options.
    const bootp = decoded(capturedPacket('tcpdump-dhcp-rfc4388', frame));
    assert.equal(bootp.options.size, 0);
    assert.ok(bootp.framing?.vend);
  }
  assert.equal(getOption(decoded(capturedPacket('tcpdump-dhcp-rfc4388', 9)).options, MessageType), MSG.LeaseQuery);
});
