import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { signManifest, type ImageManifest } from '../../images/manifest.ts';
import { InOrder, writeImage, WriteError, WRITE_BYTES, type WriteOptions, type WriteProgress } from './write.ts';
import { diskRef, fileSha, installSpec, makeImage, serveImage, sha256, type Faults, type TestImage } from './test-image.ts';

// Small images (6 chunks of 256 KiB + a short one) so every path runs in milliseconds.
const img: TestImage = await makeImage({ chunks: 7, chunkBytes: 256 * 1024 });
// Chunks larger than a staging buffer (each fills two or three of them), for the lanes' buffer turnover.
const big: TestImage = await makeImage({ chunks: 4, chunkBytes: 2 * WRITE_BYTES + 64 * 1024, tail: 40_960 });
after(() => { rmSync(img.dir, { recursive: true, force: true }); rmSync(big.dir, { recursive: true, force: true }); });

let n = 0;
/** A sparse target file (what `truncate` makes), with a marker just past the image end. */
function target(size = img.manifest.raw.size + 1024 * 1024, imageEnd = img.manifest.raw.size): string {
  const path = join(img.dir, `target-${++n}.img`);
  execFileSync('truncate', ['-s', String(size), path]);
  if (size > imageEnd) {
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.from('MARKER-BEYOND-IMAGE'), 0, 19, imageEnd);
    closeSync(fd);
  }
  return path;
}

async function run(faults: Faults, o: Partial<WriteOptions> & { manifest?: ImageManifest; path?: string; image?: TestImage } = {}) {
  const image = o.image ?? img;
  const srv = await serveImage(image.zst, faults);
  const progress: WriteProgress[] = [];
  const logs: string[] = [];
  const path = o.path ?? target(image.manifest.raw.size + 1024 * 1024, image.manifest.raw.size);
  try {
    const spec = installSpec(image, srv.url, diskRef('vdz', 1), o.manifest);
    const result = await writeImage({ spec, targetPath: path, onProgress: (p) => progress.push(p), log: (m) => logs.push(m), sleep: async () => {}, progressIntervalMs: 0, ...o })
      .catch((e: unknown) => e as Error);
    return { result, progress, logs, requests: srv.requests, path };
  } finally {
    await srv.close();
  }
}

const written = (path: string, image = img): Buffer => readFileSync(path).subarray(0, image.manifest.raw.size);
const marker = (path: string, at: number): string => readFileSync(path).subarray(at, at + 19).toString();
/** The same manifest with `change` applied to its chunks, signed again by the image key (a builder bug, say). */
const resigned = (image: TestImage, change: (m: ImageManifest) => ImageManifest): ImageManifest =>
  signManifest(change({ ...image.manifest, signature: undefined }), image.key.privateKey);

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

