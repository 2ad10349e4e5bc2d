import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configFrom, loadConfig, ConfigError } from './load.ts';

const zone = (extra: Record<string, unknown> = {}) => ({ name: 'zone-a', interfaces: ['eth1'], ...extra });
const pool = { subnet: '10.10.0.0/24', range: ['10.10.0.100', '10.10.0.200'] };

test('config: an empty file boots on defaults, safe ones', () => {
  const c = configFrom({});
  assert.equal(c.dataDir, './data');
  assert.equal(c.http.listen, '127.0.0.1:8080');
  assert.deepEqual(c.zones, []);
  assert.equal(c.cloud.kubeconfig, null);
  assert.deepEqual(configFrom(null), c);
  const z = configFrom({ zones: [zone()] }).zones[0];
  assert.equal(z.dhcp.mode, 'proxy');
  assert.equal(z.tftp, true);
});

test('config: each bad file gets its own message naming key, value and what is allowed', () => {
  const table: Array<[unknown, RegExp]> = [
    [{ dataDir: '' }, /^dataDir: "" is not allowed/],
    [{ colour: 'blue' }, /^colour: unknown key; allowed keys here: dataDir, site, log, http/],
    [{ http: { listen: 'localhost' } }, /^http\.listen: "localhost" is not allowed; expected host:port/],
    [{ http: { listen: '127.0.0.1:70000' } }, /^http\.listen: "127\.0\.0\.1:70000" has port 70000; allowed: 0-65535/],
    [{ http: { bodyLimit: 10 } }, /^http\.bodyLimit: 10 is out of range; allowed: must be >= 1024/],
    [{ http: { bodyLimit: 'lots' } }, /^http\.bodyLimit: "lots" is a string; expected integer/],
    [{ log: { level: 'loud' } }, /^log\.level: "loud" is not allowed; allowed: fatal, error, warn, info, debug, trace/],
    [{ zones: {} }, /^zones: \{\} is a mapping; expected array/],
    [{ zones: [{ interfaces: ['eth1'] }] }, /^zones\[0\]: missing required key "name"/],
    [{ zones: [zone({ name: 'Zone A' })] }, /^zones\[0\]\.name: "Zone A" is not allowed; expected a DNS label/],
    [{ zones: [zone({ dhcp: { mode: 'prox' } })] }, /^zones\[0\]\.dhcp\.mode: "prox" is not allowed; allowed: proxy, full, off/],
    [{ zones: [zone({ interfaces: ['an-interface-name-too-long'] })] }, /^zones\[0\]\.interfaces\[0\]: .* expected a Linux interface name/],
    [{ zones: [zone({ dhcp: { mode: 'full' } })] }, /^zones\[0\]\.dhcp\.pools: is empty; mode "full" hands out addresses/],
    [{ zones: [zone({ dhcp: { mode: 'full', pools: [{ ...pool, subnet: '10.10.0.0/40' }] } })] }, /^zones\[0\]\.dhcp\.pools\[0\]\.subnet: .* expected an IPv4 subnet/],
    [{ zones: [zone({ dhcp: { mode: 'full', pools: [{ ...pool, range: ['10.10.0.100', '10.11.0.1'] }] } })] }, /^zones\[0\]\.dhcp\.pools\[0\]\.range\[1\]: "10\.11\.0\.1" is outside the pool's subnet 10\.10\.0\.0\/24/],
    [{ zones: [zone({ dhcp: { mode: 'full', pools: [{ ...pool, range: ['10.10.0.200', '10.10.0.100'] }] } })] }, /^zones\[0\]\.dhcp\.pools\[0\]\.range: .* starts after it ends/],
    [{ zones: [zone({ dhcp: { mode: 'full', pools: [{ ...pool, range: ['10.10.0.300', '10.10.0.1'] }] } })] }, /^zones\[0\]\.dhcp\.pools\[0\]\.range\[0\]: "10\.10\.0\.300" is not allowed; expected an IPv4 address/],
    [{ zones: [zone({ dhcp: { relays: ['10.0.0'] } })] }, /^zones\[0\]\.dhcp\.relays\[0\]: "10\.0\.0" is not allowed; expected an IPv4 address/],
    [{ zones: [zone(), zone()] }, /^zones\[1\]\.name: "zone-a" is used by two zones/],
    [{ zones: [zone(), zone({ name: 'zone-b' })] }, /^zones\[1\]\.interfaces\[0\]: "eth1" already belongs to zone zone-a/],
    [{ zones: [zone({ autoApprove: [{ minMemoryGiB: -1 }] })] }, /^zones\[0\]\.autoApprove\[0\]\.minMemoryGiB: -1 is out of range/],
    [{ images: { catalog: [{ name: 'node', path: 'x.img', zones: ['nowhere'] }] } }, /^images\.catalog\[0\]\.zones\[0\]: "nowhere" is not a configured zone/],
    [{ cloud: { tenantControlPlane: { name: 'tcp', namespace: 'ns' } } }, /^cloud\.tenantControlPlane: needs cloud\.managementKubeconfig/],
    [['a', 'list'], /the file must hold a mapping/],
  ];
  for (const [doc, message] of table) {
    assert.throws(() => configFrom(doc), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.match(e.message, message);
      return true;
    }, JSON.stringify(doc));
  }
});

test('config: environment overrides for containers, typed, and checked like the file', () => {
  const c = configFrom({ http: { listen: '127.0.0.1:1' } }, { TETHER_HTTP__LISTEN: '0.0.0.0:8081', TETHER_DATA_DIR: '/var/lib/tether', TETHER_HTTP__BODYLIMIT: '2048', TETHER_HTTP__TRUST_PROXY: 'true', PATH: '/bin' });
  assert.equal(c.http.listen, '0.0.0.0:8081');
  assert.equal(c.dataDir, '/var/lib/tether');
  assert.equal(c.http.bodyLimit, 2048);
  assert.equal(c.http.trustProxy, true);
  assert.throws(() => configFrom({}, { TETHER_HTTP__PORT: '80' }), /env TETHER_HTTP__PORT: no such option; options here: listen, bodyLimit, trustProxy/);
  assert.throws(() => configFrom({}, { TETHER_HTTP__BODYLIMIT: 'huge' }), /http\.bodyLimit: "huge" is a string/);
});

test('config: files — YAML errors name the line, a missing explicit file is an error, absent default file means defaults', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-cfg-'));
  try {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'http:\n  listen: 127.0.0.1:8080\n  listen: 127.0.0.1:9090\n');
    assert.throws(() => loadConfig({ path: bad }), /bad\.yaml line 3.*Map keys must be unique/);
    writeFileSync(bad, 'zones:\n  - name: zone-a\n    dhcp: {mode: [}\n');
    assert.throws(() => loadConfig({ path: bad }), /bad\.yaml line 3/);
    assert.throws(() => loadConfig({ path: join(dir, 'missing.yaml') }), /does not exist/);
    const good = join(dir, 'tether.yaml');
    writeFileSync(good, 'site: dc1\nzones:\n  - name: zone-a\n    interfaces: [eth1]\n    dhcp: {mode: full, pools: [{subnet: 10.1.0.0/24, range: [10.1.0.10, 10.1.0.20]}]}\n');
    const c = loadConfig({ path: good, env: {} });
    assert.equal(c.site, 'dc1');
    assert.equal(c.zones[0].dhcp.pools[0].leaseSeconds, 3600);
    assert.deepEqual(loadConfig({ path: undefined, env: {} }).zones, []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
