import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testAppliance, PASSWORD, type TestAppliance } from '../../test/lib/appliance.ts';
import { CLOSE } from './terminal.ts';
import { waitFor } from '../../test/lib/wait.ts';

let t: TestAppliance;
let dataDir: string;
let url: string;
before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tether-terminal-'));
  t = await testAppliance({ dataDir });
  // Real sockets: a browser's close must reach the server, which injectWS does not model.
  url = (await t.app.listen({ host: '127.0.0.1', port: 0 })).replace('http', 'ws');
});
after(async () => { await t.close(); await rm(dataDir, { recursive: true, force: true }); });

async function session(user: string): Promise<{ cookie: string; csrf: string }> {
  const r = await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user, password: PASSWORD } });
  return { cookie: `tether_session=${r.cookies.find((c) => c.name === 'tether_session')!.value}`, csrf: r.json().csrfToken };
}

type ServerMessage = { type: string; data?: string; session?: string; code?: number };

/** A terminal socket as a browser opens it (Node's WebSocket takes headers as a non-standard option). */
function connect(headers: Record<string, string>) {
  const ws = new WebSocket(`${url}/api/v1/terminal`, { headers } as unknown as string[]);
  const got: ServerMessage[] = [];
  ws.onmessage = (m) => got.push(JSON.parse(String(m.data)));
  const opened = new Promise<void>((resolve) => { ws.onopen = () => resolve(); });
  const closed = new Promise<number>((resolve) => { ws.onclose = (e) => resolve(e.code); });
  const until = (pred: () => boolean) => waitFor('the terminal', pred, { quiet: true, seen: () => got });
  const send = (m: object) => ws.send(JSON.stringify(m));
  return { ws, got, opened, closed, until, send, output: () => got.filter((m) => m.type === 'output').map((m) => m.data).join('') };
}

test('terminal: an admin session gets a shell after the hello with its CSRF token; audited with a transcript', async () => {
  const s = await session('admin');
  const c = connect({ cookie: s.cookie });
  await c.opened;
  c.send({ type: 'hello', csrfToken: s.csrf, cols: 100, rows: 30 });
  await c.until(() => c.got.some((x) => x.type === 'ready'));
  c.send({ type: 'input', data: 'echo term-$((40+2))\r' });
  await c.until(() => c.output().includes('term-42'));
  c.send({ type: 'input', data: 'exit 3\r' });
  assert.equal(await c.closed, 1000);
  assert.deepEqual(c.got.at(-1), { type: 'exit', code: 3 });

  const [end, start] = t.store.listEvents({ kind: 'terminal' });
  assert.deepEqual([start.reason, start.actorName, start.actor], ['terminal session opened', 'admin', 'operator']);
  assert.equal(end.reason, 'terminal session closed: shell exited with 3');
  assert.equal(end.data!.session, c.got[0].session);
  const transcript = end.data!.transcript as string;
  assert.equal(transcript, join(dataDir, 'terminal', `${c.got[0].session}.log`));
  const text = await readFile(transcript, 'utf8');
  assert.match(text, /^# tether terminal t-[0-9a-f]{12}: admin from 127\.0\.0\.1, /);
  assert.match(text, /term-42/);
  assert.match(text, /# ended .*: shell exited with 3\n$/);
});

test('terminal: refused without the CSRF token, without a hello, cross-origin, and for non-admins', async () => {
  const s = await session('admin');
  const wrong = connect({ cookie: s.cookie });
  await wrong.opened;
  wrong.send({ type: 'hello', csrfToken: 'not-it' });
  assert.equal(await wrong.closed, CLOSE.refused);

  const noHello = connect({ cookie: s.cookie });
  await noHello.opened;
  noHello.send({ type: 'input', data: 'id\r' });
  assert.equal(await noHello.closed, CLOSE.noHello);

  const cross = connect({ cookie: s.cookie, origin: 'http://evil.example' });
  assert.equal(await cross.closed, CLOSE.refused);

  // The role is checked before the upgrade, by the auth hook every route goes through.
  for (const user of ['operator', 'viewer']) {
    const o = await session(user);
    const r = await t.app.inject({ method: 'GET', url: '/api/v1/terminal', headers: { cookie: o.cookie } });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error, 'forbidden');
    assert.notEqual(await connect({ cookie: o.cookie }).closed, 1000);
  }
  assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/terminal' })).json().error, 'unauthorized');
  // None of these opened a shell.
  assert.equal(t.store.listEvents({ kind: 'terminal' }).filter((e) => e.reason === 'terminal session opened').length, 1);
});

test('terminal: closing the browser ends the shell and records why', async () => {
  const s = await session('admin');
  const c = connect({ cookie: s.cookie });
  await c.opened;
  c.send({ type: 'hello', csrfToken: s.csrf });
  await c.until(() => c.got.some((x) => x.type === 'ready'));
  c.ws.close();
  await c.until(() => t.store.listEvents({ kind: 'terminal' })[0].reason === 'terminal session closed: browser disconnected');
});
