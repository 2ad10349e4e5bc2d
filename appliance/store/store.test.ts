import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store, normalizeMac } from './store.ts';
import { migrations } from './migrations.ts';

test('store: migrations apply once, in order, and a newer database is refused', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-store-'));
  try {
    const path = join(dir, 't.db');
    const s = Store.open(path);
    assert.equal(s.schemaVersion(), migrations.at(-1)!.n);
    assert.deepEqual(s.migrate(), [], 'nothing left to apply');
    assert.equal(s.db.pragma('journal_mode', { simple: true }), 'wal');
    s.db.pragma('user_version = 999');
    s.close();
    assert.throws(() => Store.open(path), /schema 999 is newer than this Tether/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: machines by id or MAC, filters, paging, search', () => {
  const s = Store.open(':memory:');
  for (let i = 0; i < 30; i++) {
    s.createMachine({ bootMac: `52:54:00:00:01:${i.toString(16).padStart(2, '0')}`, state: i % 3 ? 'discovered' : 'rescue', zone: i % 2 ? 'zone-a' : 'zone-b', rack: `r${i % 5}`, actor: 'dhcp' });
  }
  const m = s.getMachine('52-54-00-00-01-0A')!;
  assert.equal(m.bootMac, '52:54:00:00:01:0a');
  assert.deepEqual(m.macs, ['52:54:00:00:01:0a']);
  assert.equal(s.getMachine(m.id)!.id, m.id);
  assert.equal(s.listMachines({ zone: 'zone-a' }).total, 15);
  assert.equal(s.listMachines({ state: 'rescue', zone: 'zone-b' }).total, 5);
  const page = s.listMachines({ sort: 'rack', order: 'desc', limit: 4, offset: 2 });
  assert.equal(page.items.length, 4);
  assert.equal(page.total, 30);
  assert.equal(s.listMachines({ q: '01:0a' }).items[0].id, m.id);
  assert.equal(s.listMachines({ q: '%' }).total, 0, 'LIKE wildcards in the search are literal');
  assert.deepEqual(s.countByState(), { discovered: 20, rescue: 10 });
  assert.throws(() => normalizeMac('52:54:00'), RangeError);
  s.close();
});

test('store: leases upsert by (zone, ip) and survive reopening', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-store-'));
  try {
    const path = join(dir, 't.db');
    let s = Store.open(path);
    s.putLease({ zone: 'zone-a', ip: '10.0.0.10', mac: '52:54:00:00:00:01', state: 'bound', expiresAt: 1000 });
    s.putLease({ zone: 'zone-a', ip: '10.0.0.10', mac: '52:54:00:00:00:02', state: 'bound', expiresAt: 2000 });
    s.putLease({ zone: 'zone-b', ip: '10.0.0.10', mac: '52:54:00:00:00:03', state: 'released', expiresAt: 3000 });
    s.close();
    s = Store.open(path);
    assert.deepEqual(s.listLeases('zone-a'), [{ zone: 'zone-a', ip: '10.0.0.10', mac: '52:54:00:00:00:02', state: 'bound', expiresAt: 2000 }]);
    s.deleteLease('zone-a', '10.0.0.10');
    assert.deepEqual(s.listLeases('zone-a'), []);
    assert.equal(s.listLeases('zone-b').length, 1);
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: events newest first by `before`, oldest first from `after` (a live feed tails them)', () => {
  const s = Store.open(':memory:');
  const ids = Array.from({ length: 5 }, (_, i) => s.appendEvent({ kind: 'audit', actor: 'system', reason: `e${i}` }).id);
  assert.deepEqual(s.listEvents({ limit: 2 }).map((e) => e.id), [ids[4], ids[3]]);
  assert.deepEqual(s.listEvents({ before: ids[3], limit: 2 }).map((e) => e.id), [ids[2], ids[1]]);
  assert.deepEqual(s.listEvents({ after: ids[1], limit: 2 }).map((e) => e.id), [ids[2], ids[3]]);
  assert.deepEqual(s.listEvents({ after: ids[4] }), []);
  s.close();
});
