import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runAgent, type AgentDeps, type PowerAction } from './run.ts';
import { ApplianceError, backoffMs, type ApplianceClient } from './client.ts';
import { PROTOCOL_VERSION, readTaskAnswer, type Heartbeat, type Inventory, type Report, type TaskAnswer } from './protocol.ts';
import type { AgentConfig } from './cmdline.ts';

const cfg: AgentConfig = { url: 'http://10.248.0.1:8080', token: 'abc.def', mac: '52:54:00:aa:00:01', mode: 'discovery', write: false };
const task = (kind: TaskAnswer['task'], pollAfterS = 5): TaskAnswer => ({ version: PROTOCOL_VERSION, task: kind, reason: `test ${kind}`, pollAfterS });

/** A scripted appliance: each call takes the next scripted outcome (a value or an error to throw). */
function harness(script: { report: Array<unknown>; task: Array<unknown> }) {
  const calls: string[] = [];
  const sleeps: number[] = [];
  const beats: Heartbeat[] = [];
  const reports: Report[] = [];
  const powered: PowerAction[] = [];
  let clock = 0;
  const next = (list: unknown[], name: string) => {
    calls.push(name);
    const v = list.shift();
    if (v === undefined) throw new Error(`script ran out of ${name} answers`);
    if (v instanceof Error) throw v;
    return v;
  };
  const client: ApplianceClient = {
    report: async (r) => { reports.push(r); return next(script.report, 'report') as never; },
    heartbeat: async (h) => { beats.push(h); return { version: PROTOCOL_VERSION, intervalS: 30 }; },
    task: async () => next(script.task, 'task') as TaskAnswer,
  };
  const deps: AgentDeps = {
    client,
    collect: async () => ({ agentVersion: 'test' }) as unknown as Inventory,
    power: async (a) => { powered.push(a); },
    sleep: async (ms) => { sleeps.push(ms); clock += ms / 1000; },
    log: () => {},
    uptimeS: () => clock,
    random: () => 1,
  };
  return { deps, calls, sleeps, beats, reports, powered };
}

test('agent: retries the report with backoff while the appliance is unreachable, then obeys the tasks', async () => {
  const down = new TypeError('fetch failed');
  const h = harness({
    report: [down, down, new ApplianceError(503, 'internal', 'starting'), { version: 1, machineId: 'm-1', state: 'inventoried', task: task('wait', 7) }],
    task: [task('none', 3), task('poweroff')],
  });
  assert.equal(await runAgent(cfg, h.deps), 'poweroff');
  assert.deepEqual(h.calls, ['report', 'report', 'report', 'report', 'task', 'task']);
  assert.deepEqual(h.sleeps, [1000, 2000, 4000, 7000, 3000], 'backoff 1-2-4 s, then the answers\' poll intervals');
  assert.deepEqual(h.powered, ['poweroff']);
  assert.deepEqual(h.reports[0], { version: PROTOCOL_VERSION, mac: cfg.mac, inventory: { agentVersion: 'test' } });
  assert.equal(h.beats[0].phase, 'collecting');
});

test('agent: a spent token (409, its earlier answer was lost) is not retried; reboot is obeyed', async () => {
  const h = harness({ report: [new ApplianceError(409, 'conflict', 'this boot already reported')], task: [task('reboot')] });
  assert.equal(await runAgent(cfg, h.deps), 'reboot');
  assert.deepEqual(h.calls, ['report', 'task']);
});

test('agent: a refused report (400) is not retried; the heartbeat carries the problem to the appliance', async () => {
  const h = harness({ report: [new ApplianceError(400, 'bad_request', 'body.inventory.cpu must be object')], task: [task('wait', 40), task('poweroff')] });
  await runAgent(cfg, h.deps);
  assert.deepEqual(h.calls, ['report', 'task', 'task']);
  const idle = h.beats.find((b) => b.phase === 'idle');
  assert.match(idle?.message ?? '', /report refused: appliance answered 400 bad_request: body\.inventory\.cpu must be object/);
});

test('agent: an unknown task kind from a newer appliance means wait, never a guess', () => {
  assert.deepEqual(readTaskAnswer({ version: 1, task: 'format-all', reason: 'x', pollAfterS: 5 }), { version: 1, task: 'wait', reason: 'unknown task "format-all" (protocol 1); waiting', pollAfterS: 5 });
  // A known destructive kind without a sound spec is refused the same way.
  assert.match(readTaskAnswer({ version: 1, task: 'install', reason: 'x', pollAfterS: 5 }).reason, /^install task refused: install spec missing/);
  assert.match(readTaskAnswer({ version: 1, task: 'wipe', wipe: { id: 'w1', full: false, disks: [{ name: '../sda', sizeBytes: 1, serial: null, wwn: null }] } }).reason, /disk name is malformed/);
  assert.equal(readTaskAnswer(null).task, 'wait');
  assert.equal(readTaskAnswer({ version: 2, task: 'poweroff' }).task, 'wait');
  assert.equal(readTaskAnswer({ version: 1, task: 'poweroff', pollAfterS: 1e9 }).pollAfterS, 10);
});

test('agent: backoff doubles to a 30 s cap, jittered between half and all of it', () => {
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 30].map((n) => backoffMs(n, () => 1)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  assert.equal(backoffMs(5, () => 0), 15000);
});
