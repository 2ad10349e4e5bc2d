// Bootstrap-token authentication exactly as the apiserver's bootstrap authenticator decides, 401 for
// any credential that fails, the kubeadm/Kamaji RBAC of bootstrappers, and NodeRestriction.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { bootstrapTokenSecret, call } from './testing.ts';

let d: KubeApiDouble;
before(async () => { d = await startKubeApiDouble(); });
after(() => d.close());

const SECRET = '0123456789abcdef';
const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
const past = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');

async function mint(id: string, o: Parameters<typeof bootstrapTokenSecret>[2] = {}): Promise<string> {
  const r = await call(d, 'POST', '/api/v1/namespaces/kube-system/secrets', { body: bootstrapTokenSecret(id, SECRET, o) });
  assert.equal(r.status, 201, r.text);
  return `${id}.${SECRET}`;
}

test('a valid bootstrap token is system:bootstrap:<id> in system:bootstrappers plus its extra groups', async () => {
  const token = await mint('aaaaaa');
  assert.equal((await call(d, 'GET', '/version', { token })).status, 200);
  assert.equal((await call(d, 'GET', CSRS, { token })).status, 200, 'kubeadm binds node-bootstrapper to the extra group');
  assert.equal(d.requests.at(-1)!.user, 'system:bootstrap:aaaaaa');
  const secrets = await call(d, 'GET', '/api/v1/namespaces/kube-system/secrets', { token });
  assert.equal(secrets.status, 403);
  assert.equal(secrets.json.message, 'secrets is forbidden: User "system:bootstrap:aaaaaa" cannot list resource "secrets" in API group "" in the namespace "kube-system"');
  const cfg = await call(d, 'GET', '/api/v1/namespaces/kube-system/configmaps/kubelet-config', { token });
  assert.equal(cfg.status, 200, 'kubeadm:kubelet-config role');
  assert.equal((await call(d, 'GET', '/api/v1/namespaces/kube-system/configmaps/other', { token })).status, 403);
});

test('expired, wrong secret, no usage flag, bad extra group, unknown id, mangled: 401 everywhere', async () => {
  const cases: Array<[string, string]> = [
    [await mint('bbbbbb', { expiration: past }), 'expired'],
    ['cccccc.ffffffffffffffff', 'wrong secret'],
    [await mint('dddddd', { usage: null }), 'no usage-bootstrap-authentication'],
    [await mint('eeeeee', { usage: 'false' }), 'usage false'],
    [await mint('ffffff', { groups: 'system:masters' }), 'extra group outside system:bootstrappers:'],
    [await mint('gggggg', { expiration: 'tomorrow' }), 'unparsable expiration counts as expired'],
    ['zzzzzz.0123456789abcdef', 'no such secret'],
    ['AAAAAA.0123456789abcdef', 'not the token format'],
  ];
  await mint('cccccc');
  for (const [token, why] of cases) {
    for (const path of ['/version', '/readyz', CSRS]) {
      const r = await call(d, 'GET', path, { token });
      assert.equal(r.status, 401, `${why} ${path}`);
      assert.equal(r.json.reason, 'Unauthorized');
    }
  }
});

test('a Secret whose token-id disagrees with its name is stored but never authenticates', async () => {
  const r = await call(d, 'POST', '/api/v1/namespaces/kube-system/secrets', { body: bootstrapTokenSecret('hhhhhh', SECRET, { tokenId: 'iiiiii' }) });
  assert.equal(r.status, 201, 'the apiserver does not validate bootstrap token Secrets');
  assert.equal((await call(d, 'GET', '/version', { token: `hhhhhh.${SECRET}` })).status, 401);
  assert.equal((await call(d, 'GET', '/version', { token: `iiiiii.${SECRET}` })).status, 401);
});

test('deleting the Secret revokes the token at once', async () => {
  const token = await mint('jjjjjj');
  assert.equal((await call(d, 'GET', '/version', { token })).status, 200);
  await call(d, 'DELETE', '/api/v1/namespaces/kube-system/secrets/bootstrap-token-jjjjjj');
  assert.equal((await call(d, 'GET', '/version', { token })).status, 401);
});

test('a token without the kubeadm group authenticates but may not request certificates', async () => {
  const token = await mint('kkkkkk', { groups: '' });
  assert.equal((await call(d, 'GET', '/version', { token })).status, 200);
  const r = await call(d, 'POST', CSRS, { token, body: { metadata: { name: 'x' }, spec: {} } });
  assert.equal(r.status, 403);
  assert.equal(r.json.message, 'certificatesigningrequests.certificates.k8s.io is forbidden: User "system:bootstrap:kkkkkk" cannot create resource "certificatesigningrequests" in API group "certificates.k8s.io" at the cluster scope');
});

test('NodeRestriction: a node writes only its own Node and only kubelet labels', async () => {
  const n1 = d.staticToken('system:node:n1', ['system:nodes']);
  const create = (name: string, labels: Record<string, string>) => call(d, 'POST', '/api/v1/nodes', { token: n1, body: { metadata: { name, labels } } });
  const other = await create('n2', {});
  assert.equal(other.status, 403);
  assert.equal(other.json.message, 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"');
  const role = await create('n1', { 'node-role.kubernetes.io/worker': '', 'topology.kubernetes.io/zone': 'a' });
  assert.equal(role.json.message, 'nodes "n1" is forbidden: is not allowed to set the following labels: node-role.kubernetes.io/worker');
  assert.equal((await create('n1', { 'topology.kubernetes.io/zone': 'a', 'node.kubernetes.io/x': '1', 'example.com/rack': 'r1' })).status, 201);
  const relabel = await call(d, 'PATCH', '/api/v1/nodes/n1', { token: n1, body: { metadata: { labels: { 'node-role.kubernetes.io/worker': '' } } }, contentType: 'application/strategic-merge-patch+json' });
  assert.equal(relabel.json.message, 'nodes "n1" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/worker');
  const admin = await call(d, 'PATCH', '/api/v1/nodes/n1', { body: { metadata: { labels: { 'node-role.kubernetes.io/worker': '' } } }, contentType: 'application/merge-patch+json' });
  assert.equal(admin.status, 200, 'role labels are patched on by an admin afterwards');
  assert.equal((await call(d, 'GET', '/api/v1/namespaces/kube-system/secrets', { token: n1 })).status, 403);
});
