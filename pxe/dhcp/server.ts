// Tether's DHCP server: proxyDHCP or full DHCP per zone, on each zone interface through a socket
// bound to that device (pxe/netif), so a request is answered on the interface it came in on, with
// that interface's address as server id and next-server, and the reply leaves by that interface.
//
// The loop is thin (pixiecore / smee): receive → decode → route to a zone → ask the booter →
// build the reply from modifiers → replyDestination → send on the receiving socket. It never
// throws: a bad datagram, a failing booter or observer, a full pool or a store error is logged with
// its context, counted in stats(), and the loop goes on. Needs root, or CAP_NET_BIND_SERVICE (67,
// 4011) and CAP_NET_RAW (SO_BINDTODEVICE before Linux 5.7).
import type dgram from 'node:dgram';
import type { RemoteInfo } from 'node:dgram';
import { ZERO_IP } from '../net/ipv4.ts';
import { bindToInterface, interfaceIPv4 } from '../netif/index.ts';
import { archFor, clientArch, clientKind, type Arch } from './arch.ts';
import { askBooter, relayText, type BootKind, type Booter, type BootOptions, type RelayInfo } from './boot.ts';
import { drop, refusalLevel, type Answer, type DropReason, type Exchange, type LogLevel, type Verdict } from './exchange.ts';
import { answerFull } from './full.ts';
import { getOption } from './options/codec.ts';
import { MessageType, MSG } from './options/basic.ts';
import { CircuitId, RelayAgentInfo, RemoteId } from './options/relay.ts';
import { decodePacket, hwAddr, OP, type Packet } from './packet.ts';
import { createLeases, type AddressPool, type LeaseStore, type PoolConfig, type ZoneLeases } from './pool.ts';
import { answerProxy } from './proxy.ts';
import { encodeReply, PXE_PORT, replyDestination, SERVER_PORT } from './reply.ts';

export type DhcpZone = {
  readonly name: string;
  readonly mode: 'proxy' | 'full';
  readonly interfaces: readonly string[];
  /** full mode only. */
  readonly pools: readonly PoolConfig[];
  /** Relay agents (giaddr) allowed to forward requests for this zone; empty = any relay. */
  readonly relays: readonly string[];
};

export type DhcpLog = (level: LogLevel, msg: string, fields: Record<string, unknown>) => void;

/** A network-boot client seen by DHCP: the appliance makes the machine `discovered` and records
 *  where it sits (zone, interface, relay circuit = switch port). */
export type ClientSeen = {
  readonly mac: string;
  readonly zone: string;
  readonly ifname: string;
  readonly arch: Arch;
  readonly kind: BootKind;
  readonly msgType: 'discover' | 'request';
  readonly relay?: RelayInfo;
};

export type DhcpObserver = { onClient(client: ClientSeen): void | Promise<void> };

export type DhcpServerOptions = {
  readonly zones: readonly DhcpZone[];
  readonly booter: Booter;
  readonly leases: LeaseStore;
  readonly observer?: DhcpObserver;
  readonly log: DhcpLog;
  /** ms since the epoch; injectable for tests. */
  readonly now?: () => number;
  /** A socket bound to one interface (default: pxe/netif's SO_BINDTODEVICE sockets). */
  readonly bind?: (ifname: string, port: number) => Promise<dgram.Socket>;
  /** The interface's IPv4 address (default: pxe/netif's interfaceIPv4). */
  readonly interfaceAddress?: (ifname: string) => string | undefined;
};

export type DhcpStats = {
  received: number;
  offers: number;
  acks: number;
  naks: number;
  releases: number;
  declines: number;
  drops: Partial<Record<DropReason, number>>;
};

export type DhcpServer = {
  /** Binds every zone interface; rejects (and unbinds what it bound) when one fails. */
  start(): Promise<void>;
  close(): Promise<void>;
  stats(): DhcpStats;
};

/** A boot storm is hundreds of DISCOVERs at once: room for them in the kernel's queue. */
const RECV_BUFFER = 4 << 20;

type Zone = { readonly config: DhcpZone; readonly leases?: ZoneLeases };
/** One zone interface: its sockets answer with its address. */
type Link = { readonly ifname: string; readonly address: string; readonly zone: Zone; readonly pool?: AddressPool };
type Routed = { readonly zone: Zone; readonly pool?: AddressPool; readonly relay?: RelayInfo };

