// The server against a scripted client on 127.0.0.1: transfer mechanics (windows, loss, rollover,
// retries, TIDs, limits, refusals) that real clients cannot be made to exercise on demand.
// Real clients and per-address replies are in integration.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { createTftpServer, type TftpLimits, type TransferEvent } from './server.ts';
import { chainSources, virtualSource, type FileSource, type VirtualFile } from './source.ts';
import { decodeTftp, encodeTftp, type TftpPacket } from './packet.ts';
import { toNetascii } from './blocks.ts';
import { tftpGet, type GetOptions } from './fixtures/client.ts';
import { waitFor } from '../../test/lib/wait.ts';

const files = new Map<string, VirtualFile>([
  ['empty', Buffer.alloc(0)],
  ['511', randomBytes(511)],
  ['512', randomBytes(512)],
  ['1025', randomBytes(1025)],
  ['200k', randomBytes(200_000)],
  ['text', Buffer.from('kernel vmlinuz\r\ninitrd initrd.img\n'.repeat(40))],
  ['rollover', randomBytes(66_000 * 8 + 3)], // > 65535 blocks of 8 octets
]);
const fileData = (name: string): Buffer => files.get(name) as Buffer;

interface Harness {
  port: number;
  logs: Array<{ level: string; msg: string; reason?: string; [k: string]: unknown }>;
  events: TransferEvent[];
  get(file: string, o?: Partial<GetOptions>): ReturnType<typeof tftpGet>;
  close(): Promise<void>;
}

async function serve(limits: Partial<TftpLimits> = {}, source: FileSource = virtualSource(files)): Promise<Harness> {
  const logs: Harness['logs'] = [];
  const events: TransferEvent[] = [];
  const server = createTftpServer({
    listen: [{ address: '127.0.0.1', port: 0 }],
    source,
    limits: { timeoutMs: 200, ...limits },
    log: (level, msg, fields) => logs.push({ level, msg, ...fields }),
    onTransfer: (e) => events.push(e),
  });
  const [{ port }] = await server.listen();
  return { port, logs, events, get: (file, o = {}) => tftpGet({ server: '127.0.0.1', port, file, ...o }), close: () => server.close() };
}

