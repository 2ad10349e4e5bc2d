// Per-interface sockets, proven on a real two-zone topology: namespace `srv` has one veth per zone
// (zonea 10.251.1.1/24, zoneb 10.251.2.1/24), each leading to its own client namespace. Everything
// that binds runs inside those namespaces, via fixtures started with the lab helper.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, type Spawned } from '../../test/lib/lab.ts';
import { buildNetif, nodeIncludeDir } from './build.ts';
import { bindToInterface, loadAddon } from './index.ts';

const fixture = (name: string): string => join(import.meta.dirname, 'fixtures', name);
const MAC_A = '02:74:68:00:01:01';
const MAC_B = '02:74:68:00:02:01';

type Event = Record<string, unknown> & { event?: string };
/** The JSON lines a fixture printed so far. */
function events(s: Spawned): Event[] {
  return s.output().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
}
/** Replies a client heard, decoded: which interface/address the server said it answered from. */
function replies(client: Spawned): Array<{ from: string; iface: string; address: string; echo: string }> {
  return events(client).filter((e) => e.event === 'recv').map((e) => ({ from: e.from as string, ...JSON.parse(e.payload as string) }));
}
/**
 * Sends `payload` from a client and waits until the server logged it and its answer, and the client
 * logged that answer: the three processes' pipes are read independently, so no log may lag behind.
 */
async function exchange(server: Spawned, client: Spawned, host: string, port: number, payload: string): Promise<void> {
  const answer = `\\\\"echo\\\\":\\\\"${payload}\\\\"`; // inside the logged JSON string: \"echo\":\"<payload>\"
  client.proc.stdin!.write(`send ${host} ${port} ${payload}\n`);
  await Promise.all([
    server.waitFor(new RegExp(`"event":"recv"[^\\n]*"payload":"${payload}"`), 5000),
    server.waitFor(new RegExp(`"event":"sent"[^\\n]*${answer}`), 5000),
    client.waitFor(new RegExp(`"event":"recv"[^\\n]*${answer}`), 5000),
  ]);
}
/** Runs probe.ts inside a namespace and returns its JSON answer. */
function probe(lab: Lab, ns: string, ...args: string[]): Record<string, unknown> {
  return JSON.parse(lab.exec(ns, process.execPath, [fixture('probe.ts'), ...args], { timeoutMs: 10_000 }));
}

