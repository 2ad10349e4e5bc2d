// Firmware mode and Secure Boot, TPM, the BMC: small facts read from sysfs, efivarfs and the BMC itself.
import type { Bmc, Fact, Tpm } from '../protocol.ts';
import type { Host } from '../host.ts';
import { absent, reasonOf } from './facts.ts';
import { bmcAddressFrom, IPMI_DEVICE, openIpmiDevice, type IpmiRequest } from './ipmi.ts';

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

/** Opens the IPMI device: the real one (ipmi.ts), or replies in a test. */
export type IpmiOpener = () => Promise<{ request: IpmiRequest; close: () => void }>;

/**
 * The BMC: present per SMBIOS type 38, or because it answers on /dev/ipmi0 (the kernel's IPMI driver
 * also finds BMCs through ACPI); its LAN address asked of it over that device. No device node means
 * the driver found no BMC it can talk to: the address is absent, with why.
 */
export async function collectBmc(host: Host, ipmiDevice: Fact<boolean>, open: IpmiOpener = () => openIpmiDevice()): Promise<Bmc> {
  if (!(await host.exists(IPMI_DEVICE))) {
    if (ipmiDevice === false) return { present: false, address: absent('no BMC') };
    return {
      present: ipmiDevice,
      address: absent(ipmiDevice === true
        ? `the SMBIOS tables describe a BMC but there is no ${IPMI_DEVICE} (the kernel's IPMI driver did not bind to it)`
        : `no ${IPMI_DEVICE}: the kernel's IPMI driver found no BMC`),
    };
  }
  let dev: Awaited<ReturnType<IpmiOpener>>;
  try {
    dev = await open();
  } catch (e) {
    return { present: ipmiDevice, address: absent(`opening ${IPMI_DEVICE}: ${reasonOf(e)}`) };
  }
  try {
    // A BMC answering on the device is a BMC, whatever the SMBIOS tables say.
    return { present: true, address: await bmcAddressFrom(dev.request) };
  } catch (e) {
    return { present: true, address: absent(reasonOf(e)) };
  } finally {
    dev.close();
  }
}
