// IPv4 addresses for config validation, DHCP pools and the DHCP codec: dotted quads (the form
// packets, logs and the store use) and unsigned 32-bit ints (for pool arithmetic).

export const ZERO_IP = '0.0.0.0';
export const BROADCAST_IP = '255.255.255.255';

/** Throws RangeError unless `ip` is a canonical dotted quad (no leading zeros, each part 0-255). */
export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) {
    throw new RangeError(`not an IPv4 address: ${JSON.stringify(ip)}`);
  }
  return parts.reduce((n, p) => n * 256 + Number(p), 0) >>> 0;
}

export function readIpv4(bytes: Uint8Array, offset: number): string {
  return `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`;
}

export function writeIpv4(ip: string, bytes: Uint8Array, offset: number): void {
  const n = ipToInt(ip);
  bytes[offset] = n >>> 24;
  bytes[offset + 1] = (n >>> 16) & 255;
  bytes[offset + 2] = (n >>> 8) & 255;
  bytes[offset + 3] = n & 255;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

export interface Subnet {
  network: number;
  prefix: number;
  mask: number;
  broadcast: number;
}

export function parseCidr(cidr: string): Subnet {
  const [ip, len] = cidr.split('/');
  const prefix = Number(len);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > 32) throw new RangeError(`not an IPv4 subnet: ${cidr}`);
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const network = (ipToInt(ip) & mask) >>> 0;
  return { network, prefix, mask, broadcast: (network | ~mask) >>> 0 };
}

export function inSubnet(ip: string | number, subnet: Subnet): boolean {
  const n = typeof ip === 'string' ? ipToInt(ip) : ip;
  return ((n & subnet.mask) >>> 0) === subnet.network;
}

export function maskToString(subnet: Subnet): string {
  return intToIp(subnet.mask);
}
