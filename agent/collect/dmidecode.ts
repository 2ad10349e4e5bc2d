// dmidecode text output: the SMBIOS records the kernel does not decode into sysfs — memory devices
// (type 17) and the IPMI device (type 38). Firmware fills unused strings with placeholders such as
// "Not Specified"; those are absent facts, not values.
import type { Dimm, Fact } from '../protocol.ts';
import { absent, textFact } from './facts.ts';

export interface DmiRecord { handle: string; type: number; title: string; fields: Record<string, string> }

const PLACEHOLDERS = new Set(['', 'not specified', 'not provided', 'unknown', 'none', 'no dimm', 'undefined', '[empty]', 'empty', 'n/a', 'not available']);

export function parseDmidecode(text: string): DmiRecord[] {
  const records: DmiRecord[] = [];
  for (const block of text.split(/\n(?=Handle 0x)/)) {
    const lines = block.split('\n');
    const head = /^Handle (0x[0-9A-Fa-f]+), DMI type (\d+),/.exec(lines[0]);
    if (!head) continue;
    const fields: Record<string, string> = {};
    for (const line of lines.slice(2)) {
      const m = /^\t([^\t:][^:]*):\s?(.*)$/.exec(line); // one tab: a field; two tabs: a list item (ignored)
      if (m) fields[m[1].trim()] = m[2].trim();
    }
    records.push({ handle: head[1], type: Number(head[2]), title: (lines[1] ?? '').trim(), fields });
  }
  return records;
}

/** True when dmidecode saw SMBIOS tables at all (else every record is absent for that reason). */
export function sawSmbios(text: string): boolean {
  return /^(SMBIOS|Legacy DMI) \d+\.\d+(\.\d+)? present\./m.test(text) || /^Handle 0x/m.test(text);
}

function fwText(v: string | undefined): Fact<string> {
  if (v === undefined) return absent('dmidecode does not show it');
  if (PLACEHOLDERS.has(v.trim().toLowerCase())) return absent(`the firmware says "${v.trim()}"`);
  return textFact(v, 'the firmware leaves it empty');
}

const UNITS: Record<string, number> = { bytes: 1, kB: 1024, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** "16 GB", "16384 MB", "512 kB" → bytes; null for "No Module Installed" and the like. */
export function parseSize(v: string | undefined): number | null {
  const m = /^(\d+)\s*(bytes|kB|KB|MB|GB|TB)$/.exec(v?.trim() ?? '');
  return m ? Number(m[1]) * UNITS[m[2]] : null;
}

/** "3200 MT/s" (dmidecode ≥ 3.3) or "2400 MHz" (older; for DDR the same number) → MT/s. */
function speed(v: string | undefined): Fact<number> {
  const m = /^(\d+)\s*(MT\/s|MHz)$/.exec(v?.trim() ?? '');
  if (m) return Number(m[1]);
  const t = fwText(v);
  return typeof t === 'string' ? absent(`unreadable speed ${JSON.stringify(t.slice(0, 40))}`) : t;
}

/** Installed DIMMs (empty slots left out) from `dmidecode -t 17`. */
export function dimmsFrom(records: DmiRecord[]): Dimm[] {
  const dimms: Dimm[] = [];
  for (const r of records) {
    if (r.type !== 17) continue;
    const f = r.fields;
    const size = parseSize(f.Size);
    if (size === null || size === 0) continue;
    const configured = speed(f['Configured Memory Speed'] ?? f['Configured Clock Speed']);
    const slot = [f.Locator, f['Bank Locator']].map((x) => fwText(x)).filter((x): x is string => typeof x === 'string').join(' / ');
    dimms.push({
      slot: (slot || r.handle).slice(0, 256),
      sizeBytes: size,
      type: fwText(f.Type),
      speedMTs: typeof configured === 'number' ? configured : speed(f.Speed),
      vendor: fwText(f.Manufacturer),
      partNumber: fwText(f['Part Number']),
      serial: fwText(f['Serial Number']),
    });
  }
  return dimms;
}

/** Whether the SMBIOS tables describe an IPMI device (type 38), i.e. the board has a BMC. */
export function ipmiDevicePresent(records: DmiRecord[]): boolean {
  return records.some((r) => r.type === 38);
}
