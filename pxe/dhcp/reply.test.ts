import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedPacket } from '../../test/fixtures/dhcp/captures.ts';
import { edk2Discover, httpBootDiscover, ipxeBootServerRequest, relayedPxeDiscover } from '../../test/fixtures/dhcp/firmware.ts';
import {
  BootfileName,
  DomainNameServers,
  LeaseTime,
  MaxMessageSize,
  MessageType,
  MSG,
  ParameterRequestList,
  Routers,
  ServerId,
  SubnetMask,
} from './options/basic.ts';
import { getOption, getSubOption } from './options/codec.ts';
import { PxeBootMenu, PxeDiscoveryControl, PxeVendorOptions, VendorClass } from './options/pxe.ts';
import { CircuitId, RelayAgentInfo } from './options/relay.ts';
import { decodePacket, encodePacket, type Packet } from './packet.ts';
import {
  echoOption,
  encodeReply,
  maxReplySize,
  replyDestination,
  replyFrom,
  withBootfile,
  withLease,
  withNextServer,
  withOption,
  withPxeDiscoveryControl,
  withServerId,
  withSubnet,
  withVendorClass,
  withYourIp,
  type ReplyRoute,
  type ReplyRouteInput,
} from './reply.ts';

function decoded(bytes: Uint8Array): Packet {
  const r = decodePacket(bytes);
  assert.ok(r.ok);
  return r.packet;
}

test('replyFrom copies what RFC 2131 table 3 says to copy', () => {
  const req = { ...decoded(relayedPxeDiscover()), secs: 9, ciaddr: '10.20.0.57' };
  const offer = replyFrom(req, MSG.Offer);
  assert.deepEqual(
    [offer.op, offer.htype, offer.hlen, offer.hops, offer.xid, offer.secs, offer.flags, offer.giaddr, offer.ciaddr],
    [2, req.htype, req.hlen, 0, req.xid, 0, req.flags, '10.20.0.1', '0.0.0.0'],
  );
  assert.deepEqual(offer.chaddr, req.chaddr);
  assert.equal(offer.framing, undefined, 'a reply is laid out afresh');
  assert.equal(replyFrom(req, MSG.Ack).ciaddr, '10.20.0.57', 'an ACK echoes ciaddr');
  assert.equal(replyFrom(req, MSG.Nak).ciaddr, '0.0.0.0');
  assert.equal(getOption(offer.options, MessageType), MSG.Offer);
});

test("the relay's option 82 is echoed unchanged, as the last option (RFC 3046 §2.2)", () => {
  const req = decoded(relayedPxeDiscover());
  const offer = replyFrom(req, MSG.Offer, withServerId('10.20.0.2'), withOption(VendorClass, 'PXEClient'));
  assert.deepEqual([...offer.options.keys()], [53, 54, 60, 82]);
  assert.deepEqual(offer.options.get(82), req.options.get(82));
  assert.equal(Buffer.from(getSubOption(offer.options, RelayAgentInfo, CircuitId)!).toString(), 'Gi1/0/12');
  assert.ok(!replyFrom(decoded(edk2Discover()), MSG.Offer).options.has(82), 'nothing to echo without a relay');
});

test('a BIOS proxy offer the way pixiecore and smee build it, to the captured ASRock ROM', () => {
  const req = decoded(capturedPacket('netboot-dhcp4', 1).bytes);
  const offer = replyFrom(
    req,
    MSG.Offer,
    withServerId('10.20.0.2'),
    withVendorClass('PXEClient'),
    echoOption(97),
    withPxeDiscoveryControl(),
    withNextServer('10.20.0.2'),
    withBootfile('undionly.kpxe'),
  );
  const back = decoded(encodePacket(offer));
  assert.equal(back.yiaddr, '0.0.0.0', 'proxyDHCP never assigns an address');
  assert.equal(back.siaddr, '10.20.0.2');
  assert.equal(back.file, 'undionly.kpxe');
  assert.equal(getOption(back.options, BootfileName), 'undionly.kpxe');
  assert.equal(getOption(back.options, VendorClass), 'PXEClient');
  assert.deepEqual(back.options.get(43), Uint8Array.of(6, 1, 8, 255), 'discovery control 8, closed by an end');
  assert.deepEqual(back.options.get(97), req.options.get(97), 'PXE clients expect 97 back');
  assert.deepEqual([...back.options.keys()], [53, 54, 60, 97, 43, 67]);
  assert.ok(!replyFrom(decoded(httpBootDiscover()), MSG.Offer, echoOption(97)).options.has(97), 'nothing to echo');
});

