import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { signManifest, type ImageManifest } from '../../images/manifest.ts';
import { writeImage, WriteError, type WriteOptions, type WriteProgress } from './write.ts';
import { diskRef, fileSha, installSpec, makeImage, serveImage, sha256, type Faults, type TestImage } from './test-image.ts';

// Small images (6 chunks of 256 KiB + a short one) so every path runs in milliseconds.
const img: TestImage = await makeImage({ chunks: 7, chunkBytes: 256 * 1024 });
after(() => rmSync(img.dir, { recursive: true, force: true }));

let n = 0;
/** A sparse target file (what `truncate` makes), with a marker just past the image end. */
function target(size = img.manifest.raw.size + 1024 * 1024): string {
  const path = join(img.dir, `target-${++n}.img`);
  execFileSync('truncate', ['-s', String(size), path]);
  if (size > img.manifest.raw.size) {
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('MARKER-BEYOND-IMAGE'), 0, 19, img.manifest.raw.size);
    closeSync(fd);
  }
  return path;
}

async function run(faults: Faults, o: Partial<WriteOptions> & { manifest?: ImageManifest; path?: string } = {}) {
  const srv = await serveImage(img.zst, faults);
  const progress: WriteProgress[] = [];
  const logs: string[] = [];
  const path = o.path ?? target();
  try {
    const spec = installSpec(img, srv.url, diskRef('vdz', 1), o.manifest);
    const result = await writeImage({ spec, targetPath: path, onProgress: (p) => progress.push(p), log: (m) => logs.push(m), sleep: async () => {}, progressIntervalMs: 0, ...o })
      .catch((e: unknown) => e as Error);
    return { result, progress, logs, requests: srv.requests, path };
  } finally {
    await srv.close();
  }
}

const written = (path: string): Buffer => readFileSync(path).subarray(0, img.manifest.raw.size);

test('writeImage: streams, verifies by re-read, writes exactly raw.size bytes', async () => {
  const r = await run({});
  assert.ok(!(r.result instanceof Error), String(r.result));
  assert.equal(r.result.rawSha256, img.manifest.raw.sha256);
  assert.equal(r.result.bytesWritten, img.manifest.raw.size);
  assert.equal(sha256(written(r.path)), img.manifest.raw.sha256, 'the target holds the image');
  assert.equal(readFileSync(r.path).subarray(img.manifest.raw.size, img.manifest.raw.size + 19).toString(), 'MARKER-BEYOND-IMAGE', 'nothing written past raw.size');
  assert.deepEqual(r.requests, [{ range: undefined }], 'one GET, no resume');
  const phases = [...new Set(r.progress.map((p) => p.phase))];
  assert.deepEqual(phases, ['downloading', 'verifying']);
  const lastDl = r.progress.filter((p) => p.phase === 'downloading').at(-1)!;
  assert.equal(lastDl.bytesDone, img.manifest.raw.size);
  assert.equal(lastDl.bytesTotal, img.manifest.raw.size);
  assert.equal(r.progress.at(-1)!.bytesDone, img.manifest.raw.size);
});

test('writeImage: buffered I/O with inline hashing (no O_DIRECT, no workers) writes the same bytes, resumes the same way', async () => {
  const c = img.manifest.chunks[3];
  const r = await run({ cutAfter: c.offset + 1000 }, { directIo: false, hashInWorkers: false });
  assert.ok(!(r.result instanceof Error), String(r.result));
  assert.equal(r.result.rawSha256, img.manifest.raw.sha256);
  assert.equal(r.requests.length, 2);
  assert.equal(sha256(written(r.path)), img.manifest.raw.sha256);
});

test('writeImage: a dropped connection resumes with Range from the first unverified chunk, hash carried over', async () => {
  const c = img.manifest.chunks[4];
  const r = await run({ cutAfter: c.offset + Math.floor(c.size / 2) });
  assert.ok(!(r.result instanceof Error), String(r.result));
  assert.equal(r.requests.length, 2);
  assert.equal(r.requests[0].range, undefined);
  // The resume starts at a chunk boundary after byte 0 and not past the cut: chunk k is the first
  // not yet verified when the connection died (the log says which).
  const k = Number(/interrupted at chunk (\d+) of 7/.exec(r.logs.join('\n'))?.[1]);
  assert.ok(k >= 1 && k <= 4, `resumed at chunk ${k}`);
  assert.equal(r.requests[1].range, `bytes=${img.manifest.chunks[k].offset}-`);
  assert.equal(r.result.resumes, 1);
  assert.equal(sha256(written(r.path)), img.manifest.raw.sha256, 'the whole-image hash continued across the resume');
});

test('writeImage: a server that ignores Range (200) is skipped forward to the first unverified chunk', async () => {
  const c = img.manifest.chunks[5];
  const r = await run({ cutAfter: c.offset + 10, ignoreRange: true });
  assert.ok(!(r.result instanceof Error), String(r.result));
  const k = Number(/interrupted at chunk (\d+) of 7/.exec(r.logs.join('\n'))?.[1]);
  assert.ok(k >= 1 && k <= 5, `resumed at chunk ${k}`);
  assert.deepEqual(r.requests.map((q) => q.range), [undefined, `bytes=${img.manifest.chunks[k].offset}-`]);
  assert.match(r.logs.join('\n'), /ignored Range \(200\): reading from byte 0 and skipping/);
  assert.equal(sha256(written(r.path)), img.manifest.raw.sha256);
});

