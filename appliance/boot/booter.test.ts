import { test } from 'node:test';
import assert from 'node:assert/strict';
import { archFor } from '../../pxe/dhcp/arch.ts';
import { configFrom } from '../config/load.ts';
import { bootfileFor, createBooter } from './booter.ts';

const config = configFrom({ zones: [{ name: 'zone-a' }, { name: 'zone-b', bootFiles: { efi64: 'snponly.efi' } }] });

test('booter: first-stage file per architecture, zone overrides, none for unknown arches', () => {
  const table: Array<[number, string, string | null]> = [
    [0, 'zone-a', 'undionly.kpxe'], [6, 'zone-a', 'ipxe-i386.efi'], [7, 'zone-a', 'ipxe.efi'], [9, 'zone-a', 'ipxe.efi'],
    [7, 'zone-b', 'snponly.efi'], [0, 'zone-b', 'undionly.kpxe'], [11, 'zone-a', 'ipxe-arm64.efi'], [27, 'zone-a', null], [2, 'zone-a', null],
  ];
  for (const [code, zone, file] of table) assert.equal(bootfileFor(archFor(code), config, zone), file, `arch ${code} in ${zone}`);
});

test('booter: iPXE gets the script URL (never a TFTP binary), HTTP Boot an HTTP URL, PXE ROMs TFTP', () => {
  const booter = createBooter(config, 8080);
  const base = { mac: '52:54:00:00:00:01', zone: 'zone-a', serverIp: '10.0.0.1' };
  assert.deepEqual(booter.bootFor({ ...base, arch: archFor(0), kind: 'ipxe' }), { kind: 'http', url: 'http://10.0.0.1:8080/boot/ipxe?mac=52:54:00:00:00:01&zone=zone-a&platform=${platform}&arch=${buildarch}' });
  assert.deepEqual(booter.bootFor({ ...base, arch: archFor(16), kind: 'http-boot' }), { kind: 'http', url: 'http://10.0.0.1:8080/artifacts/ipxe/ipxe.efi?mac=52:54:00:00:00:01&step=ipxe' });
  assert.deepEqual(booter.bootFor({ ...base, arch: archFor(7), kind: 'pxe' }), { kind: 'tftp', file: 'ipxe.efi' });
  assert.equal(booter.bootFor({ ...base, arch: archFor(27), kind: 'pxe' }).kind, 'none');
});
