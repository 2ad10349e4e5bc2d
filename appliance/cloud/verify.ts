// What the API side says about one node, in words staff can act on. A Running konnectivity-agent
// proves nothing by itself: only `GET /api/v1/nodes/<node>/proxy/healthz` through the API server
// shows the tunnel reaches the node's kubelet, and each API server replica has its own
// konnectivity-server, so the check is repeated once per replica.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { describeError, type Kube } from './kube.ts';

export const AGENT_NAMESPACE = 'kube-system';
export const AGENT_SELECTOR = 'k8s-app=konnectivity-agent';

export function nodeReadiness(node: V1Node): { ready: boolean; why: string } {
  const c = node.status?.conditions?.find((x) => x.type === 'Ready');
  if (!c) return { ready: false, why: `Node ${node.metadata?.name} has registered but reported no Ready condition yet` };
  if (c.status === 'True') return { ready: true, why: 'Ready' };
  return { ready: false, why: `Node ${node.metadata?.name} is not Ready${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}` };
}

/**
 * The agent pod that belongs to a node. A scheduled pod has spec.nodeName; a DaemonSet pod that
 * is still Pending may not, but the DaemonSet pins it with a required node affinity on the
 * field metadata.name — so match both (a field selector on spec.nodeName would miss it).
 */
export function agentPodFor(pods: readonly V1Pod[], node: string): V1Pod | undefined {
  const pinned = (p: V1Pod): boolean => (p.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [])
    .some((t) => (t.matchFields ?? []).some((f) => f.key === 'metadata.name' && f.operator === 'In' && (f.values ?? []).includes(node)));
  const mine = pods.filter((p) => p.spec?.nodeName === node || (!p.spec?.nodeName && pinned(p)));
  // Prefer the one that is running (a rollout can leave an old one terminating beside it).
  return mine.find((p) => p.status?.phase === 'Running' && !p.metadata?.deletionTimestamp) ?? mine[0];
}

/** Null when the agent pod is Running; otherwise what is wrong, for the machine's reason. */
export function agentPodProblem(pod: V1Pod | undefined, node: string): string | null {
  if (!pod) return `No konnectivity-agent pod for node ${node} yet: the DaemonSet has not placed one there (check its node selector and tolerations)`;
  const phase = pod.status?.phase ?? 'Unknown';
  if (phase === 'Running') {
    const ready = pod.status?.containerStatuses?.every((c) => c.ready) ?? true;
    return ready ? null : `konnectivity-agent ${pod.metadata?.name} on ${node} is running but not ready: it has not connected to the konnectivity server yet`;
  }
  if (phase === 'Pending') {
    const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting?.reason;
    return `konnectivity-agent on ${node} is Pending${waiting ? ` (${waiting})` : ''}: the node's CNI (pod network) is not up yet`;
  }
  return `konnectivity-agent ${pod.metadata?.name} on ${node} is ${phase}`;
}

/** The staff-facing words for a node-proxy failure, from the texts the API server really returns. */
export function tunnelProblem(node: string, status: number | null, body: string): string {
  let message = body;
  try { message = (JSON.parse(body) as { message?: string }).message ?? body; } catch { /* not a Status */ }
  message = message.trim().slice(0, 300);
  if (/No agent available/i.test(message)) {
    return `No agent available: the konnectivity agent on ${node} is not connected to the control plane's konnectivity server (check that the node can reach the server's port, usually 8132, and the agent's logs)`;
  }
  if (/i\/o timeout/i.test(message)) {
    return `i/o timeout: the konnectivity agent on ${node} is connected but cannot reach the node's kubelet (check the kubelet is listening on port 10250 at the node IP and no host firewall blocks it)`;
  }
  return `Node proxy healthz through the API server failed for ${node}${status ? ` (HTTP ${status})` : ''}: ${message || 'no message'}`;
}

/** healthz through the API server once per replica; the first failure is the answer. */
export async function checkTunnel(kube: Kube, node: string, replicas: number): Promise<{ ok: true } | { ok: false; reason: string; transport: boolean }> {
  for (let i = 0; i < replicas; i++) {
    let r: { status: number; body: string };
    try {
      r = await kube.raw(`/api/v1/nodes/${encodeURIComponent(node)}/proxy/healthz`);
    } catch (e) {
      return { ok: false, reason: `the tunnel check could not reach the API server: ${describeError(e)}`, transport: true };
    }
    if (r.status !== 200 || r.body.trim() !== 'ok') return { ok: false, reason: tunnelProblem(node, r.status, r.body), transport: false };
  }
  return { ok: true };
}
