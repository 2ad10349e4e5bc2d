// The stand-in's API client: HTTPS with the cluster CA, a bearer token or a client certificate,
// JSON in and out. Failures keep what a caller needs to react like client-go: the HTTP status and
// the server's Status message, or "transport" when no answer came back at all.
import { request as httpsRequest } from 'node:https';

export interface Credentials { server: string; caPem: string; token?: string; certPem?: string; keyPem?: string }

export class KubeError extends Error {
  /** 0 for transport failures (refused, reset, TLS), else the HTTP status. */
  readonly status: number;
  readonly reason: string;
  constructor(status: number, reason: string, message: string) {
    super(message);
    this.status = status;
    this.reason = reason;
  }
  /** What client-go would retry and a kubelet sits out: no connection, or the server not coping. */
  get retryable(): boolean { return this.status === 0 || this.status === 429 || this.status >= 500; }
}

interface Raw { status: number; body: string }

function send(c: Credentials, method: string, path: string, body?: unknown, contentType = 'application/json', signal?: AbortSignal): Promise<Raw> {
  const url = new URL(path, c.server);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method,
      ca: c.caPem,
      cert: c.certPem,
      key: c.keyPem,
      signal,
      headers: {
        Accept: 'application/json',
        'User-Agent': 'kubelet-standin/v1.31.4 (linux/amd64)',
        ...(c.token ? { Authorization: `Bearer ${c.token}` } : {}),
        ...(payload !== undefined ? { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) } : {}),
      },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e) => reject(new KubeError(0, '', e.message)));
    });
    req.on('error', (e) => reject(signal?.aborted ? e : new KubeError(0, '', e.message)));
    req.end(payload);
  });
}

/** client-go's error text: the Status message, or the bare reason (`Unauthorized`) when that is all there is. */
function toError(r: Raw): KubeError {
  try {
    const s = JSON.parse(r.body);
    if (s?.kind === 'Status') {
      const msg = s.reason === 'Unauthorized' ? 'Unauthorized' : (s.message || s.reason || `the server responded with the status code ${r.status}`);
      return new KubeError(r.status, s.reason ?? '', msg);
    }
  } catch { /* not JSON */ }
  return new KubeError(r.status, '', `an error on the server ("${r.body.slice(0, 200)}") has prevented the request from succeeding`);
}

export async function call<T = any>(c: Credentials, method: string, path: string, body?: unknown, contentType?: string, signal?: AbortSignal): Promise<T> {
  const r = await send(c, method, path, body, contentType, signal);
  if (r.status < 200 || r.status > 299) throw toError(r);
  return (r.body ? JSON.parse(r.body) : undefined) as T;
}

/** GET returning the raw text (health checks). */
export async function getText(c: Credentials, path: string, signal?: AbortSignal): Promise<string> {
  const r = await send(c, 'GET', path, undefined, undefined, signal);
  if (r.status !== 200) throw toError(r);
  return r.body;
}

/**
 * Streams a watch: calls `onEvent` per JSON line until it returns true (done), the server ends
 * the stream, or the connection breaks. Resolves to whether `onEvent` finished it.
 */
export function watch(c: Credentials, path: string, onEvent: (e: { type: string; object: any }) => boolean, signal?: AbortSignal): Promise<boolean> {
  const url = new URL(path, c.server);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(url, {
      method: 'GET', ca: c.caPem, cert: c.certPem, key: c.keyPem, signal,
      headers: { Accept: 'application/json', ...(c.token ? { Authorization: `Bearer ${c.token}` } : {}) },
    }, (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => reject(toError({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') })));
        return;
      }
      let buf = '';
      let done = false;
      res.on('data', (d: Buffer) => {
        buf += d.toString('utf8');
        let i: number;
        while (!done && (i = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          try {
            if (onEvent(JSON.parse(line))) { done = true; req.destroy(); resolve(true); }
          } catch (e) {
            done = true;
            req.destroy();
            reject(e);
          }
        }
      });
      // A broken stream is not an error for a watcher: it lists and watches again.
      res.on('end', () => { if (!done) resolve(false); });
      res.on('error', () => { if (!done) resolve(false); });
      res.on('close', () => { if (!done) resolve(false); });
    });
    req.on('error', (e) => { if (signal?.aborted) reject(e); else reject(new KubeError(0, '', e.message)); });
    req.end();
  });
}
