import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HostName, MessageType, MSG } from './options/basic.ts';
import { getOption, setOption } from './options/codec.ts';
import { BOOTP_MIN_SIZE, decodePacket, DECODE_ERROR, encodePacket, hwAddr, type Packet } from './packet.ts';

const ascii = (s: string): number[] => [...s].map((c) => c.charCodeAt(0));

/** A request with `options` written verbatim after the cookie, and sname/file bytes as given. */
function datagram(options: number[], { sname = [] as number[], file = [] as number[], size = 300 } = {}): Uint8Array {
  const b = new Uint8Array(Math.max(size, 240 + options.length));
  b.set([1, 1, 6, 0, 0x9b, 0x4e, 0x05, 0x57, 0, 8, 0x80, 0], 0);
  b.set([0xd0, 0x50, 0x99, 0x4e, 0x05, 0x57], 28);
  b.set(sname, 44);
  b.set(file, 108);
  b.set([99, 130, 83, 99], 236);
  b.set(options, 240);
  return b;
}

function decoded(bytes: Uint8Array): Packet {
  const r = decodePacket(bytes);
  assert.ok(r.ok, r.ok ? '' : `${r.error.code}: ${r.error.message}`);
  return r.packet;
}

test('header fields per RFC 2131 §2', () => {
  const b = datagram([53, 1, 1, 255]);
  b.set([10, 0, 0, 9, 10, 0, 0, 10, 10, 0, 0, 11, 10, 0, 0, 1], 12);
  b[3] = 2;
  const p = decoded(b);
  assert.deepEqual(
    { op: p.op, htype: p.htype, hlen: p.hlen, hops: p.hops, xid: p.xid, secs: p.secs, flags: p.flags },
    { op: 1, htype: 1, hlen: 6, hops: 2, xid: 0x9b4e0557, secs: 8, flags: 0x8000 },
  );
  assert.deepEqual([p.ciaddr, p.yiaddr, p.siaddr, p.giaddr], ['10.0.0.9', '10.0.0.10', '10.0.0.11', '10.0.0.1']);
  assert.equal(p.chaddr.length, 16);
  assert.equal(hwAddr(p), 'd0:50:99:4e:05:57');
  assert.equal(getOption(p.options, MessageType), MSG.Discover);
});

test('typed decode errors, never an exception', () => {
  const cases: [Uint8Array, string, number?][] = [
    [new Uint8Array(239), DECODE_ERROR.TooShort],
    [new Uint8Array(65536), DECODE_ERROR.TooLong],
    [datagram([53, 1, 1, 12, 10, 0x61], { size: 246 }), DECODE_ERROR.OptionTruncated, 243],
    [datagram([53, 1, 1, 12], { size: 244 }), DECODE_ERROR.OptionTruncated, 243],
    [datagram([52, 2, 1, 1, 255]), DECODE_ERROR.BadOverload, 240],
    [datagram([52, 1, 4, 255]), DECODE_ERROR.BadOverload, 240],
    [datagram([52, 1, 1, 52, 1, 1, 255]), DECODE_ERROR.BadOverload, 243],
    [datagram([52, 1, 1, 255], { file: [52, 1, 2, 255] }), DECODE_ERROR.BadOverload, 108],
    [datagram([52, 1, 2, 255], { sname: [12, 70, 0x61] }), DECODE_ERROR.OptionTruncated, 44],
  ];
  for (const [bytes, code, offset] of cases) {
    const r = decodePacket(bytes);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.error.code, code);
      assert.equal(r.error.offset, offset);
    }
  }
});

test('option overload: options continue in file, then sname (RFC 2132 §9.3, RFC 3396 §5)', () => {
  const bytes = datagram([53, 1, 2, 52, 1, 3, 12, 3, ...ascii('abc'), 255], {
    file: [12, 3, ...ascii('def'), 0, 67, 4, ...ascii('boot'), 255],
    sname: [66, 4, ...ascii('tftp'), 12, 1, ...ascii('g'), 255],
  });
  const p = decoded(bytes);
  assert.deepEqual([...p.options.keys()], [53, 12, 67, 66], 'option 52 is framing, not content');
  assert.equal(getOption(p.options, HostName), 'abcdefg');
  assert.equal(p.file, '');
  assert.equal(p.sname, '');
  assert.deepEqual(encodePacket(p), bytes);

  // Naming a boot file in the field the options live in ends the overload: a fresh layout.
  const changed = decoded(encodePacket({ ...p, file: 'undionly.kpxe' }));
  assert.equal(changed.file, 'undionly.kpxe');
  assert.equal(changed.sname, '');
  assert.deepEqual(changed.options, p.options);
  assert.deepEqual(changed.framing?.areas.map((a) => a.field), ['options']);
});

test('long options: split into 255-byte instances, concatenated on decode (RFC 3396)', () => {
  const long = Uint8Array.from({ length: 600 }, (_, i) => i % 251);
  const p = decoded(datagram([53, 1, 1, 255]));
  const bytes = encodePacket({ ...p, options: new Map(p.options).set(224, long) });
  assert.deepEqual([bytes[243], bytes[244], bytes[500], bytes[501], bytes[757], bytes[758]], [224, 255, 224, 255, 224, 90]);
  const back = decoded(bytes);
  assert.deepEqual(back.options.get(224), long);
  assert.deepEqual(encodePacket(back), bytes);
});

