// Starts what serves the zones: DHCP (per zone mode) and TFTP on each zone interface, answering
// with that interface's own address. Nothing listens on a host interface unless a zone names it;
// a named interface that does not exist or has no IPv4 address stops the start with a clear error.
import type { Logger } from 'pino';
import type { Store } from '../store/store.ts';
import type { TetherConfig } from '../config/schema.ts';
import { tftpRoot } from '../config/paths.ts';
import { interfaceIPv4 } from '../../pxe/netif/index.ts';
import { createTftpServer, type TftpServer } from '../../pxe/tftp/server.ts';
import { rootSource } from '../../pxe/tftp/root.ts';
import { createDhcpServer } from '../../pxe/dhcp/server.ts';
import { createBooter } from './booter.ts';
import { createBootObserver } from './observer.ts';

export interface BootServices { close(): Promise<void>; tftp?: TftpServer }

export class ZoneSetupError extends Error {
  constructor(message: string) { super(message); this.name = 'ZoneSetupError'; }
}

/** Each zone interface with its IPv4 address, or a ZoneSetupError naming what is missing. */
export function zoneInterfaces(config: TetherConfig, lookup = interfaceIPv4): Array<{ zone: string; ifname: string; address: string }> {
  const out: Array<{ zone: string; ifname: string; address: string }> = [];
  for (const z of config.zones) {
    for (const ifname of z.interfaces) {
      const a = lookup(ifname);
      if (!a) throw new ZoneSetupError(`zone ${z.name}: interface ${ifname} does not exist or has no IPv4 address; Tether answers each zone from its interface's own address`);
      out.push({ zone: z.name, ifname, address: a.address });
    }
  }
  return out;
}

export async function startBootServices(o: { config: TetherConfig; store: Store; log: Logger; httpPort: number }): Promise<BootServices> {
  const { config, store, log } = o;
  if (config.zones.length === 0) return { close: async () => {} };
  const ifaces = zoneInterfaces(config);
  const observer = createBootObserver(store, config.racks);
  const closers: Array<() => Promise<void>> = [];
  // The packet servers log through a (level, msg, fields) callback; this routes it to pino.
  const logFor = (svc: string) => (level: string, msg: string, fields?: Record<string, unknown>): void => {
    const method = level === 'error' || level === 'warn' || level === 'debug' ? level : 'info';
    log[method]({ svc, ...fields }, msg);
  };

  let tftp: TftpServer | undefined;
  const tftpAddrs = ifaces.filter((i) => config.zones.find((z) => z.name === i.zone)!.tftp).map((i) => ({ address: i.address, port: 69 }));
  try {
    if (tftpAddrs.length) {
      tftp = createTftpServer({
        listen: tftpAddrs,
        source: rootSource(tftpRoot(config)),
        log: logFor('tftp'),
        onTransfer: (e) => {
          try { observer.tftpTransfer({ clientIp: e.client.address, file: e.file, bytes: e.bytes, result: e.result, ms: e.ms }); } catch (err) { log.warn({ err }, 'tftp observer failed'); }
        },
      });
      const bound = await tftp.listen();
      closers.push(() => tftp!.close());
      log.info({ svc: 'tftp', listen: bound, root: tftpRoot(config) }, 'TFTP serving');
    }

    const dhcpZones = config.zones.filter((z) => z.dhcp.mode !== 'off' && z.interfaces.length > 0);
    if (dhcpZones.length) {
      const dhcp = createDhcpServer({
        zones: dhcpZones.map((z) => ({ name: z.name, mode: z.dhcp.mode as 'proxy' | 'full', interfaces: z.interfaces, pools: z.dhcp.pools, relays: z.dhcp.relays })),
        booter: createBooter(config, o.httpPort),
        leases: store,
        observer: {
          onClient: (ev) => observer.dhcpClient({ mac: ev.mac, zone: ev.zone, kind: ev.kind, arch: ev.arch?.name, ifname: ev.ifname, relay: ev.relay }),
        },
        log: logFor('dhcp'),
      });
      await dhcp.start();
      closers.push(() => dhcp.close());
      log.info({ svc: 'dhcp', zones: dhcpZones.map((z) => `${z.name}:${z.dhcp.mode}`) }, 'DHCP serving');
    }
  } catch (e) {
    for (const c of closers.reverse()) await c().catch(() => {});
    throw e;
  }
  return { tftp, close: async () => { for (const c of closers.reverse()) await c(); } };
}
