// GET /api/v1/terminal (WebSocket): the browser terminal, a shell on the appliance. Admin only —
// the auth hook checks the session cookie and role before the upgrade. Browsers cannot set headers
// on a WebSocket, so the CSRF token comes as the first message ("hello"); together with the Origin
// check this keeps another site from opening a shell with the admin's cookie.
// Protocol, JSON text frames both ways:
//   browser → {type:'hello', csrfToken, cols, rows} once, then {type:'input', data} | {type:'resize', cols, rows}
//   server  → {type:'ready', session} | {type:'output', data} | {type:'exit', code}
// serveTerminal is that protocol for any shell: the shell on a machine in the discovery OS
// (agent-shell.ts, GET /api/v1/machines/:id/terminal) speaks it too.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Store } from '../store/store.ts';
import { sameSecret } from '../auth/secrets.ts';
import { openShell } from '../console/shell.ts';
import { clampSize, type ShellSession } from '../console/session.ts';

export interface TerminalOptions {
  store: Store;
  /** Transcript directory (<dataDir>/terminal). */
  dir: string;
  shell?: string;
  /** Open shells at once, over all users: each is a process on the appliance. */
  maxSessions?: number;
  helloTimeoutMs?: number;
}

/** Close codes in the application range (4000-4999), so the UI can say what went wrong. */
export const CLOSE = { badMessage: 4400, noHello: 4401, refused: 4403, noAgent: 4404, gone: 4410, busy: 4429 } as const;

/** Messages to and from a terminal socket (the @fastify/websocket server's maxPayload). */
export const MAX_MESSAGE = 64 * 1024;
export const DEFAULT_HELLO_TIMEOUT_MS = 5000;
// Output waiting in the socket beyond this pauses the shell until the browser catches up.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 64 * 1024;
// Input typed while a remote shell is still starting waits; a page sending more is not a person.
const MAX_EARLY_MESSAGES = 64;

type ClientMessage = { type: 'hello'; csrfToken?: unknown; cols?: unknown; rows?: unknown } | { type: 'input'; data?: unknown } | { type: 'resize'; cols?: unknown; rows?: unknown };

/** A JSON object with a string `type`, or null. */
export function parseFrame<T extends { type: string }>(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): T | null {
  if (isBinary) return null;
  try {
    const m = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : Array.isArray(raw) ? Buffer.concat(raw).toString('utf8') : Buffer.from(raw).toString('utf8'));
    return m && typeof m === 'object' && typeof m.type === 'string' ? m : null;
  } catch {
    return null;
  }
}

/** A close reason is at most 123 bytes on the wire (RFC 6455); ws throws on longer ones. */
export function closeWith(socket: WebSocket, code: number, reason: string): void {
  let r = reason;
  while (Buffer.byteLength(r) > 123) r = `${r.slice(0, -2)}…`;
  socket.close(code, r);
}

/** The shell the hello asked for, or why not (a close code and a reason the UI shows). */
export type OpenResult = ShellSession | { refuse: number; reason: string };

export interface ServeOptions {
  helloTimeoutMs: number;
  /** Called once the hello passed, with the terminal's size. */
  open(size: { cols: number; rows: number }): OpenResult | Promise<OpenResult>;
  /** Called once when an opened session ends (the shell exited or the browser left). */
  ended?(s: ShellSession): void;
}

/**
 * One browser terminal socket, from the Origin check and the CSRF hello to the shell's exit. The
 * route has already checked the session and role (config.access) before the upgrade.
 */
