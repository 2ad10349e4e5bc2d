// The disk image's geometry: pure arithmetic, kept apart from the tools that act on it.
//
//   LBA 0        protective MBR (boot code: SYSLINUX's gptmbr.bin, 440 bytes)
//   LBA 1..33    primary GPT header + 128 partition entries
//   1 MiB        p1: ESP, FAT32, 128 MiB, attribute LegacyBIOSBootable (SeaBIOS/gptmbr boot it)
//   129 MiB      p2: root, ext4, sized from the tree + headroom
//   after p2     p3: tether-config, 16 MiB, where the agent writes per-machine files (a cpio)
//   end - 33     backup GPT (entries + header)
// The image the manifest hashes ends where p3 starts; p3 and the backup GPT (the manifest's
// `tail`) are written by the agent after the image, so staging files never changes image bytes.
import { CONFIG_LABEL, ESP_LABEL, ROOT_LABEL } from './config.ts';

export const SECTOR_BYTES = 512;
export const MiB = 1024 * 1024;
/** Partition starts and sizes on 1 MiB: aligned for 4K-sector disks, SSD erase blocks and RAID stripes. */
export const ALIGN_BYTES = MiB;
export const ESP_BYTES = 128 * MiB;
export const CONFIG_BYTES = 16 * MiB;
/** The backup GPT at the end of the disk: 32 sectors of entries (128 × 128 bytes) + the header. */
export const GPT_BACKUP_SECTORS = 33;
/** gptmbr.bin fills the MBR's boot code area only: the disk signature and partition table follow at 440. */
export const MBR_BOOT_CODE_BYTES = 440;

export const GPT_TYPE = {
  esp: 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
  linux: '0FC63DAF-8483-4772-8E79-3D69D8477DE4',
} as const;

export interface Partition {
  number: number;
  startSector: number;
  sectors: number;
  /** Byte offset in the disk image, where the partition image is written. */
  offset: number;
  bytes: number;
}

export interface DiskLayout { bytes: number; sectors: number; esp: Partition; root: Partition; config: Partition }

export function alignUp(n: number, to: number): number {
  if (!(Number.isSafeInteger(n) && n >= 0 && Number.isSafeInteger(to) && to > 0)) throw new RangeError(`alignUp(${n}, ${to}): non-negative integers only`);
  return Math.ceil(n / to) * to;
}

function partition(number: number, offset: number, bytes: number): Partition {
  return { number, startSector: offset / SECTOR_BYTES, sectors: bytes / SECTOR_BYTES, offset, bytes };
}

/** Where the two partitions go for a root filesystem of `rootBytes` (rounded up to the alignment). */
export function diskLayout(rootBytes: number, espBytes: number = ESP_BYTES): DiskLayout {
  if (!(rootBytes > 0) || !(espBytes >= 33 * MiB)) throw new RangeError('the root must be non-empty and the ESP at least 33 MiB (FAT32 minimum with 512-byte clusters)');
  const esp = partition(1, ALIGN_BYTES, alignUp(espBytes, ALIGN_BYTES));
  const root = partition(2, esp.offset + esp.bytes, alignUp(rootBytes, ALIGN_BYTES));
  const config = partition(3, root.offset + root.bytes, CONFIG_BYTES);
  // No padding after the backup GPT: the tail the agent writes is exactly those 33 sectors.
  const bytes = config.offset + config.bytes + GPT_BACKUP_SECTORS * SECTOR_BYTES;
  return { bytes, sectors: bytes / SECTOR_BYTES, esp, root, config };
}

/** sfdisk's input for the layout: GPT, both partitions named, the ESP bootable by legacy BIOS too. */
export function sfdiskScript(l: DiskLayout): string {
  return [
    'label: gpt',
    'unit: sectors',
    `sector-size: ${SECTOR_BYTES}`,
    `first-lba: ${ALIGN_BYTES / SECTOR_BYTES}`,
    '',
    `start=${l.esp.startSector}, size=${l.esp.sectors}, type=${GPT_TYPE.esp}, name="${ESP_LABEL}", attrs="LegacyBIOSBootable"`,
    `start=${l.root.startSector}, size=${l.root.sectors}, type=${GPT_TYPE.linux}, name="${ROOT_LABEL}"`,
    `start=${l.config.startSector}, size=${l.config.sectors}, type=${GPT_TYPE.linux}, name="${CONFIG_LABEL}"`,
    '',
  ].join('\n');
}

// --- the root filesystem's size ------------------------------------------------------------------

export const FS_BLOCK_BYTES = 4096;
export const INODE_BYTES = 256;
/** mke2fs's default bytes-per-inode for filesystems of 512 MiB and more. */
export const BYTES_PER_INODE = 16384;
/** mke2fs's default reserved-for-root share: not free space for anyone else, so not headroom. */
export const RESERVED_SHARE = 0.05;

/** What a tree occupies as ext4 data: every file rounded up to whole blocks, one block per directory. */
export interface TreeUsage { bytes: number; inodes: number }

/** e2fsprogs' default journal size (ext2fs_default_journal_size) for a filesystem of `blocks` blocks, in blocks. */
export function defaultJournalBlocks(blocks: number): number {
  if (blocks < 2048) return 0;
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  if (blocks < 16384 * 1024) return 65536;
  if (blocks < 32768 * 1024) return 131072;
  return 262144;
}

/**
 * The ext4 filesystem for a tree: its size (MiB-aligned) and inode count, leaving `headroomBytes`
 * free beyond the tree, the journal, the inode tables and the root-reserved blocks. Inodes: the
 * mke2fs default ratio, or more when the tree has many small files, and never fewer than the tree
 * needs plus a quarter for the first boots.
 */
export function rootFilesystem(tree: TreeUsage, headroomBytes: number): { bytes: number; inodes: number } {
  if (!(tree.bytes >= 0 && tree.inodes >= 0 && headroomBytes >= 0)) throw new RangeError('rootFilesystem: sizes must be non-negative');
  // Directories' extent trees, htree blocks and group descriptors: a little slack on the data.
  const data = Math.ceil(tree.bytes * 1.02) + headroomBytes;
  const minInodes = Math.ceil(tree.inodes * 1.25) + 1024;
  let bytes = data;
  for (let i = 0; i < 8; i++) {
    const inodes = Math.max(minInodes, Math.ceil(bytes / BYTES_PER_INODE));
    const journal = defaultJournalBlocks(Math.ceil(bytes / FS_BLOCK_BYTES)) * FS_BLOCK_BYTES;
    const next = alignUp(Math.ceil((data + journal + inodes * INODE_BYTES) / (1 - RESERVED_SHARE)), ALIGN_BYTES);
    if (next === bytes) break;
    bytes = next;
  }
  return { bytes, inodes: Math.max(minInodes, Math.ceil(bytes / BYTES_PER_INODE)) };
}
