// A shell on a machine running the discovery OS, for the browser terminal, through the machine's
// agent. Two routes meet here:
//   GET /agent/v1/console (WebSocket, open to the network like the rest of /agent/v1): the agent's
//     console channel (agent/shell/protocol.ts), authenticated with this boot's token, which must
//     belong to the machine the agent claims to be. Plain GET (no upgrade): the probe answer.
//   GET /api/v1/machines/:id/terminal (WebSocket, admin): the browser's side, the same protocol,
//     Origin check and CSRF hello as the appliance's own terminal (terminal.ts serveTerminal).
//     Plain GET: whether the machine's agent is connected, for the UI's Shell button.
// Every session is audited like the appliance's shell (console/session.ts): open/close events in
// the machine's history with who and when, and a transcript file. The transcript is written here,
// on the appliance: a discovery OS keeps nothing (it lives in RAM and is gone at the next boot).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { Machine, Store } from '../store/store.ts';
import { bootTokenInfo } from '../auth/boot-tokens.ts';
import { newSessionId, recordSession, type SessionRecord, type ShellExit, type ShellSession } from '../console/session.ts';
import { ApiError, errorResponses } from './errors.ts';
import { idParams, macPattern } from './schemas.ts';
import { CLOSE, DEFAULT_HELLO_TIMEOUT_MS, closeWith, parseFrame, serveTerminal, type OpenResult } from './terminal.ts';
import { BOOT_MODES, type BootMode } from '../../agent/cmdline.ts';
import {
  CONSOLE_PATH, CONSOLE_VERSION, MAX_SESSIONS, PING_INTERVAL_MS, REPLACED, SESSION_PATTERN, pieces,
  type ConsoleProbe, type FromAgent, type ToAgent,
} from '../../agent/shell/protocol.ts';

export interface AgentShellOptions {
  store: Store;
  /** Transcript directory (<dataDir>/terminal), shared with the appliance's shell. */
  dir: string;
  helloTimeoutMs?: number;
  pingIntervalMs?: number;
  /** How long the agent has to start a shell. */
  openTimeoutMs?: number;
}

/** What the UI needs to offer a shell on a machine. */
export interface AgentConsoleStatus {
  machineId: string;
  connected: boolean;
  /** The boot mode the agent runs in; null when not connected. */
  mode: BootMode | null;
  since: number | null;
  sessions: number;
  maxSessions: number;
}

const DEFAULT_OPEN_TIMEOUT_MS = 10_000;

const machineName = (m: Pick<Machine, 'id' | 'hostname'>): string => (m.hostname ? `${m.hostname} (${m.id})` : m.id);

function bearer(request: FastifyRequest): string | null {
  const h = request.headers.authorization;
  return h?.startsWith('Bearer ') ? h.slice(7).trim() : null;
}

/** A shell on the machine as the browser terminal sees it; its frames travel on the agent's channel. */
interface RemoteShell extends ShellSession { deliver(m: FromAgent): void; lose(why: string): void }

/** One agent's console channel: the shells open on it, keyed by session id. */
class AgentLink {
  readonly shells = new Map<string, RemoteShell>();
  readonly since = Date.now();
  heard = Date.now();
  readonly machine: Machine;
  readonly mode: BootMode;
  readonly ip: string;
  private readonly socket: WebSocket;
  private readonly token: string;
  private readonly o: Required<Pick<AgentShellOptions, 'store' | 'dir' | 'openTimeoutMs'>>;

  constructor(socket: WebSocket, o: { machine: Machine; mode: BootMode; ip: string; token: string; store: Store; dir: string; openTimeoutMs: number }) {
    this.socket = socket;
    this.machine = o.machine;
    this.mode = o.mode;
    this.ip = o.ip;
    this.token = o.token;
    this.o = o;
  }

