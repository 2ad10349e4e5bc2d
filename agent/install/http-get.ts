// The image download's HTTP GET. Node's own http client by default: reading a 164 MB image body
// through global fetch (undici + web streams) cost ~0.9 CPU-seconds and 2.7–3.9 s on the build VM,
// node:http 0.2 CPU-seconds and 0.6–1.4 s (same server, same run) — on a 2-core machine that was
// the difference between keeping up with `curl | zstd -d | dd` and not. A fetch-compatible function
// can still be passed (tests, proxies); both are seen through the same small interface.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface ImageResponse {
  status: number;
  statusText: string;
  header(name: string): string | null;
  body: AsyncIterable<Uint8Array>;
  /** Stops the body (closes the connection). */
  close(): void;
}

export type ImageGet = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<ImageResponse>;

/** The subset of `fetch` the writer uses. */
export type ImageFetch = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<Response>;

export const nodeHttpGet: ImageGet = (url, headers, signal) => new Promise((resolve, reject) => {
  const u = new URL(url);
  const request = u.protocol === 'https:' ? httpsRequest : httpRequest;
  // A fresh connection per attempt (agent: false): a resume must not reuse a socket that just died.
  const req = request(u, { method: 'GET', headers, agent: false, signal }, (res: IncomingMessage) => {
    resolve({
      status: res.statusCode ?? 0,
      statusText: res.statusMessage ?? '',
      header: (name) => {
        const v = res.headers[name.toLowerCase()];
        return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
      },
      body: res,
      close: () => { res.destroy(); },
    });
  });
  req.on('error', reject);
  req.end();
});

export function fromFetch(f: ImageFetch): ImageGet {
  return async (url, headers, signal) => {
    const res = await f(url, { headers, signal });
    return {
      status: res.status,
      statusText: res.statusText,
      header: (name) => res.headers.get(name),
      body: res.body ?? (async function* () {})(),
      close: () => { void res.body?.cancel().catch(() => {}); },
    };
  };
}
