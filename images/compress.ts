// Raw disk image → chunked zstd file + signed manifest (images/manifest.ts explains the layout).
// Each chunk is its own zstd frame, so the agent can resume a download at a chunk boundary.
// Output is written under temp names and renamed at the end: a crash leaves no half image that
// a catalog could pick up.
import { createHash, type KeyObject } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, renameSync, writeFileSync, writeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { constants, zstdCompress } from 'node:zlib';
import { DEFAULT_CHUNK_BYTES, MANIFEST_FILE, MANIFEST_FORMAT, signManifest, type ImageChunk, type ImageManifest } from './manifest.ts';

const compress = promisify(zstdCompress);

export interface CompressOptions {
  raw: string;
  outDir: string;
  name: string;
  root: ImageManifest['root'];
  boot: ImageManifest['boot'];
  signingKey: KeyObject;
  contents?: Record<string, string>;
  config?: ImageManifest['config'];
  tail?: ImageManifest['tail'];
  /** Only the first `rawSize` bytes of the file are the image (the rest is config partition and backup GPT). */
  rawSize?: number;
  chunkBytes?: number;
  /** zstd level: 3 is fast enough for tests; releases may use 19. */
  level?: number;
  /** Called after each chunk. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
}

/** The compressed file's name for an image name. */
export const imageFileName = (name: string): string => `${name}.raw.zst`;

export async function compressImage(o: CompressOptions): Promise<ImageManifest> {
  const chunkBytes = o.chunkBytes ?? DEFAULT_CHUNK_BYTES;
  if (chunkBytes % 4096 !== 0) throw new RangeError('chunkBytes must be a multiple of 4096 (disk writes stay aligned)');
  const file = imageFileName(o.name);
  const outPath = join(o.outDir, file);
  const tmpOut = `${outPath}.tmp-${process.pid}`;
  const inFd = openSync(o.raw, 'r');
  const outFd = openSync(tmpOut, 'w');
  const rawHash = createHash('sha256');
  const compHash = createHash('sha256');
  const chunks: ImageChunk[] = [];
  const size = o.rawSize ?? fstatSync(inFd).size;
  if (size > fstatSync(inFd).size) throw new RangeError(`rawSize ${size} is beyond the end of ${o.raw}`);
  if (size === 0) throw new RangeError(`${o.raw} is empty`);
  const buf = Buffer.allocUnsafe(chunkBytes);
  let rawOffset = 0;
  let offset = 0;
  try {
    while (rawOffset < size) {
      let n = 0;
      while (n < chunkBytes && rawOffset + n < size) n += readSync(inFd, buf, n, Math.min(chunkBytes, size - rawOffset) - n, rawOffset + n);
      const raw = buf.subarray(0, n);
      rawHash.update(raw);
      const frame = await compress(raw, { params: { [constants.ZSTD_c_compressionLevel]: o.level ?? 3, [constants.ZSTD_c_checksumFlag]: 1 } });
      compHash.update(frame);
      writeSync(outFd, frame);
      chunks.push({ rawOffset, rawSize: n, offset, size: frame.length, sha256: createHash('sha256').update(raw).digest('hex') });
      rawOffset += n;
      offset += frame.length;
      o.onProgress?.(rawOffset, size);
    }
    closeSync(outFd);
  } catch (e) {
    closeSync(outFd);
    rmSync(tmpOut, { force: true });
    throw e;
  } finally {
    closeSync(inFd);
  }
  const manifest = signManifest({
    format: MANIFEST_FORMAT,
    name: o.name,
    createdAt: new Date().toISOString(),
    raw: { size, sha256: rawHash.digest('hex') },
    compressed: { file, codec: 'zstd', size: offset, sha256: compHash.digest('hex') },
    chunks,
    root: o.root,
    boot: o.boot,
    ...(o.contents ? { contents: o.contents } : {}),
    ...(o.config ? { config: o.config } : {}),
    ...(o.tail ? { tail: o.tail } : {}),
  }, o.signingKey);
  renameSync(tmpOut, outPath);
  const manifestPath = join(o.outDir, MANIFEST_FILE);
  writeFileSync(`${manifestPath}.tmp-${process.pid}`, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(`${manifestPath}.tmp-${process.pid}`, manifestPath);
  return manifest;
}
