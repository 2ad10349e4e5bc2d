// What kind of network-boot client sent a request, and for which machine architecture: the two
// facts the boot decision starts from (`bootfileFor(arch)` and "never hand iPXE its own binary").
import { getOption } from './options/codec.ts';
import { IpxeOptions } from './options/ipxe.ts';
import { ClientArch, HTTP_CLIENT, PXE_CLIENT, VendorClass } from './options/pxe.ts';
import { hasUserClass, UserClass } from './options/userclass.ts';
import type { Packet } from './packet.ts';

export type Firmware = 'bios' | 'efi' | 'uboot' | 'open-firmware' | 'epapr' | 'opal' | 's390' | 'rpiboot' | 'other' | 'unknown';
export type Cpu =
  | 'x86'
  | 'x86_64'
  | 'ia64'
  | 'alpha'
  | 'ebc'
  | 'arm32'
  | 'arm64'
  | 'ppc'
  | 'ppc64'
  | 'riscv32'
  | 'riscv64'
  | 'riscv128'
  | 's390x'
  | 'mips32'
  | 'mips64'
  | 'sunway32'
  | 'sunway64'
  | 'loongarch32'
  | 'loongarch64'
  | 'unknown';

export type Arch = {
  readonly code: number;
  /** As IANA's registry names it. */
  readonly name: string;
  readonly firmware: Firmware;
  readonly cpu: Cpu;
  /** The firmware fetches its boot file over HTTP (UEFI HTTP Boot and kin), not TFTP. */
  readonly http: boolean;
};

const arch = (code: number, name: string, firmware: Firmware, cpu: Cpu, http = false): Arch => ({ code, name, firmware, cpu, http });

/**
 * IANA "Processor Architecture Types" (dhcpv6-parameters registry, shared by DHCPv4 option 93):
 * RFC 4578 §2.1 as corrected by erratum 4624, RFC 5970, and the later registrations. Index = code.
 */
