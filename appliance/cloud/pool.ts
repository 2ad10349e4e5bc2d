// The bootstrap-token pool: tokens pre-minted while the link is up so installs finish while it is
// down. It is a credential store: bounded size and TTL, sealed at rest, each token released to
// one machine once (one SQL transaction), and revoked when it ages out unused or its node joined.
// Every token row is written *before* its Secret is created and the create is retried with the
// same id, so lost answers, 5xx and flapping never leave a Secret Tether does not know about.
import type { Machine, Store } from '../store/store.ts';
import {
  confirmMinted, getBootstrapToken, insertBootstrapToken, markTokenRevoked, poolCounts, revokeMachineTokens, revokeToken, enqueueOutbox,
  staleTokens, takePooledToken, unassignMinting, unconfirmedPoolTokens,
} from '../store/cloud.ts';
import { describeError, kubeStatus, type Kube } from './kube.ts';
import type { Sealer } from './sealed.ts';
import { mintBootstrapToken, newBootstrapToken, TokenIdTakenError, type BootstrapToken } from './tokens.ts';
import type { CloudLog } from './log.ts';

export interface PoolStatus {
  /** Configured size (0 = no pool). */
  size: number;
  /** Pooled tokens that may still be handed out. */
  available: number;
  /** Creates sent but not confirmed yet (retried with the same id). */
  minting: number;
  /** When the first pooled token expires (ms), or null. */
  earliestExpiry: number | null;
  ttlMs: number;
}

export interface IssuedToken extends BootstrapToken { expiresAt: number; pooled: boolean }

export interface Pool {
  /** While the link is up: retire stale tokens, finish unconfirmed mints, top up to size. */
  fill(kube: Kube): Promise<void>;
  /** A token for this machine: from the pool, else minted now when `kube` is given (link up). */
  take(machine: Machine, nodeName: string, kube: Kube | null): Promise<IssuedToken | null>;
  status(): PoolStatus;
}

export function createPool(o: {
  store: Store;
  sealer: Sealer;
  now: () => number;
  log: CloudLog;
  site: string;
  size: number;
  ttlMs: number;
  /** Lifetime of a token minted for one machine on demand. */
  tokenTtlMs: number;
}): Pool {
  const { store, sealer, now, log } = o;
  // A pooled token is retired when a third of its life is left, and handed out only while it still
  // has as long as a freshly minted one would (capped by that third), so the kubelet has time to use it.
  const retireMs = o.ttlMs / 3;
  const handoutMs = Math.min(o.tokenTtlMs, retireMs);

  const secretOf = (id: string, sealed: string): string => sealer.open(sealed, id);

  async function mintRow(kube: Kube, id: string, expiresAt: number, description: string): Promise<void> {
    const row = getBootstrapToken(store, id)!;
    await mintBootstrapToken(kube, { id, secret: secretOf(id, row.sealed) }, { expiresAt, description });
  }

  function newRow(machineId: string | null, ttlMs: number): { token: BootstrapToken; expiresAt: number } {
    for (;;) {
      const token = newBootstrapToken();
      if (getBootstrapToken(store, token.id)) continue; // 36^6 ids: a repeat is rare, never reused
      const expiresAt = now() + ttlMs;
      insertBootstrapToken(store, { id: token.id, sealed: sealer.seal(token.secret, token.id), machineId, expiresAt }, now());
      return { token, expiresAt };
    }
  }

  const poolDescription = `Tether pool token for site ${o.site}: not yet given to a machine`;

  return {
    async fill(kube) {
      for (const t of staleTokens(store, now() + retireMs, now())) {
        revokeToken(store, t.id, t.state === 'released' ? 'expired before its node registered' : 'aged out of the pool unused', now());
      }
      for (const t of unconfirmedPoolTokens(store)) {
        try {
          await mintRow(kube, t.id, t.expiresAt, poolDescription);
          confirmMinted(store, t.id, now());
        } catch (e) {
          if (e instanceof TokenIdTakenError) { markTokenRevoked(store, t.id, now()); continue; }
          log.warn({ token: t.id, err: describeError(e) }, 'pool: retrying a token create failed; will retry');
          return;
        }
      }
      while (o.size > 0) {
        const c = poolCounts(store, now() + handoutMs);
        if (c.usable + c.minting >= o.size) break;
        const { token, expiresAt } = newRow(null, o.ttlMs);
        try {
          await mintBootstrapToken(kube, token, { expiresAt, description: poolDescription });
        } catch (e) {
          if (e instanceof TokenIdTakenError) { markTokenRevoked(store, token.id, now()); continue; }
          log.warn({ token: token.id, err: describeError(e) }, 'pool: token create failed; the row stays and the create is retried with the same id');
          return;
        }
        confirmMinted(store, token.id, now());
      }
    },

    async take(machine, nodeName, kube) {
      const description = `Tether join token for machine ${machine.id} (node ${nodeName})`;
      const row = takePooledToken(store, machine.id, now() + handoutMs, now());
      if (row) {
        // The Secret was minted as "not yet given": name the machine there too, when the link allows.
        enqueueOutbox(store, { key: `describe-token:${row.id}`, kind: 'describe-token', machineId: machine.id, payload: { tokenId: row.id, description } }, now());
        return { id: row.id, secret: secretOf(row.id, row.sealed), expiresAt: row.expiresAt, pooled: true };
      }
      if (!kube) return null;
      const { token, expiresAt } = newRow(machine.id, o.tokenTtlMs);
      for (let attempt = 1; ; attempt++) {
        try {
          await mintBootstrapToken(kube, token, { expiresAt, description });
          break;
        } catch (e) {
          const s = kubeStatus(e);
          const retriable = !(e instanceof TokenIdTakenError) && (!s || s.code >= 500 || s.code === 429);
          if (!retriable || attempt >= 3) {
            log.warn({ machine: machine.id, token: token.id, err: describeError(e) }, 'could not mint a join token for the machine');
            if (e instanceof TokenIdTakenError) markTokenRevoked(store, token.id, now());
            else unassignMinting(store, token.id); // the pool filler finishes (or retires) it
            return null;
          }
          await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
        }
      }
      store.transaction(() => {
        confirmMinted(store, token.id, now());
        revokeMachineTokens(store, machine.id, 'superseded by a newer join token', now(), token.id);
      });
      return { ...token, expiresAt, pooled: false };
    },

    status() {
      const c = poolCounts(store, now() + handoutMs);
      return { size: o.size, available: c.usable, minting: c.minting, earliestExpiry: c.earliestExpiry, ttlMs: o.ttlMs };
    },
  };
}
