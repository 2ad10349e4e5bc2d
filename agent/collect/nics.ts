// NICs from /sys/class/net: only interfaces backed by a device (virtual ones — lo, bridges, veths —
// have no `device` link) with an Ethernet address. Speed and carrier are readable only while the
// interface is up; the discovery OS's /init brings every NIC up for that (and for LLDP).
//
// LLDP neighbours come from the listener /init starts once the links are up (lldp-capture.ts): one
// pcap file per NIC in /run/lldp. A NIC with link whose file has no frame yet is waited for — until
// it has been listened on for LLDP_LISTEN_S (switches send at link-up and then every 30 s; lldpd's
// default too), and never longer than `maxWaitMs` in all — then it is absent, with the reason. A NIC
// with link but no capture file yet (the listener is still starting) is waited for the same way.
import { LIMITS, macPattern, type Fact, type LldpNeighbour, type Nic } from '../protocol.ts';
import type { Host } from '../host.ts';
import { absent, reasonOf, textFact } from './facts.ts';
import { neighbourFromPcap, NO_FRAME_YET, type LldpId, type LldpNeighbourFrame } from './lldp.ts';

const NET = '/sys/class/net';
const ARPHRD_ETHER = '1';
const PCI_ADDRESS = /^[0-9a-f]{4}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/;
const MAC = new RegExp(macPattern);

/** Raw sysfs reads of one interface; an Error stands for a read that failed (and why). */
export interface NicSysfs {
  name: string;
  type: string;
  address: string;
  carrier: string | Error;
  speed: string | Error;
  /** realpath of <if>/device, null for virtual interfaces. */
  device: string | null;
  /** realpath of <if>/device/driver. */
  driver: string | Error;
}

/** The PCI function behind a NIC: the device itself, or the PCI parent of a virtio device. */
export function pciAddressOf(devicePath: string): string | null {
  const parts = devicePath.split('/');
  const last = parts.at(-1) ?? '';
  if (PCI_ADDRESS.test(last)) return last;
  const parent = parts.at(-2) ?? '';
  return /^virtio\d+$/.test(last) && PCI_ADDRESS.test(parent) ? parent : null;
}

/** `ethtool -i <if>`: "key: value" lines. */
export function parseEthtoolInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export const LLDP_DIR = '/run/lldp';
/** How long a NIC with link is listened on before "no LLDP neighbour" is the answer. */
export const LLDP_LISTEN_S = 10;
export const LLDP_NOT_LISTENING = absent(`no LLDP listener ran on this machine (${LLDP_DIR} is missing)`);

export interface LldpWaitOptions {
  /** Where the listener writes (default LLDP_DIR). */
  dir?: string;
  /** The most the collector waits for frames in all (default LLDP_LISTEN_S). */
  maxWaitMs?: number;
  pollMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** A clock in ms for the wait (default performance.now). */
  clock?: () => number;
}

const idFact = (id: LldpId): Fact<string> => textFact(id.value, 'empty ID');

/** The protocol's neighbour facts from a decoded frame. */
export function lldpFact(f: LldpNeighbourFrame): Fact<LldpNeighbour> {
  if (f.ttl === 0) return absent('the neighbour announced it is going away (LLDP TTL 0)');
  return {
    chassisId: idFact(f.chassisId),
    portId: idFact(f.portId),
    systemName: textFact(f.systemName, 'the switch sends no system name', LIMITS.text),
  };
}

/** A protocol NIC from sysfs reads; null for interfaces that are not Ethernet hardware. */
export function nicFrom(s: NicSysfs, ethtool: Record<string, string> | Error, lldp: Fact<LldpNeighbour> = LLDP_NOT_LISTENING): Nic | null {
  const mac = s.address.trim().toLowerCase();
  if (!s.device || s.type.trim() !== ARPHRD_ETHER || !MAC.test(mac)) return null;
  const speed = typeof s.speed === 'string' ? Number(s.speed.trim()) : NaN;
  const carrier = typeof s.carrier === 'string' ? s.carrier.trim() : null;
  return {
    name: s.name,
    mac,
    driver: typeof s.driver === 'string' ? textFact(s.driver.split('/').at(-1), 'no driver bound', 64) : absent(`no driver bound (${s.driver.message})`),
    pci: pciAddressOf(s.device) ?? absent('not a PCI device'),
    speedMbps: Number.isInteger(speed) && speed > 0 ? speed
      : absent(carrier === '1' ? 'the driver does not report a speed' : 'no link, so no speed'),
    link: carrier === '1' ? 'up' : carrier === '0' ? 'down' : absent('the interface is down, so the kernel does not report its link'),
    firmware: ethtool instanceof Error ? absent(ethtool.message) : textFact(ethtool['firmware-version'], 'the driver reports no firmware version'),
    lldp,
  };
}

