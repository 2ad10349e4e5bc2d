import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildLocalBoot, LOCALBOOT_CONFIG } from './localboot.ts';

const CACHE = new URL('../../.cache/debs', import.meta.url).pathname;

test('localboot: a GRUB x86_64 EFI image with the local-disk config built in; a second run leaves it alone', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-localboot-'));
  try {
    const first = await buildLocalBoot({ cache: CACHE, artifactsDir: dir });
    assert.equal(first.built, true);
    const efi = readFileSync(first.path);
    assert.equal(efi.subarray(0, 2).toString('latin1'), 'MZ', 'a PE image');
    // PE32+ for x86-64: the COFF machine field after the "PE\0\0" signature is 0x8664.
    const pe = efi.readUInt32LE(0x3c);
    assert.equal(efi.subarray(pe, pe + 4).toString('latin1'), 'PE\0\0');
    assert.equal(efi.readUInt16LE(pe + 4), 0x8664);
    // grub-mkimage stores the config verbatim in the image's config module.
    assert.ok(efi.includes(Buffer.from(LOCALBOOT_CONFIG)), 'the embedded config is in the image');
    const mtime = statSync(first.path).mtimeMs;
    const second = await buildLocalBoot({ cache: CACHE, artifactsDir: dir });
    assert.equal(second.built, false);
    assert.equal(statSync(second.path).mtimeMs, mtime);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