  send(m: ToAgent): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(m));
  }

  close(code: number, why: string): void { closeWith(this.socket, code, why); }
  terminate(): void { this.socket.terminate(); }

  /** The token this channel was opened with is still this machine's (a newer boot replaces it). */
  tokenValid(): boolean { return bootTokenInfo(this.o.store, this.token)?.machineId === this.machine.id; }

  /** Asks the agent for a shell; settles when it answers, refuses, or does not answer in time. */
  open(who: { user: string; ip: string }, size: { cols: number; rows: number }): Promise<OpenResult> {
    const name = machineName(this.machine);
    if (this.shells.size >= MAX_SESSIONS) return Promise.resolve({ refuse: CLOSE.busy, reason: `${MAX_SESSIONS} shells are open on machine ${this.machine.id} already` });
    const id = newSessionId();
    const outputs: Array<(d: string) => void> = [];
    const exits: Array<(e: ShellExit) => void> = [];
    let rec: SessionRecord | null = null;
    let settle: ((r: OpenResult) => void) | null = null;
    const ended = (why: string, e: ShellExit) => {
      if (!this.shells.delete(id)) return;
      rec?.finish(why, e.code);
      for (const fn of exits) fn(e);
    };
    const shell: RemoteShell = {
      id,
      get transcript() { return rec?.transcript ?? ''; },
      write: (data) => { for (const piece of pieces(data)) this.send({ type: 'input', session: id, data: piece }); },
      resize: (cols, rows) => this.send({ type: 'resize', session: id, cols, rows }),
      close: (why) => {
        if (!this.shells.delete(id)) return;
        rec?.finish(why, null);
        this.send({ type: 'close', session: id });
      },
      onOutput: (fn) => { outputs.push(fn); },
      onExit: (fn) => { exits.push(fn); },
      pause: () => this.send({ type: 'pause', session: id }),
      resume: () => this.send({ type: 'resume', session: id }),
      deliver: (m) => {
        if (m.type === 'opened' && settle && !rec) {
          try {
            rec = recordSession({ id, store: this.o.store, dir: this.o.dir, user: who.user, ip: who.ip, machineId: this.machine.id, shell: `login shell on machine ${this.machine.id} (${this.mode} boot, agent at ${this.ip})` });
          } catch (e) {
            this.shells.delete(id);
            this.send({ type: 'close', session: id });
            settle({ refuse: 1011, reason: `the transcript could not be created: ${(e as Error).message}` });
            settle = null;
            return;
          }
          rec.opened({ pid: m.pid, agentIp: this.ip, mode: this.mode });
          const s = settle;
          settle = null;
          s(shell);
        } else if (m.type === 'refused' && settle) {
          this.shells.delete(id);
          settle({ refuse: CLOSE.busy, reason: `the agent of machine ${name} refused: ${m.reason}` });
          settle = null;
        } else if (m.type === 'output' && rec) {
          rec.output(m.data);
          for (const fn of outputs) fn(m.data);
        } else if (m.type === 'exit' && rec) {
          const code = typeof m.code === 'number' ? m.code : null;
          ended(m.signal ? `shell ended by ${m.signal}` : `shell exited with ${code}`, { code });
        }
      },
      lose: (why) => {
        if (settle) {
          this.shells.delete(id);
          settle({ refuse: CLOSE.gone, reason: why });
          settle = null;
          return;
        }
        ended(why, { code: null, lost: why });
      },
    };
    this.shells.set(id, shell);
    return new Promise<OpenResult>((resolve) => {
      const timer = setTimeout(() => shell.lose(`the agent of machine ${name} did not start a shell within ${this.o.openTimeoutMs / 1000} s`), this.o.openTimeoutMs);
      settle = (r) => { clearTimeout(timer); resolve(r); };
      this.send({ type: 'open', session: id, ...size });
    }).then((r) => {
      if ('refuse' in r) this.send({ type: 'close', session: id }); // in case it starts after all
      return r;
    });
  }

  /** The channel is gone: every shell on it ends, and the browser is told why. */
  lost(why: string): void {
    for (const s of [...this.shells.values()]) s.lose(why);
  }
}

