// The first-boot script fetching join files it was installed without, for real: `sh` (dash, as on the
// node) with curl and cpio, in a fake root given by TETHER_ROOT, against a real appliance (buildApp
// listening on 127.0.0.1) whose cloud link talks to the Kubernetes API double. Only systemctl is a
// stand-in (a recording stub on PATH): systemd cannot run here. The kubelet stand-in then performs
// the TLS bootstrap with exactly the files the script wrote.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { execa } from 'execa';
import type { KubeApiDouble } from '../../test/kube-api-double/server.ts';
import { runKubeletStandin } from '../../test/kubelet-standin/kubelet.ts';
import { Store } from '../../appliance/store/store.ts';
import { mintBootToken } from '../../appliance/auth/boot-tokens.ts';
import { createDiskTask, setDiskTaskStatus } from '../../appliance/store/disk-tasks.ts';
import { getEnrollment } from '../../appliance/store/cloud.ts';
import type { Cloud } from '../../appliance/cloud/cloud.ts';
import { machineIn, offlineAppliance, tempDir, waitFor, type OfflineAppliance } from '../../appliance/cloud/testkit.ts';
import { configFrom } from '../../appliance/config/load.ts';
import { buildApp } from '../../appliance/http/app.ts';
import { writeCpio } from '../initrd/cpio.ts';
import { AGENT_PATHS, type StagedFile } from '../../agent/protocol.ts';
import { FIRSTBOOT_SCRIPT } from './firstboot.ts';

const JOIN_PATH = AGENT_PATHS.join;
import { FIRSTBOOT_PATHS, KUBELET_FILES } from './config.ts';

interface Seen { method: string; path: string; status: number }

let t: OfflineAppliance;
let double: KubeApiDouble;
let log: OfflineAppliance['log'];
let store: Store;
let cloud: Cloud;
let app: FastifyInstance;
let base: string;
let dir: string;
const seen: Seen[] = [];

before(async () => {
  t = await offlineAppliance('tether-firstboot-join-', {
    beforeReady: (a) => { a.addHook('onResponse', async (req, reply) => { seen.push({ method: req.method, path: req.url.split('?')[0], status: reply.statusCode }); }); },
  });
  ({ double, log, store, cloud, app, dir } = t);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const addr = app.server.address();
  assert.ok(addr && typeof addr === 'object');
  base = `http://127.0.0.1:${addr.port}`;
});
after(() => t.close());

/**
 * A machine installed while the link is down and the pool empty: the agent fetched its per-machine
 * files over the real socket (so firstboot.json names this appliance's URL) and they are staged
 * in a fake root, as tether-config would unpack them; the image is written.
 */
