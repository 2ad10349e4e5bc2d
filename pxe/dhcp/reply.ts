// Replies as pure functions of the request, built from small modifiers (smee / insomniacslk
// style), and where a reply must be sent (RFC 2131 §4.1):
//   replyFrom(req, MSG.Offer, withServerId(ip), withNextServer(ip), withBootfile('undionly.kpxe'))
import { BROADCAST_IP, ZERO_IP } from '../net/ipv4.ts';
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
  type MessageTypeCode,
} from './options/basic.ts';
import { copyBytes, getOption, setOption, type OptionCodec } from './options/codec.ts';
import { PXE_DISCOVERY, PxeDiscoveryControl, PxeVendorOptions, VendorClass, type HTTP_CLIENT, type PXE_CLIENT } from './options/pxe.ts';
import { RelayAgentInfo } from './options/relay.ts';
import { BROADCAST_FLAG, encodePacket, OP, type Packet } from './packet.ts';

export const SERVER_PORT = 67;
export const CLIENT_PORT = 68;
/** PXE boot server discovery (PXE 2.1): clients that already have an address ask here. */
export const PXE_PORT = 4011;

/** Receives the reply so far and the request it answers; returns the reply changed. */
export type Modifier = (reply: Packet, request: Packet) => Packet;

/**
 * RFC 2131 §4.3.1 table 3: xid, flags, giaddr, chaddr (and its htype/hlen) come from the request,
 * ciaddr only in an ACK, hops and secs are zero. Option 53 goes first, then what the modifiers add;
 * a relay's option 82 is echoed last, as RFC 3046 §2.2 asks.
 */
export function replyFrom(request: Packet, type: MessageTypeCode, ...modifiers: Modifier[]): Packet {
  let reply: Packet = {
    op: OP.Reply,
    htype: request.htype,
    hlen: request.hlen,
    hops: 0,
    xid: request.xid,
    secs: 0,
    flags: request.flags,
    ciaddr: type === MSG.Ack ? request.ciaddr : ZERO_IP,
    yiaddr: ZERO_IP,
    siaddr: ZERO_IP,
    giaddr: request.giaddr,
    chaddr: copyBytes(request.chaddr),
    sname: '',
    file: '',
    options: new Map([[MessageType.code, MessageType.encode(type)]]),
  };
  for (const modify of modifiers) reply = modify(reply, request);
  const relayInfo = request.options.get(RelayAgentInfo.code);
  if (relayInfo === undefined) return reply;
  const options = new Map(reply.options);
  options.delete(RelayAgentInfo.code);
  return { ...reply, options: options.set(RelayAgentInfo.code, copyBytes(relayInfo)) };
}

export function withOption<T>(codec: OptionCodec<T>, value: T): Modifier {
  return (reply) => ({ ...reply, options: setOption(reply.options, codec, value) });
}

/** Copies option `code` from the request as it came, if present (e.g. 97, which PXE clients
 *  expect back in a proxy offer). */
export function echoOption(code: number): Modifier {
  return (reply, request) => {
    const data = request.options.get(code);
    return data === undefined ? reply : { ...reply, options: new Map(reply.options).set(code, copyBytes(data)) };
  };
}

export const withServerId = (ip: string): Modifier => withOption(ServerId, ip);
export const withLease = (seconds: number): Modifier => withOption(LeaseTime, seconds);
export const withYourIp = (ip: string): Modifier => (reply) => ({ ...reply, yiaddr: ip });
/** siaddr: the TFTP server the client loads its boot file from. */
export const withNextServer = (ip: string): Modifier => (reply) => ({ ...reply, siaddr: ip });

/** PXE requires a proxy offer to say `PXEClient`; UEFI HTTP Boot ignores offers without `HTTPClient`. */
export const withVendorClass = (vendorClass: typeof PXE_CLIENT | typeof HTTP_CLIENT): Modifier => withOption(VendorClass, vendorClass);

/**
 * Both places a client may look: the `file` field (PXE ROMs read only that) when the name fits
 * its 128 bytes with the NUL, and option 67 (RFC 2132 §9.5; EDK2 HTTP Boot and iPXE prefer it,
 * and a long URL fits only there).
 */
export function withBootfile(name: string): Modifier {
  return (reply) => {
    const options = setOption(reply.options, BootfileName, name);
    return { ...reply, file: name.length <= 127 ? name : '', options };
  };
}

/**
 * Option 43 sub-option 6, kept beside any other PXE sub-options already set. The default tells a
 * PXE ROM to boot the file named in the (proxy) offer with no prompt, menu or boot server
 * discovery, as pixiecore and smee do for BIOS PXE. Pixiecore leaves it out for UEFI, some of
 * whose PXE stacks ignore such offers, and lets them come to port 4011 instead.
 */
