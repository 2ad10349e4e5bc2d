// GET /api/v1/nodes/<n>/proxy/healthz through Konnectivity, per control-plane replica.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { call } from './testing.ts';

let d: KubeApiDouble;
before(async () => {
  d = await startKubeApiDouble({ replicas: 2 });
  d.objects.put('nodes', { metadata: { name: 'n1' }, status: { addresses: [{ type: 'InternalIP', address: '10.20.1.11' }, { type: 'Hostname', address: 'n1' }] } });
});
after(() => d.close());

const healthz = (node = 'n1') => call(d, 'GET', `/api/v1/nodes/${node}/proxy/healthz`);

test('ok: the kubelet\'s own answer, plain text', async () => {
  d.tunnel('n1', 'ok');
  for (let i = 0; i < 2; i++) {
    const r = await healthz();
    assert.equal(r.status, 200);
    assert.equal(r.text, 'ok');
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  }
});

test('no agent: HTTP 500 Status "No agent available" with no reason', async () => {
  d.tunnel('n1', 'no-agent');
  const r = await healthz();
  assert.equal(r.status, 500);
  assert.deepEqual(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'No agent available', code: 500 });
});

test('timeout: the agent could not dial the kubelet at the node IP', async () => {
  d.tunnel('n1', 'timeout');
  const r = await healthz();
  assert.equal(r.status, 500);
  assert.equal(r.json.message, 'dial tcp 10.20.1.11:10250: i/o timeout');
  assert.equal(r.json.reason, undefined);
});

test('per replica: requests alternate over replicas, so only repeating finds the bad one', async () => {
  d.tunnel('n1', 'ok');
  d.tunnel('n1', 'no-agent', 1);
  const codes = [];
  for (let i = 0; i < 4; i++) codes.push((await healthz()).status);
  assert.deepEqual([...codes].sort(), [200, 200, 500, 500]);
  assert.notEqual(codes[0], codes[1]);
});

test('unknown node: 404 NotFound; non-admins: 403', async () => {
  const r = await healthz('ghost');
  assert.deepEqual(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'nodes "ghost" not found', reason: 'NotFound', details: { name: 'ghost', kind: 'nodes' }, code: 404 });
  const n1 = d.staticToken('system:node:n1', ['system:nodes']);
  const f = await call(d, 'GET', '/api/v1/nodes/n1/proxy/healthz', { token: n1 });
  assert.equal(f.json.message, 'nodes "n1" is forbidden: User "system:node:n1" cannot get resource "nodes/proxy" in API group "" at the cluster scope');
});
