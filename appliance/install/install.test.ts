// The appliance's side of installs over the agent API (inject, no sockets): who gets an install
// task and when, what a result means, the per-machine files (once, only to the token's machine),
// the phone-home, and wipes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testAppliance, bearer, type TestAppliance } from '../../test/lib/appliance.ts';
import { mintBootToken } from '../auth/boot-tokens.ts';
import { applyAction, discover, transition } from '../lifecycle/lifecycle.ts';
import { saveInventory } from '../store/inventory.ts';
import { getDiskTask, openDiskTask } from '../store/disk-tasks.ts';
import { collectInventory } from '../../agent/inventory.ts';
import { fakeHost, loadFixture } from '../../agent/fixtures/fake-host.ts';
import { AGENT_PATHS, readTaskAnswer, type Disk, type Inventory, type TaskAnswer } from '../../agent/protocol.ts';
import { compressImage } from '../../images/compress.ts';
import { loadOrCreateSigningKey, type ImageManifest } from '../../images/manifest.ts';
import { pickTargetDisk } from './target.ts';

let dir: string;
let t: TestAppliance;
let manifest: ImageManifest;
let inv: Inventory;
const GIB = 1024 ** 3;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-install-'));
  const keyPath = join(dir, 'keys', 'image-signing.key');
  const key = loadOrCreateSigningKey(keyPath);
  const raw = Buffer.alloc(256 * 1024, 7);
  writeFileSync(join(dir, 'disk.raw'), raw);
  const imgDir = join(dir, 'img');
  (await import('node:fs')).mkdirSync(imgDir);
  manifest = await compressImage({ raw: join(dir, 'disk.raw'), outDir: imgDir, name: 'test-node', chunkBytes: 64 * 1024, root: { partition: 2, label: 'tether-root', fs: 'ext4' }, boot: { bios: true, uefi: true }, signingKey: key.privateKey });
  t = await testAppliance({ dataDir: join(dir, 'data'), images: { catalog: [{ name: 'test-node', path: imgDir, zones: ['zone-a'] }], signingKey: keyPath, target: { minSizeGiB: 1 } } });
  inv = await collectInventory(fakeHost(loadFixture('server-uefi')), { now: () => new Date('2026-05-01T00:00:00Z') });
});
after(async () => { await t.close(); rmSync(dir, { recursive: true, force: true }); });

let seq = 0x20;
/** A machine inventoried in zone-a, moved to `state`, with a boot token of a boot that may (or may not) write. */
function machineIn(state: 'inventoried' | 'approved' | 'wiping', o: { write: boolean }) {
  const mac = `52:54:00:cd:00:${(seq++).toString(16).padStart(2, '0')}`;
  const { machine } = discover(t.store, { mac, zone: 'zone-a', actor: 'http' });
  saveInventory(t.store, machine.id, inv, { uuid: null, serial: null, nics: [] });
  transition(t.store, machine.id, 'inventoried', { actor: 'agent' });
  if (state === 'approved') applyAction(t.store, machine.id, 'approve', { actorName: 'operator' });
  if (state === 'wiping') applyAction(t.store, machine.id, 'wipe', { actorName: 'operator' });
  return { id: machine.id, mac, token: mintBootToken(t.store, machine.id, { write: o.write }) };
}

const agent = async (token: string, method: 'GET' | 'POST', url: string, body?: unknown) => {
  const r = await t.app.inject({ method, url, headers: { ...bearer(token), ...(body ? { 'content-type': 'application/json' } : {}) }, payload: body ? JSON.stringify(body) : undefined });
  return { status: r.statusCode, json: r.json() as Record<string, unknown> };
};
const taskOf = async (m: { mac: string; token: string }): Promise<TaskAnswer> => readTaskAnswer((await agent(m.token, 'GET', `${AGENT_PATHS.task}?mac=${m.mac}`)).json);

