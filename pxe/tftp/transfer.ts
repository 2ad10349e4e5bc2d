// One read transfer on its own socket (its TID): optional OACK, then DATA in lock-step (windowsize 1)
// or in windows (RFC 7440), retransmitted on timeout a bounded number of times.
import type { RemoteInfo, Socket } from 'node:dgram';
import { decodeTftp, encodeTftp, TftpError, type TftpOptions } from './packet.ts';
import type { BlockProducer } from './blocks.ts';
import type { TftpClient } from './source.ts';

const READ_AHEAD = 64 * 1024;

export type TftpLogLevel = 'debug' | 'info' | 'warn' | 'error';
export type TftpLog = (level: TftpLogLevel, msg: string, fields: Record<string, unknown>) => void;

/**
 * complete: the last block was acknowledged. aborted: the client sent an ERROR (EDK2 does so after
 * the OACK of its size probe). timeout: retries ran out. failed: the file could not be read.
 * closed: the server shut down.
 */
export type TransferResult = 'complete' | 'aborted' | 'timeout' | 'failed' | 'closed';

export interface TransferOutcome {
  result: TransferResult;
  /** Payload octets the client acknowledged. */
  bytes: number;
  detail?: string;
}

export interface TransferSpec {
  /** Bound to the address the request came to, so every reply leaves from it. */
  socket: Socket;
  client: TftpClient;
  file: string;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  retries: number;
  /** Empty: no options were accepted, DATA starts at once. */
  oack: TftpOptions;
  produce: BlockProducer;
  log: TftpLog;
}

export interface Transfer {
  ended: Promise<TransferOutcome>;
  /** Ends the transfer, telling the client why with ERROR 0. */
  stop(reason: string): void;
}

