// Golden tests over packets real peers put on the wire here (test/fixtures/dhcp/real-clients.json,
// recorded by pxe/dhcp/fixtures/capture-clients.ts): busybox udhcpc, ISC dhclient and dhcrelay,
// dnsmasq's replies, and the qemu firmwares (SeaBIOS's iPXE ROM, OVMF's EDK2 PXE). Every packet
// decodes and re-encodes byte for byte, and reads as what that peer is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { clientArch, clientKind } from './arch.ts';
import { MaxMessageSize, MessageType, MSG } from './options/basic.ts';
import { getOption, getSubOption } from './options/codec.ts';
import { ClientMachineId, VendorClass } from './options/pxe.ts';
import { CircuitId, RelayAgentInfo } from './options/relay.ts';
import { UserClass } from './options/userclass.ts';
import { BROADCAST_FLAG, decodePacket, encodePacket, type Packet } from './packet.ts';

type Recorded = { peer: string; udp: string; type: string; hex: string };
const file = new URL('../../test/fixtures/dhcp/real-clients.json', import.meta.url);
const recorded = (JSON.parse(readFileSync(file, 'utf8')) as { packets: Recorded[] }).packets;

function packetsOf(peer: string): Packet[] {
  const found = recorded.filter((r) => r.peer.startsWith(peer));
  assert.ok(found.length > 0, `no packets from ${peer}`);
  return found.map((r) => {
    const d = decodePacket(Buffer.from(r.hex, 'hex'));
    assert.ok(d.ok, `${r.peer} ${r.type}`);
    return d.packet;
  });
}

const text = (b: Uint8Array | undefined): string | undefined => (b === undefined ? undefined : Buffer.from(b).toString('latin1'));

test('golden (real peers): every packet decodes and re-encodes byte for byte', () => {
  assert.equal(recorded.length, 23);
  for (const r of recorded) {
    const bytes = new Uint8Array(Buffer.from(r.hex, 'hex'));
    const d = decodePacket(bytes);
    assert.ok(d.ok, `${r.peer} ${r.type}: ${d.ok ? '' : d.error.message}`);
    assert.deepEqual(encodePacket(d.packet), bytes, `${r.peer} ${r.type}`);
    assert.equal(Object.entries(MSG).find(([, v]) => v === getOption(d.packet.options, MessageType))?.[0].toUpperCase(), r.type);
  }
});

test('golden (real peers): udhcpc, plain and dressed up with -V and -x', () => {
  const [plain] = packetsOf('udhcpc');
  assert.equal(getOption(plain.options, VendorClass), 'udhcp 1.35.0');
  assert.equal(getOption(plain.options, MaxMessageSize), 576);
  assert.equal(clientKind(plain), 'plain');
  const [pxe] = packetsOf('udhcpc as UEFI x64 PXE');
  assert.deepEqual([clientKind(pxe), clientArch(pxe)?.code, clientArch(pxe)?.cpu], ['pxe', 7, 'x86_64']);
  const [ipxe] = packetsOf('udhcpc as iPXE');
  assert.deepEqual(getOption(ipxe.options, UserClass), { form: 'bare', text: 'iPXE' });
  assert.equal(clientKind(ipxe), 'ipxe');
});

test('golden (real peers): dhclient sends no option 57; its user class goes out bare', () => {
  for (const p of packetsOf('dhclient')) assert.equal(p.options.has(MaxMessageSize.code), false);
  const [pxe] = packetsOf('dhclient as BIOS PXE');
  assert.deepEqual([clientKind(pxe), clientArch(pxe)?.code], ['pxe', 0], 'arch from option 60, there is no 93');
  const [ipxe] = packetsOf('dhclient as iPXE');
  assert.deepEqual(getOption(ipxe.options, UserClass), { form: 'bare', text: 'iPXE' });
  assert.equal(clientArch(ipxe), undefined);
});

test('golden (real peers): dhcrelay -a sets giaddr, hops 1 and circuit-id = its downstream interface', () => {
  for (const p of packetsOf('dhcrelay')) {
    assert.deepEqual([p.giaddr, p.hops], ['10.253.62.1', 1]);
    assert.equal(text(getSubOption(p.options, RelayAgentInfo, CircuitId)), 'rack1');
    assert.equal([...p.options.keys()].at(-1), RelayAgentInfo.code, 'appended last');
  }
});

test('golden (real peers): iPXE 2019 from the SeaBIOS NIC ROM, as DESIGN.md describes it', () => {
  for (const p of packetsOf('iPXE 2019')) {
    assert.equal(text(p.options.get(UserClass.code)), 'iPXE', 'the bare string, not RFC 3004');
    assert.ok(p.options.has(175));
    assert.equal(p.flags & BROADCAST_FLAG, 0, 'iPXE sets no broadcast flag');
    assert.deepEqual(getOption(p.options, ClientMachineId)?.guid, new Uint8Array(16), 'qemu: all zeros, never an identity');
    assert.equal(clientKind(p), 'ipxe');
  }
});

test('golden (real peers): EDK2 PXE broadcasts, says arch 7, and asks port 4011 from port 4011', () => {
  const [discover, request, bootServer] = packetsOf('EDK2 PXE');
  assert.equal(discover.flags & BROADCAST_FLAG, BROADCAST_FLAG);
  assert.deepEqual([clientKind(discover), clientArch(discover)?.code], ['pxe', 7]);
  assert.deepEqual([getOption(discover.options, MaxMessageSize), getOption(request.options, MaxMessageSize)], [1472, 65280]);
  const bs = recorded.filter((r) => r.peer.startsWith('EDK2'))[2];
  assert.match(bs.udp, /:4011 > 10\.253\.63\.2:4011$/);
  assert.notEqual(bootServer.ciaddr, '0.0.0.0', 'it has its address by then');
});

test("golden (real peers): dnsmasq's replies to the firmware", () => {
  const replies = packetsOf('dnsmasq');
  assert.deepEqual(replies.map((p) => [p.op, getOption(p.options, MessageType)]), [[2, MSG.Offer], [2, MSG.Ack], [2, MSG.Offer], [2, MSG.Ack]]);
  assert.ok(replies.every((p) => p.yiaddr.startsWith('10.253.63.')));
});
