import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configFrom } from '../config/load.ts';
import { zoneInterfaces, ZoneSetupError } from './services.ts';

test('services: zone interfaces resolve to their addresses; a missing one is a clear setup error', () => {
  const config = configFrom({ zones: [{ name: 'zone-a', interfaces: ['eth1'] }, { name: 'zone-b', interfaces: ['eth2'] }] });
  const table: Record<string, { address: string; netmask: string; cidr: string; mac: string }> = {
    eth1: { address: '10.1.0.1', netmask: '255.255.255.0', cidr: '10.1.0.1/24', mac: '02:00:00:00:00:01' },
    eth2: { address: '10.2.0.1', netmask: '255.255.255.0', cidr: '10.2.0.1/24', mac: '02:00:00:00:00:02' },
  };
  assert.deepEqual(zoneInterfaces(config, (i) => table[i]), [
    { zone: 'zone-a', ifname: 'eth1', address: '10.1.0.1' },
    { zone: 'zone-b', ifname: 'eth2', address: '10.2.0.1' },
  ]);
  assert.throws(() => zoneInterfaces(config, (i) => (i === 'eth1' ? table.eth1 : undefined)), (e: unknown) => e instanceof ZoneSetupError && /zone zone-b: interface eth2 does not exist or has no IPv4 address/.test(e.message));
  assert.deepEqual(zoneInterfaces(configFrom({}), () => undefined), [], 'no zones: no interfaces touched');
});