test('withPxeDiscoveryControl keeps the other PXE sub-options', () => {
  const menu = [{ type: 0x8000, description: 'Tether' }];
  const offer = replyFrom(
    decoded(edk2Discover()),
    MSG.Offer,
    withOption(PxeVendorOptions, new Map([[PxeBootMenu.code, PxeBootMenu.encode(menu)]])),
    withPxeDiscoveryControl(3),
  );
  assert.deepEqual(getSubOption(offer.options, PxeVendorOptions, PxeBootMenu), menu);
  assert.equal(getSubOption(offer.options, PxeVendorOptions, PxeDiscoveryControl), 3);
});

test('UEFI HTTP Boot gets HTTPClient and a URL too long for the file field', () => {
  const url = `http://10.20.0.2:8080/boot/${'x'.repeat(120)}.efi`;
  const offer = decoded(encodePacket(replyFrom(decoded(httpBootDiscover()), MSG.Offer, withVendorClass('HTTPClient'), withBootfile(url))));
  assert.equal(getOption(offer.options, VendorClass), 'HTTPClient');
  assert.equal(getOption(offer.options, BootfileName), url);
  assert.equal(offer.file, '', 'only option 67 can hold it');
  assert.equal(replyFrom(offer, MSG.Offer, withBootfile('x'.repeat(127))).file.length, 127);
});

test('a full DHCP offer: address, lease, subnet', () => {
  const offer = replyFrom(
    decoded(edk2Discover()),
    MSG.Offer,
    withYourIp('10.20.0.57'),
    withServerId('10.20.0.2'),
    withLease(3600),
    withSubnet('255.255.255.0', ['10.20.0.1'], ['10.20.0.2']),
  );
  assert.equal(offer.yiaddr, '10.20.0.57');
  assert.equal(getOption(offer.options, LeaseTime), 3600);
  assert.equal(getOption(offer.options, SubnetMask), '255.255.255.0');
  assert.deepEqual(getOption(offer.options, Routers), ['10.20.0.1']);
  assert.deepEqual(getOption(offer.options, DomainNameServers), ['10.20.0.2']);
  assert.equal(getOption(offer.options, ServerId), '10.20.0.2');
  const bare = replyFrom(decoded(edk2Discover()), MSG.Offer, withSubnet('255.255.0.0'));
  assert.deepEqual([...bare.options.keys()], [53, 1], 'no routers or DNS unless given');
});

