// Enrollment work that must reach the cluster — token revocations, token descriptions, role
// labels — queued in the store and carried out when the link allows. Each kind is idempotent
// (delete of a gone Secret is done; a merge patch applied twice is the same patch), so a retry
// after a lost answer or a crash never does harm. Failures back off per item.
import type { Store } from '../store/store.ts';
import { completeOutbox, dueOutbox, markTokenRevoked, retryOutbox, type OutboxItem } from '../store/cloud.ts';
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describeError, isNotFound, kubeStatus, type Kube } from './kube.ts';
import { TOKEN_NAMESPACE, tokenSecretName } from './tokens.ts';
import type { CloudLog } from './log.ts';

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

/** A label patch for a Node that never shows up is dropped after this many tries (machine reinstalled or removed). */
const MAX_NODE_ATTEMPTS = 30;

async function perform(kube: Kube, store: Store, item: OutboxItem, at: number): Promise<void> {
  const p = item.payload;
  switch (item.kind) {
    case 'revoke-token': {
      const id = String(p.tokenId);
      try {
        await kube.core.deleteNamespacedSecret({ namespace: TOKEN_NAMESPACE, name: tokenSecretName(id) });
      } catch (e) {
        if (!isNotFound(e)) throw e;
      }
      markTokenRevoked(store, id, at);
      return;
    }
    case 'describe-token': {
      const body = { data: { description: Buffer.from(String(p.description)).toString('base64') } };
      try {
        await kube.core.patchNamespacedSecret({ namespace: TOKEN_NAMESPACE, name: tokenSecretName(String(p.tokenId)), body }, mergePatch);
      } catch (e) {
        if (!isNotFound(e)) throw e; // already revoked: nothing left to describe
      }
      return;
    }
    case 'label-node': {
      const body = { metadata: { labels: p.labels as Record<string, string> } };
      await kube.core.patchNode({ name: String(p.node), body }, mergePatch);
      return;
    }
    default:
      throw new Error(`unknown outbox kind ${item.kind}`);
  }
}

/**
 * Runs what is due, oldest first. A transport failure (link trouble) stops the round: the rest
 * would fail the same way. Returns how many items completed.
 */
export async function drainOutbox(o: { store: Store; kube: Kube; now: () => number; log: CloudLog; retryBaseMs: number; maxRetryMs: number }): Promise<number> {
  let done = 0;
  for (const item of dueOutbox(o.store, o.now())) {
    try {
      await perform(o.kube, o.store, item, o.now());
      completeOutbox(o.store, item.id);
      done++;
    } catch (e) {
      const status = kubeStatus(e);
      const why = describeError(e);
      if (item.kind === 'label-node' && status?.code === 404 && item.attempts + 1 >= MAX_NODE_ATTEMPTS) {
        o.log.warn({ outbox: item.key, err: why }, 'outbox: giving up on a label patch for a Node that does not exist');
        completeOutbox(o.store, item.id);
        continue;
      }
      const wait = Math.min(o.retryBaseMs * 2 ** item.attempts, o.maxRetryMs);
      retryOutbox(o.store, item.id, why, o.now() + wait);
      o.log.info({ outbox: item.key, attempts: item.attempts + 1, err: why }, 'outbox: will retry');
      if (!status) break;
    }
  }
  return done;
}
