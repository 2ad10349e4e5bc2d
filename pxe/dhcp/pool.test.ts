import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LeaseWriter } from './leasewriter.ts';
import { createLeases, DECLINE_HOLD_MS, OFFER_HOLD_MS, type LeaseRecord, type LeaseStore, type PoolConfig, type ZoneLeases } from './pool.ts';

/** The lease table as a Map keyed like the SQLite table: (zone, ip). */
class MemoryStore implements LeaseStore {
  rows = new Map<string, LeaseRecord>();
  writes: string[] = [];
  failing = false;
  listLeases(zone: string): LeaseRecord[] {
    return [...this.rows.values()].filter((r) => r.zone === zone);
  }
  putLease(l: LeaseRecord): void {
    if (this.failing) throw new Error('disk full');
    this.writes.push(`put ${l.ip} ${l.mac} ${l.state}`);
    this.rows.set(`${l.zone}/${l.ip}`, { ...l });
  }
  deleteLease(zone: string, ip: string): void {
    this.writes.push(`delete ${ip}`);
    this.rows.delete(`${zone}/${ip}`);
  }
}

const MAC = (n: number): string => `02:00:00:00:00:${n.toString(16).padStart(2, '0')}`;
const pool2: PoolConfig = { subnet: '10.253.5.0/24', range: ['10.253.5.100', '10.253.5.101'], leaseSeconds: 60 };

function setup(pools: PoolConfig[] = [pool2], store = new MemoryStore(), exclude: string[] = []) {
  const clock = { t: 1_000_000 };
  const logs: string[] = [];
  // Writes applied at once (leasewriter.test.ts covers the group commit), so rows can be checked
  // right after a call.
  const write: LeaseWriter = (w) => {
    try {
      if ('put' in w) store.putLease(w.put);
      else store.deleteLease(w.delete.zone, w.delete.ip);
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e);
    }
  };
  const leases = createLeases({ zone: 'a', pools, store, write, now: () => clock.t, exclude, log: (level, msg) => logs.push(`${level} ${msg}`) });
  return { leases, store, clock, logs, pool: leases.pools[0] };
}

/** The address offered to `mac`, or the refusal. */
function offered(leases: ZoneLeases, mac: string): string {
  const o = leases.offer(mac, leases.pools[0]);
  return o.ok ? o.ip : o.reason;
}

/** DISCOVER then REQUEST, as a client does; returns the bound address. */
function join(leases: ZoneLeases, mac: string, requested?: string): string {
  const pool = leases.pools[0];
  const offer = leases.offer(mac, pool, requested);
  assert.ok(offer.ok, `offer for ${mac}`);
  const bound = leases.bind(mac, pool, offer.ip);
  assert.ok(bound.ok, `bind for ${mac}`);
  return bound.ip;
}

test('pool: an offer is held in memory only; the REQUEST binds and writes through', () => {
  const { leases, store, pool } = setup();
  const offer = leases.offer(MAC(1), pool);
  assert.deepEqual(offer, { ok: true, ip: '10.253.5.100', pool, rule: 'free-address' });
  assert.equal(store.writes.length, 0, 'offers are not persisted');
  assert.equal(offered(leases, MAC(2)), '10.253.5.101', 'the held address is not offered twice');
  const bound = leases.bind(MAC(1), pool, '10.253.5.100');
  assert.ok(bound.ok);
  assert.deepEqual([bound.ip, bound.pool, bound.rule], ['10.253.5.100', pool, 'offered']);
  assert.deepEqual(store.writes, ['put 10.253.5.100 02:00:00:00:00:01 bound']);
  assert.deepEqual(store.rows.get('a/10.253.5.100'), { zone: 'a', ip: '10.253.5.100', mac: MAC(1), state: 'bound', expiresAt: 1_000_000 + 60_000 });
});

