// End to end at process level: the cloud link against the Kubernetes API double, and the kubelet
// stand-in performing the TLS bootstrap with exactly the files joinFilesFor staged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { StagedFile } from '../../agent/protocol.ts';
import { startKubeApiDouble, type KubeApiDouble } from '../../test/kube-api-double/server.ts';
import { runKubeletStandin } from '../../test/kubelet-standin/kubelet.ts';
import { Store } from '../store/store.ts';
import { configFrom } from '../config/load.ts';
import { transition } from '../lifecycle/lifecycle.ts';
import { getEnrollment, listBootstrapTokens } from '../store/cloud.ts';
import { createCloud, JoinRefusedError, type Cloud } from './cloud.ts';
import { RACK_LABEL } from './join.ts';
import { agentPod, FAST, machineIn, recordingLog, tempDir, waitFor } from './testkit.ts';

function stage(root: string, files: StagedFile[]): void {
  for (const f of files) {
    const p = join(root, f.path);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, Buffer.from(f.contentBase64, 'base64'), { mode: f.mode });
  }
}

async function setup(o: { poolSize: number }) {
  const double = await startKubeApiDouble({ replicas: 2 });
  const { dir, cleanup } = tempDir('tether-enroll-');
  const kubeconfig = join(dir, 'tenant.kubeconfig');
  writeFileSync(kubeconfig, double.kubeconfig());
  const store = Store.open(join(dir, 'tether.db'));
  const config = configFrom({ site: 'dc1', dataDir: dir, zones: [{ name: 'zone-a' }], cloud: { kubeconfig, pool: { size: o.poolSize } } });
  const log = recordingLog();
  const cloud = createCloud({ store, config, log, dataDir: dir, timing: FAST });
  const close = async () => {
    await cloud.stop();
    store.close();
    await double.close();
    cleanup();
  };
  return { double, dir, store, cloud, log, close };
}

const state = (store: Store, id: string) => store.mustGetMachine(id);

/** installing → (agent phones home) installed → joining, as the lead's install flow does it. */
function phoneHome(store: Store, cloud: Cloud, id: string): void {
  transition(store, id, 'installed', { actor: 'agent', reason: 'test: first boot phoned home', expectFrom: ['installing'] });
  cloud.onInstalled(id);
}

test('enroll: installed → joining → enrolled → ready with the staged files; token revoked; labels, node-ip; tunnel failures in words', async (t) => {
  const { double, dir, store, cloud, log, close } = await setup({ poolSize: 1 });
  t.after(close);
  try {
    cloud.start();
    await waitFor('the link to come up', () => cloud.link().state === 'up');
    const id = machineIn(store, 'installing', 1, { hostname: 'worker-1', zone: 'zone-a', rack: 'r07' });
    const files = await cloud.joinFilesFor(state(store, id), { nodeIp: '10.20.0.5', zone: 'zone-a', rack: 'r07' });
    assert.ok(files, 'join files');
    const tokenId = getEnrollment(store, id)!.tokenId!;
    const root = join(dir, 'node-root');
    stage(root, files);
    phoneHome(store, cloud, id);
    assert.equal(state(store, id).state, 'joining');

    const node = await runKubeletStandin({ root, hostname: 'worker-1', retryMs: 100 });
    assert.equal(node.nodeName, 'worker-1');
    await waitFor('enrolled, waiting for an agent pod', () => state(store, id).state === 'enrolled' && /No konnectivity-agent pod/.test(state(store, id).stateReason ?? ''));
    // The store records 'revoked' only after the API server answered the delete, so wait on the
    // store: the double drops the Secret a moment before that answer arrives.
    await waitFor('the token to be revoked', () => listBootstrapTokens(store).find((x) => x.id === tokenId)?.state === 'revoked');
    assert.equal(double.objects.get('secrets', 'kube-system', `bootstrap-token-${tokenId}`), undefined, 'the token Secret is deleted');

    double.objects.put('pods', agentPod('worker-1', 'Pending'));
    await waitFor('the Pending agent to be named', () => /Pending.*CNI/.test(state(store, id).stateReason ?? ''));
    double.objects.put('pods', agentPod('worker-1', 'Running'));
    // The double's tunnels start with no agent connected.
    await waitFor('"No agent available"', () => /^No agent available/.test(state(store, id).stateReason ?? ''));
    double.tunnel('worker-1', 'timeout');
    await waitFor('"i/o timeout"', () => /^i\/o timeout/.test(state(store, id).stateReason ?? ''));
    double.tunnel('worker-1', 'no-agent');
    await waitFor('"No agent available" again', () => /^No agent available/.test(state(store, id).stateReason ?? ''));
    // An agent connected to one API server replica of two: half the API servers cannot reach the node.
    double.tunnel('worker-1', 'ok', 0);
    await cloud.sync();
    await cloud.sync();
    assert.equal(state(store, id).state, 'enrolled');
    assert.match(state(store, id).stateReason!, /^No agent available/);
    double.tunnel('worker-1', 'ok');
    await waitFor('ready', () => state(store, id).state === 'ready');

    const n = double.objects.get('nodes', null, 'worker-1');
    assert.equal(n.metadata.labels['topology.kubernetes.io/zone'], 'zone-a');
    assert.equal(n.metadata.labels['topology.kubernetes.io/region'], 'dc1');
    assert.equal(n.metadata.labels[RACK_LABEL], 'r07');
    await waitFor('the role label', () => double.objects.get('nodes', null, 'worker-1').metadata.labels['node-role.kubernetes.io/worker'] === '');
    assert.deepEqual(n.status.addresses.find((a: any) => a.type === 'InternalIP'), { type: 'InternalIP', address: '10.20.0.5' });

    // The link drops: the node goes headless and comes back on its own.
    double.fault({ kind: 'down' });
    await waitFor('headless', () => state(store, id).state === 'headless');
    double.fault(null);
    await waitFor('ready again', () => state(store, id).state === 'ready');

    const moves = store.listEvents({ machineId: id, kind: 'transition' }).reverse().map((e) => e.to);
    assert.deepEqual(moves.slice(-6), ['installed', 'joining', 'enrolled', 'ready', 'headless', 'ready']);
    const reasons = store.listEvents({ machineId: id, kind: 'enrollment' }).reverse().map((e) => e.reason);
    console.log(reasons.map((r) => `  enrollment: ${r}`).join('\n'));
    reasons.forEach((r, i) => assert.notEqual(r, reasons[i - 1], 'the same reason twice in a row'));
  } catch (e) {
    console.log(log.lines.slice(-40).join('\n'));
    throw e;
  }
});