/** A bare UDP socket on 127.0.0.1 that queues decoded packets. */
async function udp(): Promise<{ sock: Socket; send(p: TftpPacket | Buffer, port: number): void; next(ms?: number): Promise<{ p: TftpPacket; from: RemoteInfo }> }> {
  const sock = createSocket('udp4');
  const queue: Array<{ p: TftpPacket; from: RemoteInfo }> = [];
  const waiters: Array<() => void> = [];
  sock.on('message', (msg, from) => {
    const d = decodeTftp(msg);
    if (d.ok) queue.push({ p: d.packet, from });
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((r) => sock.bind({ address: '127.0.0.1', port: 0 }, r));
  return {
    sock,
    send: (p, port) => sock.send(Buffer.isBuffer(p) ? p : encodeTftp(p), port, '127.0.0.1'),
    next: (ms = 3000) => new Promise((resolve, reject) => {
      // A timed-out wait must not stay queued: it would swallow the next packet.
      const timer = setTimeout(() => { waiters.splice(waiters.indexOf(check) >>> 0, 1); reject(new Error('no packet')); }, ms);
      const check = (): void => {
        const item = queue.shift();
        if (item) { clearTimeout(timer); resolve(item); } else waiters.push(check);
      };
      check();
    }),
  };
}

/** Events trail the client: the server reports once it has read the final ACK. */
const until = (cond: () => boolean) => waitFor('the transfer event', cond, { quiet: true, everyMs: 5 });

const rrq = (filename: string, options: Record<string, string> = {}): TftpPacket =>
  ({ op: 'RRQ', filename, mode: 'octet', options: new Map(Object.entries(options)) });

test('lock-step transfers of every edge size, with and without options', async () => {
  const h = await serve();
  try {
    for (const name of ['empty', '511', '512', '1025', '200k']) {
      const plain = await h.get(name);
      assert.deepEqual(plain.data, fileData(name), name);
      assert.equal(plain.dataPackets, Math.floor(fileData(name).length / 512) + 1, `${name}: a short (maybe empty) last block`);
      const negotiated = await h.get(name, { options: { blksize: '1468', tsize: '0' } });
      assert.deepEqual(negotiated.oack, { blksize: '1468', tsize: String(fileData(name).length) });
      assert.deepEqual(negotiated.data, fileData(name), `${name} at 1468`);
    }
    await until(() => h.events.length === 10);
    assert.ok(h.events.every((e) => e.result === 'complete'));
  } finally {
    await h.close();
  }
});

test('windowed transfer (RFC 7440) recovers lost blocks', async () => {
  const h = await serve();
  try {
    // Lose blocks 5, 20 and 21 the first time: the client acks the last block in order, the
    // server resumes right after it.
    const r = await h.get('200k', { options: { windowsize: '8', blksize: '1024' }, drop: (b, n) => n === 1 && [5, 20, 21].includes(b) });
    assert.equal(r.oack?.windowsize, '8');
    assert.deepEqual(r.data, fileData('200k'));
    // Lose the last block of a window: nothing follows to show the gap, so the server's timer resends.
    const tail = await h.get('200k', { options: { windowsize: '8', blksize: '1024' }, drop: (b, n) => n === 1 && b === 16 });
    assert.deepEqual(tail.data, fileData('200k'));
    assert.ok(h.logs.some((l) => l.msg === 'tftp retransmit'));
  } finally {
    await h.close();
  }
});

test('lock-step: a lost DATA is resent on timeout, duplicate ACKs are not answered', async () => {
  const h = await serve();
  try {
    // The client re-acks block 2 after its own 50 ms timeout while waiting for block 3: answering
    // each duplicate ACK would double every later block (Sorcerer's Apprentice).
    const r = await h.get('200k', { timeoutMs: 50, tries: 20, drop: (b, n) => b === 3 && n <= 2 });
    assert.deepEqual(r.data, fileData('200k'));
    assert.equal(r.dataPackets, Math.floor(200_000 / 512) + 1, 'no block sent twice after the loss');
  } finally {
    await h.close();
  }
});

test('the RFC 2349 timeout option sets the retransmission interval', { timeout: 15_000 }, async () => {
  // Server default of 60 s: only the client's `timeout 1` can bring the lost block back in time.
  const h = await serve({ timeoutMs: 60_000 });
  try {
    const r = await h.get('1025', { options: { timeout: '1' }, timeoutMs: 30_000, drop: (b, n) => b === 1 && n === 1 });
    assert.equal(r.oack?.timeout, '1');
    assert.deepEqual(r.data, fileData('1025'));
  } finally {
    await h.close();
  }
});

test('a silent client is given up after bounded retries', async () => {
  const h = await serve({ timeoutMs: 30, retries: 3 });
  const c = await udp();
  try {
    c.send(rrq('200k'), h.port);
    for (let i = 0; i < 4; i++) assert.deepEqual((await c.next()).p, { op: 'DATA', block: 1, data: fileData('200k').subarray(0, 512) });
    await assert.rejects(c.next(300), /no packet/);
    await until(() => h.events.length > 0);
    assert.equal(h.events[0].result, 'timeout');
  } finally {
    c.sock.close();
    await h.close();
  }
});

test('block numbers roll over past 65535 (to 0) inside a window', async () => {
  // Lock-step rollover is shown with curl and 33 MiB in integration.test.ts.
  const h = await serve();
  try {
    const r = await h.get('rollover', { options: { blksize: '8', windowsize: '64' } });
    assert.deepEqual(r.data, fileData('rollover'));
    assert.equal(r.dataPackets, 66_001);
  } finally {
    await h.close();
  }
});

test('a packet from an unknown transfer ID gets ERROR 5 and the transfer goes on', async () => {
  const h = await serve();
  const c = await udp();
  const stray = await udp();
  try {
    c.send(rrq('1025'), h.port);
    const first = await c.next();
    assert.equal(first.p.op, 'DATA');
    stray.send({ op: 'ACK', block: 1 }, first.from.port);
    assert.deepEqual((await stray.next()).p, { op: 'ERROR', code: 5, message: 'unknown transfer ID' });
    const got = [(first.p as { data: Buffer }).data];
    for (let block = 1; ; block++) {
      c.send({ op: 'ACK', block }, first.from.port);
      if (got.at(-1)!.length < 512) break;
      const { p, from } = await c.next();
      assert.equal(from.port, first.from.port);
      assert.equal(p.op === 'DATA' && p.block, block + 1);
      got.push((p as { data: Buffer }).data);
    }
    assert.deepEqual(Buffer.concat(got), fileData('1025'));
    await until(() => h.events.length > 0);
    assert.equal(h.events[0].result, 'complete');
    assert.ok(h.logs.some((l) => l.reason === 'unknown-tid'));
  } finally {
    c.sock.close();
    stray.sock.close();
    await h.close();
  }
});

test('refusals: each gets its ERROR code and a log line with client and reason, and serving goes on', async () => {
  const throwing: FileSource = { open: async (p) => { if (p === 'boom') throw new Error('backend down'); return { error: 'not-found', message: 'no such file' }; } };
  const h = await serve({}, chainSources(throwing, virtualSource(files)));
  const c = await udp();
  try {
    const cases: Array<[TftpPacket | Buffer, number, string]> = [
      [rrq('missing'), 1, 'not-found'],
      [rrq('../etc/passwd'), 2, 'access-violation'],
      [rrq('a/../../x'), 2, 'access-violation'],
      [{ op: 'WRQ', filename: 'up.bin', mode: 'octet', options: new Map() }, 2, 'write-refused'],
      [{ op: 'RRQ', filename: '512', mode: 'mail', options: new Map() }, 4, 'illegal-op'],
      [{ op: 'ACK', block: 1 }, 4, 'illegal-op'],
      [{ op: 'DATA', block: 1, data: Buffer.from('x') }, 4, 'illegal-op'],
      [Buffer.from([0, 1, 0x61]), 4, 'bad-request'],
      [Buffer.from([0, 99]), 4, 'bad-request'],
      [Buffer.concat([Buffer.from([0, 1]), Buffer.alloc(600, 0x61), Buffer.from('\0octet\0')]), 4, 'bad-request'],
      [rrq('512', { blksize: '4' }), 8, 'option-refused'],
      [rrq('512', { windowsize: 'many' }), 8, 'option-refused'],
      [rrq('boom'), 0, 'source-failed'],
    ];
    for (const [packet, code, reason] of cases) {
      const before = h.logs.length;
      c.send(packet, h.port);
      const { p } = await c.next();
      assert.equal(p.op === 'ERROR' && p.code, code, reason);
      assert.ok(h.logs.slice(before).some((l) => l.reason === reason && typeof l.client === 'string'), `log for ${reason}`);
    }
    // An ERROR sent to the request port is not answered (two servers would bounce them forever).
    c.send({ op: 'ERROR', code: 0, message: 'x' }, h.port);
    await assert.rejects(c.next(300), /no packet/);
    assert.deepEqual((await h.get('1025')).data, fileData('1025'));
  } finally {
    c.sock.close();
    await h.close();
  }
});

test('live transfers are bounded per client address and overall', async () => {
  const h = await serve({ timeoutMs: 10_000, maxTransfersPerClient: 2, maxTransfers: 3 });
  const clients = await Promise.all([udp(), udp(), udp()]);
  try {
    // Two stalled transfers (never acked) fill this address's quota.
    for (const c of clients.slice(0, 2)) {
      c.send(rrq('200k'), h.port);
      assert.equal((await c.next()).p.op, 'DATA');
    }
    clients[2].send(rrq('200k'), h.port);
    // Dropped, not refused: firmware would give up on an ERROR, but retries an unanswered RRQ.
    await assert.rejects(clients[2].next(300), /no packet/);
    assert.ok(h.logs.some((l) => l.reason === 'too-many-transfers' && l.scope === 'client'));
    // The overall bound counts every address: 127.0.0.2 gets one more, then the server is full.
    const other = await tftpGet({ server: '127.0.0.1', port: h.port, file: '512', from: '127.0.0.2' });
    assert.deepEqual(other.data, fileData('512'));
    await until(() => h.events.length === 1);
  } finally {
    clients.forEach((c) => c.sock.close());
    await h.close();
  }
  assert.deepEqual(h.events.map((e) => e.result).sort(), ['closed', 'closed', 'complete']);
});

test('the server-wide bound holds off a new client until a slot frees; its retry is served', async () => {
  const h = await serve({ timeoutMs: 10_000, maxTransfers: 1 });
  const c = await udp();
  const late = await udp();
  try {
    c.send(rrq('200k'), h.port);
    const first = await c.next();
    assert.equal(first.p.op, 'DATA');
    late.send(rrq('512'), h.port);
    await assert.rejects(late.next(300), /no packet/);
    assert.ok(h.logs.some((l) => l.reason === 'too-many-transfers' && l.scope === 'server'));
    // The first client aborts; the late one retransmits its RRQ (as firmware does) and is served.
    c.send({ op: 'ERROR', code: 0, message: 'done' }, first.from.port);
    await until(() => h.events.length === 1);
    let reply;
    for (let attempt = 0; attempt < 10 && !reply; attempt++) {
      late.send(rrq('512'), h.port);
      reply = await late.next(300).catch(() => undefined);
    }
    assert.equal(reply?.p.op, 'DATA');
  } finally {
    c.sock.close();
    late.sock.close();
    await h.close();
  }
});

test('EDK2 size probe: OACK with the real tsize, ERROR 8 ends it quietly, the re-request completes', async () => {
  const h = await serve();
  try {
    const probe = await h.get('200k', { options: { tsize: '0', blksize: '1468', windowsize: '4' }, probe: true });
    assert.deepEqual(probe.oack, { tsize: '200000', blksize: '1468', windowsize: '4' });
    assert.equal(probe.dataPackets, 0);
    const real = await h.get('200k', { options: { blksize: '1468', windowsize: '4' } });
    assert.deepEqual(real.data, fileData('200k'));
    await until(() => h.events.length === 2);
    assert.deepEqual(h.events.map((e) => e.result), ['aborted', 'complete']);
    assert.ok(h.logs.every((l) => l.level !== 'warn' && l.level !== 'error'));
  } finally {
    await h.close();
  }
});

test('a retransmitted RRQ from the same port does not start a second transfer', async () => {
  const h = await serve();
  try {
    const r = await h.get('200k', { duplicateRequest: true, options: { blksize: '1468' } });
    assert.deepEqual(r.data, fileData('200k'));
    assert.equal(r.sources.length, 1, `answered from ${r.sources.join(', ')}`);
    assert.ok(h.logs.some((l) => l.reason === 'duplicate-request'));
    await until(() => h.events.length === 1);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(h.events.length, 1);
  } finally {
    await h.close();
  }
});

test('a different RRQ from the same port while a transfer is live starts a new one', async () => {
  // EDK2's re-request after its size probe can overtake the ERROR 8 that ends the probe.
  const h = await serve({ timeoutMs: 10_000 });
  const c = await udp();
  try {
    c.send(rrq('1025', { tsize: '0', blksize: '1468' }), h.port);
    const probe = await c.next();
    assert.equal(probe.p.op, 'OACK');
    c.send(rrq('1025', { blksize: '1468' }), h.port);
    const oack = await c.next();
    assert.deepEqual(oack.p, { op: 'OACK', options: new Map([['blksize', '1468']]) });
    assert.notEqual(oack.from.port, probe.from.port);
    c.send({ op: 'ERROR', code: 8, message: 'size probe' }, probe.from.port);
    c.send({ op: 'ACK', block: 0 }, oack.from.port);
    assert.deepEqual((await c.next()).p, { op: 'DATA', block: 1, data: fileData('1025') });
    c.send({ op: 'ACK', block: 1 }, oack.from.port);
    await until(() => h.events.length === 2);
    assert.deepEqual(h.events.map((e) => e.result).sort(), ['aborted', 'complete']);
  } finally {
    c.sock.close();
    await h.close();
  }
});

test('netascii mode sends CR LF line ends and no tsize', async () => {
  const h = await serve();
  try {
    const r = await h.get('text', { mode: 'netascii', options: { tsize: '0', blksize: '1024' } });
    assert.deepEqual(r.oack, { blksize: '1024' });
    assert.deepEqual(r.data, toNetascii(fileData('text')));
  } finally {
    await h.close();
  }
});

test('a client ERROR mid-transfer ends it; a throwing onTransfer hook does not hurt the loop', async () => {
  const logs: string[] = [];
  const server = createTftpServer({
    listen: [{ address: '127.0.0.1', port: 0 }],
    source: virtualSource(files),
    log: (_level, msg) => logs.push(msg),
    onTransfer: () => { throw new Error('hook bug'); },
  });
  const [{ port }] = await server.listen();
  const c = await udp();
  try {
    c.send(rrq('200k'), port);
    const { from } = await c.next();
    c.send({ op: 'ERROR', code: 0, message: 'disk full' }, from.port);
    await until(() => logs.includes('tftp onTransfer hook threw'));
    assert.ok(logs.includes('tftp client aborted'));
    assert.deepEqual((await tftpGet({ server: '127.0.0.1', port, file: '511' })).data, fileData('511'));
  } finally {
    c.sock.close();
    await server.close();
  }
});

test('close() ends live transfers with ERROR 0 and stops listening', async () => {
  const h = await serve({ timeoutMs: 10_000 });
  const c = await udp();
  c.send(rrq('200k'), h.port);
  assert.equal((await c.next()).p.op, 'DATA');
  await h.close();
  assert.deepEqual((await c.next()).p, { op: 'ERROR', code: 0, message: 'server shutting down' });
  assert.equal(h.events[0].result, 'closed');
  c.send(rrq('512'), h.port);
  await assert.rejects(c.next(300), /no packet/);
  c.sock.close();
});

test('serves over IPv6 too, replying from the address asked', async () => {
  const server = createTftpServer({ listen: [{ address: '::1', port: 0 }], source: virtualSource(files) });
  const [{ port }] = await server.listen();
  try {
    const r = await tftpGet({ server: '::1', port, file: '1025', options: { blksize: '1024' } });
    assert.deepEqual(r.data, fileData('1025'));
    assert.match(r.sources[0], /^::1:\d+$/);
  } finally {
    await server.close();
  }
});

test('configuration faults are caught at creation', () => {
  const source = virtualSource(files);
  assert.throws(() => createTftpServer({ listen: [], source }), /at least one/);
  assert.throws(() => createTftpServer({ listen: [{ address: '0.0.0.0', port: 69 }], source }), /wildcard/);
  assert.throws(() => createTftpServer({ listen: [{ address: 'tftp.local', port: 69 }], source }), /not an IP/);
  assert.throws(() => createTftpServer({ listen: [{ address: '127.0.0.1', port: 69 }], source, limits: { maxBlksize: 70_000 } }), /maxBlksize/);
  assert.throws(() => createTftpServer({ listen: [{ address: '127.0.0.1', port: 69 }], source, limits: { maxWindowsize: 40_000 } }), /maxWindowsize/);
});
