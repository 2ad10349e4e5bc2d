// The kubelet TLS bootstrap from the API side: a bootstrapper's kubelet-client CSR is approved and
// signed like csrapproving/csrsigning do it, the certificate verifies against the CA with the
// node's subject, and it then authenticates as system:node:<name> in system:nodes.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execa } from 'execa';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { bootstrapTokenSecret, call } from './testing.ts';
import { waitFor } from '../lib/wait.ts';

const CSRS = '/apis/certificates.k8s.io/v1/certificatesigningrequests';
let dir: string;
before(() => { dir = mkdtempSync(join(tmpdir(), 'csr-test-')); });
after(() => rmSync(dir, { recursive: true, force: true }));

/** A key and a CSR for `subject`, optionally with SANs. */
async function keyAndCsr(name: string, subject: string, san?: string): Promise<{ key: string; csr: string }> {
  const key = join(dir, `${name}.key`);
  await execa('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', key]);
  const args = ['req', '-new', '-key', key, '-subj', subject];
  if (san) args.push('-addext', `subjectAltName=${san}`);
  const { stdout } = await execa('openssl', args);
  return { key: readFileSync(key, 'utf8'), csr: `${stdout}\n` };
}

const csrBody = (name: string, csr: string, usages = ['digital signature', 'client auth'], signerName = 'kubernetes.io/kube-apiserver-client-kubelet') =>
  ({ apiVersion: 'certificates.k8s.io/v1', kind: 'CertificateSigningRequest', metadata: { name }, spec: { request: Buffer.from(csr).toString('base64'), signerName, usages } });

async function issued(d: KubeApiDouble, name: string, token?: string): Promise<any> {
  return waitFor(`certificate for ${name}`, async () => {
    const c = (await call(d, 'GET', `${CSRS}/${name}`, { token })).json;
    return c.status?.certificate ? c : null;
  });
}

async function withDouble(o: Parameters<typeof startKubeApiDouble>[0], f: (d: KubeApiDouble, token: string) => Promise<void>): Promise<void> {
  const d = await startKubeApiDouble(o);
  try {
    await call(d, 'POST', '/api/v1/namespaces/kube-system/secrets', { body: bootstrapTokenSecret('abcdef', '0123456789abcdef') });
    await f(d, 'abcdef.0123456789abcdef');
  } finally {
    await d.close();
  }
}

