// Disks from `lsblk -J -b -d -o …`, topped up from sysfs where lsblk leaves a field empty: without
// udev in the image lsblk knows no serials or WWNs, and systeminformation drops virtio disks that
// have no model. The sysfs and SCSI VPD pages carry them (libata answers VPD 0x80/0x83 for SATA).
import type { Disk, Fact } from '../protocol.ts';
import type { Host } from '../host.ts';
import { absent, textFact } from './facts.ts';

export const LSBLK_ARGS = ['-J', '-b', '-d', '-o', 'NAME,KNAME,PATH,TYPE,MODEL,SERIAL,WWN,SIZE,ROTA,TRAN,RM,SUBSYSTEMS'];

export interface LsblkDevice {
  name: string; type: string; model: string | null; serial: string | null; wwn: string | null;
  size: number; rota: boolean | null; tran: string | null; rm: boolean | null; subsystems: string | null;
}

// lsblk ≥ 2.37 prints JSON booleans and numbers; older ones print "0"/"1" and "512110190592".
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : v === '1' ? true : v === '0' ? false : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);

export function parseLsblk(json: string): LsblkDevice[] {
  const doc = JSON.parse(json) as { blockdevices?: Array<Record<string, unknown>> };
  if (!Array.isArray(doc.blockdevices)) throw new Error('lsblk -J printed no "blockdevices" list');
  return doc.blockdevices.map((d) => ({
    name: String(d.name ?? d.kname ?? ''),
    type: String(d.type ?? ''),
    model: str(d.model),
    serial: str(d.serial),
    wwn: str(d.wwn),
    size: Number(d.size ?? 0),
    rota: bool(d.rota),
    tran: str(d.tran),
    rm: bool(d.rm),
    subsystems: str(d.subsystems),
  }));
}

/** A disk on a bus (virtio, scsi, nvme, usb …); zram, ram, loop and md are not hardware. */
export function isPhysicalDisk(d: LsblkDevice): boolean {
  return d.type === 'disk' && !!d.subsystems && d.subsystems.includes(':') && d.size > 0;
}

/** SCSI VPD page 0x80 (Unit Serial Number, SPC-4 §7.8.16): 4-byte header, then ASCII. */
export function vpdSerial(page: Uint8Array): string | null {
  if (page.length < 4 || page[1] !== 0x80) return null;
  const len = (page[2] << 8) | page[3];
  return str(Buffer.from(page.subarray(4, 4 + len)).toString('latin1').replace(/\0/g, ''));
}

/**
 * The logical unit's NAA designator from VPD page 0x83 (Device Identification, SPC-4 §7.8.6), as
 * lsblk/udev print a WWN: "0x" + hex. Other designator types (T10 vendor, EUI-64) are not WWNs.
 */
export function vpdNaa(page: Uint8Array): string | null {
  if (page.length < 4 || page[1] !== 0x83) return null;
  const end = Math.min(page.length, 4 + ((page[2] << 8) | page[3]));
  for (let i = 4; i + 4 <= end;) {
    const codeSet = page[i] & 0x0f;
    const association = (page[i + 1] >> 4) & 0x03;
    const type = page[i + 1] & 0x0f;
    const len = page[i + 3];
    if (type === 3 && association === 0 && codeSet === 1 && i + 4 + len <= end) {
      return `0x${Buffer.from(page.subarray(i + 4, i + 4 + len)).toString('hex')}`;
    }
    i += 4 + len;
  }
  return null;
}

/** sysfs `wwid` ("naa.5000c500…", "eui.0025…") → a WWN; T10 vendor ids ("t10.ATA QEMU…") are not. */
export function wwidToWwn(wwid: string): string | null {
  const m = /^(naa|eui)\.([0-9a-fA-F]+)$/.exec(wwid.trim());
  return m ? (m[1] === 'naa' ? `0x${m[2].toLowerCase()}` : `eui.${m[2].toLowerCase()}`) : null;
}

export function transportOf(d: LsblkDevice): string | null {
  if (d.tran) return d.tran;
  const subs = d.subsystems?.split(':') ?? [];
  for (const t of ['nvme', 'virtio', 'usb', 'mmc']) if (subs.includes(t)) return t;
  return null;
}

export interface SysfsDiskExtras { serial: string | null; wwn: string | null }

export function diskFrom(d: LsblkDevice, extra: SysfsDiskExtras): Disk {
  const transport = transportOf(d);
  return {
    name: d.name,
    model: textFact(d.model, 'the disk reports no model'),
    serial: textFact(d.serial ?? extra.serial, 'the disk reports no serial'),
    wwn: textFact(d.wwn ?? extra.wwn, 'the disk reports no WWN'),
    sizeBytes: d.size,
    rotational: d.rota ?? absent('lsblk does not say'),
    transport: transport ? textFact(transport, 'lsblk does not say', 32) : absent('lsblk does not say'),
    removable: d.rm ?? absent('lsblk does not say'),
  };
}

async function firstOf<T>(tries: Array<() => Promise<T | null>>): Promise<T | null> {
  for (const t of tries) {
    const v = await t().catch(() => null);
    if (v) return v;
  }
  return null;
}

/** What sysfs knows that lsblk (without udev) does not: serial and WWN. */
export async function sysfsDiskExtras(host: Host, name: string): Promise<SysfsDiskExtras> {
  const blk = `/sys/block/${name}`;
  const text = async (p: string) => str(await host.readText(p));
  return {
    serial: await firstOf([() => text(`${blk}/serial`), () => text(`${blk}/device/serial`), async () => vpdSerial(await host.readBytes(`${blk}/device/vpd_pg80`))]),
    wwn: await firstOf([
      async () => wwidToWwn(await host.readText(`${blk}/wwid`)),
      async () => wwidToWwn(await host.readText(`${blk}/device/wwid`)),
      async () => vpdNaa(await host.readBytes(`${blk}/device/vpd_pg83`)),
    ]),
  };
}

export async function collectDisks(host: Host): Promise<Fact<Disk[]>> {
  const devices = parseLsblk(await host.run('lsblk', LSBLK_ARGS)).filter(isPhysicalDisk);
  return Promise.all(devices.map(async (d) => diskFrom(d, d.serial && d.wwn ? { serial: null, wwn: null } : await sysfsDiskExtras(host, d.name))));
}