test('replyDestination: RFC 2131 §4.1 and port 4011, from a table', () => {
  const base: ReplyRouteInput = {
    giaddr: '0.0.0.0',
    ciaddr: '0.0.0.0',
    flags: 0,
    msgType: MSG.Offer,
    srcAddr: '0.0.0.0',
    srcPort: 68,
    localPort: 67,
  };
  const table: [string, Partial<ReplyRouteInput>, ReplyRoute][] = [
    ['relayed: to the relay, port 67', { giaddr: '10.20.0.1', srcAddr: '10.20.0.1', srcPort: 67 }, { address: '10.20.0.1', port: 67, why: 'relay' }],
    ['relayed NAK: still to the relay', { giaddr: '10.20.0.1', msgType: MSG.Nak }, { address: '10.20.0.1', port: 67, why: 'relay' }],
    ['NAK: broadcast even with ciaddr', { msgType: MSG.Nak, ciaddr: '10.0.0.5' }, { address: '255.255.255.255', port: 68, why: 'nak' }],
    ['renewing client: unicast to ciaddr', { msgType: MSG.Ack, ciaddr: '10.0.0.5', srcAddr: '10.0.0.5' }, { address: '10.0.0.5', port: 68, why: 'client-address' }],
    ['broadcast flag (EDK2, BIOS PXE)', { flags: 0x8000 }, { address: '255.255.255.255', port: 68, why: 'broadcast-flag' }],
    ['no flag (iPXE): broadcast, no ARP entry to unicast with', {}, { address: '255.255.255.255', port: 68, why: 'no-arp' }],
    ['port 4011 from EDK2: back to 4011', { localPort: 4011, srcAddr: '10.0.0.5', srcPort: 4011, ciaddr: '10.0.0.5', msgType: MSG.Ack }, { address: '10.0.0.5', port: 4011, why: 'boot-server' }],
    ['port 4011 from iPXE: back to 68', { localPort: 4011, srcAddr: '10.0.0.5', srcPort: 68, msgType: MSG.Ack }, { address: '10.0.0.5', port: 68, why: 'boot-server' }],
    ['port 4011 from no address: the usual rules', { localPort: 4011, flags: 0x8000 }, { address: '255.255.255.255', port: 68, why: 'broadcast-flag' }],
  ];
  for (const [name, change, want] of table) assert.deepEqual(replyDestination({ ...base, ...change }), want, name);

  const req = decoded(ipxeBootServerRequest());
  const ack = replyFrom(req, MSG.Ack);
  const route = replyDestination({ ...ack, msgType: MSG.Ack, srcAddr: req.ciaddr, srcPort: 68, localPort: 4011 });
  assert.deepEqual(route, { address: '10.20.0.57', port: 68, why: 'boot-server' });
});

test('maxReplySize: option 57 counts the IP and UDP headers; below 576 or absent means 576', () => {
  const table: Array<[number | undefined, number]> = [[undefined, 548], [576, 548], [300, 548], [1472, 1444], [1500, 1472], [65280, 65252]];
  for (const [asked, want] of table) {
    const req = decoded(edk2Discover());
    const options = new Map(req.options);
    if (asked === undefined) options.delete(MaxMessageSize.code);
    else options.set(MaxMessageSize.code, MaxMessageSize.encode(asked));
    assert.equal(maxReplySize({ ...req, options }), want, String(asked));
  }
});

test('encodeReply: trims option 67 when the file field holds it, then what the client did not ask for', () => {
  const req = decoded(edk2Discover()); // option 57 = 1472, asks for 1, 3, 6, 43, 60, 66, 67, ...
  const small = { ...req, options: new Map(req.options).set(MaxMessageSize.code, MaxMessageSize.encode(576)).set(ParameterRequestList.code, Uint8Array.of(1, 67)) };
  const dns = Array.from({ length: 80 }, (_, i) => `10.9.0.${i}`); // 320 bytes: too many for 548
  const offer = replyFrom(small, MSG.Offer, withServerId('10.0.0.1'), withLease(60), withSubnet('255.255.255.0', ['10.0.0.1'], dns), withBootfile('undionly.kpxe'));
  const bytes = encodeReply(offer, small);
  assert.ok(bytes && bytes.length <= 548, `${bytes?.length} bytes`);
  const back = decoded(bytes);
  assert.deepEqual([back.file, back.options.has(BootfileName.code), back.options.has(DomainNameServers.code)], ['undionly.kpxe', false, false]);
  assert.deepEqual(getOption(back.options, Routers), ['10.0.0.1'], 'trimming stops once it fits');
  assert.ok(encodePacket(offer).length > 548);
  assert.deepEqual([getOption(back.options, ServerId), getOption(back.options, LeaseTime), getOption(back.options, SubnetMask)], ['10.0.0.1', 60, '255.255.255.0']);
  assert.equal(encodeReply(offer, req)?.length, encodePacket(offer).length, 'with room enough nothing is trimmed');
  const huge = replyFrom(small, MSG.Offer, withServerId('10.0.0.1'), withOption(VendorClass, 'x'.repeat(255)), withOption(RelayAgentInfo, new Map([[1, new Uint8Array(250)]])));
  assert.equal(encodeReply({ ...huge, options: new Map(huge.options).set(82, new Uint8Array(250)) }, { ...small, options: new Map(small.options).set(ParameterRequestList.code, Uint8Array.of(60)) }), undefined, 'what cannot be trimmed does not fit');
});
