// Network-boot client options: vendor class (RFC 2132 §9.13), the RFC 4578 client options the PXE
// 2.1 specification defined, and PXE's own sub-options inside option 43 (PXE 2.1, "PXE vendor
// options" table; the same codes dnsmasq and iPXE use).
import { readIpv4, writeIpv4 } from '../../net/ipv4.ts';
import {
  checkUint,
  copyBytes,
  encapsulatedOption,
  readLatin1,
  textOption,
  uint16ListOption,
  uint8Option,
  writeLatin1,
  type OptionCodec,
} from './codec.ts';

/** PXE ROMs send `PXEClient:Arch:xxxxx:UNDI:yyyzzz`, UEFI HTTP Boot `HTTPClient:Arch:...`; a
 *  server's reply carries the bare prefix back (PXE 2.1; UEFI 2.x HTTP Boot). */
export const VendorClass = textOption(60, 'vendor-class-identifier');
export const PXE_CLIENT = 'PXEClient';
export const HTTP_CLIENT = 'HTTPClient';

/** RFC 4578 §2.1: the client's architecture types (see arch.ts), first one first. */
export const ClientArch = uint16ListOption(93, 'client-system-architecture');

/** RFC 4578 §2.2: network interface type (1 = UNDI) and its version, e.g. 2.1. */
export const ClientNdi: OptionCodec<{ type: number; major: number; minor: number }> = {
  code: 94,
  name: 'client-network-interface-identifier',
  decode: (d) => (d.length === 3 ? { type: d[0], major: d[1], minor: d[2] } : undefined),
  encode: (v) =>
    Uint8Array.of(checkUint(v.type, 8, 'ndi type'), checkUint(v.major, 8, 'ndi major'), checkUint(v.minor, 8, 'ndi minor')),
};

/**
 * RFC 4578 §2.3: a type (0 = GUID) and 16 bytes. Real ROMs send placeholders and qemu all zeros:
 * echo it back in PXE offers as the spec asks, never use it as a machine's identity.
 */
export const ClientMachineId: OptionCodec<{ type: number; guid: Uint8Array }> = {
  code: 97,
  name: 'client-machine-identifier',
  decode: (d) => (d.length === 17 ? { type: d[0], guid: copyBytes(d, 1) } : undefined),
  encode: (v) => {
    if (v.guid.length !== 16) throw new RangeError(`client-machine-identifier: guid has ${v.guid.length} bytes, not 16`);
    const out = new Uint8Array(17);
    out[0] = checkUint(v.type, 8, 'client-machine-identifier type');
    out.set(v.guid, 1);
    return out;
  },
};

/** Option 43 as PXE reads it when option 60 says PXEClient: pad/end framed, closed by an end. */
export const PxeVendorOptions = encapsulatedOption(43, 'vendor-specific-information', { padEnd: true, terminate: true });

/** Sub-option 6, a bit field. */
export const PxeDiscoveryControl = uint8Option(6, 'pxe-discovery-control');
export const PXE_DISCOVERY = {
  NoBroadcast: 1,
  NoMulticast: 2,
  ListedServersOnly: 4,
  /** With a boot file name in the (proxy) offer, download it: no prompt, menu or discovery. */
  UseBootfile: 8,
} as const;

export type PxeBootServer = { type: number; addresses: string[] };

/** Sub-option 8: per boot server type, its addresses. */
export const PxeBootServers: OptionCodec<PxeBootServer[]> = {
  code: 8,
  name: 'pxe-boot-servers',
  decode: (d) => {
    const servers: PxeBootServer[] = [];
    for (let i = 0; i < d.length; ) {
      if (i + 3 > d.length || i + 3 + d[i + 2] * 4 > d.length) return undefined;
      const addresses: string[] = [];
      for (let n = 0; n < d[i + 2]; n++) addresses.push(readIpv4(d, i + 3 + n * 4));
      servers.push({ type: d[i] * 256 + d[i + 1], addresses });
      i += 3 + d[i + 2] * 4;
    }
    return servers;
  },
  encode: (servers) => {
    const out = new Uint8Array(servers.reduce((n, s) => n + 3 + s.addresses.length * 4, 0));
    let at = 0;
    for (const s of servers) {
      checkUint(s.type, 16, 'boot server type');
      out[at] = s.type >> 8;
      out[at + 1] = s.type & 0xff;
      out[at + 2] = checkUint(s.addresses.length, 8, 'boot server count');
      s.addresses.forEach((ip, n) => writeIpv4(ip, out, at + 3 + n * 4));
      at += 3 + s.addresses.length * 4;
    }
    return out;
  },
};

export type PxeMenuItem = { type: number; description: string };

/** Sub-option 9: the boot menu, one entry per boot server type. */
export const PxeBootMenu: OptionCodec<PxeMenuItem[]> = {
  code: 9,
  name: 'pxe-boot-menu',
  decode: (d) => {
    const items: PxeMenuItem[] = [];
    for (let i = 0; i < d.length; ) {
      if (i + 3 > d.length || i + 3 + d[i + 2] > d.length) return undefined;
      items.push({ type: d[i] * 256 + d[i + 1], description: readLatin1(d.subarray(i + 3, i + 3 + d[i + 2])) });
      i += 3 + d[i + 2];
    }
    return items;
  },
  encode: (items) => {
    const parts: number[] = [];
    for (const item of items) {
      const text = writeLatin1(item.description);
      checkUint(item.type, 16, 'boot menu type');
      parts.push(item.type >> 8, item.type & 0xff, checkUint(text.length, 8, 'boot menu description length'), ...text);
    }
    return Uint8Array.from(parts);
  },
};

/** Sub-option 10: seconds to show the prompt (0: boot the first item at once, 255: wait forever). */
export const PxeMenuPrompt: OptionCodec<{ timeout: number; prompt: string }> = {
  code: 10,
  name: 'pxe-menu-prompt',
  decode: (d) => (d.length >= 1 ? { timeout: d[0], prompt: readLatin1(d.subarray(1)) } : undefined),
  encode: (v) => {
    const text = writeLatin1(v.prompt);
    const out = new Uint8Array(1 + text.length);
    out[0] = checkUint(v.timeout, 8, 'menu prompt timeout');
    out.set(text, 1);
    return out;
  },
};

/** Sub-option 71: the boot server type and layer a client asks for on port 4011, echoed back. */
export const PxeBootItem: OptionCodec<{ type: number; layer: number }> = {
  code: 71,
  name: 'pxe-boot-item',
  decode: (d) => (d.length === 4 ? { type: d[0] * 256 + d[1], layer: d[2] * 256 + d[3] } : undefined),
  encode: (v) => {
    checkUint(v.type, 16, 'boot item type');
    checkUint(v.layer, 16, 'boot item layer');
    return Uint8Array.of(v.type >> 8, v.type & 0xff, v.layer >> 8, v.layer & 0xff);
  },
};
