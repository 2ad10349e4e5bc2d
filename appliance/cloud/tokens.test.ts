import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { startKubeApiDouble } from '../../test/kube-api-double/server.ts';
import { Store } from '../store/store.ts';
import { configFrom } from '../config/load.ts';
import { listBootstrapTokens } from '../store/cloud.ts';
import { createCloud } from './cloud.ts';
import { bootstrapKubeconfig } from './join.ts';
import { kubeFrom, loadKubeconfig } from './kube.ts';
import { BOOTSTRAP_GROUP, mintBootstrapToken, newBootstrapToken, TokenIdTakenError } from './tokens.ts';
import { debianKubectl, FAST, machineIn, silentLog, tempDir, waitFor } from './testkit.ts';

const decode = (s: any, k: string) => Buffer.from(s.data[k], 'base64').toString();
const tokenSecrets = (double: Awaited<ReturnType<typeof startKubeApiDouble>>) =>
  double.objects.list('secrets', 'kube-system').filter((s: any) => s.type === 'bootstrap.kubernetes.io/token');

test('tokens: the Secret as the API server wants it; kubectl authenticates with it only while it is valid; minting is idempotent', async () => {
  const double = await startKubeApiDouble();
  const { dir, cleanup } = tempDir('tether-tokens-');
  const kube = kubeFrom(loadKubeconfig({ yaml: double.kubeconfig() }), { timeoutMs: 5000 });
  try {
    const t = newBootstrapToken();
    assert.match(t.id, /^[a-z0-9]{6}$/);
    assert.match(t.secret, /^[a-z0-9]{16}$/);
    const expiresAt = Date.now() + 3_600_000;
    await mintBootstrapToken(kube, t, { expiresAt, description: 'Tether join token for machine m-1 (node n1)' });
    await mintBootstrapToken(kube, t, { expiresAt, description: 'Tether join token for machine m-1 (node n1)' }); // a retry: AlreadyExists is success
    await assert.rejects(mintBootstrapToken(kube, { id: t.id, secret: 'x'.repeat(16) }, { expiresAt, description: 'other' }), TokenIdTakenError);
    const s = double.objects.get('secrets', 'kube-system', `bootstrap-token-${t.id}`);
    assert.equal(s.type, 'bootstrap.kubernetes.io/token');
    assert.equal(decode(s, 'token-id'), t.id);
    assert.equal(decode(s, 'token-secret'), t.secret);
    assert.equal(decode(s, 'usage-bootstrap-authentication'), 'true');
    assert.equal(decode(s, 'auth-extra-groups'), BOOTSTRAP_GROUP);
    assert.match(decode(s, 'expiration'), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.ok(Math.abs(Date.parse(decode(s, 'expiration')) - expiresAt) < 1000);
    assert.match(decode(s, 'description'), /m-1/);
    assert.equal(tokenSecrets(double).length, 1, 'retries made no second Secret');

    const kubectl = await debianKubectl();
    const conf = (secret: string) => {
      const p = join(dir, `${secret}.conf`);
      writeFileSync(p, bootstrapKubeconfig({ server: double.url, caPem: double.caPem, token: { id: t.id, secret } }));
      return p;
    };
    const good = await execa(kubectl, ['--kubeconfig', conf(t.secret), 'get', '--raw', '/version']);
    assert.match(JSON.parse(good.stdout).gitVersion, /^v1\./);
    const bad = await execa(kubectl, ['--kubeconfig', conf('0'.repeat(16)), 'get', '--raw', '/version'], { reject: false });
    assert.notEqual(bad.exitCode, 0, 'a wrong secret is refused');
    assert.match(bad.stderr, /Unauthorized/);
    await kube.core.deleteNamespacedSecret({ namespace: 'kube-system', name: `bootstrap-token-${t.id}` });
    const revoked = await execa(kubectl, ['--kubeconfig', conf(t.secret), 'get', '--raw', '/version'], { reject: false });
    assert.notEqual(revoked.exitCode, 0, 'a revoked token is refused');
  } finally {
    await kube.close();
    await double.close();
    cleanup();
  }
});

test('pool: filled while up, bounded; 5xx leaves no stray Secret; aged-out tokens are revoked and replaced', async () => {
  const double = await startKubeApiDouble();
  const { dir, cleanup } = tempDir('tether-pool-up-');
  const kubeconfig = join(dir, 'tenant.kubeconfig');
  writeFileSync(kubeconfig, double.kubeconfig());
  let skew = 0;
  const now = () => Date.now() + skew;
  const store = Store.open(join(dir, 'tether.db'));
  const config = configFrom({ site: 'dc1', dataDir: dir, cloud: { kubeconfig, pool: { size: 3, ttlHours: 3 } } });
  const cloud = createCloud({ store, config, log: silentLog, dataDir: dir, now, timing: FAST });
  /** Tether's live rows and the cluster's token Secrets are the same set: nothing minted twice, nothing unknown. */
  const consistent = () => {
    const live = listBootstrapTokens(store).filter((t) => t.state === 'pooled' || t.state === 'released').map((t) => `bootstrap-token-${t.id}`).sort();
    assert.deepEqual(tokenSecrets(double).map((s: any) => s.metadata.name).sort(), live);
  };
  try {
    cloud.start();
    await waitFor('the pool to fill', () => cloud.poolStatus().available === 3);
    await cloud.sync();
    consistent();
    // A pooled token handed to a machine gets the machine's name in its description, through the outbox.
    const m = machineIn(store, 'installing', 1, { hostname: 'worker-9' });
    assert.ok(await cloud.joinFilesFor(store.mustGetMachine(m), { nodeIp: null, zone: null, rack: null }));
    const given = listBootstrapTokens(store, { machineId: m })[0];
    await cloud.sync();
    assert.match(decode(double.objects.get('secrets', 'kube-system', `bootstrap-token-${given.id}`), 'description'), new RegExp(`machine ${m} \\(node worker-9\\)`));
    await waitFor('the pool to be topped up again', async () => { await cloud.sync(); return cloud.poolStatus().available === 3; });
    consistent();
    const first = listBootstrapTokens(store, { state: 'pooled' }).map((t) => t.id);

    double.fault({ kind: '5xx' });
    skew = 2.1 * 3_600_000; // two thirds of the 3 h TTL have passed: all three must be replaced
    await cloud.sync();
    await cloud.sync();
    double.fault(null);
    await waitFor('the pool to be replaced', async () => {
      await cloud.sync();
      return cloud.poolStatus().available === 3 && listBootstrapTokens(store, { state: 'revoked' }).length === 3;
    });
    consistent();
    for (const id of first) assert.equal(double.objects.get('secrets', 'kube-system', `bootstrap-token-${id}`), undefined, 'aged-out token deleted');
    assert.equal(listBootstrapTokens(store, { machineId: undefined }).filter((t) => t.machineId === null).length, 6, 'three aged out, three new: the create that met a 5xx was retried under its own id');
  } finally {
    await cloud.stop();
    store.close();
    await double.close();
    cleanup();
  }
});
