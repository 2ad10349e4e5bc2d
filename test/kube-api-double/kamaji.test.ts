// The double as Kamaji's management cluster: TenantControlPlanes with the CRD's defaults, status
// as Kamaji fills it, and the admin kubeconfig Secret that points at a tenant (this same double).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parse } from 'yaml';
import { DEFAULT_ADMISSION_CONTROLLERS } from './kamaji-defaults.ts';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { call, kubectl, watchEvents } from './testing.ts';
import { waitFor } from '../lib/wait.ts';

let d: KubeApiDouble;
before(async () => {
  d = await startKubeApiDouble();
  await call(d, 'POST', '/api/v1/namespaces', { body: { metadata: { name: 'tenants' } } });
});
after(() => d.close());

const TCPS = '/apis/kamaji.clastix.io/v1alpha1/namespaces/tenants/tenantcontrolplanes';
const sample = (name: string) => ({
  apiVersion: 'kamaji.clastix.io/v1alpha1', kind: 'TenantControlPlane', metadata: { name },
  spec: {
    controlPlane: { deployment: { replicas: 3 }, service: { serviceType: 'LoadBalancer' } },
    kubernetes: { version: 'v1.31.4', kubelet: { cgroupfs: 'systemd' } },
    networkProfile: { port: 6443 },
    addons: { coreDNS: {}, kubeProxy: {}, konnectivity: { server: { port: 8132 } } },
  },
});

test('create: CRD defaults applied, status dropped, Provisioning then Ready', async () => {
  const body = sample('site-a') as any;
  body.status = { controlPlaneEndpoint: 'forged' };
  const watching = watchEvents(d, `${TCPS}?watch=1&fieldSelector=metadata.name%3Dsite-a`, (e) => e.some((x) => x.object.status?.kubernetesResources?.version?.status === 'Ready'));
  await waitFor('the watch', () => d.requests.some((r) => r.path === TCPS && r.query.includes('watch')));
  const r = await call(d, 'POST', TCPS, { body });
  assert.equal(r.status, 201);
  assert.equal(r.json.status, undefined, 'status is a subresource');
  assert.equal(r.json.metadata.generation, 1);
  assert.deepEqual(r.json.spec.kubernetes.admissionControllers, DEFAULT_ADMISSION_CONTROLLERS);
  assert.ok(!r.json.spec.kubernetes.admissionControllers.includes('NodeRestriction'));
  assert.deepEqual(r.json.spec.kubernetes.kubelet.preferredAddressTypes, ['Hostname', 'InternalIP', 'ExternalIP']);
  assert.deepEqual(r.json.spec.addons.konnectivity.server, { port: 8132, version: 'v0.28.6', image: 'registry.k8s.io/kas-network-proxy/proxy-server' });
  assert.equal(r.json.spec.addons.konnectivity.agent.tolerations[0].key, 'CriticalAddonsOnly');
  assert.equal(r.json.spec.networkProfile.serviceCidr, '10.96.0.0/16');
  const events = await watching;
  assert.deepEqual(events.map((e) => e.object.status?.kubernetesResources?.version?.status ?? null), [null, 'Provisioning', 'Ready']);
  const ready = events.at(-1).object;
  assert.equal(ready.status.kubernetesResources.version.version, 'v1.31.4');
  assert.equal(ready.status.kubernetesResources.deployment.replicas, 3);
  assert.equal(ready.status.kubeconfig.admin.secretName, 'site-a-admin-kubeconfig');
  assert.equal(ready.status.addons.konnectivity.service.port, 8132);
  assert.equal(ready.status.controlPlaneEndpoint, new URL(d.url).host);
});

test('the admin kubeconfig Secret is usable by kubectl against the tenant', { timeout: 120_000 }, async () => {
  const s = await waitFor('the kubeconfig Secret', async () => (await call(d, 'GET', '/api/v1/namespaces/tenants/secrets/site-a-admin-kubeconfig')).json?.data);
  const conf = Buffer.from(s['admin.conf'], 'base64').toString();
  assert.equal(parse(conf).clusters[0].cluster.server, d.url);
  const v = await kubectl(conf, 'get', '--raw', '/version');
  assert.equal(JSON.parse(v.stdout).gitVersion, 'v1.31.4');
  const table = await kubectl(d.kubeconfig(), 'get', 'tenantcontrolplanes', '-n', 'tenants');
  assert.match(table.stdout, /^NAME\s+VERSION\s+STATUS\s+CONTROL-PLANE ENDPOINT\s+KUBECONFIG\s+DATASTORE\s+AGE\n/);
  assert.match(table.stdout, /site-a\s+v1\.31\.4\s+Ready\s+127\.0\.0\.1:\d+\s+site-a-admin-kubeconfig\s+default/);
});

test('patch: merge patch bumps generation on spec change; strategic merge is 415 for a custom resource', async () => {
  await call(d, 'POST', TCPS, { body: sample('site-b') });
  const p = await call(d, 'PATCH', `${TCPS}/site-b`, { body: { spec: { controlPlane: { deployment: { replicas: 1 } } } }, contentType: 'application/merge-patch+json' });
  assert.equal(p.status, 200);
  assert.equal(p.json.spec.controlPlane.deployment.replicas, 1);
  assert.equal(p.json.metadata.generation, 2);
  const labels = await call(d, 'PATCH', `${TCPS}/site-b`, { body: [{ op: 'add', path: '/metadata/labels', value: { a: 'b' } }], contentType: 'application/json-patch+json' });
  assert.equal(labels.json.metadata.generation, 2, 'metadata changes do not bump generation');
  const smp = await call(d, 'PATCH', `${TCPS}/site-b`, { body: { spec: {} }, contentType: 'application/strategic-merge-patch+json' });
  assert.equal(smp.status, 415);
  assert.equal(smp.json.message, 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json');
  const list = (await call(d, 'GET', TCPS)).json;
  assert.equal(list.kind, 'TenantControlPlaneList');
  assert.equal(list.apiVersion, 'kamaji.clastix.io/v1alpha1');
  assert.deepEqual(list.items.map((i: any) => i.metadata.name), ['site-a', 'site-b']);
});
