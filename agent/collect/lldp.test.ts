import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fakeHost, FIXTURES, type MachineFixture } from '../fixtures/fake-host.ts';
import {
  decodeLldpFrame, decodePcap, encodeLldpFrame, LLDP_ERROR, lldpTlv, neighbourFromPcap, PCAP_ERROR, pcapHeader, pcapRecord,
  type LldpDecodeResult, type LldpNeighbourFrame,
} from './lldp.ts';
import { collectLldp, lldpFact, LLDP_LISTEN_S, LLDP_NOT_LISTENING } from './nics.ts';

// Real captures: Debian's lldpd 1.0.16 → tcpdump (agent/fixtures/lldp/capture.sh).
const fixture = (name: string): Buffer => readFileSync(`${FIXTURES}/lldp/${name}.pcap`);

function frameOf(r: LldpDecodeResult): LldpNeighbourFrame {
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.frame;
}

test('lldp: lldpd\'s default frames (MAC chassis and port IDs), as tcpdump wrote them', () => {
  const p = decodePcap(fixture('lldpd-default'));
  assert.ok(p.ok);
  assert.equal(p.records.length, 3);
  const f = frameOf(decodeLldpFrame(p.records[0].data));
  assert.deepEqual(f, {
    source: '02:00:5e:10:00:01', vlan: null,
    chassisId: { subtype: 4, kind: 'mac', value: '02:00:5e:10:00:01' },
    portId: { subtype: 3, kind: 'mac', value: '02:00:5e:10:00:01' },
    ttl: 20, portDescription: 'rack 7 / server 12', systemName: 'lab-switch-1',
    systemDescription: f.systemDescription, managementAddresses: ['192.0.2.1'],
  });
  assert.match(f.systemDescription ?? '', /^Debian GNU\/Linux 12/);
  assert.deepEqual(lldpFact(f), { chassisId: '02:00:5e:10:00:01', portId: '02:00:5e:10:00:01', systemName: 'lab-switch-1' });
  // lldpd's last word as it stopped: a shutdown LLDPDU (TTL 0) — the neighbour is gone.
  const last = frameOf(decodeLldpFrame(p.records[2].data));
  assert.equal(last.ttl, 0);
  assert.equal(last.systemName, null);
  const n = neighbourFromPcap(fixture('lldpd-default'));
  assert.ok(n.ok);
  assert.deepEqual(lldpFact(n.frame), { absent: 'the neighbour announced it is going away (LLDP TTL 0)' });
});

test('lldp: a locally assigned chassis ID and an interface-name port ID (what switches send)', () => {
  const p = decodePcap(fixture('lldpd-ifname'));
  assert.ok(p.ok);
  const f = frameOf(decodeLldpFrame(p.records[1].data));
  assert.deepEqual([f.chassisId, f.portId, f.systemName, f.managementAddresses, f.ttl], [
    { subtype: 7, kind: 'text', value: 'SWITCH-CHASSIS-0007' }, { subtype: 5, kind: 'text', value: 'sw0' }, 'tor-r07.example.net', ['198.51.100.77'], 20,
  ]);
  assert.deepEqual(lldpFact(f), { chassisId: 'SWITCH-CHASSIS-0007', portId: 'sw0', systemName: 'tor-r07.example.net' });
});

const SRC = '02:00:00:00:00:99';
const base = [lldpTlv.chassisMac('00:11:22:33:44:55'), lldpTlv.port(5, 'Ethernet1/12'), lldpTlv.ttl(120)];

