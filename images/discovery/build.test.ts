// Builds the discovery OS for real (Debian kernel and packages cached in .cache/debs between runs;
// a low zstd level: the release level 19 takes ~2 min here) and checks what went into it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDiscovery, sha256File } from './builder.ts';
import { DISCOVERY_MODULES } from './modules.ts';

const CACHE = new URL('../../.cache/', import.meta.url).pathname;

test('discovery image: builds kernel + initrd + manifest; a second build with nothing changed is a no-op', { timeout: 600_000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tether-discovery-'));
  try {
    const lines: string[] = [];
    const first = await buildDiscovery({ out, cache: CACHE, level: 3, log: (l) => { lines.push(l); console.log(l); } });
    assert.equal(first.skipped, false);
    console.log(`discovery build: ${(first.tookMs / 1000).toFixed(1)} s, initrd ${(first.manifest.files['initrd.img'].size / 1048576).toFixed(1)} MiB at zstd -3`);
    assert.ok(lines.some((l) => /kernel linux-image-/.test(l)) && lines.some((l) => /compressing/.test(l)), 'progress is printed');
    const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
    assert.deepEqual(m, first.manifest);
    for (const f of ['vmlinuz', 'initrd.img'] as const) assert.equal(await sha256File(join(out, f)), m.files[f].sha256, f);
    assert.match(m.node.version, /^v2[6-9]\./);
    assert.deepEqual(Object.keys(m.packages).sort(), ['busybox-static', 'dmidecode', 'ethtool', 'util-linux']);
    assert.ok(m.hostFiles.some((h: { path: string; package: string | null }) => h.path.endsWith('/libc.so.6') && h.package?.startsWith('libc6')));

    const listing = execFileSync('sh', ['-c', `zstd -dc '${join(out, 'initrd.img')}' | cpio -it --quiet`], { encoding: 'utf8', maxBuffer: 16 << 20 }).split('\n');
    for (const f of ['init', 'agent.mjs', 'usr/bin/node', 'bin/busybox', 'usr/sbin/dmidecode', 'bin/lsblk', 'usr/bin/lscpu', 'sbin/ethtool', 'sbin/modprobe', 'usr/share/udhcpc/default.script', `lib/modules/${m.kernel.version}/modules.dep`]) {
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
