import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fakeHost } from '../fixtures/fake-host.ts';
import { SECURE_BOOT_VAR, collectTpm, secureBoot, secureBootFromVar } from './platform.ts';

test('platform: Secure Boot from the efivarfs variable (4 attribute bytes, then the value)', async () => {
  assert.equal(secureBootFromVar(Buffer.from('0600000001', 'hex')), true);
  assert.equal(secureBootFromVar(Buffer.from('0600000000', 'hex')), false);
  assert.deepEqual(secureBootFromVar(Buffer.from('06', 'hex')), { absent: 'SecureBoot variable has 1 bytes, expected 5' });
  assert.equal(await secureBoot(fakeHost({}), 'bios'), false);
  assert.deepEqual(await secureBoot(fakeHost({ dirs: ['/sys/firmware/efi'] }), 'uefi'), { absent: 'efivarfs is not mounted' });
  assert.deepEqual(await secureBoot(fakeHost({ dirs: ['/sys/firmware/efi/efivars'] }), 'uefi'), { absent: 'the firmware has no SecureBoot variable' });
  assert.equal(await secureBoot(fakeHost({ bytes: { [SECURE_BOOT_VAR]: '0700000001' } }), 'uefi'), true);
});

test('platform: TPM 2.0, TPM 1.2 (caps), no TPM, no TPM class', async () => {
  assert.deepEqual(await collectTpm(fakeHost({ files: { '/sys/class/tpm/tpm0/tpm_version_major': '2\n' } })), { present: true, version: '2.0' });
  assert.deepEqual(await collectTpm(fakeHost({ files: { '/sys/class/tpm/tpm0/caps': 'Manufacturer: 0x49465800\n' } })), { present: true, version: '1.2' });
  assert.deepEqual(await collectTpm(fakeHost({ dirs: ['/sys/class/tpm'] })), { present: false, version: { absent: 'no TPM' } });
  const none = await collectTpm(fakeHost({}));
  assert.deepEqual(none.present, { absent: 'the kernel has no TPM class (/sys/class/tpm: no such file)' });
});
