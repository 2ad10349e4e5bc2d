// Builds the discovery OS for real (Debian kernel and packages cached in .cache/debs between runs;
// a low zstd level: the release level 19 takes ~2 min here) and checks what went into it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDiscovery, RUNTIME_LEVEL, sha256File, SIZE_GOAL_BYTES } from './builder.ts';
import { DISCOVERY_MODULES } from './modules.ts';

const CACHE = new URL('../../.cache/', import.meta.url).pathname;

/**
 * The paths in a newc initramfs, across every archive in it (the kernel reads concatenated ones;
 * `cpio -it` stops at the first TRAILER!!!).
 */
function initramfsPaths(data: Buffer): string[] {
  const paths: string[] = [];
  let at = 0;
  while (at + 110 <= data.length) {
    if (data[at] === 0) { at++; continue; } // padding between archives
    const h = data.toString('ascii', at, at + 110);
    assert.equal(h.slice(0, 6), '070701', `newc header at ${at}`);
    const size = parseInt(h.slice(54, 62), 16);
    const nameSize = parseInt(h.slice(94, 102), 16);
    const name = data.toString('utf8', at + 110, at + 110 + nameSize - 1);
    at += 110 + nameSize;
    at += (4 - (at % 4)) % 4;
    at += size + ((4 - (size % 4)) % 4);
    if (name !== 'TRAILER!!!') paths.push(name);
  }
  return paths;
}

test('discovery image: builds kernel + initrd + manifest; a second build with nothing changed is a no-op', { timeout: 600_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tether-discovery-'));
  try {
    const lines: string[] = [];
    const first = await buildDiscovery({ out, cache: CACHE, level: 3, log: (l) => { lines.push(l); console.log(l); } });
    assert.equal(first.skipped, false);
    const size = first.manifest.files['initrd.img'].size;
    console.log(`discovery build: ${(first.tookMs / 1000).toFixed(1)} s, initrd.img ${size} bytes = ${(size / 1048576).toFixed(1)} MiB (rootfs zstd -3, runtime zstd -${RUNTIME_LEVEL}); goal ${SIZE_GOAL_BYTES / 1048576} MiB`);
    assert.ok(size <= SIZE_GOAL_BYTES, `initrd.img is ${size} bytes, over the ${SIZE_GOAL_BYTES / 1048576} MiB goal`);
    assert.deepEqual(first.manifest.compression, { format: 'zstd', level: 3, runtimeLevel: RUNTIME_LEVEL });
    assert.ok(lines.some((l) => /kernel linux-image-/.test(l)) && lines.some((l) => /compressing/.test(l)), 'progress is printed');
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(m, first.manifest);
    for (const f of ['vmlinuz', 'initrd.img'] as const) assert.equal(await sha256File(join(out, f)), m.files[f].sha256, f);
    assert.match(m.node.version, /^v2[6-9]\./);
    assert.deepEqual(Object.keys(m.packages).sort(), ['busybox-static', 'dmidecode', 'ethtool', 'util-linux']);
    assert.ok(m.hostFiles.some((h: { path: string; package: string | null }) => h.path.endsWith('/libc.so.6') && h.package?.startsWith('libc6')));

    const listing = initramfsPaths(execFileSync('zstd', ['-dc', join(out, 'initrd.img')], { maxBuffer: 512 << 20 }));
    for (const f of ['init', 'agent.mjs', 'lldp-listener.mjs', 'usr/bin/node', 'bin/busybox', 'usr/sbin/dmidecode', 'bin/lsblk', 'usr/bin/lscpu', 'sbin/ethtool', 'sbin/modprobe', 'usr/share/udhcpc/default.script', `lib/modules/${m.kernel.version}/modules.dep`]) {
      assert.ok(listing.includes(f), `initrd has ${f}`);
    }
    for (const mod of ['virtio_net', 'virtio_blk', 'e1000', 'ahci', 'sd_mod', 'ext4', 'efivarfs']) {
      assert.ok(listing.some((f) => f.endsWith(`/${mod}.ko`)), `initrd has ${mod}.ko`);
    }
    assert.ok(DISCOVERY_MODULES.length > 0);

    const second = await buildDiscovery({ out, cache: CACHE, level: 3 });
    assert.equal(second.skipped, true);
    assert.deepEqual(second.manifest, first.manifest);
    console.log(`discovery no-op rebuild: ${(second.tookMs / 1000).toFixed(1)} s`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
