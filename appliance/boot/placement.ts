// Placement: the rack a machine sits in, from the switch port it is cabled to — seen either by the
// DHCP relay (option 82: remote-id = the switch, circuit-id = the port) or by the agent (the LLDP
// neighbour of a NIC) — looked up in the site table (tether.yaml `racks`). A port-specific entry
// wins over a whole-switch (top-of-rack) entry.
import type { RackEntry } from '../config/schema.ts';
import { factValue, type Inventory } from '../../agent/protocol.ts';

export interface SwitchPort { switch: string | null | undefined; port: string | null | undefined }

export function rackFor(table: readonly RackEntry[], seen: SwitchPort): string | null {
  if (!seen.switch) return null;
  const sw = table.filter((e) => e.switch === seen.switch);
  const exact = seen.port ? sw.find((e) => e.ports.includes(seen.port!)) : undefined;
  return (exact ?? sw.find((e) => e.ports.length === 0))?.rack ?? null;
}

/** Places a machine by the LLDP neighbours its agent reported (the first NIC whose switch is known). */
export function rackFromLldp(table: readonly RackEntry[], inv: Inventory): string | null {
  const nics = factValue(inv.nics) ?? [];
  for (const nic of nics) {
    const n = factValue(nic.lldp);
    if (!n) continue;
    const port = factValue(n.portId);
    for (const sw of [factValue(n.systemName), factValue(n.chassisId)]) {
      const rack = rackFor(table, { switch: sw, port });
      if (rack) return rack;
    }
  }
  return null;
}
