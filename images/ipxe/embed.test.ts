import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmbeddedIpxe, chainScript } from './embed.ts';

// iPXE's source is not reachable here, so the build is checked against a stand-in source tree whose
// Makefile records how it was invoked: this proves Tether's side of the contract (targets, EMBED=,
// outputs collected), not iPXE's compiler.
test('custom iPXE: make is called with the targets and EMBED=<chain script>, outputs are collected', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-ipxe-src-'));
  try {
    const src = join(dir, 'ipxe/src');
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, 'Makefile'), [
      'bin/%.kpxe bin-x86_64-efi/%.efi:',
      '\tmkdir -p $(dir $@) && echo "built $@ with $(EMBED)" > $@ && cp $(EMBED) $@.embedded',
      '',
    ].join('\n'));
    const out = join(dir, 'out');
    const lines: string[] = [];
    const files = await buildEmbeddedIpxe({ source: join(dir, 'ipxe'), out, httpPort: 8080, targets: ['bin/undionly.kpxe', 'bin-x86_64-efi/ipxe.efi'], log: (l) => lines.push(l) });
    assert.deepEqual(files, [join(out, 'undionly.kpxe'), join(out, 'ipxe.efi')]);
    assert.equal(readFileSync(join(out, 'ipxe.efi'), 'utf8').trim(), `built bin-x86_64-efi/ipxe.efi with ${join(out, 'tether-embed.ipxe')}`);
    assert.equal(readFileSync(join(src, 'bin/undionly.kpxe.embedded'), 'utf8'), chainScript(8080));
    assert.ok(lines.length > 0, 'make output is passed on as progress');
    await assert.rejects(buildEmbeddedIpxe({ source: dir, out, httpPort: 8080 }), /not an iPXE source tree/);
    await assert.rejects(buildEmbeddedIpxe({ source: join(dir, 'ipxe'), out, httpPort: 8080, targets: ['bin/ipxe.usb'] }), /unknown iPXE target/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('custom iPXE: the embedded script retries DHCP and chains the per-machine script', () => {
  const s = chainScript(8080);
  assert.match(s, /^dhcp \|\| goto retry_dhcp$/m);
  assert.match(s, /^chain http:\/\/\$\{next-server\}:8080\/boot\/ipxe\?mac=\$\{netX\/mac\}&platform=\$\{platform\}&arch=\$\{buildarch\} \|\| goto retry_dhcp$/m);
});
