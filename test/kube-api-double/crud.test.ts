// Create/read/update/patch/delete as the registry does them: stringData folding, server-owned
// metadata, one global resourceVersion, preconditions, lists without kind, pagination, dryRun.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { call } from './testing.ts';

let d: KubeApiDouble;
before(async () => { d = await startKubeApiDouble(); });
after(() => d.close());

const SECRETS = '/api/v1/namespaces/default/secrets';

test('secrets: stringData becomes base64 data and is never returned; server fills metadata', async () => {
  const r = await call(d, 'POST', SECRETS, { body: { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's1', uid: 'mine', resourceVersion: '' }, stringData: { token: 'héllo' }, data: { other: 'eA==' } } });
  assert.equal(r.status, 201);
  assert.deepEqual(Object.keys(r.json), ['kind', 'apiVersion', 'metadata', 'data', 'type']);
  assert.deepEqual(r.json.data, { other: 'eA==', token: Buffer.from('héllo').toString('base64') });
  assert.equal(r.json.type, 'Opaque');
  assert.equal(r.json.stringData, undefined);
  assert.notEqual(r.json.metadata.uid, 'mine', 'uid is the server\'s');
  assert.match(r.json.metadata.uid, /^[0-9a-f-]{36}$/);
  assert.match(r.json.metadata.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.match(r.json.metadata.resourceVersion, /^\d+$/);
  const g = await call(d, 'GET', `${SECRETS}/s1`);
  assert.deepEqual(g.json, r.json);
  const bad = await call(d, 'POST', SECRETS, { body: { metadata: { name: 's2' }, data: { a: 'not base64!' } } });
  assert.equal(bad.status, 400);
  assert.match(bad.json.message, /illegal base64 data/);
});

test('resourceVersion: one global counter, changes on every write, stale update conflicts, blind update does not', async () => {
  const a = (await call(d, 'POST', SECRETS, { body: { metadata: { name: 'rv-a' } } })).json;
  const b = (await call(d, 'POST', '/api/v1/namespaces/kube-system/configmaps', { body: { metadata: { name: 'rv-b' }, data: { k: 'v' } } })).json;
  assert.ok(Number(b.metadata.resourceVersion) > Number(a.metadata.resourceVersion), 'across resources and namespaces');
  const up = (await call(d, 'PUT', `${SECRETS}/rv-a`, { body: { ...a, stringData: { x: 'y' } } })).json;
  assert.ok(Number(up.metadata.resourceVersion) > Number(b.metadata.resourceVersion));
  assert.equal(up.metadata.uid, a.metadata.uid);
  assert.equal(up.metadata.creationTimestamp, a.metadata.creationTimestamp);
  assert.equal((await call(d, 'PUT', `${SECRETS}/rv-a`, { body: a })).status, 409, 'stale');
  const { resourceVersion: _, ...meta } = a.metadata;
  assert.equal((await call(d, 'PUT', `${SECRETS}/rv-a`, { body: { ...a, metadata: meta } })).status, 200, 'no resourceVersion: unconditional');
  assert.equal((await call(d, 'PUT', `${SECRETS}/missing`, { body: { metadata: { name: 'missing' } } })).status, 404, 'no create on update');
  const list = (await call(d, 'GET', SECRETS)).json;
  assert.equal(list.metadata.resourceVersion, String(Math.max(...list.items.map((i: any) => Number(i.metadata.resourceVersion)))));
});

