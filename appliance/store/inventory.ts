// Inventory documents and the identity they carry (SMBIOS UUID, serial, NIC MACs), written with the
// store's connection. One transaction per report: the document, the machine's identity columns and
// its MAC set change together or not at all.
import type { Inventory } from '../../agent/protocol.ts';
import { normalizeMac, type Machine, type Store } from './store.ts';

export interface InventoryIdentity {
  uuid: string | null;
  serial: string | null;
  nics: Array<{ mac: string; ifname: string | null }>;
}

export interface SavedInventory {
  machine: Machine;
  /** MACs newly attached to this machine. */
  added: string[];
  /** Reported MACs that already belong to another machine: left there, never merged. */
  foreign: Array<{ mac: string; machineId: string }>;
}

/**
 * Stores `doc` as the machine's inventory (replacing an earlier one), sets its SMBIOS UUID and
 * serial, and attaches the reported NICs' MACs that no other machine owns. Inside a caller's
 * transaction this nests (a savepoint), so a caller can add its transition atomically.
 */
export function saveInventory(store: Store, machineId: string, doc: Inventory, identity: InventoryIdentity, at: number = Date.now()): SavedInventory {
  const { db } = store;
  return db.transaction(() => {
    const r = db.prepare('UPDATE machines SET smbios_uuid = ?, serial = ?, inventoried_at = ?, updated_at = ? WHERE id = ?')
      .run(identity.uuid, identity.serial, at, at, machineId);
    if (r.changes === 0) throw new Error(`machine ${machineId} does not exist`);
    db.prepare(`INSERT INTO inventory (machine_id, doc, reported_at) VALUES (?, ?, ?)
      ON CONFLICT (machine_id) DO UPDATE SET doc = excluded.doc, reported_at = excluded.reported_at`).run(machineId, JSON.stringify(doc), at);
    const owner = db.prepare('SELECT machine_id FROM machine_macs WHERE mac = ?');
    const insert = db.prepare('INSERT INTO machine_macs (mac, machine_id, ifname) VALUES (?, ?, ?)');
    const rename = db.prepare('UPDATE machine_macs SET ifname = ? WHERE mac = ? AND machine_id = ?');
    const added: string[] = [];
    const foreign: SavedInventory['foreign'] = [];
    for (const nic of identity.nics) {
      const mac = normalizeMac(nic.mac);
      const o = owner.get(mac) as { machine_id: string } | undefined;
      if (!o) { insert.run(mac, machineId, nic.ifname); added.push(mac); }
      else if (o.machine_id === machineId) rename.run(nic.ifname, mac, machineId);
      else foreign.push({ mac, machineId: o.machine_id });
    }
    return { machine: store.mustGetMachine(machineId), added, foreign };
  })();
}

export function getInventory(store: Store, machineId: string): { doc: Inventory; reportedAt: number } | undefined {
  const r = store.db.prepare('SELECT doc, reported_at FROM inventory WHERE machine_id = ?').get(machineId) as { doc: string; reported_at: number } | undefined;
  return r && { doc: JSON.parse(r.doc) as Inventory, reportedAt: r.reported_at };
}
