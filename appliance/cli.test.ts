import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from './store/store.ts';
import { migrations } from './store/migrations.ts';
import { discover } from './lifecycle/lifecycle.ts';

const bin = new URL('./bin/tether', import.meta.url).pathname;

test('cli: migrate, machines ls (table and JSON), and a bad config refuses with the key named', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cli-'));
  try {
    const cfg = join(dir, 'tether.yaml');
    writeFileSync(cfg, `dataDir: ${join(dir, 'data')}\n`);
    assert.match(execFileSync(bin, ['migrate', '-c', cfg], { encoding: 'utf8' }), new RegExp(`at schema ${migrations.length}\n`));
    const store = Store.open(join(dir, 'data/tether.db'));
    discover(store, { mac: '52:54:00:01:02:03', zone: 'zone-a', rack: 'r7', actor: 'dhcp' });
    discover(store, { mac: '52:54:00:01:02:04', actor: 'dhcp' });
    store.close();
    const table = execFileSync(bin, ['machines', 'ls', '-c', cfg], { encoding: 'utf8' });
    assert.match(table, /^ID\s+BOOT MAC\s+STATE\s+ZONE\s+RACK/);
    assert.match(table, /52:54:00:01:02:03\s+discovered\s+zone-a\s+r7/);
    const json = JSON.parse(execFileSync(bin, ['machines', 'ls', '--json', '--zone', 'zone-a', '-c', cfg], { encoding: 'utf8' }));
    assert.equal(json.total, 1);
    const badState = spawnSync(bin, ['machines', 'ls', '--state', 'sleeping', '-c', cfg], { encoding: 'utf8' });
    assert.equal(badState.status, 2);
    assert.match(badState.stderr, /--state sleeping is not a state/);
    writeFileSync(cfg, 'http:\n  listen: nowhere\n');
    const bad = spawnSync(bin, ['serve', '-c', cfg], { encoding: 'utf8' });
    assert.equal(bad.status, 78);
    assert.match(bad.stderr, /bad configuration: http\.listen: "nowhere" is not allowed; expected host:port/);
    const unknown = spawnSync(bin, ['frobnicate'], { encoding: 'utf8' });
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command: frobnicate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
