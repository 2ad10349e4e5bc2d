// NICs from /sys/class/net: only interfaces backed by a device (virtual ones — lo, bridges, veths —
// have no `device` link) with an Ethernet address. Speed and carrier are readable only while the
// interface is up; the discovery OS's /init brings every NIC up for that (and for LLDP).
import { macPattern, type Fact, type LldpNeighbour, type Nic } from '../protocol.ts';
import type { Host } from '../host.ts';
import { absent, reasonOf, textFact } from './facts.ts';

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

export const LLDP_NOT_COLLECTED = absent('LLDP neighbours are not collected yet: the discovery image has no LLDP listener');

/** A protocol NIC from sysfs reads; null for interfaces that are not Ethernet hardware. */
export function nicFrom(s: NicSysfs, ethtool: Record<string, string> | Error, lldp: Fact<LldpNeighbour> = LLDP_NOT_COLLECTED): Nic | null {
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

export async function collectNics(host: Host): Promise<Fact<Nic[]>> {
  const names = (await host.list(NET)).sort();
  const nics = await Promise.all(names.map(async (name) => {
    const s = await readNicSysfs(host, name);
    if (!s.device) return null;
    const ethtool = await host.run('ethtool', ['-i', name]).then(parseEthtoolInfo, (e: unknown) => new Error(reasonOf(e)));
    return nicFrom(s, ethtool);
  }));
  return nics.filter((n): n is Nic => n !== null);
}
