// Which known machine is an inventory report about? A machine is its boot MAC until inventoried,
// then its SMBIOS UUID + serial + MAC set. Firmware lies: many boards ship an all-zero (or all-F)
// UUID, cloned VMs share one, and serials read "To Be Filled By O.E.M.". So a UUID alone never
// merges two machines; a shared MAC or a trustworthy UUID *and* serial pair does.
import type { Machine } from '../store/store.ts';

const PLACEHOLDER_SERIALS = new Set([
  '', '0', '00000000', '0123456789', '1234567890', 'none', 'n/a', 'na', 'default string', 'not specified',
  'not applicable', 'system serial number', 'to be filled by o.e.m.', 'to be filled by oem', 'chassis serial number', 'serial',
]);

export function isPlaceholderUuid(uuid: string | null | undefined): boolean {
  if (!uuid) return true;
  const hex = uuid.toLowerCase().replace(/[^0-9a-f]/g, '');
  return hex.length !== 32 || /^0+$/.test(hex) || /^f+$/.test(hex);
}

export function isPlaceholderSerial(serial: string | null | undefined): boolean {
  return !serial || PLACEHOLDER_SERIALS.has(serial.trim().toLowerCase());
}

export interface IdentityReport { uuid: string | null; serial: string | null; macs: string[] }

export type IdentityMatch =
  | { kind: 'match'; machine: Machine; by: 'mac' | 'uuid+serial' }
  | { kind: 'none' }
  | { kind: 'ambiguous'; machines: Machine[]; why: string };

/**
 * Picks the machine a report belongs to from the store's candidates (machines sharing a MAC,
 * the UUID or the serial). A MAC in common is decisive (the report came in over that NIC); else a
 * non-placeholder UUID with a non-placeholder serial, both equal, identifies a machine — unless
 * that pair is on more than one machine already, which is then reported, never merged.
 */
export function identify(report: IdentityReport, candidates: Machine[]): IdentityMatch {
  const macs = new Set(report.macs.map((m) => m.toLowerCase()));
  const byMac = candidates.filter((c) => c.macs.some((m) => macs.has(m)));
  if (byMac.length === 1) return { kind: 'match', machine: byMac[0], by: 'mac' };
  if (byMac.length > 1) return { kind: 'ambiguous', machines: byMac, why: 'the reported NICs belong to several machines' };
  if (isPlaceholderUuid(report.uuid) || isPlaceholderSerial(report.serial)) return { kind: 'none' };
  const uuid = report.uuid!.toLowerCase();
  const byPair = candidates.filter((c) => c.smbiosUuid?.toLowerCase() === uuid && c.serial === report.serial);
  if (byPair.length === 1) return { kind: 'match', machine: byPair[0], by: 'uuid+serial' };
  if (byPair.length > 1) return { kind: 'ambiguous', machines: byPair, why: 'several machines share this UUID and serial' };
  return { kind: 'none' };
}
