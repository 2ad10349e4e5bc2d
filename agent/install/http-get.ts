// The image download's HTTP GET. For http: a small HTTP/1.1 client on a plain TCP socket that reads
// into one reused buffer (net's `onread`); for https: node:https. A fetch-compatible function can
// still be passed (tests, proxies); all are seen through the same small interface.
//
// Why not node:http for http: (measured on the build VM, 164 MB image body from nginx over loopback,
// bench/README.md): node:http took 0.8–0.9 CPU-seconds, a socket reading into a reused buffer
// 0.04–0.09, about what curl takes. node:http allocates a fresh buffer for every socket read and
// copies each body piece into another one, and fresh memory is what costs on that VM (page faults);
// on a 2-core machine that CPU is taken from the decoder and the hashes. Global fetch was worse
// still (0.9 CPU-s and 2.7–3.9 s for the same body).
//
// The lean client speaks only what the download needs: one GET per connection (`Connection:
// close`), a body framed by Content-Length, chunked transfer encoding, or the end of the connection;
// no redirects (neither does node:http), no keep-alive, no compression.
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface ImageResponse {
  status: number;
  statusText: string;
  header(name: string): string | null;
  /** Body pieces. A piece is only valid until the next one is asked for (it may be a reused buffer). */
  body: AsyncIterable<Uint8Array>;
  /** Stops the body (closes the connection). */
  close(): void;
}

export type ImageGet = (url: string, headers: Record<string, string>, signal: AbortSignal) => Promise<ImageResponse>;

/** The subset of `fetch` the writer uses. */
export type ImageFetch = (url: string, init: { headers: Record<string, string>; signal: AbortSignal }) => Promise<Response>;

/** http: through the lean client, https: through node:https. */
export const imageGet: ImageGet = (url, headers, signal) => (new URL(url).protocol === 'http:' ? leanHttpGet : nodeHttpGet)(url, headers, signal);

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

/** Socket reads land here; 256 KiB and up read the same CPU-wise (measured 64 KiB–1 MiB). */
const READ_BYTES = 256 * 1024;
/** A response head larger than this is not an image server's. */
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * GET over a fresh TCP connection (http: only), reading into one reused buffer. The socket is paused
 * while the body pieces of a read are handed out (they are views of that buffer) and resumed when
 * the consumer asks for more: the consumer's pace is the backpressure.
 */