test('lldp: ID subtypes — network addresses, names, circuit IDs; 802.1Q tags; text that is not text', () => {
  const v4 = frameOf(decodeLldpFrame(encodeLldpFrame(SRC, [lldpTlv.chassis(5, Buffer.from([1, 10, 0, 0, 1])), lldpTlv.port(4, Buffer.from([1, 10, 0, 0, 2])), lldpTlv.ttl(5)])));
  assert.deepEqual([v4.chassisId, v4.portId], [{ subtype: 5, kind: 'ip', value: '10.0.0.1' }, { subtype: 4, kind: 'ip', value: '10.0.0.2' }]);
  const v6 = Buffer.from([2, 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  assert.equal(frameOf(decodeLldpFrame(encodeLldpFrame(SRC, [lldpTlv.chassis(5, v6), ...base.slice(1)]))).chassisId.value, '2001:db8::1');
  const circuit = frameOf(decodeLldpFrame(encodeLldpFrame(SRC, [base[0], lldpTlv.port(6, Buffer.from([0, 4, 0, 1, 0, 12])), base[2]])));
  assert.deepEqual(circuit.portId, { subtype: 6, kind: 'bytes', value: '00:04:00:01:00:0c' });
  const binaryName = frameOf(decodeLldpFrame(encodeLldpFrame(SRC, [...base, { type: 5, value: Buffer.from([0xff, 0xfe, 0x01]) }])));
  assert.equal(binaryName.systemName, 'ff:fe:01');
  const nulPadded = frameOf(decodeLldpFrame(encodeLldpFrame(SRC, [...base, lldpTlv.text(5, 'leaf-3\0\0')])));
  assert.equal(nulPadded.systemName, 'leaf-3');
  const plain = encodeLldpFrame(SRC, [...base, lldpTlv.text(5, 'leaf-3')]);
  const tagged = Buffer.concat([plain.subarray(0, 12), Buffer.from([0x81, 0x00, 0x20, 0x64]), plain.subarray(12)]);
  const t = frameOf(decodeLldpFrame(tagged));
  assert.deepEqual([t.vlan, t.systemName, t.portId.value], [100, 'leaf-3', 'Ethernet1/12']);
});

test('lldp: malformed frames are typed errors', () => {
  const code = (b: Uint8Array) => { const r = decodeLldpFrame(b); return r.ok ? 'ok' : r.error.code; };
  const ok = encodeLldpFrame(SRC, base);
  assert.equal(code(ok), 'ok');
  assert.equal(code(ok.subarray(0, 10)), LLDP_ERROR.TooShort);
  assert.equal(code(Buffer.alloc(2000)), LLDP_ERROR.TooLong);
  const ip = Buffer.from(ok); ip[12] = 0x08; ip[13] = 0x00;
  assert.equal(code(ip), LLDP_ERROR.NotLldp);
  assert.equal(code(ok.subarray(0, ok.length - 2)), LLDP_ERROR.NoEnd, 'no End TLV');
  assert.equal(code(ok.subarray(0, 20)), LLDP_ERROR.TlvTruncated);
  assert.equal(code(encodeLldpFrame(SRC, [base[1], base[0], base[2]])), LLDP_ERROR.MissingMandatory, 'port ID before chassis ID');
  assert.equal(code(encodeLldpFrame(SRC, base.slice(0, 2))), LLDP_ERROR.MissingMandatory, 'no TTL');
  assert.equal(code(encodeLldpFrame(SRC, [...base, lldpTlv.text(5, 'a'), lldpTlv.text(5, 'b')])), LLDP_ERROR.Duplicate);
  assert.equal(code(encodeLldpFrame(SRC, [lldpTlv.chassis(4, Buffer.from([1, 2, 3])), ...base.slice(1)])), LLDP_ERROR.BadId, 'a 3-byte MAC');
  assert.equal(code(encodeLldpFrame(SRC, [lldpTlv.chassis(9, 'x'), ...base.slice(1)])), LLDP_ERROR.BadId, 'reserved subtype');
  assert.equal(code(encodeLldpFrame(SRC, [lldpTlv.chassis(5, Buffer.from([1, 10, 0])), ...base.slice(1)])), LLDP_ERROR.BadId, 'a 3-byte IPv4');
  assert.equal(code(encodeLldpFrame(SRC, [{ type: 1, value: Buffer.from([7]) }, ...base.slice(1)])), LLDP_ERROR.BadTlvLength, 'an empty chassis ID');
  assert.equal(code(encodeLldpFrame(SRC, [base[0], base[1], { type: 3, value: Buffer.from([1]) }])), LLDP_ERROR.BadTlvLength, 'a 1-byte TTL');
  assert.equal(code(encodeLldpFrame(SRC, [...base, { type: 5, value: Buffer.alloc(300, 0x61) }])), LLDP_ERROR.BadTlvLength, 'a 300-byte name');
  assert.equal(code(encodeLldpFrame(SRC, [...base, { type: 8, value: Buffer.from([40, 1, 1, 2, 3, 4, 1, 0, 0, 0, 0, 0]) }])), LLDP_ERROR.BadTlvLength, 'address longer than its TLV');
  const endWithData = Buffer.concat([encodeLldpFrame(SRC, base).subarray(0, -2), Buffer.from([0x00, 0x01, 0x00])]);
  assert.equal(code(endWithData), LLDP_ERROR.BadTlvLength);
});

test('pcap: both byte orders, nanosecond stamps, a record still being written, and bad files', () => {
  const frame = encodeLldpFrame(SRC, [...base, lldpTlv.text(5, 'leaf-3')]);
  const le = Buffer.concat([pcapHeader(), pcapRecord(frame, new Date(1_700_000_000_250))]);
  const r = decodePcap(le);
  assert.ok(r.ok);
  assert.deepEqual([r.records.length, r.records[0].seconds, r.records[0].micros, Buffer.from(r.records[0].data).equals(frame)], [1, 1_700_000_000, 250_000, true]);
  // The same file big-endian with nanosecond timestamps (magic a1b23c4d).
  const be = Buffer.alloc(le.length);
  be.writeUInt32BE(0xa1b23c4d, 0); be.writeUInt16BE(2, 4); be.writeUInt16BE(4, 6); be.writeUInt32BE(1522, 16); be.writeUInt32BE(1, 20);
  be.writeUInt32BE(1_700_000_000, 24); be.writeUInt32BE(250_000_000, 28); be.writeUInt32BE(frame.length, 32); be.writeUInt32BE(frame.length, 36);
  frame.copy(be, 40);
  const rb = decodePcap(be);
  assert.ok(rb.ok);
  assert.deepEqual([rb.records[0].micros, Buffer.from(rb.records[0].data).equals(frame)], [250_000, true]);
  // Half a record at the end: the whole ones before it count.
  const partial = decodePcap(Buffer.concat([le, pcapRecord(frame, new Date()).subarray(0, 30)]));
  assert.ok(partial.ok && partial.records.length === 1);
  const code = (b: Uint8Array) => { const x = decodePcap(b); return x.ok ? 'ok' : x.error.code; };
  assert.equal(code(le.subarray(0, 20)), PCAP_ERROR.TooShort);
  assert.equal(code(Buffer.alloc(24)), PCAP_ERROR.BadMagic);
  const linux = Buffer.from(le); linux.writeUInt32LE(113, 20);
  assert.equal(code(linux), PCAP_ERROR.BadLinkType);
  const huge = Buffer.from(le); huge.writeUInt32LE(100_000, 32);
  assert.equal(code(huge), PCAP_ERROR.RecordTooLong);
  assert.equal(code(Buffer.concat([pcapHeader(), ...Array.from({ length: 1025 }, () => pcapRecord(Buffer.alloc(20), new Date()))])), PCAP_ERROR.TooManyRecords);
  assert.deepEqual(neighbourFromPcap(pcapHeader()), { ok: false, why: 'no LLDP frame received yet' });
  assert.deepEqual(neighbourFromPcap(Buffer.concat([pcapHeader(), pcapRecord(frame.subarray(0, 20), new Date())])),
    { ok: false, why: '1 LLDP frame(s) seen, none valid: tlv-truncated (TLV 1 of 7 bytes runs past the frame)' });
});

// --- collecting: the agent's side of /run/lldp ------------------------------------------------------

const frameHex = (name: string) => Buffer.concat([pcapHeader(), pcapRecord(encodeLldpFrame(SRC, [...base, lldpTlv.text(5, name)]), new Date())]).toString('hex');

function lldpMachine(o: { pcaps: Record<string, string>; since?: Record<string, string>; uptime?: string }): MachineFixture {
  const files: Record<string, string> = { '/proc/uptime': `${o.uptime ?? '30.00'} 10.00\n` };
  for (const [nic, s] of Object.entries(o.since ?? {})) files[`/run/lldp/${nic}.since`] = `${s}\n`;
  return { files, bytes: Object.fromEntries(Object.entries(o.pcaps).map(([nic, hex]) => [`/run/lldp/${nic}.pcap`, hex])) };
}

test('collect: neighbours per NIC; no listener, no link, or a capture that says why are not waited for', async () => {
  const m = lldpMachine({ pcaps: { eth0: frameHex('tor-1'), eth1: pcapHeader().toString('hex'), eth2: '00' }, since: { eth1: '1.0' } });
  let sleeps = 0;
  let t = 0;
  const got = await collectLldp(fakeHost(m), [{ name: 'eth0', link: 'up' }, { name: 'eth1', link: 'down' }, { name: 'eth2', link: 'up' }, { name: 'eth3', link: 'up' }],
    { sleep: async (ms) => { sleeps++; t += ms; }, clock: () => t });
  assert.deepEqual(Object.fromEntries(got), {
    eth0: { chassisId: '00:11:22:33:44:55', portId: 'Ethernet1/12', systemName: 'tor-1' },
    eth1: { absent: 'no link, so no LLDP neighbour' },
    eth2: { absent: 'capture unreadable: pcap-too-short (1 bytes, the pcap header is 24)' },
    eth3: { absent: 'not listened on for LLDP (/run/lldp/eth3.pcap: no such file)' },
  });
  // eth3 has link and no capture file: the listener may still be starting, so it was waited for.
  assert.equal(sleeps, LLDP_LISTEN_S * 2);
  const none = await collectLldp(fakeHost({}), [{ name: 'eth0', link: 'up' }]);
  assert.deepEqual(none.get('eth0'), LLDP_NOT_LISTENING);
});

test('collect: a NIC with link and no frame yet is waited for until it was listened on long enough, then absent', async () => {
  // Listening began at 25 s of uptime, it is 30 s now: 5 more seconds to go, in 500 ms polls.
  const m = lldpMachine({ pcaps: { eth0: pcapHeader().toString('hex') }, since: { eth0: '25.0' }, uptime: '30.0' });
  let t = 0;
  const polls: number[] = [];
  const host = fakeHost(m);
  const sleep = async (ms: number) => { t += ms; polls.push(t); m.files!['/proc/uptime'] = `${(30 + t / 1000).toFixed(2)} 1\n`; };
  const got = await collectLldp(host, [{ name: 'eth0', link: 'up' }], { sleep, clock: () => t });
  assert.deepEqual(got.get('eth0'), { absent: `no LLDP frame in ${LLDP_LISTEN_S} s of listening` });
  assert.equal(t, 5000, 'waited exactly until the NIC had been listened on for the whole window');

  // A frame that arrives during the wait ends it.
  t = 0;
  m.files!['/proc/uptime'] = '30.0 1\n';
  const sleep2 = async (ms: number) => { t += ms; if (t >= 1500) m.bytes!['/run/lldp/eth0.pcap'] = frameHex('late-switch'); };
  const late = await collectLldp(host, [{ name: 'eth0', link: 'up' }], { sleep: sleep2, clock: () => t });
  assert.deepEqual(late.get('eth0'), { chassisId: '00:11:22:33:44:55', portId: 'Ethernet1/12', systemName: 'late-switch' });
  assert.equal(t, 1500);

  // Never longer than maxWaitMs in all, whatever the files say.
  t = 0;
  m.bytes!['/run/lldp/eth0.pcap'] = pcapHeader().toString('hex');
  delete m.files!['/proc/uptime'];
  const capped = await collectLldp(host, [{ name: 'eth0', link: 'up' }], { sleep: async (ms) => { t += ms; }, clock: () => t, maxWaitMs: 2000 });
  assert.deepEqual(capped.get('eth0'), { absent: 'no LLDP frame in 2 s of waiting' });
  assert.equal(t, 2000);
});