test('lists: kind XList, items without kind/apiVersion, key order, namespace and label/field selectors', async () => {
  for (const [ns, name, app] of [['default', 'l-b', 'x'], ['default', 'l-a', 'y'], ['kube-system', 'l-c', 'x']]) {
    await call(d, 'POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name, labels: { app } } } });
  }
  const all = (await call(d, 'GET', '/api/v1/configmaps?labelSelector=app')).json;
  assert.equal(all.kind, 'ConfigMapList');
  assert.equal(all.apiVersion, 'v1');
  assert.deepEqual(all.items.map((i: any) => `${i.metadata.namespace}/${i.metadata.name}`), ['default/l-a', 'default/l-b', 'kube-system/l-c']);
  for (const i of all.items) { assert.equal(i.kind, undefined); assert.equal(i.apiVersion, undefined); }
  const x = (await call(d, 'GET', '/api/v1/namespaces/default/configmaps?labelSelector=app%3Dx')).json;
  assert.deepEqual(x.items.map((i: any) => i.metadata.name), ['l-b']);
  const byName = (await call(d, 'GET', '/api/v1/configmaps?fieldSelector=metadata.name%3Dl-c')).json;
  assert.deepEqual(byName.items.map((i: any) => i.metadata.namespace), ['kube-system']);
  await call(d, 'POST', '/api/v1/namespaces/kube-system/secrets', { body: { metadata: { name: 'typed-token' }, type: 'bootstrap.kubernetes.io/token' } });
  const typed = (await call(d, 'GET', '/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken')).json;
  assert.deepEqual(typed.items.map((i: any) => i.metadata.name), ['typed-token']);
  const unsupported = await call(d, 'GET', '/api/v1/configmaps?fieldSelector=data.k%3Dv');
  assert.equal(unsupported.status, 400);
});

test('pods: spec.nodeName field selector misses a Pending agent pod with no node yet', async () => {
  const base = { metadata: { namespace: 'kube-system', labels: { 'k8s-app': 'konnectivity-agent' } }, spec: { containers: [{ name: 'agent', image: 'x' }] } };
  d.objects.put('pods', { ...base, metadata: { ...base.metadata, name: 'konnectivity-agent-aaaaa' }, spec: { ...base.spec, nodeName: 'n1' }, status: { phase: 'Running' } });
  d.objects.put('pods', { ...base, metadata: { ...base.metadata, name: 'konnectivity-agent-bbbbb' }, status: { phase: 'Pending' } });
  d.objects.put('pods', { metadata: { name: 'other', namespace: 'kube-system', labels: { 'k8s-app': 'kube-proxy' } }, spec: { nodeName: 'n1' } });
  const q = (s: string) => call(d, 'GET', `/api/v1/namespaces/kube-system/pods?${s}`).then((r) => r.json.items.map((i: any) => i.metadata.name));
  assert.deepEqual(await q('labelSelector=k8s-app%3Dkonnectivity-agent'), ['konnectivity-agent-aaaaa', 'konnectivity-agent-bbbbb']);
  assert.deepEqual(await q('labelSelector=k8s-app%3Dkonnectivity-agent&fieldSelector=spec.nodeName%3Dn1'), ['konnectivity-agent-aaaaa']);
  assert.deepEqual(await q('fieldSelector=spec.nodeName%3Dn1,status.phase%3DRunning'), ['konnectivity-agent-aaaaa']);
});

test('patch: JSON patch (client-node default), merge and strategic merge; resourceVersion in a patch is a precondition', async () => {
  const n = (await call(d, 'POST', '/api/v1/nodes', { body: { metadata: { name: 'pn', labels: { a: '1' } }, status: { conditions: [{ type: 'Ready', status: 'False' }] } } })).json;
  assert.deepEqual(n.status.conditions, [{ type: 'Ready', status: 'False' }], 'nodes may carry status on create');
  const jp = await call(d, 'PATCH', '/api/v1/nodes/pn', { body: [{ op: 'add', path: '/metadata/labels/node-role.kubernetes.io~1worker', value: '' }], contentType: 'application/json-patch+json' });
  assert.equal(jp.json.metadata.labels['node-role.kubernetes.io/worker'], '');
  const mp = await call(d, 'PATCH', '/api/v1/nodes/pn', { body: { metadata: { labels: { a: null } }, status: { conditions: [] } }, contentType: 'application/merge-patch+json' });
  assert.equal(mp.json.metadata.labels.a, undefined);
  assert.deepEqual(mp.json.status.conditions, [{ type: 'Ready', status: 'False' }], 'the main endpoint ignores status');
  const sp = await call(d, 'PATCH', '/api/v1/nodes/pn/status', { body: { status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'DiskPressure', status: 'False' }] } }, contentType: 'application/strategic-merge-patch+json' });
  assert.deepEqual(sp.json.status.conditions.map((c: any) => `${c.type}=${c.status}`), ['Ready=True', 'DiskPressure=False']);
  const stale = await call(d, 'PATCH', '/api/v1/nodes/pn', { body: { metadata: { resourceVersion: n.metadata.resourceVersion, labels: { b: '2' } } }, contentType: 'application/merge-patch+json' });
  assert.equal(stale.status, 409);
  assert.equal(stale.json.reason, 'Conflict');
  const json = await call(d, 'PATCH', '/api/v1/nodes/pn', { body: {}, contentType: 'application/json' });
  assert.equal(json.status, 415);
  assert.equal((await call(d, 'PATCH', '/api/v1/nodes/none', { body: {}, contentType: 'application/merge-patch+json' })).status, 404);
});

