import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getOption } from './codec.ts';
import { IPXE_FEATURE, IpxeBusId, IpxeKeepSan, IpxeOptions, IpxePriority, IpxeVersion } from './ipxe.ts';

// Option 175 as iPXE 1.21.1 on virtio-net sends it: bus id, version, then its feature markers.
const wire = Uint8Array.of(0xb1, 5, 1, 0x1a, 0xf4, 0x10, 0x00, 0xeb, 3, 1, 21, 1, 0x13, 1, 1, 0x14, 1, 1, 0x10, 1, 2);

test('iPXE encapsulated options: bus id, version, features', () => {
  const sub = IpxeOptions.decode(wire);
  assert.ok(sub);
  assert.deepEqual(getOption(sub, IpxeBusId), { bus: 1, vendor: 0x1af4, device: 0x1000 });
  assert.deepEqual(getOption(sub, IpxeVersion), { major: 1, minor: 21, patch: 1 });
  assert.ok(sub.has(IPXE_FEATURE.Http) && sub.has(IPXE_FEATURE.Https));
  assert.deepEqual(sub.get(IPXE_FEATURE.PxeExt), Uint8Array.of(2), 'a feature carries its version');
  assert.ok(!sub.has(IPXE_FEATURE.Iscsi));
  assert.deepEqual(IpxeOptions.encode(sub), wire, 'no end option, as iPXE sends it');
});

test('settings a server may send iPXE, and unknown sub-options kept as bytes', () => {
  const sub = new Map([
    [IpxePriority.code, IpxePriority.encode(-1)],
    [IpxeKeepSan.code, IpxeKeepSan.encode(1)],
    [0x51, Uint8Array.from(Buffer.from('#!ipxe'))],
  ]);
  const back = IpxeOptions.decode(IpxeOptions.encode(sub));
  assert.deepEqual(back, sub);
  assert.equal(getOption(back!, IpxePriority), -1);
  assert.equal(getOption(new Map([[0xeb, Uint8Array.of(1, 0)]]), IpxeVersion), undefined);
});