test('install: an inventoried machine never gets an install task; an approved one gets it only in a boot that may write', async () => {
  const inventoried = machineIn('inventoried', { write: true });
  assert.equal((await taskOf(inventoried)).task, 'wait');
  assert.equal(openDiskTask(t.store, inventoried.id), undefined);

  const noWrite = machineIn('approved', { write: false });
  const a = await taskOf(noWrite);
  assert.equal(a.task, 'reboot');
  assert.match(a.reason, /may not write/);
  assert.equal(t.store.mustGetMachine(noWrite.id).state, 'approved');

  const m = machineIn('approved', { write: true });
  const b = await taskOf(m);
  assert.equal(b.task, 'install', b.reason);
  assert.equal(b.install!.manifest.raw.sha256, manifest.raw.sha256);
  assert.equal(b.install!.imageUrl, 'http://localhost:80/images/test-node/test-node.raw.zst');
  // The fixture's smallest non-rotational disk of at least 1 GiB, named with its serial.
  const disks = inv.disks as Disk[];
  const expected = pickTargetDisk(disks, { minSizeGiB: 1, serial: null, wwn: null }, manifest.raw.size);
  assert.ok('disk' in expected);
  assert.deepEqual(b.install!.target, expected.disk);
  assert.equal(t.store.mustGetMachine(m.id).state, 'installing');
  // A second poll (the agent restarted) gets the same task, not a second one.
  assert.equal((await taskOf(m)).install!.id, b.install!.id);

  // The image is served with Range from the catalog directory.
  const img = await t.app.inject({ method: 'GET', url: `/images/test-node/test-node.raw.zst`, headers: { range: `bytes=${manifest.chunks[1].offset}-` } });
  assert.equal(img.statusCode, 206, img.body);
  assert.equal(img.rawPayload.length, manifest.compressed.size - manifest.chunks[1].offset);
});

