// Leases against real udhcpc clients in full mode, with the SQLite store the appliance uses: a pool
// of two addresses for three clients, a server restart in the middle, a RELEASE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Store } from '../../appliance/store/store.ts';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { jsonLines, logged, startTether, stopTether, udhcpc, udhcpcThenRelease, type TetherConfig } from './fixtures/peers.ts';

const SERVER = '10.253.40.1';
const mac = (n: number): string => `02:74:68:28:00:0${n}`;

describe('leases with real clients: exhaustion, restart, release', () => {
  let lab: Lab;
  let srv: string;
  let config: TetherConfig;
  let tether: Spawned;
  const ns: string[] = [];
  const started = Date.now();
  const rows = (): Array<[string, string, string]> => {
    const store = Store.open(config.db);
    try {
      return store.listLeases('zone-a').map((l) => [l.ip, l.mac, l.state]);
    } finally {
      store.close();
    }
  };

  before(async () => {
    lab = new Lab('dlease');
    srv = lab.ns('srv');
    lab.bridge(srv, 'zonea', `${SERVER}/24`);
    for (let n = 1; n <= 3; n++) {
      ns[n] = lab.ns(`c${n}`);
      lab.veth(ns[n], 'eth0', srv, `p${n}`, { bridgeB: 'zonea', macA: mac(n) });
    }
    config = {
      db: `${lab.dir}/leases.db`,
      logLevel: 'info',
      zones: [{ name: 'zone-a', mode: 'full', interfaces: ['zonea'], relays: [], pools: [{ subnet: '10.253.40.0/24', range: ['10.253.40.100', '10.253.40.101'] }] }],
    };
    tether = await startTether(lab, srv, config);
  });

  after(async () => {
    console.log(`# leases.lab: ${Date.now() - started} ms`);
    await lab?.teardown();
  });

  test('two clients fill a pool of two; the third gets no offer, a clear log line, and no crash', async () => {
    assert.equal(udhcpc(lab, ns[1])?.ip, '10.253.40.100');
    assert.equal(udhcpc(lab, ns[2])?.ip, '10.253.40.101');
    assert.equal(udhcpc(lab, ns[3], [], { tries: 2 }), undefined);
    const line = await logged(tether, /pool exhausted/);
    assert.match(line, new RegExp(`"level":"warn","msg":"dhcp drop: pool-exhausted".*"mac":"${mac(3)}".*"detail":"pool exhausted: no free address in 10\\.253\\.40\\.0/24 \\(range 10\\.253\\.40\\.100-10\\.253\\.40\\.101\\) for ${mac(3)}"`));
    assert.equal(tether.proc.exitCode, null, 'still running');
    assert.deepEqual(rows(), [['10.253.40.100', mac(1), 'bound'], ['10.253.40.101', mac(2), 'bound']]);
  });

  test('leases survive a restart: the rows are there and each client gets its own address back', async () => {
    const stats = await stopTether(tether);
    assert.deepEqual([stats.offers, stats.acks, (stats.drops as Record<string, number>)['pool-exhausted']], [2, 2, 2]);
    assert.deepEqual(rows(), [['10.253.40.100', mac(1), 'bound'], ['10.253.40.101', mac(2), 'bound']]);
    tether = await startTether(lab, srv, config, 'tether-2');
    // The second client first: an allocator that forgot would hand it the first free address.
    assert.equal(udhcpc(lab, ns[2])?.ip, '10.253.40.101');
    assert.equal(udhcpc(lab, ns[1])?.ip, '10.253.40.100');
    await logged(tether, new RegExp(`"msg":"dhcp ack".*"mac":"${mac(1)}"`));
    const offers = jsonLines(tether).filter((l) => l.msg === 'dhcp offer');
    assert.deepEqual(offers.map((l) => [l.mac, l.rule]), [[mac(2), 'current-lease'], [mac(1), 'current-lease']]);
  });

  test('a released address is reused by the next client', async () => {
    assert.equal((await udhcpcThenRelease(lab, ns[1])).ip, '10.253.40.100');
    await logged(tether, /"msg":"dhcp release".*"applied":true/);
    assert.deepEqual(rows()[0], ['10.253.40.100', mac(1), 'released']);
    assert.equal(udhcpc(lab, ns[3])?.ip, '10.253.40.100');
    assert.deepEqual(rows(), [['10.253.40.100', mac(3), 'bound'], ['10.253.40.101', mac(2), 'bound']]);
    assert.deepEqual(jsonLines(tether).filter((l) => l.level === 'error'), []);
  });
});
