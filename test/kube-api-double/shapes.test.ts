// The double's responses have the shape (keys, JSON types) of the real API's, fixture by fixture
// (fixtures/shapes, see fixtures/README.md). The Node and CSR come from the kubelet stand-in's
// bootstrap, so what the double adds (metadata, CSR identity, status) is what gets compared.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKubeletStandin } from '../kubelet-standin/kubelet.ts';
import { stageNodeRoot } from '../kubelet-standin/stage.ts';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { shapeDiff, type ShapeOptions } from './shape.ts';
import { bootstrapTokenSecret, call } from './testing.ts';
import { waitFor } from '../lib/wait.ts';

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, 'fixtures', 'shapes', `${name}.json`), 'utf8'));
const MAPS = ['data', 'metadata.labels', 'metadata.annotations', 'status.capacity', 'status.allocatable', 'items[].data', 'items[].metadata.labels',
  'items[].metadata.annotations', 'items[].status.capacity', 'items[].status.allocatable', 'object.data', 'rows[].object.metadata.labels',
  'rows[].object.metadata.annotations'];
const MANAGED = ['metadata.managedFields', 'items[].metadata.managedFields', 'object.metadata.managedFields', 'rows[].object.metadata.managedFields'];
// Written by controllers the double does not run: node IPAM, image GC reporting, runtime handlers.
const NODE_CONTROLLERS = ['spec.podCIDR', 'spec.podCIDRs', 'status.images', 'status.runtimeHandlers'];
const listed = (prefix: string, paths: string[]) => paths.map((p) => `${prefix}${p}`);

const same = (name: string, ours: unknown, o: ShapeOptions = {}) =>
  assert.deepEqual(shapeDiff(fixture(name), ours, { maps: MAPS, ...o, optional: [...MANAGED, ...(o.optional ?? [])] }), [], name);

let d: KubeApiDouble;
let root: string;
before(async () => {
  d = await startKubeApiDouble();
  root = mkdtempSync(join(tmpdir(), 'shapes-node-'));
  await call(d, 'POST', '/api/v1/namespaces/kube-system/secrets', { body: bootstrapTokenSecret('abcdef', '0123456789abcdef') });
  stageNodeRoot(root, {
    server: d.url, caPem: d.caPem, token: 'abcdef.0123456789abcdef', nodeIp: '10.20.1.11', labels: { 'topology.kubernetes.io/zone': 'zone-a' },
    kubeletConfigYaml: d.objects.get('configmaps', 'kube-system', 'kubelet-config').data.kubelet,
  });
  await runKubeletStandin({ root, hostname: 'worker-1', retryMs: 50 });
});
after(async () => { await d.close(); rmSync(root, { recursive: true, force: true }); });

