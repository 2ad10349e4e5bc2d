// Property-based fuzzing of the DHCP codec (fast-check): decode never throws and only yields typed
// errors, whatever decodes re-encodes byte for byte, decode(encode(x)) = x for generated packets,
// and mutated real packets never crash it.
//
// There are five properties; each runs FUZZ_RUNS cases (default 2000: 10,000 cases, about a second,
// in CI). The long run, 1,000,000 cases in about a minute:
//   FUZZ_RUNS=200000 npm test -- pxe/dhcp/fuzz
// FUZZ_SEED=<n> replays a run with the seed a failure printed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { loadCaptures } from '../../test/fixtures/dhcp/captures.ts';
import * as basic from './options/basic.ts';
import type { OptionCodec } from './options/codec.ts';
import * as ipxe from './options/ipxe.ts';
import * as pxe from './options/pxe.ts';
import * as relay from './options/relay.ts';
import * as userclass from './options/userclass.ts';
import { decodePacket, DECODE_ERROR, encodePacket, type Packet } from './packet.ts';
import { mutate, mutation } from '../../test/lib/mutate.ts';

const runs = Number(process.env.FUZZ_RUNS ?? 2000);
const params = { numRuns: runs, ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}) };
const errorCodes = new Set<string>(Object.values(DECODE_ERROR));

/** Decode must not throw; an error must be typed; anything accepted must re-encode exactly. */
function decodesSafely(bytes: Uint8Array): void {
  const r = decodePacket(bytes);
  if (!r.ok) {
    assert.ok(errorCodes.has(r.error.code), r.error.code);
    return;
  }
  assert.deepEqual(encodePacket(r.packet), bytes);
}

const byte = fc.integer({ min: 0, max: 255 });
const optionCode = fc.integer({ min: 1, max: 254 });

/** Option-area bytes built from plausible pieces, so most of them get past the framing checks. */
const optionArea = (maxPieces: number): fc.Arbitrary<number[]> =>
  fc
    .array(
      fc.oneof(
        { weight: 2, arbitrary: fc.constant([0]) },
        { weight: 1, arbitrary: fc.constant([255]) },
        { weight: 8, arbitrary: fc.tuple(optionCode, fc.uint8Array({ maxLength: 40, size: 'max' })).map(([c, d]) => [c, d.length, ...d]) },
        { weight: 1, arbitrary: fc.array(byte, { maxLength: 6 }) },
      ),
      { maxLength: maxPieces, size: 'max' },
    )
    .map((pieces) => pieces.flat());

/** Mostly a valid option overload (52) up front, so options continue into file and sname. */
const overload = fc.oneof(
  { weight: 2, arbitrary: fc.constant([]) },
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 3 }).map((v) => [52, 1, v]) },
  { weight: 1, arbitrary: fc.tuple(fc.nat({ max: 2 }), byte).map(([len, v]) => [52, len, v, v]) },
);

const structuredDatagram = fc
  .tuple(fc.uint8Array({ minLength: 236, maxLength: 236 }), optionArea(8), optionArea(12), overload, optionArea(40), fc.nat({ max: 300 }))
  .map(([header, sname, file, overloadOption, areaOptions, tail]) => {
    const options = [...overloadOption, ...areaOptions];
    const b = new Uint8Array(Math.max(240 + options.length + tail, 240));
    b.set(header);
    b.set(sname.slice(0, 64), 44);
    b.set(file.slice(0, 128), 108);
    b.set([99, 130, 83, 99], 236);
    b.set(options, 240);
    return b;
  });

test(`fuzz (${runs} runs): arbitrary bytes decode to a packet or a typed error, never an exception`, () => {
  fc.assert(fc.property(fc.uint8Array({ minLength: 200, maxLength: 1500, size: 'max' }), decodesSafely), params);
  fc.assert(fc.property(structuredDatagram, decodesSafely), params);
});

const ip = fc.tuple(byte, byte, byte, byte).map((a) => a.join('.'));
const latin1 = (max: number): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 1, max: 255 }), { maxLength: max, size: 'max' }).map((c) => String.fromCharCode(...c));
/** Mostly short values, some long enough to need RFC 3396 splitting. */
const optionValue = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 16 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600, size: 'max' }) },
);
const packet: fc.Arbitrary<Packet> = fc.record({
  op: byte,
  htype: byte,
  hlen: byte,
  hops: byte,
  xid: fc.nat({ max: 0xffffffff }),
  secs: fc.nat({ max: 0xffff }),
  flags: fc.nat({ max: 0xffff }),
  ciaddr: ip,
  yiaddr: ip,
  siaddr: ip,
  giaddr: ip,
  chaddr: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  sname: latin1(64),
  file: latin1(128),
  options: fc
    .uniqueArray(fc.tuple(optionCode.filter((c) => c !== 52), optionValue), { selector: ([c]) => c, maxLength: 20 })
    .map((entries) => new Map(entries)),
}).map((fields) => ({ ...fields })); // fc.record builds null-prototype objects

test(`fuzz (${runs} runs): decode(encode(x)) = x for generated packets, options in the same order`, () => {
  fc.assert(
    fc.property(packet, fc.nat({ max: 1000 }), (p, minSize) => {
      const bytes = encodePacket(p, { minSize });
      const r = decodePacket(bytes);
      assert.ok(r.ok);
      const { framing, ...content } = r.packet;
      assert.ok(framing);
      assert.deepEqual(content, p);
      assert.deepEqual([...content.options.keys()], [...p.options.keys()]);
      assert.deepEqual(encodePacket(r.packet), bytes);
    }),
    params,
  );
});


test(`fuzz (${runs} runs): bit flips, truncations, insertions and deletions of the golden packets never crash decode`, () => {
  const golden = loadCaptures().map((c) => c.bytes);
  fc.assert(
    fc.property(fc.nat({ max: golden.length - 1 }), fc.array(mutation, { minLength: 1, maxLength: 8 }), (i, ms) =>
      decodesSafely(mutate(golden[i], ms)),
    ),
    params,
  );
});

const codecs: OptionCodec<unknown>[] = [basic, pxe, userclass, ipxe, relay].flatMap((family) =>
  Object.values(family).filter((v): v is OptionCodec<unknown> => typeof v === 'object' && v !== null && 'decode' in v),
);

test(`fuzz (${runs} runs): every option codec reads any bytes without throwing, and what it reads it can write back`, () => {
  assert.ok(codecs.length >= 35, `${codecs.length} codecs`);
  fc.assert(
    fc.property(fc.constantFrom(...codecs), fc.uint8Array({ maxLength: 300, size: 'medium' }), (codec, bytes) => {
      const value = codec.decode(bytes);
      if (value !== undefined) assert.deepEqual(codec.decode(codec.encode(value)), value, codec.name);
    }),
    params,
  );
});
