import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import uiPlugin from './ui.ts';

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tether-ui-dist-'));
  await mkdir(join(root, 'built', 'assets'), { recursive: true });
  await writeFile(join(root, 'built', 'index.html'), '<!doctype html><script type="module" src="/ui/assets/app-abc123.js"></script>');
  await writeFile(join(root, 'built', 'assets', 'app-abc123.js'), 'console.log(1)');
});
after(() => rm(root, { recursive: true, force: true }));

async function app(dir: string) {
  // ignoreTrailingSlash as in buildApp: /ui/ must still reach the app.
  const a = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
  await a.register(uiPlugin, { root: dir });
  return a;
}

test('ui: every app path gets the page (no-store, CSP); hashed assets are immutable; unknown assets 404', async () => {
  const a = await app(join(root, 'built'));
  for (const url of ['/ui', '/ui/', '/ui/site', '/ui/machines/m-0123456789']) {
    const r = await a.inject({ url });
    assert.equal(r.statusCode, 200, url);
    assert.match(r.body, /app-abc123\.js/);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.match(String(r.headers['content-security-policy']), /default-src 'self'; script-src 'self'/);
  }
  const js = await a.inject({ url: '/ui/assets/app-abc123.js' });
  assert.equal(js.statusCode, 200);
  assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.match(String(js.headers['cache-control']), /immutable/);
  for (const url of ['/ui/assets/missing.js', '/ui/assets/..%2Findex.html', '/ui/assets/%2e%2e%2f%2e%2e%2fpackage.json']) {
    assert.equal((await a.inject({ url })).statusCode, 404, url);
  }
  const home = await a.inject({ url: '/' });
  assert.equal(home.statusCode, 302);
  assert.equal(home.headers.location, '/ui/');
  await a.close();
});

test('ui: without a build, a page says how to build it (503) and no asset is served', async () => {
  const a = await app(join(root, 'nothing-here'));
  const r = await a.inject({ url: '/ui/site' });
  assert.equal(r.statusCode, 503);
  assert.match(r.body, /has not been built/);
  assert.match(r.body, /npm run build:ui/);
  assert.equal((await a.inject({ url: '/ui/assets/app-abc123.js' })).statusCode, 404);
  await a.close();
});
