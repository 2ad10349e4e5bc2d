// Watch: JSON lines of {type, object}; replays from a resourceVersion; a too-old one is HTTP 200
// with a single ERROR event carrying a 410 Expired Status; selectors see objects enter and leave.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { call, watchEvents } from './testing.ts';

let d: KubeApiDouble;
before(async () => { d = await startKubeApiDouble({ watchWindow: 50 }); });
after(() => d.close());

const CM = '/api/v1/namespaces/default/configmaps';

test('watch from a resourceVersion replays later changes in order, objects with kind', async () => {
  const created = (await call(d, 'POST', CM, { body: { metadata: { name: 'w1' }, data: { a: '1' } } })).json;
  await call(d, 'PATCH', `${CM}/w1`, { body: { data: { a: '2' } }, contentType: 'application/merge-patch+json' });
  await call(d, 'DELETE', `${CM}/w1`);
  const events = await watchEvents(d, `${CM}?watch=1&resourceVersion=${created.metadata.resourceVersion}&fieldSelector=metadata.name%3Dw1`, (e) => e.length >= 2);
  assert.deepEqual(events.map((e) => e.type), ['MODIFIED', 'DELETED']);
  assert.equal(events[0].object.kind, 'ConfigMap');
  assert.equal(events[0].object.apiVersion, 'v1');
  assert.equal(events[0].object.data.a, '2');
  const rvs = events.map((e) => Number(e.object.metadata.resourceVersion));
  assert.ok(rvs[0] > Number(created.metadata.resourceVersion) && rvs[1] > rvs[0], 'DELETED carries the deletion revision');
});

test('watch without resourceVersion: ADDED for what exists, then live events; chunked JSON', async () => {
  await call(d, 'POST', CM, { body: { metadata: { name: 'w2', labels: { grp: 'live' } } } });
  const got = watchEvents(d, `${CM}?watch=true&labelSelector=grp%3Dlive`, (e) => e.length >= 2);
  await new Promise((r) => setTimeout(r, 50));
  await call(d, 'POST', CM, { body: { metadata: { name: 'w3', labels: { grp: 'live' } } } });
  const events = await got;
  assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w2', 'ADDED w3']);
});

test('a too-old resourceVersion: HTTP 200, one ERROR event with a 410 Expired Status, end of stream', { timeout: 20_000 }, async () => {
  const first = (await call(d, 'POST', CM, { body: { metadata: { name: 'old' } } })).json;
  await call(d, 'DELETE', `${CM}/old`);
  d.compact();
  const r = await call(d, 'GET', `${CM}?watch=1&resourceVersion=${first.metadata.resourceVersion}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['transfer-encoding'], 'chunked');
  assert.equal(r.headers['content-type'], 'application/json');
  const lines = r.text.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 1);
  assert.equal(lines[0].type, 'ERROR');
  assert.deepEqual(Object.keys(lines[0].object), ['kind', 'apiVersion', 'metadata', 'status', 'message', 'reason', 'code']);
  assert.equal(lines[0].object.code, 410);
  assert.equal(lines[0].object.reason, 'Expired');
  assert.match(lines[0].object.message, new RegExp(`^too old resource version: ${first.metadata.resourceVersion} \\(\\d+\\)$`));
});

test('the event window is bounded: falling behind it is 410 without compaction', { timeout: 20_000 }, async () => {
  const small = await startKubeApiDouble({ watchWindow: 3 });
  try {
    const start = (await call(small, 'POST', CM, { body: { metadata: { name: 'a' } } })).json.metadata.resourceVersion;
    for (let i = 0; i < 4; i++) await call(small, 'PATCH', `${CM}/a`, { body: { data: { i: String(i) } }, contentType: 'application/merge-patch+json' });
    const r = await call(small, 'GET', `${CM}?watch=1&resourceVersion=${start}`);
    assert.equal(JSON.parse(r.text.trim()).object.code, 410);
  } finally {
    await small.close();
  }
});

test('selectors: leaving the selector is DELETED, entering is ADDED', async () => {
  const rv = (await call(d, 'POST', CM, { body: { metadata: { name: 'mover', labels: { tier: 'x' } } } })).json.metadata.resourceVersion;
  const move = (tier: string) => call(d, 'PATCH', `${CM}/mover`, { body: { metadata: { labels: { tier } } }, contentType: 'application/merge-patch+json' });
  await move('y');
  await move('x');
  const events = await watchEvents(d, `${CM}?watch=1&resourceVersion=${Number(rv) - 1}&labelSelector=tier%3Dx`, (e) => e.length >= 3);
  assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.labels.tier}`), ['ADDED x', 'DELETED x', 'ADDED x']);
});

test('timeoutSeconds ends the stream (clients then watch again from the last resourceVersion)', async () => {
  const events = await watchEvents(d, `${CM}?watch=1&timeoutSeconds=1&fieldSelector=metadata.name%3Dnever`, () => false);
  assert.deepEqual(events, []);
});
