import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, type Actor } from '../store/store.ts';
import { STATES, allowedActors, TRANSITIONS, type MachineState } from './states.ts';
import { ACTIONS, applyAction, checkTransition, discover, IllegalTransitionError, transition } from './lifecycle.ts';

const ACTORS: Actor[] = ['dhcp', 'tftp', 'http', 'agent', 'operator', 'rule', 'cloud', 'system'];

function machineIn(store: Store, state: MachineState, n: number) {
  const mac = `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
  const { machine } = discover(store, { mac, actor: 'dhcp' });
  // Place the machine directly in `state` (the store itself does not judge moves; the lifecycle does).
  if (state !== 'discovered') store.transition(machine.id, () => ({ to: state, actor: 'system', reason: 'test setup' }));
  return machine.id;
}

test('lifecycle: every (from, to, actor) triple is allowed exactly as the table says, and each allowed move writes its event', () => {
  const store = Store.open(':memory:');
  let n = 0;
  let allowed = 0;
  let refused = 0;
  for (const from of STATES) {
    for (const to of STATES) {
      for (const actor of ACTORS) {
        const id = machineIn(store, from, n++);
        const ok = allowedActors(from, to).includes(actor);
        if (ok) {
          const before = store.listEvents({ machineId: id }).length;
          const { machine, event } = transition(store, id, to, { actor, actorName: 'x', reason: 'table test' });
          assert.equal(machine.state, to);
          assert.equal(store.mustGetMachine(id).state, to);
          assert.deepEqual([event.from, event.to, event.actor], [from, to, actor]);
          const events = store.listEvents({ machineId: id });
          assert.equal(events.length, before + 1);
          assert.deepEqual([events[0].from, events[0].to, events[0].reason], [from, to, 'table test']);
          allowed++;
        } else {
          const before = store.listEvents({ machineId: id }).length;
          assert.throws(() => transition(store, id, to, { actor }), (e: unknown) => {
            assert.ok(e instanceof IllegalTransitionError, String(e));
            assert.equal(e.from, from);
            assert.equal(e.to, to);
            assert.ok(e.message.includes(`from ${from} to ${to}`), e.message);
            return true;
          });
          assert.equal(store.mustGetMachine(id).state, from, 'a refused move changes nothing');
          assert.equal(store.listEvents({ machineId: id }).length, before, 'a refused move writes no event');
          refused++;
        }
      }
    }
  }
  console.log(`lifecycle table: ${allowed} allowed and ${refused} refused (state, state, actor) triples checked`);
  assert.ok(allowed > 40 && refused > 1000);
  store.close();
});

test('lifecycle: the happy path of DESIGN.md is reachable with the right actors', () => {
  const store = Store.open(':memory:');
  const id = machineIn(store, 'discovered', 1);
  const path: Array<[MachineState, Actor]> = [
    ['inventoried', 'agent'], ['approved', 'rule'], ['installing', 'agent'], ['installed', 'agent'],
    ['joining', 'cloud'], ['enrolled', 'cloud'], ['ready', 'cloud'], ['headless', 'cloud'], ['ready', 'cloud'],
    ['wiping', 'operator'], ['discovered', 'agent'],
  ];
  for (const [to, actor] of path) transition(store, id, to, { actor });
  const events = store.listEvents({ machineId: id }).reverse();
  assert.deepEqual(events.map((e) => e.to), ['discovered', ...path.map(([s]) => s)]);
  store.close();
});

test('lifecycle: every rule names known states and at least one actor', () => {
  for (const [from, to, actors] of TRANSITIONS) {
    assert.ok(from === '*' || (STATES as readonly string[]).includes(from));
    assert.ok((STATES as readonly string[]).includes(to));
    assert.ok(actors.length > 0);
  }
  assert.throws(() => checkTransition('discovered', 'bogus', 'operator'), /unknown state bogus/);
});

test('lifecycle: operator actions map onto transitions, with the user as actor and clear refusals', () => {
  const store = Store.open(':memory:');
  const id = machineIn(store, 'discovered', 7);
  assert.throws(() => applyAction(store, id, 'approve', { actorName: 'alice' }), /from discovered to approved.*expected the machine to be inventoried/);
  transition(store, id, 'inventoried', { actor: 'agent' });
  const { event } = applyAction(store, id, 'approve', { actorName: 'alice' });
  assert.deepEqual([event.actor, event.actorName, event.to, event.data?.action], ['operator', 'alice', 'approved', 'approve']);
  assert.throws(() => applyAction(store, id, 'reinstall', { actorName: 'alice' }), IllegalTransitionError);
  applyAction(store, id, 'rescue', { actorName: 'bob' });
  applyAction(store, id, 'install', { actorName: 'bob' });
  applyAction(store, id, 'wipe', { actorName: 'bob' });
  assert.throws(() => applyAction(store, id, 'wipe', { actorName: 'bob' }), /already wiping/);
  assert.deepEqual([...ACTIONS].sort(), ['approve', 'install', 'reinstall', 'rescue', 'wipe']);
  store.close();
});

test('lifecycle: concurrent transitions on one machine from 4 connections serialize with no lost event', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-lc-'));
  try {
    const path = join(dir, 'tether.db');
    const store = Store.open(path);
    const id = machineIn(store, 'rescue', 1);
    const rounds = 250;
    const t0 = performance.now();
    const results = await Promise.all([0, 1, 2, 3].map((w) => new Promise<{ committed: number; refused: number }>((resolve, reject) => {
      const worker = new Worker(new URL('./fixtures/hammer.ts', import.meta.url), { workerData: { path, machineId: id, rounds, name: `w${w}` } });
      worker.once('message', resolve);
      worker.once('error', reject);
    })));
    const committed = results.reduce((a, r) => a + r.committed, 0);
    const events = store.listEvents({ machineId: id, limit: 1000 }).reverse().filter((e) => e.actor === 'operator');
    console.log(`concurrency: ${committed} committed, ${results.reduce((a, r) => a + r.refused, 0)} refused in ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(events.length, committed, 'one event per committed transition');
    for (let i = 1; i < events.length; i++) assert.equal(events[i].from, events[i - 1].to, `event ${events[i].id} follows its predecessor`);
    assert.equal(store.mustGetMachine(id).state, events.at(-1)!.to, 'the machine is in the state the last event says');
    assert.ok(committed >= rounds, 'most moves commit');
    store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
