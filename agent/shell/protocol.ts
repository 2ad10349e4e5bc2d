// The console channel: one WebSocket from the agent in the discovery OS to the appliance, over
// which the appliance opens login shells on the machine for the browser terminal. The agent dials
// out (the appliance cannot reach into a machine, and the agent already knows where the appliance
// is and holds this boot's token); shells are multiplexed on it by session id.
//
//   GET /agent/v1/console?mac=<boot MAC>&mode=<boot mode>&version=1, Authorization: Bearer <boot token>
//   Answered as plain HTTP (no upgrade) with 200 ConsoleProbe: the channel exists and the token is
//   good. An appliance without the channel answers 404.
// JSON text frames, each at most MAX_FRAME bytes:
//   appliance → agent: open {session, cols, rows} | input {session, data} | resize {session, cols, rows}
//                      | close {session} | pause {session} | resume {session} | ping
//   agent → appliance: opened {session, pid} | refused {session, reason} | output {session, data}
//                      | exit {session, code, signal} | pong
// A session that is not (or no longer) open on the other side is ignored there, never an error:
// the two ends cross messages all the time (an exit in flight while the browser types).
export const CONSOLE_PATH = '/agent/v1/console';
export const CONSOLE_VERSION = 1;
/** Shells at once on one machine: each is a person at the console; more is a runaway page. */
export const MAX_SESSIONS = 4;
/** The largest frame either side sends or accepts. */
export const MAX_FRAME = 64 * 1024;
/** Shell output and input go in pieces of at most this many characters (a frame stays under MAX_FRAME once JSON-escaped). */
export const OUTPUT_CHUNK = 8 * 1024;
/** The appliance pings this often; either side gives the channel up after three silent intervals. */
export const PING_INTERVAL_MS = 25_000;
/** Close code of a channel that a newer channel of the same machine replaced. */
export const REPLACED = 4409;
/** Session ids are the appliance's transcript ids (appliance/console/session.ts). */
export const SESSION_PATTERN = /^t-[0-9a-f]{12}$/;

export interface ConsoleProbe { version: number; maxSessions: number; pingIntervalMs: number }

export type ToAgent =
  | { type: 'open'; session: string; cols: number; rows: number }
  | { type: 'input'; session: string; data: string }
  | { type: 'resize'; session: string; cols: number; rows: number }
  | { type: 'close' | 'pause' | 'resume'; session: string }
  | { type: 'ping' };

export type FromAgent =
  | { type: 'opened'; session: string; pid: number }
  | { type: 'refused'; session: string; reason: string }
  | { type: 'output'; session: string; data: string }
  | { type: 'exit'; session: string; code: number | null; signal: string | null }
  | { type: 'pong' };

/** `data` in pieces of at most `size` UTF-16 units, never splitting a surrogate pair (input and output frames stay under MAX_FRAME). */
export function* pieces(data: string, size = OUTPUT_CHUNK): Generator<string> {
  for (let i = 0; i < data.length;) {
    let end = Math.min(data.length, i + size);
    if (end < data.length && /[\ud800-\udbff]/.test(data[end - 1])) end--;
    yield data.slice(i, end);
    i = end;
  }
}

/** Terminal sizes: what a screen can show (the appliance clamps too; the agent does not trust it). */
export function termSize(cols: unknown, rows: unknown): { cols: number; rows: number } {
  const n = (v: unknown, lo: number, hi: number, dflt: number) => (Number.isInteger(v) ? Math.min(Math.max(v as number, lo), hi) : dflt);
  return { cols: n(cols, 10, 500, 80), rows: n(rows, 2, 200, 24) };
}
