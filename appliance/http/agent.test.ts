import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Fastify, { type FastifyInstance } from 'fastify';
import { configFrom } from '../config/load.ts';
import { Store } from '../store/store.ts';
import { buildApp } from './app.ts';
import { installErrorHandlers } from './errors.ts';
import agentPlugin, { nextTask } from './agent.ts';
import { mintBootToken } from '../auth/boot-tokens.ts';
import { discover, transition } from '../lifecycle/lifecycle.ts';
import { getInventory } from '../store/inventory.ts';
import { STATES } from '../lifecycle/states.ts';
import { AGENT_PATHS, PROTOCOL_VERSION, type Inventory, type Nic, type TaskAnswer } from '../../agent/protocol.ts';
import { collectInventory } from '../../agent/inventory.ts';
import { fakeHost, loadFixture } from '../../agent/fixtures/fake-host.ts';
import { applianceClient, type Fetch } from '../../agent/client.ts';
import { runAgent } from '../../agent/run.ts';

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';
let app: FastifyInstance;
let store: Store;
let server: Inventory; // a real collected document (the agent's collectors on the server fixture)

before(async () => {
  store = Store.open(':memory:');
  store.createUser('viewer', 'x', 'viewer');
  app = await buildApp({ config: configFrom({ zones: [{ name: 'zone-a' }] }), store });
  await app.ready();
  server = await collectInventory(fakeHost(loadFixture('server-uefi')), { now: () => new Date('2026-05-01T00:00:00Z') });
});
after(async () => { await app.close(); store.close(); });

let macSeq = 0x10;
const nextMac = () => `52:54:00:ab:00:${(macSeq++).toString(16).padStart(2, '0')}`;

/** A machine as the boot path leaves it: discovered, with a fresh boot token. */
function booted(mac = nextMac()) {
  const { machine } = discover(store, { mac, zone: 'zone-a', actor: 'http' });
  return { id: machine.id, mac, token: mintBootToken(store, machine.id) };
}

function inventoryFor(o: { uuid?: string; serial?: string; nics?: Array<Pick<Nic, 'mac' | 'name'>> }): Inventory {
  const nicTemplate = (server.nics as Nic[])[0];
  return {
    ...server,
    system: { ...server.system, uuid: o.uuid ?? server.system.uuid, serial: o.serial ?? server.system.serial },
    nics: (o.nics ?? []).map((n) => ({ ...nicTemplate, ...n })),
  };
}

const report = (token: string | null, body: unknown, headers: Record<string, string> = {}) => app.inject({
  method: 'POST', url: AGENT_PATHS.report, headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  payload: typeof body === 'string' ? body : JSON.stringify(body),
});

/** Every table a report may touch, to prove a refused one changed nothing (spent tokens included). */
function snapshot() {
  const rows = (sql: string) => store.db.prepare(sql).all();
  return JSON.stringify([
    rows('SELECT * FROM machines ORDER BY id'), rows('SELECT * FROM machine_macs ORDER BY mac'), rows('SELECT * FROM inventory ORDER BY machine_id'),
    rows('SELECT * FROM events ORDER BY id'), rows('SELECT id FROM tokens WHERE used_at IS NOT NULL ORDER BY id'),
  ]);
}

test('agent report: a good report inventories the machine and stores document, identity and NICs', async () => {
  const m = booted();
  const second = nextMac();
  const inv = inventoryFor({ uuid: '4c4c4544-0058-4b10-8034-b7c04f4d3233', serial: '7XK4M23', nics: [{ mac: m.mac, name: 'eno1' }, { mac: second, name: 'eno2' }] });
  const r = await report(m.token, { version: PROTOCOL_VERSION, mac: m.mac, inventory: inv });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json();
  assert.deepEqual(body, { version: 1, machineId: m.id, state: 'inventoried', task: nextTask({ state: 'inventoried' }) });
  const after = store.mustGetMachine(m.id);
  assert.equal(after.state, 'inventoried');
  assert.equal(after.smbiosUuid, '4c4c4544-0058-4b10-8034-b7c04f4d3233');
  assert.equal(after.serial, '7XK4M23');
  assert.deepEqual(after.macs, [m.mac, second].sort());
  assert.ok(after.inventoriedAt);
  assert.deepEqual(getInventory(store, m.id)?.doc, inv);
  assert.equal(store.getMachine(second)?.id, m.id, 'the second NIC now finds the machine');
  const [ev] = store.listEvents({ machineId: m.id, kind: 'transition', limit: 1 });
  assert.deepEqual([ev.from, ev.to, ev.actor], ['discovered', 'inventoried', 'agent']);
  assert.equal(ev.data?.disks, 3);
  // Operators read it back through the API.
  const token = (await import('../auth/users.ts')).mintApiToken(store, { user: 'viewer', name: 't', role: 'viewer' });
  const shown = await app.inject({ method: 'GET', url: `/api/v1/machines/${m.id}/inventory`, headers: { authorization: `Bearer ${token}` } });
  assert.equal(shown.statusCode, 200, shown.body);
  assert.deepEqual(shown.json().inventory, inv);
  const none = await app.inject({ method: 'GET', url: `/api/v1/machines/${booted().id}/inventory`, headers: { authorization: `Bearer ${token}` } });
  assert.equal(none.statusCode, 404);
  assert.match(none.json().message, /has not reported its hardware yet/);
});

