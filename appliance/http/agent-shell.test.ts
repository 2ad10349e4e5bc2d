// A shell on a machine in the discovery OS, end to end on loopback: the real appliance app, the real
// agent console channel (agent/shell/channel.ts, with its ffi pty running this host's /bin/sh), and
// a browser-side WebSocket client speaking the terminal protocol.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testAppliance, PASSWORD, bearer, type TestAppliance } from '../../test/lib/appliance.ts';
import { CLOSE } from './terminal.ts';
import { mintBootToken } from '../auth/boot-tokens.ts';
import { discover } from '../lifecycle/lifecycle.ts';
import { consoleChannel, type ConsoleChannel } from '../../agent/shell/channel.ts';
import { CONSOLE_PATH, CONSOLE_VERSION } from '../../agent/shell/protocol.ts';
import type { AgentConfig } from '../../agent/cmdline.ts';
import { waitFor } from '../../test/lib/wait.ts';

let t: TestAppliance;
let dataDir: string;
let http: string;
let ws: string;
const channels: ConsoleChannel[] = [];
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tether-agent-shell-'));
  t = await testAppliance({ dataDir });
  http = await t.app.listen({ host: '127.0.0.1', port: 0 });
  ws = http.replace('http', 'ws');
});
after(async () => {
  for (const c of channels) await c.stop('test over');
  await t.close();
  await rm(dataDir, { recursive: true, force: true });
});

let macSeq = 0x20;
/** A machine as the boot path leaves it: discovered, with this boot's token on its command line. */
function booted(hostname: string): { id: string; cfg: AgentConfig } {
  const mac = `52:54:00:5e:00:${(macSeq++).toString(16).padStart(2, '0')}`;
  const { machine } = discover(t.store, { mac, zone: 'zone-a', hostname, actor: 'http' });
  return { id: machine.id, cfg: { url: http, token: mintBootToken(t.store, machine.id), mac, mode: 'discovery', write: false } };
}

function agent(cfg: AgentConfig): { channel: ConsoleChannel; logs: string[] } {
  const logs: string[] = [];
  const channel = consoleChannel(cfg, { log: (m) => logs.push(m), retry: { absentMs: 100, refusedMs: 100, maxBackoffMs: 200 } });
  channels.push(channel);
  channel.start();
  return { channel, logs };
}

const until = (pred: () => boolean, what: string) => waitFor(what, pred, { quiet: true });

async function session(user: string): Promise<{ cookie: string; csrf: string }> {
  const r = await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user, password: PASSWORD } });
  return { cookie: `tether_session=${r.cookies.find((c) => c.name === 'tether_session')!.value}`, csrf: r.json().csrfToken };
}

type ServerMessage = { type: string; data?: string; session?: string; code?: number };

/** The machine's terminal socket as a browser opens it (Node's WebSocket takes headers as a non-standard option). */
function browser(machineId: string, headers: Record<string, string>) {
  const sock = new WebSocket(`${ws}/api/v1/machines/${machineId}/terminal`, { headers });
  const got: ServerMessage[] = [];
  sock.onmessage = (m) => got.push(JSON.parse(String(m.data)));
  const opened = new Promise<void>((resolve) => { sock.onopen = () => resolve(); });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => { sock.onclose = (e) => resolve({ code: e.code, reason: e.reason }); });
  const output = () => got.filter((m) => m.type === 'output').map((m) => m.data).join('');
  return { sock, got, opened, closed, output, send: (m: object) => sock.send(JSON.stringify(m)), ready: () => until(() => got.some((x) => x.type === 'ready'), `ready; got ${JSON.stringify(got)}`) };
}

const machineEvents = (id: string) => t.store.listEvents({ kind: 'terminal', machineId: id });

