// Tether's Booter for the DHCP server: which first-stage file or URL a network-boot client gets.
// Always the same chain — firmware PXE → TFTP iPXE binary → iPXE → /boot/ipxe script — because the
// per-state decision (discovery, local disk, rescue) is made when the script is rendered, where
// the machine is known by MAC and a token can be minted.
import type { Arch } from '../../pxe/dhcp/arch.ts';
import type { BootAnswer, BootRequest, Booter } from '../../pxe/dhcp/boot.ts';
import type { BootFiles, TetherConfig } from '../config/schema.ts';

/** The key of boot.bootFiles for a client architecture, or null when Tether has no iPXE for it. */
export function bootFileKey(arch: Arch): keyof BootFiles | null {
  if (arch.firmware === 'bios' && (arch.cpu === 'x86' || arch.cpu === 'x86_64')) return 'bios';
  if (arch.firmware === 'efi' && arch.cpu === 'x86') return 'efi32';
  if (arch.firmware === 'efi' && arch.cpu === 'x86_64') return 'efi64';
  if (arch.firmware === 'efi' && arch.cpu === 'arm64') return 'arm64';
  return null;
}

/** `bootfileFor(arch)` with the zone's overrides over the appliance defaults. */
export function bootfileFor(arch: Arch, config: TetherConfig, zone: string): string | null {
  const key = bootFileKey(arch);
  if (!key) return null;
  const z = config.zones.find((x) => x.name === zone);
  return z?.bootFiles[key] ?? config.boot.bootFiles[key];
}

/** Synchronous (no I/O): it answers inside the DHCP loop, which must stay fast. */
export interface TetherBooter extends Booter { bootFor(r: BootRequest): BootAnswer }

export function createBooter(config: TetherConfig, httpPort: number): TetherBooter {
  return {
    bootFor(r: BootRequest): BootAnswer {
      const base = `http://${r.serverIp}:${httpPort}`;
      if (r.kind === 'ipxe') {
        // iPXE expands ${platform} and ${buildarch} in the filename itself: the script then knows
        // whether to sanboot (BIOS) or exit (UEFI) for a local-disk boot.
        return { kind: 'http', url: `${base}/boot/ipxe?mac=${r.mac}&zone=${r.zone}&platform=\${platform}&arch=\${buildarch}` };
      }
      const file = bootfileFor(r.arch, config, r.zone);
      if (!file) return { kind: 'none', why: `no iPXE binary for ${r.arch.name} (arch ${r.arch.code})` };
      // UEFI HTTP Boot loads the same EFI iPXE, over HTTP from the artifacts directory.
      if (r.kind === 'http-boot') return { kind: 'http', url: `${base}/artifacts/ipxe/${file}?mac=${r.mac}&step=ipxe` };
      return { kind: 'tftp', file };
    },
  };
}
