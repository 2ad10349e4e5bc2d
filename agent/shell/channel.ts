// The agent's end of the console channel (protocol.ts): it keeps one WebSocket to the appliance
// open while the machine runs the discovery OS and, when the appliance asks, starts a login shell
// on a pseudo-terminal (pty.ts) and relays it. It never gets in the way of the agent's real work:
// an appliance without the channel (404), a refused token or a dead network only make it log (each
// new problem once) and ask again later; nothing here throws into the caller.
import { existsSync } from 'node:fs';
import type { AgentConfig } from '../cmdline.ts';
import { backoffMs, bootTokenHeader } from '../client.ts';
import { openPty, type Pty, type PtyOptions } from './pty.ts';
import {
  CONSOLE_PATH, CONSOLE_VERSION, MAX_FRAME, MAX_SESSIONS, PING_INTERVAL_MS, REPLACED, SESSION_PATTERN, pieces, termSize,
  type ConsoleProbe, type FromAgent, type ToAgent,
} from './protocol.ts';

export interface ConsoleChannel {
  start(): void;
  /** Ends every shell and the channel (before a power action); does not reconnect. */
  stop(why: string): Promise<void>;
  /** Open shells (for tests and logs). */
  readonly sessions: number;
  readonly connected: boolean;
}

export interface ConsoleChannelOptions {
  log: (msg: string) => void;
  random?: () => number;
  /** The login shell; default busybox's `/bin/sh -l`. */
  shell?: { command: string; args: string[] };
  openPty?: (o: PtyOptions) => Promise<Pty>;
  /** How long the channel may stay silent (the appliance pings) before it is given up. */
  idleMs?: number;
  /** The waits between attempts; the defaults suit a machine waiting hours for an operator. */
  retry?: Partial<typeof RETRY>;
}

const RETRY = {
  /** The appliance has no console channel (404): it will not grow one soon. */
  absentMs: 10 * 60_000,
  /** The token was refused, or the appliance speaks another console version. */
  refusedMs: 60_000,
  /** Cap of the backoff while the appliance is unreachable. */
  maxBackoffMs: 60_000,
};
// Output waiting in the socket beyond this pauses every shell until the appliance catches up.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 64 * 1024;

interface Session {
  pty: Pty | null;
  /** Paused because the browser is behind (the appliance said so). */
  held: boolean;
  closing: boolean;
}

