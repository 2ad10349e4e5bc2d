import { test } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { Registry } from 'prom-client';
import { Store } from '../store/store.ts';
import { configFrom } from '../config/load.ts';
import { createCloud } from './cloud.ts';
import { cloudPlugin } from './plugin.ts';
import { silentLog, tempDir } from './testkit.ts';

test('plugin: GET /api/v1/cloud (viewer) and the gauges, for an unconfigured link', async () => {
  const { dir, cleanup } = tempDir('tether-cloud-plugin-');
  const store = Store.open(':memory:');
  const cloud = createCloud({ store, config: configFrom({ dataDir: dir }), log: silentLog, dataDir: dir });
  const app = Fastify();
  const access: Record<string, unknown> = {};
  app.addHook('onRoute', (r) => { access[`${r.method} ${r.url}`] = (r.config as { access?: string } | undefined)?.access; });
  const registry = new Registry();
  try {
    await app.register(cloudPlugin, { cloud, registry });
    assert.equal(access['GET /api/v1/cloud'], 'viewer');
    const r = await app.inject({ url: '/api/v1/cloud' });
    assert.equal(r.statusCode, 200);
    const body = r.json();
    assert.equal(body.configured, false);
    assert.equal(body.link.state, 'unconfigured');
    assert.deepEqual(body.outbox, { length: 0, oldestAt: null, lastError: null });
    assert.equal(body.pool.size, 4);
    const metrics = await registry.metrics();
    assert.match(metrics, /tether_cloud_link\{state="unconfigured"\} 1/);
    assert.match(metrics, /tether_cloud_link\{state="up"\} 0/);
    assert.match(metrics, /tether_cloud_outbox_length 0/);
    const bare = Fastify();
    await assert.rejects(async () => { await bare.register(cloudPlugin, {} as never); }, /needs the cloud link/);
    await bare.close();
  } finally {
    await app.close().catch(() => {});
    await cloud.stop();
    store.close();
    cleanup();
  }
});