async function installed(n: number) {
  const id = machineIn(store, 'installing', n, { hostname: `node-${n}`, zone: 'zone-a', rack: 'r02' });
  const mac = store.mustGetMachine(id).bootMac;
  const task = createDiskTask(store, { id: `install-sh${n}`, machineId: id, kind: 'install', image: 'test-node', spec: {} });
  setDiskTaskStatus(store, task.id, 'running');
  const res = await fetch(`${base}${AGENT_PATHS.files}?mac=${mac}&taskId=${task.id}`, { headers: { authorization: `Bearer ${mintBootToken(store, id, { write: true })}` } });
  assert.equal(res.status, 200);
  const files = ((await res.json()) as { files: StagedFile[] }).files;
  assert.ok(!files.some((f) => f.path.startsWith('etc/kubernetes/')), 'installed without join files');
  setDiskTaskStatus(store, task.id, 'written');

  const root = join(dir, `root-${n}`);
  for (const f of files) {
    mkdirSync(join(root, dirname(f.path)), { recursive: true });
    writeFileSync(join(root, f.path), Buffer.from(f.contentBase64, 'base64'), { mode: f.mode });
  }
  const firstboot = JSON.parse(readFileSync(join(root, FIRSTBOOT_PATHS.config), 'utf8')) as { url: string; token: string };
  assert.equal(firstboot.url, base);
  // The image's kubelet (user-supplied; a placeholder here), the script, a boot id.
  mkdirSync(join(root, 'usr/bin'), { recursive: true });
  writeFileSync(join(root, 'usr/bin/kubelet'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(root, 'firstboot'), FIRSTBOOT_SCRIPT, { mode: 0o755 });
  writeFileSync(join(root, 'boot_id'), '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0\n');
  // systemctl as the init system would be asked: a recording stub first on PATH.
  const bin = join(root, 'stub-bin');
  mkdirSync(bin);
  const systemctlLog = join(root, 'systemctl.log');
  writeFileSync(join(bin, 'systemctl'), `#!/bin/sh\necho "$*" >>'${systemctlLog}'\n`);
  chmodSync(join(bin, 'systemctl'), 0o755);
  mkdirSync(join(root, 'tmp'));
  const env = {
    PATH: `${bin}:${process.env.PATH}`, TETHER_ROOT: root, TETHER_BOOT_ID_FILE: join(root, 'boot_id'), TMPDIR: join(root, 'tmp'),
    TETHER_RETRY_MIN: '1', TETHER_RETRY_MAX: '1', TETHER_JOIN_RETRY_MIN: '1', TETHER_JOIN_RETRY_MAX: '1',
  };
  return { id, mac, installId: task.id, token: firstboot.token, root, env, systemctlLog, nodeName: `node-${n}` };
}

const run = (m: { root: string; env: Record<string, string> }) =>
  execa('sh', [join(m.root, 'firstboot')], { env: m.env, extendEnv: false, reject: false, timeout: 120_000 });
const count = (method: string, path: string, status?: number) => seen.filter((s) => s.method === method && s.path === path && (status === undefined || s.status === status)).length;
const JOIN_FILES = ['etc/kubernetes/pki/ca.crt', 'etc/kubernetes/bootstrap-kubelet.conf', 'var/lib/kubelet/config.yaml', 'etc/default/kubelet', 'etc/kubernetes/kubeadm-join.yaml'];
const modeOf = (p: string) => statSync(p).mode & 0o777;


test('installed without join files: phones home, polls through 204s across a reboot, writes the files with their modes, starts the kubelet; the files work', async () => {
  const m = await installed(1);
  try {
    // First boot: the link is down. The node phones home, then keeps asking.
    const boot1 = run(m);
    await waitFor('two 204s', () => count('GET', JOIN_PATH, 204) >= 2, 60_000);
    assert.equal(store.mustGetMachine(m.id).state, 'installed', 'the phone-home moved it to installed');
    assert.equal(count('POST', AGENT_PATHS.phoneHome, 200), 1);
    // A reboot while it waits: systemd stops the unit.
    boot1.kill('SIGTERM');
    const r1 = await boot1;
    assert.notEqual(r1.exitCode, 0);
    assert.match(String(r1.stdout), /no join files on this node: asking http:\/\/127\.0\.0\.1:\d+ for them/);
    assert.match(String(r1.stdout), /join files: attempt 1: none can be had yet \(HTTP 204\); asking again in 1 s/);
    assert.ok(!existsSync(join(m.root, FIRSTBOOT_PATHS.done)), 'no marker: the next boot asks again');
    for (const p of JOIN_FILES) assert.ok(!existsSync(join(m.root, p)), p);
    assert.ok(!existsSync(m.systemctlLog), 'no kubelet start without files');

    // Second boot: phones home again (harmless), asks again; the link comes back while it waits.
    const polls = count('GET', JOIN_PATH, 204);
    const boot2 = run(m);
    await waitFor('a 204 in the second boot', () => count('GET', JOIN_PATH, 204) > polls, 60_000);
    assert.equal(count('POST', AGENT_PATHS.phoneHome, 200), 2);
    double.fault(null);
    const r2 = await boot2;
    assert.equal(r2.exitCode, 0, `${r2.stdout}\n${r2.stderr}`);
    assert.equal(count('GET', JOIN_PATH, 200), 1, 'one answer with files');

    // The files, at their paths, with their modes, nothing left half-written.
    for (const p of JOIN_FILES) assert.ok(existsSync(join(m.root, p)), p);
    assert.equal(modeOf(join(m.root, KUBELET_FILES.bootstrapKubeconfig)), 0o600, 'the bootstrap kubeconfig holds the token');
    assert.equal(modeOf(join(m.root, 'etc/kubernetes/kubeadm-join.yaml')), 0o600);
    assert.equal(modeOf(join(m.root, KUBELET_FILES.config)), 0o644);
    assert.equal(modeOf(join(m.root, 'etc/kubernetes/pki/ca.crt')), 0o644);
    assert.equal(modeOf(join(m.root, 'etc/kubernetes/pki')), 0o755);
    const e = getEnrollment(store, m.id)!;
    assert.match(readFileSync(join(m.root, KUBELET_FILES.bootstrapKubeconfig), 'utf8'), new RegExp(`token: ${e.tokenId}\\.[a-z0-9]{16}\\n`));
    assert.equal(readFileSync(join(m.root, 'etc/kubernetes/pki/ca.crt'), 'utf8').trim(), double.caPem.trim());
    const leftovers = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((x) => x.isDirectory() ? leftovers(join(d, x.name)) : [x.name]).filter((f) => f.endsWith('.tether-new'));
    assert.deepEqual(leftovers(m.root), []);
    assert.ok(!existsSync(join(m.root, FIRSTBOOT_PATHS.joinArchive)), 'the kept archive goes once the files are in place');
    assert.deepEqual(readdirSync(join(m.root, 'tmp')), [], 'the work dir (with the token header) is removed');
    assert.ok(existsSync(join(m.root, FIRSTBOOT_PATHS.done)), 'the marker, now that the files are there');
    assert.equal(readFileSync(m.systemctlLog, 'utf8'), 'restart --no-block kubelet.service\n');
    assert.match(String(r2.stdout), /join files written: etc\/default\/kubelet etc\/kubernetes\/bootstrap-kubelet\.conf/);
    assert.ok(!String(r2.stdout).includes(m.token.split('.')[1]), 'the phone-home secret is never logged');
    assert.equal(store.mustGetMachine(m.id).state, 'joining');

    // The kubelet stand-in bootstraps with exactly these files: the Node registers, Tether sees it.
    const node = await runKubeletStandin({ root: m.root, hostname: m.nodeName, retryMs: 100 });
    assert.equal(node.nodeName, m.nodeName);
    assert.equal(double.objects.get('nodes', null, m.nodeName)?.metadata.labels['topology.kubernetes.io/zone'], 'zone-a');
    await waitFor('enrolled', () => store.mustGetMachine(m.id).state === 'enrolled');

    // A later boot: the marker says done, nothing is sent.
    const before = seen.length;
    const r3 = await run(m);
    assert.equal(r3.exitCode, 0);
    assert.match(String(r3.stdout), /already reported/);
    assert.equal(seen.length, before);
  } catch (err) {
    console.log(log.lines.slice(-30).join('\n'));
    throw err;
  } finally {
    double.fault(null);
  }
});

test('files lost after their release: refused with "released already", no marker; a kept archive is placed without asking', async () => {
  double.fault({ kind: 'down' });
  await waitFor('the link to be down', () => cloud.link().state === 'down' && cloud.link().known);
  const m = await installed(2);
  try {
    const polls = count('GET', JOIN_PATH, 204);
    const boot1 = run(m);
    await waitFor('a 204', () => count('GET', JOIN_PATH, 204) > polls, 60_000);
    double.fault(null);
    assert.equal((await boot1).exitCode, 0);
    const fetched = JOIN_FILES.map((p) => ({ path: p, mode: modeOf(join(m.root, p)), data: readFileSync(join(m.root, p)) }));
    assert.ok(fetched.every((f) => f.data.length > 0));

    // The disk lost them (and the marker): the appliance hands them out once only.
    for (const p of [...JOIN_FILES, FIRSTBOOT_PATHS.done]) rmSync(join(m.root, p));
    rmSync(m.systemctlLog);
    const r = await run(m);
    assert.equal(r.exitCode, 1, String(r.stdout));
    assert.match(String(r.stdout), /the appliance refused the join files \(HTTP 409\): .*released already/);
    assert.ok(!existsSync(join(m.root, FIRSTBOOT_PATHS.done)));
    assert.ok(!existsSync(m.systemctlLog));

    // A boot that fetched the archive but went down before placing every file: placed from the kept archive.
    const joins = count('GET', JOIN_PATH);
    mkdirSync(join(m.root, dirname(FIRSTBOOT_PATHS.joinArchive)), { recursive: true });
    writeFileSync(join(m.root, FIRSTBOOT_PATHS.joinArchive), writeCpio(fetched.map((f) => ({ kind: 'file' as const, ...f }))), { mode: 0o600 });
    writeFileSync(join(m.root, 'var/lib/kubelet/config.yaml.tether-new'), 'half');
    const r2 = await run(m);
    assert.equal(r2.exitCode, 0, `${r2.stdout}\n${r2.stderr}`);
    assert.match(String(r2.stdout), /placing the join files fetched before the last reboot/);
    assert.equal(count('GET', JOIN_PATH), joins, 'no new ask');
    for (const f of fetched) {
      assert.deepEqual(readFileSync(join(m.root, f.path)), f.data, f.path);
      assert.equal(modeOf(join(m.root, f.path)), f.mode, f.path);
    }
    assert.ok(!existsSync(join(m.root, FIRSTBOOT_PATHS.joinArchive)));
    assert.ok(existsSync(join(m.root, FIRSTBOOT_PATHS.done)));
    assert.equal(readFileSync(m.systemctlLog, 'utf8'), 'restart --no-block kubelet.service\n');
  } finally {
    double.fault(null);
  }
});

test('an appliance without a cloud link (404): the node stops asking, marks done, starts no kubelet', async () => {
  const noCloud = tempDir('tether-firstboot-nocloud-');
  const s2 = Store.open(join(noCloud.dir, 'tether.db'));
  const app2 = await buildApp({ config: configFrom({ dataDir: join(noCloud.dir, 'data'), zones: [{ name: 'zone-a' }] }), store: s2 });
  try {
    await app2.listen({ host: '127.0.0.1', port: 0 });
    const addr = app2.server.address();
    assert.ok(addr && typeof addr === 'object');
    const url = `http://127.0.0.1:${addr.port}`;
    const id = machineIn(s2, 'installing', 3);
    const mac = s2.mustGetMachine(id).bootMac;
    const task = createDiskTask(s2, { id: 'install-nocloud', machineId: id, kind: 'install', spec: {} });
    setDiskTaskStatus(s2, task.id, 'running');
    const res = await fetch(`${url}${AGENT_PATHS.files}?mac=${mac}&taskId=${task.id}`, { headers: { authorization: `Bearer ${mintBootToken(s2, id, { write: true })}` } });
    const files = ((await res.json()) as { files: StagedFile[] }).files;
    setDiskTaskStatus(s2, task.id, 'written');
    const root = join(noCloud.dir, 'root');
    for (const f of files) {
      mkdirSync(join(root, dirname(f.path)), { recursive: true });
      writeFileSync(join(root, f.path), Buffer.from(f.contentBase64, 'base64'), { mode: f.mode });
    }
    writeFileSync(join(root, 'firstboot'), FIRSTBOOT_SCRIPT, { mode: 0o755 });
    mkdirSync(join(root, 'tmp'));
    const systemctlLog = join(root, 'systemctl.log');
    writeFileSync(join(root, 'systemctl'), `#!/bin/sh\necho "$*" >>'${systemctlLog}'\n`, { mode: 0o755 });
    const r = await execa('sh', [join(root, 'firstboot')], {
      env: { TETHER_ROOT: root, TETHER_SYSTEMCTL: join(root, 'systemctl'), TMPDIR: join(root, 'tmp'), TETHER_JOIN_RETRY_MIN: '1', TETHER_JOIN_RETRY_MAX: '1' },
      reject: false, timeout: 60_000,
    });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /the appliance hands out no join files \(HTTP 404: .*no cloud link configured.*\): this node joins no cluster/);
    assert.equal(s2.mustGetMachine(id).state, 'installed');
    assert.ok(existsSync(join(root, FIRSTBOOT_PATHS.done)));
    assert.ok(!existsSync(systemctlLog));
  } finally {
    await app2.close();
    s2.close();
    noCloud.cleanup();
  }
});
