// The BMC's LAN address, asked of the BMC itself through the kernel's IPMI device (/dev/ipmi0,
// ipmi_si + ipmi_devintf): what `ipmitool lan print` shows as "IP Address", without ipmitool.
// Node 26's built-in FFI (node:ffi) makes the two ioctls (IPMICTL_SEND_COMMAND and
// IPMICTL_RECEIVE_MSG_TRUNC); ipmitool and its libraries (libfreeipmi, libcrypto, ...) would cost
// ~1.8 MB of the image's 40 MB budget for the same two commands:
//   Get Channel Info (App 0x06/0x42) on channels 1..11 → the first 802.3 LAN channel, then
//   Get LAN Configuration Parameters (Transport 0x0C/0x02), parameter 3 (IP address) and 4 (source).
// The replies are decoded strictly here (bmcAddressFrom): a short or failed reply is a reason, not a guess.
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import type { Fact } from '../protocol.ts';
import { absent } from './facts.ts';

export const IPMI_DEVICE = '/dev/ipmi0';
const NETFN_APP = 0x06;
const NETFN_TRANSPORT = 0x0c;
const CMD_GET_CHANNEL_INFO = 0x42;
const CMD_GET_LAN_CONFIG = 0x02;
const LAN_PARAM_IP = 3;
const LAN_PARAM_IP_SOURCE = 4;
const MEDIUM_802_3_LAN = 0x04;

/** One IPMI request/response: the reply bytes start with the completion code. */
export type IpmiRequest = (netfn: number, cmd: number, data: readonly number[]) => Promise<Uint8Array>;

export const COMPLETION: Record<number, string> = {
  0xc0: 'node busy', 0xc1: 'invalid command', 0xc2: 'invalid for this LUN', 0xc3: 'timeout', 0xc4: 'out of space',
  0xc7: 'request data length invalid', 0xc9: 'parameter out of range', 0xcb: 'not present', 0xcc: 'invalid data field',
  0xd4: 'insufficient privilege', 0xd5: 'not supported in present state', 0xff: 'unspecified error', 0x80: 'parameter not supported',
};
const cc = (c: number): string => `completion code 0x${c.toString(16).padStart(2, '0')}${COMPLETION[c] ? ` (${COMPLETION[c]})` : ''}`;

/** Get Channel Info reply: [cc, channel, medium, protocol, ...]; the LAN channel number or why not. */
export function lanChannelFrom(reply: Uint8Array): { channel: number } | { not: string } {
  if (reply.length < 1) return { not: 'empty reply' };
  if (reply[0] !== 0) return { not: cc(reply[0]) };
  if (reply.length < 4) return { not: `reply of ${reply.length} bytes` };
  const medium = reply[2] & 0x7f;
  return medium === MEDIUM_802_3_LAN ? { channel: reply[1] & 0x0f } : { not: `medium 0x${medium.toString(16)}` };
}

/** Get LAN Configuration Parameters reply for parameter 3: [cc, revision, a, b, c, d]. */
export function ipFrom(reply: Uint8Array): { ip: string } | { not: string } {
  if (reply.length < 1) return { not: 'empty reply' };
  if (reply[0] !== 0) return { not: cc(reply[0]) };
  if (reply.length !== 6) return { not: `IP address reply of ${reply.length} bytes, expected 6` };
  return { ip: [...reply.subarray(2, 6)].join('.') };
}

/** Parameter 4: [cc, revision, source]; the words `ipmitool lan print` uses. */
export function ipSourceFrom(reply: Uint8Array): string | null {
  if (reply.length < 3 || reply[0] !== 0) return null;
  return ({ 0: 'unspecified', 1: 'static', 2: 'DHCP', 3: 'BIOS or system software', 4: 'other protocol' } as Record<number, string>)[reply[2] & 0x0f] ?? null;
}

/** Asks the BMC for its LAN address over `request` (the real device, or replies in a test). */
export async function bmcAddressFrom(request: IpmiRequest): Promise<Fact<string>> {
  let channel: number | null = null;
  const why: string[] = [];
  for (let ch = 1; ch <= 11 && channel === null; ch++) {
    const r = lanChannelFrom(await request(NETFN_APP, CMD_GET_CHANNEL_INFO, [ch]));
    if ('channel' in r) channel = ch;
    else if (why.length < 2) why.push(`channel ${ch}: ${r.not}`);
  }
  if (channel === null) return absent(`the BMC has no 802.3 LAN channel (${why.join('; ')})`);
  const ip = ipFrom(await request(NETFN_TRANSPORT, CMD_GET_LAN_CONFIG, [channel, LAN_PARAM_IP, 0, 0]));
  if ('not' in ip) return absent(`the BMC did not tell its IP address on LAN channel ${channel}: ${ip.not}`);
  if (ip.ip === '0.0.0.0') {
    const source = ipSourceFrom(await request(NETFN_TRANSPORT, CMD_GET_LAN_CONFIG, [channel, LAN_PARAM_IP_SOURCE, 0, 0]));
    return absent(`the BMC has no IP address on LAN channel ${channel}${source ? ` (address source: ${source})` : ''}`);
  }
  return ip.ip;
}

