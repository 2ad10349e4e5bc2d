import { test } from 'node:test';
import assert from 'node:assert/strict';
import { edk2Discover, relayedPxeDiscover } from '../../test/fixtures/dhcp/firmware.ts';
import { archFor } from './arch.ts';
import { askBooter, bootOptions, echoBootItem, relayText, type BootAnswer, type BootContext } from './boot.ts';
import { BootfileName, MSG } from './options/basic.ts';
import { getOption, getSubOption, setOption } from './options/codec.ts';
import { IpxeNoPxeDhcp, IpxeOptions } from './options/ipxe.ts';
import { PxeBootItem, PxeDiscoveryControl, PxeVendorOptions, VendorClass } from './options/pxe.ts';
import { decodePacket, type Packet } from './packet.ts';
import { replyFrom } from './reply.ts';

function request(bytes: Uint8Array): Packet {
  const r = decodePacket(bytes);
  assert.ok(r.ok);
  return r.packet;
}

const TFTP: BootAnswer = { kind: 'tftp', file: 'undionly.kpxe' };
const HTTP: BootAnswer = { kind: 'http', url: 'http://10.0.0.1:8080/boot/ipxe?mac=x' };
const ctx = (kind: BootContext['kind'], arch: number, mode: BootContext['mode']): BootContext => ({ kind, arch: archFor(arch), serverIp: '10.0.0.1', mode });

/** What an offer built with the options carries: [siaddr, file, 60, 67, 43.6, 175.176]. */
function rendered(answer: BootAnswer, c: BootContext): unknown {
  const b = bootOptions(answer, c);
  if (!b.ok) return b.reason;
  const p = replyFrom(request(edk2Discover()), MSG.Offer, ...b.modifiers);
  return [b.rule, p.siaddr, p.file, getOption(p.options, VendorClass), getOption(p.options, BootfileName) === p.file || getOption(p.options, BootfileName),
    getSubOption(p.options, PxeVendorOptions, PxeDiscoveryControl), getSubOption(p.options, IpxeOptions, IpxeNoPxeDhcp)];
}

test('bootOptions: what each kind of client gets, from a table', () => {
  const table: Array<[string, BootAnswer, BootContext, unknown]> = [
    ['BIOS PXE, proxy: 43 says boot the file', TFTP, ctx('pxe', 0, 'proxy'), ['pxe-tftp', '10.0.0.1', 'undionly.kpxe', 'PXEClient', true, 8, undefined]],
    ['UEFI PXE, proxy: no 43, so it asks 4011', TFTP, ctx('pxe', 7, 'proxy'), ['pxe-tftp', '10.0.0.1', 'undionly.kpxe', 'PXEClient', true, undefined, undefined]],
    ['UEFI PXE, full: 43 too', TFTP, ctx('pxe', 7, 'full'), ['pxe-tftp', '10.0.0.1', 'undionly.kpxe', 'PXEClient', true, 8, undefined]],
    ['iPXE, proxy: PXEClient and siaddr, or iPXE ignores the proxy offer', HTTP, ctx('ipxe', 0, 'proxy'), ['ipxe-http', '10.0.0.1', HTTP.url, 'PXEClient', true, undefined, undefined]],
    ['iPXE, full: no-pxedhcp', HTTP, ctx('ipxe', 0, 'full'), ['ipxe-http', '10.0.0.1', HTTP.url, undefined, true, undefined, 1]],
    ['UEFI HTTP Boot: HTTPClient', HTTP, ctx('http-boot', 16, 'proxy'), ['http-boot-url', '0.0.0.0', HTTP.url, 'HTTPClient', true, undefined, undefined]],
    ['iPXE given the TFTP binary: a boot loop, refused', TFTP, ctx('ipxe', 7, 'full'), 'ipxe-tftp-loop'],
    ['HTTP Boot given a TFTP file: refused', TFTP, ctx('http-boot', 16, 'full'), 'http-boot-needs-url'],
    ['a PXE ROM given a URL: refused', HTTP, ctx('pxe', 0, 'proxy'), 'pxe-needs-tftp'],
    ['the booter says none', { kind: 'none', why: 'installed: boots from disk' }, ctx('pxe', 0, 'proxy'), 'booter-none'],
  ];
  for (const [name, answer, c, want] of table) assert.deepEqual(rendered(answer, c), want, name);
});

test('askBooter: a booter that throws or rejects is a refusal with its message', async () => {
  const r = { mac: 'm', zone: 'z', arch: archFor(0), kind: 'pxe' as const, serverIp: '10.0.0.1' };
  assert.deepEqual(await askBooter({ bootFor: () => { throw new Error('no db'); } }, r, 'full'), { ok: false, reason: 'booter-failed', detail: 'no db' });
  assert.deepEqual(await askBooter({ bootFor: () => Promise.reject(new Error('later')) }, r, 'full'), { ok: false, reason: 'booter-failed', detail: 'later' });
  const ok = await askBooter({ bootFor: async () => TFTP }, r, 'full');
  assert.ok(ok.ok);
});

test('echoBootItem: a 4011 ACK carries back the boot item the client asked for', () => {
  const item = PxeBootItem.encode({ type: 0x8000, layer: 0 });
  const req = { ...request(edk2Discover()), options: setOption(request(edk2Discover()).options, PxeVendorOptions, new Map([[PxeBootItem.code, item]])) };
  const boot = bootOptions(TFTP, ctx('pxe', 0, 'proxy'));
  assert.ok(boot.ok);
  const ack = replyFrom(req, MSG.Ack, ...boot.modifiers, echoBootItem);
  assert.deepEqual(getSubOption(ack.options, PxeVendorOptions, PxeBootItem), { type: 0x8000, layer: 0 });
  assert.equal(getSubOption(ack.options, PxeVendorOptions, PxeDiscoveryControl), 8, 'beside the other PXE sub-options');
  assert.equal(replyFrom(request(relayedPxeDiscover()), MSG.Ack, echoBootItem).options.has(43), false, 'nothing to echo');
});

test('relayText: printable sub-options as text, others as hex', () => {
  assert.equal(relayText(Buffer.from('Gi1/0/12')), 'Gi1/0/12');
  assert.equal(relayText(Uint8Array.of(0x00, 0x1c, 0x73, 0xaa, 0xbb, 0xcc)), '00:1c:73:aa:bb:cc');
  assert.equal(relayText(new Uint8Array(0)), undefined);
  assert.equal(relayText(undefined), undefined);
});
