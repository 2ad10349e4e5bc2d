// Which disk an install writes, decided on the appliance from the machine's inventory and named
// exactly in the task (name + size + serial + WWN): the agent then writes that disk or nothing.
import { factValue, type DiskRef, type Disk } from '../../agent/protocol.ts';

export interface TargetHint { minSizeGiB: number; serial: string | null; wwn: string | null }

const GIB = 1024 ** 3;

const refOf = (d: Disk): DiskRef => ({ name: d.name, sizeBytes: d.sizeBytes, serial: factValue(d.serial), wwn: factValue(d.wwn) });

/**
 * The disk named by serial or WWN when the hint has one (no fallback: the operator asked for that
 * disk); otherwise the smallest non-removable disk of at least `minSizeGiB` and `needBytes`,
 * preferring non-rotational ones (the OS disk is usually the small SSD beside large data disks).
 */
export function pickTargetDisk(disks: Disk[], hint: TargetHint, needBytes: number): { disk: DiskRef; why: string } | { problem: string } {
  if (disks.length === 0) return { problem: 'the inventory lists no disks' };
  const fits = (d: Disk) => d.sizeBytes >= needBytes;
  if (hint.serial !== null || hint.wwn !== null) {
    const want = hint.serial !== null ? `serial ${hint.serial}` : `WWN ${hint.wwn}`;
    const d = disks.find((x) => (hint.serial !== null && factValue(x.serial) === hint.serial) || (hint.wwn !== null && factValue(x.wwn)?.toLowerCase() === hint.wwn.toLowerCase()));
    if (!d) return { problem: `no disk with ${want} (disks: ${disks.map((x) => `${x.name} serial ${factValue(x.serial) ?? '?'}`).join(', ')})` };
    if (!fits(d)) return { problem: `disk ${d.name} (${want}) has ${d.sizeBytes} bytes; the image needs ${needBytes}` };
    return { disk: refOf(d), why: `the disk with ${want}` };
  }
  const min = Math.max(hint.minSizeGiB * GIB, needBytes);
  const candidates = disks.filter((d) => factValue(d.removable) !== true && d.sizeBytes >= min);
  if (candidates.length === 0) return { problem: `no non-removable disk of at least ${(min / GIB).toFixed(1)} GiB (disks: ${disks.map((d) => `${d.name} ${(d.sizeBytes / GIB).toFixed(1)} GiB`).join(', ')})` };
  const rank = (d: Disk) => (factValue(d.rotational) === false ? 0 : 1);
  candidates.sort((a, b) => rank(a) - rank(b) || a.sizeBytes - b.sizeBytes || a.name.localeCompare(b.name));
  const d = candidates[0];
  const kind = rank(d) === 0 ? 'non-rotational' : 'rotational or unknown (no non-rotational disk is large enough)';
  return { disk: refOf(d), why: `smallest ${kind} disk of at least ${(min / GIB).toFixed(1)} GiB` };
}

/** Bytes an image occupies on disk: image, config partition and backup GPT. */
export function diskBytesNeeded(m: { raw: { size: number }; config?: { offset: number; size: number }; tail?: { offset: number; base64: string } }): number {
  let end = m.raw.size;
  if (m.config) end = Math.max(end, m.config.offset + m.config.size);
  if (m.tail) end = Math.max(end, m.tail.offset + Buffer.from(m.tail.base64, 'base64').length);
  return end;
}
