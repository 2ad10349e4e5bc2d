// kill -9 of the daemon in the middle of a burst of 1,000 transitions: after a restart the events
// table and the machine states agree, and every transition the API acknowledged is there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const root = new URL('../../', import.meta.url).pathname;

function startDaemon(config: string): Promise<{ proc: ChildProcess; url: string; output: () => string }> {
  const proc = spawn(process.execPath, [join(root, 'appliance/cli.ts'), 'serve', '-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`daemon did not start:\n${out}`)), 15_000);
    const onData = (d: Buffer) => {
      out += d;
      const m = /Tether listening on (http:\/\/[^"\s]+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ proc, url: m[1], output: () => out }); }
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    proc.once('exit', (code) => { clearTimeout(timer); reject(new Error(`daemon exited ${code}:\n${out}`)); });
  });
}

test('store: survives kill -9 mid-burst of 1,000 transitions with no committed event missing', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-crash-'));
  const config = join(dir, 'tether.yaml');
  writeFileSync(config, `dataDir: ${join(dir, 'data')}\nhttp:\n  listen: 127.0.0.1:0\nlog:\n  level: info\n`);
  let daemon: Awaited<ReturnType<typeof startDaemon>> | undefined;
  try {
    daemon = await startDaemon(config);
    const password = /password: (\S+)/.exec(daemon.output())![1];
    const login = await fetch(`${daemon.url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'admin', password }) });
    const { csrfToken } = await login.json() as { csrfToken: string };
    const cookie = login.headers.get('set-cookie')!.split(';')[0];
    const minted = await fetch(`${daemon.url}/api/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, 'x-csrf-token': csrfToken }, body: JSON.stringify({ name: 'burst' }) });
    const { token } = await minted.json() as { token: string };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    const machines: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await fetch(`${daemon.url}/api/v1/machines`, { method: 'POST', headers, body: JSON.stringify({ mac: `52:54:00:cc:00:${i.toString(16).padStart(2, '0')}` }) });
      machines.push(((await r.json()) as { id: string }).id);
    }

    // 20 machines × 50 moves, each machine's chain sequential, all machines in parallel.
    const acked: Array<{ machine: string; id: number; to: string }> = [];
    let killedAt = -1;
    const url = daemon.url;
    const proc = daemon.proc;
    const t0 = performance.now();
    await Promise.all(machines.map(async (id) => {
      for (let k = 0; k < 50; k++) {
        if (acked.length >= 400 && killedAt < 0) { killedAt = acked.length; proc.kill('SIGKILL'); }
        try {
          const r = await fetch(`${url}/api/v1/machines/${id}/actions/${k % 2 === 0 ? 'rescue' : 'wipe'}`, { method: 'POST', headers, body: '{}' });
          if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
          const { event } = await r.json() as { event: { id: number; to: string } };
          acked.push({ machine: id, id: event.id, to: event.to });
        } catch {
          return; // the daemon is gone: this machine's chain stops here
        }
      }
    }));
    assert.ok(killedAt > 0, 'the daemon was killed mid-burst');
    assert.ok(acked.length < 1000, 'the burst did not finish');
    if (proc.exitCode === null && proc.signalCode === null) await new Promise((r) => proc.once('exit', r));
    console.log(`crash: ${acked.length} transitions acknowledged before kill -9 (issued in ${(performance.now() - t0).toFixed(0)} ms)`);

    daemon = await startDaemon(config);
    let events = 0;
    for (const id of machines) {
      const r = await fetch(`${daemon.url}/api/v1/machines/${id}`, { headers });
      assert.equal(r.status, 200);
      const body = await r.json() as { machine: { state: string }; events: Array<{ id: number; from: string | null; to: string }> };
      const chain = body.events.slice().reverse();
      events += chain.length - 1;
      assert.equal(body.machine.state, chain.at(-1)!.to, `${id}: state agrees with its last event`);
      for (let i = 1; i < chain.length; i++) assert.equal(chain[i].from, chain[i - 1].to, `${id}: event ${chain[i].id} follows ${chain[i - 1].id}`);
      const ids = new Set(chain.map((e) => e.id));
      for (const a of acked.filter((x) => x.machine === id)) assert.ok(ids.has(a.id), `acknowledged event ${a.id} of ${id} survived`);
    }
    console.log(`crash: after restart ${events} transition events on disk, ${acked.length} acknowledged, all present, states agree`);
    assert.ok(events >= acked.length);
  } finally {
    daemon?.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
