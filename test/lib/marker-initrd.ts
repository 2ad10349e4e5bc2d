// A tiny initrd for boot-path tests: static busybox whose /init prints a marker (and the kernel
// command line) on the console, then powers off. Proves "the firmware fetched our kernel and initrd
// and ran them" without the full discovery OS. Built once into the cache.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { unpackDeb } from '../../images/debian/debs.ts';
import { debianKernel } from '../../images/debian/kernel.ts';
import { writeCpio, type CpioEntry } from '../../images/initrd/cpio.ts';
import { compress } from '../../images/initrd/tree.ts';

export const MARKER = 'TETHER-BOOT-MARKER';
export const CACHE = new URL('../../.cache/', import.meta.url).pathname;

const INIT = `#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox echo "${MARKER} cmdline: $(/bin/busybox cat /proc/cmdline)"
/bin/busybox sleep 1
/bin/busybox poweroff -f
`;

export async function markerBootFiles(): Promise<{ vmlinuz: string; initrd: string }> {
  const kernel = await debianKernel(join(CACHE, 'debs'));
  const out = join(CACHE, 'marker');
  const initrd = join(out, 'initrd.gz');
  if (!existsSync(initrd)) {
    const bb = await unpackDeb('busybox-static', join(CACHE, 'debs'));
    const entries: CpioEntry[] = [
      { kind: 'dir', path: 'bin' }, { kind: 'dir', path: 'proc' }, { kind: 'dir', path: 'dev' },
      { kind: 'file', path: 'bin/busybox', data: readFileSync(join(bb.root, 'bin/busybox')), mode: 0o755 },
      { kind: 'file', path: 'init', data: Buffer.from(INIT), mode: 0o755 },
    ];
    mkdirSync(out, { recursive: true });
    writeFileSync(initrd, await compress(writeCpio(entries), 'gzip'));
  }
  return { vmlinuz: kernel.vmlinuz, initrd };
}
