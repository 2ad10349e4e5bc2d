// Address allocation for a zone in `full` mode (RFC 2131 §4.3.1-§4.3.5): per zone a set of pools
// (one per subnet), reservations, and an in-memory index of every address handed out, loaded from
// the lease store at start and written through on bind, release and decline (group-committed by
// leasewriter.ts; an ACK waits for its write). Offers stay in memory only: a client that never
// REQUESTs loses its hold after OFFER_HOLD_MS, and a lost offer costs nothing after a restart.
// Expiry is lazy: an address whose lease ran out is reusable, but stays with its last owner until
// another client actually needs it, so a machine that comes back gets the address it had. The
// index changes synchronously, so concurrent requests never see a half-made decision; the clock
// is injected.
import { intToIp, ipToInt, maskToString, parseCidr, type Subnet } from '../net/ipv4.ts';
import { createLeaseWriter, type LeaseWriter } from './leasewriter.ts';

export type LeaseState = 'offered' | 'bound' | 'declined' | 'released';

/** One row of the lease table; the appliance's Store.listLeases/putLease speak exactly this. */
export type LeaseRecord = { zone: string; ip: string; mac: string; state: LeaseState; expiresAt: number };

/** Where leases persist. Structurally the appliance's Store, which the daemon passes as is. */
export type LeaseStore = {
  listLeases(zone: string): LeaseRecord[];
  putLease(l: LeaseRecord): void;
  deleteLease(zone: string, ip: string): void;
  /** Optional: runs `writes` as one transaction (one fsync for a burst of leases); throws = none stored. */
  transaction?(writes: () => void): void;
};

/** A pool as tether.yaml describes it (appliance/config/schema.ts PoolConfig fits). */
export type PoolConfig = {
  readonly subnet: string;
  readonly range: readonly string[];
  readonly routers?: readonly string[];
  readonly dns?: readonly string[];
  readonly leaseSeconds?: number;
  readonly reservations?: ReadonlyArray<{ readonly mac: string; readonly ip: string }>;
};

/** What a reply needs to know about the pool an address came from. */
export type AddressPool = {
  /** e.g. 10.253.5.0/24 */
  readonly subnet: string;
  readonly mask: string;
  readonly routers: readonly string[];
  readonly dns: readonly string[];
  readonly leaseSeconds: number;
  /** e.g. 10.253.5.100-10.253.5.199, for log lines. */
  readonly range: string;
};

/** Why an address was offered or bound: goes into the OFFER/ACK log line. */
export type AllocationRule =
  | 'reservation'
  | 'current-lease'
  | 'previous-address'
  | 'requested-address'
  | 'free-address'
  | 'expired-address'
  | 'renewal'
  | 'offered';

export type Allocation = { readonly ok: true; readonly ip: string; readonly pool: AddressPool; readonly rule: AllocationRule };

/** A binding; `stored` settles once the lease is in the store. Until it resolves, no ACK: if it
 *  rejects, nothing was promised and the client, which retries, finds its address held as offered. */
export type Binding = Allocation & { readonly stored: Promise<void> };

export type OfferRefusal = { readonly ok: false; readonly reason: 'pool-exhausted' };

/** Each is a NAK (RFC 2131 §4.3.2). */
export type BindRefusal = { readonly ok: false; readonly reason: 'wrong-network' | 'outside-range' | 'reserved-for-other' | 'address-in-use' };

export type ZoneLeases = {
  readonly pools: readonly AddressPool[];
  /** The pool whose subnet holds `ip`, e.g. a relay's giaddr or a renewing client's ciaddr. */
  poolFor(ip: string): AddressPool | undefined;
  /** DISCOVER: an address to offer `mac`, held for OFFER_HOLD_MS. */
  offer(mac: string, pool: AddressPool, requested?: string): Allocation | OfferRefusal;
  /** REQUEST (selecting, init-reboot, renewing, rebinding): bind `ip` to `mac` and persist it. */
  bind(mac: string, pool: AddressPool, ip: string): Binding | BindRefusal;
  /** RELEASE: frees `ip` if `mac` holds it; the address is reusable at once. */
  release(mac: string, ip: string): boolean;
  /** DECLINE: the client found `ip` in use; keep it out of the pool for DECLINE_HOLD_MS. */
  decline(mac: string, ip: string): boolean;
  /** The client took another server's offer (its REQUEST named another server id). */
  forgetOffer(mac: string): void;
  /** The current record for an address (tests, diagnostics). */
  lookup(ip: string): LeaseRecord | undefined;
};

