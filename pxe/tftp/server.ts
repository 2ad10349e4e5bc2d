// Tether's read-only TFTP server: RRQ only, RFC 1350 with options (RFC 2347), blksize (2348), tsize
// and timeout (2349) and windowsize (7440).
//
// Why not the npm `tftp` package (0.1.2) behind a wrapper: no wrapper can fix its transfer sockets,
// which bind 0.0.0.0:ephemeral, so the source address of every reply is chosen by routing — wrong on
// a two-zone host, which must answer from the address the request came to. Its other faults sit
// inside its transfer loop too: a retransmitted RRQ starts a duplicate transfer, the RFC 2349
// timeout option is silently dropped, a missing file crashes the process with the default listener,
// symlinks are followed out of the root, uploads are on unless denied, and it is unmaintained since
// 2015 (`new Buffer`, DEP0005).
//
// Shape: one socket per listen address (requests are unicast to next-server, so the socket a request
// arrives on names the local address), one new socket per transfer bound to that same address.
// The loop is thin: receive → validate → ask the FileSource → negotiate → transfer. It never throws.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP, isIPv6 } from 'node:net';
import { performance } from 'node:perf_hooks';
import { decodeTftp, encodeTftp, TftpError, type TftpPacket } from './packet.ts';
import { MAX_BLKSIZE, MIN_BLKSIZE, MTU_BLKSIZE, negotiateOptions, type NegotiationLimits } from './options.ts';
import { netasciiBlocks, octetBlocks } from './blocks.ts';
import { startTransfer, type TftpLog, type TransferResult } from './transfer.ts';
import type { FileSource, TftpClient } from './source.ts';

export type { TftpLog, TftpLogLevel, TransferResult } from './transfer.ts';

export interface TftpListen {
  /** A unicast address of this host; wildcards are refused (they hide which address was asked). */
  address: string;
  /** 69 in the field; 0 picks a free port (tests). */
  port: number;
}

export interface TftpLimits extends NegotiationLimits {
  /** Retransmissions of one OACK or window before the transfer is given up. */
  retries: number;
  /** Live transfers overall. */
  maxTransfers: number;
  /** Live transfers per client address: a boot storm is many machines, not one machine many times. */
  maxTransfersPerClient: number;
}

export const DEFAULT_LIMITS: TftpLimits = {
  maxBlksize: MTU_BLKSIZE,
  maxWindowsize: 64,
  timeoutMs: 1000,
  retries: 5,
  maxTransfers: 512,
  maxTransfersPerClient: 8,
};

export interface TransferEvent {
  client: TftpClient;
  file: string;
  bytes: number;
  ms: number;
  result: TransferResult;
  blksize: number;
  windowsize: number;
}

export interface TftpServerOptions {
  listen: TftpListen[];
  source: FileSource;
  log?: TftpLog;
  limits?: Partial<TftpLimits>;
  onTransfer?: (e: TransferEvent) => void;
}

export interface TftpServer {
  /** Binds every listen address; resolves with the bound ports. Rejects (and unbinds) if one fails. */
  listen(): Promise<TftpListen[]>;
  /** Stops listening and ends every live transfer (clients get ERROR 0). */
  close(): Promise<void>;
}

interface Live {
  /** The RRQ as received: a retransmission repeats it byte for byte. */
  request: Buffer;
  stop?: (reason: string) => void;
}

