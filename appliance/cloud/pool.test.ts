import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, statSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../store/store.ts';
import { configFrom } from '../config/load.ts';
import { confirmMinted, insertBootstrapToken, listBootstrapTokens, putCloudCache } from '../store/cloud.ts';
import { createCloud, JoinRefusedError, tokenKeyPath } from './cloud.ts';
import { loadOrCreateKey, sealerFromKey } from './sealed.ts';
import { newBootstrapToken, tokenString } from './tokens.ts';
import { machineIn, opensslCa, silentLog, tempDir } from './testkit.ts';

test('sealed: AES-256-GCM round trip, bound to its token id, key file 0600 and created once', () => {
  const { dir, cleanup } = tempDir('tether-seal-');
  try {
    const path = join(dir, 'keys', 'k');
    const key = loadOrCreateKey(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.deepEqual(loadOrCreateKey(path), key, 'the second start reads the same key');
    const s = sealerFromKey(key);
    const sealed = s.seal('abcdef0123456789', 'abc123');
    assert.ok(!sealed.includes('abcdef0123456789'));
    assert.equal(s.open(sealed, 'abc123'), 'abcdef0123456789');
    assert.throws(() => s.open(sealed, 'zzz999'), 'a sealed secret moved to another token id does not open');
    writeFileSync(join(dir, 'short'), 'x');
    assert.throws(() => loadOrCreateKey(join(dir, 'short')), /not a 32-byte AES-256 key/);
  } finally {
    cleanup();
  }
});

/** A cloud whose link never comes up, with a pool minted "earlier" and the join inputs cached. */
async function offlineCloud(dir: string, poolSize: number) {
  const store = Store.open(join(dir, 'tether.db'));
  const config = configFrom({ site: 'dc1', dataDir: dir, cloud: { kubeconfig: join(dir, 'nowhere.kubeconfig'), pool: { size: poolSize } } });
  const cloud = createCloud({ store, config, log: silentLog, dataDir: dir });
  const sealer = sealerFromKey(loadOrCreateKey(tokenKeyPath(dir)));
  const secrets: string[] = [];
  for (let i = 0; i < poolSize; i++) {
    const t = newBootstrapToken();
    insertBootstrapToken(store, { id: t.id, sealed: sealer.seal(t.secret, t.id), machineId: null, expiresAt: Date.now() + 72 * 3_600_000 }, Date.now());
    confirmMinted(store, t.id, Date.now());
    secrets.push(t.secret);
  }
  putCloudCache(store, 'server', 'https://cp.example.test:6443', Date.now());
  putCloudCache(store, 'ca.crt', await opensslCa(dir), Date.now());
  putCloudCache(store, 'kubelet-config', 'kind: KubeletConfiguration\n', Date.now());
  return { store, cloud, secrets };
}

const tokenIn = (files: Array<{ path: string; contentBase64: string }>): string =>
  /token: (\S+)/.exec(Buffer.from(files.find((f) => f.path === 'etc/kubernetes/bootstrap-kubelet.conf')!.contentBase64, 'base64').toString())![1];

test('pool: consumed once under concurrent calls; the rest are deferred, not double-issued', async () => {
  const { dir, cleanup } = tempDir('tether-pool-');
  const { store, cloud } = await offlineCloud(dir, 5);
  try {
    const ids = Array.from({ length: 20 }, (_, i) => machineIn(store, 'installing', i));
    const results = await Promise.all(ids.map((id) => cloud.joinFilesFor(store.mustGetMachine(id), { nodeIp: '10.0.0.9', zone: 'zone-a', rack: 'r1' })));
    const given = results.filter((r) => r !== null).map((r) => tokenIn(r!));
    assert.equal(given.length, 5, 'exactly the pool');
    assert.equal(new Set(given).size, 5, 'no token handed out twice');
    const released = listBootstrapTokens(store, { state: 'released' });
    assert.equal(released.length, 5);
    assert.equal(new Set(released.map((t) => t.machineId)).size, 5, 'one machine per token');
    assert.equal(cloud.poolStatus().available, 0);
    const deferred = ids.filter((_, i) => results[i] === null);
    assert.equal(deferred.length, 15);
    for (const id of deferred) assert.match(store.listEvents({ machineId: id, kind: 'enrollment' })[0].reason!, /link is down and the token pool is empty/);
  } finally {
    await cloud.stop();
    store.close();
    cleanup();
  }
});

test('pool: a machine asking twice gets a new token and the first is revoked (one live credential per machine)', async () => {
  const { dir, cleanup } = tempDir('tether-pool-');
  const { store, cloud } = await offlineCloud(dir, 3);
  try {
    const id = machineIn(store, 'installing', 1);
    const [a, b] = await Promise.all([1, 2].map(() => cloud.joinFilesFor(store.mustGetMachine(id), { nodeIp: null, zone: null, rack: null })));
    assert.notEqual(tokenIn(a!), tokenIn(b!));
    const mine = listBootstrapTokens(store, { machineId: id });
    assert.deepEqual(mine.map((t) => t.state).sort(), ['released', 'revoking']);
    const outbox = store.db.prepare(`SELECT kind, key FROM cloud_outbox ORDER BY id`).all() as Array<{ kind: string; key: string }>;
    assert.ok(outbox.some((x) => x.kind === 'revoke-token' && x.key === `revoke-token:${mine.find((t) => t.state === 'revoking')!.id}`));
  } finally {
    await cloud.stop();
    store.close();
    cleanup();
  }
});

test('pool: token secrets never appear in the database files; only an approved/installing machine gets join files', async () => {
  const { dir, cleanup } = tempDir('tether-pool-');
  const { store, cloud, secrets } = await offlineCloud(dir, 4);
  try {
    for (const [n, state] of (['discovered', 'inventoried', 'installed', 'ready', 'failed', 'rescue'] as const).entries()) {
      const id = machineIn(store, state, 100 + n);
      await assert.rejects(cloud.joinFilesFor(store.mustGetMachine(id), { nodeIp: null, zone: null, rack: null }), JoinRefusedError, state);
    }
    assert.equal(cloud.poolStatus().available, 4, 'refusals consume nothing');
    const approved = machineIn(store, 'approved', 200);
    const files = await cloud.joinFilesFor(store.mustGetMachine(approved), { nodeIp: null, zone: null, rack: null });
    assert.ok(files);
    const bytes = Buffer.concat([join(dir, 'tether.db'), join(dir, 'tether.db-wal')].filter(existsSync).map((p) => readFileSync(p)));
    for (const s of secrets) {
      assert.equal(bytes.indexOf(s), -1, 'a token secret in the database file');
      assert.equal(bytes.indexOf(Buffer.from(s).toString('base64')), -1);
    }
    assert.ok(secrets.some((s) => tokenIn(files!).endsWith(`.${s}`)), 'the join file does carry the real secret');
    assert.match(tokenString({ id: 'abcdef', secret: '0123456789abcdef' }), /^[a-z0-9]{6}\.[a-z0-9]{16}$/);
  } finally {
    await cloud.stop();
    store.close();
    cleanup();
  }
});

test('pool: link down and pool empty — installed without join files, fetched later over the phone-home channel', async () => {
  const { dir, cleanup } = tempDir('tether-pool-');
  const { store, cloud } = await offlineCloud(dir, 0);
  try {
    const id = machineIn(store, 'installing', 1);
    assert.equal(await cloud.joinFilesFor(store.mustGetMachine(id), { nodeIp: null, zone: null, rack: null }), null);
    store.transition(id, () => ({ to: 'installed', actor: 'agent', reason: 'test: phoned home' }));
    cloud.onInstalled(id);
    const m = store.mustGetMachine(id);
    assert.equal(m.state, 'installed', 'no join files: not joining');
    assert.match(m.stateReason!, /Installed without join files/);
    // The link came back and the pool was refilled (seeded here, as the filler would).
    const sealer = sealerFromKey(loadOrCreateKey(tokenKeyPath(dir)));
    const t = newBootstrapToken();
    insertBootstrapToken(store, { id: t.id, sealed: sealer.seal(t.secret, t.id), machineId: null, expiresAt: Date.now() + 3_600_000 * 72 }, Date.now());
    confirmMinted(store, t.id, Date.now());
    const files = await cloud.joinFilesFor(store.mustGetMachine(id), { nodeIp: null, zone: null, rack: null });
    assert.equal(tokenIn(files!), tokenString(t));
    assert.equal(store.mustGetMachine(id).state, 'joining');
    await assert.rejects(cloud.joinFilesFor(store.mustGetMachine(id), { nodeIp: null, zone: null, rack: null }), JoinRefusedError, 'only once');
  } finally {
    await cloud.stop();
    store.close();
    cleanup();
  }
});