export function withPxeDiscoveryControl(bits: number = PXE_DISCOVERY.UseBootfile): Modifier {
  return (reply) => {
    const vendor = getOption(reply.options, PxeVendorOptions) ?? new Map<number, Uint8Array>();
    return { ...reply, options: setOption(reply.options, PxeVendorOptions, setOption(vendor, PxeDiscoveryControl, bits)) };
  };
}

/** Options 1, 3 and 6; routers and DNS servers only when given. */
export function withSubnet(mask: string, routers: readonly string[] = [], dns: readonly string[] = []): Modifier {
  return (reply) => {
    let options = setOption(reply.options, SubnetMask, mask);
    if (routers.length > 0) options = setOption(options, Routers, [...routers]);
    if (dns.length > 0) options = setOption(options, DomainNameServers, [...dns]);
    return { ...reply, options };
  };
}

export type ReplyRouteInput = {
  /** The request's; a reply from replyFrom carries the same (ciaddr only in an ACK, the one reply
   *  whose request may have it set). */
  readonly giaddr: string;
  readonly ciaddr: string;
  readonly flags: number;
  /** The reply's option 53. */
  readonly msgType: number | undefined;
  /** The request's source, and the local port it arrived on (67 or 4011). */
  readonly srcAddr: string;
  readonly srcPort: number;
  readonly localPort: number;
};

export type ReplyRoute = {
  readonly address: string;
  readonly port: number;
  readonly why: 'boot-server' | 'relay' | 'nak' | 'client-address' | 'broadcast-flag' | 'no-arp';
};

/**
 * RFC 2131 §4.1, with PXE's port 4011 in front:
 * - a request to 4011 comes from a client that has its address (from port 4011 under EDK2, 68
 *   under iPXE): answer its source address and port;
 * - giaddr set: to the relay's server port, NAKs included;
 * - a NAK otherwise: broadcast;
 * - ciaddr set: unicast to it, port 68;
 * - otherwise broadcast, whether or not the broadcast flag asks for it. The RFC's remaining case
 *   (unicast to yiaddr and chaddr) needs an ARP entry for an address the client does not answer
 *   ARP for yet, which a user-space UDP socket cannot add; every client accepts the broadcast.
 */
export function replyDestination(r: ReplyRouteInput): ReplyRoute {
  if (r.localPort === PXE_PORT && r.srcAddr !== ZERO_IP) return { address: r.srcAddr, port: r.srcPort, why: 'boot-server' };
  if (r.giaddr !== ZERO_IP) return { address: r.giaddr, port: SERVER_PORT, why: 'relay' };
  if (r.msgType === MSG.Nak) return { address: BROADCAST_IP, port: CLIENT_PORT, why: 'nak' };
  if (r.ciaddr !== ZERO_IP) return { address: r.ciaddr, port: CLIENT_PORT, why: 'client-address' };
  if ((r.flags & BROADCAST_FLAG) !== 0) return { address: BROADCAST_IP, port: CLIENT_PORT, why: 'broadcast-flag' };
  return { address: BROADCAST_IP, port: CLIENT_PORT, why: 'no-arp' };
}

/** RFC 2131 §2: every client takes a 576-byte IP datagram, i.e. 548 bytes of DHCP after the IP and
 *  UDP headers; that is also the floor for option 57. */
const MIN_DATAGRAM = 576;
const IP_UDP_HEADERS = 28;

/**
 * The largest reply `request`'s client accepts. Option 57 (RFC 2132 §9.10) counts the whole IP
 * datagram, as dnsmasq and ISC dhcpd read it: firmware sends 576 to 65280, dhclient sends none.
 */
export function maxReplySize(request: Packet): number {
  const asked = getOption(request.options, MaxMessageSize);
  return Math.max(asked ?? MIN_DATAGRAM, MIN_DATAGRAM) - IP_UDP_HEADERS;
}

/** Never dropped to make a reply fit: the message type, server id, lease time, the relay's 82. */
const ESSENTIAL = new Set([MessageType.code, ServerId.code, LeaseTime.code, 82]);

/**
 * The reply encoded within what the client accepts (maxReplySize), or undefined when even the
 * trimmed reply is too large. Trims, in order: option 67 when the file field already holds the
 * same name (PXE ROMs read only the field), then options the client did not list in option 55,
 * last added first.
 */
export function encodeReply(reply: Packet, request: Packet): Uint8Array | undefined {
  const max = maxReplySize(request);
  let bytes = encodePacket(reply);
  if (bytes.length <= max) return bytes;
  const options = new Map(reply.options);
  if (reply.file !== '' && options.has(BootfileName.code)) options.delete(BootfileName.code);
  const asked = new Set(request.options.get(ParameterRequestList.code) ?? []);
  const optional = [...options.keys()].filter((code) => !ESSENTIAL.has(code) && !asked.has(code)).reverse();
  for (;;) {
    bytes = encodePacket({ ...reply, options });
    if (bytes.length <= max) return bytes;
    const next = optional.shift();
    if (next === undefined) return undefined;
    options.delete(next);
  }
}