test('pool: allocation rules, from a table (RFC 2131 §4.3.1 order)', () => {
  type Row = [name: string, prepare: (s: ReturnType<typeof setup>) => void, mac: string, requested: string | undefined, want: string];
  const wide: PoolConfig = { subnet: '10.253.6.0/24', range: ['10.253.6.10', '10.253.6.20'], reservations: [{ mac: MAC(9), ip: '10.253.6.200' }], leaseSeconds: 60 };
  const table: Row[] = [
    ['a fresh client gets the first free address', () => {}, MAC(1), undefined, 'free-address 10.253.6.10'],
    ['a reservation wins, even outside the range', () => {}, MAC(9), '10.253.6.15', 'reservation 10.253.6.200'],
    ['a bound client is offered its lease again', (s) => { join(s.leases, MAC(1)); }, MAC(1), '10.253.6.15', 'current-lease 10.253.6.10'],
    ['after expiry the same MAC gets the same address back', (s) => { join(s.leases, MAC(1)); s.clock.t += 3_600_000; }, MAC(1), undefined, 'previous-address 10.253.6.10'],
    ['after release too', (s) => { join(s.leases, MAC(1)); s.leases.release(MAC(1), '10.253.6.10'); }, MAC(1), undefined, 'previous-address 10.253.6.10'],
    ['the requested address when free', () => {}, MAC(1), '10.253.6.15', 'requested-address 10.253.6.15'],
    ['not a requested address outside the range', () => {}, MAC(1), '10.253.6.50', 'free-address 10.253.6.10'],
    ['not a requested address someone holds', (s) => { join(s.leases, MAC(2), '10.253.6.15'); }, MAC(1), '10.253.6.15', 'free-address 10.253.6.10'],
    ['not a requested address reserved for someone else', () => {}, MAC(1), '10.253.6.200', 'free-address 10.253.6.10'],
    ['a garbage requested address is ignored', () => {}, MAC(1), '10.253.6', 'free-address 10.253.6.10'],
  ];
  for (const [name, prepare, mac, requested, want] of table) {
    const s = setup([wide]);
    prepare(s);
    const got = s.leases.offer(mac, s.pool, requested);
    assert.equal(got.ok ? `${got.rule} ${got.ip}` : got.reason, want, name);
  }
});

test('pool: network, broadcast, excluded and router addresses are never handed out', () => {
  const router = setup([{ subnet: '10.253.7.0/29', range: ['10.253.7.1', '10.253.7.2'], routers: ['10.253.7.1'] }]);
  assert.equal(offered(router.leases, MAC(1)), '10.253.7.2');
  assert.equal(offered(router.leases, MAC(2)), 'pool-exhausted');
  const s = setup([{ subnet: '10.253.7.0/30', range: ['10.253.7.0', '10.253.7.3'] }], new MemoryStore(), ['10.253.7.1']);
  const first = s.leases.offer(MAC(1), s.pool);
  assert.ok(first.ok);
  assert.equal(first.ip, '10.253.7.2');
  assert.deepEqual(s.leases.offer(MAC(2), s.pool), { ok: false, reason: 'pool-exhausted' });
  assert.equal(s.leases.bind(MAC(2), s.pool, '10.253.7.1').ok, false);
  assert.equal(s.leases.bind(MAC(2), s.pool, '10.253.7.3').ok, false);
});

test('pool: exhaustion refuses, expiry and release make room again', () => {
  const s = setup();
  join(s.leases, MAC(1));
  join(s.leases, MAC(2));
  assert.deepEqual(s.leases.offer(MAC(3), s.pool), { ok: false, reason: 'pool-exhausted' });
  // The release makes that very address available to the next client.
  assert.ok(s.leases.release(MAC(1), '10.253.5.100'));
  assert.deepEqual(s.store.rows.get('a/10.253.5.100')?.state, 'released');
  const offer = s.leases.offer(MAC(3), s.pool);
  assert.ok(offer.ok);
  assert.deepEqual([offer.ip, offer.rule], ['10.253.5.100', 'expired-address']);
  assert.equal(s.leases.offer(MAC(1), s.pool).ok, false, 'the releasing client lost it to the new one');
  // Leases run out: the one that expired longest ago is reclaimed.
  s.clock.t += 61_000;
  const late = s.leases.offer(MAC(4), s.pool);
  assert.ok(late.ok);
  assert.equal(late.ip, '10.253.5.100', "MAC 3 never REQUESTed: its 30 s hold ran out before MAC 2's 60 s lease");
  const last = s.leases.offer(MAC(5), s.pool);
  assert.ok(last.ok);
  assert.equal(last.ip, '10.253.5.101');
});

