import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NO_WRITE_REASON, runAgent, type AgentDeps, type PowerAction } from './run.ts';
import { ApplianceError, backoffMs, type ApplianceClient } from './client.ts';
import { PROTOCOL_VERSION, readTaskAnswer, type Disk, type Heartbeat, type InstallSpec, type Inventory, type Progress, type Report, type StagedFile, type TaskAnswer, type TaskResult } from './protocol.ts';
import { diskRef, fileSha, installSpec, makeImage, serveImage, sha256 } from './install/test-image.ts';
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
    progress: async () => {},
    result: async () => {},
    files: async () => [],
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

// --- install and wipe -----------------------------------------------------------------------------

/**
 * An agent whose disk `vdz` is a real temp file, with an image server on 127.0.0.1: if any guard
 * failed, these tests would see the file change (the `write: true` test proves the setup can write).
 */
async function diskWorld(o: { write: boolean; tasks: (spec: InstallSpec) => TaskAnswer[]; serial?: string; progressFails?: boolean }) {
  const img = await makeImage({ chunks: 4, chunkBytes: 128 * 1024 });
  const srv = await serveImage(img.zst);
  const disk = join(img.dir, 'vdz.img');
  const size = img.manifest.raw.size + 1024 * 1024;
  execFileSync('truncate', ['-s', String(size), disk]);
  writeFileSync(disk, Buffer.from('an old OS lives here'), { flag: 'r+' });
  const before = fileSha(disk);
  const spec = installSpec(img, srv.url, diskRef('vdz', size, 'SN-VDZ'));
  const results: TaskResult[] = [];
  const progress: Progress[] = [];
  const staged: Array<{ disk: string; files: StagedFile[] }> = [];
  const filesAsked: string[] = [];
  const logs: string[] = [];
  const files: StagedFile[] = [{ path: 'etc/hostname', mode: 0o644, contentBase64: Buffer.from('node-1\n').toString('base64') }];
  const tasks = o.tasks(spec);
  let clock = 0;
  const client: ApplianceClient = {
    report: async () => ({ version: PROTOCOL_VERSION, machineId: 'm-1', state: 'installing', task: tasks.shift()! }),
    heartbeat: async () => ({ version: PROTOCOL_VERSION, intervalS: 30 }),
    task: async () => { const t = tasks.shift(); if (!t) throw new Error('script ran out of tasks'); return t; },
    progress: async (p) => { progress.push(p); if (o.progressFails) throw new TypeError('fetch failed'); },
    result: async (r) => { results.push(r); },
    files: async (taskId) => { filesAsked.push(taskId); return files; },
  };
  const listing: Disk[] = [{ name: 'vdz', sizeBytes: size, model: 'QEMU', serial: o.serial ?? 'SN-VDZ', wwn: { absent: 'none' }, rotational: false, transport: 'virtio', removable: false }];
  const deps: AgentDeps = {
    client,
    collect: async () => ({ agentVersion: 'test' }) as unknown as Inventory,
    power: async () => {},
    sleep: async (ms) => { clock += ms / 1000; },
    log: (m) => logs.push(m),
    uptimeS: () => clock,
    random: () => 1,
    disks: {
      list: async () => listing,
      devicePath: (name) => (name === 'vdz' ? disk : `/nonexistent/${name}`),
      stage: async (s) => { staged.push({ disk: s.disk, files: s.files }); },
    },
  };
  const power = await runAgent({ ...cfg, write: o.write }, deps);
  await srv.close();
  const out = { power, results, progress, staged, filesAsked, logs, requests: srv.requests, img, disk, before, after: fileSha(disk), written: sha256(readFileSync(disk).subarray(0, img.manifest.raw.size)) };
  rmSync(img.dir, { recursive: true, force: true });
  return out;
}

const installTask = (spec: InstallSpec): TaskAnswer => ({ version: PROTOCOL_VERSION, task: 'install', reason: 'approved', pollAfterS: 5, install: spec });
const wipeTask = (full: boolean): TaskAnswer => ({ version: PROTOCOL_VERSION, task: 'wipe', reason: 'operator asked', pollAfterS: 5, wipe: { id: 'wipe-1', full, disks: [{ name: 'vdz', sizeBytes: 0, serial: 'SN-VDZ', wwn: null }] } });

