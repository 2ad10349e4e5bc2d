import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BootfileName,
  BroadcastAddress,
  ClientId,
  DomainName,
  DomainNameServers,
  HostName,
  LeaseTime,
  MaxMessageSize,
  MessageType,
  MSG,
  ParameterRequestList,
  RebindingTime,
  RenewalTime,
  RequestedIp,
  Routers,
  ServerId,
  SubnetMask,
  TftpServerName,
} from './basic.ts';
import type { OptionCodec } from './codec.ts';

/** Round-trips `value` through `codec` and returns the codec's option code. */
const roundTrip = <T>(codec: OptionCodec<T>, value: T): number => {
  assert.deepEqual(codec.decode(codec.encode(value)), value, codec.name);
  return codec.code;
};

test('RFC 2132 options round-trip, codes as assigned', () => {
  const codes = [
    roundTrip(SubnetMask, '255.255.255.0'),
    roundTrip(Routers, ['192.168.16.1']),
    roundTrip(DomainNameServers, ['192.168.16.1', '1.1.1.1']),
    roundTrip(HostName, 'core01'),
    roundTrip(DomainName, 'home.universe.tf'),
    roundTrip(BroadcastAddress, '192.168.16.255'),
    roundTrip(RequestedIp, '192.168.40.4'),
    roundTrip(LeaseTime, 3600),
    roundTrip(MessageType, MSG.Offer),
    roundTrip(ServerId, '192.168.16.10'),
    roundTrip(ParameterRequestList, [1, 3, 6, 66, 67]),
    roundTrip(MaxMessageSize, 1260),
    roundTrip(RenewalTime, 1800),
    roundTrip(RebindingTime, 3150),
    roundTrip(ClientId, Uint8Array.of(1, 0xb8, 0x27, 0xeb, 0xb8, 0x53, 0xc8)),
    roundTrip(TftpServerName, '192.168.16.10'),
    roundTrip(BootfileName, 'http://192.168.16.10/boot.ipxe'),
  ];
  assert.deepEqual(codes, [1, 3, 6, 12, 15, 28, 50, 51, 53, 54, 55, 57, 58, 59, 61, 66, 67]);
});

test('wire forms as captured: lease 3600 s, max size 1260, a request list', () => {
  assert.deepEqual(LeaseTime.encode(3600), Uint8Array.of(0, 0, 0x0e, 0x10));
  assert.equal(MaxMessageSize.decode(Uint8Array.of(0x04, 0xec)), 1260);
  assert.deepEqual(ParameterRequestList.decode(Uint8Array.of(1, 28, 2)), [1, 28, 2]);
  assert.equal(MessageType.decode(Uint8Array.of(13)), MSG.LeaseActive);
});
