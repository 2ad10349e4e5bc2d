// Optional: a custom iPXE built from the user's own iPXE source tree with Tether's chain script
// embedded, for sites whose firmware must not depend on DHCP options reaching iPXE (relays that
// strip them, locked-down switches). Debian's binaries stay the default: iPXE's source cannot be
// fetched by Tether itself, so this runs only when the user points at a checkout.
import { execa } from 'execa';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** make target (relative to src/) → the file name Tether serves it as. */
export const EMBED_TARGETS: Record<string, string> = {
  'bin/undionly.kpxe': 'undionly.kpxe',
  'bin-x86_64-efi/ipxe.efi': 'ipxe.efi',
  'bin-x86_64-efi/snponly.efi': 'snponly.efi',
};

/**
 * The embedded script: retry DHCP until it works (a missed proxy offer is common at boot storms),
 * then chain Tether's per-machine script from the server that answered.
 */
export function chainScript(httpPort: number): string {
  return [
    '#!ipxe',
    ':retry_dhcp',
    'dhcp || goto retry_dhcp',
    `chain http://\${next-server}:${httpPort}/boot/ipxe?mac=\${netX/mac}&platform=\${platform}&arch=\${buildarch} || goto retry_dhcp`,
    '',
  ].join('\n');
}

export async function buildEmbeddedIpxe(o: { source: string; out: string; httpPort: number; targets?: string[]; jobs?: number; log?: (line: string) => void }): Promise<string[]> {
  const src = join(o.source, 'src');
  if (!existsSync(join(src, 'Makefile'))) throw new Error(`${o.source} is not an iPXE source tree (no src/Makefile)`);
  const targets = o.targets ?? Object.keys(EMBED_TARGETS);
  for (const t of targets) if (!EMBED_TARGETS[t]) throw new Error(`unknown iPXE target ${t}; known: ${Object.keys(EMBED_TARGETS).join(', ')}`);
  mkdirSync(o.out, { recursive: true });
  const script = join(o.out, 'tether-embed.ipxe');
  writeFileSync(script, chainScript(o.httpPort));
  const make = execa('make', ['-C', src, `-j${o.jobs ?? 2}`, ...targets, `EMBED=${script}`], { all: true });
  make.all!.on('data', (chunk: Buffer) => { for (const line of chunk.toString().split('\n')) if (line.trim()) o.log?.(line); });
  await make;
  const written: string[] = [];
  for (const t of targets) {
    const dst = join(o.out, EMBED_TARGETS[t]);
    copyFileSync(join(src, t), dst);
    written.push(dst);
  }
  return written;
}
