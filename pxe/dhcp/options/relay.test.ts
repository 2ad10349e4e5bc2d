import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getOption } from './codec.ts';
import { CircuitId, RelayAgentInfo, RemoteId } from './relay.ts';

test('relay agent information: circuit-id and remote-id, other sub-options kept', () => {
  const wire = Uint8Array.from([1, 8, ...Buffer.from('Gi1/0/12'), 2, 6, 0x00, 0x1c, 0x73, 0xaa, 0xbb, 0xcc, 9, 2, 0xde, 0xad]);
  const sub = RelayAgentInfo.decode(wire);
  assert.ok(sub);
  assert.equal(Buffer.from(getOption(sub, CircuitId)!).toString(), 'Gi1/0/12');
  assert.deepEqual(getOption(sub, RemoteId), Uint8Array.of(0x00, 0x1c, 0x73, 0xaa, 0xbb, 0xcc));
  assert.deepEqual(sub.get(9), Uint8Array.of(0xde, 0xad));
  assert.deepEqual(RelayAgentInfo.encode(sub), wire);
});

test('RFC 3046 sub-options have no pad or end: 0 and 255 are ordinary codes', () => {
  assert.deepEqual(RelayAgentInfo.decode(Uint8Array.of(0, 1, 0x41)), new Map([[0, Uint8Array.of(0x41)]]));
  assert.equal(RelayAgentInfo.decode(Uint8Array.of(1, 4, 0x41)), undefined);
  assert.equal(RelayAgentInfo.decode(Uint8Array.of(1)), undefined);
});
