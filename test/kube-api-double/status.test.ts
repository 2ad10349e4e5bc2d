// Every failure is a metav1.Status with the real server's code, reason, message and details.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startKubeApiDouble, type KubeApiDouble } from './server.ts';
import { call } from './testing.ts';

let d: KubeApiDouble;
before(async () => { d = await startKubeApiDouble(); });
after(() => d.close());

const S = (code: number, reason: string, message: string, details?: object) => ({
  kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, ...(reason ? { reason } : {}), ...(details ? { details } : {}), code,
});
const secret = (name: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData: { a: 'b' } });
const SECRETS = '/api/v1/namespaces/kube-system/secrets';

test('404 NotFound names the resource; groups are qualified', async () => {
  const r = await call(d, 'GET', `${SECRETS}/nope`);
  assert.equal(r.status, 404);
  assert.equal(r.headers['content-type'], 'application/json');
  assert.deepEqual(r.json, S(404, 'NotFound', 'secrets "nope" not found', { name: 'nope', kind: 'secrets' }));
  const c = await call(d, 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests/nope');
  assert.deepEqual(c.json, S(404, 'NotFound', 'certificatesigningrequests.certificates.k8s.io "nope" not found',
    { name: 'nope', group: 'certificates.k8s.io', kind: 'certificatesigningrequests' }));
  const ns = await call(d, 'POST', '/api/v1/namespaces/nowhere/secrets', { body: secret('s') });
  assert.deepEqual(ns.json, S(404, 'NotFound', 'namespaces "nowhere" not found', { name: 'nowhere', kind: 'namespaces' }));
  const unknown = await call(d, 'GET', '/api/v1/widgets');
  assert.deepEqual(unknown.json, S(404, 'NotFound', 'the server could not find the requested resource', {}));
  const path = await call(d, 'GET', '/no/such/path');
  assert.equal(path.status, 404);
  assert.equal(path.text, '404 page not found\n', 'outside /api(s) the mux answers in plain text');
});

test('409 AlreadyExists and 409 Conflict on a stale resourceVersion', async () => {
  assert.equal((await call(d, 'POST', SECRETS, { body: secret('dup') })).status, 201);
  const again = await call(d, 'POST', SECRETS, { body: secret('dup') });
  assert.deepEqual(again.json, S(409, 'AlreadyExists', 'secrets "dup" already exists', { name: 'dup', kind: 'secrets' }));
  const cur = (await call(d, 'GET', `${SECRETS}/dup`)).json;
  const ok = await call(d, 'PUT', `${SECRETS}/dup`, { body: { ...cur, data: { a: 'Yw==' } } });
  assert.equal(ok.status, 200);
  const stale = await call(d, 'PUT', `${SECRETS}/dup`, { body: { ...cur, data: { a: 'ZA==' } } });
  assert.deepEqual(stale.json, S(409, 'Conflict',
    'Operation cannot be fulfilled on secrets "dup": the object has been modified; please apply your changes to the latest version and try again',
    { name: 'dup', kind: 'secrets' }));
});

test('403 Forbidden in RBAC words, for objects, collections, cluster scope and paths', async () => {
  const alice = d.staticToken('alice');
  const one = await call(d, 'GET', `${SECRETS}/x`, { token: alice });
  assert.deepEqual(one.json, S(403, 'Forbidden',
    'secrets "x" is forbidden: User "alice" cannot get resource "secrets" in API group "" in the namespace "kube-system"', { name: 'x', kind: 'secrets' }));
  const list = await call(d, 'GET', SECRETS, { token: alice });
  assert.deepEqual(list.json, S(403, 'Forbidden',
    'secrets is forbidden: User "alice" cannot list resource "secrets" in API group "" in the namespace "kube-system"', { kind: 'secrets' }));
  const node = await call(d, 'PATCH', '/api/v1/nodes/n1/status', { token: alice, body: {}, contentType: 'application/merge-patch+json' });
  assert.equal(node.json.message, 'nodes "n1" is forbidden: User "alice" cannot patch resource "nodes/status" in API group "" at the cluster scope');
  const csr = await call(d, 'GET', '/apis/certificates.k8s.io/v1/certificatesigningrequests', { token: alice });
  assert.deepEqual(csr.json.details, { group: 'certificates.k8s.io', kind: 'certificatesigningrequests' });
  const anon = await call(d, 'GET', '/api', { token: null });
  assert.deepEqual(anon.json, S(403, 'Forbidden', 'forbidden: User "system:anonymous" cannot get path "/api"', {}));
  assert.equal((await call(d, 'GET', '/api', { token: alice })).status, 200, 'discovery is for every authenticated user');
});

test('401 Unauthorized for a bad bearer token, even on /version and /readyz', async () => {
  for (const path of ['/version', '/readyz', '/healthz', '/api/v1/nodes']) {
    const r = await call(d, 'GET', path, { token: 'not-a-token' });
    assert.equal(r.status, 401, path);
    assert.deepEqual(r.json, S(401, 'Unauthorized', 'Unauthorized'));
  }
  assert.equal((await call(d, 'GET', '/readyz', { token: null })).status, 200, 'without any credential, anonymous may read health');
});

test('422 Invalid lists its causes and names the Kind', async () => {
  const r = await call(d, 'POST', SECRETS, { body: secret('Bad_Name') });
  const why = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
  assert.deepEqual(r.json, S(422, 'Invalid', `Secret "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": ${why}`,
    { name: 'Bad_Name', kind: 'Secret', causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "Bad_Name": ${why}`, field: 'metadata.name' }] }));
  const two = await call(d, 'POST', SECRETS, { body: { metadata: { name: 'k' }, data: { 'a b': '', 'c/d': '' } } });
  assert.equal(two.status, 422);
  assert.match(two.json.message, /^Secret "k" is invalid: \[data\[a b\]: Invalid value: "a b": .*, data\[c\/d\]: Invalid value/);
  assert.equal(two.json.details.causes.length, 2);
  const typeChange = await call(d, 'POST', SECRETS, { body: { metadata: { name: 'typed' }, type: 'Opaque' } });
  assert.equal(typeChange.status, 201);
  const t2 = await call(d, 'PATCH', `${SECRETS}/typed`, { body: { type: 'kubernetes.io/tls' }, contentType: 'application/merge-patch+json' });
  assert.equal(t2.json.message, 'Secret "typed" is invalid: type: Invalid value: "kubernetes.io/tls": field is immutable');
});

test('405, 400, 413, 415, 406', async () => {
  const post = await call(d, 'POST', `${SECRETS}/dup`, { body: secret('dup') });
  assert.deepEqual(post.json, S(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {}));
  const json = await call(d, 'POST', SECRETS, { body: '{"metadata":' });
  assert.equal(json.status, 400);
  assert.equal(json.json.reason, 'BadRequest');
  const mismatch = await call(d, 'PUT', `${SECRETS}/dup`, { body: secret('other') });
  assert.equal(mismatch.json.message, 'the name of the object (other) does not match the name on the URL (dup)');
  const big = await call(d, 'POST', SECRETS, { body: { metadata: { name: 'big' }, stringData: { a: 'x'.repeat(3 * 1024 * 1024) } } });
  assert.deepEqual(big.json, S(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728'));
  const proto = await call(d, 'POST', SECRETS, { body: Buffer.from([0x6b, 0x38, 0x73, 0x00]), contentType: 'application/vnd.kubernetes.protobuf' });
  assert.equal(proto.status, 415);
  assert.equal(proto.json.reason, 'UnsupportedMediaType');
  const accept = await call(d, 'GET', SECRETS, { accept: 'application/vnd.kubernetes.protobuf' });
  assert.equal(accept.status, 406);
  assert.equal(accept.json.reason, 'NotAcceptable');
  assert.equal((await call(d, 'GET', SECRETS, { accept: 'application/vnd.kubernetes.protobuf, application/json' })).status, 200);
});