describe('netif: sockets bound to one interface each, in a two-zone lab', () => {
  let lab: Lab | undefined;
  let srv = '';
  let server: Spawned;
  let clientA: Spawned;
  let clientB: Spawned;

  before(async () => {
    // A no-op when postinstall already built it; rebuilds after an edit of netif.c.
    buildNetif({ log: () => {} });
    lab = new Lab('netif');
    srv = lab.ns('srv');
    const ca = lab.ns('ca');
    const cb = lab.ns('cb');
    lab.veth(srv, 'zonea', ca, 'eth0', { cidrA: '10.251.1.1/24', cidrB: '10.251.1.2/24', macA: MAC_A });
    lab.veth(srv, 'zoneb', cb, 'eth0', { cidrA: '10.251.2.1/24', cidrB: '10.251.2.2/24', macA: MAC_B });
    // The server's default route leads into zone B, so a reply whose way out were picked by routing
    // (as for a socket on plain 0.0.0.0) would leave by zone B: zone-A replies reaching zone A, and
    // only zone A, then prove the device binding and nothing else.
    lab.exec(srv, 'ip', ['route', 'add', 'default', 'dev', 'zoneb']);
    // The clients are plain dgram sockets; they need a route to send to 255.255.255.255 at all.
    lab.exec(ca, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
    lab.exec(cb, 'ip', ['route', 'add', 'default', 'dev', 'eth0']);
    server = lab.spawn(srv, process.execPath, [fixture('echo-by-interface.ts'), '6767,67', 'zonea', 'zoneb'], { logName: 'echo' });
    clientA = lab.spawn(ca, process.execPath, [fixture('bcast-client.ts'), '6868'], { logName: 'client-a' });
    clientB = lab.spawn(cb, process.execPath, [fixture('bcast-client.ts'), '6868'], { logName: 'client-b' });
    await Promise.all([server, clientA, clientB].map((s) => s.waitFor('"event":"ready"')));
  });

  after(async () => {
    await lab?.teardown();
  });

  test('a 255.255.255.255 broadcast reaches only the socket of the interface it came in on', async () => {
    await exchange(server, clientA, '255.255.255.255', 6767, 'bcast-a');
    await exchange(server, clientB, '255.255.255.255', 6767, 'bcast-b');
    const got = events(server).filter((e) => e.event === 'recv' && String(e.payload).startsWith('bcast-'));
    assert.deepEqual(got.map((e) => [e.payload, e.iface, e.port, e.from]), [
      ['bcast-a', 'zonea', 6767, '10.251.1.2:6868'],
      ['bcast-b', 'zoneb', 6767, '10.251.2.2:6868'],
    ]);
  });

  test('the broadcast reply leaves by the receiving interface, from its address, and is not seen in the other zone', async () => {
    await exchange(server, clientA, '255.255.255.255', 6767, 'reply-a');
    await exchange(server, clientB, '255.255.255.255', 6767, 'reply-b');
    const inA = replies(clientA).filter((r) => r.echo.startsWith('reply-'));
    const inB = replies(clientB).filter((r) => r.echo.startsWith('reply-'));
    assert.deepEqual(inA, [{ from: '10.251.1.1:6767', iface: 'zonea', address: '10.251.1.1', echo: 'reply-a' }]);
    assert.deepEqual(inB, [{ from: '10.251.2.1:6767', iface: 'zoneb', address: '10.251.2.1', echo: 'reply-b' }]);
    const sent = events(server).filter((e) => e.event === 'sent' && String(e.payload).includes('reply-'));
    assert.deepEqual(sent.map((e) => [e.iface, e.to]), [['zonea', '255.255.255.255:6868'], ['zoneb', '255.255.255.255:6868']]);
  });

  test('port 67 works inside the namespace as root, on both interfaces', async () => {
    await exchange(server, clientA, '255.255.255.255', 67, 'dhcp-a');
    await exchange(server, clientB, '255.255.255.255', 67, 'dhcp-b');
    const got = events(server).filter((e) => e.event === 'recv' && String(e.payload).startsWith('dhcp-'));
    assert.deepEqual(got.map((e) => [e.payload, e.iface, e.port]), [['dhcp-a', 'zonea', 67], ['dhcp-b', 'zoneb', 67]]);
    assert.deepEqual(replies(clientA).filter((r) => r.echo === 'dhcp-a').map((r) => r.from), ['10.251.1.1:67']);
  });

  test('a unicast to the interface address reaches that interface socket too (DHCP renewals)', async () => {
    await exchange(server, clientA, '10.251.1.1', 6767, 'uni-a');
    const got = events(server).filter((e) => e.event === 'recv' && e.payload === 'uni-a');
    assert.deepEqual(got.map((e) => [e.iface, e.port, e.from]), [['zonea', 6767, '10.251.1.2:6868']]);
    assert.deepEqual(replies(clientA).filter((r) => r.echo === 'uni-a').map((r) => [r.from, r.iface]), [['10.251.1.1:6767', 'zonea']]);
  });

  test('sockets on the same port on different devices coexist', () => {
    const listening = events(server).filter((e) => e.event === 'listening');
    assert.deepEqual(listening.map((e) => [e.iface, e.bound, e.address]), [
      ['zonea', '0.0.0.0:6767', '10.251.1.1'],
      ['zonea', '0.0.0.0:67', '10.251.1.1'],
      ['zoneb', '0.0.0.0:6767', '10.251.2.1'],
      ['zoneb', '0.0.0.0:67', '10.251.2.1'],
    ]);
    // The kernel's view: each socket is pinned to its device (ss prints 0.0.0.0%<dev>:<port>).
    const ss = lab!.exec(srv, 'ss', ['-uanH']);
    for (const dev of ['zonea', 'zoneb']) for (const port of [6767, 67]) assert.match(ss, new RegExp(`0\\.0\\.0\\.0%${dev}:${port}\\s`), ss);
  });

  test('nothing crossed zones during the whole run', () => {
    assert.ok(replies(clientA).length >= 3 && replies(clientB).length >= 3);
    assert.deepEqual(replies(clientA).filter((r) => r.iface !== 'zonea' || !r.from.startsWith('10.251.1.1:')), []);
    assert.deepEqual(replies(clientB).filter((r) => r.iface !== 'zoneb' || !r.from.startsWith('10.251.2.1:')), []);
    assert.deepEqual(events(server).filter((e) => e.event === 'error'), []);
  });

  test('a missing interface fails with ENODEV and says which interfaces exist', () => {
    const r = probe(lab!, srv, 'open', 'nosuch0', '6769');
    assert.equal(r.ok, false);
    assert.equal(r.code, 'ENODEV');
    assert.equal(r.syscall, 'setsockopt');
    assert.equal(r.cause, 'SO_BINDTODEVICE on nosuch0: No such device');
    assert.match(String(r.message), /no interface named nosuch0 in this network namespace .*zonea.*zoneb/);
  });

  test('a port held by a plain socket on 0.0.0.0 fails with EADDRINUSE naming the step', () => {
    const r = probe(lab!, srv, 'held-open', 'zonea', '6770');
    assert.equal(r.code, 'EADDRINUSE');
    assert.equal(r.syscall, 'bind');
    assert.equal(r.cause, 'bind 0.0.0.0:6770 on zonea: Address already in use');
  });

  test('interfaceIPv4 reports the namespace\'s own interfaces', () => {
    assert.deepEqual(probe(lab!, srv, 'info', 'zonea', 'zoneb', 'nosuch0'), {
      zonea: { address: '10.251.1.1', netmask: '255.255.255.0', cidr: '10.251.1.1/24', mac: MAC_A },
      zoneb: { address: '10.251.2.1', netmask: '255.255.255.0', cidr: '10.251.2.1/24', mac: MAC_B },
      nosuch0: null,
    });
  });
});

describe('netif: build and loading (no sockets)', () => {
  test('build compiles once, is a no-op while the .node is newer, rebuilds when the .c is newer', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tether-netif-'));
    try {
      const output = join(dir, 'build', 'netif.node');
      const lines: string[] = [];
      const log = (l: string): void => { lines.push(l); };
      assert.equal(buildNetif({ output, log }).action, 'built');
      assert.ok(existsSync(output));
      assert.equal(typeof loadAddon(output).openUdpSocket, 'function');
      assert.equal(buildNetif({ output, log }).action, 'up-to-date');
      utimesSync(output, new Date(0), new Date(0)); // as if netif.c had been edited since
      assert.equal(buildNetif({ output, log }).action, 'built');
      assert.equal(buildNetif({ output, log, force: true }).action, 'built');
      assert.match(lines[0], /^netif: cc -shared -fPIC -O2 -Wall -Werror -I\S+\/include\/node -o /);
      assert.match(lines.join('\n'), /is up to date/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the headers used are the running Node\'s', () => {
    const dir = nodeIncludeDir();
    assert.ok(existsSync(join(dir, 'node_api.h')), dir);
  });

  test('an unbuilt addon is reported with the command that builds it', () => {
    assert.throws(() => loadAddon('/nonexistent/netif.node'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_NETIF_NOT_BUILT');
      assert.match(e.message, /not built: \/nonexistent\/netif\.node is missing\. Run `npm ci`/);
      return true;
    });
  });

  test('bad arguments are refused before any socket exists', async () => {
    await assert.rejects(bindToInterface('', 6767), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(bindToInterface('x'.repeat(16), 6767), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(bindToInterface('lo', 70000), { code: 'ERR_INVALID_ARG_VALUE' });
    await assert.rejects(bindToInterface('lo', 1.5), { code: 'ERR_INVALID_ARG_VALUE' });
    // The C side checks on its own too (it may be called without the TypeScript wrapper).
    buildNetif({ log: () => {} });
    const addon = loadAddon();
    assert.throws(() => addon.openUdpSocket('x'.repeat(16), 6767), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => addon.openUdpSocket('lo', 65536), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
    assert.throws(() => addon.openUdpSocket('lo', 6767, '10.0.0.300'), { name: 'TypeError', code: 'ERR_INVALID_ARG_VALUE' });
  });
});