test('writeImage: a cut exactly at a chunk boundary resumes at that boundary', async () => {
  const c = img.manifest.chunks[3];
  const r = await run({ cutAfter: c.offset });
  assert.ok(!(r.result instanceof Error), String(r.result));
  const resumedAt = img.manifest.chunks.findIndex((x) => r.requests[1]?.range === `bytes=${x.offset}-`);
  assert.ok(resumedAt >= 1 && resumedAt <= 3, `resumed at ${r.requests[1]?.range}`);
  assert.equal(r.requests.length, 2);
  assert.equal(sha256(written(r.path)), img.manifest.raw.sha256);
});

test('writeImage: 503 then success is retried; 404 fails at once', async () => {
  const ok = await run({ statuses: [503, 503] });
  assert.ok(!(ok.result instanceof Error), String(ok.result));
  assert.equal(ok.requests.length, 3);
  const gone = await run({ statuses: [404] });
  assert.ok(gone.result instanceof WriteError);
  assert.match(gone.result.message, /answered 404/);
  assert.equal(gone.requests.length, 1, 'a 404 is not retried');
});

test('writeImage: retries are bounded when the link never holds', async () => {
  const r = await run({ cutAlwaysAfter: 100 }, { maxRetries: 3 });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /failed 4 times in a row without progress/);
  assert.equal(r.requests.length, 4);
});

test('writeImage: a flaky link that advances each time keeps going (retries count per streak)', async () => {
  // Each response delivers a third of the file, then drops: it takes 3 or more requests,
  // more than maxRetries allows in a row, so this only completes because progress resets the count.
  const r = await run({ cutAlwaysAfter: Math.floor(img.manifest.compressed.size / 3) }, { maxRetries: 1 });
  assert.ok(!(r.result instanceof Error), String(r.result));
  assert.ok(r.requests.length >= 3, `${r.requests.length} requests`);
  for (const q of r.requests.slice(1)) assert.ok(img.manifest.chunks.some((c) => q.range === `bytes=${c.offset}-`), `resume at a chunk boundary: ${q.range}`);
  assert.equal(sha256(written(r.path)), img.manifest.raw.sha256);
});

test('writeImage: a corrupted byte fails with sha256 mismatch naming the chunk', async () => {
  const c = img.manifest.chunks[4];
  const r = await run({ corruptAt: c.offset + Math.floor(c.size / 2) });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /sha256 mismatch in chunk 4 /);
  assert.equal(r.requests.length, 1, 'bad data is not retried: the same bytes would come again');
});

test('writeImage: a frame that decodes cleanly but to other bytes fails on the chunk sha256', async () => {
  // A manifest signed by the right key whose chunk 2 hash is wrong (a builder bug, say).
  const bad = signManifest({ ...img.manifest, signature: undefined, chunks: img.manifest.chunks.map((c, i) => (i === 2 ? { ...c, sha256: 'f'.repeat(64) } : c)) }, img.key.privateKey);
  const r = await run({}, { manifest: bad });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /sha256 mismatch in chunk 2 \(raw bytes \d+-\d+\): downloaded [0-9a-f]{64}, the manifest says f{64}/);
});

test('writeImage: a tampered or foreign-signed manifest is refused before a byte is written', async () => {
  const path = target();
  const before = fileSha(path);
  const tampered: ImageManifest = { ...img.manifest, root: { ...img.manifest.root, label: 'evil' } };
  const r = await run({}, { manifest: tampered, path });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /signature does not verify.*nothing was written/);
  assert.equal(r.result.untouched, true);
  assert.equal(r.requests.length, 0, 'not even downloaded');
  assert.equal(fileSha(path), before, 'target unchanged');

  const other = generateKeyPairSync('ed25519').privateKey;
  const foreign = signManifest({ ...img.manifest, signature: undefined }, other);
  const r2 = await run({}, { manifest: foreign, path });
  assert.match(String((r2.result as Error).message), /not by this appliance's key/);
  assert.equal(fileSha(path), before);
  const unsigned = await run({}, { manifest: { ...img.manifest, signature: undefined }, path });
  assert.match(String((unsigned.result as Error).message), /not signed/);
  assert.equal(fileSha(path), before);
});

test('writeImage: a target smaller than the image is refused untouched', async () => {
  const path = target(img.manifest.raw.size - 1);
  const before = fileSha(path);
  const r = await run({}, { path });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /smaller than the image.*nothing was written/);
  assert.equal(r.requests.length, 0);
  assert.equal(fileSha(path), before);
});

test('writeImage: a re-read that differs from the manifest fails "over the whole image on re-read"', async () => {
  const r = await run({}, {
    // Simulates a disk that lost a write: damage the target between write and re-read.
    beforeVerify: async () => {
      const fd = openSync(r0Path, 'r+');
      writeSync(fd, Buffer.from([0xff]), 0, 1, 4096);
      closeSync(fd);
    },
    path: (r0Path = target()),
  });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /sha256 mismatch over the whole image on re-read/);
});
let r0Path = '';

test('writeImage: an abort signal stops the write', async () => {
  const ctl = new AbortController();
  ctl.abort();
  const r = await run({}, { signal: ctl.signal });
  assert.ok(r.result instanceof WriteError);
  assert.equal(r.requests.length, 0);
});
