// The console channel against appliances that do not offer it: an older appliance (404) and one
// that is not there at all. The agent must say so once, keep asking slowly, and stop when told.
// (The channel against the real appliance: appliance/http/agent-shell.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { consoleChannel } from './channel.ts';
import { CONSOLE_PATH } from './protocol.ts';
import { waitFor } from '../../test/lib/wait.ts';
import type { AgentConfig } from '../cmdline.ts';
import { CONSOLE_MODES, runAgent } from '../run.ts';
import type { ApplianceClient } from '../client.ts';
import { PROTOCOL_VERSION, type Inventory, type TaskAnswer } from '../protocol.ts';

const cfg = (url: string): AgentConfig => ({ url, token: 'abcdefghij.secret-secret-secret-secret-secret', mac: '52:54:00:aa:00:01', mode: 'discovery', write: false });

test('console channel: an appliance without it (404) is told once; the agent keeps asking, slowly, until stopped', { timeout: 30_000 }, async () => {
  const seen: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    seen.push(req);
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not_found', message: `Route GET:${req.url} not found` }));
  });
  // An appliance that never had the channel answers the upgrade like any unknown route.
  server.on('upgrade', (req, socket) => { seen.push(req); socket.end('HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n'); });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const logs: string[] = [];
  const ch = consoleChannel(cfg(url), { log: (m) => logs.push(m), retry: { absentMs: 100 } });
  ch.start();
  const upgrades = () => seen.filter((r) => r.headers.upgrade === 'websocket');
  await waitFor('three attempts', () => upgrades().length >= 3, { seen: () => logs });
  assert.deepEqual(logs, [`the appliance offers no console channel (${CONSOLE_PATH}: 404; an older appliance?); the agent works on without it and asks again every ${100 / 60_000} min`]);
  // Every attempt presents this boot's token and names the machine, like the agent's other calls.
  for (const r of seen) {
    assert.equal(r.headers.authorization, `Bearer ${cfg(url).token}`);
    assert.equal(r.url, `${CONSOLE_PATH}?mac=52%3A54%3A00%3Aaa%3A00%3A01&mode=discovery&version=1`);
  }
  assert.equal(ch.connected, false);
  await ch.stop('test over');
  const after = seen.length;
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(seen.length, after, 'no attempts after stop');
  server.close();
});

test('console channel: an unreachable appliance is a problem said once, retried with backoff', { timeout: 30_000 }, async () => {
  // A port nothing listens on: take one and give it back.
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  const logs: string[] = [];
  const ch = consoleChannel(cfg(`http://127.0.0.1:${port}`), { log: (m) => logs.push(m), retry: { maxBackoffMs: 50 }, random: () => 0 });
  ch.start();
  await waitFor('the problem to be said', () => logs.length > 0);
  await new Promise((r) => setTimeout(r, 600)); // more failed attempts at ≤ 50 ms each
  await ch.stop('test over');
  assert.equal(logs.length, 1, JSON.stringify(logs));
  assert.match(logs[0], /^cannot reach the appliance for the console channel \(.*\); retrying$/);
});

test('agent: the console channel starts once the boot has reported and stops before the power action', { timeout: 30_000 }, async () => {
  const order: string[] = [];
  const answer = (task: TaskAnswer['task']): TaskAnswer => ({ version: PROTOCOL_VERSION, task, reason: `test ${task}`, pollAfterS: 1 });
  const client: ApplianceClient = {
    report: async () => { order.push('report'); return { version: PROTOCOL_VERSION, machineId: 'm-1', state: 'inventoried', task: answer('wait') }; },
    heartbeat: async () => ({ version: PROTOCOL_VERSION, intervalS: 30 }),
    task: async () => { order.push('task'); return answer('reboot'); },
    progress: async () => {}, result: async () => {}, files: async () => [],
  };
  const deps = (mode: AgentConfig['mode']) => runAgent({ ...cfg('http://10.248.0.1:8080'), mode }, {
    client,
    collect: async () => ({}) as Inventory,
    power: async (a) => { order.push(`power ${a}`); },
    sleep: async () => {},
    log: () => {},
    uptimeS: () => 0,
    console: { start: () => { order.push('console start'); }, stop: async (why) => { order.push(`console stop: ${why}`); } },
  });
  for (const mode of CONSOLE_MODES) {
    order.length = 0;
    assert.equal(await deps(mode), 'reboot');
    assert.deepEqual(order, ['report', 'console start', 'task', 'console stop: the machine is going to reboot', 'power reboot'], mode);
  }
});