test('bootstrap CSR: auto-approved, signed by the CA, right subject, then client-cert auth as the node', () => withDouble({}, async (d, token) => {
  const { key, csr } = await keyAndCsr('n1', '/O=system:nodes/CN=system:node:n1');
  const created = await call(d, 'POST', CSRS, { token, body: csrBody('node-csr-n1', csr) });
  assert.equal(created.status, 201);
  assert.equal(created.json.spec.username, 'system:bootstrap:abcdef');
  assert.deepEqual(created.json.spec.groups, ['system:bootstrappers', 'system:bootstrappers:kubeadm:default-node-token', 'system:authenticated']);
  const c = await issued(d, 'node-csr-n1', token);
  assert.deepEqual(c.status.conditions.map((x: any) => [x.type, x.status, x.reason, x.message]),
    [['Approved', 'True', 'AutoApproved', 'Auto approving kubelet client certificate after SubjectAccessReview.']]);
  const cert = Buffer.from(c.status.certificate, 'base64').toString('utf8');
  writeFileSync(join(dir, 'ca.crt'), d.caPem);
  writeFileSync(join(dir, 'n1.crt'), cert);
  const v = await execa('openssl', ['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'n1.crt')]);
  assert.match(v.stdout, /n1\.crt: OK/);
  const subj = await execa('openssl', ['x509', '-in', join(dir, 'n1.crt'), '-noout', '-subject', '-ext', 'extendedKeyUsage,keyUsage', '-nameopt', 'RFC2253']);
  assert.match(subj.stdout, /subject=CN=system:node:n1,O=system:nodes/);
  assert.match(subj.stdout, /TLS Web Client Authentication/);
  assert.match(subj.stdout, /Digital Signature/);

  const asNode = { token: null, cert, key };
  const me = await call(d, 'POST', '/api/v1/nodes', { ...asNode, body: { metadata: { name: 'n1' } } });
  assert.equal(me.status, 201);
  assert.equal(d.requests.at(-1)!.user, 'system:node:n1');
  assert.equal((await call(d, 'GET', '/api/v1/namespaces/kube-system/configmaps/kubelet-config', asNode)).status, 200);
  assert.equal((await call(d, 'POST', '/api/v1/nodes', { ...asNode, body: { metadata: { name: 'n2' } } })).status, 403);

  // Renewal: the node asks for itself with its own certificate (selfnodeclient).
  const again = await keyAndCsr('n1b', '/O=system:nodes/CN=system:node:n1');
  assert.equal((await call(d, 'POST', CSRS, { ...asNode, body: csrBody('node-csr-n1-renew', again.csr) })).status, 201);
  const renewed = await issued(d, 'node-csr-n1-renew');
  assert.equal(renewed.status.conditions[0].message, 'Auto approving self kubelet client certificate after SubjectAccessReview.');
}));

test('a client certificate from another CA is 401, not anonymous', () => withDouble({}, async (d) => {
  const key = join(dir, 'rogue.key');
  const crt = join(dir, 'rogue.crt');
  await execa('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', crt, '-subj', '/O=system:masters/CN=evil', '-days', '1']);
  const r = await call(d, 'GET', '/version', { token: null, cert: readFileSync(crt, 'utf8'), key: readFileSync(key, 'utf8') });
  assert.equal(r.status, 401);
}));

test('no auto-approval for what a kubelet would not ask: wrong O, SANs, other usages, other signers', () => withDouble({}, async (d, token) => {
  const cases: Array<[string, string, string | undefined, string[], string]> = [
    ['wrong-o', '/O=system:masters/CN=system:node:n1', undefined, ['digital signature', 'client auth'], 'kubernetes.io/kube-apiserver-client-kubelet'],
    ['sans', '/O=system:nodes/CN=system:node:n1', 'DNS:n1.example.com', ['digital signature', 'client auth'], 'kubernetes.io/kube-apiserver-client-kubelet'],
    ['usages', '/O=system:nodes/CN=system:node:n1', undefined, ['digital signature', 'server auth'], 'kubernetes.io/kube-apiserver-client-kubelet'],
    ['signer', '/O=system:nodes/CN=system:node:n1', undefined, ['digital signature', 'server auth'], 'kubernetes.io/kubelet-serving'],
  ];
  for (const [name, subject, san, usages, signer] of cases) {
    const { csr } = await keyAndCsr(name, subject, san);
    assert.equal((await call(d, 'POST', CSRS, { token, body: csrBody(name, csr, usages, signer) })).status, 201, name);
  }
  await d.settle();
  for (const [name] of cases) {
    const c = (await call(d, 'GET', `${CSRS}/${name}`)).json;
    assert.deepEqual(c.status, {}, `${name} stays pending`);
  }
}));

test('autoApproveCsrs:false: pending until an admin approves through /approval; then signed; denied stays unsigned', () => withDouble({ autoApproveCsrs: false }, async (d, token) => {
  const a = await keyAndCsr('manual', '/O=system:nodes/CN=system:node:manual');
  await call(d, 'POST', CSRS, { token, body: csrBody('manual', a.csr) });
  await d.settle();
  const pending = (await call(d, 'GET', `${CSRS}/manual`)).json;
  assert.deepEqual(pending.status, {});
  const approval = { ...pending, status: { conditions: [{ type: 'Approved', status: 'True', reason: 'TetherApproved', message: 'approved by test' }] } };
  assert.equal((await call(d, 'PUT', `${CSRS}/manual/approval`, { token, body: approval })).status, 403, 'bootstrappers cannot approve');
  const ok = await call(d, 'PUT', `${CSRS}/manual/approval`, { body: approval });
  assert.equal(ok.status, 200);
  assert.ok((await issued(d, 'manual')).status.certificate);

  const b = await keyAndCsr('denied', '/O=system:nodes/CN=system:node:denied');
  await call(d, 'POST', CSRS, { token, body: csrBody('denied', b.csr) });
  const cur = (await call(d, 'GET', `${CSRS}/denied`)).json;
  const both = await call(d, 'PUT', `${CSRS}/denied/approval`, { body: { ...cur, status: { conditions: [{ type: 'Approved', status: 'True' }, { type: 'Denied', status: 'True' }] } } });
  assert.equal(both.status, 422);
  await call(d, 'PUT', `${CSRS}/denied/approval`, { body: { ...cur, status: { conditions: [{ type: 'Denied', status: 'True', reason: 'No', message: 'not this one' }] } } });
  await d.settle();
  assert.equal((await call(d, 'GET', `${CSRS}/denied`)).json.status.certificate, undefined);

  const c = await keyAndCsr('badsubject', '/O=other/CN=system:node:x');
  await call(d, 'POST', CSRS, { body: csrBody('badsubject', c.csr) });
  const bs = (await call(d, 'GET', `${CSRS}/badsubject`)).json;
  await call(d, 'PUT', `${CSRS}/badsubject/approval`, { body: { ...bs, status: { conditions: [{ type: 'Approved', status: 'True' }] } } });
  const failed = await waitFor('Failed condition', async () => {
    const x = (await call(d, 'GET', `${CSRS}/badsubject`)).json;
    return x.status.conditions?.find((k: any) => k.type === 'Failed');
  });
  assert.equal(failed.reason, 'SignerValidationFailure');
}));