test('writeImage: buffered I/O with the lanes on the calling thread (no O_DIRECT, no workers) writes the same bytes, resumes the same way', async () => {
  const c = img.manifest.chunks[3];
  const r = await run({ cutAfter: c.offset + 1000 }, { directIo: false, workers: false });
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

test('writeImage: a re-read that differs from the manifest fails "over the whole image on re-read", naming the chunk', async () => {
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
  assert.match(r.result.message, /chunk 0 \(raw bytes 0-\d+\) reads back as [0-9a-f]{64}, not as written: the disk did not keep what was written/);
});
let r0Path = '';

test('writeImage: an abort signal stops the write', async () => {
  const ctl = new AbortController();
  ctl.abort();
  const r = await run({}, { signal: ctl.signal });
  assert.ok(r.result instanceof WriteError);
  assert.equal(r.requests.length, 0);
});

test('writeImage: chunks larger than a staging buffer, in worker lanes and on the calling thread, direct and buffered', async () => {
  for (const o of [{}, { workers: false, directIo: false }] as const) {
    const r = await run({}, { image: big, ...o });
    assert.ok(!(r.result instanceof Error), String(r.result));
    assert.equal(sha256(written(r.path, big)), big.manifest.raw.sha256, JSON.stringify(o));
    assert.equal(marker(r.path, big.manifest.raw.size), 'MARKER-BEYOND-IMAGE');
    assert.equal(r.progress.filter((p) => p.phase === 'downloading').at(-1)!.bytesDone, big.manifest.raw.size);
  }
  // A cut inside a chunk's second staging buffer resumes at a chunk boundary and still ends right.
  const c = big.manifest.chunks[2];
  const r = await run({ cutAfter: c.offset + Math.floor(c.size * 0.6) }, { image: big });
  assert.ok(!(r.result instanceof Error), String(r.result));
  assert.equal(r.requests.length, 2);
  assert.ok(big.manifest.chunks.some((x, k) => k > 0 && r.requests[1].range === `bytes=${x.offset}-`), String(r.requests[1].range));
  assert.equal(sha256(written(r.path, big)), big.manifest.raw.sha256);
});

test('InOrder: a chunk verified before the one ahead of it does not move the resume point past the gap', () => {
  const o = new InOrder(2);
  assert.equal(o.verified(3), 0); // chunk 3 finished first (its lane was quicker): 2 is still open
  assert.equal(o.next, 2);
  assert.equal(o.verified(5), 0);
  assert.equal(o.verified(2), 2); // 2 closes the gap: 2 and 3 are verified, 4 is not
  assert.equal(o.next, 4);
  assert.equal(o.verified(4), 2);
  assert.equal(o.next, 6);
});

test('writeImage: a mismatch in chunk 2 while chunk 3 is in flight reports chunks 0-1 verified, and no write lands afterwards', async () => {
  for (const workers of [true, false]) {
    const bad = resigned(img, (m) => ({ ...m, chunks: m.chunks.map((c, i) => (i === 2 ? { ...c, sha256: '0'.repeat(64) } : c)) }));
    const r = await run({}, { manifest: bad, workers });
    assert.ok(r.result instanceof WriteError);
    assert.match(r.result.message, /^sha256 mismatch in chunk 2 .*; 2 of 7 chunks were written and verified$/);
    assert.equal(r.requests.length, 1);
    // writeImage resolved only after every write in flight completed: the file no longer changes.
    const now = fileSha(r.path);
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(fileSha(r.path), now);
    assert.ok(written(r.path).subarray(0, img.manifest.chunks[2].rawOffset).equals(img.raw.subarray(0, img.manifest.chunks[2].rawOffset)), 'chunks 0-1 are on the disk');
  }
});

test('writeImage: a frame that decodes to more than its chunk fails before the excess is written (nothing past raw.size)', async () => {
  // The last chunk claims 4096 bytes less than its frame holds (and raw.size with it).
  const last = img.manifest.chunks.length - 1;
  const short = resigned(img, (m) => ({ ...m, raw: { ...m.raw, size: m.raw.size - 4096 }, chunks: m.chunks.map((c, i) => (i === last ? { ...c, rawSize: c.rawSize - 4096 } : c)) }));
  const end = short.raw.size;
  const path = target(end + 1024 * 1024, end);
  const r = await run({}, { manifest: short, path });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, new RegExp(`sha256 mismatch in chunk ${last} .*the frame decodes to more than the chunk's ${short.chunks[last].rawSize} bytes`));
  assert.equal(marker(path, end), 'MARKER-BEYOND-IMAGE', 'nothing written past raw.size');
});

test('writeImage: a manifest whose raw.sha256 does not describe its chunks is caught by the re-read, and said so', async () => {
  const wrong = resigned(img, (m) => ({ ...m, raw: { ...m.raw, sha256: 'e'.repeat(64) } }));
  const r = await run({}, { manifest: wrong });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /sha256 mismatch over the whole image on re-read .*every chunk reads back as the manifest says: its raw\.sha256 does not describe its chunks/);
  const unverified = await run({}, { manifest: wrong, verify: false });
  assert.ok(!(unverified.result instanceof Error), String(unverified.result));
  assert.equal(unverified.result.rawSha256, 'e'.repeat(64), 'without the re-read, the manifest\'s word is all there is');
});

test('writeImage: cancelling mid-download stops the lanes and reports what was verified', async () => {
  const ctl = new AbortController();
  const r = await run({}, { image: big, signal: ctl.signal, onProgress: (p) => { if (p.bytesDone > 0) ctl.abort(); } });
  assert.ok(r.result instanceof WriteError);
  assert.match(r.result.message, /^cancelled; \d of 4 chunks were written and verified$/);
  const now = fileSha(r.path);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(fileSha(r.path), now, 'no write lands after writeImage returned');
});
