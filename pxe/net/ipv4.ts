// IPv4 arithmetic shared by config validation and the DHCP pools: addresses as unsigned 32-bit ints.

export function ipToInt(ip: string): number {
  const parts = ip.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${ip}`);
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) throw new RangeError(`not an IPv4 address: ${ip}`);
    n = n * 256 + Number(p);
  }
  return n >>> 0;
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
