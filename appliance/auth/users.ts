// Local operators: the first admin, password checks, API tokens. Roles are ordered.
import type { Role, Store } from '../store/store.ts';
import { DUMMY_HASH, generatePassword, hashPassword, randomSecret, secretHash, sameSecret, verifyPassword } from './secrets.ts';

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];
export const roleRank = (r: Role): number => ROLES.indexOf(r);
export const lowerRole = (a: Role, b: Role): Role => (roleRank(a) <= roleRank(b) ? a : b);

/**
 * On the very first start there is no user: create the admin with a generated password and hand
 * it back once, for the caller to print. It is never stored in clear nor shown again.
 */
export async function ensureFirstAdmin(store: Store, name: string): Promise<{ name: string; password: string } | null> {
  if (store.countUsers() > 0) return null;
  const password = generatePassword();
  store.createUser(name, await hashPassword(password), 'admin');
  return { name, password };
}

export async function checkPassword(store: Store, name: string, password: string): Promise<{ name: string; role: Role } | null> {
  const user = store.getUser(name);
  // Verify against a dummy hash for unknown users: the answer takes as long either way.
  const ok = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
  return ok && user && !user.disabled ? { name: user.name, role: user.role } : null;
}

const TOKEN_RE = /^tth_([a-z0-9]{12})\.([A-Za-z0-9_-]{43})$/;

export function mintApiToken(store: Store, o: { user: string; name: string; role: Role; ttlDays?: number }): string {
  const id = randomSecret(9).toLowerCase().replace(/[^a-z0-9]/g, '0').slice(0, 12);
  const secret = randomSecret(32);
  store.createApiToken({ id, user: o.user, name: o.name, role: o.role, secretHash: secretHash(secret), expiresAt: o.ttlDays ? Date.now() + o.ttlDays * 86_400_000 : null });
  return `tth_${id}.${secret}`;
}

export function checkApiToken(store: Store, token: string): { user: string; role: Role } | null {
  const m = TOKEN_RE.exec(token);
  if (!m) return null;
  const row = store.getApiToken(m[1]);
  if (!row || !sameSecret(row.secretHash, secretHash(m[2]))) return null;
  return { user: row.user, role: lowerRole(row.tokenRole, row.userRole) };
}