test('install: result with the right hash → written, disk boot, reboot; files once and only to the token\'s machine; phone-home → installed', async () => {
  const m = machineIn('approved', { write: true });
  const other = machineIn('approved', { write: true });
  const task = (await taskOf(m)).install!;
  const p = await agent(m.token, 'POST', AGENT_PATHS.progress, { version: 1, mac: m.mac, taskId: task.id, phase: 'downloading', bytesDone: 1000, bytesTotal: manifest.raw.size, rateBps: 5e7 });
  assert.equal(p.status, 200, JSON.stringify(p.json));
  assert.equal(getDiskTask(t.store, task.id)!.bytesDone, 1000);
  // The UI's progress bar reads the timeline: one event per phase change or every 2 s, not per report.
  await agent(m.token, 'POST', AGENT_PATHS.progress, { version: 1, mac: m.mac, taskId: task.id, phase: 'downloading', bytesDone: 2000, bytesTotal: manifest.raw.size, rateBps: 5e7 });
  const progressEvents = t.store.listEvents({ machineId: m.id, kind: 'install', limit: 10 }).filter((e) => e.data?.task === task.id);
  assert.equal(progressEvents.length, 1);
  assert.deepEqual(progressEvents[0].data, { task: task.id, phase: 'downloading', bytes: 1000, total: manifest.raw.size, rate: 5e7 });

  // Another machine's token (a forged MAC on the LAN) gets nothing.
  const forged = await agent(other.token, 'GET', `${AGENT_PATHS.files}?mac=${m.mac}&taskId=${task.id}`);
  assert.equal(forged.status, 403);
  const wrongTask = await agent(other.token, 'GET', `${AGENT_PATHS.files}?mac=${other.mac}&taskId=${task.id}`);
  assert.equal(wrongTask.status, 404);

  const files = await agent(m.token, 'GET', `${AGENT_PATHS.files}?mac=${m.mac}&taskId=${task.id}`);
  assert.equal(files.status, 200, JSON.stringify(files.json));
  const list = files.json.files as Array<{ path: string; contentBase64: string; mode: number }>;
  assert.deepEqual(list.map((f) => f.path), ['etc/hostname', 'etc/systemd/network/10-tether.network', 'etc/tether/firstboot.json']);
  const firstboot = JSON.parse(Buffer.from(list[2].contentBase64, 'base64').toString()) as { token: string; installId: string; mac: string; url: string };
  assert.equal(list[2].mode, 0o600);
  assert.equal(firstboot.installId, task.id);
  assert.equal(firstboot.mac, m.mac);
  assert.equal((await agent(m.token, 'GET', `${AGENT_PATHS.files}?mac=${m.mac}&taskId=${task.id}`)).status, 409, 'files are released once');

  // Phone-home before the image is written is refused.
  const early = await agent(firstboot.token, 'POST', AGENT_PATHS.phoneHome, { version: 1, mac: m.mac, installId: task.id });
  assert.equal(early.status, 409);

  const r = await agent(m.token, 'POST', AGENT_PATHS.result, { version: 1, mac: m.mac, taskId: task.id, kind: 'install', ok: true, rawSha256: manifest.raw.sha256, bytesWritten: manifest.raw.size });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(r.json.status, 'written');
  assert.equal((r.json.task as TaskAnswer).task, 'reboot');
  const script = await t.app.inject({ method: 'GET', url: `/boot/ipxe?mac=${m.mac}&platform=efi` });
  assert.match(script.body, /booting its local disk/);

  assert.equal((await agent(m.token, 'POST', AGENT_PATHS.phoneHome, { version: 1, mac: m.mac, installId: task.id })).status, 401, 'the boot token is not a phone-home token');
  assert.equal((await agent(firstboot.token, 'POST', AGENT_PATHS.phoneHome, { version: 1, mac: other.mac, installId: task.id })).status, 403);
  const home = await agent(firstboot.token, 'POST', AGENT_PATHS.phoneHome, { version: 1, mac: m.mac, installId: task.id, kernel: '6.1.0-test' });
  assert.equal(home.status, 200, JSON.stringify(home.json));
  assert.equal(home.json.state, 'installed');
  assert.equal((await agent(firstboot.token, 'POST', AGENT_PATHS.phoneHome, { version: 1, mac: m.mac, installId: task.id })).json.state, 'installed', 'a repeated phone-home is harmless');
  const states = t.store.listEvents({ machineId: m.id, kind: 'transition', limit: 10 }).map((e) => e.to).reverse();
  assert.deepEqual(states.slice(-3), ['approved', 'installing', 'installed']);
});

test('install: a result whose read-back hash differs fails the machine with "sha256 mismatch"; a failed result keeps the agent\'s reason', async () => {
  const m = machineIn('approved', { write: true });
  const task = (await taskOf(m)).install!;
  const bad = createHash('sha256').update('not the image').digest('hex');
  const r = await agent(m.token, 'POST', AGENT_PATHS.result, { version: 1, mac: m.mac, taskId: task.id, kind: 'install', ok: true, rawSha256: bad });
  assert.equal(r.json.status, 'failed');
  const after = t.store.mustGetMachine(m.id);
  assert.equal(after.state, 'failed');
  assert.match(String(after.stateReason), /sha256 mismatch/);

  const m2 = machineIn('approved', { write: true });
  const task2 = (await taskOf(m2)).install!;
  await agent(m2.token, 'POST', AGENT_PATHS.result, { version: 1, mac: m2.mac, taskId: task2.id, kind: 'install', ok: false, reason: 'sha256 mismatch in chunk 3 (bytes 196608-262143)' });
  assert.match(String(t.store.mustGetMachine(m2.id).stateReason), /chunk 3/);
  // The finished task takes no more reports.
  assert.equal((await agent(m2.token, 'POST', AGENT_PATHS.result, { version: 1, mac: m2.mac, taskId: task2.id, kind: 'install', ok: true, rawSha256: manifest.raw.sha256 })).status, 409);
});