test('agent report: unknown, forged, missing and replayed tokens are refused and change nothing', async () => {
  const m = booted();
  const body = { version: PROTOCOL_VERSION, mac: m.mac, inventory: inventoryFor({ nics: [] }) };
  const before = snapshot();
  for (const [token, status, code] of [
    [`${m.token.split('.')[0]}.${'A'.repeat(32)}`, 401, 'unauthorized'],
    ['zzzzzzzzzz.bm90LWEtdG9rZW4tbm90LWEtdG9rZW4tbm90LWE', 401, 'unauthorized'],
    [null, 401, 'unauthorized'],
  ] as const) {
    const r = await report(token, body);
    assert.equal(r.statusCode, status, String(token));
    assert.equal(r.json().error, code);
  }
  // A newer boot of the same machine replaces the token: the old one is dead.
  const newer = mintBootToken(store, m.id);
  assert.equal((await report(m.token, body)).statusCode, 401);
  assert.equal(snapshot(), before);
  assert.equal((await report(newer, body)).statusCode, 200);
  const replay = await report(newer, body);
  assert.equal(replay.statusCode, 409);
  assert.equal(replay.json().error, 'conflict');
});

test('agent report: a token may only speak for its own machine (403)', async () => {
  const a = booted();
  const b = booted();
  const before = snapshot();
  const r = await report(a.token, { version: PROTOCOL_VERSION, mac: b.mac, inventory: inventoryFor({}) });
  assert.equal(r.statusCode, 403);
  assert.equal(r.json().error, 'forbidden');
  assert.equal(snapshot(), before);
  // Body token and header token must agree.
  const mixed = await report(a.token, { version: PROTOCOL_VERSION, mac: a.mac, bootToken: b.token, inventory: inventoryFor({}) });
  assert.equal(mixed.statusCode, 401);
  assert.equal(snapshot(), before);
  // Without the header, the envelope's bootToken authenticates the same way.
  assert.equal((await report(null, { version: PROTOCOL_VERSION, mac: b.mac, bootToken: a.token, inventory: inventoryFor({}) })).statusCode, 403);
  assert.equal((await report(null, { version: PROTOCOL_VERSION, mac: b.mac, bootToken: 'x.y', inventory: inventoryFor({}) })).statusCode, 401);
  assert.equal(snapshot(), before);
  const viaBody = await report(null, { version: PROTOCOL_VERSION, mac: b.mac, bootToken: b.token, inventory: inventoryFor({}) });
  assert.equal(viaBody.statusCode, 200);
  assert.equal(viaBody.json().machineId, b.id);
});

test('agent report: a bad report gets 400 with the first problem and the store is unchanged', async () => {
  const m = booted();
  const before = snapshot();
  const good = { version: PROTOCOL_VERSION, mac: m.mac, inventory: inventoryFor({ nics: [{ mac: m.mac, name: 'eno1' }] }) };
  const cases: Array<[unknown, RegExp]> = [
    [{ ...good, inventory: { ...good.inventory, cpu: { ...good.inventory.cpu, sockets: '2' } } }, /^body\.inventory\.cpu\.sockets must be integer/], // no coercion
    [{ ...good, version: 2 }, /^body\.version is 2; this appliance speaks agent protocol 1/],
    [{ ...good, inventory: { ...good.inventory, system: { ...good.inventory.system, serial: 'x'.repeat(257) } } }, /^body\.inventory\.system\.serial must NOT have more than 256 characters/],
    [{ ...good, inventory: { ...good.inventory, disks: { absent: '' } } }, /^body\.inventory\.disks /],
    [{ ...good, extra: 1 }, /^body must NOT have additional properties/],
    [{ ...good, mac: 'not-a-mac' }, /^body\.mac must match pattern/],
    ['{"version":1,', /^the body is not valid JSON/],
    [{ ...good, inventory: { ...good.inventory, nics: Array(257).fill((good.inventory.nics as Nic[])[0]) } }, /^body\.inventory\.nics must NOT have more than 256 items/],
  ];
  for (const [body, message] of cases) {
    const r = await report(m.token, body);
    assert.equal(r.statusCode, 400, r.body);
    assert.equal(r.json().error, 'bad_request');
    assert.match(r.json().message, message);
  }
  assert.equal(snapshot(), before);
  assert.equal((await report(m.token, good)).statusCode, 200, 'the token was not spent by the refused reports');
});