test('delete: Success Status with uid; preconditions; dryRun changes nothing; deletecollection', async () => {
  const s = (await call(d, 'POST', SECRETS, { body: { metadata: { name: 'del' } } })).json;
  const pre = await call(d, 'DELETE', `${SECRETS}/del`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', preconditions: { uid: 'other' } } });
  assert.equal(pre.status, 409);
  assert.match(pre.json.message, /Precondition failed: UID in precondition: other, UID in object meta: /);
  const dry = await call(d, 'DELETE', `${SECRETS}/del?dryRun=All`);
  assert.equal(dry.status, 200);
  assert.equal((await call(d, 'GET', `${SECRETS}/del`)).status, 200);
  const r = await call(d, 'DELETE', `${SECRETS}/del`, { body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background' } });
  assert.deepEqual(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name: 'del', kind: 'secrets', uid: s.metadata.uid } });
  assert.equal((await call(d, 'GET', `${SECRETS}/del`)).status, 404);
  assert.equal((await call(d, 'DELETE', `${SECRETS}/del`)).status, 404);
  for (const name of ['dc-1', 'dc-2']) await call(d, 'POST', SECRETS, { body: { metadata: { name, labels: { batch: 'dc' } } } });
  const dc = await call(d, 'DELETE', `${SECRETS}?labelSelector=batch%3Ddc`);
  assert.deepEqual(dc.json.items.map((i: any) => i.metadata.name), ['dc-1', 'dc-2']);
  assert.equal((await call(d, 'GET', `${SECRETS}?labelSelector=batch`)).json.items.length, 0);
});

test('create: generateName, dryRun, namespace mismatch, resourceVersion set on create', async () => {
  const g = await call(d, 'POST', SECRETS, { body: { metadata: { generateName: 'gen-' } } });
  assert.match(g.json.metadata.name, /^gen-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  const dry = await call(d, 'POST', `${SECRETS}?dryRun=All`, { body: { metadata: { name: 'dry' } } });
  assert.equal(dry.status, 201);
  assert.equal((await call(d, 'GET', `${SECRETS}/dry`)).status, 404);
  const ns = await call(d, 'POST', SECRETS, { body: { metadata: { name: 'x', namespace: 'kube-system' } } });
  assert.equal(ns.status, 400);
  const rv = await call(d, 'POST', SECRETS, { body: { metadata: { name: 'x', resourceVersion: '5' } } });
  assert.equal(rv.status, 500);
  assert.match(rv.json.message, /resourceVersion should not be set on objects to be created/);
});

test('pagination: limit and continue serve one consistent snapshot; a compacted token is 410', async () => {
  for (let i = 0; i < 5; i++) await call(d, 'POST', '/api/v1/namespaces/kube-public/configmaps', { body: { metadata: { name: `page-${i}` } } });
  const p1 = (await call(d, 'GET', '/api/v1/namespaces/kube-public/configmaps?limit=2')).json;
  assert.deepEqual(p1.items.map((i: any) => i.metadata.name), ['page-0', 'page-1']);
  assert.equal(p1.metadata.remainingItemCount, 3);
  await call(d, 'DELETE', '/api/v1/namespaces/kube-public/configmaps/page-3');
  await call(d, 'POST', '/api/v1/namespaces/kube-public/configmaps', { body: { metadata: { name: 'page-9' } } });
  const p2 = (await call(d, 'GET', `/api/v1/namespaces/kube-public/configmaps?limit=10&continue=${encodeURIComponent(p1.metadata.continue)}`)).json;
  assert.deepEqual(p2.items.map((i: any) => i.metadata.name), ['page-2', 'page-3', 'page-4'], 'as of the first page');
  assert.equal(p2.metadata.resourceVersion, p1.metadata.resourceVersion);
  assert.equal(p2.metadata.continue, undefined);
  d.compact();
  const gone = await call(d, 'GET', `/api/v1/namespaces/kube-public/configmaps?limit=1&continue=${encodeURIComponent(p1.metadata.continue)}`);
  assert.equal(gone.status, 410);
  assert.equal(gone.json.reason, 'Expired');
});

test('CSR create records the requester, whatever the body claims', async () => {
  const { stdout: pem } = await execa('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=someone']);
  const body = { metadata: { name: 'req-1' }, spec: { request: Buffer.from(pem).toString('base64'), signerName: 'example.com/custom', usages: ['client auth'], username: 'forged', groups: ['system:masters'] } };
  const r = await call(d, 'POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', { body });
  assert.equal(r.status, 201);
  assert.equal(r.json.spec.username, 'admin');
  assert.deepEqual(r.json.spec.groups, ['system:masters', 'system:authenticated']);
  const garbage = await call(d, 'POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', { body: { ...body, metadata: { name: 'req-2' }, spec: { ...body.spec, request: Buffer.from('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n').toString('base64') } } });
  assert.equal(garbage.status, 422);
  assert.equal(garbage.json.details.causes[0].field, 'spec.request');
});
