// /artifacts/*: kernels and initrds for machines, read-only and confined to one root; the same
// plugin serves each catalog image directory under /images/<name>/.
// Range (resumed installs), ETag = sha256 (the agent verifies against it), HEAD, keep-alive.
// Open routes: machines fetch these before they can hold any credential.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import { ApiError } from './errors.ts';

export interface ArtifactFetch { path: string; mac?: string; step?: string; status: number; bytes: number; ip: string }

export interface ArtifactsOptions {
  root: string;
  /** URL path the root is served under; default `/artifacts` (not `prefix`: fastify reserves that). */
  mount?: string;
  /** Called for each served artifact (boot timeline, metrics); must not throw. */
  onFetch?: (f: ArtifactFetch) => void;
}

interface Digest { size: number; mtimeMs: number; sha256: string }

export async function resolveInRoot(root: string, rel: string): Promise<string> {
  // Refuse before touching the filesystem: no NUL, no backslashes, no dot segments.
  if (rel.includes('\0') || rel.includes('\\') || rel.split('/').some((s) => s === '..' || s === '.')) throw new ApiError('forbidden', 'path escapes the artifacts directory');
  const realRoot = await realpath(root).catch(() => { throw new ApiError('not_found', 'no artifacts directory'); });
  const full = await realpath(`${realRoot}/${rel.replace(/^\/+/, '')}`).catch(() => { throw new ApiError('not_found', `no artifact ${rel}`); });
  // A symlink inside the root must not lead out of it.
  if (full !== realRoot && !full.startsWith(realRoot + sep)) throw new ApiError('forbidden', 'path escapes the artifacts directory');
  return full;
}

function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null; // multi-range or garbage: send the whole file (RFC 9110 §14.2)
  let start: number;
  let end: number;
  if (m[1] === '') { start = Math.max(size - Number(m[2]), 0); end = size - 1; } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}

export default async function artifactsPlugin(app: FastifyInstance, o: ArtifactsOptions): Promise<void> {
  if (!o.root) throw new Error('artifacts plugin needs a root');
  const digests = new Map<string, Digest>();
  const pending = new Map<string, Promise<string>>();

  /** sha256 of a file, cached by (size, mtime); concurrent first requests share one hashing pass. */
  async function sha256Of(path: string, size: number, mtimeMs: number): Promise<string> {
    const d = digests.get(path);
    if (d && d.size === size && d.mtimeMs === mtimeMs) return d.sha256;
    let p = pending.get(path);
    if (!p) {
      p = new Promise<string>((resolve, reject) => {
        const h = createHash('sha256');
        createReadStream(path).on('data', (c) => h.update(c)).on('error', reject).on('end', () => resolve(h.digest('hex')));
      }).then((sha256) => { digests.set(path, { size, mtimeMs, sha256 }); return sha256; }).finally(() => pending.delete(path));
      pending.set(path, p);
    }
    return p;
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply) => {
    const rel = (request.params as { '*': string })['*'];
    const q = request.query as { mac?: string; step?: string };
    const path = await resolveInRoot(o.root, rel);
    const st = await stat(path);
    if (!st.isFile()) throw new ApiError('not_found', `no artifact ${rel}`);
    const sha256 = await sha256Of(path, st.size, st.mtimeMs);
    const etag = `"sha256-${sha256}"`;
    void reply.header('accept-ranges', 'bytes').header('etag', etag).header('last-modified', st.mtime.toUTCString())
      .header('x-checksum-sha256', sha256).header('cache-control', 'no-cache').type('application/octet-stream');
    const report = (status: number, bytes: number) => {
      try { o.onFetch?.({ path: rel, mac: q.mac, step: q.step, status, bytes, ip: request.ip }); } catch (e) { request.log.warn({ err: e }, 'artifact fetch observer failed'); }
    };
    if (request.headers['if-none-match'] === etag) { report(304, 0); return reply.status(304).send(); }
    // If-Range with another validator: the file changed, the client must start over.
    const ifRange = request.headers['if-range'];
    const range = ifRange && ifRange !== etag ? null : parseRange(request.headers.range, st.size);
    if (range === 'unsatisfiable') {
      report(416, 0);
      return reply.status(416).header('content-range', `bytes */${st.size}`).send();
    }
    const { start, end } = range ?? { start: 0, end: st.size - 1 };
    const length = st.size === 0 ? 0 : end - start + 1;
    void reply.header('content-length', length);
    if (range) void reply.status(206).header('content-range', `bytes ${start}-${end}/${st.size}`);
    report(range ? 206 : 200, request.method === 'HEAD' ? 0 : length);
    if (length === 0) return reply.send();
    return reply.send(createReadStream(path, { start, end, highWaterMark: 256 * 1024 }));
  };

  app.get(`${o.mount ?? '/artifacts'}/*`, {
    config: { access: 'open' },
    schema: { querystring: { type: 'object', properties: { mac: { type: 'string', maxLength: 17 }, step: { type: 'string', maxLength: 16 } } } },
  }, handler);
}
