import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeTftp, encodeTftp, MAX_REQUEST, type DecodeErrorCode, type TftpPacket } from './packet.ts';

// CI runs a few thousand cases; a long run: FUZZ_RUNS=1000000 npm test -- pxe/tftp/packet
const runs = Number(process.env.FUZZ_RUNS ?? 3000);

const bytes = (...parts: Array<string | number[]>): Buffer =>
  Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p))));

test('decodes the requests real firmware sends', () => {
  const edk2 = decodeTftp(bytes([0, 1], 'ipxe.efi\0octet\0tsize\x000\0blksize\x001468\0windowsize\x004\0'));
  assert.deepEqual(edk2, {
    ok: true,
    packet: { op: 'RRQ', filename: 'ipxe.efi', mode: 'octet', options: new Map([['tsize', '0'], ['blksize', '1468'], ['windowsize', '4']]) },
  });
  // Mode and option names are case-insensitive (RFC 1350, RFC 2347); values and filenames are kept.
  const upper = decodeTftp(bytes([0, 1], '/Boot/X.efi\0OCTET\0BlkSize\x001432\0TSIZE\x000\0'));
  assert.deepEqual(upper, {
    ok: true,
    packet: { op: 'RRQ', filename: '/Boot/X.efi', mode: 'octet', options: new Map([['blksize', '1432'], ['tsize', '0']]) },
  });
});

test('decodes each opcode', () => {
  const cases: Array<[Buffer, TftpPacket]> = [
    [bytes([0, 2], 'up.bin\0netascii\0'), { op: 'WRQ', filename: 'up.bin', mode: 'netascii', options: new Map() }],
    [bytes([0, 3, 0xff, 0xff], 'abc'), { op: 'DATA', block: 65535, data: Buffer.from('abc') }],
    [bytes([0, 3, 0, 0]), { op: 'DATA', block: 0, data: Buffer.alloc(0) }],
    [bytes([0, 4, 1, 2]), { op: 'ACK', block: 258 }],
    [bytes([0, 5, 0, 8], 'size probe\0'), { op: 'ERROR', code: 8, message: 'size probe' }],
    [bytes([0, 6], 'tsize\x003145728\0'), { op: 'OACK', options: new Map([['tsize', '3145728']]) }],
    // Padding NULs after the options (seen from PXE ROMs) are accepted.
    [bytes([0, 1], 'a\0octet\0blksize\x00512\0\0\0\0'), { op: 'RRQ', filename: 'a', mode: 'octet', options: new Map([['blksize', '512']]) }],
    // An empty option value is a value (RFC 2090's multicast option has one).
    [bytes([0, 1], 'a\0octet\0multicast\0\0'), { op: 'RRQ', filename: 'a', mode: 'octet', options: new Map([['multicast', '']]) }],
    // A client's ERROR is read leniently: no NUL, odd bytes.
    [bytes([0, 5, 0, 0], 'bad\x01\xff'), { op: 'ERROR', code: 0, message: 'bad??' }],
  ];
  for (const [buf, packet] of cases) assert.deepEqual(decodeTftp(buf), { ok: true, packet }, buf.toString('hex'));
});

test('rejects malformed packets with a typed error', () => {
  const cases: Array<[Buffer, DecodeErrorCode]> = [
    [bytes([]), 'too-short'],
    [bytes([0]), 'too-short'],
    [bytes([0, 7]), 'unknown-opcode'],
    [bytes([0, 0, 1, 2]), 'unknown-opcode'],
    [bytes([1, 1], 'a\0octet\0'), 'unknown-opcode'],
    [bytes([0, 1], 'a'), 'unterminated-string'],
    [bytes([0, 1], 'a\0octet'), 'unterminated-string'],
    [bytes([0, 1], '\0octet\0'), 'empty-filename'],
    [bytes([0, 1], 'a\nb\0octet\0'), 'bad-string'],
    [bytes([0, 1], 'caf\xe9\0octet\0'), 'bad-string'],
    [bytes([0, 1], 'a\0binary\0'), 'bad-mode'],
    [bytes([0, 1], 'a\0octet\0blksize\0'), 'missing-option-value'],
    [bytes([0, 1], 'a\0octet\0blksize\x00512\0BLKSIZE\x001468\0'), 'duplicate-option'],
    [bytes([0, 1], 'a\0octet\0\0junk'), 'trailing-bytes'],
    [bytes([0, 1], 'a\0octet\0blksize\x00512'), 'unterminated-string'],
    [bytes([0, 1], `${'x'.repeat(MAX_REQUEST)}\0octet\0`), 'request-too-long'],
    [bytes([0, 4, 0]), 'bad-length'],
    [bytes([0, 4, 0, 1, 0]), 'bad-length'],
    [bytes([0, 3, 0]), 'too-short'],
    [Buffer.concat([bytes([0, 3, 0, 1]), Buffer.alloc(65465)]), 'bad-length'],
    [bytes([0, 5, 0]), 'too-short'],
    [bytes([0, 6], 'tsize\0'), 'missing-option-value'],
  ];
  for (const [buf, code] of cases) {
    const r = decodeTftp(buf);
    assert.equal(r.ok, false, buf.toString('hex'));
    if (!r.ok) assert.equal(r.error.code, code, buf.toString('hex'));
  }
});