test('machine shell: an admin runs a command on the machine through its agent; audited in its history with a transcript', { timeout: 60_000 }, async () => {
  const m = booted('rack7-node3');
  const a = agent(m.cfg);
  await until(() => a.channel.connected, 'the console channel');
  const status = await t.app.inject({ method: 'GET', url: `/api/v1/machines/${m.id}/terminal`, headers: bearer(t.tokens.admin) });
  assert.equal(status.statusCode, 200);
  assert.deepEqual({ ...status.json<Record<string, unknown>>(), since: typeof status.json().since }, { machineId: m.id, connected: true, mode: 'discovery', since: 'number', sessions: 0, maxSessions: 4 });

  const s = await session('admin');
  const b = browser(m.id, { cookie: s.cookie });
  await b.opened;
  b.send({ type: 'hello', csrfToken: s.csrf, cols: 100, rows: 30 });
  await b.ready();
  assert.equal(a.channel.sessions, 1);
  b.send({ type: 'input', data: 'echo tether-$((6*7)); stty size; echo "session $TETHER_TERMINAL_SESSION"\r' });
  await until(() => b.output().includes('tether-42') && /session t-/.test(b.output()), `the echo; got ${JSON.stringify(b.output())}`);
  assert.match(b.output(), /30 100\r\n/);
  assert.match(b.output(), new RegExp(`session ${b.got[0].session}`), 'the shell on the machine runs as the audited session');
  b.send({ type: 'resize', cols: 120, rows: 40 });
  b.send({ type: 'input', data: 'stty size\r' });
  await until(() => /40 120\r\n/.test(b.output()), 'the resize');
  b.send({ type: 'input', data: 'exit 5\r' });
  assert.equal((await b.closed).code, 1000);
  assert.deepEqual(b.got.at(-1), { type: 'exit', code: 5 });
  await until(() => a.channel.sessions === 0, 'the agent to forget the shell');

  const [end, start] = machineEvents(m.id);
  assert.deepEqual([start.reason, start.actorName, start.actor, start.machineId], ['terminal session opened', 'admin', 'operator', m.id]);
  assert.equal(start.data!.mode, 'discovery');
  assert.equal(typeof start.data!.pid, 'number');
  assert.equal(end.reason, 'terminal session closed: shell exited with 5');
  assert.equal(end.data!.session, b.got[0].session);
  const transcript = end.data!.transcript as string;
  assert.equal(transcript, join(dataDir, 'terminal', `${b.got[0].session}.log`));
  const text = await readFile(transcript, 'utf8');
  assert.match(text, new RegExp(`^# tether terminal t-[0-9a-f]{12}: admin from 127\\.0\\.0\\.1, login shell on machine ${m.id} \\(discovery boot, agent at 127\\.0\\.0\\.1\\), `));
  assert.match(text, /tether-42/);
  assert.match(text, /# ended .*: shell exited with 5\n$/);
});

test('machine shell: refused without the CSRF token, cross-origin, for non-admins, and for an unknown machine', { timeout: 60_000 }, async () => {
  const m = booted('rack7-node4');
  const a = agent(m.cfg);
  await until(() => a.channel.connected, 'the console channel');
  const s = await session('admin');

  const noCsrf = browser(m.id, { cookie: s.cookie });
  await noCsrf.opened;
  noCsrf.send({ type: 'hello', cols: 80, rows: 24 });
  assert.equal((await noCsrf.closed).code, CLOSE.refused);

  const wrongCsrf = browser(m.id, { cookie: s.cookie });
  await wrongCsrf.opened;
  wrongCsrf.send({ type: 'hello', csrfToken: 'not-it' });
  assert.equal((await wrongCsrf.closed).code, CLOSE.refused);

  const cross = browser(m.id, { cookie: s.cookie, origin: 'http://evil.example' });
  assert.deepEqual(await cross.closed, { code: CLOSE.refused, reason: 'cross-origin terminal refused' });

  for (const user of ['operator', 'viewer']) {
    const o = await session(user);
    const r = await t.app.inject({ method: 'GET', url: `/api/v1/machines/${m.id}/terminal`, headers: { cookie: o.cookie } });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error, 'forbidden');
    const c = browser(m.id, { cookie: o.cookie });
    assert.notEqual((await c.closed).code, 1000);
  }
  const unknown = await t.app.inject({ method: 'GET', url: '/api/v1/machines/m-nosuchmachine/terminal', headers: bearer(t.tokens.admin) });
  assert.equal(unknown.statusCode, 404);
  assert.equal(a.channel.sessions, 0);
  assert.equal(machineEvents(m.id).length, 0, 'nothing was opened, so nothing to audit');
});

test('machine shell: a machine whose agent is not connected is refused with a reason that says so', { timeout: 60_000 }, async () => {
  const m = booted('rack7-node5');
  const status = await t.app.inject({ method: 'GET', url: `/api/v1/machines/${m.id}/terminal`, headers: bearer(t.tokens.admin) });
  assert.equal(status.json().connected, false);
  const s = await session('admin');
  const b = browser(m.id, { cookie: s.cookie });
  await b.opened;
  b.send({ type: 'hello', csrfToken: s.csrf });
  assert.deepEqual(await b.closed, { code: CLOSE.noAgent, reason: `machine rack7-node5 (${m.id}) is not running the discovery OS, or its agent is not connected` });
});

