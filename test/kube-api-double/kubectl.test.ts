// Debian's real kubectl 1.20 drives the double: discovery, server-side tables, creates, errors
// printed from the server's Status, raw node proxy calls, and bootstrap-token credentials.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { bootstrapTokenSecret, kubectl } from './testing.ts';

let d: KubeApiDouble;
let admin: string;
before(async () => {
  d = await startKubeApiDouble();
  admin = d.kubeconfig();
  d.objects.put('nodes', {
    metadata: { name: 'n1', labels: { 'kubernetes.io/hostname': 'n1' } },
    status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '10.20.1.11' }], nodeInfo: { kubeletVersion: 'v1.31.4' } },
  });
});
after(() => d.close());

test('kubectl get nodes prints the server-side table', { timeout: 120_000 }, async () => {
  const r = await kubectl(admin, 'get', 'nodes');
  assert.equal(r.code, 0, r.stderr);
  const [head, row] = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/));
  assert.deepEqual(head, ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION']);
  assert.deepEqual([row[0], row[1], row[2], row[4]], ['n1', 'Ready', '<none>', 'v1.31.4']);
  const wide = await kubectl(admin, 'get', 'nodes', '-o', 'wide');
  assert.match(wide.stdout, /INTERNAL-IP[\s\S]*10\.20\.1\.11/);
});

test('kubectl create/get/delete secret; AlreadyExists is the server\'s own message', { timeout: 120_000 }, async () => {
  const c = await kubectl(admin, 'create', 'secret', 'generic', 'tok', '--from-literal=a=b', '-n', 'kube-system');
  assert.equal(c.code, 0, c.stderr);
  assert.equal(c.stdout.trim(), 'secret/tok created');
  const again = await kubectl(admin, 'create', 'secret', 'generic', 'tok', '--from-literal=a=b', '-n', 'kube-system');
  assert.equal(again.code, 1);
  assert.equal(again.stderr.trim(), 'Error from server (AlreadyExists): secrets "tok" already exists');
  const g = await kubectl(admin, 'get', 'secret', 'tok', '-n', 'kube-system', '-o', 'json');
  const s = JSON.parse(g.stdout);
  assert.equal(s.kind, 'Secret');
  assert.equal(Buffer.from(s.data.a, 'base64').toString(), 'b');
  assert.equal(s.stringData, undefined);
  const del = await kubectl(admin, 'delete', 'secret', 'tok', '-n', 'kube-system');
  assert.equal(del.code, 0, del.stderr);
  assert.equal(del.stdout.trim(), 'secret "tok" deleted');
  const gone = await kubectl(admin, 'get', 'secret', 'tok', '-n', 'kube-system');
  assert.equal(gone.stderr.trim(), 'Error from server (NotFound): secrets "tok" not found');
});

test('kubectl get --raw: /version and the node proxy failure texts', { timeout: 120_000 }, async () => {
  const v = await kubectl(admin, 'get', '--raw', '/version');
  assert.equal(JSON.parse(v.stdout).gitVersion, 'v1.31.4');
  d.tunnel('n1', 'no-agent');
  const none = await kubectl(admin, 'get', '--raw', '/api/v1/nodes/n1/proxy/healthz');
  assert.equal(none.code, 1);
  assert.equal(none.stderr.trim(), 'Error from server: No agent available');
  d.tunnel('n1', 'timeout');
  const slow = await kubectl(admin, 'get', '--raw', '/api/v1/nodes/n1/proxy/healthz');
  assert.equal(slow.stderr.trim(), 'Error from server: dial tcp 10.20.1.11:10250: i/o timeout');
  d.tunnel('n1', 'ok');
  const ok = await kubectl(admin, 'get', '--raw', '/api/v1/nodes/n1/proxy/healthz');
  assert.equal(ok.stdout, 'ok');
});

test('bootstrap tokens through kubectl: expired is Unauthorized, valid one is RBAC-limited', { timeout: 120_000 }, async () => {
  const past = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
  d.objects.put('secrets', bootstrapTokenSecret('expire', '0123456789abcdef', { expiration: past }));
  const expired = await kubectl(d.kubeconfig({ token: 'expire.0123456789abcdef', user: 'tls-bootstrap-token-user' }), 'get', 'nodes');
  assert.equal(expired.code, 1);
  assert.equal(expired.stderr.trim(), 'error: You must be logged in to the server (Unauthorized)');
  d.objects.put('secrets', bootstrapTokenSecret('valid1', '0123456789abcdef'));
  const boot = d.kubeconfig({ token: 'valid1.0123456789abcdef', user: 'tls-bootstrap-token-user' });
  const csrs = await kubectl(boot, 'get', 'csr');
  assert.equal(csrs.code, 0, csrs.stderr);
  const secrets = await kubectl(boot, 'get', 'secrets', '-n', 'kube-system');
  assert.equal(secrets.stderr.trim(), 'Error from server (Forbidden): secrets is forbidden: User "system:bootstrap:valid1" cannot list resource "secrets" in API group "" in the namespace "kube-system"');
});

test('the kubeconfig the double writes is one kubectl accepts as is', { timeout: 120_000 }, async () => {
  const r = await kubectl(admin, 'config', 'view', '--raw', '-o', 'json');
  const cfg = JSON.parse(r.stdout);
  assert.equal(cfg.clusters[0].cluster.server, d.url);
  assert.equal(Buffer.from(cfg.clusters[0].cluster['certificate-authority-data'], 'base64').toString(), d.caPem);
  const ns = await kubectl(admin, 'get', 'namespaces', '-o', 'name');
  assert.deepEqual(ns.stdout.trim().split('\n'), ['namespace/default', 'namespace/kube-node-lease', 'namespace/kube-public', 'namespace/kube-system']);
});
