// The disk assembly for real, on a tiny tree (seconds, no debootstrap): the partition table as
// sfdisk reads it back, the MBR boot code, the ESP's files as mtools sees them, the root as
// e2fsprogs sees it. The boot test (boot.test.ts) then proves firmware boots the real thing.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { unpackDeb } from '../debian/debs.ts';
import { CONFIG_LABEL, ESP_LABEL, LOADER_CONF, LOADER_ENTRY, ROOT_LABEL, SYSLINUX_CFG } from './config.ts';
import { assembleDisk, buildEsp, buildRootFs, GPTMBR_BIN, SYSTEMD_BOOT_EFI } from './disk.ts';
import { diskLayout, FS_BLOCK_BYTES, GPT_TYPE, MiB, rootFilesystem } from './layout.ts';
import { treeUsage } from './rootfs.ts';

const CACHE = new URL('../../.cache', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'tether-disk-'));
after(() => rmSync(work, { recursive: true, force: true }));

function readAt(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally { closeSync(fd); }
}

test('a disk from a small tree: GPT as laid out, gptmbr boot code, ESP with both bootloaders, ext4 root by label', { timeout: 300_000 }, async () => {
  const tree = join(work, 'tree');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  mkdirSync(join(tree, 'usr/bin'), { recursive: true });
  writeFileSync(join(tree, 'etc/hostname'), 'tether-node\n');
  writeFileSync(join(tree, 'usr/bin/tool'), Buffer.alloc(300_000, 7));
  chmodSync(join(tree, 'usr/bin/tool'), 0o755);
  symlinkSync('usr/bin', join(tree, 'bin'));
  const vmlinuz = join(work, 'vmlinuz');
  const initrd = join(work, 'initrd.img');
  writeFileSync(vmlinuz, Buffer.alloc(2 * MiB, 1));
  writeFileSync(initrd, Buffer.alloc(3 * MiB, 2));
  const systemdBoot = await unpackDeb('systemd-boot-efi', join(CACHE, 'debs'));

  const usage = treeUsage(tree);
  assert.deepEqual(usage, { bytes: 4 * FS_BLOCK_BYTES + 74 * FS_BLOCK_BYTES, inodes: 6 }, 'etc, usr, usr/bin dirs + 2 files (1 + 74 blocks) + a short symlink');
  const fs = rootFilesystem(usage, 16 * MiB);
  const l = diskLayout(fs.bytes);
  const esp = join(work, 'esp.img');
  const root = join(work, 'root.img');
  const disk = join(work, 'disk.raw');
  await buildEsp(esp, l.esp.bytes, l.esp.startSector, { vmlinuz, initrd, systemdBoot: join(systemdBoot.root, SYSTEMD_BOOT_EFI) }, work);
  await buildRootFs(root, tree, fs);
  await assembleDisk(disk, l, esp, root);
  assert.equal(statSync(disk).size, l.bytes);

  // The partition table, as sfdisk reads it back from the file.
  const { stdout } = await execa('sfdisk', ['--json', disk]);
  const pt = JSON.parse(stdout).partitiontable;
  assert.equal(pt.label, 'gpt');
  assert.equal(pt.sectorsize, 512);
  assert.deepEqual(pt.partitions.map((p: Record<string, unknown>) => [p.start, p.size, p.type, p.name]), [
    [l.esp.startSector, l.esp.sectors, GPT_TYPE.esp, ESP_LABEL],
    [l.root.startSector, l.root.sectors, GPT_TYPE.linux, ROOT_LABEL],
    [l.config.startSector, l.config.sectors, GPT_TYPE.linux, CONFIG_LABEL],
  ]);
  assert.equal(pt.partitions[0].attrs, 'LegacyBIOSBootable', 'without it SeaBIOS finds no bootable device');
  assert.equal(pt.partitions[1].attrs, undefined);
  assert.ok(pt.lastlba < l.sectors - 33, 'the backup GPT fits after the last usable sector');

  // MBR: SYSLINUX's GPT-aware boot code in the first 440 bytes, the protective MBR's signature intact.
  assert.deepEqual(readAt(disk, 0, 440), readFileSync(GPTMBR_BIN));
  assert.deepEqual(readAt(disk, 510, 2), Buffer.from([0x55, 0xaa]));

  // The ESP, read in place inside the disk image (mtools' image@@offset).
  const espIn = `${disk}@@${l.esp.offset}`;
  const m = (cmd: string, ...args: string[]) => execa(cmd, ['-i', espIn, ...args], { env: { MTOOLS_SKIP_CHECK: '1' } });
  const files = (await m('mdir', '-a', '-b', '-/', '::/')).stdout.split('\n').map((f) => f.replace(/^::/, '')).filter(Boolean).sort();
  for (const f of ['/vmlinuz', '/initrd.img', '/ldlinux.sys', '/ldlinux.c32', '/syslinux.cfg', '/EFI/BOOT/BOOTX64.EFI', '/loader/loader.conf', '/loader/entries/tether.conf']) {
    assert.ok(files.includes(f), `${f} on the ESP (has ${files.join(' ')})`);
  }
  assert.equal((await m('mtype', '::/loader/entries/tether.conf')).stdout, LOADER_ENTRY.trimEnd());
  assert.equal((await m('mtype', '::/loader/loader.conf')).stdout, LOADER_CONF.trimEnd());
  assert.equal((await m('mtype', '::/syslinux.cfg')).stdout, SYSLINUX_CFG.trimEnd());
  const efi = join(work, 'BOOTX64.EFI');
  await m('mcopy', '::/EFI/BOOT/BOOTX64.EFI', efi);
  assert.deepEqual(readFileSync(efi), readFileSync(join(systemdBoot.root, SYSTEMD_BOOT_EFI)));
  const espProbe = (await execa('blkid', ['-p', '-O', String(l.esp.offset), '-o', 'export', disk])).stdout;
  assert.match(espProbe, new RegExp(`^LABEL=${ESP_LABEL}$`, 'm'));
  assert.match(espProbe, /^VERSION=FAT32$/m);

  // The root: labelled ext4, clean, holding the tree, with the headroom free.
  const rootIn = `${disk}?offset=${l.root.offset}`;
  const rootProbe = (await execa('blkid', ['-p', '-O', String(l.root.offset), '-o', 'export', disk])).stdout;
  assert.match(rootProbe, new RegExp(`^LABEL=${ROOT_LABEL}$`, 'm'));
  assert.match(rootProbe, /^TYPE=ext4$/m);
  await execa('e2fsck', ['-fn', rootIn]);
  assert.equal((await execa('debugfs', ['-R', 'cat /etc/hostname', rootIn])).stdout, 'tether-node');
  assert.match((await execa('debugfs', ['-R', 'stat /bin', rootIn])).stdout, /Type: symlink.*\n[\s\S]*Fast link dest: "usr\/bin"/);
  assert.match((await execa('debugfs', ['-R', 'stat /usr/bin/tool', rootIn])).stdout, /Mode:\s+0755/);
  const super_ = (await execa('dumpe2fs', ['-h', rootIn])).stdout;
  const num = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)$`, 'm').exec(super_)![1]);
  const freeForUsers = (num('Free blocks') - num('Reserved block count')) * num('Block size');
  assert.ok(freeForUsers >= 16 * MiB, `free ${freeForUsers} bytes < 16 MiB headroom`);
});
