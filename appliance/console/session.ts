// What every browser-terminal session has, wherever its shell runs — on the appliance (shell.ts)
// or on a machine in the discovery OS through its agent (http/agent-shell.ts): a transcript of
// everything the terminal showed and audit events when it opens and closes. Knows nothing of HTTP.
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';
import { SESSION_PATTERN } from '../../agent/shell/protocol.ts';

/** How a shell ended: an exit status, or `lost` saying why there will never be one. */
export interface ShellExit { code: number | null; lost?: string }

/** A shell the browser terminal talks to (http/terminal.ts serveTerminal). */
export interface ShellSession {
  id: string;
  transcript: string;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** Ends the shell (SIGHUP, as a closed terminal does); the close event is written once. */
  close(why: string): void;
  onOutput(fn: (data: string) => void): void;
  onExit(fn: (e: ShellExit) => void): void;
  pause(): void;
  resume(): void;
}

/** Terminal sizes come from the browser: kept to what a screen can show (the agent clamps with the same rule). */
export { termSize as clampSize } from '../../agent/shell/protocol.ts';

export interface RecordOptions {
  /** The session id, when the shell had to know it before it started (newSessionId). */
  id?: string;
  store: Store;
  /** Transcripts go here as `<session>.log` (created 0700; files 0600: they may show secrets). */
  dir: string;
  user: string;
  ip: string;
  /** Where the shell runs, for the transcript's first line and the audit data ("/bin/bash", "/bin/sh -l on machine m-…"). */
  shell: string;
  /** The machine the shell runs on: the events then show in its history too. None: the appliance. */
  machineId?: string;
  /** Output beyond this is not written to the transcript (a runaway `yes` must not fill the disk). */
  maxTranscriptBytes?: number;
}

export interface SessionRecord {
  readonly id: string;
  readonly transcript: string;
  readonly finished: boolean;
  /** The audit event "opened", with what only the caller knows (the shell's pid, the agent's address). */
  opened(data?: Record<string, unknown>): void;
  output(data: string): void;
  /** The closing line and audit event; only the first call counts. */
  finish(why: string, exitCode: number | null): void;
}

const DEFAULT_MAX_TRANSCRIPT = 64 * 1024 * 1024;

/** Also the transcript's file name, so nothing but this shape (agent/shell/protocol.ts SESSION_PATTERN). */
export const newSessionId = (): string => `t-${randomBytes(6).toString('hex')}`;

export function recordSession(o: RecordOptions): SessionRecord {
  const id = o.id ?? newSessionId();
  if (!SESSION_PATTERN.test(id)) throw new Error(`not a terminal session id: ${id}`);
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const transcript = join(o.dir, `${id}.log`);
  // Written synchronously: when the closing event is in the audit log, the transcript is complete
  // on disk (a terminal's output is small; the page cache absorbs it).
  const fd = openSync(transcript, 'wx', 0o600);
  let transcriptError: string | null = null;
  const log = (text: string) => {
    if (transcriptError) return;
    try { writeSync(fd, text); } catch (e) { transcriptError = (e as Error).message; }
  };
  const started = Date.now();
  const max = o.maxTranscriptBytes ?? DEFAULT_MAX_TRANSCRIPT;
  let logged = 0;
  let truncated = false;
  let finished = false;
  const who = { kind: 'terminal', actor: 'operator', actorName: o.user, ...(o.machineId ? { machineId: o.machineId } : {}) } as const;
  log(`# tether terminal ${id}: ${o.user} from ${o.ip}, ${o.shell}, started ${new Date(started).toISOString()}\n`);

  return {
    id,
    transcript,
    get finished() { return finished; },
    opened(data = {}) {
      o.store.appendEvent({ ...who, reason: 'terminal session opened', data: { session: id, transcript, shell: o.shell, ip: o.ip, ...data } });
    },
    output(d) {
      if (truncated || finished) return;
      const bytes = Buffer.byteLength(d);
      if (logged + bytes > max) {
        truncated = true;
        log(`\n# transcript truncated at ${max} bytes\n`);
        return;
      }
      logged += bytes;
      log(d);
    },
    finish(why, exitCode) {
      if (finished) return;
      finished = true;
      const ended = Date.now();
      log(`\n# ended ${new Date(ended).toISOString()}: ${why}\n`);
      closeSync(fd);
      o.store.appendEvent({
        ...who, reason: `terminal session closed: ${why}`,
        data: { session: id, transcript, exitCode, seconds: Math.round((ended - started) / 1000), transcriptBytes: logged, truncated, transcriptError },
      });
    },
  };
}
