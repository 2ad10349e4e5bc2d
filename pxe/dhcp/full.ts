// Full DHCP (RFC 2131 §4.3) on an isolated provisioning network: addresses from the zone's pools,
// plus the boot options for network-boot clients; plain clients get an address and nothing else.
// Tether is authoritative for its pools, as dnsmasq with dhcp-authoritative: a REQUEST for an
// address it has no record of is ACKed when the address is free (a client after a lost database
// keeps its address) and NAKed when it is not ours to give (§4.3.2).
import { ZERO_IP } from '../net/ipv4.ts';
import type { BootOptions } from './boot.ts';
import { drop, type Exchange, type Verdict } from './exchange.ts';
import { getOption } from './options/codec.ts';
import { MSG, RequestedIp, ServerId } from './options/basic.ts';
import type { Packet } from './packet.ts';
import type { AddressPool, ZoneLeases } from './pool.ts';
import { replyFrom, withLease, withServerId, withSubnet, withYourIp, type Modifier } from './reply.ts';

/** `pool`: the pool the request belongs to (by relay giaddr, ciaddr, or the receiving interface). */
export async function answerFull(x: Exchange, leases: ZoneLeases, pool: AddressPool | undefined): Promise<Verdict> {
  const req = x.request;
  const noPool = (): Verdict => drop('no-pool', 'warn', `zone ${x.zone} has no pool for this request`);
  const serverId = getOption(req.options, ServerId);
  // §4.3.2: a REQUEST naming another server id means the client took that server's offer.
  const forOtherServer = serverId !== undefined && serverId !== x.serverIp;

  switch (x.msgType) {
    case MSG.Discover: {
      if (!pool) return noPool();
      const boot = await bootFor(x);
      const offered = leases.offer(x.mac, pool, getOption(req.options, RequestedIp));
      if (!offered.ok) return drop('pool-exhausted', 'warn', `pool exhausted: no free address in ${pool.subnet} (range ${pool.range}) for ${x.mac}`);
      const reply = replyFrom(req, MSG.Offer, withYourIp(offered.ip), ...addressed(pool, x.serverIp), ...bootModifiers(boot));
      return withBoot({ reply, rule: offered.rule }, boot);
    }
    case MSG.Request: {
      if (forOtherServer) {
        leases.forgetOffer(x.mac);
        return drop('other-server', 'debug', `the client chose server ${serverId}`);
      }
      // Selecting and init-reboot name the address in option 50; renewing and rebinding in ciaddr.
      const ip = getOption(req.options, RequestedIp) ?? (req.ciaddr !== ZERO_IP ? req.ciaddr : undefined);
      if (ip === undefined) return drop('no-requested-address', 'debug');
      if (!pool) return noPool();
      const boot = await bootFor(x);
      const bound = leases.bind(x.mac, pool, ip);
      if (!bound.ok) return { reply: replyFrom(req, MSG.Nak, withServerId(x.serverIp)), rule: bound.reason };
      try {
        await bound.stored;
      } catch (e) {
        return drop('store-failed', 'error', `lease for ${ip} not stored: ${(e as Error)?.message ?? String(e)}`);
      }
      const reply = replyFrom(req, MSG.Ack, withYourIp(bound.ip), ...addressed(pool, x.serverIp), ...bootModifiers(boot));
      return withBoot({ reply, rule: bound.rule }, boot);
    }
    case MSG.Decline: {
      if (forOtherServer) return drop('other-server', 'debug', `decline for server ${serverId}`);
      const ip = getOption(req.options, RequestedIp);
      if (ip === undefined) return drop('no-requested-address', 'debug');
      return { noted: 'decline', applied: leases.decline(x.mac, ip), ip };
    }
    case MSG.Release: {
      if (forOtherServer) return drop('other-server', 'debug', `release for server ${serverId}`);
      return { noted: 'release', applied: leases.release(x.mac, req.ciaddr), ip: req.ciaddr };
    }
    case MSG.Inform: {
      // §4.3.5: the client has its address; send the configuration, no address and no lease time.
      const boot = await bootFor(x);
      const subnet = pool ? [withSubnet(pool.mask, pool.routers, pool.dns)] : [];
      const reply = replyFrom(req, MSG.Ack, withServerId(x.serverIp), ...subnet, ...bootModifiers(boot));
      return withBoot({ reply, rule: 'inform' }, boot);
    }
    default:
      return drop('unsupported-message', 'debug', `message type ${x.msgType}`);
  }
}

function addressed(pool: AddressPool, serverIp: string): Modifier[] {
  return [withServerId(serverIp), withLease(pool.leaseSeconds), withSubnet(pool.mask, pool.routers, pool.dns)];
}

const bootFor = (x: Exchange): Promise<BootOptions> | undefined => (x.kind === 'plain' ? undefined : x.boot());

const bootModifiers = (boot: BootOptions | undefined): readonly Modifier[] => (boot?.ok ? boot.modifiers : []);

/** A boot client the booter will not boot still gets its address; the refusal is logged with it. */
function withBoot(v: { reply: Packet; rule: string }, boot: BootOptions | undefined): Verdict {
  return boot === undefined ? v : { ...v, boot };
}