test('objects: Secret, ConfigMap, Node, CSR, TenantControlPlane', async () => {
  same('secret', (await call(d, 'GET', '/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef')).json);
  same('configmap', (await call(d, 'GET', '/api/v1/namespaces/kube-system/configmaps/kubelet-config')).json, { optional: ['metadata.annotations'] });
  same('node', (await call(d, 'GET', '/api/v1/nodes/worker-1')).json, { optional: NODE_CONTROLLERS });
  const csr = (await call(d, 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests')).json.items[0];
  same('csr-issued', (await call(d, 'GET', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${csr.metadata.name}`)).json);
  await call(d, 'POST', '/api/v1/namespaces', { body: { metadata: { name: 'tenants' } } });
  const tcp = fixture('tenantcontrolplane');
  await call(d, 'POST', '/apis/kamaji.clastix.io/v1alpha1/namespaces/tenants/tenantcontrolplanes', {
    body: { apiVersion: tcp.apiVersion, kind: tcp.kind, metadata: { name: 'site-a', labels: tcp.metadata.labels }, spec: { ...tcp.spec, controlPlane: { deployment: { replicas: 2 }, service: { serviceType: 'LoadBalancer' } } } },
  });
  const ready = await waitFor('the TenantControlPlane to be Ready', async () => {
    const t = (await call(d, 'GET', '/apis/kamaji.clastix.io/v1alpha1/namespaces/tenants/tenantcontrolplanes/site-a')).json;
    return t.status?.kubernetesResources?.version?.status === 'Ready' ? t : null;
  });
  same('tenantcontrolplane', ready, { optional: ['metadata.finalizers', 'status.kubernetesResources.service.loadBalancer.ingress', 'status.addons.konnectivity.service.loadBalancer.ingress'] });
});

test('lists, table, version', async () => {
  same('secret-list', (await call(d, 'GET', '/api/v1/namespaces/kube-system/secrets?fieldSelector=type%3Dbootstrap.kubernetes.io%2Ftoken')).json);
  same('node-list', (await call(d, 'GET', '/api/v1/nodes')).json, { optional: listed('items[].', NODE_CONTROLLERS) });
  const table = await call(d, 'GET', '/api/v1/nodes', { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json' });
  same('table-nodes', table.json);
  same('version', (await call(d, 'GET', '/version')).json);
});

test('Statuses: not found, exists, conflict, forbidden, unauthorized, invalid, 405, deleted, node proxy', async () => {
  same('status-not-found', (await call(d, 'GET', '/api/v1/namespaces/default/secrets/not-found')).json);
  await call(d, 'POST', '/api/v1/namespaces/default/secrets', { body: { metadata: { name: 'x' } } });
  same('status-already-exists', (await call(d, 'POST', '/api/v1/namespaces/default/secrets', { body: { metadata: { name: 'x' } } })).json);
  same('status-conflict', (await call(d, 'PUT', '/api/v1/namespaces/default/secrets/x', { body: { metadata: { name: 'x', resourceVersion: '1' } } })).json);
  same('status-forbidden', (await call(d, 'GET', '/api/v1/namespaces/ci/secrets/registry-credentials', { token: d.staticToken('someone') })).json);
  same('status-unauthorized', (await call(d, 'GET', '/version', { token: 'nope' })).json);
  same('status-invalid', (await call(d, 'POST', '/api/v1/namespaces/default/secrets', { body: { metadata: { name: 'Bad_Name' } } })).json);
  same('status-method-not-allowed', (await call(d, 'POST', '/api/v1/namespaces/default/secrets/x', { body: {} })).json);
  same('status-deleted', (await call(d, 'DELETE', '/api/v1/namespaces/default/secrets/x')).json);
  same('status-node-proxy-no-agent', (await call(d, 'GET', '/api/v1/nodes/worker-1/proxy/healthz')).json);
});

test('watch events: ADDED object and the 410 ERROR', async () => {
  const start = (await call(d, 'GET', '/api/v1/namespaces/kube-system/secrets')).json.metadata.resourceVersion;
  await call(d, 'POST', '/api/v1/namespaces/kube-system/secrets', { body: bootstrapTokenSecret('ghijkl', '0123456789abcdef') });
  const added = await call(d, 'GET', `/api/v1/namespaces/kube-system/secrets?watch=1&resourceVersion=${start}&timeoutSeconds=1`);
  same('watch-added', JSON.parse(added.text.split('\n')[0]), { maps: [...MAPS, 'object.data'], optional: MANAGED });
  await call(d, 'DELETE', '/api/v1/namespaces/kube-system/secrets/bootstrap-token-ghijkl');
  d.compact();
  const gone = await call(d, 'GET', `/api/v1/namespaces/kube-system/secrets?watch=1&resourceVersion=${start}`);
  same('watch-expired', JSON.parse(gone.text.trim()));
});

test('shapeDiff itself: extra, missing and retyped keys are found; maps and optional paths are not', () => {
  const real = { a: 1, b: { c: 'x', d: [{ e: true }] }, labels: { k: 'v' }, managed: [] };
  assert.deepEqual(shapeDiff(real, { a: 1, b: { c: 'y', d: [{ e: true }] }, labels: { other: 'w' } }, { maps: ['labels'], optional: ['managed'] }), []);
  assert.deepEqual(shapeDiff(real, { a: '1', b: { c: 'y', d: [{ e: 1, f: 2 }] }, labels: { k: 3 }, extra: null }, { maps: ['labels'] }), [
    'extra: only in the double', 'a: real number, double string', 'b.d[].f: only in the double', 'b.d[].e: real boolean, double number',
    'labels.*: real string, double number', 'managed: missing in the double',
  ]);
});
