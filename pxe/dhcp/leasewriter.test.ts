import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLeaseWriter } from './leasewriter.ts';
import type { LeaseRecord, LeaseStore } from './pool.ts';

const lease = (n: number): LeaseRecord => ({ zone: 'a', ip: `10.253.5.${n}`, mac: `02:00:00:00:00:0${n}`, state: 'bound', expiresAt: 1 });

/** Records every write and which transaction it ran in. */
function recordingStore(o: { transactions: boolean; failOn?: string }) {
  const log: string[] = [];
  let tx = 0;
  let inTx = 0;
  const store: LeaseStore = {
    listLeases: () => [],
    putLease: (l) => {
      if (l.ip === o.failOn) throw new Error(`cannot write ${l.ip}`);
      log.push(`put ${l.ip} tx${inTx}`);
    },
    deleteLease: (_zone, ip) => void log.push(`delete ${ip} tx${inTx}`),
    ...(o.transactions
      ? {
          transaction: (writes: () => void) => {
            inTx = ++tx;
            try {
              writes();
            } finally {
              inTx = 0;
            }
          },
        }
      : {}),
  };
  return { store, log };
}

test('leasewriter: writes asked for in one burst share one transaction, in order; the next burst gets its own', async () => {
  const { store, log } = recordingStore({ transactions: true });
  const write = createLeaseWriter(store);
  const first = [write({ put: lease(1) }), write({ delete: { zone: 'a', ip: '10.253.5.9' } }), write({ put: lease(2) })];
  assert.deepEqual(log, [], 'nothing is written while the burst is still being handled');
  await Promise.all(first);
  await write({ put: lease(3) });
  assert.deepEqual(log, ['put 10.253.5.1 tx1', 'delete 10.253.5.9 tx1', 'put 10.253.5.2 tx1', 'put 10.253.5.3 tx2']);
});

test('leasewriter: a failed transaction fails every write in it, and only those', async () => {
  const { store } = recordingStore({ transactions: true, failOn: '10.253.5.2' });
  const write = createLeaseWriter(store);
  const results = await Promise.allSettled([write({ put: lease(1) }), write({ put: lease(2) })]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  await write({ put: lease(3) });
});

test('leasewriter: without transactions each write stands alone', async () => {
  const { store, log } = recordingStore({ transactions: false, failOn: '10.253.5.2' });
  const write = createLeaseWriter(store);
  const results = await Promise.allSettled([write({ put: lease(1) }), write({ put: lease(2) }), write({ put: lease(3) })]);
  assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
  assert.deepEqual(log, ['put 10.253.5.1 tx0', 'put 10.253.5.3 tx0']);
});
