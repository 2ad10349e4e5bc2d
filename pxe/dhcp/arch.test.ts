import { test } from 'node:test';
import assert from 'node:assert/strict';
import { capturedPacket, loadCaptures } from '../../test/fixtures/dhcp/captures.ts';
import { edk2Discover, httpBootDiscover, ipxeBootServerRequest, ipxeDiscover, relayedPxeDiscover } from '../../test/fixtures/dhcp/firmware.ts';
import { ARCHES, archFor, clientArch, clientKind, type ClientKind } from './arch.ts';
import { MaxMessageSize } from './options/basic.ts';
import { getOption, setOption } from './options/codec.ts';
import { IPXE_FEATURE, IpxeOptions, IpxeVersion } from './options/ipxe.ts';
import { ClientArch, ClientMachineId, VendorClass } from './options/pxe.ts';
import { UserClass } from './options/userclass.ts';
import { decodePacket, type Packet } from './packet.ts';

function decoded(bytes: Uint8Array): Packet {
  const r = decodePacket(bytes);
  assert.ok(r.ok);
  return r.packet;
}

test('the IANA table: codes 0-41 in order, names as registered', () => {
  assert.equal(ARCHES.length, 42);
  ARCHES.forEach((a, i) => assert.equal(a.code, i));
  const http = ARCHES.filter((a) => a.http).map((a) => a.code);
  assert.deepEqual(http, [15, 16, 17, 18, 19, 20, 23, 24, 26, 28, 30, 38, 40]);
  const table: [number, string, string, string][] = [
    [0, 'x86 BIOS', 'bios', 'x86'],
    [6, 'x86 UEFI', 'efi', 'x86'],
    [7, 'x64 UEFI', 'efi', 'x86_64'],
    [9, 'EBC', 'efi', 'x86_64'],
    [10, 'ARM 32-bit UEFI', 'efi', 'arm32'],
    [11, 'ARM 64-bit UEFI', 'efi', 'arm64'],
    [16, 'x64 uefi boot from http', 'efi', 'x86_64'],
    [19, 'arm uefi 64 boot from http', 'efi', 'arm64'],
    [20, 'pc/at bios boot from http', 'bios', 'x86'],
    [22, 'arm 64 uboot', 'uboot', 'arm64'],
    [27, 'RISC-V 64-bit UEFI', 'efi', 'riscv64'],
    [32, 's390 Extended', 's390', 's390x'],
    [39, 'LoongArch 64-bit UEFI', 'efi', 'loongarch64'],
    [41, 'ARM rpiboot', 'rpiboot', 'arm64'],
  ];
  for (const [code, name, firmware, cpu] of table) {
    const a = archFor(code);
    assert.deepEqual([a.name, a.firmware, a.cpu], [name, firmware, cpu], `arch ${code}`);
  }
  assert.deepEqual(archFor(42), { code: 42, name: 'unassigned', firmware: 'unknown', cpu: 'unknown', http: false });
  assert.equal(archFor(0xffff).cpu, 'unknown');
});

test('clientArch: option 93 first, then the decimal in option 60', () => {
  const base = decoded(edk2Discover());
  const without93 = new Map(base.options);
  without93.delete(ClientArch.code);
  const with60 = (vendorClass: string): Packet => ({ ...base, options: setOption(without93, VendorClass, vendorClass) });
  const table: [string, Packet, number | undefined][] = [
    ['option 93', base, 7],
    ['93 wins over 60', { ...base, options: setOption(base.options, ClientArch, [11, 7]) }, 11],
    ['60 fallback', { ...base, options: without93 }, 7],
    ['PXEClient', with60('PXEClient:Arch:00009:UNDI:003000'), 9],
    ['HTTPClient', with60('HTTPClient:Arch:00016:UNDI:003001'), 16],
    ['60 with no UNDI part', with60('PXEClient:Arch:00006'), 6],
    ['malformed 93 falls back to 60', { ...base, options: new Map(base.options).set(ClientArch.code, Uint8Array.of(0)) }, 7],
    ['empty 93 falls back', { ...base, options: new Map(base.options).set(ClientArch.code, Uint8Array.of()) }, 7],
    ['60 without an arch', with60('PXEClient'), undefined],
    ['60 with too few digits', with60('PXEClient:Arch:7'), undefined],
    ['60 beyond uint16', with60('PXEClient:Arch:99999:UNDI:003000'), undefined],
    ['a different vendor', with60('MSFT 5.0'), undefined],
  ];
  for (const [name, p, code] of table) assert.equal(clientArch(p)?.code, code, name);
});

