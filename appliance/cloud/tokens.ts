// Bootstrap tokens as the API server defines them (k8s.io/cluster-bootstrap): a Secret
// `bootstrap-token-<id>` in kube-system of type bootstrap.kubernetes.io/token; the kubelet
// authenticates with `Bearer <id>.<secret>` as system:bootstrap:<id> in the extra groups.
import { randomInt } from 'node:crypto';
import type { V1Secret } from '@kubernetes/client-node';
import { isAlreadyExists, type Kube } from './kube.ts';

export const TOKEN_NAMESPACE = 'kube-system';
/** The group Kamaji (like kubeadm) binds to node-bootstrapper and CSR auto-approval. */
export const BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token';

export interface BootstrapToken { id: string; secret: string }

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
const pick = (n: number): string => Array.from({ length: n }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');

/** token-id: 6 of [a-z0-9]; token-secret: 16 of [a-z0-9] (uniform: randomInt rejects modulo bias). */
export function newBootstrapToken(): BootstrapToken {
  return { id: pick(6), secret: pick(16) };
}

export const tokenSecretName = (id: string): string => `bootstrap-token-${id}`;
export const tokenString = (t: BootstrapToken): string => `${t.id}.${t.secret}`;

export function bootstrapTokenSecret(t: BootstrapToken, o: { expiresAt: number; description: string }): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: tokenSecretName(t.id), namespace: TOKEN_NAMESPACE, labels: { 'app.kubernetes.io/managed-by': 'tether' } },
    type: 'bootstrap.kubernetes.io/token',
    stringData: {
      description: o.description,
      'token-id': t.id,
      'token-secret': t.secret,
      // RFC 3339 in UTC, whole seconds: what the token authenticator and the token cleaner parse.
      expiration: new Date(Math.floor(o.expiresAt / 1000) * 1000).toISOString().replace('.000Z', 'Z'),
      'usage-bootstrap-authentication': 'true',
      // Signing is what kubeadm's token discovery (kube-public/cluster-info JWS) needs; the staged
      // kubeadm JoinConfiguration uses it. The kubelet's own TLS bootstrap needs authentication only.
      'usage-bootstrap-signing': 'true',
      'auth-extra-groups': BOOTSTRAP_GROUP,
    },
  };
}

export class TokenIdTakenError extends Error {
  constructor(id: string) { super(`a different bootstrap token with id ${id} already exists`); this.name = 'TokenIdTakenError'; }
}

/**
 * Creates the token's Secret. Idempotent under retries: when a create whose answer was lost is
 * sent again, AlreadyExists for the same id *and secret* is success; a different secret under
 * that id is somebody else's token and is never touched.
 */
export async function mintBootstrapToken(kube: Kube, t: BootstrapToken, o: { expiresAt: number; description: string }): Promise<void> {
  try {
    await kube.core.createNamespacedSecret({ namespace: TOKEN_NAMESPACE, body: bootstrapTokenSecret(t, o) });
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
    const existing = await kube.core.readNamespacedSecret({ namespace: TOKEN_NAMESPACE, name: tokenSecretName(t.id) });
    const secret = existing.data?.['token-secret'] ? Buffer.from(existing.data['token-secret'], 'base64').toString() : existing.stringData?.['token-secret'];
    if (secret !== t.secret) throw new TokenIdTakenError(t.id);
  }
}
