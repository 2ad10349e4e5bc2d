// Authentication as kube-apiserver's union chain does it: x509 client certificates signed by the
// cluster CA, static bearer tokens, then bootstrap tokens (plugin/pkg/auth/authenticator/token/
// bootstrap). A presented credential that fails is 401 even where anonymous reads are allowed.
import type { TLSSocket } from 'node:tls';
import { timingSafeEqual } from 'node:crypto';
import type { Store } from './store.ts';
import { unauthorized } from './status.ts';

export interface User { name: string; groups: string[] }

export const ANONYMOUS: User = { name: 'system:anonymous', groups: ['system:unauthenticated'] };

const tokenRe = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const extraGroupRe = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

const withAuthenticated = (name: string, groups: string[]): User =>
  ({ name, groups: [...new Set([...groups, 'system:authenticated'])] });

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

function secretValue(secret: any, key: string): string {
  const v = secret?.data?.[key];
  return typeof v === 'string' ? Buffer.from(v, 'base64').toString('utf8') : '';
}

/** bootstrapsecretutil.HasExpired: an unparsable expiration counts as expired. */
function expiredAt(expiration: string, now: Date): boolean {
  if (!expiration) return false;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(expiration)) return true;
  const t = Date.parse(expiration);
  return Number.isNaN(t) || now.getTime() > t;
}

/** The bootstrap token authenticator: every check fails closed, without saying which one. */
export function bootstrapTokenUser(store: Store, token: string, now = new Date()): User | null {
  const m = tokenRe.exec(token);
  if (!m) return null;
  const [, id, secretPart] = m;
  const secret = store.get('secrets', `kube-system/bootstrap-token-${id}`);
  if (!secret || secret.metadata?.deletionTimestamp) return null;
  if (secret.type !== 'bootstrap.kubernetes.io/token' || !secret.data) return null;
  if (!sameText(secretValue(secret, 'token-secret'), secretPart)) return null;
  if (secretValue(secret, 'token-id') !== id) return null;
  if (expiredAt(secretValue(secret, 'expiration'), now)) return null;
  if (secretValue(secret, 'usage-bootstrap-authentication') !== 'true') return null;
  const groups = ['system:bootstrappers'];
  const extra = secretValue(secret, 'auth-extra-groups');
  for (const g of extra ? extra.split(',').map((s) => s.trim()) : []) {
    if (!extraGroupRe.test(g)) return null;
    if (!groups.includes(g)) groups.push(g);
  }
  return withAuthenticated(`system:bootstrap:${id}`, groups);
}

export class Authenticator {
  private readonly tokens = new Map<string, User>();
  private readonly store: Store;
  constructor(store: Store) { this.store = store; }

  addToken(token: string, name: string, groups: string[]): void {
    this.tokens.set(token, withAuthenticated(name, groups));
  }

  /** Anonymous only when no credential was presented at all. Throws the 401 Status otherwise. */
  authenticate(authorization: string | undefined, socket: TLSSocket): User {
    const cert = socket.getPeerCertificate?.();
    if (cert && Object.keys(cert).length > 0) {
      if (!socket.authorized) throw unauthorized();
      const cn = [cert.subject?.CN].flat()[0];
      const o = [cert.subject?.O ?? []].flat();
      if (cn) return withAuthenticated(cn, o);
    }
    // Like the bearertoken authenticator: a header that is not `Bearer <token>` is no credential.
    const m = authorization ? /^Bearer\s+(\S+)/i.exec(authorization) : null;
    if (m) {
      const token = m[1];
      for (const [t, u] of this.tokens) if (sameText(t, token)) return u;
      const u = bootstrapTokenUser(this.store, token);
      if (u) return u;
      throw unauthorized();
    }
    return ANONYMOUS;
  }
}
