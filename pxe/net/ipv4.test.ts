import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inSubnet, intToIp, ipToInt, parseCidr, maskToString } from './ipv4.ts';

test('ipv4: round trip and bounds', () => {
  for (const ip of ['0.0.0.0', '10.1.2.3', '255.255.255.255', '192.168.0.1']) assert.equal(intToIp(ipToInt(ip)), ip);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', ' 1.2.3.4', '1.2.3.4 ', '1.2.3.0x4', '::1', 'a.b.c.d']) assert.throws(() => ipToInt(bad), RangeError);
});

test('ipv4: subnets', () => {
  const s = parseCidr('10.20.0.77/24');
  assert.equal(intToIp(s.network), '10.20.0.0');
  assert.equal(intToIp(s.broadcast), '10.20.0.255');
  assert.equal(maskToString(s), '255.255.255.0');
  assert.ok(inSubnet('10.20.0.200', s));
  assert.ok(!inSubnet('10.20.1.1', s));
  assert.equal(parseCidr('0.0.0.0/0').mask, 0);
  assert.ok(inSubnet('1.2.3.4', parseCidr('0.0.0.0/0')));
  assert.throws(() => parseCidr('10.0.0.0/33'), RangeError);
});

test('ipv4: bytes', async () => {
  const { readIpv4, writeIpv4 } = await import('./ipv4.ts');
  const b = new Uint8Array(6);
  writeIpv4('192.168.7.254', b, 1);
  assert.deepEqual([...b], [0, 192, 168, 7, 254, 0]);
  assert.equal(readIpv4(b, 1), '192.168.7.254');
});