test('odd framing re-encodes byte for byte: pads, no end, bytes after the end, text after the NUL', () => {
  const table = [
    datagram([0, 0, 53, 1, 3, 0, 12, 2, 0x61, 0x62, 255, 0xde, 0xad, 0xbe, 0xef]),
    datagram([53, 1, 3, 12, 54, ...new Array<number>(54).fill(0x61)], { size: 296 }),
    datagram([53, 1, 3, 255], { size: 240 + 4 }),
    datagram([53, 1, 3, 255], { file: [...ascii('pxelinux.0'), 0, 0xcc, 0xcc], sname: [...ascii('srv'), 0, 0x99] }),
    datagram([12, 1, 0x61, 53, 1, 3, 12, 1, 0x62, 255]),
  ];
  for (const bytes of table) assert.deepEqual(encodePacket(decoded(bytes)), bytes);
  assert.equal(decoded(table[3]).file, 'pxelinux.0');
  assert.equal(decoded(table[3]).sname, 'srv');
});

test('a changed option lays the options out afresh; a changed header keeps the framing', () => {
  const bytes = datagram([0, 53, 1, 3, 12, 2, 0x61, 0x62, 255, 7]);
  const p = decoded(bytes);
  const renamed = encodePacket({ ...p, options: setOption(p.options, HostName, 'node-7') });
  assert.equal(renamed.length, BOOTP_MIN_SIZE);
  assert.deepEqual([...renamed.subarray(240, 252)], [53, 1, 3, 12, 6, ...ascii('node-7'), 255]);
  const relayed = encodePacket({ ...p, hops: 1, giaddr: '10.9.8.7' });
  assert.deepEqual(relayed.subarray(28), bytes.subarray(28));
  assert.deepEqual([relayed[3], ...relayed.subarray(24, 28)], [1, 10, 9, 8, 7]);
});

test('fresh encode: map order, an end option, zeros up to 300 bytes unless told otherwise', () => {
  const p: Packet = {
    op: 2,
    htype: 1,
    hlen: 6,
    hops: 0,
    xid: 0xffffffff,
    secs: 0,
    flags: 0x8000,
    ciaddr: '0.0.0.0',
    yiaddr: '192.168.16.12',
    siaddr: '192.168.16.1',
    giaddr: '0.0.0.0',
    chaddr: Uint8Array.of(0xd0, 0x50, 0x99, 0x4e, 0x05, 0x57),
    sname: 'tether',
    file: 'undionly.kpxe',
    options: new Map([[53, Uint8Array.of(2)], [54, Uint8Array.of(192, 168, 16, 1)]]),
  };
  const bytes = encodePacket(p);
  assert.equal(bytes.length, 300);
  assert.deepEqual([...bytes.subarray(236, 250)], [99, 130, 83, 99, 53, 1, 2, 54, 4, 192, 168, 16, 1, 255]);
  assert.ok(bytes.subarray(250).every((b) => b === 0));
  assert.equal(encodePacket(p, { minSize: 0 }).length, 250);
  const back = decoded(bytes);
  assert.deepEqual({ ...back, framing: undefined }, { ...p, chaddr: Uint8Array.of(...p.chaddr, ...new Array<number>(10).fill(0)), framing: undefined });
});

test('plain BOOTP (no magic cookie): the vendor area is kept as it came', () => {
  const bytes = datagram([], { file: ascii('boot/pxelinux.0') });
  bytes.set([0x63, 0x82, 0x53, 0x00, 1, 2, 3], 236);
  const p = decoded(bytes);
  assert.equal(p.options.size, 0);
  assert.equal(p.file, 'boot/pxelinux.0');
  assert.deepEqual(encodePacket(p), bytes);
  const dhcp = decoded(encodePacket({ ...p, options: new Map([[53, Uint8Array.of(1)]]) }));
  assert.equal(getOption(dhcp.options, MessageType), MSG.Discover);
  assert.equal(dhcp.file, 'boot/pxelinux.0');
});

test('decoded bytes are copies, not views of the receive buffer', () => {
  const pool = Buffer.alloc(1024, 0xee);
  const bytes = datagram([53, 1, 1, 12, 2, 0x61, 0x62, 255]);
  pool.set(bytes, 100);
  const p = decoded(pool.subarray(100, 100 + bytes.length));
  pool.fill(0);
  assert.equal(getOption(p.options, HostName), 'ab');
  assert.equal(hwAddr(p), 'd0:50:99:4e:05:57');
  assert.equal(Object.getPrototypeOf(p.options.get(12)), Uint8Array.prototype);
  assert.equal(Object.getPrototypeOf(p.chaddr), Uint8Array.prototype);
});

test('encode refuses what the wire cannot carry', () => {
  const p = decoded(datagram([53, 1, 1, 255]));
  const bad: Partial<Packet>[] = [
    { options: new Map([[52, Uint8Array.of(1)]]) },
    { options: new Map([[0, Uint8Array.of()]]) },
    { options: new Map([[255, Uint8Array.of()]]) },
    { chaddr: new Uint8Array(17) },
    { sname: 'x'.repeat(65) },
    { file: 'a\0b' },
    { yiaddr: '10.0.0.300' },
    { xid: 2 ** 32 },
    { hops: -1 },
  ];
  for (const change of bad) assert.throws(() => encodePacket({ ...p, ...change }), RangeError, JSON.stringify(Object.keys(change)));
});

test('hwAddr reads hlen bytes of chaddr, at most 16', () => {
  const p = decoded(datagram([255]));
  assert.equal(hwAddr({ ...p, hlen: 0 }), '');
  assert.equal(hwAddr({ ...p, hlen: 200 }), 'd0:50:99:4e:05:57:00:00:00:00:00:00:00:00:00:00');
});
