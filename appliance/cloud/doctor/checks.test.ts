import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { CHECK_IDS, failingIds, runChecks } from './checks.ts';
import { loadTcpFile, loadTenantDir } from './load.ts';
import type { Snapshot } from './types.ts';

const fx = (p: string): string => new URL(`./fixtures/${p}`, import.meta.url).pathname;

function snapshot(tcp: string | null, tenant: string | null): Snapshot {
  return { ...(tcp ? loadTcpFile(fx(`tcp/${tcp}.yaml`)) : { tcp: null }), tenant: tenant ? loadTenantDir(fx(`tenant/${tenant}`)) : null };
}

// Each fixture differs from the healthy one in one misconfiguration; doctor must name exactly that.
const TABLE: Array<{ tcp: string; tenant: string; expect: string[] }> = [
  { tcp: 'healthy', tenant: 'healthy', expect: [] },
  { tcp: 'nodeport-in-range', tenant: 'healthy', expect: [] },
  { tcp: 'no-node-restriction', tenant: 'healthy', expect: ['node-restriction'] },
  { tcp: 'node-restriction-disabled', tenant: 'healthy', expect: ['node-restriction'] },
  { tcp: 'no-konnectivity', tenant: 'healthy', expect: ['konnectivity-addon'] },
  { tcp: 'agent-pod-network', tenant: 'agent-pod-network', expect: ['konnectivity-host-network'] },
  { tcp: 'healthy', tenant: 'agent-pod-network', expect: ['konnectivity-host-network'] },
  { tcp: 'nodeport-konnectivity-8132', tenant: 'healthy', expect: ['konnectivity-nodeport'] },
  { tcp: 'version-images-missing', tenant: 'healthy', expect: ['version-images'] },
  { tcp: 'healthy', tenant: 'agent-image-missing', expect: ['version-images'] },
  { tcp: 'healthy', tenant: 'no-bootstrap-rbac', expect: ['bootstrap-rbac'] },
  { tcp: 'ca-rotating', tenant: 'healthy', expect: ['ca-rotating'] },
];

test('doctor table: each TenantControlPlane fixture yields exactly its failing checks, and every error says how to fix it', () => {
  for (const row of TABLE) {
    const findings = runChecks(snapshot(row.tcp, row.tenant));
    const label = `${row.tcp} + tenant/${row.tenant}`;
    assert.deepEqual(failingIds(findings), row.expect, label);
    for (const f of findings.filter((x) => x.severity === 'error')) {
      assert.ok(f.fix.trim().length > 0, `${label}: ${f.id} has no fix`);
      assert.ok(f.detail.trim().length > 0, `${label}: ${f.id} has no detail`);
      assert.equal(f.severity, 'error');
    }
    // Every check reports, failing or not: a silent check cannot be told from a skipped one.
    assert.deepEqual(findings.map((f) => f.id).sort(), [...CHECK_IDS].sort(), label);
  }
  // Every misconfiguration check has at least one fixture that trips it, and every fixture file is used.
  assert.deepEqual([...new Set(TABLE.flatMap((r) => r.expect))].sort(), [...CHECK_IDS].sort());
  const used = new Set(TABLE.map((r) => r.tcp));
  for (const f of readdirSync(fx('tcp'))) assert.ok(used.has(f.replace(/\.yaml$/, '')), `fixture tcp/${f} is not in the table`);
  const usedTenants = new Set(TABLE.map((r) => r.tenant));
  for (const d of readdirSync(fx('tenant'))) assert.ok(usedTenants.has(d), `fixture tenant/${d} is not in the table`);
});

test('doctor fixes name the exact field and command', () => {
  const byId = (tcp: string, tenant: string, id: string) => runChecks(snapshot(tcp, tenant)).find((f) => f.id === id)!;
  const nr = byId('no-node-restriction', 'healthy', 'node-restriction');
  assert.match(nr.fix, /^kubectl -n tenants patch tenantcontrolplane hybrid --type merge -p '/);
  const patch = JSON.parse(/-p '([^']+)'/.exec(nr.fix)![1]) as { spec: { kubernetes: { admissionControllers: string[] } } };
  assert.ok(patch.spec.kubernetes.admissionControllers.includes('NodeRestriction'));
  assert.ok(patch.spec.kubernetes.admissionControllers.includes('ServiceAccount'), 'a merge patch replaces the list: keep the others');
  // When extraArgs switch it off, the fix edits extraArgs (editing admissionControllers would change nothing).
  const dis = byId('node-restriction-disabled', 'healthy', 'node-restriction');
  assert.match(dis.fix, /"extraArgs":\{"apiServer":\["--audit-log-maxage=30"\]\}/);
  assert.match(byId('no-konnectivity', 'healthy', 'konnectivity-addon').fix, /"konnectivity":\{"server":\{"port":8132\},"agent":\{"hostNetwork":true\}\}/);
  assert.match(byId('agent-pod-network', 'agent-pod-network', 'konnectivity-host-network').fix, /"agent":\{"hostNetwork":true\}/);
  // TCP asks for hostNetwork, the live agent lacks it: patching the TCP again would not help.
  assert.match(byId('healthy', 'agent-pod-network', 'konnectivity-host-network').fix, /upgrade Kamaji/);
  assert.match(byId('nodeport-konnectivity-8132', 'healthy', 'konnectivity-nodeport').fix, /"server":\{"port":31132\}/);
  const rbac = byId('healthy', 'no-bootstrap-rbac', 'bootstrap-rbac');
  assert.match(rbac.fix, /kubectl create clusterrolebinding kubeadm:kubelet-bootstrap --clusterrole=system:node-bootstrapper --group=system:bootstrappers:kubeadm:default-node-token/);
  assert.match(rbac.fix, /--clusterrole=system:certificates\.k8s\.io:certificatesigningrequests:nodeclient --group=system:bootstrappers:kubeadm:default-node-token/);
  assert.match(rbac.fix, /--clusterrole=system:certificates\.k8s\.io:certificatesigningrequests:selfnodeclient --group=system:nodes/);
  const ver = byId('version-images-missing', 'healthy', 'version-images');
  assert.match(ver.detail, /kube-apiserver:v1\.34\.0: ImagePullBackOff/);
  assert.match(ver.fix, /registry\.example\.internal\/k8s/);
  assert.match(byId('healthy', 'agent-image-missing', 'version-images').fix, /spec\.addons\.konnectivity\.agent\.version/);
});

