import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { compressImage, imageFileName } from './compress.ts';
import { canonicalJson, loadOrCreateSigningKey, manifestProblems, signatureProblem, type ImageManifest } from './manifest.ts';

test('canonical JSON sorts keys at every level and drops undefined', () => {
  assert.equal(canonicalJson({ b: 1, a: { d: [2, { z: 1, y: 2 }], c: undefined } }), '{"a":{"d":[2,{"y":2,"z":1}]},"b":1}');
});

test('compressImage: chunked frames decompress with zstd, hashes and signature hold, tampering is caught', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-img-'));
  try {
    const raw = Buffer.alloc(3 * 65536 + 1234);
    for (let i = 0; i < raw.length; i += 7) raw[i] = i & 0xff;
    writeFileSync(join(dir, 'disk.raw'), raw);
    const key = loadOrCreateSigningKey(join(dir, 'keys', 'image-signing.key'));
    assert.equal(loadOrCreateSigningKey(join(dir, 'keys', 'image-signing.key')).keyId, key.keyId, 'the key is created once, then reused');
    const m = await compressImage({ raw: join(dir, 'disk.raw'), outDir: dir, name: 'test-img', chunkBytes: 65536, root: { partition: 2, label: 'tether-root', fs: 'ext4' }, boot: { bios: true, uefi: true }, signingKey: key.privateKey });
    assert.equal(m.chunks.length, 4);
    assert.deepEqual(manifestProblems(m), []);
    assert.equal(m.raw.sha256, createHash('sha256').update(raw).digest('hex'));
    const zst = readFileSync(join(dir, imageFileName('test-img')));
    assert.equal(zst.length, m.compressed.size);
    assert.equal(createHash('sha256').update(zst).digest('hex'), m.compressed.sha256);
    // The whole file is one valid zstd stream for the real zstd CLI; each chunk alone is too.
    assert.ok(execFileSync('zstd', ['-dc'], { input: zst, maxBuffer: 1 << 24 }).equals(raw));
    const c2 = m.chunks[2];
    assert.ok(execFileSync('zstd', ['-dc'], { input: zst.subarray(c2.offset, c2.offset + c2.size) }).equals(raw.subarray(c2.rawOffset, c2.rawOffset + c2.rawSize)));
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')), m);
    assert.equal(signatureProblem(m, key.publicKey), null);
    const tampered: ImageManifest = { ...m, raw: { ...m.raw, sha256: '0'.repeat(64) } };
    assert.match(String(signatureProblem(tampered, key.publicKey)), /does not verify/);
    const other = generateKeyPairSync('ed25519').publicKey;
    assert.match(String(signatureProblem(m, other)), /not by this appliance's key/);
    assert.match(manifestProblems({ ...m, chunks: [m.chunks[1], m.chunks[0]] }).join(), /not contiguous/);
    assert.match(manifestProblems({ ...m, raw: { ...m.raw, size: 5 } }).join(), /chunks cover/);
    assert.deepEqual(manifestProblems(null), ['the manifest is not an object']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
