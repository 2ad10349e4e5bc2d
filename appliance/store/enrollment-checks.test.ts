import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from './store.ts';
import { clearEnrollmentChecks, getEnrollmentChecks, saveEnrollmentChecks, type CheckResult } from './enrollment-checks.ts';

const check = (id: string, status: CheckResult['status'], detail = `${id} ${status}`): CheckResult => ({ id, title: `title of ${id}`, status, detail, fix: status === 'failing' ? `fix ${id}` : null });

test('enrollment checks: replaced as a whole per pass, in order; one event per change staff can see; since survives unchanged passes', () => {
  const store = Store.open(':memory:');
  const { machine } = store.createMachine({ bootMac: '52:54:00:00:00:01', state: 'joining', actor: 'system' });
  const events = () => store.listEvents({ machineId: machine.id, kind: 'enrollment-checks' });
  assert.equal(getEnrollmentChecks(store, machine.id), undefined);

  assert.equal(saveEnrollmentChecks(store, machine.id, 'worker-1', [check('node-registered', 'ok'), check('tunnel-1', 'failing'), check('tunnel-2', 'pending')], 1000), true);
  assert.equal(events().length, 1);
  assert.equal(events()[0].reason, 'Enrollment checks of Node worker-1: 1 of 3 ok; failing: title of tunnel-1; pending: title of tunnel-2');
  assert.deepEqual(events()[0].data, { nodeName: 'worker-1', statuses: { 'node-registered': 'ok', 'tunnel-1': 'failing', 'tunnel-2': 'pending' } });

  // The same findings a pass later: new time, no event.
  assert.equal(saveEnrollmentChecks(store, machine.id, 'worker-1', [check('node-registered', 'ok'), check('tunnel-1', 'failing'), check('tunnel-2', 'pending')], 2000), false);
  assert.equal(events().length, 1);
  let got = getEnrollmentChecks(store, machine.id)!;
  assert.equal(got.checkedAt, 2000);
  assert.deepEqual(got.checks.map((c) => [c.id, c.status, c.since, c.checkedAt]), [['node-registered', 'ok', 1000, 2000], ['tunnel-1', 'failing', 1000, 2000], ['tunnel-2', 'pending', 1000, 2000]]);
  assert.equal(got.checks[1].fix, 'fix tunnel-1');

  // A changed detail is a change; a changed status restarts `since`; a check that is gone is gone.
  assert.equal(saveEnrollmentChecks(store, machine.id, 'worker-1', [check('node-registered', 'ok', 'other words'), check('tunnel-1', 'ok')], 3000), true);
  got = getEnrollmentChecks(store, machine.id)!;
  assert.deepEqual(got.checks.map((c) => [c.id, c.status, c.since]), [['node-registered', 'ok', 1000], ['tunnel-1', 'ok', 3000]]);
  assert.equal(events().length, 2);

  // A failing write leaves the previous pass whole.
  assert.throws(() => saveEnrollmentChecks(store, machine.id, 'worker-1', [check('a', 'ok'), check('a', 'ok')], 4000), /UNIQUE/);
  assert.deepEqual(getEnrollmentChecks(store, machine.id)!.checks.map((c) => c.id), ['node-registered', 'tunnel-1']);

  clearEnrollmentChecks(store, machine.id);
  assert.equal(getEnrollmentChecks(store, machine.id), undefined);
  store.close();
});