export function createTftpServer(opts: TftpServerOptions): TftpServer {
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  validate(opts, limits);
  const log: TftpLog = opts.log ?? (() => {});
  const sockets: Socket[] = [];
  const transfers = new Set<Live>();
  const latest = new Map<string, Live>(); // by local address, client address:port and file
  const perClient = new Map<string, number>();
  const serving = new Set<Promise<void>>();
  let closed = false;

  const refuse = (sock: Socket, client: TftpClient, code: number, reason: string, message: string, fields: Record<string, unknown> = {}): void => {
    // Misses, malformed packets and option mismatches are routine on a PXE LAN (pxelinux probes a
    // dozen config names; tftp-hpa ACKs the request port after an ERROR); the rest deserve a look.
    const level = ['not-found', 'bad-request', 'illegal-op', 'option-refused'].includes(reason) ? 'info' : 'warn';
    log(level, `tftp request refused: ${message}`, { client: `${client.address}:${client.port}`, local: client.localAddress, reason, code, ...fields });
    try {
      sock.send(encodeTftp({ op: 'ERROR', code, message }), client.port, client.address, (err) => {
        if (err) log('debug', 'tftp send failed', { client: `${client.address}:${client.port}`, error: err.message });
      });
    } catch (e) {
      log('debug', 'tftp send failed', { client: `${client.address}:${client.port}`, error: (e as Error).message });
    }
  };

  const onRequest = (sock: Socket, localAddress: string, msg: Buffer, rinfo: RemoteInfo): void => {
    const client: TftpClient = { address: rinfo.address, port: rinfo.port, localAddress };
    const decoded = decodeTftp(msg);
    if (!decoded.ok) {
      refuse(sock, client, TftpError.illegalOperation, 'bad-request', `malformed request: ${decoded.error.code}`, { error: decoded.error.message });
      return;
    }
    const p = decoded.packet;
    if (p.op === 'ERROR') return; // never answer an ERROR with an ERROR
    if (p.op === 'WRQ') {
      refuse(sock, client, TftpError.accessViolation, 'write-refused', 'writes are not allowed', { file: p.filename });
      return;
    }
    if (p.op !== 'RRQ') {
      refuse(sock, client, TftpError.illegalOperation, 'illegal-op', `${p.op} sent to the request port`);
      return;
    }
    if (p.mode === 'mail') {
      refuse(sock, client, TftpError.illegalOperation, 'illegal-op', 'mail mode is not served', { file: p.filename });
      return;
    }
    const key = `${localAddress}|${rinfo.address}|${rinfo.port}|${p.filename}`;
    if (latest.get(key)?.request.equals(msg)) {
      // A client that did not hear back yet retransmits its RRQ: the live transfer answers it.
      // A different request from the same port is new (EDK2's re-request after its size probe
      // may overtake the ERROR 8 that ends the probe).
      log('debug', 'tftp duplicate request ignored', { client: `${client.address}:${client.port}`, local: localAddress, file: p.filename, reason: 'duplicate-request' });
      return;
    }
    const mine = perClient.get(rinfo.address) ?? 0;
    if (transfers.size >= limits.maxTransfers || mine >= limits.maxTransfersPerClient) {
      // Over the limit the request is dropped, not refused: firmware gives up on an ERROR but
      // retransmits an unanswered RRQ, and by then a slot is usually free (dnsmasq does the same).
      const scope = mine >= limits.maxTransfersPerClient ? 'client' : 'server';
      log('warn', 'tftp request dropped: too many transfers (the client will retry)', { client: `${client.address}:${client.port}`, local: localAddress, file: p.filename, reason: 'too-many-transfers', scope });
      return;
    }
    const entry: Live = { request: msg };
    transfers.add(entry);
    latest.set(key, entry);
    perClient.set(rinfo.address, mine + 1);
    const job = serveRead(sock, client, p, entry)
      .catch((e: unknown) => log('error', 'tftp transfer crashed', { client: `${client.address}:${client.port}`, file: p.filename, error: String(e) }))
      .finally(() => {
        transfers.delete(entry);
        if (latest.get(key) === entry) latest.delete(key);
        const n = (perClient.get(rinfo.address) ?? 1) - 1;
        if (n > 0) perClient.set(rinfo.address, n);
        else perClient.delete(rinfo.address);
        serving.delete(job);
      });
    serving.add(job);
  };

  const serveRead = async (sock: Socket, client: TftpClient, req: Extract<TftpPacket, { op: 'RRQ' }>, entry: Live): Promise<void> => {
    const started = performance.now();
    const file = req.filename;
    let opened;
    try {
      opened = await opts.source.open(file, client);
    } catch (e) {
      log('error', 'tftp file source failed', { client: `${client.address}:${client.port}`, file, error: String(e) });
      refuse(sock, client, TftpError.notDefined, 'source-failed', 'internal error', { file });
      return;
    }
    if ('error' in opened) {
      const code = opened.error === 'not-found' ? TftpError.fileNotFound : TftpError.accessViolation;
      refuse(sock, client, code, opened.error, opened.message, { file });
      return;
    }
    try {
      if (closed) return;
      const octet = req.mode === 'octet';
      const negotiation = negotiateOptions(req.options, octet ? opened.size : undefined, limits);
      if (!negotiation.ok) {
        refuse(sock, client, TftpError.optionRefused, 'option-refused', `option ${negotiation.option} refused: ${negotiation.reason}`, { file });
        return;
      }
      const { blksize, windowsize, timeoutMs, oack } = negotiation.negotiated;
      let socket: Socket;
      try {
        socket = await bindTransferSocket(client.localAddress);
      } catch (e) {
        // E.g. the address was removed from its interface since the listen socket was bound.
        log('error', 'tftp transfer socket bind failed', { client: `${client.address}:${client.port}`, local: client.localAddress, error: String(e) });
        refuse(sock, client, TftpError.notDefined, 'bind-failed', 'internal error', { file });
        return;
      }
      if (closed) {
        socket.close();
        return;
      }
      const transfer = startTransfer({
        socket, client, file, blksize, windowsize, timeoutMs, oack,
        retries: limits.retries,
        produce: octet ? octetBlocks(opened, blksize) : netasciiBlocks(opened, blksize),
        log,
      });
      entry.stop = transfer.stop;
      const outcome = await transfer.ended;
      const event: TransferEvent = { client, file, bytes: outcome.bytes, ms: Math.round(performance.now() - started), result: outcome.result, blksize, windowsize };
      log(outcome.result === 'complete' ? 'info' : 'debug', `tftp transfer ${outcome.result}`, {
        client: `${client.address}:${client.port}`, local: client.localAddress, file, bytes: event.bytes, ms: event.ms, blksize, windowsize, detail: outcome.detail,
      });
      try {
        opts.onTransfer?.(event);
      } catch (e) {
        log('error', 'tftp onTransfer hook threw', { error: String(e) });
      }
    } finally {
      await opened.close();
    }
  };

  return {
    async listen() {
      try {
        for (const l of opts.listen) {
          const sock = createSocket(isIPv6(l.address) ? 'udp6' : 'udp4');
          sockets.push(sock);
          await bind(sock, l.address, l.port);
          sock.on('error', (err) => log('error', 'tftp socket error', { local: l.address, error: err.message }));
          sock.on('message', (msg, rinfo) => {
            try {
              onRequest(sock, l.address, msg, rinfo);
            } catch (e) {
              log('error', 'tftp request handler threw', { from: `${rinfo.address}:${rinfo.port}`, error: String(e) });
            }
          });
        }
      } catch (e) {
        for (const s of sockets.splice(0)) s.close();
        throw e;
      }
      return sockets.map((s) => ({ address: s.address().address, port: s.address().port }));
    },
    async close() {
      closed = true;
      for (const s of sockets.splice(0)) s.close();
      for (const entry of transfers) entry.stop?.('server shutting down');
      await Promise.all(serving);
    },
  };
}

