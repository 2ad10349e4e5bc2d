// The stand-in's TLS bootstrap against the API double, with files staged as Tether will stage them.
import { after, afterEach, before, beforeEach, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeApiDouble, type KubeApiDouble } from '../kube-api-double/server.ts';
import { bootstrapTokenSecret, call, kubectl } from '../kube-api-double/testing.ts';
import { waitFor } from '../lib/wait.ts';
import { call as kubeCall } from './client.ts';
import { loadKubeconfig } from './kubeconfig.ts';
import { runKubeletStandin } from './kubelet.ts';
import { stageNodeRoot, type Staging } from './stage.ts';

const TOKEN = 'abcdef.0123456789abcdef';
let d: KubeApiDouble;
let root: string;

before(async () => { d = await startKubeApiDouble(); });
after(() => d.close());
beforeEach(async () => {
  root = mkdtempSync(join(tmpdir(), 'node-root-'));
  await call(d, 'DELETE', '/api/v1/namespaces/kube-system/secrets/bootstrap-token-abcdef');
  d.objects.put('secrets', bootstrapTokenSecret('abcdef', '0123456789abcdef'));
});
afterEach(() => { d.fault(null); rmSync(root, { recursive: true, force: true }); });

const stage = (o: Partial<Staging> = {}) => stageNodeRoot(root, {
  server: d.url, caPem: d.caPem, token: TOKEN, nodeIp: '10.20.1.11', labels: { 'topology.kubernetes.io/zone': 'zone-a', 'example.com/rack': 'r7' },
  kubeletConfigYaml: d.objects.get('configmaps', 'kube-system', 'kubelet-config').data.kubelet, ...o,
});

test('bootstrap: CSR, certificate, kubelet.conf, Node registered with its labels and addresses, Ready', async () => {
  stage({ hostnameOverride: 'Worker-1' });
  const r = await runKubeletStandin({ root, hostname: 'ignored', retryMs: 20 });
  assert.equal(r.nodeName, 'worker-1', 'the override, lowercased');
  assert.equal(r.kubeconfigPath, join(root, 'etc/kubernetes/kubelet.conf'));

  const pki = join(root, 'var/lib/kubelet/pki');
  assert.ok(lstatSync(join(pki, 'kubelet-client-current.pem')).isSymbolicLink());
  assert.match(readlinkSync(join(pki, 'kubelet-client-current.pem')), /^kubelet-client-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d\.pem$/);
  assert.equal(existsSync(join(pki, 'kubelet-client.key.tmp')), false);
  writeFileSync(join(root, 'ca.pem'), d.caPem);
  const v = await execa('openssl', ['verify', '-CAfile', join(root, 'ca.pem'), join(pki, 'kubelet-client-current.pem')]);
  assert.match(v.stdout, /OK$/);
  const subj = await execa('openssl', ['x509', '-in', join(pki, 'kubelet-client-current.pem'), '-noout', '-subject', '-nameopt', 'RFC2253']);
  assert.equal(subj.stdout.trim(), 'subject=CN=system:node:worker-1,O=system:nodes');

  const conf = readFileSync(r.kubeconfigPath, 'utf8');
  assert.match(conf, /client-certificate: \/var\/lib\/kubelet\/pki\/kubelet-client-current\.pem/);
  const asNode = loadKubeconfig(root, '/etc/kubernetes/kubelet.conf');
  const me = await kubeCall(asNode, 'GET', '/api/v1/nodes/worker-1');
  assert.equal(d.requests.at(-1)!.user, 'system:node:worker-1');
  assert.deepEqual(me.metadata.labels, {
    'topology.kubernetes.io/zone': 'zone-a', 'example.com/rack': 'r7', 'beta.kubernetes.io/arch': 'amd64', 'beta.kubernetes.io/os': 'linux',
    'kubernetes.io/arch': 'amd64', 'kubernetes.io/hostname': 'worker-1', 'kubernetes.io/os': 'linux',
  });
  assert.deepEqual(me.status.addresses, [{ type: 'InternalIP', address: '10.20.1.11' }, { type: 'Hostname', address: 'worker-1' }]);
  assert.deepEqual(me.status.conditions.map((c: any) => `${c.type}=${c.status}`), ['MemoryPressure=False', 'DiskPressure=False', 'PIDPressure=False', 'Ready=True']);
  assert.equal(me.status.nodeInfo.kubeletVersion, 'v1.31.4');

  const csr = d.objects.list('certificatesigningrequests')[0];
  assert.match(csr.metadata.name, /^node-csr-[A-Za-z0-9_-]{43}$/);
  assert.equal(csr.spec.username, 'system:bootstrap:abcdef');
  assert.deepEqual(csr.spec.usages, ['digital signature', 'client auth']);
  const nodes = await kubectl(d.kubeconfig(), 'get', 'nodes');
  assert.match(nodes.stdout, /worker-1\s+Ready\s+<none>\s+\S+\s+v1\.31\.4/);
  const csrs = await kubectl(d.kubeconfig(), 'get', 'csr');
  assert.match(csrs.stdout, /node-csr-\S+\s+\S+\s+kubernetes\.io\/kube-apiserver-client-kubelet\s+system:bootstrap:abcdef\s+<none>\s+Approved,Issued/);
});