export default async function agentShellPlugin(app: FastifyInstance, o: AgentShellOptions): Promise<void> {
  if (!o.store || !o.dir) throw new Error('agent shell plugin needs a store and a transcript directory');
  if (!app.hasDecorator('websocketServer')) throw new Error('agent shell plugin needs @fastify/websocket (register the terminal plugin first)');
  const { store } = o;
  const helloTimeoutMs = o.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  const pingIntervalMs = o.pingIntervalMs ?? PING_INTERVAL_MS;
  const openTimeoutMs = o.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
  const links = new Map<string, AgentLink>();

  app.addHook('onClose', async () => {
    for (const l of [...links.values()]) { l.lost('the appliance is stopping'); l.close(1001, 'the appliance is stopping'); }
  });

  // --- the agent's console channel ---------------------------------------------------------------

  type ConsoleQuery = { mac: string; mode: BootMode; version: number };
  /** The boot token decides the machine, and the MAC the agent claims must be one of its NICs. */
  const agentMachine = (request: FastifyRequest): Machine => {
    const token = bearer(request);
    const info = token ? bootTokenInfo(store, token) : null;
    if (!info) throw new ApiError('unauthorized', 'send this boot\'s token (Authorization: Bearer <tether.token>); it is unknown, expired or was replaced by a newer boot');
    const q = request.query as ConsoleQuery;
    const claimed = store.getMachine(q.mac);
    if (!claimed || claimed.id !== info.machineId) throw new ApiError('forbidden', `this boot token belongs to machine ${info.machineId}, which has no NIC ${q.mac}`, { machineId: info.machineId, mac: q.mac });
    if (q.version !== CONSOLE_VERSION) throw new ApiError('bad_request', `this appliance speaks console channel version ${CONSOLE_VERSION}, the agent ${q.version}`);
    return claimed;
  };

  app.route({
    method: 'GET',
    url: CONSOLE_PATH,
    config: { access: 'open' },
    schema: {
      querystring: {
        type: 'object', additionalProperties: false, required: ['mac', 'mode', 'version'],
        properties: { mac: { type: 'string', pattern: macPattern }, mode: { type: 'string', enum: [...BOOT_MODES] }, version: { type: 'integer' } },
      },
      response: errorResponses,
    },
    // Before the upgrade: a refused agent gets an HTTP status, never a socket.
    preHandler: async (request) => { agentMachine(request); },
    handler: async () => {
      const body: ConsoleProbe = { version: CONSOLE_VERSION, maxSessions: MAX_SESSIONS, pingIntervalMs };
      return body;
    },
    wsHandler: (socket: WebSocket, request) => {
      const machine = agentMachine(request);
      const q = request.query as ConsoleQuery;
      const link = new AgentLink(socket, { machine, mode: q.mode, ip: request.ip, token: bearer(request)!, store, dir: o.dir, openTimeoutMs });
      const before = links.get(machine.id);
      links.set(machine.id, link);
      if (before) {
        // The newest boot's agent wins: an older channel is a dead TCP connection or a stale agent.
        before.lost(`machine ${machine.id} opened a new console channel`);
        before.close(REPLACED, 'replaced by a newer console channel of this machine');
      }
      request.log.info({ machineId: machine.id, mode: q.mode, ip: request.ip }, 'agent console channel open');
      const ping = setInterval(() => {
        if (Date.now() - link.heard > 3 * pingIntervalMs) { link.terminate(); return; }
        link.send({ type: 'ping' });
      }, pingIntervalMs);
      socket.on('message', (raw, isBinary) => {
        link.heard = Date.now();
        const m = parseFrame<FromAgent>(raw as Buffer, isBinary);
        if (!m) return link.close(CLOSE.badMessage, 'send JSON console frames');
        if (m.type === 'pong') return;
        const session = (m as { session?: unknown }).session;
        if (session === undefined) return; // a newer agent's frame
        if (typeof session !== 'string' || !SESSION_PATTERN.test(session)) return link.close(CLOSE.badMessage, 'a console frame with a malformed session id');
        if (m.type === 'output' && typeof m.data !== 'string') return link.close(CLOSE.badMessage, 'output without data');
        // A throw out of a ws listener takes the whole appliance down; an audit write may fail.
        try {
          link.shells.get(session)?.deliver(m); // unknown: crossed with its close
        } catch (err) {
          request.log.error({ err, machineId: machine.id, session }, 'agent console frame failed');
          try { link.shells.get(session)?.lose(`the appliance failed on this session: ${(err as Error).message}`); } catch { /* the store itself fails: logged above */ }
        }
      });
      socket.on('close', (code, reason) => {
        clearInterval(ping);
        if (links.get(machine.id) === link) links.delete(machine.id);
        const why = reason.toString() || `code ${code}`;
        link.lost(`the agent of machine ${machineName(machine)} disconnected (${why})`);
        request.log.info({ machineId: machine.id, code, reason: why }, 'agent console channel closed');
      });
    },
  });

  // --- the browser's side ------------------------------------------------------------------------

  const statusOf = (m: Machine): AgentConsoleStatus => {
    const l = links.get(m.id);
    return { machineId: m.id, connected: !!l, mode: l?.mode ?? null, since: l?.since ?? null, sessions: l?.shells.size ?? 0, maxSessions: MAX_SESSIONS };
  };

  app.route({
    method: 'GET',
    url: '/api/v1/machines/:id/terminal',
    config: { access: 'admin' },
    schema: {
      params: idParams,
      response: {
        200: {
          type: 'object',
          properties: {
            machineId: { type: 'string' }, connected: { type: 'boolean' }, mode: { type: ['string', 'null'] }, since: { type: ['integer', 'null'] },
            sessions: { type: 'integer' }, maxSessions: { type: 'integer' },
          },
        },
        ...errorResponses,
      },
    },
    // An unknown machine is a 404 before any upgrade.
    preHandler: async (request) => { store.mustGetMachine((request.params as { id: string }).id); },
    handler: async (request) => statusOf(store.mustGetMachine((request.params as { id: string }).id)),
    wsHandler: (socket: WebSocket, request) => {
      const p = request.principal!;
      const machine = store.mustGetMachine((request.params as { id: string }).id);
      serveTerminal(socket, request, {
        helloTimeoutMs,
        open: (size) => {
          const link = links.get(machine.id);
          const absent = { refuse: CLOSE.noAgent, reason: `machine ${machineName(machine)} is not running the discovery OS, or its agent is not connected` };
          if (!link) return absent;
          if (!link.tokenValid()) {
            link.lost('the boot token of this channel is no longer valid');
            link.close(CLOSE.refused, 'the boot token of this channel is no longer valid (a newer boot replaced it)');
            links.delete(machine.id);
            return absent;
          }
          return link.open({ user: p.user, ip: request.ip ?? 'unknown' }, size);
        },
      });
    },
  });
}
