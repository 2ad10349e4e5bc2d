// Property-based fuzzing of the LLDP and pcap decoders (fast-check): whatever a switch port or a
// capture file holds, decoding yields a frame or a typed error — never an exception — with every
// reported string bounded; generated frames decode to what was encoded; mutated real captures
// (lldpd via tcpdump, fixtures/lldp) never crash it.
//
// Each property runs FUZZ_RUNS cases (default 2000, well under a second); the long run:
//   FUZZ_RUNS=200000 npm test -- agent/collect/lldp-fuzz
// FUZZ_SEED=<n> replays a run with the seed a failure printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { Ajv } from 'ajv';
import { FIXTURES } from '../fixtures/fake-host.ts';
import { inventorySchema } from '../protocol.ts';
import {
  decodeLldpFrame, decodePcap, encodeLldpFrame, LLDP_ERROR, lldpTlv, neighbourFromPcap, PCAP_ERROR, pcapHeader, pcapRecord, type LldpTlv,
} from './lldp.ts';
import { lldpFact } from './nics.ts';
import { mutate, mutation } from '../../test/lib/mutate.ts';

const runs = Number(process.env.FUZZ_RUNS ?? 2000);
const params = { numRuns: runs, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) };
const lldpCodes = new Set<string>(Object.values(LLDP_ERROR));
const pcapCodes = new Set<string>(Object.values(PCAP_ERROR));
// The neighbour fact must always fit the protocol (the appliance validates reports against it).
const validLldp = new Ajv({ strict: true }).compile(inventorySchema.properties.nics.anyOf[0].items.properties.lldp);

function decodesSafely(bytes: Uint8Array): void {
  const r = decodeLldpFrame(bytes);
  if (!r.ok) { assert.ok(lldpCodes.has(r.error.code), r.error.code); return; }
  const f = r.frame;
  for (const s of [f.chassisId.value, f.portId.value, f.systemName ?? '', f.portDescription ?? '', f.systemDescription ?? '']) assert.ok(s.length <= 3 * 256, 'bounded');
  assert.ok(f.managementAddresses.length <= 8);
  assert.ok(validLldp(lldpFact(f)), JSON.stringify(validLldp.errors));
}

function pcapSafely(bytes: Uint8Array): void {
  const r = decodePcap(bytes);
  if (!r.ok) assert.ok(pcapCodes.has(r.error.code), r.error.code);
  const n = neighbourFromPcap(bytes);
  if (n.ok) assert.ok(validLldp(lldpFact(n.frame)));
  else assert.equal(typeof n.why, 'string');
}

const byte = fc.integer({ min: 0, max: 255 });
const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map((b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(':'));
const anyTlv: fc.Arbitrary<LldpTlv> = fc.record({ type: fc.integer({ min: 0, max: 127 }), value: fc.uint8Array({ maxLength: 60 }) });
const textish = fc.string({ minLength: 1, maxLength: 40 });
/** An LLDPDU: mostly the mandatory three first, then anything. */
const tlvs = fc.tuple(
  fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 20 })).map(([s, v]) => [lldpTlv.chassis(s, v)]) },
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 1, max: 7 }), textish).map(([s, v]) => [lldpTlv.chassis(s, v)]) },
    { weight: 1, arbitrary: fc.constant([] as LldpTlv[]) },
  ),
  fc.oneof(
    { weight: 3, arbitrary: fc.tuple(fc.integer({ min: 0, max: 9 }), fc.uint8Array({ maxLength: 20 })).map(([s, v]) => [lldpTlv.port(s, v)]) },
    { weight: 1, arbitrary: fc.constant([] as LldpTlv[]) },
  ),
  fc.oneof({ weight: 4, arbitrary: fc.nat({ max: 65535 }).map((s) => [lldpTlv.ttl(s)]) }, { weight: 1, arbitrary: fc.constant([] as LldpTlv[]) }),
  fc.array(anyTlv, { maxLength: 12 }),
).map(([a, b, c, rest]) => [...a, ...b, ...c, ...rest]);

const frames = fc.tuple(mac, tlvs).map(([m, t]) => encodeLldpFrame(m, t));

test(`fuzz (${runs} runs): arbitrary bytes and generated LLDPDUs decode to a frame or a typed error, never an exception`, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 1600, size: 'max' }), decodesSafely), params);
  fc.assert(fc.property(frames, decodesSafely), params);
  // Ethernet header + LLDP ethertype + random TLV bytes: past the first check every time.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (tail) => decodesSafely(Uint8Array.from([...Array(12).fill(2), 0x88, 0xcc, ...tail]))), params);
});

test(`fuzz (${runs} runs): well-formed neighbours decode to exactly what was sent`, () => {
  const name = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9./:_-]{0,62}$/);
  fc.assert(fc.property(mac, mac, name, name, fc.integer({ min: 1, max: 65535 }), fc.option(name, { nil: null }), (src, chassis, port, sys, ttl, descr) => {
    const frame = encodeLldpFrame(src, [lldpTlv.chassisMac(chassis), lldpTlv.port(5, port), lldpTlv.ttl(ttl), lldpTlv.text(5, sys), ...(descr ? [lldpTlv.text(4, descr)] : [])]);
    const r = decodeLldpFrame(frame);
    assert.ok(r.ok);
    assert.deepEqual([r.frame.source, r.frame.chassisId, r.frame.portId, r.frame.ttl, r.frame.systemName, r.frame.portDescription],
      [src, { subtype: 4, kind: 'mac', value: chassis }, { subtype: 5, kind: 'text', value: port }, ttl, sys, descr]);
    assert.deepEqual(lldpFact(r.frame), { chassisId: chassis, portId: port, systemName: sys });
  }), params);
});


test(`fuzz (${runs} runs): mutated real captures (files and the frames in them) never crash the decoders`, () => {
  const files = ['lldpd-default', 'lldpd-ifname'].map((n) => readFileSync(`${FIXTURES}/lldp/${n}.pcap`));
  const golden = files.flatMap((f) => { const r = decodePcap(f); assert.ok(r.ok); return r.records.map((x) => x.data); });
  assert.ok(golden.length >= 4);
  fc.assert(fc.property(fc.nat({ max: golden.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }), (i, ms) => decodesSafely(mutate(golden[i], ms))), params);
  fc.assert(fc.property(fc.nat({ max: files.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }), (i, ms) => pcapSafely(mutate(files[i], ms))), params);
  fc.assert(fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (recs) =>
    pcapSafely(Buffer.concat([pcapHeader(), ...recs.map((r) => pcapRecord(r, new Date(0)))]))), params);
});