export function createDhcpServer(o: DhcpServerOptions): DhcpServer {
  const now = o.now ?? Date.now;
  const bind = o.bind ?? ((ifname: string, port: number) => bindToInterface(ifname, port, { recvBufferSize: RECV_BUFFER }));
  const addressOf = o.interfaceAddress ?? ((ifname: string) => interfaceIPv4(ifname)?.address);
  const sockets: dgram.Socket[] = [];
  const zones: Zone[] = [];
  const counters: DhcpStats = { received: 0, offers: 0, acks: 0, naks: 0, releases: 0, declines: 0, drops: {} };
  let closed = false;

  const log = (level: LogLevel, msg: string, fields: Record<string, unknown>): void => {
    try {
      o.log(level, msg, fields);
    } catch {
      // A broken logger must not take the packet loop down with it.
    }
  };

  function links(): Link[] {
    const seen = new Map<string, string>();
    const out: Link[] = [];
    for (const config of o.zones) {
      for (const ifname of config.interfaces) {
        const other = seen.get(ifname);
        if (other !== undefined) throw new Error(`dhcp: interface ${ifname} is in zones ${other} and ${config.name}; an interface serves one zone`);
        seen.set(ifname, config.name);
      }
      const addresses = config.interfaces.map((ifname) => {
        const address = addressOf(ifname);
        if (address === undefined) throw new Error(`dhcp: interface ${ifname} of zone ${config.name} has no IPv4 address (or does not exist)`);
        return address;
      });
      if (config.mode === 'full' && config.pools.length === 0) throw new Error(`dhcp: zone ${config.name} is in full mode but has no pools`);
      const leases = config.mode === 'full' ? createLeases({ zone: config.name, pools: config.pools, store: o.leases, now, exclude: addresses, log }) : undefined;
      const zone: Zone = { config, leases };
      zones.push(zone);
      config.interfaces.forEach((ifname, i) => {
        const address = addresses[i];
        let pool = leases?.poolFor(address);
        if (leases && !pool) {
          pool = leases.pools[0];
          log('warn', 'dhcp interface address is in no pool of its zone; its clients get the first pool', { zone: config.name, ifname, address, pool: pool.subnet });
        }
        out.push({ ifname, address, zone, pool });
      });
    }
    return out;
  }

  /** Which zone and pool a request belongs to (DESIGN.md: relays by giaddr, else the interface). */
  function route(link: Link, p: Packet): Routed | Verdict {
    if (p.giaddr !== ZERO_IP) {
      const sub = getOption(p.options, RelayAgentInfo);
      const relay: RelayInfo = {
        giaddr: p.giaddr,
        ...(sub && sub.has(CircuitId.code) ? { circuitId: relayText(sub.get(CircuitId.code)) } : {}),
        ...(sub && sub.has(RemoteId.code) ? { remoteId: relayText(sub.get(RemoteId.code)) } : {}),
      };
      const zone =
        zones.find((z) => z.config.relays.includes(p.giaddr)) ?? zones.find((z) => z.leases?.poolFor(p.giaddr)) ?? link.zone;
      if (zone.config.relays.length > 0 && !zone.config.relays.includes(p.giaddr)) {
        return drop('relay-not-allowed', 'warn', `relay ${p.giaddr} is not among zone ${zone.config.name}'s relays`);
      }
      return { zone, relay, pool: zone.leases?.poolFor(p.giaddr) };
    }
    // A renewing client unicasts from its address, which names its pool even when its request
    // reaches us over another interface (a relayed subnet's clients renew directly).
    if (p.ciaddr !== ZERO_IP) {
      for (const zone of [link.zone, ...zones.filter((z) => z !== link.zone)]) {
        const pool = zone.leases?.poolFor(p.ciaddr);
        if (pool) return { zone, pool };
      }
    }
    return { zone: link.zone, pool: link.pool };
  }

  function observe(client: ClientSeen): void {
    if (!o.observer) return;
    const failed = (e: unknown): void => log('error', 'dhcp observer failed', { mac: client.mac, zone: client.zone, error: (e as Error)?.message ?? String(e) });
    try {
      const done = o.observer.onClient(client);
      if (done && typeof done.then === 'function') done.then(undefined, failed);
    } catch (e) {
      failed(e);
    }
  }

  type Decided = { verdict: Verdict; request?: Packet; about: Record<string, unknown> };

  async function decide(link: Link, localPort: number, datagram: Uint8Array, about: Record<string, unknown>): Promise<Decided> {
    const decoded = decodePacket(datagram);
    if (!decoded.ok) {
      const { code, message, offset } = decoded.error;
      return { verdict: drop('undecodable', 'warn', `${code}: ${message}`), about: { ...about, bytes: datagram.length, offset } };
    }
    const p = decoded.packet;
    if (p.op !== OP.Request) return { verdict: drop('not-a-request', 'debug'), about };
    if (p.hlen === 0 || p.hlen > 16) return { verdict: drop('bad-hardware-address', 'debug', `hlen ${p.hlen}`), about };
    const mac = hwAddr(p);
    about = { ...about, mac, xid: p.xid.toString(16).padStart(8, '0') };
    const msgType = getOption(p.options, MessageType);
    if (msgType === undefined) return { verdict: drop('bootp', 'debug', 'no option 53: plain BOOTP is not served'), about };
    const routed = route(link, p);
    if (!('zone' in routed)) return { verdict: routed, about: { ...about, giaddr: p.giaddr } };
    const { zone, pool, relay } = routed;
    const kind = clientKind(p);
    // Boot clients always say their arch (93, or 60's Arch:); one that does not is most likely BIOS.
    const arch = clientArch(p) ?? archFor(0);
    about = { ...about, zone: zone.config.name, type: msgName(msgType), kind, ...(kind === 'plain' ? {} : { arch: arch.code }), ...(relay ? { relay } : {}) };
    if (kind !== 'plain' && (msgType === MSG.Discover || msgType === MSG.Request)) {
      observe({ mac, zone: zone.config.name, ifname: link.ifname, arch, kind, msgType: msgType === MSG.Discover ? 'discover' : 'request', ...(relay ? { relay } : {}) });
    }
    let booted: Promise<BootOptions> | undefined;
    const x: Exchange = {
      request: p,
      msgType,
      mac,
      kind,
      arch,
      zone: zone.config.name,
      serverIp: link.address,
      localPort,
      boot: () => {
        if (kind === 'plain') throw new Error('dhcp: boot options asked for a plain client');
        booted ??= askBooter(o.booter, { mac, zone: zone.config.name, arch, kind, serverIp: link.address, ...(relay ? { relay } : {}) }, zone.config.mode);
        return booted;
      },
    };
    const verdict = zone.leases ? await answerFull(x, zone.leases, pool) : await answerProxy(x);
    return { verdict, request: p, about };
  }

  function count(reason: DropReason, level: LogLevel, about: Record<string, unknown>, detail?: string): void {
    counters.drops[reason] = (counters.drops[reason] ?? 0) + 1;
    log(level, `dhcp drop: ${reason}`, { ...about, reason, ...(detail === undefined ? {} : { detail }) });
  }

  function send(socket: dgram.Socket, link: Link, localPort: number, from: RemoteInfo, request: Packet, v: Answer, about: Record<string, unknown>): void {
    const bytes = encodeReply(v.reply, request);
    if (!bytes) return count('reply-too-large', 'warn', about, 'the reply does not fit the client\'s maximum message size');
    const type = getOption(v.reply.options, MessageType);
    const to = replyDestination({ ...v.reply, msgType: type, srcAddr: from.address, srcPort: from.port, localPort });
    if (type === MSG.Offer) counters.offers++;
    else if (type === MSG.Ack) counters.acks++;
    else if (type === MSG.Nak) counters.naks++;
    const boot = v.boot === undefined ? {} : v.boot.ok ? { boot: v.boot.rule } : { boot: v.boot.reason, bootDetail: v.boot.detail };
    const level: LogLevel = v.boot && !v.boot.ok ? maxLevel('info', refusalLevel(v.boot)) : 'info';
    const fields = { ...about, rule: v.rule, ...boot, yiaddr: v.reply.yiaddr, to: `${to.address}:${to.port}`, via: to.why, bytes: bytes.length };
    log(level, `dhcp ${msgName(type ?? 0)}`, fields);
    if (closed) return;
    socket.send(bytes, to.port, to.address, (err) => {
      if (err) count('send-failed', 'warn', { ...about, ifname: link.ifname, to: `${to.address}:${to.port}` }, err.message);
    });
  }

  async function onDatagram(socket: dgram.Socket, link: Link, localPort: number, datagram: Buffer, from: RemoteInfo): Promise<void> {
    counters.received++;
    let about: Record<string, unknown> = { ifname: link.ifname, port: localPort, from: `${from.address}:${from.port}` };
    try {
      const d = await decide(link, localPort, datagram, about);
      about = d.about;
      const v = d.verdict;
      if ('drop' in v) count(v.drop, v.level, about, v.detail);
      else if ('noted' in v) {
        if (v.noted === 'release') counters.releases++;
        else counters.declines++;
        log('info', `dhcp ${v.noted}`, { ...about, ip: v.ip, applied: v.applied });
      } else send(socket, link, localPort, from, d.request!, v, about);
    } catch (e) {
      count('internal-error', 'error', about, (e as Error)?.stack ?? String(e));
    }
  }

  return {
    async start() {
      const all = links();
      try {
        for (const link of all) {
          const ports = link.zone.config.mode === 'proxy' ? [SERVER_PORT, PXE_PORT] : [SERVER_PORT];
          for (const port of ports) {
            const socket = await bind(link.ifname, port);
            sockets.push(socket);
            socket.on('message', (datagram, from) => void onDatagram(socket, link, port, datagram, from));
            socket.on('error', (e) => log('error', 'dhcp socket error', { ifname: link.ifname, port, error: e.message }));
          }
          log('info', 'dhcp listening', { zone: link.zone.config.name, mode: link.zone.config.mode, ifname: link.ifname, address: link.address, pool: link.pool?.subnet });
        }
      } catch (e) {
        await closeAll();
        throw e;
      }
    },
    close: closeAll,
    stats: () => ({ ...counters, drops: { ...counters.drops } }),
  };

  async function closeAll(): Promise<void> {
    closed = true;
    await Promise.all(sockets.splice(0).map((s) => new Promise<void>((resolve) => {
      try {
        s.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    })));
  }
}

const MSG_NAMES: Record<number, string> = Object.fromEntries(Object.entries(MSG).map(([k, v]) => [v, k.toLowerCase()]));
const msgName = (type: number): string => MSG_NAMES[type] ?? `type-${type}`;

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];
const maxLevel = (a: LogLevel, b: LogLevel): LogLevel => (LEVELS.indexOf(a) >= LEVELS.indexOf(b) ? a : b);
