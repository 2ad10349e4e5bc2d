// The boot decision and how a reply carries it. A Booter (pixiecore's idea) decides WHAT a machine
// boots and knows nothing of DHCP; bootOptions renders its answer as reply modifiers and refuses
// the answers that cannot work for the client that asked (DESIGN.md "Boot path facts").
import type { Arch } from './arch.ts';
import { getOption, setOption } from './options/codec.ts';
import { IpxeNoPxeDhcp, IpxeOptions } from './options/ipxe.ts';
import { HTTP_CLIENT, PXE_CLIENT, PxeBootItem, PxeVendorOptions } from './options/pxe.ts';
import { echoOption, withBootfile, withNextServer, withOption, withPxeDiscoveryControl, withVendorClass, type Modifier } from './reply.ts';

/** A network-boot client: iPXE (after the chainload), UEFI HTTP Boot, or a firmware PXE ROM. */
export type BootKind = 'ipxe' | 'http-boot' | 'pxe';

/**
 * Where a relayed request came from (RFC 3046). Sub-option values are given as text when every byte
 * is printable ASCII (`Gi1/0/12`, dhcrelay's interface name), else as colon-separated hex (a MAC).
 */
export type RelayInfo = { readonly giaddr: string; readonly circuitId?: string; readonly remoteId?: string };

export type BootRequest = {
  readonly mac: string;
  readonly zone: string;
  readonly arch: Arch;
  readonly kind: BootKind;
  /** The address of the interface the request came in on: the TFTP/HTTP server the client reaches. */
  readonly serverIp: string;
  readonly relay?: RelayInfo;
};

export type BootAnswer =
  | { readonly kind: 'tftp'; readonly file: string }
  | { readonly kind: 'http'; readonly url: string }
  | { readonly kind: 'none'; readonly why: string };

export type Booter = { bootFor(request: BootRequest): BootAnswer | Promise<BootAnswer> };

export type BootOptions =
  | { readonly ok: true; readonly modifiers: readonly Modifier[]; readonly rule: 'pxe-tftp' | 'ipxe-http' | 'http-boot-url' }
  | {
      readonly ok: false;
      readonly reason: 'booter-none' | 'booter-failed' | 'ipxe-tftp-loop' | 'http-boot-needs-url' | 'pxe-needs-tftp';
      readonly detail: string;
    };

export type BootContext = {
  readonly kind: BootKind;
  readonly arch: Arch;
  readonly serverIp: string;
  readonly mode: 'proxy' | 'full';
};

/**
 * The options that make `answer` boot on this client:
 * - PXE ROM + TFTP file: siaddr, file/option 67, option 60 `PXEClient` (PXE 2.1: a server offering
 *   PXE extensions says so), option 97 echoed. Option 43 discovery control "just boot the file" for
 *   BIOS, and for UEFI in full mode; a UEFI proxy offer leaves 43 out, as pixiecore does, because
 *   some UEFI PXE stacks ignore proxy offers that bypass boot server discovery: they ask port 4011.
 * - iPXE + URL: the URL and siaddr; in a proxy offer option 60 `PXEClient` too, without which
 *   iPXE does not take an offer as proxyDHCP. iPXE uses a proxy offer as it is only when it has
 *   both siaddr and a file name (dhcp_has_pxeopts), else it asks port 4011 and wants the same
 *   there. In full mode iPXE's no-pxedhcp (175.176), so it does not wait for proxy offers.
 * - UEFI HTTP Boot + URL: the URL in option 67 and option 60 `HTTPClient`, which EDK2 requires.
 * iPXE must never get a TFTP file: it would load the iPXE binary again (a boot loop).
 */
export function bootOptions(answer: BootAnswer, c: BootContext): BootOptions {
  if (answer.kind === 'none') return { ok: false, reason: 'booter-none', detail: answer.why };
  if (c.kind === 'ipxe') {
    if (answer.kind === 'tftp') return { ok: false, reason: 'ipxe-tftp-loop', detail: `refusing TFTP ${answer.file} to iPXE: boot loop` };
    const extra = c.mode === 'proxy' ? withVendorClass(PXE_CLIENT) : withOption(IpxeOptions, new Map([[IpxeNoPxeDhcp.code, Uint8Array.of(1)]]));
    return { ok: true, rule: 'ipxe-http', modifiers: [withNextServer(c.serverIp), withBootfile(answer.url), extra] };
  }
  if (c.kind === 'http-boot') {
    if (answer.kind === 'tftp') return { ok: false, reason: 'http-boot-needs-url', detail: `UEFI HTTP Boot cannot load TFTP ${answer.file}` };
    return { ok: true, rule: 'http-boot-url', modifiers: [withBootfile(answer.url), withVendorClass(HTTP_CLIENT), echoOption(97)] };
  }
  if (answer.kind === 'http') return { ok: false, reason: 'pxe-needs-tftp', detail: `a PXE ROM cannot load ${answer.url}` };
  const modifiers = [withNextServer(c.serverIp), withBootfile(answer.file), withVendorClass(PXE_CLIENT), echoOption(97)];
  if (c.arch.firmware !== 'efi' || c.mode === 'full') modifiers.push(withPxeDiscoveryControl());
  return { ok: true, rule: 'pxe-tftp', modifiers };
}

/** Asks the booter and renders its answer; a booter that throws or rejects is a refusal, not a crash. */
export async function askBooter(booter: Booter, request: BootRequest, mode: 'proxy' | 'full'): Promise<BootOptions> {
  let answer: BootAnswer;
  try {
    answer = await booter.bootFor(request);
  } catch (e) {
    return { ok: false, reason: 'booter-failed', detail: (e as Error)?.message ?? String(e) };
  }
  return bootOptions(answer, { kind: request.kind, arch: request.arch, serverIp: request.serverIp, mode });
}

/** PXE 2.1: a boot server ACK (port 4011) carries back the boot item (43.71) the client asked for. */
export const echoBootItem: Modifier = (reply, request) => {
  const item = getOption(request.options, PxeVendorOptions)?.get(PxeBootItem.code);
  if (item === undefined) return reply;
  const vendor = getOption(reply.options, PxeVendorOptions) ?? new Map<number, Uint8Array>();
  return { ...reply, options: setOption(reply.options, PxeVendorOptions, new Map(vendor).set(PxeBootItem.code, item)) };
};

/** Option 82's sub-options as RelayInfo, for the observer and the booter. */
export function relayText(bytes: Uint8Array | undefined): string | undefined {
  if (bytes === undefined || bytes.length === 0) return undefined;
  if (bytes.every((b) => b >= 0x20 && b < 0x7f)) return String.fromCharCode(...bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(':');
}
