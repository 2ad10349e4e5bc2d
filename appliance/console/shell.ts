// A shell on the appliance for the browser terminal: a pseudo-terminal (node-pty), recorded by
// session.ts (transcript, audit events). Knows nothing of HTTP.
import { spawn, type IPty } from 'node-pty';
import { existsSync } from 'node:fs';
import type { Store } from '../store/store.ts';
import { recordSession, type ShellSession } from './session.ts';

export interface ShellOptions {
  store: Store;
  /** Transcript directory (session.ts). */
  dir: string;
  user: string;
  ip: string;
  cols: number;
  rows: number;
  /** Defaults to $SHELL, else bash, else sh. */
  shell?: string;
  maxTranscriptBytes?: number;
}

export function defaultShell(): string {
  const env = process.env.SHELL;
  if (env && env.startsWith('/') && existsSync(env)) return env;
  return existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh';
}

export function openShell(o: ShellOptions): ShellSession {
  const shell = o.shell ?? defaultShell();
  const rec = recordSession({ store: o.store, dir: o.dir, user: o.user, ip: o.ip, shell, maxTranscriptBytes: o.maxTranscriptBytes });
  // A plain environment: the daemon's own variables (config overrides, tokens) stay out of the shell.
  const env: Record<string, string> = {
    TERM: 'xterm-256color',
    HOME: process.env.HOME ?? '/root',
    PATH: process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    LANG: process.env.LANG ?? 'C.UTF-8',
    SHELL: shell,
    TETHER_TERMINAL_SESSION: rec.id,
  };
  const pty: IPty = spawn(shell, [], { name: 'xterm-256color', cols: o.cols, rows: o.rows, cwd: env.HOME, env });
  rec.opened({ pid: pty.pid });
  pty.onData((d) => rec.output(d));
  pty.onExit(({ exitCode }) => rec.finish(`shell exited with ${exitCode}`, exitCode));

  return {
    id: rec.id,
    transcript: rec.transcript,
    write: (data) => { if (!rec.finished) pty.write(data); },
    resize: (cols, rows) => { if (!rec.finished) pty.resize(cols, rows); },
    close(why) {
      if (rec.finished) return;
      rec.finish(why, null);
      try { pty.kill('SIGHUP'); } catch { /* already gone */ }
    },
    onOutput: (fn) => { pty.onData(fn); },
    onExit: (fn) => { pty.onExit(({ exitCode }) => fn({ code: exitCode })); },
    pause: () => pty.pause(),
    resume: () => pty.resume(),
  };
}
