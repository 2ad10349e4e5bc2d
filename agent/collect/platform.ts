// Firmware mode and Secure Boot, TPM, BMC presence: small facts read from sysfs and efivarfs.
import type { Bmc, Fact, Tpm } from '../protocol.ts';
import type { Host } from '../host.ts';
import { absent, reasonOf } from './facts.ts';

export const EFI_DIR = '/sys/firmware/efi';
export const EFIVARS_DIR = '/sys/firmware/efi/efivars';
// EFI_GLOBAL_VARIABLE GUID (UEFI spec §3.3): SecureBoot lives under it.
export const SECURE_BOOT_VAR = `${EFIVARS_DIR}/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c`;

/** efivarfs files are 4 bytes of attributes followed by the value; SecureBoot is one byte, 1 = on. */
export function secureBootFromVar(bytes: Uint8Array): Fact<boolean> {
  if (bytes.length < 5) return absent(`SecureBoot variable has ${bytes.length} bytes, expected 5`);
  return bytes[4] === 1;
}

export async function firmwareMode(host: Host): Promise<'bios' | 'uefi'> {
  return (await host.exists(EFI_DIR)) ? 'uefi' : 'bios';
}

export async function secureBoot(host: Host, mode: 'bios' | 'uefi'): Promise<Fact<boolean>> {
  if (mode === 'bios') return false; // legacy BIOS boot has no Secure Boot
  if (!(await host.exists(EFIVARS_DIR))) return absent('efivarfs is not mounted');
  try {
    return secureBootFromVar(await host.readBytes(SECURE_BOOT_VAR));
  } catch (e) {
    return absent(/no such file/.test(reasonOf(e)) ? 'the firmware has no SecureBoot variable' : reasonOf(e));
  }
}

/** TPM from /sys/class/tpm (the Debian kernel has the TIS and CRB drivers built in). */
export async function collectTpm(host: Host): Promise<Tpm> {
  let devices: string[];
  try {
    devices = (await host.list('/sys/class/tpm')).filter((n) => /^tpm\d+$/.test(n)).sort();
  } catch (e) {
    const why = reasonOf(e);
    return { present: absent(`the kernel has no TPM class (${why})`), version: absent('no TPM seen') };
  }
  if (!devices.length) return { present: false, version: absent('no TPM') };
  const dir = `/sys/class/tpm/${devices[0]}`;
  const major = await host.readText(`${dir}/tpm_version_major`).then((s) => s.trim(), () => null);
  if (major === '2') return { present: true, version: '2.0' };
  if (major === '1' || (await host.exists(`${dir}/caps`))) return { present: true, version: '1.2' }; // only 1.2 chips have caps
  return { present: true, version: absent(`${dir} does not say its version`) };
}

export const BMC_ADDRESS_NOT_COLLECTED = absent('reading the BMC LAN address needs ipmitool, which the discovery image does not carry yet');

export function bmcFrom(ipmiDevice: Fact<boolean>): Bmc {
  return { present: ipmiDevice, address: ipmiDevice === false ? absent('no BMC') : BMC_ADDRESS_NOT_COLLECTED };
}
