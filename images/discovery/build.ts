// node images/discovery/build.ts --out DIR [--cache DIR] [--level N] [--node PATH]
// Builds (or confirms up to date) the discovery OS into DIR: vmlinuz, initrd.img, manifest.json.
// For the appliance, DIR is <dataDir>/artifacts/discovery.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import process from 'node:process';
import { buildDiscovery, SIZE_GOAL_BYTES } from './builder.ts';

const USAGE = 'usage: node images/discovery/build.ts --out DIR [--cache DIR] [--level 1-19] [--node PATH]\n';

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    cache: { type: 'string' },
    level: { type: 'string' },
    node: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help || !values.out) {
  process.stderr.write(USAGE);
  process.exit(values.help ? 0 : 2);
}
const level = values.level === undefined ? undefined : Number(values.level);
if (level !== undefined && !(Number.isInteger(level) && level >= 1 && level <= 19)) {
  process.stderr.write(`--level must be 1..19 (zstd without --ultra, which the kernel's unpacker may refuse)\n${USAGE}`);
  process.exit(2);
}
try {
  const r = await buildDiscovery({
    out: resolve(values.out),
    cache: resolve(values.cache ?? new URL('../../.cache', import.meta.url).pathname),
    level,
    node: values.node,
    log: (m) => process.stdout.write(`${m}\n`),
  });
  const f = r.manifest.files;
  process.stdout.write(`${r.skipped ? 'up to date' : 'built'} in ${(r.tookMs / 1000).toFixed(1)} s: vmlinuz ${f.vmlinuz.size} bytes, initrd.img ${f['initrd.img'].size} bytes (sha256 ${f['initrd.img'].sha256})\n`);
  if (f['initrd.img'].size > SIZE_GOAL_BYTES) process.stdout.write(`note: initrd.img is over the ${SIZE_GOAL_BYTES / 1048576} MiB goal\n`);
} catch (e) {
  process.stderr.write(`discovery build failed: ${(e as Error).message}\n`);
  process.exit(1);
}
