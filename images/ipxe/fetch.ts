// Build step: Debian's iPXE binaries into the appliance's TFTP root (first stage for PXE ROMs) and
// artifacts/ipxe (for UEFI HTTP Boot). From the `ipxe` package, downloaded and unpacked — never
// installed — so the appliance host needs nothing but apt access. Idempotent.
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { unpackDeb } from '../debian/debs.ts';

export const IPXE_FILES = ['undionly.kpxe', 'ipxe.efi', 'snponly.efi'] as const;

function same(a: string, b: string): boolean {
  return existsSync(b) && statSync(a).size === statSync(b).size && readFileSync(a).equals(readFileSync(b));
}

export async function fetchIpxe(o: { cache: string; tftpRoot: string; artifactsDir: string; log?: (m: string) => void }): Promise<{ version: string; copied: string[] }> {
  const pkg = await unpackDeb('ipxe', o.cache, o.log);
  const copied: string[] = [];
  for (const dir of [o.tftpRoot, join(o.artifactsDir, 'ipxe')]) {
    mkdirSync(dir, { recursive: true });
    for (const f of IPXE_FILES) {
      const src = join(pkg.root, 'usr/lib/ipxe', f);
      const dst = join(dir, f);
      if (same(src, dst)) continue;
      copyFileSync(src, dst);
      copied.push(dst);
    }
  }
  o.log?.(`ipxe ${pkg.version}: ${copied.length ? `copied ${copied.length} files` : 'up to date'}`);
  return { version: pkg.version, copied };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { tftp: { type: 'string' }, artifacts: { type: 'string' }, cache: { type: 'string', default: '.cache/debs' } } });
  if (!values.tftp || !values.artifacts) {
    process.stderr.write('usage: node images/ipxe/fetch.ts --tftp <tftp root> --artifacts <artifacts dir> [--cache DIR]\n');
    process.exit(2);
  }
  await fetchIpxe({ cache: values.cache!, tftpRoot: values.tftp, artifactsDir: values.artifacts, log: (m) => process.stdout.write(`${m}\n`) });
}
