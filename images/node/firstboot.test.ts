// The first-boot script for real: `sh` (dash, as on the node) with the image's curl, against a
// local HTTP server standing in for the appliance, in a fake root given by TETHER_ROOT.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { FIRSTBOOT_SCRIPT } from './firstboot.ts';
import { waitFor } from '../../test/lib/wait.ts';
import { FIRSTBOOT_PATHS, KUBELET_FILES } from './config.ts';

interface Seen { method: string; url: string; headers: IncomingHttpHeaders; body: string }

/** An appliance stand-in answering with the given statuses in turn (the last one repeats). */
async function appliance(statuses: number[]): Promise<{ url: string; seen: Seen[]; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      const status = statuses[Math.min(seen.length - 1, statuses.length - 1)];
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(status < 300 ? { ok: true } : { code: 'unauthorized', message: 'bad token' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => server.close(() => r())) };
}

const BOOT_ID = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const TOKEN = 'phabcdef0123.AbCdEfGhIjKlMnOpQrStUvWxYz012345-_';

/** A fake root with the staged first-boot config, a boot id, and a systemctl that records its arguments. */
function fakeRoot(config: unknown): { root: string; env: Record<string, string>; systemctlLog: string } {
  const root = mkdtempSync(join(tmpdir(), 'tether-firstboot-'));
  mkdirSync(join(root, 'etc/tether'), { recursive: true });
  if (config !== undefined) writeFileSync(join(root, FIRSTBOOT_PATHS.config), typeof config === 'string' ? config : `${JSON.stringify(config)}\n`, { mode: 0o600 });
  writeFileSync(join(root, 'boot_id'), `${BOOT_ID}\n`);
  writeFileSync(join(root, 'firstboot'), FIRSTBOOT_SCRIPT, { mode: 0o755 });
  const systemctlLog = join(root, 'systemctl.log');
  writeFileSync(join(root, 'systemctl'), `#!/bin/sh\necho "$*" >>'${systemctlLog}'\n`, { mode: 0o755 });
  mkdirSync(join(root, 'tmp'));
  return {
    root, systemctlLog,
    env: { TETHER_ROOT: root, TETHER_BOOT_ID_FILE: join(root, 'boot_id'), TETHER_SYSTEMCTL: join(root, 'systemctl'), TETHER_RETRY_MIN: '1', TETHER_RETRY_MAX: '1', TMPDIR: join(root, 'tmp') },
  };
}

const run = (f: ReturnType<typeof fakeRoot>) => execa('sh', [join(f.root, 'firstboot')], { env: f.env, reject: false, timeout: 60_000 });

