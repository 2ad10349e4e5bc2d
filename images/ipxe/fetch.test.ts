import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fetchIpxe, IPXE_FILES } from './fetch.ts';

const CACHE = new URL('../../.cache/debs', import.meta.url).pathname;

test('ipxe fetch: Debian binaries land in the TFTP root and artifacts, a second run copies nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-ipxe-'));
  try {
    const o = { cache: CACHE, tftpRoot: join(dir, 'tftp'), artifactsDir: join(dir, 'artifacts') };
    const first = await fetchIpxe(o);
    assert.equal(first.copied.length, IPXE_FILES.length * 2);
    const efi = readFileSync(join(dir, 'tftp/ipxe.efi'));
    assert.equal(efi.subarray(0, 2).toString('latin1'), 'MZ', 'ipxe.efi is a PE image');
    assert.ok(readFileSync(join(dir, 'artifacts/ipxe/ipxe.efi')).equals(efi));
    assert.ok(readFileSync(join(dir, 'tftp/undionly.kpxe')).length > 50_000);
    assert.deepEqual((await fetchIpxe(o)).copied, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
