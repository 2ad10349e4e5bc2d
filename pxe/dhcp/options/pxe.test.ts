import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getOption } from './codec.ts';
import {
  ClientArch,
  ClientMachineId,
  ClientNdi,
  PXE_DISCOVERY,
  PxeBootItem,
  PxeBootMenu,
  PxeBootServers,
  PxeDiscoveryControl,
  PxeMenuPrompt,
  PxeVendorOptions,
  VendorClass,
} from './pxe.ts';

// Option 43 of Pixiecore's proxy offer in netboot-dhcp4-testdata-dhcp.pcap (frame 2).
const pixiecore43 = Buffer.from('0601030807800001c0a8100a090c8000095069786965636f72650a0a005069786965636f7265ff', 'hex');

test('PXE vendor options from a real proxy offer', () => {
  const sub = PxeVendorOptions.decode(pixiecore43);
  assert.ok(sub);
  assert.deepEqual([...sub.keys()], [6, 8, 9, 10]);
  assert.equal(getOption(sub, PxeDiscoveryControl), PXE_DISCOVERY.NoBroadcast | PXE_DISCOVERY.NoMulticast);
  assert.deepEqual(getOption(sub, PxeBootServers), [{ type: 0x8000, addresses: ['192.168.16.10'] }]);
  assert.deepEqual(getOption(sub, PxeBootMenu), [{ type: 0x8000, description: 'Pixiecore' }]);
  assert.deepEqual(getOption(sub, PxeMenuPrompt), { timeout: 0, prompt: 'Pixiecore' });
  assert.deepEqual(PxeVendorOptions.encode(sub), Uint8Array.from(pixiecore43), 'closed by an end, as PXE 2.1 wants');
});

test('PXE sub-options round-trip and reject malformed lengths', () => {
  const servers = [{ type: 0x8000, addresses: ['10.0.0.1', '10.0.0.2'] }, { type: 1, addresses: [] }];
  assert.deepEqual(PxeBootServers.decode(PxeBootServers.encode(servers)), servers);
  const menu = [{ type: 0x8000, description: 'Tether' }, { type: 0, description: '' }];
  assert.deepEqual(PxeBootMenu.decode(PxeBootMenu.encode(menu)), menu);
  assert.deepEqual(PxeBootItem.decode(PxeBootItem.encode({ type: 0x8000, layer: 0 })), { type: 0x8000, layer: 0 });
  assert.equal(PxeBootServers.decode(Uint8Array.of(0x80, 0, 2, 10, 0, 0, 1)), undefined);
  assert.equal(PxeBootMenu.decode(Uint8Array.of(0x80, 0, 5, 0x41)), undefined);
  assert.equal(PxeMenuPrompt.decode(new Uint8Array(0)), undefined);
  assert.equal(PxeBootItem.decode(Uint8Array.of(0x80, 0, 0)), undefined);
  assert.throws(() => PxeBootServers.encode([{ type: 1, addresses: new Array<string>(256).fill('10.0.0.1') }]), RangeError);
});

test('RFC 4578 client options as a BIOS PXE ROM sends them', () => {
  assert.deepEqual(ClientArch.decode(Uint8Array.of(0, 0)), [0]);
  assert.deepEqual(ClientArch.decode(Uint8Array.of(0, 7, 0, 16)), [7, 16]);
  assert.deepEqual(ClientNdi.decode(Uint8Array.of(1, 2, 1)), { type: 1, major: 2, minor: 1 });
  assert.equal(ClientNdi.decode(Uint8Array.of(1, 2)), undefined);
  const placeholder = Buffer.from('0000020003000400050006000700080009', 'hex');
  const id = ClientMachineId.decode(placeholder);
  assert.deepEqual(id, { type: 0, guid: Uint8Array.from(placeholder.subarray(1)) });
  assert.deepEqual(ClientMachineId.encode(id!), Uint8Array.from(placeholder));
  assert.equal(ClientMachineId.decode(new Uint8Array(0)), undefined, 'ROMs that omit the GUID send length 0');
  assert.throws(() => ClientMachineId.encode({ type: 0, guid: new Uint8Array(15) }), RangeError);
  assert.equal(VendorClass.decode(Buffer.from('PXEClient:Arch:00000:UNDI:002001')), 'PXEClient:Arch:00000:UNDI:002001');
});