test('agent: without tether.write=1 an install or wipe task touches nothing and is answered with a refusal', async () => {
  const w = await diskWorld({ write: false, tasks: (spec) => [installTask(spec), { ...wipeTask(true), wipe: { ...wipeTask(true).wipe!, disks: [spec.target] } }, task('poweroff')] });
  assert.equal(w.power, 'poweroff', 'the agent kept polling after refusing');
  assert.equal(w.after, w.before, 'the disk file is byte for byte unchanged');
  assert.equal(w.requests.length, 0, 'the image was not even downloaded');
  assert.deepEqual(w.results.map((r) => [r.kind, r.taskId, r.ok, r.reason]), [
    ['install', 'inst-1', false, 'this boot does not allow disk writes (kernel command line lacks tether.write=1)'],
    ['wipe', 'wipe-1', false, 'this boot does not allow disk writes (kernel command line lacks tether.write=1)'],
  ]);
  assert.equal(w.results[0].reason, NO_WRITE_REASON);
  assert.deepEqual(w.progress, []);
  assert.deepEqual(w.staged, []);
});

test('agent: with tether.write=1 it installs, verifies, stages the files and reports, then obeys reboot', async () => {
  const w = await diskWorld({ write: true, tasks: (spec) => [installTask(spec), task('reboot')] });
  assert.equal(w.power, 'reboot');
  assert.equal(w.results.length, 1);
  const r = w.results[0];
  assert.deepEqual({ ...r }, { version: PROTOCOL_VERSION, mac: cfg.mac, taskId: 'inst-1', kind: 'install', ok: true, rawSha256: w.img.manifest.raw.sha256, bytesWritten: w.img.manifest.raw.size });
  assert.equal(w.written, w.img.manifest.raw.sha256, 'the disk file holds the image');
  assert.deepEqual(w.filesAsked, ['inst-1']);
  assert.equal(w.staged.length, 1);
  assert.equal(w.staged[0].disk, w.disk);
  assert.equal(w.staged[0].files[0].path, 'etc/hostname');
  const phases = [...new Set(w.progress.map((p) => p.phase))];
  assert.ok(phases.includes('downloading') && phases.includes('verifying') && phases.includes('staging'), phases.join());
  assert.ok(w.progress.every((p) => p.taskId === 'inst-1' && p.mac === cfg.mac));
});

test('agent: a failing progress post is logged, never fatal; a repeated task id is answered, not redone', async () => {
  const w = await diskWorld({ write: true, progressFails: true, tasks: (spec) => [installTask(spec), installTask(spec), task('reboot')] });
  assert.equal(w.power, 'reboot');
  assert.deepEqual(w.results.map((r) => r.ok), [true, true]);
  assert.deepEqual(w.results[1], w.results[0]);
  assert.equal(w.requests.length, 1, 'the image was written once');
  assert.match(w.logs.join('\n'), /progress post failed: fetch failed/);
  assert.match(w.logs.join('\n'), /already done \(ok: true\); sending its result again/);
});

test('agent: a disk whose serial changed since the inventory is refused and left alone', async () => {
  const w = await diskWorld({ write: true, serial: 'SN-OTHER', tasks: (spec) => [installTask(spec), task('poweroff')] });
  assert.equal(w.after, w.before);
  assert.equal(w.requests.length, 0);
  assert.equal(w.results[0].ok, false);
  assert.match(w.results[0].reason!, /disk vdz is not the disk the task was made for: serial is SN-OTHER, the task expects SN-VDZ/);
});

test('agent: a wipe with tether.write=1 zeroes the disk and reports the bytes', async () => {
  const w = await diskWorld({ write: true, tasks: (spec) => [{ ...wipeTask(true), wipe: { ...wipeTask(true).wipe!, disks: [spec.target] } }, task('poweroff')] });
  assert.deepEqual(w.results.map((r) => [r.kind, r.ok]), [['wipe', true]]);
  assert.equal(w.results[0].bytesWritten, w.img.manifest.raw.size + 1024 * 1024);
  assert.notEqual(w.after, w.before);
  assert.ok(w.progress.some((p) => p.phase === 'wiping'));
});