test('pool: an offer that is never taken up expires after the hold', () => {
  const s = setup();
  s.leases.offer(MAC(1), s.pool);
  s.leases.offer(MAC(2), s.pool);
  assert.equal(s.leases.offer(MAC(3), s.pool).ok, false);
  s.clock.t += OFFER_HOLD_MS;
  assert.equal(s.leases.offer(MAC(3), s.pool).ok, true);
});

test('pool: a client that took another server\'s offer gives its hold back at once', () => {
  const s = setup();
  s.leases.offer(MAC(1), s.pool);
  s.leases.offer(MAC(2), s.pool);
  s.leases.forgetOffer(MAC(1));
  const offer = s.leases.offer(MAC(3), s.pool);
  assert.ok(offer.ok);
  assert.equal(offer.ip, '10.253.5.100');
});

test('pool: REQUEST checks, from a table (RFC 2131 §4.3.2: NAK reasons)', () => {
  const cfg: PoolConfig = { subnet: '10.253.8.0/24', range: ['10.253.8.10', '10.253.8.20'], reservations: [{ mac: MAC(9), ip: '10.253.8.15' }] };
  const table: Array<[string, string, string, string]> = [
    ['an address of another network', MAC(1), '192.168.1.5', 'wrong-network'],
    ['outside the range', MAC(1), '10.253.8.50', 'outside-range'],
    ['reserved for another MAC', MAC(1), '10.253.8.15', 'reserved-for-other'],
    ['held by another client', MAC(1), '10.253.8.11', 'address-in-use'],
    ['init-reboot for a free address: authoritative, ACK', MAC(1), '10.253.8.12', 'free-address'],
    ['a reservation outside the range', MAC(9), '10.253.8.15', 'reservation'],
  ];
  for (const [name, mac, ip, want] of table) {
    const s = setup([cfg]);
    join(s.leases, MAC(2), '10.253.8.11');
    const got = s.leases.bind(mac, s.pool, ip);
    assert.equal(got.ok ? got.rule : got.reason, want, name);
  }
});

test('pool: renewal extends the lease; a client moving to another address frees the old one', () => {
  const s = setup([{ subnet: '10.253.9.0/24', range: ['10.253.9.10', '10.253.9.20'], leaseSeconds: 100 }]);
  join(s.leases, MAC(1));
  s.clock.t += 50_000;
  const renewed = s.leases.bind(MAC(1), s.pool, '10.253.9.10');
  assert.ok(renewed.ok);
  assert.equal(renewed.rule, 'renewal');
  assert.equal(s.store.rows.get('a/10.253.9.10')?.expiresAt, s.clock.t + 100_000);
  const moved = s.leases.bind(MAC(1), s.pool, '10.253.9.15');
  assert.ok(moved.ok);
  assert.deepEqual(s.store.writes.slice(-2), ['put 10.253.9.15 02:00:00:00:00:01 bound', 'delete 10.253.9.10']);
  assert.equal(s.leases.lookup('10.253.9.10'), undefined);
});

test('pool: DECLINE keeps the address out for a while and steers the client elsewhere', () => {
  const s = setup([{ ...pool2, leaseSeconds: 86_400 }]);
  join(s.leases, MAC(1));
  assert.ok(s.leases.decline(MAC(1), '10.253.5.100'));
  assert.equal(s.store.rows.get('a/10.253.5.100')?.state, 'declined');
  assert.equal(join(s.leases, MAC(1)), '10.253.5.101');
  assert.equal(s.leases.offer(MAC(2), s.pool).ok, false, 'the declined address is not offered');
  assert.equal(s.leases.decline(MAC(2), '10.253.5.101'), false, 'only the holder can decline');
  s.clock.t += DECLINE_HOLD_MS;
  const back = s.leases.offer(MAC(2), s.pool);
  assert.ok(back.ok);
  assert.equal(back.ip, '10.253.5.100');
});

