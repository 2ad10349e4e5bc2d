import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testAppliance, bearer, PASSWORD, type TestAppliance } from '../../test/lib/appliance.ts';

let t: TestAppliance;
before(async () => { t = await testAppliance(); });
after(() => t.close());

// The web UI's page and assets are open (they hold no data); everything they show needs a session.
const OPEN = new Set(['GET /healthz', 'POST /api/v1/session', 'GET /boot/ipxe', 'GET /artifacts/*', 'POST /agent/v1/report', 'POST /agent/v1/heartbeat', 'GET /agent/v1/task', 'POST /agent/v1/progress', 'POST /agent/v1/result', 'GET /agent/v1/files', 'POST /agent/v1/phone-home', 'GET /agent/v1/join', 'GET /agent/v1/console', 'GET /', 'GET /ui', 'GET /ui/*', 'GET /ui/assets/:file']);
const fill = (url: string) => url.replace(':id', 'm-0000000000').replace(':action', 'approve').replace(':name', 'viewer');

test('auth: route table — only the allowed open routes answer without credentials', async () => {
  const routes = t.app.routeTable.filter((r) => r.method !== 'HEAD');
  assert.ok(routes.length >= 10, `found ${routes.length} routes`);
  for (const r of routes) {
    assert.notEqual(r.access, 'none', `${r.method} ${r.url} declares no access`);
    const res = await t.app.inject({ method: r.method as 'GET', url: fill(r.url), payload: r.method === 'GET' || r.method === 'DELETE' ? undefined : {} });
    const key = `${r.method} ${r.url}`;
    if (OPEN.has(key)) {
      assert.equal(r.access, 'open', key);
      assert.notEqual(res.statusCode, 401, `${key} is open`);
    } else {
      assert.notEqual(r.access, 'open', `${key} is open but not in the allowed open set`);
      assert.equal(res.statusCode, 401, `${key} without credentials → ${res.statusCode}`);
      assert.equal(res.json().error, 'unauthorized');
    }
  }
  // And with a viewer token, every route that needs more answers 403.
  for (const r of routes.filter((x) => x.access === 'operator' || x.access === 'admin')) {
    const res = await t.app.inject({ method: r.method as 'GET', url: fill(r.url), headers: bearer(t.tokens.viewer), payload: r.method === 'GET' ? undefined : {} });
    assert.equal(res.statusCode, 403, `${r.method} ${r.url} as viewer`);
    assert.equal(res.json().error, 'forbidden');
  }
});

test('auth: a viewer cannot approve (403), an operator can act, an admin manages users', async () => {
  const { machine } = (await import('../lifecycle/lifecycle.ts')).discover(t.store, { mac: '52:54:00:bb:00:01', actor: 'dhcp' });
  t.store.transition(machine.id, () => ({ to: 'inventoried', actor: 'agent' }));
  const asViewer = await t.app.inject({ method: 'POST', url: `/api/v1/machines/${machine.id}/actions/approve`, headers: bearer(t.tokens.viewer), payload: {} });
  assert.equal(asViewer.statusCode, 403);
  assert.equal(t.store.mustGetMachine(machine.id).state, 'inventoried');
  const asOp = await t.app.inject({ method: 'POST', url: `/api/v1/machines/${machine.id}/actions/approve`, headers: bearer(t.tokens.operator), payload: {} });
  assert.equal(asOp.statusCode, 200);
  assert.equal(asOp.json().event.actorName, 'operator');
  assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/users', headers: bearer(t.tokens.operator) })).statusCode, 403);
  const created = await t.app.inject({ method: 'POST', url: '/api/v1/users', headers: bearer(t.tokens.admin), payload: { name: 'carol', role: 'viewer' } });
  assert.equal(created.statusCode, 201);
  assert.equal(created.json().password.length, 20);
  const audit = t.store.listEvents({ kind: 'audit' });
  assert.equal(audit[0].actorName, 'admin');
  // An operator cannot mint an admin token.
  const mint = await t.app.inject({ method: 'POST', url: '/api/v1/tokens', headers: bearer(t.tokens.operator), payload: { name: 'x', role: 'admin' } });
  assert.equal(mint.statusCode, 403);
  assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/machines', headers: bearer('tth_aaaaaaaaaaaa.' + 'x'.repeat(43)) })).statusCode, 401);
});

test('auth: wrong password is 401 and logged; session login, CSRF, logout', async () => {
  const bad = await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user: 'operator', password: 'wrong password' } });
  assert.equal(bad.statusCode, 401);
  assert.equal(bad.json().error, 'unauthorized');
  const logged = t.store.listEvents({ kind: 'auth' })[0];
  assert.deepEqual([logged.actorName, logged.reason], ['operator', 'login failed']);
  const unknown = await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user: 'nobody', password: 'x' } });
  assert.equal(unknown.statusCode, 401);

  const login = await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user: 'operator', password: PASSWORD } });
  assert.equal(login.statusCode, 200);
  const cookie = login.cookies.find((c) => c.name === 'tether_session')!;
  assert.ok(cookie.httpOnly);
  assert.equal(cookie.sameSite, 'Strict');
  const { csrfToken } = login.json();
  const cookies = { tether_session: cookie.value };

  const me = await t.app.inject({ method: 'GET', url: '/api/v1/session', cookies });
  assert.equal(me.json().user, 'operator');
  // A state-changing request riding on the cookie alone (what a cross-site form would send) is refused.
  const noCsrf = await t.app.inject({ method: 'POST', url: '/api/v1/machines', cookies, payload: { mac: '52:54:00:bb:00:02' } });
  assert.equal(noCsrf.statusCode, 403);
  assert.equal(noCsrf.json().error, 'csrf_failed');
  const wrongCsrf = await t.app.inject({ method: 'POST', url: '/api/v1/machines', cookies, headers: { 'x-csrf-token': 'nope' }, payload: { mac: '52:54:00:bb:00:02' } });
  assert.equal(wrongCsrf.json().error, 'csrf_failed');
  const withCsrf = await t.app.inject({ method: 'POST', url: '/api/v1/machines', cookies, headers: { 'x-csrf-token': csrfToken }, payload: { mac: '52:54:00:bb:00:02' } });
  assert.equal(withCsrf.statusCode, 201);

  const out = await t.app.inject({ method: 'DELETE', url: '/api/v1/session', cookies, headers: { 'x-csrf-token': csrfToken } });
  assert.equal(out.statusCode, 204);
  assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/session', cookies })).statusCode, 401);
});

test('auth: repeated wrong passwords are throttled', async () => {
  let last = 0;
  for (let i = 0; i < 11; i++) {
    last = (await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user: 'admin', password: `guess-${i}` }, remoteAddress: '10.9.9.9' })).statusCode;
  }
  assert.equal(last, 429);
  // Another client is not locked out by the attacker.
  const ok = await t.app.inject({ method: 'POST', url: '/api/v1/session', payload: { user: 'admin', password: PASSWORD }, remoteAddress: '10.9.9.10' });
  assert.equal(ok.statusCode, 200);
});
