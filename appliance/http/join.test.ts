// GET /agent/v1/join: an installed node that got no join files at install (cloud link down, token
// pool empty) asks for them later with its phone-home token. Against the Kubernetes API double
// through the real cloud link; the per-machine files and the phone-home go through the real routes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, statSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { execa } from 'execa';
import { parse } from 'yaml';
import type { KubeApiDouble } from '../../test/kube-api-double/server.ts';
import { Store } from '../store/store.ts';
import { CPIO_TYPE } from './agent.ts';
import { mintBootToken } from '../auth/boot-tokens.ts';
import { mintPhoneHomeToken } from '../install/phone-home.ts';
import { createDiskTask, setDiskTaskStatus } from '../store/disk-tasks.ts';
import { getEnrollment, listBootstrapTokens } from '../store/cloud.ts';
import type { Cloud } from '../cloud/cloud.ts';
import { machineIn, offlineAppliance, waitFor, type OfflineAppliance } from '../cloud/testkit.ts';
import { testAppliance, bearer } from '../../test/lib/appliance.ts';
import { AGENT_PATHS, type StagedFile } from '../../agent/protocol.ts';

const JOIN_PATH = AGENT_PATHS.join;

let t: OfflineAppliance;
let double: KubeApiDouble;
let log: OfflineAppliance['log'];
let store: Store;
let cloud: Cloud;
let app: FastifyInstance;
let dir: string;

before(async () => {
  t = await offlineAppliance('tether-join-');
  ({ double, log, store, cloud, app, dir } = t);
});
after(() => t.close());

const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: 'GET', url, headers });
const joinUrl = (mac: string, installId: string) => `${JOIN_PATH}?mac=${mac}&installId=${installId}`;

interface Installed { id: string; mac: string; installId: string; token: string; stagedPaths: string[] }

let seq = 0;
/**
 * A machine installed the real way from the appliance's side: an install task, the per-machine
 * files fetched by the agent (no join files: the link is down), the image written, the phone-home.
 */
async function installedWithoutJoin(o: { phoneHome?: boolean } = {}): Promise<Installed> {
  const n = ++seq;
  const id = machineIn(store, 'installing', n, { hostname: `worker-${n}`, zone: 'zone-a', rack: 'r01' });
  const mac = store.mustGetMachine(id).bootMac;
  const task = createDiskTask(store, { id: `install-test${n}`, machineId: id, kind: 'install', image: 'test-node', spec: {} });
  setDiskTaskStatus(store, task.id, 'running');
  const boot = mintBootToken(store, id, { write: true });
  const r = await get(`${AGENT_PATHS.files}?mac=${mac}&taskId=${task.id}`, bearer(boot));
  assert.equal(r.statusCode, 200, r.body);
  const files = r.json().files as StagedFile[];
  const firstboot = JSON.parse(Buffer.from(files.find((f) => f.path === 'etc/tether/firstboot.json')!.contentBase64, 'base64').toString()) as { token: string; installId: string };
  assert.equal(firstboot.installId, task.id);
  setDiskTaskStatus(store, task.id, 'written');
  if (o.phoneHome !== false) {
    const home = await app.inject({ method: 'POST', url: AGENT_PATHS.phoneHome, headers: bearer(firstboot.token), payload: { version: 1, mac, installId: task.id } });
    assert.equal(home.statusCode, 200, home.body);
    assert.equal(home.json().state, 'installed');
  }
  return { id, mac, installId: task.id, token: firstboot.token, stagedPaths: files.map((f) => f.path) };
}

const enrollmentEvents = (id: string) => store.listEvents({ machineId: id, kind: 'enrollment', limit: 100 }).reverse();

