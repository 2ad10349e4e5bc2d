import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../store/store.ts';
import { createLink, type ProbeResult } from './link.ts';
import { kubeStatus, describeError } from './kube.ts';

const ok: ProbeResult = { reachable: true, healthy: true, version: 'v1.31.2', error: null };
const sick: ProbeResult = { reachable: true, healthy: false, version: null, error: '/readyz answered 500: etcd failed' };
const gone: ProbeResult = { reachable: false, healthy: false, version: null, error: 'ECONNREFUSED' };

test('link: up / degraded at once, down only after N unreachable probes in a row, one event per change', async () => {
  const store = Store.open(':memory:');
  const script = [gone, ok, ok, gone, gone, ok, sick, sick, gone, gone, gone, gone, ok];
  const changes: string[] = [];
  const link = createLink({
    store, now: Date.now, timing: { probeMs: 1000, maxBackoffMs: 5000, downAfter: 3 },
    probe: async () => script.shift()!,
    onChange: (_p, n) => changes.push(n.state),
  });
  const seen: string[] = [];
  while (script.length) seen.push((await link.probeNow()).state);
  await link.stop();
  assert.deepEqual(seen, ['down', 'up', 'up', 'up', 'up', 'up', 'degraded', 'degraded', 'degraded', 'degraded', 'down', 'down', 'up']);
  assert.deepEqual(changes, ['up', 'degraded', 'down', 'up']);
  const events = store.listEvents({ kind: 'link' }).reverse();
  assert.deepEqual(events.map((e) => [e.from, e.to]), [[null, 'up'], ['up', 'degraded'], ['degraded', 'down'], ['down', 'up']]);
  assert.ok(events.every((e) => e.actor === 'cloud' && e.machineId === null));
  assert.match(events[2].reason!, /ECONNREFUSED/);
  store.close();
});

test('link: a link that is down from the start becomes known-down with one event', async () => {
  const store = Store.open(':memory:');
  const link = createLink({ store, now: Date.now, timing: { probeMs: 1000, maxBackoffMs: 5000, downAfter: 2 }, probe: async () => gone, onChange: () => {} });
  assert.equal((await link.probeNow()).known, false);
  const s = await link.probeNow();
  assert.deepEqual([s.state, s.known], ['down', true]);
  await link.probeNow();
  await link.stop();
  assert.deepEqual(store.listEvents({ kind: 'link' }).map((e) => [e.from, e.to]), [[null, 'down']]);
  store.close();
});

test('kube: Status bodies from client-node exceptions, transport failures in one line', () => {
  const e = { code: 409, body: JSON.stringify({ kind: 'Status', reason: 'AlreadyExists', message: 'secrets "x" already exists', code: 409 }) };
  assert.deepEqual(kubeStatus(e), { code: 409, reason: 'AlreadyExists', message: 'secrets "x" already exists' });
  assert.equal(describeError(e), '409 AlreadyExists: secrets "x" already exists');
  assert.equal(kubeStatus(new Error('x')), null);
  assert.equal(describeError(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' } })), 'ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1');
});
