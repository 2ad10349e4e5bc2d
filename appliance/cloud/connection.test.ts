import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startKubeApiDouble } from '../../test/kube-api-double/server.ts';
import { Store } from '../store/store.ts';
import { configFrom } from '../config/load.ts';
import { connect } from './connection.ts';
import { createCloud } from './cloud.ts';
import { FAST, silentLog, tempDir, waitFor } from './testkit.ts';

test('connection: through the management cluster\'s TenantControlPlane — admin kubeconfig Secret, endpoint, version, replicas, konnectivity', async () => {
  // The double plays both clusters: its Kamaji stand-in fills the TenantControlPlane's status and
  // points the admin kubeconfig at itself.
  const double = await startKubeApiDouble({ replicas: 3 });
  const { dir, cleanup } = tempDir('tether-tcp-');
  const mgmt = join(dir, 'management.kubeconfig');
  writeFileSync(mgmt, double.kubeconfig());
  const store = Store.open(':memory:');
  const config = configFrom({ dataDir: dir, cloud: { managementKubeconfig: mgmt, tenantControlPlane: { name: 'tenant-a', namespace: 'tenants' } } });
  const cloud = createCloud({ store, config, log: silentLog, dataDir: dir, timing: FAST });
  try {
    await assert.rejects(connect(config.cloud, { timeoutMs: 5000 }), /404|not found/i, 'no TenantControlPlane yet');
    double.objects.put('tenantcontrolplanes', {
      apiVersion: 'kamaji.clastix.io/v1alpha1', kind: 'TenantControlPlane',
      metadata: { name: 'tenant-a', namespace: 'tenants' },
      spec: { controlPlane: { deployment: { replicas: 3 } }, kubernetes: { version: 'v1.31.4' }, addons: { konnectivity: { server: { port: 8132 } } } },
    });
    await waitFor('Kamaji to report the tenant Ready', () => double.objects.get('tenantcontrolplanes', 'tenants', 'tenant-a')?.status?.kubernetesResources?.version?.status === 'Ready');
    const c = await connect(config.cloud, { timeoutMs: 5000 });
    assert.equal(c.source, 'tenant-control-plane');
    assert.equal(c.replicas, 3);
    assert.equal(c.server, double.url);
    assert.equal(c.caPem, double.caPem);
    assert.deepEqual(c.tenantControlPlane, {
      name: 'tenant-a', namespace: 'tenants', endpoint: new URL(double.url).host, version: 'v1.31.4', versionStatus: 'Ready',
      konnectivity: { enabled: true, port: 8132 },
    });

    cloud.start();
    await waitFor('the link to come up through the TenantControlPlane', () => cloud.link().state === 'up');
    const s = cloud.status();
    assert.equal(s.link.source, 'tenant-control-plane');
    assert.equal(s.link.replicas, 3);
    assert.match(s.link.version!, /^v1\.31/);
  } finally {
    await cloud.stop();
    store.close();
    await double.close();
    cleanup();
  }
});
