// The link going bad, as the appliance will meet it: connections dropped, answers held back,
// 5xx Statuses, and an endpoint that comes and goes. No assertion depends on how long anything took.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { call } from './testing.ts';
import { waitFor } from '../lib/wait.ts';

let d: KubeApiDouble;
before(async () => { d = await startKubeApiDouble(); });
after(() => d.close());

const failsToConnect = (p: Promise<unknown>) => p.then(() => false, (e: NodeJS.ErrnoException) => ['ECONNRESET', 'EPIPE'].includes(e.code ?? '') || /socket hang up|disconnected/.test(e.message));

test('down: every connection is dropped, open watches too; back up when cleared', async () => {
  const watch = call(d, 'GET', '/api/v1/nodes?watch=1');
  await waitFor('the watch to start', () => d.requests.some((r) => r.query === '?watch=1'));
  d.fault({ kind: 'down' });
  assert.equal(await failsToConnect(watch), true, 'the open watch breaks');
  assert.equal(await failsToConnect(call(d, 'GET', '/version')), true);
  assert.equal(await failsToConnect(call(d, 'GET', '/readyz', { token: null })), true);
  d.fault(null);
  assert.equal((await call(d, 'GET', '/version')).status, 200);
});

test('slow: answers are held back until the fault is lifted (or its delay passes)', async () => {
  d.fault({ kind: 'slow', ms: 600_000 });
  let answered = false;
  const pending = call(d, 'GET', '/api/v1/namespaces/default/secrets?slow-probe').then((r) => { answered = true; return r; });
  const rec = await waitFor('the request to arrive', () => d.requests.find((r) => r.query === '?slow-probe'));
  assert.equal(rec.status, 0);
  assert.equal(answered, false);
  d.fault(null);
  assert.equal((await pending).status, 200);
  d.fault({ kind: 'slow', ms: 1 });
  assert.equal((await call(d, 'GET', '/version')).status, 200);
  d.fault(null);
});

test('5xx: every request gets a Status with the code (503 ServiceUnavailable by default)', async () => {
  d.fault({ kind: '5xx' });
  for (const path of ['/version', '/readyz', '/api/v1/nodes']) {
    const r = await call(d, 'GET', path);
    assert.equal(r.status, 503, path);
    assert.deepEqual(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server is currently unable to handle the request', reason: 'ServiceUnavailable', code: 503 });
  }
  d.fault({ kind: '5xx', code: 500 });
  const r = await call(d, 'POST', '/api/v1/namespaces/default/secrets', { body: { metadata: { name: 'x' } } });
  assert.equal(r.status, 500);
  assert.equal(r.json.reason, 'InternalError');
  d.fault({ kind: '5xx', code: 504 });
  assert.equal((await call(d, 'GET', '/version')).json.reason, 'Timeout');
  d.fault(null);
  assert.equal((await call(d, 'GET', '/api/v1/namespaces/default/secrets/x')).status, 404, 'nothing was written while failing');
});

test('flapping: the API alternates between answering and dropping connections', { timeout: 60_000 }, async () => {
  d.fault({ kind: 'flapping', periodMs: 100 });
  let up = 0;
  let down = 0;
  while (up === 0 || down === 0) {
    try {
      const r = await call(d, 'GET', '/version');
      if (r.status === 200) up++;
    } catch {
      down++;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  d.fault(null);
  assert.ok(up > 0 && down > 0);
  assert.equal((await call(d, 'GET', '/version')).status, 200);
});
