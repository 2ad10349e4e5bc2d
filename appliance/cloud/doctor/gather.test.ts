// gather.ts through the real @kubernetes/client-node against a small HTTPS server on 127.0.0.1 that
// answers in the API server's wire format: single objects with kind, lists whose items have none,
// errors as Status objects. (No kube-apiserver can run here; see DESIGN.md "Testing with real peers".)
// HTTPS with its own CA because client-node refuses plain HTTP unless TLS checks are switched off,
// and a doctor test that switches them off would not test what users run.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import { createServer as createTcpServer } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { objectsIn } from './load.ts';
import { gather } from './gather.ts';
import { failingIds, runChecks } from './checks.ts';

const fx = (p: string): string => new URL(`./fixtures/${p}`, import.meta.url).pathname;

// A cluster CA and a serving certificate for 127.0.0.1, made with the openssl CLI.
let pki: { dir: string; ca: string; cert: string; key: string };
before(() => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-doctor-pki-'));
  const p = (f: string) => join(dir, f);
  const ssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('ca.key'), '-out', p('ca.crt'),
    '-subj', '/CN=kubernetes', '-days', '1', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature,keyCertSign');
  ssl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', p('srv.key'), '-out', p('srv.csr'), '-subj', '/CN=kube-apiserver');
  writeFileSync(p('srv.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', p('srv.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-set_serial', '0x1d0c', '-days', '1', '-extfile', p('srv.ext'), '-out', p('srv.crt'));
  pki = { dir, ca: readFileSync(p('ca.crt'), 'utf8'), cert: readFileSync(p('srv.crt'), 'utf8'), key: readFileSync(p('srv.key'), 'utf8') };
});
after(() => rmSync(pki.dir, { recursive: true, force: true }));

type Obj = Record<string, unknown> & { kind?: string; apiVersion?: string };

/** What the fake API server holds and how it misbehaves. */
interface World {
  tcp: Obj | null;
  controlPlanePods: Obj[];
  crbs: Obj[];
  daemonSets: Obj[];
  pods: Obj[];
  version: Obj;
  /** path prefix → forced answer */
  faults: Map<string, { code: number; reason?: string; message?: string; hang?: boolean }>;
}

function world(tcpFixture: string, tenantSet: string): World {
  const tcpObjs = objectsIn(fx(`tcp/${tcpFixture}.yaml`));
  const tenant = (name: string) => objectsIn(fx(`tenant/${tenantSet}/${name}`));
  return {
    tcp: tcpObjs.find((o) => o.kind === 'TenantControlPlane') ?? null,
    controlPlanePods: tcpObjs.filter((o) => o.kind === 'Pod'),
    crbs: tenant('clusterrolebindings.yaml'),
    daemonSets: tenant('konnectivity-agent.yaml'),
    pods: tenant('konnectivity-agent-pods.json'),
    version: tenant('version.json')[0],
    faults: new Map(),
  };
}

function status(res: ServerResponse, code: number, reason: string, message: string, details?: object): void {
  // apimachinery's metav1.Status, as every API error body is.
  res.writeHead(code, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code }));
}

function list(res: ServerResponse, kind: string, apiVersion: string, items: Obj[]): void {
  // Lists carry kind/apiVersion once; their items do not (DESIGN.md wire facts).
  const bare = items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ kind, apiVersion, metadata: { resourceVersion: '424242' }, items: bare }));
}

interface Served { server: Server; url: string; requests: Array<{ path: string; auth?: string }> }

