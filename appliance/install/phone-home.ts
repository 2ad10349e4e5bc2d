// The first-boot credential: one token per install, staged on the written disk (firstboot.json),
// good only for that machine's phone-home. The boot token cannot serve: the installed OS boots
// from its disk without a boot script, and the discovery boot's token dies with that boot.
import type { Store } from '../store/store.ts';
import { randomSecret, sameSecret, secretHash } from '../auth/secrets.ts';

const TTL_MS = 7 * 24 * 3_600_000;
const FORMAT = /^(ph[a-z0-9]{10})\.([A-Za-z0-9_-]{32,64})$/;

export function mintPhoneHomeToken(store: Store, machineId: string, installId: string): string {
  const id = `ph${randomSecret(8).toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 10)}`;
  const secret = randomSecret(24);
  store.putToken({ id, kind: 'phonehome', machineId, secretHash: secretHash(secret), data: { installId }, expiresAt: Date.now() + TTL_MS }, { replace: true });
  return `${id}.${secret}`;
}

/** The machine and install a phone-home token was minted for, or null. */
export function checkPhoneHomeToken(store: Store, token: string): { machineId: string; installId: string } | null {
  const m = FORMAT.exec(token);
  if (!m) return null;
  const t = store.getToken(m[1]);
  if (!t || t.kind !== 'phonehome' || !t.machineId || !sameSecret(t.secretHash, secretHash(m[2]))) return null;
  const installId = (t.data as { installId?: unknown } | null)?.installId;
  return typeof installId === 'string' ? { machineId: t.machineId, installId } : null;
}
