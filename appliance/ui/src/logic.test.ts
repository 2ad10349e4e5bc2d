// The UI's pure logic (no DOM): boot timeline, install progress, which actions a state offers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootTimeline } from './boot-timeline.ts';
import { installProgress } from './install-progress.ts';
import { actionsFor } from './actions.ts';
import type { EventRecord } from './api.ts';

let id = 0;
const ev = (kind: string, data: Record<string, unknown> | null, at = 1000 * ++id): EventRecord =>
  ({ id: ++id, machineId: 'm-1', kind, from: null, to: null, actor: 'http', actorName: null, reason: null, data, at });

test('boot timeline: the latest boot from its first DHCP; TFTP skipped by iPXE ROMs; later steps waiting', () => {
  const old = [ev('boot', { step: 'dhcp' }), ev('boot', { step: 'tftp' }), ev('boot', { step: 'script' }), ev('boot', { step: 'kernel' }), ev('boot', { step: 'initrd' })];
  const now = [ev('boot', { step: 'dhcp' }), ev('boot', { step: 'dhcp' }), ev('transition', null), ev('boot', { step: 'script' }), ev('boot', { step: 'kernel' })];
  const steps = bootTimeline([...now, ...old].reverse())!;
  assert.deepEqual(steps.map((s) => `${s.step}:${s.status}`), ['dhcp:reached', 'tftp:skipped', 'script:reached', 'kernel:reached', 'initrd:waiting', 'agent:waiting']);
  assert.equal(steps[0].at, now[0].at, 'the first DHCP of the run');
  assert.equal(bootTimeline([ev('transition', null), ev('boot', { step: 'bogus' })]), null);
});

test('install progress: from the latest install event; percent, rate and ETA; bad data ignored', () => {
  const GiB = 1024 ** 3;
  const p = installProgress([ev('install', { bytes: GiB, total: 4 * GiB, rate: 100 * 1024 ** 2 }), ev('install', { bytes: 3 * GiB, total: 4 * GiB, rate: 128 * 1024 ** 2 })])!;
  assert.deepEqual([p.percent, p.etaSeconds], [75, 8]);
  assert.equal(installProgress([ev('install', { bytes: 5, total: 0 })]), null);
  assert.equal(installProgress([ev('install', { bytes: 'x', total: 10 })]), null);
  assert.equal(installProgress([ev('install', { bytes: 50, total: 10 })])!.percent, 100, 'clamped');
  assert.equal(installProgress([ev('install', { bytes: 5, total: 10 })])!.etaSeconds, null, 'no rate, no ETA');
});

test('actions: each state offers what the lifecycle allows, approve and install not both', () => {
  assert.deepEqual(actionsFor('inventoried'), ['approve', 'wipe', 'rescue']);
  assert.deepEqual(actionsFor('failed'), ['install', 'reinstall', 'wipe', 'rescue']);
  assert.deepEqual(actionsFor('ready'), ['reinstall', 'wipe', 'rescue']);
  assert.deepEqual(actionsFor('wiping'), ['rescue']);
  assert.deepEqual(actionsFor('rescue'), ['install', 'reinstall', 'wipe']);
});
