import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { BodyFraming, leanHttpGet, type ImageResponse } from './http-get.ts';

async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}
async function closeServer(server: Server | ReturnType<typeof createNetServer>): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

/** Reads the whole body, copying each piece (pieces are views of a reused buffer). */
async function bodyOf(res: ImageResponse): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const p of res.body) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

/** A raw TCP server that answers every connection with `respond` (for framings node:http will not produce). */
async function rawServer(respond: (s: Socket, request: string) => void): Promise<{ url: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createNetServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    let req = '';
    s.on('data', (d) => {
      req += d.toString('latin1');
      if (req.includes('\r\n\r\n')) respond(s, req);
    });
    s.on('error', () => {});
  });
  const url = await listen(server);
  return { url, close: async () => { for (const s of sockets) s.destroy(); await closeServer(server); } };
}

test('leanHttpGet: a Content-Length body, its status and headers; sends Range and Host', async () => {
  const body = randomBytes(3 * 1024 * 1024 + 17); // several socket reads
  let seen: { range?: string; host?: string } = {};
  const server = createHttpServer((req, res) => {
    seen = { range: req.headers.range, host: req.headers.host };
    res.writeHead(206, 'Partial Content', { 'content-length': String(body.length), 'content-range': `bytes 5-${body.length + 4}/${body.length + 5}`, 'x-two': ['a', 'b'] });
    res.end(body);
  });
  const url = await listen(server);
  try {
    const res = await leanHttpGet(`${url}/img.zst?x=1`, { range: 'bytes=5-' }, new AbortController().signal);
    assert.equal(res.status, 206);
    assert.equal(res.statusText, 'Partial Content');
    assert.equal(res.header('Content-Range'), `bytes 5-${body.length + 4}/${body.length + 5}`);
    assert.equal(res.header('x-two'), 'a, b');
    assert.equal(res.header('x-none'), null);
    assert.ok((await bodyOf(res)).equals(body));
    assert.deepEqual(seen, { range: 'bytes=5-', host: new URL(url).host });
  } finally {
    await closeServer(server);
  }
});

test('leanHttpGet: a chunked body (what node:http sends without a length) is de-chunked', async () => {
  const parts = [randomBytes(100), randomBytes(70_000), randomBytes(1), randomBytes(300_000)];
  const server = createHttpServer(async (_req, res) => {
    res.writeHead(200);
    for (const p of parts) { res.write(p); await new Promise((r) => setTimeout(r, 5)); }
    res.end();
  });
  const url = await listen(server);
  try {
    const res = await leanHttpGet(url, {}, new AbortController().signal);
    assert.equal(res.header('transfer-encoding'), 'chunked');
    assert.ok((await bodyOf(res)).equals(Buffer.concat(parts)));
  } finally {
    await closeServer(server);
  }
});

test('leanHttpGet: a head split across reads, a 100 Continue before it, and a body that ends with the connection', async () => {
  const srv = await rawServer((s) => {
    s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\nServer: t');
    setTimeout(() => { s.write('est\r\n\r\nhello '); setTimeout(() => s.end('world'), 10); }, 10);
  });
  try {
    const res = await leanHttpGet(srv.url, {}, new AbortController().signal);
    assert.equal(res.status, 200);
    assert.equal(res.header('server'), 'test');
    assert.equal((await bodyOf(res)).toString(), 'hello world');
  } finally {
    await srv.close();
  }
});

test('leanHttpGet: a connection that drops inside the body fails the body, with where', async () => {
  const srv = await rawServer((s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
    setTimeout(() => s.destroy(), 20);
  });
  try {
    const res = await leanHttpGet(srv.url, {}, new AbortController().signal);
    await assert.rejects(bodyOf(res), /the connection closed after 10 of 100 body bytes/);
  } finally {
    await srv.close();
  }
});

test('leanHttpGet: abort before and during the body; a refused connection; not HTTP', async () => {
  const srv = await rawServer((s) => { s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'); });
  try {
    const ctl = new AbortController();
    const res = await leanHttpGet(srv.url, {}, ctl.signal);
    const it = res.body[Symbol.asyncIterator]();
    assert.equal(Buffer.from((await it.next()).value!).toString(), '0123456789');
    ctl.abort(new Error('no data for 30 s'));
    await assert.rejects(it.next(), /no data for 30 s/);
    const gone = new AbortController();
    gone.abort(new Error('cancelled'));
    await assert.rejects(leanHttpGet(srv.url, {}, gone.signal), /cancelled/);
  } finally {
    await srv.close();
  }
  await assert.rejects(leanHttpGet(srv.url, {}, new AbortController().signal), /ECONNREFUSED/);
  const junk = await rawServer((s) => { s.end('SSH-2.0-OpenSSH\r\n\r\n'); });
  try {
    await assert.rejects(leanHttpGet(junk.url, {}, new AbortController().signal), /not an HTTP\/1\.1 response/);
  } finally {
    await junk.close();
  }
});

test('BodyFraming: chunked framing gives the same body however the bytes are split; bad framing is an error', () => {
  const wire = Buffer.from('5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nTrailer: x\r\n\r\nJUNK AFTER');
  for (const step of [1, 2, 3, 7, 1000]) {
    const f = new BodyFraming('chunked', null, 200);
    const out: Uint8Array[] = [];
    for (let off = 0; off < wire.length && !f.complete; off += step) f.take(wire.subarray(off, off + step), out);
    assert.equal(Buffer.concat(out).toString(), 'hello 0123456789', `split every ${step}`);
    assert.ok(f.complete);
  }
  assert.throws(() => new BodyFraming('chunked', null, 200).take(Buffer.from('zz\r\n'), []), /malformed chunk size/);
  assert.throws(() => new BodyFraming('chunked', null, 200).take(Buffer.from('2\r\nabc\r\n'), []), /does not end where its size says/);
  assert.throws(() => new BodyFraming('gzip', null, 200), /unsupported transfer-encoding/);
  const cl = new BodyFraming(null, '4', 200);
  const out: Uint8Array[] = [];
  cl.take(Buffer.from('abcdef'), out);
  assert.equal(Buffer.concat(out).toString(), 'abcd');
  assert.ok(cl.complete);
  assert.ok(new BodyFraming(null, null, 304).complete);
});
