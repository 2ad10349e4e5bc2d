// One Tether process, two zones on two bridges. The server's default route leads into zone B, so a
// reply whose way out were left to routing (a plain socket on 0.0.0.0) would leave by zone B; each
// zone's clients capture everything on their link, and a zone must never see the other's answers.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { capture, jsonLines, logged, startTether, udhcpc, type Capture } from './fixtures/peers.ts';
import { MessageType, ServerId } from './options/basic.ts';
import { getOption } from './options/codec.ts';
import { decodePacket, hwAddr } from './packet.ts';

const A = '10.253.30.1';
const B = '10.254.30.1';
const PXE_X64 = ['-V', 'PXEClient:Arch:00007:UNDI:003016', '-x', '93:0007'];

describe('two zones, one process: each answered on its own interface', () => {
  let lab: Lab;
  let tether: Spawned;
  let ca: string;
  let cb: string;
  let wireA: Capture;
  let wireB: Capture;
  const started = Date.now();

  before(async () => {
    lab = new Lab('dzone');
    const srv = lab.ns('srv');
    ca = lab.ns('ca');
    cb = lab.ns('cb');
    lab.bridge(srv, 'zonea', `${A}/24`);
    lab.bridge(srv, 'zoneb', `${B}/24`);
    lab.veth(ca, 'eth0', srv, 'pa', { bridgeB: 'zonea', macA: '02:74:68:1e:0a:01' });
    lab.veth(cb, 'eth0', srv, 'pb', { bridgeB: 'zoneb', macA: '02:74:68:1e:0b:01' });
    lab.exec(srv, 'ip', ['route', 'add', 'default', 'dev', 'zoneb']);
    wireA = await capture(lab, ca, 'eth0', 'link-a');
    wireB = await capture(lab, cb, 'eth0', 'link-b');
    tether = await startTether(lab, srv, {
      db: `${lab.dir}/leases.db`,
      zones: [
        { name: 'zone-a', mode: 'full', interfaces: ['zonea'], relays: [], pools: [{ subnet: '10.253.30.0/24', range: ['10.253.30.100', '10.253.30.150'] }] },
        { name: 'zone-b', mode: 'full', interfaces: ['zoneb'], relays: [], pools: [{ subnet: '10.254.30.0/24', range: ['10.254.30.100', '10.254.30.150'] }] },
      ],
    });
  });

  after(async () => {
    console.log(`# zones.lab: ${Date.now() - started} ms`);
    await lab?.teardown();
  });

  test("a PXE client in each zone gets that zone's address, server id and next-server", async () => {
    const a = udhcpc(lab, ca, PXE_X64);
    const b = udhcpc(lab, cb, PXE_X64);
    assert.deepEqual([a?.ip, a?.serverid, a?.siaddr, a?.boot_file], ['10.253.30.100', A, A, 'ipxe.efi']);
    assert.deepEqual([b?.ip, b?.serverid, b?.siaddr, b?.boot_file], ['10.254.30.100', B, B, 'ipxe.efi']);
    await logged(tether, /"msg":"dhcp ack".*"zone":"zone-b"/);
    const seen = jsonLines(tether).filter((l) => l.event === 'client' && l.msgType === 'discover');
    assert.deepEqual(seen.map((l) => [l.mac, l.zone, l.ifname]), [['02:74:68:1e:0a:01', 'zone-a', 'zonea'], ['02:74:68:1e:0b:01', 'zone-b', 'zoneb']]);
  });

  test('the answers left by the right interface: each link saw only its own zone\'s replies', async () => {
    const replies = async (wire: Capture) =>
      (await wire.stop()).filter((d) => d.src.endsWith(':67')).map((d) => {
        const r = decodePacket(d.payload);
        assert.ok(r.ok);
        return { src: d.src, mac: hwAddr(r.packet), serverId: getOption(r.packet.options, ServerId), type: getOption(r.packet.options, MessageType) };
      });
    const inA = await replies(wireA);
    const inB = await replies(wireB);
    assert.deepEqual(inA, [
      { src: `${A}:67`, mac: '02:74:68:1e:0a:01', serverId: A, type: 2 },
      { src: `${A}:67`, mac: '02:74:68:1e:0a:01', serverId: A, type: 5 },
    ]);
    assert.deepEqual(inB, [
      { src: `${B}:67`, mac: '02:74:68:1e:0b:01', serverId: B, type: 2 },
      { src: `${B}:67`, mac: '02:74:68:1e:0b:01', serverId: B, type: 5 },
    ]);
  });
});