/** An offer is held this long for the REQUEST that should follow within a second or two. */
export const OFFER_HOLD_MS = 30_000;
/** dnsmasq's DECLINE_BACKOFF: long enough for whoever squats on the address to be found. */
export const DECLINE_HOLD_MS = 600_000;
export const DEFAULT_LEASE_SECONDS = 3600;

export type LeasesOptions = {
  zone: string;
  pools: readonly PoolConfig[];
  store: LeaseStore;
  /** Default: createLeaseWriter(store), which group-commits. */
  write?: LeaseWriter;
  now: () => number;
  /** Never handed out, e.g. the server's own interface addresses. */
  exclude?: readonly string[];
  offerHoldMs?: number;
  declineHoldMs?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown>) => void;
};

type Pool = AddressPool & {
  readonly net: Subnet;
  readonly first: number;
  readonly last: number;
  readonly reservedByMac: ReadonlyMap<string, number>;
  /** Records currently indexed inside [first, last]: when it reaches the range size, skip the scan. */
  heldInRange: number;
  /** Next-fit: a fresh address search starts after the last one handed out. */
  cursor: number;
};

type Held = { readonly ip: number; readonly pool: Pool; mac: string; state: LeaseState; expiresAt: number };

export function createLeases(o: LeasesOptions): ZoneLeases {
  const log = o.log ?? (() => {});
  const offerHoldMs = o.offerHoldMs ?? OFFER_HOLD_MS;
  const declineHoldMs = o.declineHoldMs ?? DECLINE_HOLD_MS;
  const write = o.write ?? createLeaseWriter(o.store);
  const pools = o.pools.map(toPool);
  // The server's own addresses and the pools' routers are never handed out, whatever the ranges say.
  const excluded = new Set([...(o.exclude ?? []), ...pools.flatMap((p) => p.routers)].map(ipToInt));
  /** Reserved address -> the MAC it is for, across the zone's pools. */
  const reservedFor = new Map<number, string>();
  for (const p of pools) for (const [mac, ip] of p.reservedByMac) reservedFor.set(ip, mac);
  const byIp = new Map<number, Held>();
  /** Each MAC's current or most recent address (not a declined one). */
  const byMac = new Map<string, Held>();

  const inRange = (p: Pool, ip: number): boolean => ip >= p.first && ip <= p.last;
  const expired = (h: Held): boolean => h.expiresAt <= o.now();
  const poolOfIp = (ip: number): Pool | undefined => pools.find((p) => ((ip & p.net.mask) >>> 0) === p.net.network);
  const own = (pool: AddressPool): Pool => {
    const p = pools.find((x) => x === pool);
    if (!p) throw new RangeError(`pool ${pool.subnet} does not belong to zone ${o.zone}`);
    return p;
  };
  /** Neither the subnet's network nor broadcast address, nor excluded. */
  const usable = (p: Pool, ip: number): boolean =>
    !excluded.has(ip) && (p.net.prefix >= 31 || (ip !== p.net.network && ip !== p.net.broadcast));
  const reservedForOther = (ip: number, mac: string): boolean => {
    const r = reservedFor.get(ip);
    return r !== undefined && r !== mac;
  };

  function index(h: Held): void {
    const old = byIp.get(h.ip);
    if (old && byMac.get(old.mac) === old && old.mac !== h.mac) byMac.delete(old.mac);
    if (!old && inRange(h.pool, h.ip)) h.pool.heldInRange++;
    byIp.set(h.ip, h);
    if (h.state === 'declined') {
      if (byMac.get(h.mac)?.ip === h.ip) byMac.delete(h.mac);
    } else {
      byMac.set(h.mac, h);
    }
  }

  function unindex(h: Held): void {
    if (byIp.get(h.ip) !== h) return;
    byIp.delete(h.ip);
    if (inRange(h.pool, h.ip)) h.pool.heldInRange--;
    if (byMac.get(h.mac) === h) byMac.delete(h.mac);
  }

  const record = (h: Held): LeaseRecord => ({ zone: o.zone, ip: intToIp(h.ip), mac: h.mac, state: h.state, expiresAt: h.expiresAt });

  // Load what the store remembers. A MAC with several rows keeps the one that binds it longest.
  for (const row of o.store.listLeases(o.zone)) {
    let ip: number;
    try {
      ip = ipToInt(row.ip);
    } catch {
      log('warn', 'dhcp lease row with a bad address ignored', { zone: o.zone, ip: row.ip, mac: row.mac });
      continue;
    }
    const pool = poolOfIp(ip);
    if (!pool) {
      log('debug', 'dhcp lease outside every pool of the zone ignored', { zone: o.zone, ip: row.ip, mac: row.mac });
      continue;
    }
    const h: Held = { ip, pool, mac: row.mac, state: row.state, expiresAt: row.expiresAt };
    const mine = byMac.get(row.mac);
    if (!mine || row.state === 'declined' || rank(h) > rank(mine)) index(h);
    else {
      // Index the address as taken without making it the MAC's address.
      byIp.set(ip, h);
      if (inRange(pool, ip)) pool.heldInRange++;
    }
  }

  function rank(h: Held): number {
    return (h.state === 'bound' && !expired(h) ? 1e15 : 0) + h.expiresAt;
  }

  /** Free for `mac`: nobody holds it, or its holder is `mac`, or the holder's time ran out. */
  const freeFor = (ip: number, mac: string): boolean => {
    const h = byIp.get(ip);
    return !h || h.mac === mac || expired(h);
  };

  function hold(p: Pool, ip: number, mac: string, rule: AllocationRule): Allocation {
    const h = byIp.get(ip);
    // A live lease of this MAC stays as it is: the OFFER just repeats it.
    if (!(h && h.mac === mac && h.state === 'bound' && !expired(h))) {
      index({ ip, pool: p, mac, state: 'offered', expiresAt: o.now() + offerHoldMs });
    }
    return { ok: true, ip: intToIp(ip), pool: p, rule };
  }

  function freshAddress(p: Pool): number | undefined {
    const size = p.last - p.first + 1;
    if (p.heldInRange >= size) return undefined;
    for (let i = 0; i < size; i++) {
      const at = (p.cursor + i) % size;
      const ip = p.first + at;
      if (!byIp.has(ip) && !reservedFor.has(ip) && usable(p, ip)) {
        p.cursor = (at + 1) % size;
        return ip;
      }
    }
    return undefined;
  }

  /** The address whose lease ran out longest ago: its owner is the least likely to come back. */
  function oldestExpired(p: Pool, mac: string): number | undefined {
    let best: Held | undefined;
    for (const h of byIp.values()) {
      if (h.pool !== p || !inRange(p, h.ip) || !expired(h) || reservedForOther(h.ip, mac) || !usable(p, h.ip)) continue;
      if (!best || h.expiresAt < best.expiresAt) best = h;
    }
    return best?.ip;
  }

  return {
    pools,
    poolFor(ip) {
      try {
        return poolOfIp(ipToInt(ip));
      } catch {
        return undefined;
      }
    },

    offer(mac, pool, requested) {
      const p = own(pool);
      const reserved = p.reservedByMac.get(mac);
      if (reserved !== undefined) {
        if (freeFor(reserved, mac)) return hold(p, reserved, mac, 'reservation');
        log('warn', 'dhcp reserved address is held by another client; offering a pool address', {
          zone: o.zone, mac, ip: intToIp(reserved), holder: byIp.get(reserved)?.mac,
        });
      }
      const mine = byMac.get(mac);
      if (mine && mine.pool === p && inRange(p, mine.ip) && usable(p, mine.ip) && !reservedForOther(mine.ip, mac)) {
        const live = mine.state === 'bound' && !expired(mine);
        return hold(p, mine.ip, mac, live ? 'current-lease' : 'previous-address');
      }
      if (requested !== undefined) {
        const ip = tryIp(requested);
        if (ip !== undefined && inRange(p, ip) && usable(p, ip) && !reservedFor.has(ip) && freeFor(ip, mac)) {
          return hold(p, ip, mac, 'requested-address');
        }
      }
      const fresh = freshAddress(p);
      if (fresh !== undefined) return hold(p, fresh, mac, 'free-address');
      const reclaimed = oldestExpired(p, mac);
      if (reclaimed !== undefined) return hold(p, reclaimed, mac, 'expired-address');
      return { ok: false, reason: 'pool-exhausted' };
    },

    bind(mac, pool, ipText) {
      const p = own(pool);
      const ip = tryIp(ipText);
      if (ip === undefined || ((ip & p.net.mask) >>> 0) !== p.net.network) return { ok: false, reason: 'wrong-network' };
      if (reservedForOther(ip, mac)) return { ok: false, reason: 'reserved-for-other' };
      const reservation = reservedFor.get(ip) === mac;
      if (!reservation && (!inRange(p, ip) || !usable(p, ip))) return { ok: false, reason: 'outside-range' };
      const h = byIp.get(ip);
      if (h && h.mac !== mac && !expired(h)) return { ok: false, reason: 'address-in-use' };
      const bound: Held = { ip, pool: p, mac, state: 'bound', expiresAt: o.now() + p.leaseSeconds * 1000 };
      const previous = byMac.get(mac);
      const rule: AllocationRule = reservation
        ? 'reservation'
        : h?.mac === mac && h.state === 'bound' && !expired(h)
          ? 'renewal'
          : h?.mac === mac && h.state === 'offered' && !expired(h)
            ? 'offered'
            : 'free-address';
      index(bound);
      const stored = write({ put: record(bound) });
      stored.catch((e: unknown) => {
        log('error', 'dhcp lease not stored; no ACK', { zone: o.zone, mac, ip: ipText, error: (e as Error)?.message ?? String(e) });
        // Back to an offer hold: the client's retry finds its address, and nothing claims it is bound.
        if (byIp.get(ip) === bound) index({ ip, pool: p, mac, state: 'offered', expiresAt: o.now() + offerHoldMs });
      });
      // One address per client: the one it had before is given up (RFC 2131 §4.3.1 keeps one binding).
      if (previous && previous.ip !== ip && byIp.get(previous.ip) === previous) {
        unindex(previous);
        if (previous.state !== 'offered') {
          write({ delete: { zone: o.zone, ip: intToIp(previous.ip) } }).catch((e: unknown) =>
            log('warn', 'dhcp superseded lease not deleted', { zone: o.zone, mac, ip: intToIp(previous.ip), error: (e as Error)?.message ?? String(e) }));
        }
      }
      return { ok: true, ip: ipText, pool: p, rule, stored };
    },

    release(mac, ipText) {
      const ip = tryIp(ipText);
      const h = ip === undefined ? undefined : byIp.get(ip);
      if (!h || h.mac !== mac || h.state !== 'bound') return false;
      h.state = 'released';
      h.expiresAt = o.now();
      persist(h, 'release');
      return true;
    },

    decline(mac, ipText) {
      const ip = tryIp(ipText);
      const h = ip === undefined ? undefined : byIp.get(ip);
      if (!h || h.mac !== mac || (h.state !== 'offered' && h.state !== 'bound')) return false;
      index({ ip: h.ip, pool: h.pool, mac, state: 'declined', expiresAt: o.now() + declineHoldMs });
      persist(byIp.get(h.ip)!, 'decline');
      return true;
    },

    forgetOffer(mac) {
      const h = byMac.get(mac);
      if (h && h.state === 'offered') unindex(h);
    },

    lookup(ipText) {
      const ip = tryIp(ipText);
      const h = ip === undefined ? undefined : byIp.get(ip);
      return h && record(h);
    },
  };

  function persist(h: Held, what: string): void {
    write({ put: record(h) }).catch((e: unknown) =>
      log('error', `dhcp ${what} not stored`, { zone: o.zone, mac: h.mac, ip: intToIp(h.ip), error: (e as Error)?.message ?? String(e) }));
  }
}