test('doctor without the tenant side: TCP checks run, the RBAC check says it was not checked', () => {
  const findings = runChecks(snapshot('healthy', null));
  assert.deepEqual(failingIds(findings), ['bootstrap-rbac']);
  const f = findings.find((x) => x.id === 'bootstrap-rbac')!;
  assert.equal(f.severity, 'warning');
  assert.match(f.title, /^not checked/);
});

test('doctor without a TenantControlPlane: tenant evidence still convicts a pod-network agent', () => {
  const healthy = runChecks(snapshot(null, 'healthy'));
  assert.deepEqual(failingIds(healthy), ['tcp']);
  assert.equal(healthy.find((f) => f.id === 'tcp')!.severity, 'warning');
  const podNet = runChecks(snapshot(null, 'agent-pod-network'));
  assert.deepEqual(failingIds(podNet), ['tcp', 'konnectivity-host-network']);
  assert.deepEqual(failingIds(runChecks(snapshot(null, 'agent-image-missing'))), ['tcp', 'version-images']);
});

test('doctor warns about a CA that changed recently, not about a new cluster\'s first CA', () => {
  const s = snapshot('healthy', 'healthy');
  const caAt = '2025-06-01T12:00:00Z';
  s.tcp!.status!.certificates!.ca!.lastUpdate = caAt;
  const soon = runChecks(s, { now: new Date('2025-06-01T20:00:00Z') }).find((f) => f.id === 'ca-rotating')!;
  assert.equal(soon.severity, 'warning');
  assert.match(soon.title, /2025-06-01T12:00:00/);
  assert.equal(runChecks(s, { now: new Date('2025-06-05T00:00:00Z') }).find((f) => f.id === 'ca-rotating')!.severity, 'ok');
  // The CA's first lastUpdate is minutes after creation: that is not a rotation.
  const fresh = snapshot('healthy', 'healthy');
  assert.equal(runChecks(fresh, { now: new Date('2025-03-02T10:00:00Z') }).find((f) => f.id === 'ca-rotating')!.severity, 'ok');
});

test('doctor honours a management cluster with a custom NodePort range', () => {
  const s = snapshot('nodeport-in-range', 'healthy');
  const f = runChecks(s, { nodePortRange: [20000, 22767] }).find((x) => x.id === 'konnectivity-nodeport')!;
  assert.equal(f.severity, 'error');
  assert.match(f.title, /konnectivity server port 31132 and API server port 31443 outside the NodePort range 20000-22767/);
});

test('doctor: a version upgrade in progress is a warning, a stalled one an error', () => {
  const s = snapshot('healthy', 'healthy');
  s.tcp!.spec!.kubernetes!.version = 'v1.34.0';
  s.tcp!.status!.kubernetesResources!.version = { version: 'v1.33.0', status: 'Upgrading' };
  assert.equal(runChecks(s).find((f) => f.id === 'version-images')!.severity, 'warning');
  s.tcp!.status!.kubernetesResources!.deployment!.conditions = [{ type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded' }];
  const f = runChecks(s).find((x) => x.id === 'version-images')!;
  assert.equal(f.severity, 'error');
  assert.match(f.fix, /kubectl -n tenants get pods -l kamaji\.clastix\.io\/name=hybrid/);
});

test('doctor turns unreadable objects into access findings and not-checked warnings', () => {
  const s: Snapshot = {
    tcp: null,
    tenant: {},
    unreadable: [
      { key: 'tcp', what: 'tenantcontrolplane tenants/hybrid', error: '403 Forbidden: nope', fix: 'grant get' },
      { key: 'tenant.clusterRoleBindings', what: 'clusterrolebindings', error: '403 Forbidden: nope', fix: 'grant list' },
    ],
  };
  const findings = runChecks(s);
  const access = findings.filter((f) => f.id === 'access');
  assert.equal(access.length, 2);
  assert.ok(access.every((f) => f.severity === 'error' && f.fix));
  assert.equal(access[0].title, 'cannot read tenantcontrolplane tenants/hybrid: 403 Forbidden: nope');
  assert.ok(!findings.some((f) => f.id === 'tcp'), 'an unreadable TCP is an access error, not "none configured"');
  const rbac = findings.find((f) => f.id === 'bootstrap-rbac')!;
  assert.equal(rbac.severity, 'warning');
  assert.equal(rbac.title, 'not checked: cannot read clusterrolebindings');
  assert.equal(rbac.fix, 'grant list');
});
