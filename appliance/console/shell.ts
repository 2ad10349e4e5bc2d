// A shell on the appliance for the browser terminal: a pseudo-terminal (node-pty), a transcript of
// everything the terminal showed, and audit events when it opens and closes. Knows nothing of HTTP.
import { spawn, type IPty } from 'node-pty';
import { closeSync, existsSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Store } from '../store/store.ts';

export interface ShellOptions {
  store: Store;
  /** Transcripts go here as `<session>.log` (created 0700; files 0600: they may show secrets). */
  dir: string;
  user: string;
  ip: string;
  cols: number;
  rows: number;
  /** Defaults to $SHELL, else bash, else sh. */
  shell?: string;
  /** Output beyond this is not written to the transcript (a runaway `yes` must not fill the disk). */
  maxTranscriptBytes?: number;
}

export interface ShellSession {
  id: string;
  transcript: string;
  write(data: string): void;
  resize(cols: number, rows: number): void;
  /** Ends the shell (SIGHUP, as a closed terminal does); the close event is written once. */
  close(why: string): void;
  onOutput(fn: (data: string) => void): void;
  onExit(fn: (code: number | null) => void): void;
  pause(): void;
  resume(): void;
}

const DEFAULT_MAX_TRANSCRIPT = 64 * 1024 * 1024;

export function defaultShell(): string {
  const env = process.env.SHELL;
  if (env && env.startsWith('/') && existsSync(env)) return env;
  return existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
}

/** Terminal sizes come from the browser: keep them to what a screen can show. */
export function clampSize(cols: unknown, rows: unknown): { cols: number; rows: number } {
  const n = (v: unknown, lo: number, hi: number, dflt: number) => (Number.isInteger(v) ? Math.min(Math.max(v as number, lo), hi) : dflt);
  return { cols: n(cols, 10, 500, 80), rows: n(rows, 2, 200, 24) };
}

export function openShell(o: ShellOptions): ShellSession {
  const id = `t-${randomBytes(6).toString('hex')}`;
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
  const shell = o.shell ?? defaultShell();
  const started = Date.now();
  const max = o.maxTranscriptBytes ?? DEFAULT_MAX_TRANSCRIPT;
  let logged = 0;
  let truncated = false;

  // A plain environment: the daemon's own variables (config overrides, tokens) stay out of the shell.
  const env: Record<string, string> = {
    TERM: 'xterm-256color',
    HOME: process.env.HOME ?? '/root',
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: process.env.LANG ?? 'C.UTF-8',
    SHELL: shell,
    TETHER_TERMINAL_SESSION: id,
  };
  const pty: IPty = spawn(shell, [], { name: 'xterm-256color', cols: o.cols, rows: o.rows, cwd: env.HOME, env });

  log(`# tether terminal ${id}: ${o.user} from ${o.ip}, ${shell}, started ${new Date(started).toISOString()}\n`);
  o.store.appendEvent({ kind: 'terminal', actor: 'operator', actorName: o.user, reason: 'terminal session opened', data: { session: id, transcript, shell, ip: o.ip, pid: pty.pid } });

  let closed = false;
  let exitCode: number | null = null;
  function finish(why: string): void {
    if (closed) return;
    closed = true;
    const ended = Date.now();
    log(`\n# ended ${new Date(ended).toISOString()}: ${why}\n`);
    closeSync(fd);
    o.store.appendEvent({
      kind: 'terminal', actor: 'operator', actorName: o.user, reason: `terminal session closed: ${why}`,
      data: { session: id, transcript, exitCode, seconds: Math.round((ended - started) / 1000), transcriptBytes: logged, truncated, transcriptError },
    });
  }

  pty.onData((d) => {
    if (truncated) return;
    const bytes = Buffer.byteLength(d);
    if (logged + bytes > max) {
      truncated = true;
      log(`\n# transcript truncated at ${max} bytes\n`);
      return;
    }
    logged += bytes;
    log(d);
  });
  pty.onExit(({ exitCode: code }) => {
    exitCode = code;
    finish(`shell exited with ${code}`);
  });

  return {
    id,
    transcript,
    write: (data) => { if (!closed) pty.write(data); },
    resize: (cols, rows) => { if (!closed) pty.resize(cols, rows); },
    close(why) {
      if (closed) return;
      finish(why);
      try { pty.kill('SIGHUP'); } catch { /* already gone */ }
    },
    onOutput: (fn) => { pty.onData(fn); },
    onExit: (fn) => { pty.onExit(({ exitCode: code }) => fn(code)); },
    pause: () => pty.pause(),
    resume: () => pty.resume(),
  };
}