test('clientKind from real-shaped requests', () => {
  const table: [string, Uint8Array, ClientKind, number | undefined][] = [
    ['iPXE: bare user class and option 175', ipxeDiscover(), 'ipxe', 0],
    ['iPXE asking on port 4011', ipxeBootServerRequest(), 'ipxe', 7],
    ['EDK2 PXE', edk2Discover(), 'pxe', 7],
    ['UEFI HTTP Boot', httpBootDiscover(), 'http-boot', 16],
    ['relayed BIOS PXE ROM', relayedPxeDiscover(), 'pxe', 0],
    ['ASRock BIOS PXE ROM (capture)', capturedPacket('netboot-dhcp4', 1).bytes, 'pxe', 0],
    ['Windows (capture)', capturedPacket('tcpdump-eapon1', 15).bytes, 'plain', undefined],
    ['Arista ZTP (capture)', capturedPacket('tcpdump-dhcpv4v6', 6).bytes, 'plain', undefined],
  ];
  for (const [name, bytes, kind, arch] of table) {
    const p = decoded(bytes);
    assert.equal(clientKind(p), kind, name);
    assert.equal(clientArch(p)?.code, arch, name);
  }
  const base = decoded(edk2Discover());
  const rfc3004 = { ...base, options: setOption(base.options, UserClass, { form: 'rfc3004', classes: ['iPXE'] }) };
  assert.equal(clientKind(rfc3004), 'ipxe', 'iPXE in an RFC 3004 list');
  const only175 = { ...base, options: new Map(base.options).set(IpxeOptions.code, Uint8Array.of(0x13, 1, 1)) };
  assert.equal(clientKind(only175), 'ipxe', 'a custom iPXE build with its own user class still sends 175');
  const otherClass = { ...base, options: setOption(base.options, UserClass, { form: 'bare', text: 'Tinkerbell' }) };
  assert.equal(clientKind(otherClass), 'pxe');
  for (const c of loadCaptures().filter((c) => c.role === 'request' && !c.capture.startsWith('netboot'))) {
    assert.equal(clientKind(decoded(c.bytes)), 'plain', `${c.capture} frame ${c.frame}`);
  }
});

test('the boot path facts decode as DESIGN.md describes them', () => {
  const ipxe = decoded(ipxeDiscover());
  assert.deepEqual(getOption(ipxe.options, UserClass), { form: 'bare', text: 'iPXE' });
  assert.equal(ipxe.flags & 0x8000, 0, 'iPXE does not set the broadcast flag');
  const features = getOption(ipxe.options, IpxeOptions);
  assert.ok(features?.has(IPXE_FEATURE.Http));
  assert.deepEqual(getOption(features!, IpxeVersion), { major: 1, minor: 21, patch: 1 });
  assert.deepEqual(getOption(ipxe.options, ClientMachineId), { type: 0, guid: new Uint8Array(16) }, 'all zeros under qemu');

  const edk2 = decoded(edk2Discover());
  assert.equal(edk2.flags, 0x8000, 'EDK2 sets the broadcast flag');
  assert.deepEqual(getOption(edk2.options, ClientArch), [7]);
  assert.deepEqual(getOption(edk2.options, ClientMachineId)?.guid, new Uint8Array(16));
  assert.equal(getOption(edk2.options, MaxMessageSize), 1472);
});
