import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesOption,
  encapsulatedOption,
  getOption,
  getSubOption,
  int8Option,
  ipv4ListOption,
  ipv4Option,
  readLatin1,
  setOption,
  textOption,
  uint16ListOption,
  uint16Option,
  uint32Option,
  uint8ListOption,
  uint8Option,
  writeLatin1,
  type OptionCodec,
} from './codec.ts';

const roundTrip = <T>(codec: OptionCodec<T>, value: T, wire: number[]): void => {
  assert.deepEqual(codec.encode(value), Uint8Array.from(wire), `${codec.name} encode`);
  assert.deepEqual(codec.decode(Uint8Array.from(wire)), value, `${codec.name} decode`);
};

test('value codecs round-trip through their wire form', () => {
  roundTrip(ipv4Option(1, 'ip'), '192.168.16.10', [192, 168, 16, 10]);
  roundTrip(ipv4ListOption(3, 'ips'), ['10.0.0.1', '10.0.0.2'], [10, 0, 0, 1, 10, 0, 0, 2]);
  roundTrip(ipv4ListOption(3, 'ips'), [], []);
  roundTrip(uint8Option(53, 'u8'), 255, [255]);
  roundTrip(uint16Option(57, 'u16'), 1260, [0x04, 0xec]);
  roundTrip(uint32Option(51, 'u32'), 0xffffffff, [255, 255, 255, 255]);
  roundTrip(int8Option(1, 'i8'), -2, [0xfe]);
  roundTrip(uint8ListOption(55, 'u8s'), [1, 3, 6], [1, 3, 6]);
  roundTrip(uint16ListOption(93, 'u16s'), [0, 7, 0x1234], [0, 0, 0, 7, 0x12, 0x34]);
  roundTrip(textOption(12, 'text'), 'sibeal', [...Buffer.from('sibeal')]);
  roundTrip(bytesOption(61, 'bytes'), Uint8Array.of(1, 2, 3), [1, 2, 3]);
});

test('value codecs return undefined for lengths that hold no value', () => {
  assert.equal(ipv4Option(1, 'ip').decode(Uint8Array.of(1, 2, 3)), undefined);
  assert.equal(ipv4ListOption(3, 'ips').decode(Uint8Array.of(1, 2, 3, 4, 5)), undefined);
  assert.equal(uint16Option(57, 'u16').decode(Uint8Array.of(1)), undefined);
  assert.equal(uint32Option(51, 'u32').decode(new Uint8Array(5)), undefined);
  assert.equal(uint16ListOption(93, 'u16s').decode(Uint8Array.of(0, 0, 7)), undefined);
  assert.equal(int8Option(1, 'i8').decode(new Uint8Array(0)), undefined);
});

test('encoders refuse values the wire cannot carry', () => {
  assert.throws(() => ipv4Option(1, 'ip').encode('10.0.0.256'), RangeError);
  assert.throws(() => ipv4Option(1, 'ip').encode('10.0.0'), RangeError);
  assert.throws(() => ipv4Option(1, 'ip').encode('010.0.0.1'), RangeError);
  assert.throws(() => uint8Option(53, 'u8').encode(256), RangeError);
  assert.throws(() => uint16Option(57, 'u16').encode(-1), RangeError);
  assert.throws(() => uint32Option(51, 'u32').encode(1.5), RangeError);
  assert.throws(() => int8Option(1, 'i8').encode(128), RangeError);
  assert.throws(() => uint8ListOption(55, 'u8s').encode([300]), RangeError);
  assert.throws(() => textOption(12, 'text').encode('snow ☃'), RangeError);
});

test('text options drop trailing NULs (RFC 2132 §2) and refuse to send one', () => {
  const text = textOption(12, 'host-name');
  assert.equal(text.decode(Uint8Array.of(0x61, 0x62, 0, 0)), 'ab');
  assert.equal(text.decode(Uint8Array.of(0x61, 0, 0x62)), 'a\0b');
  assert.throws(() => text.encode('ab\0'), RangeError);
});

test('latin1 keeps every byte value as one character', () => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  assert.deepEqual(writeLatin1(readLatin1(all)), all);
});

test('getOption, setOption, getSubOption', () => {
  const ip = ipv4Option(54, 'server-identifier');
  const sub = encapsulatedOption(82, 'relay', { padEnd: false, terminate: false });
  const first = new Map([[53, Uint8Array.of(1)]]);
  const options = setOption(setOption(first, ip, '10.0.0.1'), sub, new Map([[1, Uint8Array.of(7)]]));
  assert.equal(first.size, 1, 'setOption copies');
  assert.equal(getOption(options, ip), '10.0.0.1');
  assert.deepEqual(getSubOption(options, sub, bytesOption(1, 'circuit')), Uint8Array.of(7));
  assert.equal(getSubOption(options, sub, bytesOption(2, 'remote')), undefined);
  assert.equal(getOption(new Map(), ip), undefined);
  assert.deepEqual([...setOption(options, uint8Option(53, 'type'), 2).keys()], [53, 54, 82], 'an existing code keeps its place');
});

test('encapsulated options: pad/end framing, RFC 3396-style concatenation and splitting', () => {
  const pxe = encapsulatedOption(43, 'pxe', { padEnd: true, terminate: true });
  assert.deepEqual(pxe.decode(Uint8Array.of(0, 6, 1, 8, 0, 255, 9, 9)), new Map([[6, Uint8Array.of(8)]]));
  assert.deepEqual(pxe.encode(new Map([[6, Uint8Array.of(8)]])), Uint8Array.of(6, 1, 8, 255));
  assert.deepEqual(pxe.decode(Uint8Array.of(6, 1, 1, 6, 1, 2)), new Map([[6, Uint8Array.of(1, 2)]]));
  const long = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
  const wire = pxe.encode(new Map([[9, long]]));
  assert.deepEqual([wire[0], wire[1], wire[257], wire[258]], [9, 255, 9, 45]);
  assert.deepEqual(pxe.decode(wire), new Map([[9, long]]));
  assert.equal(pxe.decode(Uint8Array.of(6, 2, 8)), undefined, 'truncated sub-option');
  assert.throws(() => pxe.encode(new Map([[255, Uint8Array.of()]])), RangeError);

  const relay = encapsulatedOption(82, 'relay', { padEnd: false, terminate: false });
  assert.deepEqual(relay.decode(Uint8Array.of(0, 1, 7, 255, 0)), new Map([[0, Uint8Array.of(7)], [255, new Uint8Array(0)]]));
  assert.deepEqual(relay.encode(new Map([[1, Uint8Array.of(7)]])), Uint8Array.of(1, 1, 7));
});
