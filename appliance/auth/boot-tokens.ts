// One-time boot tokens: every rendered boot script carries a fresh token on the kernel command
// line; the agent in that boot authenticates with it. Bound to the machine it was minted for
// (anyone on the provisioning LAN can claim any MAC, so the token, not the MAC, is the proof);
// minting one revokes the machine's earlier unused ones, so only the latest boot can speak.
import type { Store } from '../store/store.ts';
import { randomSecret, sameSecret, secretHash } from './secrets.ts';

export const BOOT_TOKEN_TTL_MS = 24 * 3_600_000;
const FORMAT = /^([a-z0-9]{10})\.([A-Za-z0-9_-]{32,64})$/;

/**
 * `write`: the boot script this token goes into allows disk writes (tether.write=1). The appliance
 * remembers it so it never hands a disk task to an agent whose boot may not write.
 */
export function mintBootToken(store: Store, machineId: string, o: { write?: boolean; ttlMs?: number } = {}): string {
  const id = randomSecret(8).toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 10);
  const secret = randomSecret(24);
  store.putToken({ id, kind: 'boot', machineId, secretHash: secretHash(secret), data: { write: o.write === true }, expiresAt: Date.now() + (o.ttlMs ?? BOOT_TOKEN_TTL_MS) }, { replace: true });
  return `${id}.${secret}`;
}

/** Who a boot token speaks for and whether its boot may write disks, or null if unknown, expired or forged. */
export function bootTokenInfo(store: Store, token: string): { machineId: string; write: boolean } | null {
  const m = FORMAT.exec(token);
  if (!m) return null;
  const t = store.getToken(m[1]);
  if (!t || t.kind !== 'boot' || !t.machineId || !sameSecret(t.secretHash, secretHash(m[2]))) return null;
  return { machineId: t.machineId, write: (t.data as { write?: unknown } | null)?.write === true };
}

/** The machine id a boot token was minted for, or null if it is unknown, expired or forged. */
export function checkBootToken(store: Store, token: string): string | null {
  return bootTokenInfo(store, token)?.machineId ?? null;
}
