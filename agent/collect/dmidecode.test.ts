import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FIXTURES } from '../fixtures/fake-host.ts';
import { dimmsFrom, ipmiDevicePresent, parseDmidecode, parseSize, sawSmbios } from './dmidecode.ts';

const server = readFileSync(`${FIXTURES}/server-uefi/dmidecode.txt`, 'utf8');

test('dmidecode: memory devices become DIMMs; empty slots are left out; placeholders are absent', () => {
  const records = parseDmidecode(server);
  assert.deepEqual(records.map((r) => r.type), [38, 17, 17, 17]);
  assert.ok(sawSmbios(server));
  const dimms = dimmsFrom(records);
  assert.deepEqual(dimms, [
    { slot: 'A1', sizeBytes: 32 * 1024 ** 3, type: 'DDR4', speedMTs: 2933, vendor: '00CE00B300CE', partNumber: 'M393A4K40DB3-CWE', serial: '03A1B2C3' },
    // Older dmidecode speaks MHz; no configured speed → the rated one; no serial → absent, not "Not Specified".
    { slot: 'B1', sizeBytes: 32 * 1024 ** 3, type: 'DDR4', speedMTs: 2400, vendor: 'Hynix', partNumber: 'HMA84GR7CJR4N-XN', serial: { absent: 'the firmware says "Not Specified"' } },
  ]);
  assert.equal(ipmiDevicePresent(records), true);
});

test('dmidecode: sizes in every unit; "No Module Installed" is no size', () => {
  assert.equal(parseSize('16 GB'), 16 * 1024 ** 3);
  assert.equal(parseSize('16384 MB'), 16 * 1024 ** 3);
  assert.equal(parseSize('512 kB'), 512 * 1024);
  assert.equal(parseSize('1 TB'), 1024 ** 4);
  assert.equal(parseSize('No Module Installed'), null);
  assert.equal(parseSize(undefined), null);
});

test('dmidecode: output without SMBIOS tables is recognized; garbage parses to nothing', () => {
  assert.equal(sawSmbios('# dmidecode 3.4\nScanning /dev/mem for entry point.\n# No SMBIOS nor DMI entry point found, sorry.\n'), false);
  assert.deepEqual(parseDmidecode('\0\0garbage\nHandle xyz\n'), []);
});