export const ARCHES: readonly Arch[] = [
  arch(0, 'x86 BIOS', 'bios', 'x86'),
  arch(1, 'NEC/PC98 (DEPRECATED)', 'bios', 'x86'),
  arch(2, 'Itanium', 'efi', 'ia64'),
  arch(3, 'DEC Alpha (DEPRECATED)', 'other', 'alpha'),
  arch(4, 'Arc x86 (DEPRECATED)', 'other', 'x86'),
  arch(5, 'Intel Lean Client (DEPRECATED)', 'other', 'x86'),
  arch(6, 'x86 UEFI', 'efi', 'x86'),
  // RFC 4578's text swapped 7 and 9 ("EFI BC" / "EFI x86-64"); erratum 4624 and IANA give 7 to
  // x64, which is what EDK2/OVMF send.
  arch(7, 'x64 UEFI', 'efi', 'x86_64'),
  arch(8, 'EFI Xscale (DEPRECATED)', 'efi', 'arm32'),
  // IANA: EFI Byte Code. But firmware written to the original RFC text sends 9 on x64, and no
  // EBC-only machine netboots, so 9 boots as x86_64 (smee sends both 7 and 9 ipxe.efi).
  arch(9, 'EBC', 'efi', 'x86_64'),
  arch(10, 'ARM 32-bit UEFI', 'efi', 'arm32'),
  arch(11, 'ARM 64-bit UEFI', 'efi', 'arm64'),
  arch(12, 'PowerPC Open Firmware', 'open-firmware', 'ppc'),
  arch(13, 'PowerPC ePAPR', 'epapr', 'ppc'),
  arch(14, 'POWER OPAL v3', 'opal', 'ppc64'),
  arch(15, 'x86 uefi boot from http', 'efi', 'x86', true),
  arch(16, 'x64 uefi boot from http', 'efi', 'x86_64', true),
  arch(17, 'ebc boot from http', 'efi', 'ebc', true),
  arch(18, 'arm uefi 32 boot from http', 'efi', 'arm32', true),
  arch(19, 'arm uefi 64 boot from http', 'efi', 'arm64', true),
  arch(20, 'pc/at bios boot from http', 'bios', 'x86', true),
  arch(21, 'arm 32 uboot', 'uboot', 'arm32'),
  arch(22, 'arm 64 uboot', 'uboot', 'arm64'),
  arch(23, 'arm uboot 32 boot from http', 'uboot', 'arm32', true),
  arch(24, 'arm uboot 64 boot from http', 'uboot', 'arm64', true),
  arch(25, 'RISC-V 32-bit UEFI', 'efi', 'riscv32'),
  arch(26, 'RISC-V 32-bit UEFI boot from http', 'efi', 'riscv32', true),
  arch(27, 'RISC-V 64-bit UEFI', 'efi', 'riscv64'),
  arch(28, 'RISC-V 64-bit UEFI boot from http', 'efi', 'riscv64', true),
  arch(29, 'RISC-V 128-bit UEFI', 'efi', 'riscv128'),
  arch(30, 'RISC-V 128-bit UEFI boot from http', 'efi', 'riscv128', true),
  arch(31, 's390 Basic', 's390', 's390x'),
  arch(32, 's390 Extended', 's390', 's390x'),
  arch(33, 'MIPS 32-bit UEFI', 'efi', 'mips32'),
  arch(34, 'MIPS 64-bit UEFI', 'efi', 'mips64'),
  arch(35, 'Sunway 32-bit UEFI', 'efi', 'sunway32'),
  arch(36, 'Sunway 64-bit UEFI', 'efi', 'sunway64'),
  arch(37, 'LoongArch 32-bit UEFI', 'efi', 'loongarch32'),
  arch(38, 'LoongArch 32-bit UEFI boot from http', 'efi', 'loongarch32', true),
  arch(39, 'LoongArch 64-bit UEFI', 'efi', 'loongarch64'),
  arch(40, 'LoongArch 64-bit UEFI boot from http', 'efi', 'loongarch64', true),
  // Raspberry Pi network boot (smee hands it the arm64 snp.efi).
  arch(41, 'ARM rpiboot', 'rpiboot', 'arm64'),
];

/** The table entry for `code`; codes IANA has not assigned come back with firmware/cpu 'unknown'. */
export function archFor(code: number): Arch {
  return ARCHES[code] ?? arch(code, 'unassigned', 'unknown', 'unknown');
}

/**
 * Option 93 first (RFC 4578 §2.1, the first type listed); else the decimal in option 60's
 * `PXEClient:Arch:00007:...` / `HTTPClient:Arch:00016:...`; undefined when neither says.
 */
export function clientArch(p: Packet): Arch | undefined {
  const listed = getOption(p.options, ClientArch);
  if (listed !== undefined && listed.length > 0) return archFor(listed[0]);
  const vendorClass = getOption(p.options, VendorClass);
  const m = vendorClass === undefined ? null : /^(?:PXEClient|HTTPClient):Arch:(\d{5})(?::|$)/.exec(vendorClass);
  return m && Number(m[1]) <= 0xffff ? archFor(Number(m[1])) : undefined;
}

export type ClientKind = 'ipxe' | 'http-boot' | 'pxe' | 'plain';

/**
 * iPXE first: it also sends `PXEClient`, and handing it the TFTP iPXE binary again is a boot
 * loop. iPXE announces itself by user class `iPXE` (bare or RFC 3004) or by option 175, which a
 * custom build with its own user class still sends.
 */
export function clientKind(p: Packet): ClientKind {
  const userClass = getOption(p.options, UserClass);
  if ((userClass !== undefined && hasUserClass(userClass, 'iPXE')) || p.options.has(IpxeOptions.code)) return 'ipxe';
  const vendorClass = getOption(p.options, VendorClass) ?? '';
  if (vendorClass.startsWith(HTTP_CLIENT)) return 'http-boot';
  if (vendorClass.startsWith(PXE_CLIENT)) return 'pxe';
  return 'plain';
}