export function serveTerminal(socket: WebSocket, request: FastifyRequest, o: ServeOptions): void {
  const p = request.principal!;
  const origin = request.headers.origin;
  if (origin !== undefined && safeHost(origin) !== request.headers.host) {
    request.log.warn({ origin, user: p.user, url: request.url }, 'terminal refused: cross-origin WebSocket');
    closeWith(socket, CLOSE.refused, 'cross-origin terminal refused');
    return;
  }
  let state: 'hello' | 'opening' | 'open' | 'gone' = 'hello';
  let shell: ShellSession | null = null;
  const early: ClientMessage[] = [];
  const helloTimer = setTimeout(() => closeWith(socket, CLOSE.noHello, 'no hello with the CSRF token'), o.helloTimeoutMs);
  const send = (m: object) => { if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m)); };
  let endedOnce = false;
  const end = (s: ShellSession) => { if (!endedOnce) { endedOnce = true; o.ended?.(s); } };

  const handle = (s: ShellSession, m: ClientMessage) => {
    if (m.type === 'input' && typeof m.data === 'string') s.write(m.data);
    else if (m.type === 'resize') { const size = clampSize(m.cols, m.rows); s.resize(size.cols, size.rows); }
    else closeWith(socket, CLOSE.badMessage, `unexpected message ${m.type}`);
  };

  const started = (s: ShellSession) => {
    let paused = false; // a remote shell's output already on its way still arrives after the pause
    s.onOutput((data) => {
      send({ type: 'output', data });
      if (!paused && socket.bufferedAmount > HIGH_WATER) {
        paused = true;
        s.pause();
        const wait = setInterval(() => {
          if (socket.readyState !== socket.OPEN || socket.bufferedAmount < LOW_WATER) { clearInterval(wait); paused = false; s.resume(); }
        }, 50);
      }
    });
    s.onExit((e) => {
      end(s);
      if (e.lost) return closeWith(socket, CLOSE.gone, e.lost);
      send({ type: 'exit', code: e.code });
      socket.close(1000, 'shell exited');
    });
    send({ type: 'ready', session: s.id });
    for (const m of early.splice(0)) handle(s, m);
  };

  socket.on('message', (raw, isBinary) => {
    const m = parseFrame<ClientMessage>(raw as Buffer, isBinary);
    if (!m) return closeWith(socket, CLOSE.badMessage, 'send JSON messages');
    if (state === 'open') return handle(shell!, m);
    if (state === 'opening') {
      if (early.length >= MAX_EARLY_MESSAGES) return closeWith(socket, CLOSE.badMessage, 'too many messages before the shell was ready');
      early.push(m);
      return;
    }
    if (state === 'gone') return;
    clearTimeout(helloTimer);
    if (m.type !== 'hello') return closeWith(socket, CLOSE.noHello, 'the first message must be hello');
    // Bearer-token clients are scripts, not browsers: no cookie rides along, so no CSRF risk.
    if (p.via === 'session' && (typeof m.csrfToken !== 'string' || !sameSecret(m.csrfToken, p.csrf!))) {
      request.log.warn({ user: p.user, url: request.url }, 'terminal refused: missing or wrong CSRF token');
      return closeWith(socket, CLOSE.refused, 'missing or wrong CSRF token');
    }
    state = 'opening';
    Promise.resolve().then(() => o.open(clampSize(m.cols, m.rows))).then((r) => {
      if ('refuse' in r) {
        state = 'gone';
        return closeWith(socket, r.refuse, r.reason);
      }
      if (state === 'gone') { // the browser left while the shell was starting
        r.close('browser disconnected');
        end(r);
        return;
      }
      shell = r;
      state = 'open';
      started(r);
    }, (err: unknown) => {
      request.log.error({ err, user: p.user, url: request.url }, 'terminal: the shell could not be started');
      state = 'gone';
      closeWith(socket, 1011, `the shell could not be started: ${(err as Error).message}`);
    });
  });

  socket.on('close', () => {
    clearTimeout(helloTimer);
    state = 'gone';
    if (shell) { shell.close('browser disconnected'); end(shell); }
  });
}

async function terminalPlugin(app: FastifyInstance, o: TerminalOptions): Promise<void> {
  if (!o.store || !o.dir) throw new Error('terminal plugin needs a store and a transcript directory');
  const maxSessions = o.maxSessions ?? 8;
  const helloTimeoutMs = o.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  const open = new Set<ShellSession>();

  await app.register(websocket, { options: { maxPayload: MAX_MESSAGE } });
  app.addHook('onClose', async () => { for (const s of [...open]) s.close('appliance stopping'); });

  app.get('/api/v1/terminal', { websocket: true, config: { access: 'admin' } }, (socket: WebSocket, request) => {
    const p = request.principal!;
    serveTerminal(socket, request, {
      helloTimeoutMs,
      open: (size) => {
        if (open.size >= maxSessions) return { refuse: CLOSE.busy, reason: `${maxSessions} terminal sessions are open already` };
        const s = openShell({ store: o.store, dir: o.dir, user: p.user, ip: request.ip ?? 'unknown', shell: o.shell, ...size });
        open.add(s);
        return s;
      },
      ended: (s) => open.delete(s),
    });
  });
}

function safeHost(origin: string): string | null {
  try { return new URL(origin).host; } catch { return null; }
}

// Not encapsulated: @fastify/websocket belongs to the app (tests reach the socket with app.injectWS,
// and agent-shell.ts adds its socket routes to the same server).
export default fp(terminalPlugin, { name: 'tether-terminal', fastify: '5.x' });