// --- the kernel device ------------------------------------------------------------------------------

// include/uapi/linux/ipmi.h, x86-64 layouts.
const IPMI_SYSTEM_INTERFACE_ADDR_TYPE = 0x0c;
const IPMI_BMC_CHANNEL = 0x0f;
const IPMI_RESPONSE_RECV_TYPE = 1;
const SIZEOF_REQ = 40; // struct ipmi_req { u8 *addr; uint addr_len; long msgid; struct ipmi_msg msg; }
const SIZEOF_RECV = 48; // struct ipmi_recv { int recv_type; u8 *addr; uint addr_len; long msgid; struct ipmi_msg msg; }
const ioc = (dir: number, nr: number, size: number): bigint => BigInt(((dir << 30) | (size << 16) | (0x69 << 8) | nr) >>> 0); // 'i'
const IPMICTL_SEND_COMMAND = ioc(2, 13, SIZEOF_REQ);
const IPMICTL_RECEIVE_MSG_TRUNC = ioc(3, 11, SIZEOF_RECV);
const REPLY_TIMEOUT_MS = 5000;

// EAGAIN and EWOULDBLOCK are one number: compare numbers, name them only for messages.
const { EAGAIN, EMSGSIZE } = constants.errno;
const errnoName = new Map(Object.entries(constants.errno).reverse().map(([k, v]) => [v, k]));
const nameOf = (e: number): string => errnoName.get(e) ?? `errno ${e}`;

/**
 * Opens the IPMI device and returns a request function (one request at a time) and a close.
 * Throws when the device or node:ffi is not there.
 */
export async function openIpmiDevice(path = IPMI_DEVICE, o: { sleep?: (ms: number) => Promise<void> } = {}): Promise<{ request: IpmiRequest; close: () => void }> {
  const ffi = await import('node:ffi');
  const { functions: f } = ffi.dlopen(null, {
    ioctl: { arguments: ['i32', 'u64', 'buffer'], return: 'i32' },
    __errno_location: { arguments: [], return: 'pointer' },
  });
  const errno = (): number => ffi.getInt32(f.__errno_location());
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const fd = openSync(path, 'r+');
  let msgid = 0n;
  // Kept referenced for as long as the kernel may look at them (the ioctls copy them synchronously).
  const addr = Buffer.alloc(8);
  addr.writeInt32LE(IPMI_SYSTEM_INTERFACE_ADDR_TYPE, 0);
  addr.writeInt16LE(IPMI_BMC_CHANNEL, 4);
  const request: IpmiRequest = async (netfn, cmd, data) => {
    const payload = Buffer.alloc(Math.max(1, data.length));
    payload.set(data);
    const req = Buffer.alloc(SIZEOF_REQ);
    req.writeBigUInt64LE(ffi.getRawPointer(addr), 0);
    req.writeUInt32LE(addr.length, 8);
    const id = ++msgid;
    req.writeBigInt64LE(id, 16);
    req.writeUInt8(netfn, 24);
    req.writeUInt8(cmd, 25);
    req.writeUInt16LE(data.length, 26);
    req.writeBigUInt64LE(ffi.getRawPointer(payload), 32);
    if (f.ioctl(fd, IPMICTL_SEND_COMMAND, req) < 0) throw new Error(`IPMI send netfn 0x${netfn.toString(16)} cmd 0x${cmd.toString(16)}: ${nameOf(errno())}`);
    const deadline = performance.now() + REPLY_TIMEOUT_MS;
    const raddr = Buffer.alloc(32);
    const rdata = Buffer.alloc(272);
    for (;;) {
      const recv = Buffer.alloc(SIZEOF_RECV);
      recv.writeBigUInt64LE(ffi.getRawPointer(raddr), 8);
      recv.writeUInt32LE(raddr.length, 16);
      recv.writeUInt16LE(rdata.length, 34);
      recv.writeBigUInt64LE(ffi.getRawPointer(rdata), 40);
      if (f.ioctl(fd, IPMICTL_RECEIVE_MSG_TRUNC, recv) >= 0) {
        // Only our reply counts; events or stale replies are dropped.
        if (recv.readInt32LE(0) === IPMI_RESPONSE_RECV_TYPE && recv.readBigInt64LE(24) === id) {
          const n = Math.min(recv.readUInt16LE(34), rdata.length);
          return Uint8Array.from(rdata.subarray(0, n));
        }
        continue;
      }
      const e = errno();
      if (e !== EAGAIN && e !== EMSGSIZE) throw new Error(`IPMI receive: ${nameOf(e)}`);
      if (performance.now() > deadline) throw new Error(`the BMC did not answer netfn 0x${netfn.toString(16)} cmd 0x${cmd.toString(16)} within ${REPLY_TIMEOUT_MS / 1000} s`);
      await sleep(20);
    }
  };
  return { request, close: () => closeSync(fd) };
}