export function consoleChannel(cfg: AgentConfig, o: ConsoleChannelOptions): ConsoleChannel {
  const retry = { ...RETRY, ...o.retry };
  const idleMs = o.idleMs ?? 3 * PING_INTERVAL_MS;
  const shell = o.shell ?? { command: '/bin/sh', args: ['-l'] };
  const open = o.openPty ?? openPty;
  const query = `mac=${encodeURIComponent(cfg.mac)}&mode=${encodeURIComponent(cfg.mode)}&version=${CONSOLE_VERSION}`;
  const httpUrl = `${cfg.url}${CONSOLE_PATH}?${query}`;
  const wsUrl = httpUrl.replace(/^http/, 'ws');
  const headers = bootTokenHeader(cfg);
  const sessions = new Map<string, Session>();
  let ws: WebSocket | null = null;
  let running: Promise<void> | null = null;
  let stopped = false;
  let congested = false;
  let wake: (() => void) | null = null;
  let lastSaid = '';
  /** Each new problem once: a machine waiting for days must not fill its console with retries. */
  const say = (msg: string) => { if (msg !== lastSaid) { lastSaid = msg; o.log(msg); } };

  const send = (m: FromAgent): void => {
    if (ws?.readyState !== WebSocket.OPEN) return;
    ws.send(JSON.stringify(m));
    if (!congested && ws.bufferedAmount > HIGH_WATER) {
      congested = true;
      for (const s of sessions.values()) s.pty?.pause();
      const socket = ws;
      const poll = setInterval(() => {
        if (socket.readyState === WebSocket.OPEN && socket.bufferedAmount >= LOW_WATER) return;
        clearInterval(poll);
        congested = false;
        for (const s of sessions.values()) if (!s.held) s.pty?.resume();
      }, 50);
    }
  };

  const sendOutput = (session: string, data: string): void => {
    for (const piece of pieces(data)) send({ type: 'output', session, data: piece });
  };

  function openSession(id: string, cols: number, rows: number): void {
    if (sessions.has(id)) return send({ type: 'refused', session: id, reason: `session ${id} is open already` });
    if (sessions.size >= MAX_SESSIONS) return send({ type: 'refused', session: id, reason: `${MAX_SESSIONS} shells are open on this machine already` });
    const s: Session = { pty: null, held: false, closing: false };
    sessions.set(id, s);
    const home = existsSync('/root') ? '/root' : '/';
    const env = { TERM: 'xterm-256color', HOME: home, PATH: '/usr/sbin:/usr/bin:/sbin:/bin', SHELL: shell.command, TETHER_TERMINAL_SESSION: id };
    open({ command: shell.command, args: shell.args, env, cwd: home, cols, rows }).then((pty) => {
      s.pty = pty;
      pty.onData((d) => sendOutput(id, d));
      pty.onExit((code, signal) => {
        sessions.delete(id);
        o.log(`console: shell ${id} ended (${signal ?? `exit ${code}`})`);
        send({ type: 'exit', session: id, code, signal });
      });
      if (s.closing || sessions.get(id) !== s) { pty.close(); return; } // closed while it started
      if (congested) pty.pause();
      o.log(`console: shell ${id} opened for the appliance (pid ${pty.pid}, ${pty.path})`);
      send({ type: 'opened', session: id, pid: pty.pid });
    }, (e: unknown) => {
      sessions.delete(id);
      o.log(`console: shell ${id} could not be started: ${(e as Error).message}`);
      send({ type: 'refused', session: id, reason: `the shell could not be started: ${(e as Error).message}` });
    });
  }

  function handle(raw: unknown): boolean {
    if (typeof raw !== 'string' || Buffer.byteLength(raw) > MAX_FRAME) return false;
    let m: ToAgent;
    try { m = JSON.parse(raw) as ToAgent; } catch { return false; }
    if (!m || typeof m !== 'object' || typeof m.type !== 'string') return false;
    if (m.type === 'ping') { send({ type: 'pong' }); return true; }
    if (typeof (m as { session?: unknown }).session !== 'string') return true; // a newer appliance's frame
    if (!SESSION_PATTERN.test(m.session)) return false;
    if (m.type === 'open') { const size = termSize(m.cols, m.rows); openSession(m.session, size.cols, size.rows); return true; }
    const s = sessions.get(m.session);
    if (!s) return true; // crossed with its exit
    switch (m.type) {
      case 'input': if (typeof m.data === 'string') s.pty?.write(m.data); break;
      case 'resize': { const size = termSize(m.cols, m.rows); s.pty?.resize(size.cols, size.rows); break; }
      case 'close': s.closing = true; s.pty?.close(); break;
      case 'pause': s.held = true; s.pty?.pause(); break;
      case 'resume': s.held = false; if (!congested) s.pty?.resume(); break;
      default: break; // a newer appliance's frame: not this agent's business
    }
    return true;
  }

  function closeAll(): void {
    for (const s of sessions.values()) { s.closing = true; s.pty?.close(); }
  }

  /** One connection, until it closes; whether it ever opened, and how it closed. */
  function connectOnce(): Promise<{ opened: boolean; code: number; reason: string }> {
    return new Promise((resolve) => {
      let opened = false;
      let heard = Date.now();
      let done = false;
      const socket = new WebSocket(wsUrl, { headers });
      const idle = setInterval(() => {
        if (opened && Date.now() - heard > idleMs) finish(4408, `nothing from the appliance for ${Math.round(idleMs / 1000)} s`);
      }, Math.min(5000, idleMs / 3));
      // A dead peer never answers the close handshake: the attempt ends here, not at the socket's close.
      const finish = (code: number, reason: string): void => {
        if (done) return;
        done = true;
        clearInterval(idle);
        if (ws === socket) ws = null;
        closeAll();
        try { socket.close(code >= 3000 ? code : 1000, reason.slice(0, 100)); } catch { /* closed already */ }
        resolve({ opened, code, reason });
      };
      socket.onopen = () => {
        if (stopped) { finish(1000, 'the agent is stopping'); return; }
        opened = true;
        heard = Date.now();
        ws = socket;
        say('console channel to the appliance open');
      };
      socket.onmessage = (e) => {
        heard = Date.now();
        // A throw here would be an uncaught exception: the agent's real work must not die of a shell.
        try {
          if (!handle(e.data)) finish(4400, 'a console frame this agent does not understand');
        } catch (err) {
          o.log(`console: ${(err as Error).message}`);
        }
      };
      socket.onerror = () => { /* the close event follows and says how it ended */ };
      socket.onclose = (e) => finish(e.code, e.reason);
    });
  }

  /** Why a connection did not open: the same request without the upgrade gets a plain answer. */
  async function probe(): Promise<{ wait: number; why: string }> {
    try {
      const res = await fetch(httpUrl, { headers: { ...headers, accept: 'application/json' }, signal: AbortSignal.timeout(15_000) });
      const body = await res.text();
      let message = body.slice(0, 200);
      try { message = (JSON.parse(body) as { message?: string }).message ?? message; } catch { /* not JSON */ }
      if (res.status === 404) return { wait: retry.absentMs, why: `the appliance offers no console channel (${CONSOLE_PATH}: 404; an older appliance?); the agent works on without it and asks again every ${retry.absentMs / 60_000} min` };
      if (res.status === 401 || res.status === 403 || res.status === 400) return { wait: retry.refusedMs, why: `the appliance refused the console channel (${res.status}: ${message}); asking again every ${retry.refusedMs / 1000} s` };
      if (res.ok) {
        const p = JSON.parse(body) as ConsoleProbe;
        return { wait: -1, why: `the console channel (version ${p.version}) is there, but the WebSocket did not open; retrying` };
      }
      return { wait: -1, why: `the appliance answered the console channel with ${res.status}: ${message}; retrying` };
    } catch (e) {
      return { wait: -1, why: `cannot reach the appliance for the console channel (${(e as Error).message}); retrying` };
    }
  }

  const pause = (ms: number) => new Promise<void>((resolve) => {
    const t = setTimeout(() => { wake = null; resolve(); }, ms);
    wake = () => { clearTimeout(t); wake = null; resolve(); };
  });

  async function loop(): Promise<void> {
    let attempt = 0;
    while (!stopped) {
      const r = await connectOnce();
      if (stopped) break;
      let wait: number;
      if (r.opened) {
        attempt = 0;
        say(`console channel closed (${r.code}${r.reason ? `: ${r.reason}` : ''}); reconnecting`);
        // Replaced by another connection with this boot's token: two agents must not take turns every second.
        wait = r.code === REPLACED ? retry.refusedMs : backoffMs(attempt++, o.random, 1000, retry.maxBackoffMs);
      } else {
        const p = await probe();
        if (stopped) break;
        say(p.why);
        wait = p.wait >= 0 ? p.wait : backoffMs(attempt++, o.random, 1000, retry.maxBackoffMs);
      }
      await pause(wait);
    }
  }

  return {
    get sessions() { return sessions.size; },
    get connected() { return ws !== null; },
    start() {
      if (running || stopped) return;
      running = loop().catch((e: unknown) => o.log(`console channel stopped on an error: ${(e as Error).message}`));
    },
    async stop(why) {
      stopped = true;
      closeAll();
      const socket = ws;
      ws = null;
      // 1000: a browser-style client may not send 1001 (going away); the reason says it.
      try { socket?.close(1000, why.slice(0, 100)); } catch { /* closed already */ }
      wake?.();
      // Bounded: a power action must not wait on a dead network's close handshake.
      if (running) await Promise.race([running, new Promise((r) => setTimeout(r, 1000).unref())]);
    },
  };
}