test('join: 204 + Retry-After while the link is down and the pool empty; asking again adds no events; then files once when the link is up', async () => {
  const a = await installedWithoutJoin();
  const b = await installedWithoutJoin(); // for the archive, below
  assert.deepEqual(a.stagedPaths, ['etc/hostname', 'etc/systemd/network/10-tether.network', 'etc/tether/firstboot.json'], 'installed without join files');
  assert.ok(getEnrollment(store, a.id)?.deferredAt, 'the cloud recorded the enrollment as deferred');
  assert.equal(store.mustGetMachine(a.id).state, 'installed');

  const first = await get(joinUrl(a.mac, a.installId), bearer(a.token));
  assert.equal(first.statusCode, 204, first.body);
  assert.equal(first.headers['retry-after'], '60');
  assert.equal(first.body, '');
  assert.equal(store.mustGetMachine(a.id).state, 'installed');
  assert.ok(enrollmentEvents(a.id).some((e) => e.actor === 'agent' && /asked for its join files: none can be had yet/.test(e.reason ?? '')), 'the ask is on the timeline');
  const eventsAfterFirst = store.listEvents({ machineId: a.id, limit: 500 }).length;
  for (let i = 0; i < 3; i++) assert.equal((await get(joinUrl(a.mac, a.installId), bearer(a.token))).statusCode, 204);
  assert.equal(store.listEvents({ machineId: a.id, limit: 500 }).length, eventsAfterFirst, 'a node polling adds no event while nothing changes');
  assert.equal(getEnrollment(store, a.id)?.releasedAt, null);
  assert.equal(listBootstrapTokens(store).length, 0, 'no token minted or taken');
  // Waiting keeps the phone-home token alive: a token about to expire is a full TTL away again.
  const tokenId = a.token.split('.')[0];
  assert.ok(store.extendToken(tokenId, Date.now() + 5_000));
  assert.equal((await get(joinUrl(a.mac, a.installId), bearer(a.token))).statusCode, 204);
  assert.ok(store.getToken(tokenId)!.expiresAt > Date.now() + 6 * 24 * 3_600_000, 'the token was renewed');

  double.fault(null);
  await waitFor('the link to be up again', () => cloud.link().state === 'up');
  // Two asks at once (a retried request): exactly one gets the files.
  const [x, y] = await Promise.all([get(joinUrl(a.mac, a.installId), bearer(a.token)), get(joinUrl(a.mac, a.installId), bearer(a.token))]);
  const ok = [x, y].find((r) => r.statusCode === 200);
  const other = [x, y].find((r) => r !== ok)!;
  assert.ok(ok, `${x.statusCode} ${x.body} / ${y.statusCode} ${y.body}`);
  assert.equal(other.statusCode, 409, other.body);
  assert.equal(other.json().error, 'conflict');
  assert.match(other.json().message, /released already/);

  const files = ok.json().files as StagedFile[];
  assert.equal(ok.json().version, 1);
  assert.deepEqual(files.map((f) => f.path), ['etc/kubernetes/pki/ca.crt', 'etc/kubernetes/bootstrap-kubelet.conf', 'var/lib/kubelet/config.yaml', 'etc/default/kubelet', 'etc/kubernetes/kubeadm-join.yaml']);
  assert.equal(files.find((f) => f.path === 'etc/kubernetes/bootstrap-kubelet.conf')?.mode, 0o600);
  assert.equal(ok.headers['cache-control'], 'no-store');
  const e = getEnrollment(store, a.id)!;
  assert.ok(e.releasedAt && e.tokenId, 'released, with a token');
  const kubeconfig = parse(Buffer.from(files[1].contentBase64, 'base64').toString()) as { users: Array<{ user: { token: string } }>; clusters: Array<{ cluster: { server: string } }> };
  assert.equal(kubeconfig.users[0].user.token.split('.')[0], e.tokenId, 'the kubeconfig carries the released token');
  assert.equal(kubeconfig.clusters[0].cluster.server, double.url);
  assert.ok(double.objects.get('secrets', 'kube-system', `bootstrap-token-${e.tokenId}`), 'the token Secret exists in the cluster');
  assert.match(Buffer.from(files[3].contentBase64, 'base64').toString(), /--node-labels=topology\.kubernetes\.io\/zone=zone-a,topology\.kubernetes\.io\/region=dc1,tether\.dev\/rack=r01/);
  assert.equal(store.mustGetMachine(a.id).state, 'joining', 'with its files the node is joining');
  assert.ok(enrollmentEvents(a.id).some((ev) => ev.actor === 'agent' && /fetched its join files \(5 files\)/.test(ev.reason ?? '')));

  const again = await get(joinUrl(a.mac, a.installId), bearer(a.token));
  assert.equal(again.statusCode, 409);
  assert.equal(again.json().error, 'conflict');
  assert.match(again.json().message, /released already/);
  assert.equal(getEnrollment(store, a.id)!.tokenId, e.tokenId, 'no second token');

  // The archive the node's script unpacks: the same files and modes, through the real cpio.
  const c = await get(joinUrl(b.mac, b.installId), { ...bearer(b.token), accept: `${CPIO_TYPE}, */*;q=0.1` });
  assert.equal(c.statusCode, 200, c.body);
  assert.equal(c.headers['content-type'], CPIO_TYPE);
  const out = join(dir, 'cpio-out');
  mkdirSync(out);
  await execa('cpio', ['-idm', '--no-absolute-filenames', '--quiet'], { cwd: out, input: c.rawPayload });
  const bEnrollment = getEnrollment(store, b.id)!;
  assert.match(readFileSync(join(out, 'etc/kubernetes/bootstrap-kubelet.conf'), 'utf8'), new RegExp(`token: ${bEnrollment.tokenId}\\.`));
  assert.equal(statSync(join(out, 'etc/kubernetes/bootstrap-kubelet.conf')).mode & 0o777, 0o600);
  assert.equal(statSync(join(out, 'etc/kubernetes/kubeadm-join.yaml')).mode & 0o777, 0o600);
  assert.equal(statSync(join(out, 'var/lib/kubelet/config.yaml')).mode & 0o777, 0o644);
  assert.equal((await get(joinUrl(b.mac, b.installId), { ...bearer(b.token), accept: CPIO_TYPE })).statusCode, 409, 'once, whatever the format');
});

