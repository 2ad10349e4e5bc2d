// The structured enrollment checks end to end: the cloud link verifies a machine against the
// Kubernetes API double (two API server replicas) and GET /api/v1/machines/:id/enrollment reads
// back what each check saw and what to do, through joining → enrolled → ready and a link outage.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import Fastify from 'fastify';
import { startKubeApiDouble } from '../../test/kube-api-double/server.ts';
import { Store } from '../store/store.ts';
import { configFrom } from '../config/load.ts';
import { installErrorHandlers } from '../http/errors.ts';
import type { EnrollmentReport } from './checks.ts';
import { createCloud } from './cloud.ts';
import { cloudPlugin } from './plugin.ts';
import { agentPod, FAST, fixture, machineIn, recordingLog, tempDir, waitFor } from './testkit.ts';

test('enrollment checks: joining → ready against the API double, one replica without a tunnel, then the link down', async (t) => {
  const double = await startKubeApiDouble({ replicas: 2 });
  const { dir, cleanup } = tempDir('tether-checks-');
  const kubeconfig = join(dir, 'tenant.kubeconfig');
  writeFileSync(kubeconfig, double.kubeconfig());
  const store = Store.open(join(dir, 'tether.db'));
  const log = recordingLog();
  const cloud = createCloud({ store, config: configFrom({ site: 'dc1', dataDir: dir, zones: [{ name: 'zone-a' }], cloud: { kubeconfig, pool: { size: 0 } } }), log, dataDir: dir, timing: FAST });
  const app = Fastify();
  installErrorHandlers(app);
  const access: Record<string, unknown> = {};
  app.addHook('onRoute', (r) => { access[`${r.method} ${r.url}`] = (r.config as { access?: string } | undefined)?.access; });
  await app.register(cloudPlugin, { cloud });
  t.after(async () => {
    await app.close();
    await cloud.stop();
    store.close();
    await double.close();
    cleanup();
  });
  const report = async (id: string): Promise<EnrollmentReport> => {
    const r = await app.inject({ url: `/api/v1/machines/${id}/enrollment` });
    assert.equal(r.statusCode, 200, r.body);
    return r.json();
  };
  const statuses = (r: EnrollmentReport) => r.checks.map((c) => `${c.id}:${c.status}`);
  const state = (id: string) => store.mustGetMachine(id).state;

  try {
    assert.equal(access['GET /api/v1/machines/:id/enrollment'], 'viewer');
    assert.equal((await app.inject({ url: '/api/v1/machines/m-nothere/enrollment' })).json().error, 'not_found');
    const id = machineIn(store, 'joining', 1, { hostname: 'worker-1' });
    assert.deepEqual(await report(id), { machineId: id, nodeName: null, checkedAt: null, link: (await report(id)).link, checks: [] }, 'never checked: nothing invented');

    cloud.start();
    await waitFor('the first checks', async () => (await report(id)).checks.length > 0);
    let r = await report(id);
    assert.equal(r.nodeName, 'worker-1');
    assert.equal(r.link.state, 'up');
    assert.deepEqual(statuses(r), ['node-registered:pending', 'node-ready:pending', 'agent-pod:pending', 'tunnel-1:pending', 'tunnel-2:pending']);
    assert.match(r.checks[0].detail, /^Waiting for the kubelet on worker-1 to register its Node/);

    // The kubelet registers its Node (the fixture's, Ready); the DaemonSet has not placed an agent yet.
    double.objects.put('nodes', fixture('node.json'));
    await waitFor('enrolled', () => state(id) === 'enrolled');
    await cloud.sync();
    r = await report(id);
    assert.deepEqual(statuses(r), ['node-registered:ok', 'node-ready:ok', 'agent-pod:pending', 'tunnel-1:pending', 'tunnel-2:pending']);

    // The agent runs and is connected to one of the two konnectivity servers only.
    double.objects.put('pods', agentPod('worker-1', 'Running'));
    double.tunnel('worker-1', 'ok', 0);
    await waitFor('one tunnel check ok, one failing', async () => {
      const s = statuses(await report(id));
      return s.includes('agent-pod:ok') && s.filter((x) => /^tunnel-\d:ok$/.test(x)).length === 1;
    });
    r = await report(id);
    const failing = r.checks.filter((c) => c.status === 'failing');
    assert.equal(failing.length, 1);
    assert.match(failing[0].id, /^tunnel-[12]$/);
    assert.match(failing[0].title, /^Cloud reaches the node through the tunnel \(request [12] of 2\)$/);
    assert.match(failing[0].detail, /^No agent available: the konnectivity agent on worker-1 is not connected/);
    assert.match(failing[0].fix!, /^1 of 2 requests reached the node.*--server-count=2.*port 8132/);
    assert.equal(state(id), 'enrolled');
    assert.match(store.mustGetMachine(id).stateReason!, /^No agent available/);

    double.tunnel('worker-1', 'ok');
    await waitFor('ready', () => state(id) === 'ready');
    r = await report(id);
    assert.deepEqual(statuses(r), ['node-registered:ok', 'node-ready:ok', 'agent-pod:ok', 'tunnel-1:ok', 'tunnel-2:ok']);
    const lastChecked = r.checkedAt!;
    assert.ok(r.checks.every((c) => c.checkedAt === lastChecked && c.fix === null));

    // The link drops: nothing can be checked, so nothing is claimed — every check is unknown since
    // the link went down, with what the last real check saw and when.
    double.fault({ kind: 'down' });
    await waitFor('the link down', () => cloud.link().state === 'down');
    r = await report(id);
    assert.equal(r.link.state, 'down');
    assert.deepEqual(statuses(r), ['node-registered:unknown', 'node-ready:unknown', 'agent-pod:unknown', 'tunnel-1:unknown', 'tunnel-2:unknown']);
    assert.ok(r.checks.every((c) => c.seen === 'ok' && c.since === r.link.since && c.checkedAt === lastChecked));
    assert.equal(r.checkedAt, lastChecked);
    assert.ok(lastChecked <= r.link.since);

    double.fault(null);
    await waitFor('checked again after the link returned', async () => {
      const back = await report(id);
      return back.checkedAt! > lastChecked && back.checks.every((c) => c.status === 'ok');
    });

    // Each change of what staff read is one event (what the live feed carries to the Machine view).
    const changes = store.listEvents({ machineId: id, kind: 'enrollment-checks' }).reverse();
    console.log(changes.map((e) => `  ${e.reason}`).join('\n'));
    assert.ok(changes.length >= 4 && changes.length < 12, `${changes.length} change events`);
  } catch (e) {
    console.log(log.lines.slice(-40).join('\n'));
    throw e;
  }
});
