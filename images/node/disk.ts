// The bootable disk image as plain files: no loop devices, no mounts, nothing that needs a block
// device. Each partition is built as its own image file (FAT with mtools and syslinux's mtools
// installer, ext4 with `mkfs.ext4 -d`), then the disk file gets its GPT from sfdisk, SYSLINUX's
// GPT-aware MBR code, and the partition images at their offsets (DESIGN.md, "Lab recipe").
import { execa } from 'execa';
import { closeSync, openSync, readFileSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ESP_LABEL, LOADER_CONF, LOADER_ENTRY, ROOT_LABEL, SYSLINUX_CFG } from './config.ts';
import { MBR_BOOT_CODE_BYTES, sfdiskScript, type DiskLayout } from './layout.ts';

export const GPTMBR_BIN = '/usr/lib/syslinux/mbr/gptmbr.bin';
/** Inside the systemd-boot-efi package. */
export const SYSTEMD_BOOT_EFI = 'usr/lib/systemd/boot/efi/systemd-bootx64.efi';

/** An empty (sparse) file of `bytes`. */
function sparseFile(path: string, bytes: number): void {
  closeSync(openSync(path, 'w'));
  truncateSync(path, bytes);
}

// mtools refuses FAT images whose geometry does not match a floppy's unless told not to check.
const MTOOLS_ENV = { MTOOLS_SKIP_CHECK: '1' };

export interface EspFiles { vmlinuz: string; initrd: string; systemdBoot: string }

/**
 * The ESP, also the BIOS boot partition: FAT32 holding the kernel and initramfs once, found by
 * SYSLINUX (BIOS; its boot sector + ldlinux.sys) and by systemd-boot at the removable-media path
 * EFI/BOOT/BOOTX64.EFI (UEFI; no NVRAM entry is needed). `hiddenSectors` is the partition's
 * start: SYSLINUX's boot sector uses it to find itself on the disk.
 */
export async function buildEsp(path: string, bytes: number, hiddenSectors: number, f: EspFiles, work: string): Promise<void> {
  sparseFile(path, bytes);
  await execa('mkfs.vfat', ['-F', '32', '-S', '512', '-n', ESP_LABEL, '-h', String(hiddenSectors), path]);
  const m = (cmd: string, args: string[]) => execa(cmd, ['-i', path, ...args], { env: MTOOLS_ENV });
  await m('mmd', ['::/EFI', '::/EFI/BOOT', '::/loader', '::/loader/entries']);
  const texts: Array<[string, string]> = [['syslinux.cfg', SYSLINUX_CFG], ['loader/loader.conf', LOADER_CONF], ['loader/entries/tether.conf', LOADER_ENTRY]];
  for (const [name, text] of texts) {
    const local = join(work, name.replaceAll('/', '_'));
    writeFileSync(local, text);
    await m('mcopy', ['-o', local, `::/${name}`]);
  }
  await m('mcopy', ['-o', f.vmlinuz, '::/vmlinuz']);
  await m('mcopy', ['-o', f.initrd, '::/initrd.img']);
  await m('mcopy', ['-o', f.systemdBoot, '::/EFI/BOOT/BOOTX64.EFI']);
  // Debian's syslinux is the mtools build: it installs onto an image file (boot sector, ldlinux.sys, ldlinux.c32).
  await execa('syslinux', ['--install', path], { env: MTOOLS_ENV });
}

/** The root filesystem from a tree: ext4, labelled, sized by layout.ts's rootFilesystem(). */
export async function buildRootFs(path: string, tree: string, fs: { bytes: number; inodes: number }): Promise<void> {
  sparseFile(path, fs.bytes);
  // -T default: the inode and block defaults of a disk, not of the "small" type mke2fs picks below 512 MiB.
  await execa('mkfs.ext4', ['-F', '-q', '-T', 'default', '-L', ROOT_LABEL, '-N', String(fs.inodes), '-d', tree, path]);
}

/** The disk: GPT, SYSLINUX's MBR boot code, and the two partition images at their offsets. */
export async function assembleDisk(path: string, l: DiskLayout, espImage: string, rootImage: string): Promise<void> {
  sparseFile(path, l.bytes);
  await execa('sfdisk', ['--quiet', '--no-reread', '--no-tell-kernel', path], { input: sfdiskScript(l) });
  const mbr = readFileSync(GPTMBR_BIN);
  if (mbr.length !== MBR_BOOT_CODE_BYTES) throw new Error(`${GPTMBR_BIN} is ${mbr.length} bytes, expected ${MBR_BOOT_CODE_BYTES}`);
  const fd = openSync(path, 'r+');
  try { writeSync(fd, mbr, 0, MBR_BOOT_CODE_BYTES, 0); } finally { closeSync(fd); }
  // conv=notrunc: without it dd truncates the disk file after the partition (losing the backup GPT).
  // conv=sparse: the zero blocks of the images stay holes in the disk file.
  for (const [img, p] of [[espImage, l.esp], [rootImage, l.root]] as const) {
    await execa('dd', [`if=${img}`, `of=${path}`, 'bs=4M', `seek=${p.offset}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  }
}
