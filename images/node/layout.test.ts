import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { alignUp, CONFIG_BYTES, defaultJournalBlocks, diskLayout, ESP_BYTES, FS_BLOCK_BYTES, GPT_BACKUP_SECTORS, INODE_BYTES, MiB, RESERVED_SHARE, rootFilesystem, SECTOR_BYTES, sfdiskScript } from './layout.ts';

test('alignUp rounds up to the next multiple and refuses nonsense', () => {
  assert.equal(alignUp(0, MiB), 0);
  assert.equal(alignUp(1, MiB), MiB);
  assert.equal(alignUp(MiB, MiB), MiB);
  assert.equal(alignUp(MiB + 1, MiB), 2 * MiB);
  assert.throws(() => alignUp(-1, 4096), RangeError);
  assert.throws(() => alignUp(1, 0), RangeError);
  assert.throws(() => alignUp(1.5, 4096), RangeError);
});

test('the layout for a 1000 MiB root: ESP at 1 MiB, root right after it, the config partition, then exactly the backup GPT', () => {
  const l = diskLayout(1000 * MiB);
  assert.deepEqual(l.esp, { number: 1, startSector: 2048, sectors: 262144, offset: MiB, bytes: ESP_BYTES });
  assert.deepEqual(l.root, { number: 2, startSector: 264192, sectors: 2048000, offset: 129 * MiB, bytes: 1000 * MiB });
  assert.deepEqual(l.config, { number: 3, startSector: 2312192, sectors: 32768, offset: 1129 * MiB, bytes: CONFIG_BYTES });
  assert.equal(l.bytes, 1145 * MiB + GPT_BACKUP_SECTORS * SECTOR_BYTES);
  assert.equal(l.sectors, l.bytes / SECTOR_BYTES);
});

test('any root size: partitions are MiB-aligned, in order, do not overlap, and leave room for the backup GPT', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 64 * 1024 * MiB }), (rootBytes) => {
    const l = diskLayout(rootBytes);
    for (const p of [l.esp, l.root, l.config]) {
      assert.equal(p.offset % MiB, 0);
      assert.equal(p.bytes % MiB, 0);
      assert.equal(p.startSector * SECTOR_BYTES, p.offset);
      assert.equal(p.sectors * SECTOR_BYTES, p.bytes);
    }
    assert.ok(l.esp.startSector >= 34, 'after the primary GPT (LBA 0-33)');
    assert.equal(l.root.offset, l.esp.offset + l.esp.bytes);
    assert.ok(l.root.bytes >= rootBytes && l.root.bytes - rootBytes < MiB);
    assert.equal(l.config.offset, l.root.offset + l.root.bytes);
    // The manifest's tail is the backup GPT and nothing else.
    assert.equal(l.sectors - (l.config.startSector + l.config.sectors), GPT_BACKUP_SECTORS);
  }));
  assert.throws(() => diskLayout(0), RangeError);
  assert.throws(() => diskLayout(MiB, 16 * MiB), RangeError);
});

test('the sfdisk script: GPT in sectors, the ESP typed, named and LegacyBIOSBootable, the root named for its label', () => {
  const l = diskLayout(1000 * MiB);
  const s = sfdiskScript(l);
  assert.match(s, /^label: gpt$/m);
  assert.match(s, /^unit: sectors$/m);
  assert.match(s, /^start=2048, size=262144, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="TETHER-ESP", attrs="LegacyBIOSBootable"$/m);
  assert.match(s, /^start=264192, size=2048000, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="tether-root"$/m);
  assert.match(s, /^start=2312192, size=32768, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="tether-config"$/m);
});

test('e2fsprogs journal sizes at their thresholds', () => {
  assert.equal(defaultJournalBlocks(1000), 0);
  assert.equal(defaultJournalBlocks(32767), 1024);
  assert.equal(defaultJournalBlocks(32768), 4096);
  assert.equal(defaultJournalBlocks(262144), 8192, '1 GiB of 4 KiB blocks: a 32 MiB journal (measured with mkfs.ext4)');
  assert.equal(defaultJournalBlocks(537600), 16384, '2100 MiB: 64 MiB (measured)');
  assert.equal(defaultJournalBlocks(64 * 1024 * 1024), 262144);
});

test('the root filesystem leaves the headroom free after the journal, inode tables and reserved blocks', () => {
  fc.assert(fc.property(fc.integer({ min: 0, max: 8 * 1024 * MiB }), fc.integer({ min: 0, max: 400_000 }), fc.integer({ min: 16, max: 4096 }), (bytes, inodes, headroomMiB) => {
    const tree = { bytes: alignUp(bytes, FS_BLOCK_BYTES), inodes };
    const fs = rootFilesystem(tree, headroomMiB * MiB);
    assert.equal(fs.bytes % MiB, 0);
    assert.ok(fs.inodes >= inodes * 1.25, 'a quarter more inodes than the tree uses');
    const journal = defaultJournalBlocks(fs.bytes / FS_BLOCK_BYTES) * FS_BLOCK_BYTES;
    const free = fs.bytes * (1 - RESERVED_SHARE) - journal - fs.inodes * INODE_BYTES - tree.bytes;
    assert.ok(free >= headroomMiB * MiB, `free ${free} < headroom ${headroomMiB} MiB`);
    // ...and not wastefully more: within the 2% slack plus one MiB of rounding.
    assert.ok(free <= headroomMiB * MiB + tree.bytes * 0.03 + 2 * MiB, `free ${free} for headroom ${headroomMiB} MiB`);
  }), { numRuns: 300 });
  const a = rootFilesystem({ bytes: 700 * MiB, inodes: 20000 }, 256 * MiB);
  const b = rootFilesystem({ bytes: 800 * MiB, inodes: 20000 }, 256 * MiB);
  assert.ok(b.bytes > a.bytes, 'a bigger tree, a bigger filesystem');
});