test('agent report: an oversized body is refused (413) before it is read', async () => {
  const m = booted();
  const before = snapshot();
  const r = await report(m.token, { version: PROTOCOL_VERSION, mac: m.mac, inventory: { ...inventoryFor({}), padding: 'x'.repeat(300 * 1024) } });
  assert.equal(r.statusCode, 413);
  assert.equal(r.json().error, 'payload_too_large');
  assert.equal(snapshot(), before);
});

test('agent report: machines with all-zero or duplicated UUIDs are never merged', async () => {
  // Two boxes with the same all-zero UUID and the same placeholder serial: two machines.
  const a = booted();
  const b = booted();
  for (const m of [a, b]) {
    const r = await report(m.token, { version: PROTOCOL_VERSION, mac: m.mac, inventory: inventoryFor({ uuid: ZERO_UUID, serial: 'To Be Filled By O.E.M.', nics: [{ mac: m.mac, name: 'eth0' }] }) });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().machineId, m.id);
  }
  assert.notEqual(a.id, b.id);
  assert.deepEqual([store.mustGetMachine(a.id).state, store.mustGetMachine(b.id).state], ['inventoried', 'inventoried']);
  assert.equal(store.listEvents({ machineId: b.id, kind: 'identity' }).length, 0, 'placeholders are not worth a warning');

  // A cloned VM: the same real UUID and serial on two boot MACs. Kept apart, the operator is told.
  const c = booted();
  const d = booted();
  const clone = { uuid: '5c0ffee0-1234-4abc-9def-0123456789ab', serial: 'CLONE-1' };
  await report(c.token, { version: PROTOCOL_VERSION, mac: c.mac, inventory: inventoryFor({ ...clone, nics: [{ mac: c.mac, name: 'eth0' }] }) });
  const r = await report(d.token, { version: PROTOCOL_VERSION, mac: d.mac, inventory: inventoryFor({ ...clone, nics: [{ mac: d.mac, name: 'eth0' }] }) });
  assert.equal(r.json().machineId, d.id);
  const [warning] = store.listEvents({ machineId: d.id, kind: 'identity' });
  assert.deepEqual(warning.data?.others, [c.id]);
  assert.deepEqual(store.mustGetMachine(c.id).macs, [c.mac]);

  // A NIC that another machine owns stays with it.
  const e = booted();
  const r2 = await report(e.token, { version: PROTOCOL_VERSION, mac: e.mac, inventory: inventoryFor({ nics: [{ mac: e.mac, name: 'eth0' }, { mac: c.mac, name: 'eth1' }] }) });
  assert.equal(r2.statusCode, 200);
  assert.deepEqual(store.mustGetMachine(e.id).macs, [e.mac]);
  assert.deepEqual(store.mustGetMachine(c.id).macs, [c.mac]);
  assert.deepEqual(store.listEvents({ machineId: e.id, kind: 'identity' })[0].data?.foreignMacs, [{ mac: c.mac, machineId: c.id }]);
});

test('agent report: a failed machine that reboots into discovery is inventoried again; others keep their state', async () => {
  const m = booted();
  assert.equal((await report(m.token, { version: 1, mac: m.mac, inventory: inventoryFor({}) })).statusCode, 200);
  transition(store, m.id, 'approved', { actor: 'operator' });
  const t2 = mintBootToken(store, m.id);
  const r = await report(t2, { version: 1, mac: m.mac, inventory: inventoryFor({}) });
  assert.equal(r.json().state, 'approved', 'an approved machine stays approved; its inventory is refreshed');
  assert.equal(store.listEvents({ machineId: m.id, kind: 'inventory' }).length, 1);
  store.transition(m.id, () => ({ to: 'failed', actor: 'system' }));
  const r3 = await report(mintBootToken(store, m.id), { version: 1, mac: m.mac, inventory: inventoryFor({}) });
  assert.equal(r3.json().state, 'inventoried');
});

