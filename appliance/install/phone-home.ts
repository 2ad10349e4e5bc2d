// The first-boot credential: one token per install, staged on the written disk (firstboot.json),
// good only for that machine's phone-home. The boot token cannot serve: the installed OS boots
// from its disk without a boot script, and the discovery boot's token dies with that boot.
import type { Store } from '../store/store.ts';
import { checkMachineToken, mintMachineToken } from '../auth/boot-tokens.ts';

const TTL_MS = 7 * 24 * 3_600_000;

export function mintPhoneHomeToken(store: Store, machineId: string, installId: string): string {
  return mintMachineToken(store, { kind: 'phonehome', machineId, ttlMs: TTL_MS, data: { installId }, idPrefix: 'ph' });
}

/** The machine and install a phone-home token was minted for, or null. */
export function checkPhoneHomeToken(store: Store, token: string): { machineId: string; installId: string } | null {
  const t = checkMachineToken(store, token, 'phonehome');
  const installId = t?.data?.installId;
  return t && typeof installId === 'string' ? { machineId: t.machineId, installId } : null;
}

/**
 * A node still waiting for its join files keeps its token alive: each ask moves the expiry a full
 * TTL on, so a cloud link that stays down longer than the TTL does not strand a node that keeps
 * asking (a node switched off for longer than the TTL does need a reinstall).
 */
export function renewPhoneHomeToken(store: Store, token: string): boolean {
  const id = token.split('.')[0];
  return checkPhoneHomeToken(store, token) !== null && store.extendToken(id, Date.now() + TTL_MS);
}