export const leanHttpGet: ImageGet = (url, headers, signal) => new Promise((resolve, reject) => {
  const u = new URL(url);
  if (u.protocol !== 'http:') { reject(new Error(`the lean HTTP client speaks http: only, not ${u.protocol}`)); return; }
  const buf = Buffer.allocUnsafe(READ_BYTES);
  let head: Buffer | null = Buffer.alloc(0); // the response head as it arrives; null once parsed
  let framing: BodyFraming | null = null;
  const pieces: Uint8Array[] = [];
  let failure: Error | null = null;
  let done = false;
  let wake: (() => void) | null = null;
  const settle = (): void => { const w = wake; wake = null; w?.(); };

  const socket = connect({
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(u.port || 80),
    noDelay: true,
    onread: {
      buffer: buf,
      callback: (n: number): boolean => {
        try {
          let data: Uint8Array = buf.subarray(0, n);
          if (head) {
            const all = Buffer.concat([head, data]);
            const end = all.indexOf('\r\n\r\n');
            if (end < 0) {
              if (all.length > MAX_HEAD_BYTES) throw new Error(`the server's response head is over ${MAX_HEAD_BYTES} bytes`);
              head = all;
              return true;
            }
            const res = parseHead(all.subarray(0, end).toString('latin1'));
            if (res.status >= 100 && res.status < 200) { head = all.subarray(end + 4); return true; } // 1xx: the real head follows
            head = null;
            framing = new BodyFraming(res.header('transfer-encoding'), res.header('content-length'), res.status);
            data = all.subarray(end + 4); // a copy: it outlives this read
            resolve({ ...res, body: { [Symbol.asyncIterator]: () => ({ next, return: async () => { close(); return { done: true, value: undefined }; } }) }, close });
          }
          framing!.take(data, pieces);
          if (framing!.complete) { done = true; socket.destroy(); }
          if (pieces.length > 0 || done) { settle(); return false; } // paused until the pieces are used
          return true;
        } catch (e) {
          fail(e as Error);
          return false;
        }
      },
    },
  });

  function fail(e: Error): void {
    failure ??= e;
    socket.destroy();
    reject(failure); // no-op once the head was resolved
    settle();
  }
  function close(): void {
    done = true;
    socket.destroy();
    settle();
  }
  async function next(): Promise<IteratorResult<Uint8Array>> {
    for (;;) {
      const p = pieces.shift();
      if (p) return { done: false, value: p };
      if (failure) throw failure;
      if (done) return { done: true, value: undefined };
      const waiting = new Promise<void>((r) => { wake = r; });
      socket.resume(); // the last read's pieces are used: its buffer may be filled again
      await waiting;
    }
  }

  const onAbort = (): void => fail(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  if (signal.aborted) { onAbort(); return; }
  signal.addEventListener('abort', onAbort, { once: true });
  socket.on('close', () => {
    signal.removeEventListener('abort', onAbort);
    if (done || failure) return;
    if (head) fail(new Error('the connection closed before a response'));
    else if (framing!.untilClose) { done = true; settle(); } else fail(new Error(`the connection closed ${framing!.where()}`));
  });
  socket.on('error', (e) => fail(e));
  socket.on('connect', () => {
    const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, `host: ${u.host}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  });
});

function parseHead(text: string): Omit<ImageResponse, 'body' | 'close'> {
  const [statusLine, ...lines] = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
  if (!m) throw new Error(`not an HTTP/1.1 response: ${JSON.stringify(statusLine.slice(0, 80))}`);
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`malformed response header: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
  }
  return { status: Number(m[1]), statusText: m[2] ?? '', header: (name) => headers.get(name.toLowerCase()) ?? null };
}

/** Where a response body ends: Content-Length, chunked encoding, or the end of the connection. */
export class BodyFraming {
  readonly untilClose: boolean;
  complete = false;
  private left: number; // Content-Length: body bytes to come; chunked: data bytes left in this chunk
  private readonly chunked: boolean;
  private got = 0;
  private state: 'size' | 'data' | 'data-end' | 'trailer' = 'size';
  private line = '';

  constructor(transferEncoding: string | null, contentLength: string | null, status: number) {
    this.chunked = transferEncoding !== null && /(^|,)\s*chunked\s*$/i.test(transferEncoding);
    if (transferEncoding !== null && !this.chunked) throw new Error(`unsupported transfer-encoding ${transferEncoding}`);
    if (!this.chunked && contentLength !== null && !/^\d+$/.test(contentLength.trim())) throw new Error(`malformed content-length ${contentLength}`);
    this.left = this.chunked ? 0 : contentLength === null ? Infinity : Number(contentLength);
    this.untilClose = !this.chunked && contentLength === null;
    if (status === 204 || status === 304 || this.left === 0 && !this.chunked) this.complete = true;
  }

  where(): string { return this.chunked ? `inside a chunked body after ${this.got} bytes` : `after ${this.got} of ${this.got + this.left} body bytes`; }

  /** Appends the body bytes in `data` to `out` (as views of it). */
  take(data: Uint8Array, out: Uint8Array[]): void {
    let off = 0;
    while (off < data.length && !this.complete) {
      if (!this.chunked || this.state === 'data') {
        const n = Math.min(this.left, data.length - off);
        out.push(data.subarray(off, off + n));
        off += n;
        this.got += n;
        this.left -= n;
        if (this.left === 0) {
          if (this.chunked) this.state = 'data-end';
          else this.complete = true;
        }
        continue;
      }
      // Chunked framing lines: "<hex size>[;ext]\r\n", the CRLF after a chunk's data, the trailer.
      const nl = data.indexOf(0x0a, off);
      const end = nl < 0 ? data.length : nl + 1;
      this.line += Buffer.from(data.buffer, data.byteOffset + off, end - off).toString('latin1');
      off = end;
      if (nl < 0) {
        if (this.line.length > 4096) throw new Error('a chunked body line is over 4096 bytes');
        continue;
      }
      const line = this.line.replace(/\r?\n$/, '');
      this.line = '';
      if (this.state === 'data-end') {
        if (line !== '') throw new Error('a chunk of the body does not end where its size says');
        this.state = 'size';
      } else if (this.state === 'size') {
        const size = /^([0-9a-fA-F]{1,12})\s*(;.*)?$/.exec(line);
        if (!size) throw new Error(`malformed chunk size ${JSON.stringify(line.slice(0, 40))}`);
        this.left = parseInt(size[1], 16);
        this.state = this.left === 0 ? 'trailer' : 'data';
      } else if (line === '') {
        this.complete = true; // the empty line after the last chunk's trailer
      }
    }
  }
}