test('agent heartbeat and task: token-bound, answered from the lifecycle state', async () => {
  const m = booted();
  const other = booted();
  const hb = (token: string, body: unknown) => app.inject({ method: 'POST', url: AGENT_PATHS.heartbeat, headers: { authorization: `Bearer ${token}` }, payload: body as object });
  const beat = { version: 1, mac: m.mac, phase: 'idle', uptimeS: 12.5, message: 'report refused: body.x' };
  const r = await hb(m.token, beat);
  assert.equal(r.statusCode, 200, r.body);
  assert.deepEqual(r.json(), { version: 1, intervalS: 30 });
  await hb(m.token, beat);
  assert.equal(store.listEvents({ machineId: m.id, kind: 'agent' }).length, 1, 'the same problem is recorded once');
  assert.equal((await hb(m.token, { ...beat, mac: other.mac })).statusCode, 403);
  assert.equal((await hb(m.token, { ...beat, phase: 'hacking' })).statusCode, 400);
  assert.equal((await hb('nope', beat)).statusCode, 401);

  const task = (token: string, mac: string) => app.inject({ method: 'GET', url: `${AGENT_PATHS.task}?mac=${mac}`, headers: { authorization: `Bearer ${token}` } });
  assert.deepEqual((await task(m.token, m.mac)).json(), nextTask({ state: 'discovered' }));
  assert.equal((await task(m.token, other.mac)).statusCode, 403);
  assert.equal((await task(m.token, 'zz')).statusCode, 400);
  assert.equal((await app.inject({ method: 'GET', url: `${AGENT_PATHS.task}?mac=${m.mac}` })).statusCode, 401);
});

test('agent task: every lifecycle state has an answer; only disk-booting states reboot; nothing writes', () => {
  for (const state of STATES) {
    const t = nextTask({ state });
    assert.ok(['none', 'wait', 'reboot'].includes(t.task), state);
    assert.equal(t.task === 'reboot', ['installed', 'joining', 'enrolled', 'ready', 'headless'].includes(state), state);
  }
});

test('agent ↔ appliance: the real agent loop reports a collected inventory and obeys poweroff', async () => {
  const s = Store.open(':memory:');
  const tiny = Fastify({ logger: false });
  installErrorHandlers(tiny);
  const poweroff: TaskAnswer = { version: 1, task: 'poweroff', reason: 'test: inventoried, power off', pollAfterS: 1 };
  await tiny.register(agentPlugin, { store: s, taskFor: (m) => (m.state === 'inventoried' ? poweroff : nextTask(m)) });
  await tiny.ready();
  const { machine } = discover(s, { mac: 'b0:26:28:aa:bb:01', actor: 'http' });
  const token = mintBootToken(s, machine.id);
  // The agent's HTTP calls go through inject: no socket is opened.
  const viaInject: Fetch = async (url, init) => {
    const r = await tiny.inject({ method: init.method as 'GET' | 'POST', url: url.replace('http://tether.test', ''), headers: init.headers, payload: init.body });
    return new Response(r.rawPayload, { status: r.statusCode, headers: { 'content-type': String(r.headers['content-type'] ?? '') } });
  };
  const cfg = { url: 'http://tether.test', token, mac: machine.bootMac, mode: 'discovery' as const, write: false };
  const logs: string[] = [];
  const action = await runAgent(cfg, {
    client: applianceClient(cfg, { fetch: viaInject }),
    collect: () => collectInventory(fakeHost(loadFixture('server-uefi'))),
    power: async () => {},
    sleep: async () => {},
    log: (l) => logs.push(l),
    uptimeS: () => 0,
  });
  assert.equal(action, 'poweroff');
  const m = s.mustGetMachine(machine.id);
  assert.equal(m.state, 'inventoried');
  assert.equal(m.serial, '7XK4M23');
  assert.deepEqual(m.macs, ['b0:26:28:aa:bb:01', 'b0:26:28:aa:bb:02']);
  assert.ok(logs.some((l) => l.startsWith(`reported: machine ${machine.id} is inventoried`)), logs.join('\n'));
  await tiny.close();
  s.close();
});
