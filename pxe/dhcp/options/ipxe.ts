// Option 175, iPXE's own encapsulated options (iPXE src/include/ipxe/dhcp.h, features.h). iPXE
// sends it in every request, which is how a server knows the chainload already happened. Sub-
// options are pad/end framed like the options field, and iPXE sends them without an end.
import { checkUint, encapsulatedOption, int8Option, uint8Option, type OptionCodec } from './codec.ts';

export const IpxeOptions = encapsulatedOption(175, 'ipxe-encapsulated-options', { padEnd: true, terminate: false });

/** Signed: the priority of this settings block against others (NVS, embedded). */
export const IpxePriority = int8Option(1, 'priority');
/** Non-zero: keep a SAN drive attached after failing to boot it (install straight to iSCSI). */
export const IpxeKeepSan = uint8Option(8, 'keep-san');
export const IpxeSkipSanBoot = uint8Option(9, 'skip-san-boot');
/** Non-zero: ignore ProxyDHCP and other PXE extensions. */
export const IpxeNoPxeDhcp = uint8Option(0xb0, 'no-pxedhcp');

/** The NIC: bus type (1 = PCI) and its vendor and device ids. */
export const IpxeBusId: OptionCodec<{ bus: number; vendor: number; device: number }> = {
  code: 0xb1,
  name: 'bus-id',
  decode: (d) => (d.length === 5 ? { bus: d[0], vendor: d[1] * 256 + d[2], device: d[3] * 256 + d[4] } : undefined),
  encode: (v) => {
    checkUint(v.bus, 8, 'bus-id bus');
    checkUint(v.vendor, 16, 'bus-id vendor');
    checkUint(v.device, 16, 'bus-id device');
    return Uint8Array.of(v.bus, v.vendor >> 8, v.vendor & 0xff, v.device >> 8, v.device & 0xff);
  },
};

export const IpxeVersion: OptionCodec<{ major: number; minor: number; patch: number }> = {
  code: 0xeb,
  name: 'version',
  decode: (d) => (d.length === 3 ? { major: d[0], minor: d[1], patch: d[2] } : undefined),
  encode: (v) =>
    Uint8Array.of(checkUint(v.major, 8, 'version major'), checkUint(v.minor, 8, 'version minor'), checkUint(v.patch, 8, 'version patch')),
};

/**
 * Features compiled into this iPXE: each is a sub-option whose one-byte value is the feature's
 * version, e.g. `sub.has(IPXE_FEATURE.Https)` before handing out an https:// script URL.
 */
export const IPXE_FEATURE = {
  PxeExt: 0x10,
  Iscsi: 0x11,
  Aoe: 0x12,
  Http: 0x13,
  Https: 0x14,
  Tftp: 0x15,
  Ftp: 0x16,
  Dns: 0x17,
  BzImage: 0x18,
  Multiboot: 0x19,
  Slam: 0x1a,
  Srp: 0x1b,
  Nbi: 0x20,
  Pxe: 0x21,
  Elf: 0x22,
  Comboot: 0x23,
  Efi: 0x24,
  Fcoe: 0x25,
  Vlan: 0x26,
  Menu: 0x27,
  Sdi: 0x28,
  Nfs: 0x29,
} as const;
