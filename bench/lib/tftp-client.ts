// A lean TFTP read client for the boot-storm benchmark: N concurrent RRQs, each from its own source
// address (a storm is many machines, and servers limit transfers per client address), with the
// options firmware asks for. Run inside the client namespace:
//   node tftp-client.ts '{"server":"10.249.1.1","file":"f.bin","sources":["10.249.1.10",...],...}'
// prints one JSON line (TftpRunResult). Every transfer's sha256 is checked against the expected one.
//
// Lean on purpose: the client shares 2 cores with the server under test, so the hot path parses
// DATA by hand (the test fixture pxe/tftp/fixtures/client.ts decodes and re-arms a timer per
// packet) and one interval timer watches all transfers for retransmission.
import { createSocket, type Socket } from 'node:dgram';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { decodeTftp, encodeTftp } from '../../pxe/tftp/packet.ts';

export interface TftpRunSpec {
  server: string;
  port?: number;
  file: string;
  /** One transfer per source address, all started at once. */
  sources: string[];
  /** RRQ options, e.g. { blksize: '1468', tsize: '0', windowsize: '16' }. */
  options: Record<string, string>;
  sha256: string;
  /** Retransmit the last packet after this long without progress. */
  timeoutMs?: number;
  tries?: number;
}

export interface TftpRunResult {
  ok: number;
  failed: number;
  /** Failure reasons with their counts. */
  errors: Record<string, number>;
  /** Per successful transfer, RRQ sent to last ACK sent. */
  ms: number[];
  /** Payload octets of successful transfers. */
  bytes: number;
  wallMs: number;
  /** Packets this client sent again after a timeout. */
  retransmits: number;
  /** CPU this client used from the first RRQ to the end (it shares the machine with the server). */
  cpuMs: number;
  /** What the server granted (from the first OACK; none: RFC 1350 defaults). */
  granted: { blksize: number; windowsize: number; oack: boolean };
}

interface Transfer {
  sock: Socket;
  started: number;
  last: Buffer; // what to resend on timeout: the RRQ, then the latest ACK
  lastProgress: number;
  tries: number;
  tid?: { address: string; port: number };
  /** Connected to the server's TID: sends skip the address lookup and the kernel filters strangers. */
  connected: boolean;
  blksize: number;
  windowsize: number;
  expected: number; // absolute number of the next block wanted
  sinceAck: number;
  gapAcked: number; // `expected` for which a gap was already answered (one ACK per gap, RFC 7440)
  chunks: Buffer[];
  done: boolean;
}

const ack = (block: number): Buffer => {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt16BE(4, 0);
  b.writeUInt16BE(block & 0xffff, 2);
  return b;
};

