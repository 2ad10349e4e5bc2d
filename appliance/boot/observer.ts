// What the boot observers (DHCP, TFTP, HTTP) saw, written to the store: a machine first seen is
// created `discovered` in the zone it booted in, relay information becomes its location, and each
// step lands on its boot timeline (dhcp → tftp → script → kernel → initrd). Observers run inside
// packet loops: they never throw (the caller logs) and write little.
import { readFileSync } from 'node:fs';
import type { Store } from '../store/store.ts';
import { discover } from '../lifecycle/lifecycle.ts';
import type { RackEntry } from '../config/schema.ts';
import { rackFor } from './placement.ts';

export interface BootClientSeen {
  mac: string;
  zone: string;
  kind: string;
  arch?: string;
  msgType?: string;
  ifname?: string;
  relay?: { giaddr: string; circuitId?: string; remoteId?: string };
}

const DEDUP_MS = 30_000;

export function createBootObserver(store: Store, racks: readonly RackEntry[] = [], now: () => number = Date.now) {
  // A client retransmits DISCOVERs every few seconds: one timeline entry per step per half minute.
  const recent = new Map<string, number>();
  const fresh = (key: string): boolean => {
    const t = now();
    const last = recent.get(key);
    if (last !== undefined && t - last < DEDUP_MS) return false;
    recent.set(key, t);
    if (recent.size > 50_000) for (const [k, v] of recent) if (t - v >= DEDUP_MS) recent.delete(k);
    return true;
  };

  return {
    /** A network-boot client asked DHCP (DISCOVER/REQUEST). */
    dhcpClient(ev: BootClientSeen): void {
      let m = store.getMachine(ev.mac);
      if (!m) m = discover(store, { mac: ev.mac, zone: ev.zone, actor: 'dhcp', reason: `first seen by DHCP in ${ev.zone}` }).machine;
      const location = ev.relay ? { source: 'dhcp-option-82', giaddr: ev.relay.giaddr, circuitId: ev.relay.circuitId ?? null, remoteId: ev.relay.remoteId ?? null } : undefined;
      // option 82: remote-id names the switch, circuit-id the port (RFC 3046 §3.1/3.2)
      const rack = ev.relay ? rackFor(racks, { switch: ev.relay.remoteId, port: ev.relay.circuitId }) : null;
      if (m.zone !== ev.zone || (location && JSON.stringify(m.location) !== JSON.stringify(location)) || (rack && rack !== m.rack)) {
        store.updateMachine(m.id, { zone: ev.zone, ...(location ? { location } : {}), ...(rack ? { rack } : {}) });
      }
      if (fresh(`dhcp|${ev.mac}|${ev.kind}`)) {
        store.appendEvent({ machineId: m.id, kind: 'boot', actor: 'dhcp', reason: `dhcp: ${ev.kind} client${ev.arch ? ` (${ev.arch})` : ''}`, data: { step: 'dhcp', ...ev } });
      }
    },

    /** A TFTP transfer finished; the client is known by IP, its MAC comes from the neighbour table. */
    tftpTransfer(ev: { clientIp: string; file: string; bytes: number; result: string; ms: number }, macForIp: (ip: string) => string | undefined = arpMac): void {
      const mac = macForIp(ev.clientIp);
      const m = mac ? store.getMachine(mac) : undefined;
      if (!m || !fresh(`tftp|${m.id}|${ev.file}|${ev.result}`)) return;
      store.appendEvent({ machineId: m.id, kind: 'boot', actor: 'tftp', reason: `tftp: ${ev.file} ${ev.result}`, data: { step: 'tftp', ...ev } });
    },
  };
}

/** The MAC of an on-link neighbour from the kernel's ARP table (it just talked to us). */
export function arpMac(ip: string, table = '/proc/net/arp'): string | undefined {
  let text: string;
  try { text = readFileSync(table, 'utf8'); } catch { return undefined; }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[0] === ip && f[3] && f[3] !== '00:00:00:00:00:00') return f[3].toLowerCase();
  }
  return undefined;
}
