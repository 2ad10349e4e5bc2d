// `tether doctor` as a staff member runs it: the real CLI in a child process, on saved fixtures.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { doctor, type DoctorArgs } from './command.ts';

const bin = new URL('../../bin/tether', import.meta.url).pathname;
const fx = (p: string): string => new URL(`./fixtures/${p}`, import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(bin, args, { encoding: 'utf8', cwd: tmpdir() });

interface Report { summary: { error: number; warning: number; ok: number }; findings: Array<{ id: string; severity: string; title: string; fix: string }> }

test('tether doctor --tcp-file: a misconfigured TCP exits 1 with the finding in JSON; a healthy one exits 0', () => {
  const bad = run('doctor', '--tcp-file', fx('tcp/no-node-restriction.yaml'), '--tenant-dir', fx('tenant/healthy'), '--json');
  assert.equal(bad.status, 1, bad.stderr);
  const report = JSON.parse(bad.stdout) as Report;
  assert.equal(report.summary.error, 1);
  const f = report.findings[0];
  assert.equal(f.id, 'node-restriction');
  assert.equal(f.severity, 'error');
  assert.match(f.fix, /kubectl -n tenants patch tenantcontrolplane hybrid --type merge/);

  const good = run('doctor', '--tcp-file', fx('tcp/healthy.yaml'), '--tenant-dir', fx('tenant/healthy'));
  assert.equal(good.status, 0, good.stderr);
  assert.match(good.stdout, /^STATUS\s+CHECK\s+FINDING$/m);
  assert.match(good.stdout, /^ok\s+node-restriction\s+NodeRestriction admission plugin is enabled$/m);
  assert.match(good.stdout, /0 errors, 0 warnings, 7 ok — TenantControlPlane tenants\/hybrid/);

  // Warnings alone (here: RBAC not checked without tenant objects) do not fail the run.
  const tcpOnly = run('doctor', '--tcp-file', fx('tcp/healthy.yaml'), '--json');
  assert.equal(tcpOnly.status, 0, tcpOnly.stderr);
  const r2 = JSON.parse(tcpOnly.stdout) as Report;
  assert.deepEqual(r2.findings.filter((x) => x.severity !== 'ok').map((x) => [x.id, x.severity]), [['bootstrap-rbac', 'warning']]);

  // The table shows why and how to fix under each problem.
  const table = run('doctor', '--tcp-file', fx('tcp/ca-rotating.yaml'), '--tenant-dir', fx('tenant/healthy'));
  assert.equal(table.status, 1);
  assert.match(table.stdout, /^error\s+ca-rotating\s+the tenant cluster's CA is being rotated$/m);
  assert.match(table.stdout, /^ca-rotating \(error\): /m);
  assert.match(table.stdout, /^ {2}fix: hold approvals and installs/m);
});

test('tether doctor: usage and configuration problems exit 2 with the reason', async () => {
  // Through the real CLI once, then the same command function directly (a child process per case is slow).
  const missingCli = run('doctor', '--tcp-file', join(tmpdir(), 'tether-doctor-nope.yaml'));
  assert.equal(missingCli.status, 2);
  assert.match(missingCli.stderr, /cannot read .*tether-doctor-nope\.yaml: ENOENT/);
  const sub = run('doctor', 'now');
  assert.equal(sub.status, 2);
  assert.match(sub.stderr, /unknown: doctor now/);

  const dir = mkdtempSync(join(tmpdir(), 'tether-doctor-'));
  const call = async (a: DoctorArgs) => {
    let out = '';
    let err = '';
    const code = await doctor(a, { out: (t) => { out += t; }, err: (t) => { err += t; } });
    return { code, out, err };
  };
  try {
    const notTcp = await call({ tcpFile: fx('tenant/healthy/konnectivity-agent.yaml') });
    assert.equal(notTcp.code, 2);
    assert.match(notTcp.err, /no TenantControlPlane in it/);

    const broken = join(dir, 'broken.yaml');
    writeFileSync(broken, 'kind: TenantControlPlane\nmetadata: {name: x\n');
    assert.equal((await call({ tcpFile: broken })).code, 2);
    assert.match((await call({ tcpFile: fx('tcp/healthy.yaml'), tenantDir: join(dir, 'none') })).err, /cannot read .*none: ENOENT/);

    const cfg = join(dir, 'tether.yaml');
    writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\n`);
    const nothing = await call({ config: cfg });
    assert.equal(nothing.code, 2);
    assert.match(nothing.err, /nothing to check: set cloud\.managementKubeconfig/);

    writeFileSync(cfg, 'cloud:\n  tenantControlPlane: {name: hybrid, namespace: tenants}\n');
    const badCfg = await call({ config: cfg });
    assert.equal(badCfg.code, 2);
    assert.match(badCfg.err, /bad configuration: cloud\.tenantControlPlane: needs cloud\.managementKubeconfig/);

    writeFileSync(cfg, `cloud:\n  kubeconfig: ${join(dir, 'missing.kubeconfig')}\n`);
    const noKubeconfig = await call({ config: cfg });
    assert.equal(noKubeconfig.code, 2);
    assert.match(noKubeconfig.err, /cloud\.kubeconfig: .*missing\.kubeconfig does not exist/);

    const range = await call({ tcpFile: fx('tcp/healthy.yaml'), nodePortRange: '32767-30000' });
    assert.equal(range.code, 2);
    assert.match(range.err, /--node-port-range 32767-30000: expected FIRST-LAST/);
    assert.equal((await call({ tcpFile: fx('tcp/nodeport-in-range.yaml'), tenantDir: fx('tenant/healthy'), nodePortRange: '20000-22767' })).code, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
