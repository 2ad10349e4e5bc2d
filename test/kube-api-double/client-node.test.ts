// @kubernetes/client-node 2.x (what appliance/cloud uses) against the double: typed calls, its
// default JSON-patch content type, ApiException carrying the Status, and its Watch.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiException, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, Watch } from '@kubernetes/client-node';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';

let d: KubeApiDouble;
let kc: KubeConfig;
before(async () => {
  d = await startKubeApiDouble();
  kc = new KubeConfig();
  kc.loadFromString(d.kubeconfig());
});
after(() => d.close());

test('typed calls: create/read secret, patch node (default JSON patch and merge patch), list', async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const s = await core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'cn' }, stringData: { a: 'b' } } });
  assert.equal(s.data?.a, Buffer.from('b').toString('base64'));
  assert.equal((await core.readNamespacedSecret({ namespace: 'kube-system', name: 'cn' })).metadata?.uid, s.metadata?.uid);
  d.objects.put('nodes', { metadata: { name: 'n1' } });
  const p = await core.patchNode({ name: 'n1', body: [{ op: 'add', path: '/metadata/labels', value: { 'node-role.kubernetes.io/worker': '' } }] });
  assert.deepEqual(p.metadata?.labels, { 'node-role.kubernetes.io/worker': '' });
  const m = await core.patchNode({ name: 'n1', body: { metadata: { labels: { z: '1' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  assert.equal(m.metadata?.labels?.z, '1');
  const nodes = await core.listNode();
  assert.deepEqual(nodes.items.map((n) => n.metadata?.name), ['n1']);
});

test('errors: ApiException with the HTTP code and the Status body', async () => {
  const core = kc.makeApiClient(CoreV1Api);
  await assert.rejects(core.createNamespacedSecret({ namespace: 'kube-system', body: { metadata: { name: 'cn' } } }), (e: unknown) => {
    assert.ok(e instanceof ApiException);
    assert.equal(e.code, 409);
    const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
    assert.equal(body.reason, 'AlreadyExists');
    return true;
  });
});

test('Watch: events from a resourceVersion; an expired one arrives as an ERROR event', async () => {
  const core = kc.makeApiClient(CoreV1Api);
  const start = (await core.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion;
  await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w' } } });
  const w = new Watch(kc);
  let first: (event: string) => void = () => {};
  const seen = new Promise<string>((resolve) => { first = resolve; });
  const ctl = await w.watch('/api/v1/namespaces/default/configmaps', { resourceVersion: start }, (type, obj) => first(`${type} ${obj.metadata?.name}`), () => {});
  assert.equal(await seen, 'ADDED w');
  ctl.abort();
  d.compact();
  const errors: any[] = [];
  await new Promise<void>((resolve) => {
    void w.watch('/api/v1/namespaces/default/configmaps', { resourceVersion: start }, (type, obj) => { errors.push({ type, obj }); }, () => resolve());
  });
  assert.equal(errors[0].type, 'ERROR');
  assert.equal(errors[0].obj.code, 410);
});
