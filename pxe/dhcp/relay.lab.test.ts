// Relayed requests through ISC dhcrelay: Tether on the upstream network (10.253.20.0/24), clients
// on two relayed links behind it (10.253.21.0/24 listed in the zone's relays, 10.253.22.0/24 not).
// dhcrelay -a adds option 82 with the downstream interface name as circuit-id.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { jsonLines, logged, startTether, udhcpc } from './fixtures/peers.ts';

const SERVER = '10.253.20.1';
const RELAY_UP = '10.253.20.2';
const PXE_BIOS = ['-V', 'PXEClient:Arch:00000:UNDI:002001', '-x', '93:0000'];

describe('relayed through dhcrelay: pool by giaddr, option 82 recorded', () => {
  let lab: Lab;
  let tether: Spawned;
  let relay: Spawned;
  let c1: string;
  let c2: string;
  const started = Date.now();

  before(async () => {
    lab = new Lab('drelay');
    const srv = lab.ns('srv');
    const rel = lab.ns('relay');
    c1 = lab.ns('c1');
    c2 = lab.ns('c2');
    lab.veth(srv, 'up0', rel, 'up0', { cidrA: `${SERVER}/24`, cidrB: `${RELAY_UP}/24` });
    lab.bridge(rel, 'rack1', '10.253.21.1/24');
    lab.bridge(rel, 'rack2', '10.253.22.1/24');
    lab.veth(c1, 'eth0', rel, 'p1', { bridgeB: 'rack1', macA: '02:74:68:15:00:01' });
    lab.veth(c2, 'eth0', rel, 'p2', { bridgeB: 'rack2', macA: '02:74:68:16:00:01' });
    // Replies to a relay go to its giaddr, which lives behind the relay.
    for (const net of ['10.253.21.0/24', '10.253.22.0/24']) lab.exec(srv, 'ip', ['route', 'add', net, 'via', RELAY_UP]);
    tether = await startTether(lab, srv, {
      db: `${lab.dir}/leases.db`,
      zones: [{
        name: 'zone-a', mode: 'full', interfaces: ['up0'], relays: ['10.253.21.1'],
        pools: [
          { subnet: '10.253.20.0/24', range: ['10.253.20.100', '10.253.20.150'] },
          { subnet: '10.253.21.0/24', range: ['10.253.21.100', '10.253.21.150'], routers: ['10.253.21.1'] },
          { subnet: '10.253.22.0/24', range: ['10.253.22.100', '10.253.22.150'] },
        ],
      }],
    });
    relay = lab.spawn(rel, 'dhcrelay', ['-d', '-4', '-a', '-iu', 'up0', '-id', 'rack1', '-id', 'rack2', '-pf', `${lab.dir}/dhcrelay.pid`, SERVER], { logName: 'dhcrelay' });
    await relay.waitFor(/Sending on\s+Socket\/fallback/, 10_000);
  });

  after(async () => {
    console.log(`# relay.lab: ${Date.now() - started} ms`);
    await lab?.teardown();
  });

  test("a client behind the relay gets an address from the relay's subnet, and its boot file", async () => {
    const lease = udhcpc(lab, c1, PXE_BIOS);
    assert.ok(lease, relay.output());
    assert.deepEqual([lease.ip, lease.serverid, lease.router, lease.siaddr, lease.boot_file], ['10.253.21.100', SERVER, '10.253.21.1', SERVER, 'undionly.kpxe']);
    const ack = await logged(tether, /"msg":"dhcp ack"[^\n]*/);
    assert.match(ack, /"to":"10\.253\.21\.1:67","via":"relay"/);
  });

  test("the observer got the relay's circuit-id: the switch port the machine sits on", () => {
    const seen = jsonLines(tether).filter((l) => l.event === 'client');
    assert.deepEqual(seen.map((l) => [l.mac, l.msgType, l.relay]), [
      ['02:74:68:15:00:01', 'discover', { giaddr: '10.253.21.1', circuitId: 'rack1' }],
      ['02:74:68:15:00:01', 'request', { giaddr: '10.253.21.1', circuitId: 'rack1' }],
    ]);
  });

  test('a relay the zone does not list gets nothing, with a warning', async () => {
    assert.equal(udhcpc(lab, c2, PXE_BIOS, { tries: 2 }), undefined);
    const line = await logged(tether, /relay-not-allowed[^\n]*/);
    assert.match(line, /"level":"warn".*"giaddr":"10\.253\.22\.1".*"detail":"relay 10\.253\.22\.1 is not among zone zone-a's relays"/);
    assert.equal(jsonLines(tether).filter((l) => l.msg === 'dhcp offer' && l.mac === '02:74:68:16:00:01').length, 0);
  });
});