export async function readNicSysfs(host: Host, name: string): Promise<NicSysfs> {
  const dir = `${NET}/${name}`;
  const read = (p: string) => host.readText(`${dir}/${p}`).catch((e: unknown) => new Error(reasonOf(e)));
  const [type, address, carrier, speed, device, driver] = await Promise.all([
    read('type'), read('address'), read('carrier'), read('speed'),
    host.realpath(`${dir}/device`).catch(() => null),
    host.realpath(`${dir}/device/driver`).catch((e: unknown) => new Error(reasonOf(e))),
  ]);
  return { name, type: typeof type === 'string' ? type : '', address: typeof address === 'string' ? address : '', carrier, speed, device, driver };
}

async function uptimeS(host: Host): Promise<number | null> {
  const v = Number((await host.readText('/proc/uptime').catch(() => '')).split(' ')[0]);
  return Number.isFinite(v) && v > 0 ? v : null;
}

/**
 * The LLDP neighbour of each named NIC. Waits (bounded) for NICs with link whose capture has no
 * frame yet; a NIC without link, or one whose capture says why it has no neighbour, is not waited for.
 */
export async function collectLldp(host: Host, nics: ReadonlyArray<{ name: string; link: Nic['link'] }>, o: LldpWaitOptions = {}): Promise<Map<string, Fact<LldpNeighbour>>> {
  const out = new Map<string, Fact<LldpNeighbour>>();
  const dir = o.dir ?? LLDP_DIR;
  if (!(await host.exists(dir))) {
    for (const n of nics) out.set(n.name, dir === LLDP_DIR ? LLDP_NOT_LISTENING : absent(`no LLDP listener ran on this machine (${dir} is missing)`));
    return out;
  }
  const { maxWaitMs = LLDP_LISTEN_S * 1000, pollMs = 500 } = o;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const clock = o.clock ?? (() => performance.now());
  const t0 = clock();
  let pending = [...nics];
  for (;;) {
    const up = await uptimeS(host);
    const waiting: typeof pending = [];
    await Promise.all(pending.map(async (n) => {
      const bytes = await host.readBytes(`${dir}/${n.name}.pcap`).catch((e: unknown) => new Error(reasonOf(e)));
      if (bytes instanceof Error) {
        // The listener may still be starting (it opens each NIC's socket, then creates the file).
        out.set(n.name, absent(`not listened on for LLDP (${bytes.message})`));
        if (n.link === 'up') waiting.push(n);
        return;
      }
      const got = neighbourFromPcap(bytes);
      if (got.ok) { out.set(n.name, lldpFact(got.frame)); return; }
      if (got.why !== NO_FRAME_YET) { out.set(n.name, absent(got.why)); return; }
      if (n.link !== 'up') { out.set(n.name, absent('no link, so no LLDP neighbour')); return; }
      const since = Number((await host.readText(`${dir}/${n.name}.since`).catch(() => '')).trim());
      const listened = up !== null && Number.isFinite(since) && since > 0 ? up - since : null;
      out.set(n.name, absent(`no LLDP frame in ${listened === null ? `${((clock() - t0) / 1000).toFixed(0)} s of waiting` : `${Math.max(0, listened).toFixed(0)} s of listening`}`));
      if (listened === null || listened < LLDP_LISTEN_S) waiting.push(n);
    }));
    pending = waiting;
    if (!pending.length || clock() - t0 >= maxWaitMs) return out;
    await sleep(pollMs);
  }
}

export async function collectNics(host: Host, o: LldpWaitOptions = {}): Promise<Fact<Nic[]>> {
  const names = (await host.list(NET)).sort();
  const nics = (await Promise.all(names.map(async (name) => {
    const s = await readNicSysfs(host, name);
    if (!s.device) return null;
    const ethtool = await host.run('ethtool', ['-i', name]).then(parseEthtoolInfo, (e: unknown) => new Error(reasonOf(e)));
    return nicFrom(s, ethtool);
  }))).filter((n): n is Nic => n !== null);
  const lldp = await collectLldp(host, nics, o);
  return nics.map((n) => ({ ...n, lldp: lldp.get(n.name) ?? n.lldp }));
}
