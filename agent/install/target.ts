// Which block device a task may write. The appliance names a disk from the inventory it was sent;
// kernel names (`sda`, `nvme0n1`) can move between boots when controllers probe in another order, so
// the name alone proves nothing. A disk is written only if, right now, a disk has that name AND the
// size, serial and WWN the appliance knows for it. Anything else refuses, saying what differs: the
// agent never looks for "the disk that matches" under another name — an operator decides that.
import { factValue, type Disk, type DiskRef } from '../protocol.ts';

export type TargetResolution = { path: string } | { refused: string };

const norm = (s: string): string => s.trim();
/** WWNs come as `0x5000c500…` from lsblk/VPD and `eui.…` from NVMe: compare case-insensitively. */
const normWwn = (s: string): string => s.trim().toLowerCase();

/** Where `/dev` holds a disk's node; tests point it at files. */
export type DevicePath = (name: string) => string;
export const devPath: DevicePath = (name) => `/dev/${name}`;

export function resolveTarget(ref: DiskRef, disks: readonly Disk[], path: DevicePath = devPath): TargetResolution {
  const what = `disk ${ref.name}`;
  const d = disks.find((x) => x.name === ref.name);
  if (!d) {
    const moved = ref.serial ? disks.find((x) => factValue(x.serial) !== null && norm(factValue(x.serial)!) === norm(ref.serial!)) : undefined;
    return { refused: `${what} does not exist on this boot${moved ? ` (a disk with serial ${ref.serial} is now named ${moved.name}; re-inventory and choose it again)` : ''}; nothing was written` };
  }
  const problems: string[] = [];
  if (d.sizeBytes !== ref.sizeBytes) problems.push(`size is ${d.sizeBytes} bytes, the task expects ${ref.sizeBytes}`);
  if (ref.serial !== null) {
    const serial = factValue(d.serial);
    if (serial === null) problems.push(`the task expects serial ${ref.serial}, the disk reports none now`);
    else if (norm(serial) !== norm(ref.serial)) problems.push(`serial is ${serial}, the task expects ${ref.serial}`);
  }
  if (ref.wwn !== null) {
    const wwn = factValue(d.wwn);
    if (wwn === null) problems.push(`the task expects WWN ${ref.wwn}, the disk reports none now`);
    else if (normWwn(wwn) !== normWwn(ref.wwn)) problems.push(`WWN is ${wwn}, the task expects ${ref.wwn}`);
  }
  if (problems.length) {
    return { refused: `${what} is not the disk the task was made for: ${problems.join('; ')}. It may have been swapped or renamed since the inventory; re-inventory and choose again. Nothing was written` };
  }
  return { path: path(d.name) };
}