export function runTftp(spec: TftpRunSpec): Promise<TftpRunResult> {
  const port = spec.port ?? 69;
  const timeoutMs = spec.timeoutMs ?? 1000;
  const maxTries = spec.tries ?? 5;
  const rrq = encodeTftp({ op: 'RRQ', filename: spec.file, mode: 'octet', options: new Map(Object.entries(spec.options)) });
  const result: TftpRunResult = { ok: 0, failed: 0, errors: {}, ms: [], bytes: 0, wallMs: 0, retransmits: 0, cpuMs: 0, granted: { blksize: 512, windowsize: 1, oack: false } };
  let grantedSeen = false;
  let live = spec.sources.length;
  let t0 = 0;
  let cpu0 = process.cpuUsage();

  return new Promise((resolve) => {
    const transfers: Transfer[] = [];
    let watchdog: NodeJS.Timeout | undefined;
    const end = (t: Transfer, error?: string): void => {
      if (t.done) return;
      t.done = true;
      if (t.connected || !t.tid) t.sock.close(); // else the connect callback sends `last` and closes
      if (error) {
        result.failed++;
        result.errors[error] = (result.errors[error] ?? 0) + 1;
      } else {
        const data = Buffer.concat(t.chunks);
        const sha = createHash('sha256').update(data).digest('hex');
        if (sha !== spec.sha256) {
          result.failed++;
          result.errors['sha256 mismatch'] = (result.errors['sha256 mismatch'] ?? 0) + 1;
        } else {
          result.ok++;
          result.bytes += data.length;
          result.ms.push(performance.now() - t.started);
        }
      }
      t.chunks = [];
      if (--live === 0) {
        clearInterval(watchdog);
        result.wallMs = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        result.cpuMs = (cpu.user + cpu.system) / 1000;
        resolve(result);
      }
    };
    const send = (t: Transfer, buf: Buffer): void => {
      t.last = buf;
      if (t.connected) t.sock.send(buf);
      else if (!t.tid) t.sock.send(buf, port, spec.server);
      // else: connecting; a send with an address now would be silently dropped (Node queues it
      // until connected, then refuses the address), so the connect callback sends `last`.
    };
    const onMessage = (t: Transfer, msg: Buffer, rinfo: { address: string; port: number }): void => {
      if (t.done || msg.length < 4) return;
      if (t.tid && (t.tid.port !== rinfo.port || t.tid.address !== rinfo.address)) return;
      if (!t.tid) {
        t.tid = { address: rinfo.address, port: rinfo.port };
        t.sock.connect(rinfo.port, rinfo.address, () => {
          t.connected = true;
          if (t.last !== rrq) t.sock.send(t.last);
          if (t.done) t.sock.close();
        });
      }
      const op = msg[1];
      if (op === 3) {
        const block = msg.readUInt16BE(2);
        if (block === (t.expected & 0xffff)) {
          t.lastProgress = performance.now();
          t.tries = 0;
          const data = msg.subarray(4);
          t.chunks.push(data);
          t.expected++;
          if (data.length < t.blksize) {
            send(t, ack(block));
            end(t);
          } else if (++t.sinceAck >= t.windowsize) {
            t.sinceAck = 0;
            send(t, ack(block));
          }
        } else if (((block - t.expected) & 0xffff) < 0x8000) {
          // A block from further on: something in between was lost. Acknowledge the last block
          // received in order, once, and the server resumes after it.
          if (t.gapAcked !== t.expected) {
            t.gapAcked = t.expected;
            t.sinceAck = 0;
            send(t, ack(t.expected - 1));
          }
        } else if (t.windowsize === 1 && block === ((t.expected - 1) & 0xffff)) {
          send(t, ack(block)); // lock-step: our ACK was lost and the server sent the block again
        }
      } else if (op === 6 && t.expected === 1) {
        const d = decodeTftp(msg);
        if (!d.ok || d.packet.op !== 'OACK') return end(t, 'bad OACK');
        t.blksize = Number(d.packet.options.get('blksize') ?? 512);
        t.windowsize = Number(d.packet.options.get('windowsize') ?? 1);
        if (!grantedSeen) {
          grantedSeen = true;
          result.granted = { blksize: t.blksize, windowsize: t.windowsize, oack: true };
        }
        t.lastProgress = performance.now();
        send(t, ack(0));
      } else if (op === 5) {
        const d = decodeTftp(msg);
        end(t, d.ok && d.packet.op === 'ERROR' ? `ERROR ${d.packet.code}: ${d.packet.message}` : 'bad ERROR');
      }
    };

    let bound = 0;
    const startAll = (): void => {
      t0 = performance.now();
      cpu0 = process.cpuUsage();
      for (const t of transfers) {
        t.started = t.lastProgress = performance.now();
        send(t, rrq);
      }
      watchdog = setInterval(() => {
        const now = performance.now();
        for (const t of transfers) {
          if (t.done || now - t.lastProgress < timeoutMs) continue;
          if (++t.tries > maxTries) { end(t, 'timeout'); continue; }
          t.lastProgress = now;
          result.retransmits++;
          send(t, t.last);
        }
      }, Math.min(100, timeoutMs));
    };
    for (const from of spec.sources) {
      const sock = createSocket('udp4');
      const t: Transfer = { sock, started: 0, last: rrq, lastProgress: 0, tries: 0, connected: false, blksize: 512, windowsize: 1, expected: 1, sinceAck: 0, gapAcked: 0, chunks: [], done: false };
      transfers.push(t);
      sock.on('message', (msg, rinfo) => onMessage(t, msg, rinfo));
      sock.on('error', (e) => end(t, `socket: ${e.message}`));
      sock.bind({ address: from, port: 0 }, () => { if (++bound === spec.sources.length) startAll(); });
    }
  });
}

if (import.meta.main) {
  const result = await runTftp(JSON.parse(process.argv[2]) as TftpRunSpec);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}