test('restart: a valid kubelet.conf skips the bootstrap; the existing Node is reused', async () => {
  stage({ hostnameOverride: 'restart-1' });
  await runKubeletStandin({ root, hostname: 'x', retryMs: 20 });
  const before = d.requests.length;
  d.objects.delete('secrets', 'kube-system', 'bootstrap-token-abcdef');
  const again = await runKubeletStandin({ root, hostname: 'x', retryMs: 20, ready: false });
  assert.equal(again.nodeName, 'restart-1');
  const calls = d.requests.slice(before).map((r) => `${r.method} ${r.path} ${r.status}`);
  assert.deepEqual(calls, ['POST /api/v1/nodes 409', 'GET /api/v1/nodes/restart-1 200', 'PATCH /api/v1/nodes/restart-1/status 200']);
  const ready = d.objects.get('nodes', null, 'restart-1').status.conditions.find((c: any) => c.type === 'Ready');
  assert.deepEqual([ready.status, ready.reason], ['False', 'KubeletNotReady']);
});

test('the API is down at first: the stand-in keeps retrying and finishes when it is back', async () => {
  stage({ hostnameOverride: 'late-1' });
  d.fault({ kind: 'down' });
  const retries: string[] = [];
  const run = runKubeletStandin({ root, hostname: 'x', retryMs: 10, log: (l) => retries.push(l) });
  await waitFor('three failed attempts', () => retries.length >= 3);
  assert.match(retries[0], /^TLS bootstrap failed, will retry: /);
  d.fault(null);
  assert.equal((await run).nodeName, 'late-1');
  assert.ok(d.objects.get('nodes', null, 'late-1'));
});

test('a 5xx mid-way is retried too; an abort stops the loop', async () => {
  stage({ hostnameOverride: 'busy-1' });
  d.fault({ kind: '5xx' });
  const ac = new AbortController();
  const logs: string[] = [];
  const run = runKubeletStandin({ root, hostname: 'x', retryMs: 10, signal: ac.signal, log: (l) => logs.push(l) });
  await waitFor('retries', () => logs.length >= 2);
  assert.match(logs[0], /the server is currently unable to handle the request/);
  ac.abort();
  await assert.rejects(run, { name: 'AbortError' });
});

test('refusals surface with the kubelet\'s own words', async () => {
  stage({ labels: { 'node-role.kubernetes.io/worker': '' } });
  const before = d.requests.length;
  await assert.rejects(runKubeletStandin({ root, hostname: 'r1' }), /^Error: failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: \[node-role.kubernetes.io\/worker\]/);
  assert.equal(d.requests.length, before, 'refused before talking to the API');

  stage({ token: 'zzzzzz.0123456789abcdef' });
  await assert.rejects(runKubeletStandin({ root, hostname: 'r1' }), { message: 'cannot create certificate signing request: Unauthorized' });

  rmSync(join(root, 'etc/kubernetes/bootstrap-kubelet.conf'));
  await assert.rejects(runKubeletStandin({ root, hostname: 'r1' }), { message: 'unable to load bootstrap kubeconfig: stat /etc/kubernetes/bootstrap-kubelet.conf: no such file or directory' });

  stage();
  rmSync(join(root, 'etc/kubernetes/pki/ca.crt'));
  await assert.rejects(runKubeletStandin({ root, hostname: 'r1' }), { message: 'unable to load client CA file /etc/kubernetes/pki/ca.crt: open /etc/kubernetes/pki/ca.crt: no such file or directory' });
});

test('without auto-approval the stand-in waits; an approval lets it finish, a denial stops it', async () => {
  const manual = await startKubeApiDouble({ autoApproveCsrs: false });
  try {
    manual.objects.put('secrets', bootstrapTokenSecret('abcdef', '0123456789abcdef'));
    const staged = { server: manual.url, caPem: manual.caPem, kubeletConfigYaml: manual.objects.get('configmaps', 'kube-system', 'kubelet-config').data.kubelet };
    stage({ ...staged, hostnameOverride: 'manual-1' });
    const run = runKubeletStandin({ root, hostname: 'x', retryMs: 10 });
    const csr = await waitFor('the CSR', () => manual.objects.list('certificatesigningrequests')[0]);
    await manual.settle();
    assert.deepEqual(csr.status, {});
    const r = await call(manual, 'PUT', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${csr.metadata.name}/approval`,
      { body: { ...csr, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'TetherApproved', message: 'machine approved' }] } } });
    assert.equal(r.status, 200);
    assert.equal((await run).nodeName, 'manual-1');

    const other = mkdtempSync(join(tmpdir(), 'node-root-'));
    try {
      stageNodeRoot(other, { ...staged, token: TOKEN, hostnameOverride: 'denied-1' });
      const denied = runKubeletStandin({ root: other, hostname: 'x', retryMs: 10 });
      const c2 = await waitFor('the second CSR', () => manual.objects.list('certificatesigningrequests').find((c) => c.metadata.name !== csr.metadata.name));
      await call(manual, 'PUT', `/apis/certificates.k8s.io/v1/certificatesigningrequests/${c2.metadata.name}/approval`,
        { body: { ...c2, status: { conditions: [{ type: 'Denied', status: 'True', reason: 'Unknown', message: 'not ours' }] } } });
      await assert.rejects(denied, { message: 'certificate signing request is denied, reason: Unknown, message: not ours' });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  } finally {
    await manual.close();
  }
});
