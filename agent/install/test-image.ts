// Test fixtures for the install path (imported by tests only, never by the agent): small signed
// images made with the real compressImage, and an image server on 127.0.0.1 that speaks Range and
// can misbehave on purpose — cut a connection once, serve a corrupted byte, ignore Range, fail.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compressImage, imageFileName } from '../../images/compress.ts';
import { loadOrCreateSigningKey, type ImageManifest, type SigningKey } from '../../images/manifest.ts';
import type { DiskRef, InstallSpec } from '../protocol.ts';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const fileSha = (path: string): string => sha256(readFileSync(path));

export interface TestImage { dir: string; raw: Buffer; manifest: ImageManifest; key: SigningKey; zst: Buffer; zstPath: string }

/**
 * A raw image shaped like a disk: random (incompressible) runs, zero runs and repetitive text, with
 * a size that is not a multiple of the chunk size so the last chunk is short.
 */
export async function makeImage(o: { chunks?: number; chunkBytes?: number; tail?: number; dir?: string } = {}): Promise<TestImage> {
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'tether-install-'));
  const chunkBytes = o.chunkBytes ?? 256 * 1024;
  const size = chunkBytes * ((o.chunks ?? 6) - 1) + (o.tail ?? 12_345);
  const raw = Buffer.alloc(size);
  let seed = 0x9e3779b9;
  const rnd = (): number => { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return seed >>> 0; };
  for (let pos = 0; pos < size;) {
    const run = Math.min(size - pos, 4096 * (1 + (rnd() % 24)));
    const kind = rnd() % 3;
    if (kind === 0) for (let i = 0; i < run; i++) raw[pos + i] = rnd() & 0xff;
    else if (kind === 1) raw.write('tether '.repeat(Math.ceil(run / 7)).slice(0, run), pos, 'latin1');
    pos += run; // kind 2: zeros
  }
  writeFileSync(join(dir, 'disk.raw'), raw);
  const key = loadOrCreateSigningKey(join(dir, 'signing.key'));
  const manifest = await compressImage({
    raw: join(dir, 'disk.raw'), outDir: dir, name: 'test-node', chunkBytes, level: 1,
    root: { partition: 2, label: 'tether-root', fs: 'ext4' }, boot: { bios: true, uefi: true }, signingKey: key.privateKey,
  });
  const zstPath = join(dir, imageFileName('test-node'));
  return { dir, raw, manifest, key, zst: readFileSync(zstPath), zstPath };
}

export const diskRef = (name: string, sizeBytes: number, serial: string | null = 'SN-TEST-1', wwn: string | null = null): DiskRef => ({ name, sizeBytes, serial, wwn });

export function installSpec(img: TestImage, url: string, target: DiskRef, manifest: ImageManifest = img.manifest): InstallSpec {
  return { id: 'inst-1', imageUrl: url, manifest, publicKey: img.key.publicPem, target };
}

export interface Faults {
  /** Send only this many body bytes of the first response, then drop the connection. */
  cutAfter?: number;
  /** Drop every response after this many body bytes (a link that never holds). */
  cutAlwaysAfter?: number;
  /** Serve this compressed byte flipped, on every request. */
  corruptAt?: number;
  /** Answer 200 with the whole file whatever the Range header says. */
  ignoreRange?: boolean;
  /** Statuses to answer the first requests with (e.g. [503]); then serve normally. */
  statuses?: number[];
}

export interface ImageServer { url: string; requests: Array<{ range: string | undefined }>; close(): Promise<void>; server: Server }

export async function serveImage(data: Buffer, faults: Faults = {}): Promise<ImageServer> {
  const requests: ImageServer['requests'] = [];
  let cut = false;
  const statuses = [...(faults.statuses ?? [])];
  const body = Buffer.from(data);
  if (faults.corruptAt !== undefined) body[faults.corruptAt] ^= 0x40;
  const server = createServer((req: IncomingMessage, res) => {
    requests.push({ range: req.headers.range });
    const status = statuses.shift();
    if (status !== undefined) { res.writeHead(status, { 'content-length': '0' }); res.end(); return; }
    if (req.url !== '/img.zst') { res.writeHead(404, { 'content-length': '0' }); res.end(); return; }
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    if (m && !faults.ignoreRange) {
      start = Number(m[1]);
      res.writeHead(206, { 'content-length': String(body.length - start), 'content-range': `bytes ${start}-${body.length - 1}/${body.length}`, 'accept-ranges': 'bytes' });
    } else {
      res.writeHead(200, { 'content-length': String(body.length), 'accept-ranges': faults.ignoreRange ? 'none' : 'bytes' });
    }
    const slice = body.subarray(start);
    const limit = faults.cutAlwaysAfter ?? (!cut ? faults.cutAfter : undefined);
    if (limit !== undefined && limit < slice.length) {
      cut = true;
      // Half a response, then the connection is gone: what a dropped link looks like to the client.
      // (The client's stream discards what it buffered but had not consumed when the socket dies, so
      // its resume point can be a chunk or two before the cut: still a chunk boundary, never 0.)
      res.write(slice.subarray(0, limit), () => setTimeout(() => res.socket?.destroy(), 100));
      return;
    }
    res.end(slice);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/img.zst`,
    requests,
    server,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