test('machine shell: the channel wants this boot\'s token, and the MAC must be the token\'s machine', { timeout: 60_000 }, async () => {
  const m = booted('rack7-node6');
  const other = booted('rack7-node7');
  const probe = (token: string, mac: string, version = CONSOLE_VERSION) => fetch(`${http}${CONSOLE_PATH}?mac=${encodeURIComponent(mac)}&mode=discovery&version=${version}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal((await probe('abcdefghij.not-a-real-secret-but-long-enough-xx', m.cfg.mac)).status, 401);
  const foreign = await probe(other.cfg.token, m.cfg.mac);
  assert.equal(foreign.status, 403);
  assert.match(((await foreign.json()) as { message: string }).message, new RegExp(`belongs to machine ${other.id}, which has no NIC ${m.cfg.mac}`));
  assert.equal((await probe(m.cfg.token, m.cfg.mac, 99)).status, 400);
  assert.deepEqual(await (await probe(m.cfg.token, m.cfg.mac)).json(), { version: CONSOLE_VERSION, maxSessions: 4, pingIntervalMs: 25_000 });

  // The real agent with another machine's token, and with a made-up one: it never connects, and
  // says why once however often it tries.
  const stolen = agent({ ...m.cfg, token: other.cfg.token });
  const forged = agent({ ...m.cfg, token: 'abcdefghij.not-a-real-secret-but-long-enough-xx' });
  await until(() => stolen.logs.length > 0 && forged.logs.length > 0, 'the refusals');
  await new Promise((r) => setTimeout(r, 600)); // several more attempts
  assert.equal(stolen.channel.connected, false);
  assert.deepEqual(stolen.logs, [`the appliance refused the console channel (403: this boot token belongs to machine ${other.id}, which has no NIC ${m.cfg.mac}); asking again every 0.1 s`]);
  assert.equal(forged.logs.length, 1);
  assert.match(forged.logs[0], /refused the console channel \(401: /);
  const status = await t.app.inject({ method: 'GET', url: `/api/v1/machines/${m.id}/terminal`, headers: bearer(t.tokens.admin) });
  assert.equal(status.json().connected, false);
  await stolen.channel.stop('test');
  await forged.channel.stop('test');

  // A newer boot replaces the token: a channel opened with the old one gives no shell.
  const a = agent(m.cfg);
  await until(() => a.channel.connected, 'the console channel');
  mintBootToken(t.store, m.id);
  const s = await session('admin');
  const b = browser(m.id, { cookie: s.cookie });
  await b.opened;
  b.send({ type: 'hello', csrfToken: s.csrf });
  assert.equal((await b.closed).code, CLOSE.noAgent);
  await a.channel.stop('test');
});

test('machine shell: the agent going away ends the browser\'s session with the reason; the browser leaving ends the shell', { timeout: 60_000 }, async () => {
  const m = booted('rack7-node8');
  const a = agent(m.cfg);
  await until(() => a.channel.connected, 'the console channel');
  const s = await session('admin');

  const leaving = browser(m.id, { cookie: s.cookie });
  await leaving.opened;
  leaving.send({ type: 'hello', csrfToken: s.csrf });
  await leaving.ready();
  await until(() => a.channel.sessions === 1, 'the shell on the machine');
  leaving.sock.close();
  await until(() => a.channel.sessions === 0, 'the shell on the machine to end');
  await until(() => machineEvents(m.id)[0]?.reason === 'terminal session closed: browser disconnected', 'the close event');

  const b = browser(m.id, { cookie: s.cookie });
  await b.opened;
  b.send({ type: 'hello', csrfToken: s.csrf });
  await b.ready();
  b.send({ type: 'input', data: 'echo still-$((1+1))\r' });
  await until(() => b.output().includes('still-2'), 'the echo');
  // A paste as large as a browser frame may be (~60 KB: a here-document of 300 lines of 2-byte
  // characters) goes to the agent in pieces; the channel stays up and the shell reads all of it.
  b.send({ type: 'input', data: `cat > /dev/null <<'END'\r${`${'é'.repeat(99)}\r`.repeat(300)}END\r` });
  b.send({ type: 'input', data: 'echo survived-$((3*3))\r' });
  await until(() => b.output().includes('survived-9'), 'the echo after the paste');
  assert.equal(a.channel.connected, true);
  await a.channel.stop('the machine is going to poweroff');
  const closed = await b.closed;
  assert.equal(closed.code, CLOSE.gone);
  assert.match(closed.reason, new RegExp(`^the agent of machine rack7-node8 \\(${m.id}\\) disconnected \\(the machine is going to poweroff\\)`));
  await until(() => /^terminal session closed: the agent of machine .* disconnected/.test(machineEvents(m.id)[0]?.reason ?? ''), 'the close event');
  assert.equal(machineEvents(m.id)[0].data!.exitCode, null);
});

test('machine shell: at most a few shells at once on one machine', { timeout: 60_000 }, async () => {
  const m = booted('rack7-node9');
  const a = agent(m.cfg);
  await until(() => a.channel.connected, 'the console channel');
  const s = await session('admin');
  const open = [];
  for (let i = 0; i < 4; i++) {
    const b = browser(m.id, { cookie: s.cookie });
    await b.opened;
    b.send({ type: 'hello', csrfToken: s.csrf });
    await b.ready();
    open.push(b);
  }
  assert.equal(a.channel.sessions, 4);
  const fifth = browser(m.id, { cookie: s.cookie });
  await fifth.opened;
  fifth.send({ type: 'hello', csrfToken: s.csrf });
  assert.deepEqual(await fifth.closed, { code: CLOSE.busy, reason: `4 shells are open on machine ${m.id} already` });
  for (const b of open) b.sock.close();
  await until(() => a.channel.sessions === 0, 'the shells to end');
  assert.equal(machineEvents(m.id).filter((e) => e.reason === 'terminal session opened').length, 4);
});
