// One-time boot tokens: every rendered boot script carries a fresh token on the kernel command
// line; the agent in that boot authenticates with it. Bound to the machine it was minted for
// (anyone on the provisioning LAN can claim any MAC, so the token, not the MAC, is the proof);
// minting one revokes the machine's earlier unused ones, so only the latest boot can speak.
import type { Store } from '../store/store.ts';
import { randomSecret, sameSecret, secretHash } from './secrets.ts';

export const BOOT_TOKEN_TTL_MS = 24 * 3_600_000;
const FORMAT = /^([a-z0-9]{10,12})\.([A-Za-z0-9_-]{32,64})$/;

/**
 * A bearer credential bound to one machine (`<id>.<secret>`, only the secret's hash stored):
 * minting one revokes the machine's earlier tokens of the same kind. Boot tokens and the installed
 * OS's phone-home tokens are both this.
 */
export function mintMachineToken(store: Store, o: { kind: string; machineId: string; ttlMs: number; data: Record<string, unknown>; idPrefix?: string }): string {
  if (o.idPrefix && !/^[a-z]{1,2}$/.test(o.idPrefix)) throw new RangeError('a token id prefix is one or two lowercase letters');
  const id = `${o.idPrefix ?? ''}${randomSecret(8).toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 10)}`;
  const secret = randomSecret(24);
  store.putToken({ id, kind: o.kind, machineId: o.machineId, secretHash: secretHash(secret), data: o.data, expiresAt: Date.now() + o.ttlMs }, { replace: true });
  return `${id}.${secret}`;
}

/** The live token of `kind` that `token` names, if its secret matches; null for unknown, expired or forged. */
export function checkMachineToken(store: Store, token: string, kind: string): { machineId: string; data: Record<string, unknown> | null } | null {
  const m = FORMAT.exec(token);
  if (!m) return null;
  const t = store.getToken(m[1]);
  if (!t || t.kind !== kind || !t.machineId || !sameSecret(t.secretHash, secretHash(m[2]))) return null;
  return { machineId: t.machineId, data: t.data ?? null };
}

/**
 * `write`: the boot script this token goes into allows disk writes (tether.write=1). The appliance
 * remembers it so it never hands a disk task to an agent whose boot may not write.
 */
export function mintBootToken(store: Store, machineId: string, o: { write?: boolean; ttlMs?: number } = {}): string {
  return mintMachineToken(store, { kind: 'boot', machineId, ttlMs: o.ttlMs ?? BOOT_TOKEN_TTL_MS, data: { write: o.write === true } });
}

/** Who a boot token speaks for and whether its boot may write disks, or null if unknown, expired or forged. */
export function bootTokenInfo(store: Store, token: string): { machineId: string; write: boolean } | null {
  const t = checkMachineToken(store, token, 'boot');
  return t && { machineId: t.machineId, write: t.data?.write === true };
}

/** The machine id a boot token was minted for, or null if it is unknown, expired or forged. */
export function checkBootToken(store: Store, token: string): string | null {
  return bootTokenInfo(store, token)?.machineId ?? null;
}
