// Build step: the UEFI local-disk booter, a GRUB EFI image with its config built in. Debian's 2019
// ipxe.efi hangs on `exit` under OVMF (after "No more network devices" it never hands control back
// to the firmware), so a UEFI machine whose disk should boot would stay on the iPXE screen. Instead
// the local-disk script chains this image over HTTP: GRUB finds the disk holding the removable-media
// loader (\EFI\BOOT\BOOTX64.EFI, which Tether's node image and any UEFI-installable disk carry) and
// chainloads it — what MAAS does for UEFI local boot. From Debian's grub-common (grub-mkimage) and
// grub-efi-amd64-bin (modules), downloaded and unpacked, never installed: the appliance host keeps
// its own bootloader untouched. x86_64 only; other UEFI machines fall back to iPXE's `exit`.
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { unpackDeb } from '../debian/debs.ts';

/** Where it is served from: <artifacts>/localboot/<file>. */
export const LOCALBOOT_DIR = 'localboot';
export const LOCALBOOT_FILES: Partial<Record<string, string>> = { x86_64: 'localboot-x86_64.efi' };

const LOADER = '/EFI/BOOT/BOOTX64.EFI';

/**
 * GRUB's built-in config. No `if`: an embedded config may run under GRUB's rescue parser, so each
 * line simply fails on when the one before did, and the last resort is handing back to the firmware.
 */
export const LOCALBOOT_CONFIG = [
  'echo "Tether: booting the local disk (looking for a disk with ' + LOADER + ')"',
  `search --no-floppy --file --set=root ${LOADER}`,
  `chainloader ${LOADER}`,
  'boot',
  `echo "Tether: no disk with ${LOADER} could be booted; returning to the firmware"`,
  'sleep 5',
  'exit',
  '',
].join('\n');

// The least GRUB that reads GPT/MBR disks with FAT (the ESP) and chainloads an EFI binary.
const MODULES = ['part_gpt', 'part_msdos', 'fat', 'search', 'search_fs_file', 'chain', 'echo', 'sleep', 'minicmd', 'normal'];

export async function buildLocalBoot(o: { cache: string; artifactsDir: string; log?: (m: string) => void }): Promise<{ path: string; built: boolean }> {
  const [tools, modules] = await Promise.all([unpackDeb('grub-common', o.cache, o.log), unpackDeb('grub-efi-amd64-bin', o.cache, o.log)]);
  const dir = join(o.artifactsDir, LOCALBOOT_DIR);
  const out = join(dir, LOCALBOOT_FILES.x86_64!);
  // Rebuilt when GRUB's version, the config or the module list changes; otherwise left alone.
  const stamp = createHash('sha256').update(JSON.stringify([tools.version, modules.version, LOCALBOOT_CONFIG, MODULES])).digest('hex');
  const stampFile = `${out}.stamp`;
  if (existsSync(out) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) {
    o.log?.(`localboot: ${out} up to date (grub ${modules.version})`);
    return { path: out, built: false };
  }
  mkdirSync(dir, { recursive: true });
  const cfg = join(dir, '.localboot.cfg');
  writeFileSync(cfg, LOCALBOOT_CONFIG);
  const tmp = `${out}.tmp`;
  await execa(join(tools.root, 'usr/bin/grub-mkimage'), [
    '-d', join(modules.root, 'usr/lib/grub/x86_64-efi'), '-O', 'x86_64-efi', '-p', '/EFI/tether', '-c', cfg, '-o', tmp, ...MODULES,
  ]);
  renameSync(tmp, out);
  writeFileSync(stampFile, stamp);
  o.log?.(`localboot: built ${out} (grub ${modules.version})`);
  return { path: out, built: true };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { cache: { type: 'string', default: '.cache/debs' }, artifacts: { type: 'string' } } });
  if (!values.artifacts) { process.stderr.write('usage: localboot.ts --artifacts DIR [--cache DIR]\n'); process.exit(2); }
  await buildLocalBoot({ cache: values.cache!, artifactsDir: values.artifacts, log: (m) => process.stdout.write(`${m}\n`) });
}