test('wipe: a wiping machine gets a wipe task naming its disks (full when the operator asked); success → discovered', async () => {
  const m = machineIn('wiping', { write: true });
  const a = await taskOf(m);
  assert.equal(a.task, 'wipe', a.reason);
  assert.deepEqual(a.wipe!.disks.map((d) => d.name), (inv.disks as Disk[]).filter((d) => d.removable !== true).map((d) => d.name));
  assert.equal(a.wipe!.full, false);
  const r = await agent(m.token, 'POST', AGENT_PATHS.result, { version: 1, mac: m.mac, taskId: a.wipe!.id, kind: 'wipe', ok: true });
  assert.equal(r.status, 200);
  assert.equal(t.store.mustGetMachine(m.id).state, 'discovered');

  // Through the API: an operator asks for a full overwrite; the task carries it.
  const m2 = machineIn('inventoried', { write: true });
  const act = await t.app.inject({ method: 'POST', url: `/api/v1/machines/${m2.id}/actions/wipe`, headers: bearer(t.tokens.operator), payload: { full: true } });
  assert.equal(act.statusCode, 200, act.body);
  assert.equal((await taskOf(m2)).wipe!.full, true);
  const wrong = await t.app.inject({ method: 'POST', url: `/api/v1/machines/${m2.id}/actions/rescue`, headers: bearer(t.tokens.operator), payload: { full: true } });
  assert.equal(wrong.statusCode, 400);
});

test('images API: the catalog with its default per zone, signer and sizes; the discovery OS says what is missing', async () => {
  const r = await t.app.inject({ method: 'GET', url: '/api/v1/images', headers: bearer(t.tokens.viewer) });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json() as { images: Array<Record<string, unknown>>; defaults: Record<string, string | null>; discovery: { manifest: unknown; problem: string } };
  assert.equal(body.images.length, 1);
  assert.equal(body.images[0].name, 'test-node');
  assert.equal(body.images[0].installable, true);
  assert.deepEqual(body.images[0].raw, manifest.raw);
  assert.equal(body.images[0].signedBy, manifest.signature!.keyId);
  assert.deepEqual(body.defaults, { 'zone-a': 'test-node', 'zone-b': 'test-node' }, 'a catalog of one image is every zone\'s default');
  assert.equal(body.discovery.manifest, null);
  assert.match(body.discovery.problem, /images\/discovery\/build.ts/);
  assert.equal((await t.app.inject({ method: 'GET', url: '/api/v1/images' })).statusCode, 401);
});

test('target disk: serial/WWN hints are exact; otherwise the smallest non-rotational disk large enough', () => {
  const d = (name: string, gib: number, rotational: boolean, serial: string, removable = false): Disk => ({
    name, sizeBytes: gib * GIB, rotational, serial, wwn: { absent: 'none' }, model: 'm', transport: 'sata', removable,
  });
  const disks = [d('sda', 4000, true, 'HDD1'), d('sdb', 480, false, 'SSD1'), d('sdc', 240, false, 'SSD2'), d('sdd', 16, false, 'USB1', true), d('sde', 2, false, 'TINY')];
  const hint = { minSizeGiB: 8, serial: null, wwn: null };
  assert.deepEqual(pickTargetDisk(disks, hint, GIB), { disk: { name: 'sdc', sizeBytes: 240 * GIB, serial: 'SSD2', wwn: null }, why: 'smallest non-rotational disk of at least 8.0 GiB' });
  const bySerial = pickTargetDisk(disks, { ...hint, serial: 'HDD1' }, GIB);
  assert.ok('disk' in bySerial && bySerial.disk.name === 'sda');
  assert.match(String((pickTargetDisk(disks, { ...hint, serial: 'NOPE' }, GIB) as { problem: string }).problem), /no disk with serial NOPE/);
  assert.match(String((pickTargetDisk(disks, { ...hint, minSizeGiB: 8000 }, GIB) as { problem: string }).problem), /no non-removable disk of at least 8000/);
  const onlyHdd = pickTargetDisk([d('sda', 4000, true, 'HDD1')], hint, GIB);
  assert.ok('disk' in onlyHdd && /rotational or unknown/.test(onlyHdd.why));
});