test('enroll: link down for the whole install — pooled token, the kubelet retries, enrolls when the link returns; flapping and 5xx make no duplicates', async (t) => {
  const { double, dir, store, cloud, log, close } = await setup({ poolSize: 2 });
  t.after(close);
  const abort = new AbortController();
  t.after(() => abort.abort());
  try {
    cloud.start();
    await waitFor('the pool to fill while the link is up', () => cloud.poolStatus().available === 2);
    double.fault({ kind: 'down' });
    await waitFor('the link to be down', () => cloud.link().state === 'down' && cloud.link().known);

    const stranger = machineIn(store, 'inventoried', 9);
    await assert.rejects(cloud.joinFilesFor(state(store, stranger), { nodeIp: null, zone: null, rack: null }), JoinRefusedError);
    const id = machineIn(store, 'installing', 1, { hostname: 'worker-2', zone: 'zone-a', rack: 'r01' });
    const files = await cloud.joinFilesFor(state(store, id), { nodeIp: '10.20.0.6', zone: 'zone-a', rack: 'r01' });
    assert.ok(files, 'join files from the pool while the link is down');
    const tokenId = getEnrollment(store, id)!.tokenId!;
    const root = join(dir, 'node-root');
    stage(root, files);
    phoneHome(store, cloud, id);
    assert.equal(state(store, id).state, 'joining');

    // While the node boots from its disk the link flaps and then answers only 5xx: Tether keeps
    // probing, refilling the pool and checking the joining machine in the good moments.
    double.tunnel('worker-2', 'ok');
    double.objects.put('pods', agentPod('worker-2', 'Running'));
    double.fault({ kind: 'flapping', periodMs: 120 });
    await new Promise((r) => setTimeout(r, 1500));
    double.fault({ kind: '5xx' });
    await new Promise((r) => setTimeout(r, 600));
    // Down again as the kubelet starts: it keeps retrying its TLS bootstrap.
    double.fault({ kind: 'down' });
    await waitFor('the link to be down again', () => cloud.link().state === 'down');
    // (The stand-in is started only now: one whose CSR watch lived through the flapping was seen to
    // wait forever for a certificate the double had issued — a stand-in limit, not Tether's.)
    const kubelet = runKubeletStandin({ root, hostname: 'worker-2', retryMs: 100, signal: abort.signal });
    kubelet.catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(state(store, id).state, 'joining', 'nothing moves while the link is down');
    double.fault(null);
    const back = Date.now();
    await waitFor('ready after the link returned', () => state(store, id).state === 'ready', 60_000);
    console.log(`  enrolled and ready ${Date.now() - back} ms after the link returned`);
    await kubelet;
    await waitFor('the machine\'s token Secret to be deleted', () => double.objects.get('secrets', 'kube-system', `bootstrap-token-${tokenId}`) === undefined);
    await cloud.sync();

    // No duplicate token Secret: the cluster holds exactly Tether's live tokens.
    const live = listBootstrapTokens(store).filter((x) => x.state === 'pooled' || x.state === 'released').map((x) => `bootstrap-token-${x.id}`).sort();
    const inCluster = double.objects.list('secrets', 'kube-system').filter((s: any) => s.type === 'bootstrap.kubernetes.io/token').map((s: any) => s.metadata.name).sort();
    assert.deepEqual(inCluster, live);
    assert.equal(live.length, 2, 'the pool refilled to its size, no more');
    // No duplicate Node.
    assert.equal(double.objects.list('nodes').filter((n: any) => n.metadata.name === 'worker-2').length, 1);
    // No duplicate event: each move once, no reason repeated, link changes alternate.
    const moves = store.listEvents({ machineId: id, kind: 'transition' }).reverse().map((e) => e.to);
    assert.deepEqual(moves.slice(-4), ['installed', 'joining', 'enrolled', 'ready']);
    for (const s of ['joining', 'enrolled', 'ready']) assert.equal(moves.filter((m) => m === s).length, 1, s);
    const reasons = store.listEvents({ machineId: id, kind: 'enrollment' }).reverse().map((e) => e.reason);
    reasons.forEach((r, i) => assert.notEqual(r, reasons[i - 1], 'the same reason twice in a row'));
    const link = store.listEvents({ kind: 'link' }).reverse();
    console.log(link.map((e) => `  link: ${e.from ?? '-'} → ${e.to} (${e.reason})`).join('\n'));
    link.forEach((e, i) => assert.notEqual(e.to, link[i - 1]?.to, 'a link event that changed nothing'));
    assert.deepEqual(store.listEvents({ machineId: stranger, kind: 'enrollment' }), [], 'the stranger got nothing, not even a deferral');
  } catch (e) {
    console.log(log.lines.slice(-40).join('\n'));
    console.log(double.requests.slice(-30).map((r) => `${r.method} ${r.path}${r.query} ${r.user} ${r.status}`).join('\n'));
    throw e;
  }
});
