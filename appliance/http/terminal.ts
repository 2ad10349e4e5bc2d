// GET /api/v1/terminal (WebSocket): the browser terminal, a shell on the appliance. Admin only —
// the auth hook checks the session cookie and role before the upgrade. Browsers cannot set headers
// on a WebSocket, so the CSRF token comes as the first message ("hello"); together with the Origin
// check this keeps another site from opening a shell with the admin's cookie.
// Protocol, JSON text frames both ways:
//   browser → {type:'hello', csrfToken, cols, rows} once, then {type:'input', data} | {type:'resize', cols, rows}
//   server  → {type:'ready', session} | {type:'output', data} | {type:'exit', code}
// A shell on a machine running the discovery OS (through its agent's connection) comes later.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import websocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import type { Store } from '../store/store.ts';
import { sameSecret } from '../auth/secrets.ts';
import { clampSize, openShell, type ShellSession } from '../console/shell.ts';

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
export const CLOSE = { badMessage: 4400, noHello: 4401, refused: 4403, busy: 4429 } as const;

const MAX_MESSAGE = 64 * 1024;
// Output waiting in the socket beyond this pauses the shell until the browser catches up.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 64 * 1024;

type ClientMessage = { type: 'hello'; csrfToken?: unknown; cols?: unknown; rows?: unknown } | { type: 'input'; data?: unknown } | { type: 'resize'; cols?: unknown; rows?: unknown };

function parse(raw: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): ClientMessage | null {
  if (isBinary) return null;
  try {
    const m = JSON.parse(Buffer.isBuffer(raw) ? raw.toString('utf8') : Buffer.concat(raw as Buffer[]).toString('utf8'));
    return m && typeof m === 'object' && typeof m.type === 'string' ? m : null;
  } catch {
    return null;
  }
}

async function terminalPlugin(app: FastifyInstance, o: TerminalOptions): Promise<void> {
  if (!o.store || !o.dir) throw new Error('terminal plugin needs a store and a transcript directory');
  const maxSessions = o.maxSessions ?? 8;
  const helloTimeoutMs = o.helloTimeoutMs ?? 5000;
  const open = new Set<ShellSession>();

  await app.register(websocket, { options: { maxPayload: MAX_MESSAGE } });
  app.addHook('onClose', async () => { for (const s of [...open]) s.close('appliance stopping'); });

  app.get('/api/v1/terminal', { websocket: true, config: { access: 'admin' } }, (socket: WebSocket, request) => {
    const p = request.principal!;
    const origin = request.headers.origin;
    if (origin !== undefined && safeHost(origin) !== request.headers.host) {
      request.log.warn({ origin, user: p.user }, 'terminal refused: cross-origin WebSocket');
      socket.close(CLOSE.refused, 'cross-origin terminal refused');
      return;
    }
    let shell: ShellSession | null = null;
    const helloTimer = setTimeout(() => socket.close(CLOSE.noHello, 'no hello with the CSRF token'), helloTimeoutMs);
    const send = (m: object) => { if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m)); };

    socket.on('message', (raw, isBinary) => {
      const m = parse(raw as Buffer, isBinary);
      if (!m) return socket.close(CLOSE.badMessage, 'send JSON messages');
      if (!shell) {
        clearTimeout(helloTimer);
        if (m.type !== 'hello') return socket.close(CLOSE.noHello, 'the first message must be hello');
        // Bearer-token clients are scripts, not browsers: no cookie rides along, so no CSRF risk.
        if (p.via === 'session' && (typeof m.csrfToken !== 'string' || !sameSecret(m.csrfToken, p.csrf!))) {
          request.log.warn({ user: p.user }, 'terminal refused: missing or wrong CSRF token');
          return socket.close(CLOSE.refused, 'missing or wrong CSRF token');
        }
        if (open.size >= maxSessions) return socket.close(CLOSE.busy, `${maxSessions} terminal sessions are open already`);
        shell = openShell({ store: o.store, dir: o.dir, user: p.user, ip: request.ip ?? 'unknown', shell: o.shell, ...clampSize(m.cols, m.rows) });
        open.add(shell);
        const s = shell;
        s.onOutput((data) => {
          send({ type: 'output', data });
          if (socket.bufferedAmount > HIGH_WATER) {
            s.pause();
            const wait = setInterval(() => {
              if (socket.readyState !== socket.OPEN || socket.bufferedAmount < LOW_WATER) { clearInterval(wait); s.resume(); }
            }, 50);
          }
        });
        s.onExit((code) => {
          open.delete(s);
          send({ type: 'exit', code });
          socket.close(1000, 'shell exited');
        });
        send({ type: 'ready', session: s.id });
        return;
      }
      if (m.type === 'input' && typeof m.data === 'string') shell.write(m.data);
      else if (m.type === 'resize') { const size = clampSize(m.cols, m.rows); shell.resize(size.cols, size.rows); }
      else socket.close(CLOSE.badMessage, `unexpected message ${m.type}`);
    });

    socket.on('close', () => {
      clearTimeout(helloTimer);
      if (shell) { open.delete(shell); shell.close('browser disconnected'); }
    });
  });
}

function safeHost(origin: string): string | null {
  try { return new URL(origin).host; } catch { return null; }
}

// Not encapsulated: @fastify/websocket belongs to the app (tests reach the socket with app.injectWS,
// and the agent shell will add its own socket route).
export default fp(terminalPlugin, { name: 'tether-terminal', fastify: '5.x' });
