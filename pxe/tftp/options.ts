// Option negotiation for a read request (RFC 2347): which requested options the server accepts and
// the OACK that says so. Unknown options are ignored (left out of the OACK), as RFC 2347 asks.
// Firmware seen in the field: EDK2 asks `tsize 0 blksize 1468 windowsize 4`, iPXE `blksize 1432 tsize 0`.
import type { TftpOptions } from './packet.ts';

/** RFC 1350's block size, used when the client does not negotiate one. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348's valid range. */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** A 1500-byte Ethernet MTU minus IPv4 (20), UDP (8) and TFTP (4) headers: larger blocks fragment. */
export const MTU_BLKSIZE = 1468;
/** RFC 7440's valid range. */
export const MAX_WINDOWSIZE = 65535;

export interface NegotiationLimits {
  /** Largest block size granted (≤ 65464); a larger request is answered with this. */
  maxBlksize: number;
  /** Largest window granted; a larger request is answered with this. */
  maxWindowsize: number;
  /** Retransmission timeout when the client asks for none. */
  timeoutMs: number;
}

export interface Negotiated {
  blksize: number;
  windowsize: number;
  /** Retransmission timeout: the client's RFC 2349 `timeout` when it gave a valid one. */
  timeoutMs: number;
  /** Accepted options with the values granted; empty means send no OACK. */
  oack: TftpOptions;
}

export type NegotiationResult =
  | { ok: true; negotiated: Negotiated }
  | { ok: false; option: string; reason: string };

/**
 * `size` is the file's size in octets as it will be sent, or undefined when it is not known
 * up front (netascii, whose translated size differs from the file's): then tsize is not offered.
 * A refusal (the server answers ERROR 8) happens only when no acceptable reply exists: a value that
 * is not a number, or a block or window below the minimum (the reply may not exceed the request).
 */
export function negotiateOptions(requested: TftpOptions, size: number | undefined, limits: NegotiationLimits): NegotiationResult {
  const negotiated: Negotiated = { blksize: DEFAULT_BLKSIZE, windowsize: 1, timeoutMs: limits.timeoutMs, oack: new Map() };
  for (const [name, value] of requested) {
    if (!['blksize', 'tsize', 'timeout', 'windowsize'].includes(name)) continue;
    if (!/^[0-9]{1,20}$/.test(value)) return refuse(name, `value ${JSON.stringify(value)} is not a decimal number`);
    const n = Number(value);
    switch (name) {
      case 'blksize': // RFC 2348: the server may answer a smaller value, never a larger one.
        if (n < MIN_BLKSIZE) return refuse(name, `${n} is below ${MIN_BLKSIZE}`);
        negotiated.blksize = Math.min(n, MAX_BLKSIZE, limits.maxBlksize);
        negotiated.oack.set(name, String(negotiated.blksize));
        break;
      case 'tsize': // RFC 2349: a read request sends 0 and gets the real size back.
        if (size !== undefined) negotiated.oack.set(name, String(size));
        break;
      case 'timeout': // RFC 2349: 1..255 seconds, echoed as is; out of range it may be ignored.
        if (n >= 1 && n <= 255) {
          negotiated.timeoutMs = n * 1000;
          negotiated.oack.set(name, String(n));
        }
        break;
      case 'windowsize': // RFC 7440: like blksize, the answer may be smaller than the request.
        if (n < 1) return refuse(name, `${n} is below 1`);
        negotiated.windowsize = Math.min(n, MAX_WINDOWSIZE, limits.maxWindowsize);
        negotiated.oack.set(name, String(negotiated.windowsize));
        break;
    }
  }
  return { ok: true, negotiated };
}

function refuse(option: string, reason: string): NegotiationResult {
  return { ok: false, option, reason };
}