test('the script is POSIX sh that dash parses', async () => {
  const f = fakeRoot(undefined);
  try {
    const r = await execa('sh', ['-n', join(f.root, 'firstboot')], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(FIRSTBOOT_SCRIPT.startsWith('#!/bin/sh\n'));
  } finally { rmSync(f.root, { recursive: true, force: true }); }
});

test('reports once to <url>/agent/v1/phone-home with the bearer token, retries a 503, marks done, restarts a joinable kubelet', async () => {
  const a = await appliance([503, 200]);
  const f = fakeRoot({ url: `${a.url}/`, mac: '52:54:00:12:34:56', installId: 't-abc_123', token: TOKEN });
  try {
    // A kubelet and its join files at their final paths: the script restarts kubelet.service.
    for (const p of ['/usr/bin/kubelet', KUBELET_FILES.config, KUBELET_FILES.bootstrapKubeconfig]) {
      mkdirSync(join(f.root, p, '..'), { recursive: true });
      writeFileSync(join(f.root, p), '#!/bin/sh\n');
    }
    chmodSync(join(f.root, 'usr/bin/kubelet'), 0o755);
    const r = await run(f);
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.equal(a.seen.length, 2, 'one retry after the 503');
    for (const s of a.seen) {
      assert.equal(s.method, 'POST');
      assert.equal(s.url, '/agent/v1/phone-home');
      assert.equal(s.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(s.headers['content-type'], 'application/json');
      assert.deepEqual(JSON.parse(s.body), { version: 1, mac: '52:54:00:12:34:56', installId: 't-abc_123', bootId: BOOT_ID, kernel: release() });
    }
    assert.ok(existsSync(join(f.root, FIRSTBOOT_PATHS.done)), 'the done marker');
    assert.equal(readFileSync(f.systemctlLog, 'utf8'), 'restart --no-block kubelet.service\n');
    const lines = r.stdout.split('\n').filter(Boolean);
    assert.ok(lines.every((l) => l.startsWith('tether-firstboot: ')), r.stdout);
    assert.match(r.stdout, /attempt 1 failed \(HTTP 503\); retrying/);
    assert.match(r.stdout, /reported \(HTTP 200, attempt 2\)/);
    assert.ok(!r.stdout.includes(TOKEN.split('.')[1]), 'the token secret is never logged');
    assert.deepEqual(readdirSync(join(f.root, 'tmp')), [], 'the token\'s header file is removed');

    // Run again (as systemd would not, thanks to the marker condition): nothing is sent.
    const again = await run(f);
    assert.equal(again.exitCode, 0);
    assert.equal(a.seen.length, 2);
    assert.match(again.stdout, /already reported/);
  } finally {
    await a.close();
    rmSync(f.root, { recursive: true, force: true });
  }
});

test('a 4xx stops it at once: exit 1, no marker, the appliance\'s answer logged; no kubelet means no restart', async () => {
  const a = await appliance([401]);
  const f = fakeRoot({ url: a.url, mac: '52:54:00:12:34:56', installId: 'install-1', token: TOKEN });
  try {
    const r = await run(f);
    assert.equal(r.exitCode, 1);
    assert.equal(a.seen.length, 1, 'no retry after a 4xx');
    assert.ok(!existsSync(join(f.root, FIRSTBOOT_PATHS.done)));
    assert.match(r.stdout, /refused the report \(HTTP 401\).*bad token/);
    assert.ok(!existsSync(f.systemctlLog));
  } finally {
    await a.close();
    rmSync(f.root, { recursive: true, force: true });
  }
});

test('an unreachable appliance is retried (curl fails, code 000) until it answers', async () => {
  const a = await appliance([204]);
  await a.close(); // a port nobody listens on
  const f = fakeRoot({ url: a.url, mac: '52:54:00:12:34:56', installId: 'install-1', token: TOKEN });
  const child = run(f);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
  try {
    // Until the second retry shows (not a fixed sleep: on a loaded machine sh and curl start slowly).
    await waitFor('the second retry', () => /attempt 2 failed/.test(out), { timeoutMs: 60_000, everyMs: 100, seen: () => out });
    assert.ok(!existsSync(join(f.root, FIRSTBOOT_PATHS.done)));
  } finally {
    child.kill('SIGTERM');
    const r = await child;
    assert.match(r.stdout, /attempt 1 failed \(curl: \(7\)[^)]*\); retrying/);
    assert.match(r.stdout, /attempt 2 failed/);
    rmSync(f.root, { recursive: true, force: true });
  }
});

test('no config: nothing to report; a malformed config is refused before anything is sent', async () => {
  const none = fakeRoot(undefined);
  try {
    const r = await run(none);
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /no .*firstboot\.json: nothing to report/);
  } finally { rmSync(none.root, { recursive: true, force: true }); }

  const a = await appliance([200]);
  try {
    const good = { url: a.url, mac: '52:54:00:12:34:56', installId: 'install-1', token: TOKEN };
    const bad: Array<[string, unknown]> = [
      ['mac', { ...good, mac: '52-54-00-12-34-56' }],
      ['token', { ...good, token: 'a"b' }],
      ['token', { ...good, token: undefined }],
      ['installId', { ...good, installId: 'x y' }],
      ['url', { ...good, url: 'file:///etc/passwd' }],
      ['url', { ...good, url: 'http://host/`reboot`' }],
    ];
    for (const [field, config] of bad) {
      const f = fakeRoot(config);
      try {
        const r = await run(f);
        assert.equal(r.exitCode, 1, field);
        assert.match(r.stdout, new RegExp(`${field} is missing or malformed`), JSON.stringify(config));
      } finally { rmSync(f.root, { recursive: true, force: true }); }
    }
    assert.equal(a.seen.length, 0);
  } finally { await a.close(); }
});
