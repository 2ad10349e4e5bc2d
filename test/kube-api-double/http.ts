// Request bodies and response encoding as the apiserver negotiates them: JSON in and out, bounded
// bodies (413), protobuf/CBOR/YAML bodies refused with 415 and Accept lists without JSON with 406.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { ApiError, badRequest, notAcceptable, tooLarge, unsupportedMediaType, type Status } from './status.ts';

export const BODY_LIMIT = 3 * 1024 * 1024;

export function send(res: ServerResponse, code: number, body: unknown, contentType = 'application/json'): void {
  if (res.headersSent || res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(code, {
    'Audit-Id': randomUUID(),
    'Cache-Control': 'no-cache, private',
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export const sendStatus = (res: ServerResponse, s: Status) => send(res, s.code, s);

/** Reads the body up to BODY_LIMIT; a larger one is a 413 (and the connection is not reused). */
export function readBody(req: IncomingMessage, limit = BODY_LIMIT): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > limit) { req.removeAllListeners('data'); req.pause(); reject(tooLarge(limit)); return; }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const mediaType = (h: string | undefined) => (h ?? '').split(';')[0].trim().toLowerCase();

/** Body as JSON for create/update; `allowed` are the extra types a patch may carry. */
export async function readJson(req: IncomingMessage, allowed: string[] = ['application/json']): Promise<{ type: string; value: any }> {
  const type = mediaType(req.headers['content-type']) || 'application/json';
  if (!allowed.includes(type)) throw unsupportedMediaType(allowed);
  const raw = await readBody(req);
  try {
    return { type, value: JSON.parse(raw.toString('utf8')) };
  } catch (e) {
    throw badRequest(`couldn't get version/kind; json parse error: ${(e as Error).message}`);
  }
}

/** 406 unless the client accepts JSON in some form. */
export function checkAccept(accept: string | undefined): void {
  if (!accept) return;
  const ok = accept.split(',').some((a) => {
    const t = mediaType(a);
    return t === 'application/json' || t === '*/*' || t === 'application/*' || t === '';
  });
  if (!ok) throw notAcceptable(['application/json']);
}

export const asApiError = (e: unknown): ApiError | null => (e instanceof ApiError ? e : null);