test('pool: RELEASE from a client that does not hold the address is ignored', () => {
  const s = setup();
  join(s.leases, MAC(1));
  assert.equal(s.leases.release(MAC(2), '10.253.5.100'), false);
  assert.equal(s.leases.release(MAC(1), 'nonsense'), false);
  assert.equal(s.leases.lookup('10.253.5.100')?.state, 'bound');
});

test('pool: the index is rebuilt from the store at start', () => {
  const store = new MemoryStore();
  const before = setup([pool2], store);
  join(before.leases, MAC(1));
  join(before.leases, MAC(2));
  before.leases.release(MAC(1), '10.253.5.100');
  store.rows.set('a/10.99.0.1', { zone: 'a', ip: '10.99.0.1', mac: MAC(7), state: 'bound', expiresAt: 2e12 });
  store.rows.set('b/10.253.5.101', { zone: 'b', ip: '10.253.5.101', mac: MAC(8), state: 'bound', expiresAt: 2e12 });
  const after = setup([pool2], store);
  const two = after.leases.offer(MAC(2), after.pool);
  assert.ok(two.ok);
  assert.deepEqual([two.ip, two.rule], ['10.253.5.101', 'current-lease']);
  const one = after.leases.offer(MAC(1), after.pool);
  assert.ok(one.ok);
  assert.deepEqual([one.ip, one.rule], ['10.253.5.100', 'previous-address']);
  assert.equal(after.leases.offer(MAC(3), after.pool).ok, false);
});

test('pool: a lease the store fails to write is not bound: no ACK, the address stays held as an offer', async () => {
  const s = setup();
  const offer = s.leases.offer(MAC(1), s.pool);
  assert.ok(offer.ok);
  s.store.failing = true;
  const bound = s.leases.bind(MAC(1), s.pool, offer.ip);
  assert.ok(bound.ok);
  await assert.rejects(bound.stored, /disk full/);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(s.logs, ['error dhcp lease not stored; no ACK']);
  assert.equal(s.leases.lookup(offer.ip)?.state, 'offered');
  assert.equal(offered(s.leases, MAC(2)), '10.253.5.101', 'still held for the client');
  s.store.failing = false;
  const again = s.leases.bind(MAC(1), s.pool, offer.ip);
  assert.ok(again.ok);
  await again.stored;
  assert.equal(s.store.rows.get(`a/${offer.ip}`)?.state, 'bound');
});

test('pool: bad pool configs are refused at start with the reason', () => {
  const bad: Array<[PoolConfig, RegExp]> = [
    [{ subnet: '10.253.5.0/24', range: ['10.253.6.1', '10.253.6.9'] }, /not an ascending range inside the subnet/],
    [{ subnet: '10.253.5.0/24', range: ['10.253.5.9', '10.253.5.1'] }, /not an ascending range/],
    [{ subnet: '10.253.5.0/24', range: ['10.253.5.1'] }, /range must be \[first, last\]/],
    [{ subnet: '10.253.5.0/24', range: ['10.253.5.1', '10.253.5.9'], reservations: [{ mac: MAC(1), ip: '10.1.1.1' }] }, /outside the subnet/],
  ];
  for (const [cfg, message] of bad) assert.throws(() => setup([cfg]), message);
});

test('pool: poolFor picks the pool by subnet (relay giaddr, renewing ciaddr)', () => {
  const s = setup([pool2, { subnet: '10.254.5.0/24', range: ['10.254.5.10', '10.254.5.20'] }]);
  assert.equal(s.leases.poolFor('10.254.5.1')?.subnet, '10.254.5.0/24');
  assert.equal(s.leases.poolFor('10.253.5.1')?.subnet, '10.253.5.0/24');
  assert.equal(s.leases.poolFor('10.1.1.1'), undefined);
  assert.throws(() => s.leases.offer(MAC(1), setup().pool), /does not belong to zone a/);
});

test('pool: a storm of 4,000 clients on a /20 fills it without a collision', () => {
  const s = setup([{ subnet: '10.254.16.0/20', range: ['10.254.16.10', '10.254.31.250'] }]);
  const seen = new Set<string>();
  for (let i = 0; i < 4000; i++) seen.add(join(s.leases, `02:01:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`));
  assert.equal(seen.size, 4000);
});
