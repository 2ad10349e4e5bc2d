import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { testAppliance, bearer, type TestAppliance } from '../../../test/lib/appliance.ts';
import { migrations } from '../../store/migrations.ts';

let t: TestAppliance;
let url: string;
before(async () => {
  t = await testAppliance({ http: { bodyLimit: 4096 } });
  // Through real HTTP on a loopback port: content-length limits, keep-alive and JSON parsing
  // happen in the socket layer that inject() bypasses.
  url = await t.app.listen({ host: '127.0.0.1', port: 0 });
});
after(() => t.close());

async function call(method: string, path: string, o: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...(o.token ? bearer(o.token) : {}), ...o.headers };
  let body: string | undefined;
  if (o.raw !== undefined) { body = o.raw; headers['content-type'] ??= 'application/json'; } else if (o.body !== undefined) { body = JSON.stringify(o.body); headers['content-type'] = 'application/json'; }
  const r = await fetch(`${url}${path}`, { method, headers, body });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null };
}

function assertError(r: { status: number; body: any }, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error, code);
  assert.equal(typeof r.body.message, 'string');
  assert.ok('details' in r.body);
}

test('api: register, list, show with history, act on a machine', async () => {
  const op = t.tokens.operator;
  const created = await call('POST', '/api/v1/machines', { token: op, body: { mac: '52:54:00:AA:00:01', zone: 'zone-a', rack: 'r12' } });
  assert.equal(created.status, 201);
  assert.equal(created.body.state, 'discovered');
  assert.equal(created.body.bootMac, '52:54:00:aa:00:01');
  const id = created.body.id;

  const list = await call('GET', '/api/v1/machines?zone=zone-a&state=discovered', { token: t.tokens.viewer });
  assert.equal(list.status, 200);
  assert.equal(list.body.total, 1);
  assert.equal(list.body.items[0].id, id);

  const byMac = await call('GET', '/api/v1/machines/52:54:00:aa:00:01', { token: t.tokens.viewer });
  assert.equal(byMac.body.machine.id, id);
  assert.equal(byMac.body.events[0].to, 'discovered');
  assert.equal(byMac.body.events[0].actorName, 'operator');

  // approve needs an inventoried machine: a clear refusal naming both states
  const refused = await call('POST', `/api/v1/machines/${id}/actions/approve`, { token: op, body: {} });
  assertError(refused, 409, 'illegal_transition');
  assert.deepEqual(refused.body.details, { from: 'discovered', to: 'approved' });

  const rescued = await call('POST', `/api/v1/machines/${id}/actions/rescue`, { token: op, body: { reason: 'bad disk?' } });
  assert.equal(rescued.status, 200);
  assert.equal(rescued.body.machine.state, 'rescue');
  assert.deepEqual([rescued.body.event.actor, rescued.body.event.actorName, rescued.body.event.reason], ['operator', 'operator', 'bad disk?']);

  const events = await call('GET', `/api/v1/events?machine=${id}&limit=1`, { token: t.tokens.viewer });
  assert.equal(events.body.items.length, 1);
  assert.equal(events.body.items[0].to, 'rescue');
  const older = await call('GET', `/api/v1/events?machine=${id}&limit=1&before=${events.body.next}`, { token: t.tokens.viewer });
  assert.equal(older.body.items[0].to, 'discovered');

  assertError(await call('POST', '/api/v1/machines', { token: op, body: { mac: '52:54:00:aa:00:01' } }), 409, 'conflict');
});

test('api: schemas reject bad bodies and queries with 400 and the error shape', async () => {
  const op = t.tokens.operator;
  const cases: Array<[string, string, unknown]> = [
    ['POST', '/api/v1/machines', { mac: 'not-a-mac' }],
    ['POST', '/api/v1/machines', {}],
    ['POST', '/api/v1/machines', { mac: '52:54:00:aa:00:02', extra: 1 }],
    ['POST', '/api/v1/machines', { mac: '52:54:00:aa:00:02', hostname: 'Bad_Name' }],
    ['POST', '/api/v1/machines', { mac: '52:54:00:aa:00:02', zone: 'zone-z' }],
    ['GET', '/api/v1/machines?state=bogus', undefined],
    ['GET', '/api/v1/machines?limit=0', undefined],
    ['GET', '/api/v1/events?before=abc', undefined],
  ];
  for (const [method, path, body] of cases) {
    const r = await call(method, path, { token: op, body });
    assertError(r, 400, 'bad_request');
  }
  assertError(await call('POST', '/api/v1/machines', { token: op, raw: '{"mac": ' }), 400, 'bad_request');
  assertError(await call('POST', '/api/v1/machines/m-unknown/actions/explode', { token: op, body: {} }), 400, 'bad_request');
});

test('api: unknown machine is 404, unknown route is 404, oversized body is 413', async () => {
  assertError(await call('GET', '/api/v1/machines/m-0000000000', { token: t.tokens.viewer }), 404, 'not_found');
  assertError(await call('POST', '/api/v1/machines/m-0000000000/actions/wipe', { token: t.tokens.operator, body: {} }), 404, 'not_found');
  assertError(await call('GET', '/api/v1/nothing-here', { token: t.tokens.viewer }), 404, 'not_found');
  const big = JSON.stringify({ mac: '52:54:00:aa:00:03', hostname: 'x'.repeat(10_000) });
  assertError(await call('POST', '/api/v1/machines', { token: t.tokens.operator, raw: big }), 413, 'payload_too_large');
});

test('api: healthz is open and metrics count machines by state', async () => {
  const h = await call('GET', '/healthz');
  assert.deepEqual(h.body, { status: 'ok', schema: migrations.length });
  const r = await fetch(`${url}/metrics`, { headers: bearer(t.tokens.viewer) });
  const text = await r.text();
  assert.match(text, /tether_machines\{state="rescue"\} 1/);
  assert.match(text, /tether_http_requests_total\{route="\/api\/v1\/machines",method="POST",status="201"\}/);
});
