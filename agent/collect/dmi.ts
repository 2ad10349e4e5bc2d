// DMI identity from the kernel's /sys/class/dmi/id (the SMBIOS type 0-3 strings, decoded by the
// kernel, no tool needed). The serial and UUID files are root-only; the agent runs as root.
import type { Absent, DmiBoard, DmiChassis, DmiSystem } from '../protocol.ts';
import type { Host } from '../host.ts';
import { absent, reasonOf, textFact } from './facts.ts';

export const DMI_ID_DIR = '/sys/class/dmi/id';
export const DMI_ID_FIELDS = [
  'sys_vendor', 'product_name', 'product_version', 'product_serial', 'product_uuid',
  'board_vendor', 'board_name', 'board_version', 'board_serial',
  'chassis_vendor', 'chassis_type', 'chassis_serial', 'chassis_asset_tag',
  'bios_vendor', 'bios_version', 'bios_date',
] as const;
export type DmiIdField = (typeof DMI_ID_FIELDS)[number];

/** File contents by field, or why the field could not be read. */
export type DmiId = Record<DmiIdField, string | Absent>;

// SMBIOS 3.x §7.4.1, chassis types (the low 7 bits; bit 7 is the lock flag).
const CHASSIS_TYPES = [
  '', 'Other', 'Unknown', 'Desktop', 'Low Profile Desktop', 'Pizza Box', 'Mini Tower', 'Tower', 'Portable', 'Laptop',
  'Notebook', 'Hand Held', 'Docking Station', 'All in One', 'Sub Notebook', 'Space-saving', 'Lunch Box', 'Main Server Chassis',
  'Expansion Chassis', 'SubChassis', 'Bus Expansion Chassis', 'Peripheral Chassis', 'RAID Chassis', 'Rack Mount Chassis',
  'Sealed-case PC', 'Multi-system chassis', 'Compact PCI', 'Advanced TCA', 'Blade', 'Blade Enclosure', 'Tablet', 'Convertible',
  'Detachable', 'IoT Gateway', 'Embedded PC', 'Mini PC', 'Stick PC',
];

export async function readDmiId(host: Host): Promise<DmiId> {
  const id = {} as DmiId;
  if (!(await host.exists(DMI_ID_DIR))) {
    for (const f of DMI_ID_FIELDS) id[f] = absent(`no SMBIOS tables (${DMI_ID_DIR} is missing)`);
    return id;
  }
  await Promise.all(DMI_ID_FIELDS.map(async (f) => {
    try {
      id[f] = await host.readText(`${DMI_ID_DIR}/${f}`);
    } catch (e) {
      // The kernel creates no file for a string the tables do not contain.
      id[f] = absent(/no such file/.test(reasonOf(e)) ? 'the firmware does not provide it' : reasonOf(e));
    }
  }));
  return id;
}

function field(id: DmiId, f: DmiIdField) {
  const v = id[f];
  return typeof v === 'string' ? textFact(v, 'the firmware leaves it empty') : v;
}

export function chassisTypeName(raw: string): string | null {
  const n = Number(raw.trim());
  if (!Number.isInteger(n)) return null;
  return CHASSIS_TYPES[n & 0x7f] || null;
}

export function dmiFromId(id: DmiId): { system: DmiSystem; board: DmiBoard; chassis: DmiChassis; bios: { vendor: DmiSystem['vendor']; version: DmiSystem['vendor']; date: DmiSystem['vendor'] } } {
  const type = id.chassis_type;
  const uuid = field(id, 'product_uuid');
  return {
    system: {
      vendor: field(id, 'sys_vendor'), product: field(id, 'product_name'), version: field(id, 'product_version'),
      serial: field(id, 'product_serial'), uuid: typeof uuid === 'string' ? uuid.toLowerCase() : uuid,
    },
    board: { vendor: field(id, 'board_vendor'), product: field(id, 'board_name'), version: field(id, 'board_version'), serial: field(id, 'board_serial') },
    chassis: {
      vendor: field(id, 'chassis_vendor'),
      type: typeof type === 'string' ? (chassisTypeName(type) ?? absent(`unknown chassis type ${JSON.stringify(type.trim().slice(0, 8))}`)) : type,
      serial: field(id, 'chassis_serial'),
      assetTag: field(id, 'chassis_asset_tag'),
    },
    bios: { vendor: field(id, 'bios_vendor'), version: field(id, 'bios_version'), date: field(id, 'bios_date') },
  };
}
