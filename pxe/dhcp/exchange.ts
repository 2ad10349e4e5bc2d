// One request as the mode handlers (proxy.ts, full.ts) see it, and what they decide. The handlers
// are pure apart from the lease index: no sockets, no logging; the server loop logs and counts
// every verdict, so each OFFER/ACK/NAK and each drop carries the rule that produced it.
import type { Arch, ClientKind } from './arch.ts';
import type { BootOptions } from './boot.ts';
import type { Packet } from './packet.ts';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type Exchange = {
  readonly request: Packet;
  /** Option 53. */
  readonly msgType: number;
  readonly mac: string;
  readonly kind: ClientKind;
  readonly arch: Arch;
  readonly zone: string;
  /** The receiving interface's address: server id and next-server. */
  readonly serverIp: string;
  /** 67, or 4011 for PXE boot server requests. */
  readonly localPort: number;
  /** Asks the booter what this client boots, rendered for it (boot.ts); only for boot clients. */
  readonly boot: () => Promise<BootOptions>;
};

/** Stable codes for every request that gets no reply: logs and stats().drops use them. */
export type DropReason =
  | 'undecodable'
  | 'not-a-request'
  | 'bootp'
  | 'bad-hardware-address'
  | 'relay-not-allowed'
  | 'no-pool'
  | 'not-a-boot-client'
  | 'proxy-assigns-no-address'
  | 'other-server'
  | 'no-requested-address'
  | 'pool-exhausted'
  | 'store-failed'
  | 'unsupported-message'
  | 'reply-too-large'
  | 'send-failed'
  | 'internal-error'
  | Extract<BootOptions, { ok: false }>['reason'];

/** A reply, with the rule that produced it and the boot decision it carries (or refused). */
export type Answer = { readonly reply: Packet; readonly rule: string; readonly boot?: BootOptions };

export type Verdict =
  | Answer
  | { readonly drop: DropReason; readonly level: LogLevel; readonly detail?: string }
  /** RELEASE and DECLINE: no reply by design (RFC 2131 §4.3.3, §4.3.4). */
  | { readonly noted: 'release' | 'decline'; readonly applied: boolean; readonly ip: string };

export const drop = (reason: DropReason, level: LogLevel, detail?: string): Verdict =>
  detail === undefined ? { drop: reason, level } : { drop: reason, level, detail };

/** A boot answer that cannot work for the client, as a drop. A boot loop is the booter's bug. */
export function bootRefusal(b: Extract<BootOptions, { ok: false }>): Verdict {
  return drop(b.reason, refusalLevel(b), b.detail);
}

export function refusalLevel(b: Extract<BootOptions, { ok: false }>): LogLevel {
  if (b.reason === 'booter-none') return 'info';
  return b.reason === 'ipxe-tftp-loop' || b.reason === 'booter-failed' ? 'error' : 'warn';
}