function bindTransferSocket(address: string): Promise<Socket> {
  const sock = createSocket(isIPv6(address) ? 'udp6' : 'udp4');
  return bind(sock, address, 0).then(() => sock, (e: unknown) => { sock.close(); throw e; });
}

function bind(sock: Socket, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ address, port }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
}

function validate(opts: TftpServerOptions, limits: TftpLimits): void {
  if (opts.listen.length === 0) throw new TypeError('tftp: listen needs at least one address');
  for (const l of opts.listen) {
    if (isIP(l.address) === 0) throw new TypeError(`tftp: listen address ${JSON.stringify(l.address)} is not an IP address`);
    if (l.address === '0.0.0.0' || l.address === '::') throw new TypeError('tftp: a wildcard listen address cannot tell which address a request came to; list each unicast address');
    if (!Number.isInteger(l.port) || l.port < 0 || l.port > 65535) throw new TypeError(`tftp: bad port ${l.port}`);
  }
  const within = (name: keyof TftpLimits, min: number, max: number): void => {
    const v = limits[name];
    if (!Number.isInteger(v) || v < min || v > max) throw new TypeError(`tftp: limits.${name} must be an integer in ${min}..${max}, got ${v}`);
  };
  within('maxBlksize', MIN_BLKSIZE, MAX_BLKSIZE);
  // Wider windows would make 16-bit ACK numbers ambiguous across a rollover.
  within('maxWindowsize', 1, 32768);
  within('timeoutMs', 1, 255_000);
  within('retries', 0, 100);
  within('maxTransfers', 1, 65536);
  within('maxTransfersPerClient', 1, 65536);
}
