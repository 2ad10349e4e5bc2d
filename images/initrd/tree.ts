// Turns a staged root directory into initramfs entries (sorted: reproducible) and compresses the
// archive. The kernel's initramfs unpacker supports gzip natively in every Debian kernel; zstd
// (smaller, ~5x faster to unpack) is what boot images use.
import { execa } from 'execa';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { CpioEntry } from './cpio.ts';

export function* entriesFromDir(root: string, prefix = ''): Generator<CpioEntry> {
  for (const name of readdirSync(join(root, prefix)).sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(join(root, rel));
    if (st.isSymbolicLink()) yield { kind: 'symlink', path: rel, target: readlinkSync(join(root, rel)) };
    else if (st.isDirectory()) { yield { kind: 'dir', path: rel, mode: st.mode & 0o7777 }; yield* entriesFromDir(root, rel); }
    else if (st.isFile()) yield { kind: 'file', path: rel, data: readFileSync(join(root, rel)), mode: st.mode & 0o7777 };
  }
}

export async function compress(archive: Buffer, how: 'gzip' | 'zstd', level?: number): Promise<Buffer> {
  if (how === 'gzip') return gzipSync(archive, { level: level ?? 6 });
  const { stdout } = await execa('zstd', [`-${level ?? 3}`, '-T0', '-q', '-c'], { input: archive, encoding: 'buffer' });
  return Buffer.from(stdout);
}