async function serve(w: World): Promise<Served> {
  const requests: Served['requests'] = [];
  const server = createServer({ key: pki.key, cert: pki.cert }, (req: IncomingMessage, res: ServerResponse) => {
    const u = new URL(req.url ?? '/', 'http://x');
    requests.push({ path: `${u.pathname}${u.search}`, auth: req.headers.authorization });
    if (req.headers.authorization !== 'Bearer doctor-token') return status(res, 401, 'Unauthorized', 'Unauthorized');
    for (const [prefix, f] of w.faults) {
      if (u.pathname.startsWith(prefix)) {
        if (f.hang) return; // never answers
        return status(res, f.code, f.reason ?? '', f.message ?? '');
      }
    }
    const p = u.pathname;
    const tcpPath = /^\/apis\/kamaji\.clastix\.io\/v1alpha1\/namespaces\/([^/]+)\/tenantcontrolplanes\/([^/]+)$/.exec(p);
    if (tcpPath) {
      const meta = w.tcp?.metadata as { name?: string; namespace?: string } | undefined;
      if (!w.tcp || meta?.namespace !== tcpPath[1] || meta?.name !== tcpPath[2]) {
        return status(res, 404, 'NotFound', `tenantcontrolplanes.kamaji.clastix.io "${tcpPath[2]}" not found`, { name: tcpPath[2], group: 'kamaji.clastix.io', kind: 'tenantcontrolplanes' });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(w.tcp));
    }
    if (p === '/api/v1/namespaces/tenants/pods') {
      assert.equal(u.searchParams.get('labelSelector'), 'kamaji.clastix.io/name=hybrid');
      return list(res, 'PodList', 'v1', w.controlPlanePods);
    }
    if (p === '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings') return list(res, 'ClusterRoleBindingList', 'rbac.authorization.k8s.io/v1', w.crbs);
    if (p === '/apis/apps/v1/namespaces/kube-system/daemonsets') return list(res, 'DaemonSetList', 'apps/v1', w.daemonSets);
    if (p === '/apis/apps/v1/namespaces/kube-system/deployments') return list(res, 'DeploymentList', 'apps/v1', []);
    if (p === '/api/v1/namespaces/kube-system/pods') {
      const sel = u.searchParams.get('labelSelector');
      const [k, v] = (sel ?? '').split('=');
      return list(res, 'PodList', 'v1', w.pods.filter((pod) => (pod.metadata as { labels?: Record<string, string> }).labels?.[k] === v));
    }
    if (p === '/version') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(w.version));
    }
    return status(res, 404, 'NotFound', 'the server could not find the requested resource');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

function kubeconfig(dir: string, name: string, server: string, token = 'doctor-token'): string {
  const path = join(dir, `${name}.kubeconfig`);
  writeFileSync(path, `apiVersion: v1
kind: Config
clusters:
- name: ${name}
  cluster:
    server: ${server}
    certificate-authority-data: ${Buffer.from(pki.ca).toString('base64')}
contexts:
- name: ${name}
  context:
    cluster: ${name}
    user: doctor
current-context: ${name}
users:
- name: doctor
  user:
    token: ${token}
`);
  return path;
}

async function withServer(w: World, fn: (s: Served, dir: string) => Promise<void>): Promise<void> {
  const s = await serve(w);
  const dir = mkdtempSync(join(tmpdir(), 'tether-gather-'));
  try {
    await fn(s, dir);
  } finally {
    s.server.closeAllConnections();
    await new Promise((r) => s.server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const TCP = { name: 'hybrid', namespace: 'tenants' };

test('gather reads the TCP, its pods and the tenant objects over the wire, and the checks agree with the offline run', async () => {
  await withServer(world('healthy', 'healthy'), async (s, dir) => {
    const kc = kubeconfig(dir, 'k', s.url);
    const snap = await gather({ managementKubeconfig: kc, tenantControlPlane: TCP, tenantKubeconfig: kc });
    assert.deepEqual(snap.unreadable, []);
    assert.equal(snap.tcp?.metadata.name, 'hybrid');
    assert.equal(snap.tenant?.version?.gitVersion, 'v1.33.0');
    assert.equal(snap.tenant?.clusterRoleBindings?.length, 5);
    assert.equal(snap.tenant?.daemonSets?.[0].spec?.template?.spec?.hostNetwork, true);
    assert.equal(snap.tenant?.pods?.length, 2);
    assert.deepEqual(failingIds(runChecks(snap)), []);
    // Every request carried the kubeconfig's credentials; the agent pods were found by label.
    assert.ok(s.requests.length >= 7);
    assert.ok(s.requests.every((r) => r.auth === 'Bearer doctor-token'));
    assert.ok(s.requests.some((r) => r.path === '/api/v1/namespaces/kube-system/pods?labelSelector=k8s-app%3Dkonnectivity-agent'));
  });
});

test('gather over the wire finds the misconfigurations: image pull failure in control-plane pods, missing RBAC', async () => {
  const w = world('version-images-missing', 'no-bootstrap-rbac');
  await withServer(w, async (s, dir) => {
    const kc = kubeconfig(dir, 'k', s.url);
    const snap = await gather({ managementKubeconfig: kc, tenantControlPlane: TCP, tenantKubeconfig: kc });
    assert.equal(snap.management?.pods?.length, 1);
    const findings = runChecks(snap);
    assert.deepEqual(failingIds(findings), ['version-images', 'bootstrap-rbac']);
    assert.match(findings.find((f) => f.id === 'version-images')!.detail, /ImagePullBackOff/);
  });
});

test('gather turns Status errors, bad credentials, a missing TCP and a dead server into findings, never a crash', async () => {
  const w = world('healthy', 'healthy');
  w.faults.set('/apis/rbac.authorization.k8s.io/', { code: 403, reason: 'Forbidden', message: 'clusterrolebindings.rbac.authorization.k8s.io is forbidden: User "tether-doctor" cannot list resource "clusterrolebindings" in API group "rbac.authorization.k8s.io" at the cluster scope' });
  await withServer(w, async (s, dir) => {
    const kc = kubeconfig(dir, 'k', s.url);
    const snap = await gather({ managementKubeconfig: kc, tenantControlPlane: { name: 'other', namespace: 'tenants' }, tenantKubeconfig: kc });
    const findings = runChecks(snap);
    const access = findings.filter((f) => f.id === 'access');
    assert.equal(access.length, 2);
    assert.match(access[0].title, /^cannot read tenantcontrolplane tenants\/other \(management cluster, .*\): 404 NotFound: tenantcontrolplanes\.kamaji\.clastix\.io "other" not found$/);
    assert.match(access[0].fix, /get tenantcontrolplanes -A/);
    assert.match(access[1].title, /^cannot read clusterrolebindings \(tenant cluster, .*\): 403 Forbidden: clusterrolebindings\.rbac\.authorization\.k8s\.io is forbidden: User "tether-doctor" cannot list/);
    assert.match(access[1].fix, /auth can-i list clusterrolebindings\.rbac\.authorization\.k8s\.io/);
    const rbac = findings.find((f) => f.id === 'bootstrap-rbac')!;
    assert.equal(rbac.severity, 'warning');
    assert.match(rbac.title, /^not checked: cannot read clusterrolebindings/);

    // An expired token is 401 everywhere (DESIGN.md); each read says so.
    const stale = kubeconfig(dir, 'stale', s.url, 'expired');
    const denied = await gather({ tenantKubeconfig: stale });
    assert.equal(denied.unreadable!.length, 5);
    assert.ok(denied.unreadable!.every((u) => u.error === '401 Unauthorized' && /expired or invalid/.test(u.fix)));
  });
  // Nothing listens: connection refused, reported per read.
  const dir = mkdtempSync(join(tmpdir(), 'tether-gather-'));
  try {
    const probe = createTcpServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const dead = kubeconfig(dir, 'dead', `https://127.0.0.1:${port}`);
    const snap = await gather({ managementKubeconfig: dead, tenantControlPlane: TCP });
    assert.equal(snap.tcp, null);
    assert.equal(snap.unreadable!.length, 1);
    assert.match(snap.unreadable![0].error, /ECONNREFUSED/);
    assert.match(snap.unreadable![0].fix, /reachable from the appliance/);
    // A kubeconfig that is not one.
    const junk = join(dir, 'junk');
    writeFileSync(junk, 'hello: [');
    const bad = await gather({ tenantKubeconfig: junk });
    assert.equal(bad.unreadable![0].key, 'tenant');
    assert.match(runChecks(bad).find((f) => f.id === 'bootstrap-rbac')!.title, /^not checked: cannot read the tenant cluster kubeconfig/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('gather gives up on an API server that never answers', async () => {
  const w = world('healthy', 'healthy');
  w.faults.set('/version', { code: 0, hang: true });
  await withServer(w, async (s, dir) => {
    const kc = kubeconfig(dir, 'k', s.url);
    const snap = await gather({ tenantKubeconfig: kc, timeoutMs: 300 });
    assert.deepEqual(snap.unreadable!.map((u) => [u.key, u.error]), [['tenant.version', 'no answer (timed out)']]);
    assert.equal(snap.tenant?.clusterRoleBindings?.length, 5);
  });
});

test('tether doctor (live) reads tether.yaml\'s cloud keys and checks the clusters behind them', async () => {
  await withServer(world('no-node-restriction', 'healthy'), async (s, dir) => {
    const kc = kubeconfig(dir, 'k', s.url);
    const cfg = join(dir, 'tether.yaml');
    writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\ncloud:\n  kubeconfig: ${kc}\n  managementKubeconfig: ${kc}\n  tenantControlPlane: {name: hybrid, namespace: tenants}\n`);
    const bin = new URL('../../bin/tether', import.meta.url).pathname;
    // Async: the fake API server lives in this process and must keep answering.
    const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      execFile(bin, ['doctor', '-c', cfg, '--json'], { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err ? (err.code as number) : 0, stdout, stderr }));
    });
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as { target: { mode: string }; findings: Array<{ id: string; severity: string }> };
    assert.equal(report.target.mode, 'live');
    assert.deepEqual(report.findings.filter((f) => f.severity !== 'ok').map((f) => f.id), ['node-restriction']);
    assert.ok(s.requests.some((q) => q.path === '/apis/kamaji.clastix.io/v1alpha1/namespaces/tenants/tenantcontrolplanes/hybrid'));
  });
});