export function startTransfer(spec: TransferSpec): Transfer {
  const { socket, client, blksize, windowsize, log } = spec;
  const where = { client: `${client.address}:${client.port}`, local: client.localAddress, file: spec.file };
  let phase: 'oack' | 'data' = spec.oack.size > 0 ? 'oack' : 'data';
  let acked = 0; // absolute number of the highest block acknowledged (0: none yet)
  let sentMax = 0; // absolute number of the highest block sent
  let finalBlock: number | undefined; // absolute number of the short last block, once produced
  const unacked: Buffer[] = []; // blocks acked+1, acked+2, ... already produced
  let bytes = 0;
  let tries = 0;
  let generation = 0;
  let producing: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  let resolveEnded!: (o: TransferOutcome) => void;
  const ended = new Promise<TransferOutcome>((resolve) => { resolveEnded = resolve; });

  const send = (buf: Buffer, port = client.port, address = client.address): void => {
    socket.send(buf, port, address, (err) => {
      if (err) log('debug', 'tftp send failed', { ...where, error: err.message });
    });
  };

  const finish = (result: TransferResult, detail?: string, error?: { code: number; message: string }): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('message', onMessage);
    const close = (): void => { try { socket.close(); } catch { /* already closed */ } };
    if (error) socket.send(encodeTftp({ op: 'ERROR', ...error }), client.port, client.address, close);
    else close();
    resolveEnded({ result, bytes, detail });
  };

  const arm = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onTimeout, spec.timeoutMs);
  };

  const sendOack = (): void => {
    send(encodeTftp({ op: 'OACK', options: spec.oack }));
    arm();
  };

  // Blocks are produced in order by one reader at a time; ACKs only drop blocks from the front.
  // Reads cover at least READ_AHEAD octets: one positional read per small lock-step block costs a
  // thread-pool round trip per packet (curl, 33 MiB at blksize 512 on loopback: 5.3 s → 2.7 s).
  const readAhead = Math.max(1, Math.floor(READ_AHEAD / blksize));
  const fill = (upTo: number): Promise<void> => {
    producing = producing.then(async () => {
      while (!done && finalBlock === undefined && acked + unacked.length < upTo) {
        const blocks = await spec.produce(Math.max(upTo - acked - unacked.length, readAhead));
        if (blocks.length === 0) throw new Error('file ended without a short block');
        for (const b of blocks) {
          unacked.push(b);
          if (b.length < blksize) finalBlock = acked + unacked.length;
        }
      }
    });
    return producing;
  };

  // Sends blocks acked+1 .. acked+windowsize. Only the latest call sends: an ACK that arrives while
  // a slow read is pending supersedes the window that read was for.
  const sendWindow = async (): Promise<void> => {
    const gen = ++generation;
    clearTimeout(timer);
    try {
      await fill(acked + windowsize);
    } catch (e) {
      log('error', 'tftp read failed', { ...where, error: (e as Error).message });
      finish('failed', (e as Error).message, { code: TftpError.notDefined, message: 'read failed' });
      return;
    }
    if (done || gen !== generation) return;
    const last = Math.min(acked + windowsize, finalBlock ?? Infinity);
    for (let abs = acked + 1; abs <= last; abs++) {
      send(encodeTftp({ op: 'DATA', block: abs & 0xffff, data: unacked[abs - acked - 1] }));
    }
    sentMax = Math.max(sentMax, last);
    arm();
  };

  const onTimeout = (): void => {
    if (++tries > spec.retries) {
      log('info', 'tftp transfer timed out', { ...where, reason: 'timeout', acked, retries: spec.retries });
      finish('timeout', `no ACK after ${spec.retries} retransmissions`);
      return;
    }
    log('debug', 'tftp retransmit', { ...where, phase, acked, try: tries });
    if (phase === 'oack') sendOack();
    else void sendWindow();
  };

  const onMessage = (msg: Buffer, rinfo: RemoteInfo): void => {
    if (done) return;
    const decoded = decodeTftp(msg);
    if (rinfo.address !== client.address || rinfo.port !== client.port) {
      // RFC 1350: a packet from a foreign TID gets ERROR 5 and the transfer goes on. Never answer
      // an ERROR with an ERROR (two confused peers would bounce them forever).
      log('info', 'tftp packet from unknown transfer ID', { ...where, from: `${rinfo.address}:${rinfo.port}`, reason: 'unknown-tid' });
      if (!(decoded.ok && decoded.packet.op === 'ERROR')) {
        send(encodeTftp({ op: 'ERROR', code: TftpError.unknownTransferId, message: 'unknown transfer ID' }), rinfo.port, rinfo.address);
      }
      return;
    }
    if (!decoded.ok) {
      log('info', 'tftp undecodable packet ignored', { ...where, reason: decoded.error.code, error: decoded.error.message });
      return;
    }
    const p = decoded.packet;
    if (p.op === 'ERROR') {
      // EDK2 sizes a file by reading tsize from the OACK and answering ERROR 8: routine, not a fault.
      const probe = phase === 'oack' && p.code === TftpError.optionRefused;
      log(probe ? 'debug' : 'info', probe ? 'tftp client ended after OACK (size probe)' : 'tftp client aborted', { ...where, code: p.code, message: p.message, acked });
      finish('aborted', `client ERROR ${p.code}: ${p.message}`);
      return;
    }
    if (p.op !== 'ACK') {
      log('info', 'tftp unexpected packet ignored', { ...where, op: p.op, reason: 'illegal-op' });
      return;
    }
    if (phase === 'oack') {
      if (p.block !== 0) return;
      phase = 'data';
      tries = 0;
      void sendWindow();
      return;
    }
    // Block numbers wrap past 65535 to 0; map the 16-bit number into [acked, acked + 65535].
    const abs = acked + ((p.block - (acked & 0xffff)) & 0xffff);
    // A duplicate ACK is never answered (the Sorcerer's Apprentice bug doubles every block from
    // then on); only the timer retransmits. An ACK beyond what was sent is garbage.
    if (abs === acked || abs > sentMax) return;
    for (const b of unacked.splice(0, abs - acked)) bytes += b.length;
    acked = abs;
    tries = 0;
    if (acked === finalBlock) {
      finish('complete');
      return;
    }
    // RFC 7440: an ACK inside the window means the client lost what follows; resume right after it.
    void sendWindow();
  };

  socket.on('message', onMessage);
  socket.on('error', (err) => {
    log('error', 'tftp transfer socket error', { ...where, error: err.message });
    finish('failed', err.message);
  });
  if (phase === 'oack') sendOack();
  else void sendWindow();

  return {
    ended,
    stop: (reason) => finish('closed', reason, { code: TftpError.notDefined, message: reason }),
  };
}