function tryIp(ip: string): number | undefined {
  try {
    return ipToInt(ip);
  } catch {
    return undefined;
  }
}

/** Validates one pool; throws RangeError naming what is wrong (config errors surface at start). */
function toPool(c: PoolConfig): Pool {
  const net = parseCidr(c.subnet);
  if (c.range.length !== 2) throw new RangeError(`pool ${c.subnet}: range must be [first, last]`);
  const first = ipToInt(c.range[0]);
  const last = ipToInt(c.range[1]);
  const inNet = (ip: number): boolean => ((ip & net.mask) >>> 0) === net.network;
  if (!inNet(first) || !inNet(last) || first > last) {
    throw new RangeError(`pool ${c.subnet}: range ${c.range[0]}-${c.range[1]} is not an ascending range inside the subnet`);
  }
  const reservedByMac = new Map<string, number>();
  for (const r of c.reservations ?? []) {
    const ip = ipToInt(r.ip);
    if (!inNet(ip)) throw new RangeError(`pool ${c.subnet}: reservation ${r.mac} -> ${r.ip} is outside the subnet`);
    reservedByMac.set(r.mac.toLowerCase(), ip);
  }
  return {
    subnet: `${intToIp(net.network)}/${net.prefix}`,
    mask: maskToString(net),
    routers: [...(c.routers ?? [])],
    dns: [...(c.dns ?? [])],
    leaseSeconds: c.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
    range: `${c.range[0]}-${c.range[1]}`,
    net,
    first,
    last,
    reservedByMac,
    heldInRange: 0,
    cursor: 0,
  };
}