test('join: wrong, foreign and missing tokens, another install, junk queries and wrong states are refused with clear errors', async () => {
  double.fault({ kind: 'down' });
  await waitFor('the link to be down', () => cloud.link().state === 'down' && cloud.link().known);
  const a = await installedWithoutJoin();
  const b = await installedWithoutJoin();
  const before = JSON.stringify([getEnrollment(store, a.id), store.mustGetMachine(a.id).state]);

  const refused = async (url: string, headers: Record<string, string>, status: number, code: string, message?: RegExp) => {
    const r = await get(url, headers);
    assert.equal(r.statusCode, status, `${url}: ${r.body}`);
    assert.equal(r.json().error, code, r.body);
    assert.equal(typeof r.json().message, 'string');
    if (message) assert.match(r.json().message, message);
  };
  const url = joinUrl(a.mac, a.installId);
  await refused(url, {}, 401, 'unauthorized', /phone-home token/);
  await refused(url, bearer(`${a.token.split('.')[0]}.${'A'.repeat(32)}`), 401, 'unauthorized');
  await refused(url, bearer('x'.repeat(10_000)), 401, 'unauthorized');
  await refused(url, bearer(mintBootToken(store, a.id)), 401, 'unauthorized', /phone-home token/);
  // b's token speaking for a's MAC (anyone on the LAN can claim any MAC), or for a's install.
  await refused(url, bearer(b.token), 403, 'forbidden');
  await refused(joinUrl(a.mac, b.installId), bearer(b.token), 403, 'forbidden', /no NIC/);
  await refused(joinUrl(b.mac, a.installId), bearer(b.token), 403, 'forbidden', /belongs to install/);
  // Junk: schema errors, never a crash.
  for (const junk of [`${JOIN_PATH}`, `${JOIN_PATH}?mac=${a.mac}`, `${JOIN_PATH}?mac=nonsense&installId=${a.installId}`, `${url}&extra=1`,
    `${JOIN_PATH}?mac=${a.mac}&installId=${'x'.repeat(65)}`, `${JOIN_PATH}?mac=${a.mac}&installId=a%00b`, `${JOIN_PATH}?mac[]=1&installId=${a.installId}`]) {
    await refused(junk, bearer(a.token), 400, 'bad_request');
  }
  assert.equal(JSON.stringify([getEnrollment(store, a.id), store.mustGetMachine(a.id).state]), before, 'refusals changed nothing');
  assert.equal((await get(url, bearer(a.token))).statusCode, 204, 'a is still waiting');

  // Before its phone-home the install is not done: ask after it.
  const early = await installedWithoutJoin({ phoneHome: false });
  await refused(joinUrl(early.mac, early.installId), bearer(early.token), 409, 'conflict', /after it phoned home/);
  // An installed machine the cloud never deferred (installed before the cloud link was configured).
  const id = machineIn(store, 'installed', 900);
  const task = createDiskTask(store, { id: 'install-nodefer', machineId: id, kind: 'install', spec: {} });
  setDiskTaskStatus(store, task.id, 'done');
  const token = mintPhoneHomeToken(store, id, task.id);
  await refused(joinUrl(store.mustGetMachine(id).bootMac, task.id), bearer(token), 409, 'conflict', /not waiting for join files/);
  // A deferred machine an operator moved on (failed, say) gets nothing.
  store.transition(b.id, () => ({ to: 'failed', actor: 'system', reason: 'test: operator gave up' }));
  await refused(joinUrl(b.mac, b.installId), bearer(b.token), 409, 'conflict', /is failed/);
  assert.ok(enrollmentEvents(b.id).some((e) => e.actor === 'agent' && /refused: .*is failed/.test(e.reason ?? '')), 'the refusal is on the timeline');
  assert.equal(getEnrollment(store, b.id)?.releasedAt, null);
});

test('join: an appliance without a cloud link answers 404: no join files will ever come', async () => {
  const t = await testAppliance();
  try {
    const id = machineIn(t.store, 'installed', 1);
    const task = createDiskTask(t.store, { id: 'install-nocloud', machineId: id, kind: 'install', spec: {} });
    setDiskTaskStatus(t.store, task.id, 'done');
    const token = mintPhoneHomeToken(t.store, id, task.id);
    const r = await t.app.inject({ method: 'GET', url: joinUrl(t.store.mustGetMachine(id).bootMac, task.id), headers: bearer(token) });
    assert.equal(r.statusCode, 404, r.body);
    assert.equal(r.json().error, 'not_found');
    assert.match(r.json().message, /no cloud link configured/);
  } finally { await t.close(); }
});