test('a request of exactly 512 octets is accepted', () => {
  const buf = bytes([0, 1], `${'x'.repeat(MAX_REQUEST - 2 - 1 - 6)}\0octet\0`);
  assert.equal(buf.length, MAX_REQUEST);
  assert.equal(decodeTftp(buf).ok, true);
});

test('encodes DATA, OACK and ERROR on the wire', () => {
  assert.deepEqual(encodeTftp({ op: 'DATA', block: 1, data: Buffer.from('hi') }), bytes([0, 3, 0, 1], 'hi'));
  assert.deepEqual(encodeTftp({ op: 'OACK', options: new Map([['blksize', '1468'], ['tsize', '7']]) }), bytes([0, 6], 'blksize\x001468\0tsize\x007\0'));
  assert.deepEqual(encodeTftp({ op: 'ERROR', code: 1, message: 'no such file' }), bytes([0, 5, 0, 1], 'no such file\0'));
  assert.deepEqual(encodeTftp({ op: 'ACK', block: 65535 }), bytes([0, 4, 0xff, 0xff]));
});

test('encode refuses what it could not put on the wire', () => {
  assert.throws(() => encodeTftp({ op: 'ACK', block: 65536 }), RangeError);
  assert.throws(() => encodeTftp({ op: 'DATA', block: 1, data: Buffer.alloc(65465) }), RangeError);
  assert.throws(() => encodeTftp({ op: 'ERROR', code: 0, message: 'a\0b' }), RangeError);
  assert.throws(() => encodeTftp({ op: 'RRQ', filename: 'x'.repeat(600), mode: 'octet', options: new Map() }), RangeError);
});

test('fuzz: decodeTftp never throws and returns a well-formed result', () => {
  // Mostly valid opcodes, so the fuzzer reaches past the first two bytes.
  const packetish = fc.tuple(fc.integer({ min: 0, max: 7 }), fc.uint8Array({ maxLength: 600 }))
    .map(([op, rest]) => Buffer.concat([Buffer.from([0, op]), rest]));
  fc.assert(fc.property(fc.oneof(fc.uint8Array({ maxLength: 700 }), packetish), (buf) => {
    const r = decodeTftp(buf);
    if (r.ok) assert.ok(['RRQ', 'WRQ', 'DATA', 'ACK', 'ERROR', 'OACK'].includes(r.packet.op));
    else assert.equal(typeof r.error.code, 'string');
  }), { numRuns: runs });
});

const printable = (maxLength: number, minLength = 0) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), minLength, maxLength });
const options = fc.uniqueArray(fc.tuple(printable(16, 1).map((s) => s.toLowerCase()), printable(16)), { maxLength: 6, selector: ([name]) => name })
  .map((pairs) => new Map(pairs));
const packet: fc.Arbitrary<TftpPacket> = fc.oneof(
  fc.record({ op: fc.constantFrom('RRQ' as const, 'WRQ' as const), filename: printable(128, 1), mode: fc.constantFrom('netascii' as const, 'octet' as const, 'mail' as const), options }),
  fc.record({ op: fc.constant('DATA' as const), block: fc.integer({ min: 0, max: 65535 }), data: fc.uint8Array({ maxLength: 1500 }).map((a) => Buffer.from(a)) }),
  fc.record({ op: fc.constant('ACK' as const), block: fc.integer({ min: 0, max: 65535 }) }),
  fc.record({ op: fc.constant('ERROR' as const), code: fc.integer({ min: 0, max: 65535 }), message: printable(100) }),
  fc.record({ op: fc.constant('OACK' as const), options }),
);

test('fuzz: decode(encode(p)) = p', () => {
  fc.assert(fc.property(packet, (p) => {
    // fc.record builds null-prototype objects; the decoder builds plain ones.
    assert.deepEqual(decodeTftp(encodeTftp(p)), { ok: true, packet: { ...p } });
  }), { numRuns: runs });
});
