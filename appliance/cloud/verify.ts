// What the API side says about one node, in words staff can act on: what was seen, and what to do
// about it. A Running konnectivity-agent proves nothing by itself: only
// `GET /api/v1/nodes/<node>/proxy/healthz` through the API server shows the tunnel reaches the
// node's kubelet, and each API server replica has its own konnectivity-server, so the check is
// repeated once per replica.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { CheckResult } from '../store/enrollment-checks.ts';
import { describeError, type Kube } from './kube.ts';

export const AGENT_NAMESPACE = 'kube-system';
export const AGENT_SELECTOR = 'k8s-app=konnectivity-agent';

export type Finding = Pick<CheckResult, 'status' | 'detail' | 'fix'>;

const KUBELET_LOG = 'Read the kubelet\'s log on the node (journalctl -u kubelet) and check the container runtime (systemctl status containerd)';
const CNI_POD = (node: string): string => `check that the CNI plugin's pod on this node runs (kubectl -n kube-system get pods -o wide --field-selector spec.nodeName=${node})`;
const AGENT_REACH = (pod: string): string => `Check that the node can reach the konnectivity server's port (usually 8132) and read the agent's log (kubectl -n ${AGENT_NAMESPACE} logs ${pod})`;

export function readiness(node: V1Node): Finding {
  const name = node.metadata?.name ?? '';
  const c = node.status?.conditions?.find((x) => x.type === 'Ready');
  if (!c) return { status: 'pending', detail: `Node ${name} has registered but reported no Ready condition yet`, fix: 'If it stays so, the kubelet\'s log on the node says why (journalctl -u kubelet)' };
  const said = `${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`;
  if (c.status === 'True') return { status: 'ok', detail: `Node ${name} is Ready${said}`, fix: null };
  // Unknown is the node lifecycle controller's verdict: the kubelet stopped posting its status.
  if (c.status === 'Unknown') {
    return { status: 'failing', detail: `Node ${name}'s readiness is Unknown${said}`, fix: 'Check that the machine is powered on, that the kubelet runs (systemctl status kubelet) and that the node reaches the API server' };
  }
  const network = /network|cni/i.test(c.message ?? '');
  return { status: 'failing', detail: `Node ${name} is not Ready${said}`, fix: network ? `The pod network is not up: ${CNI_POD(name)}` : KUBELET_LOG };
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

export function agentPodState(pod: V1Pod | undefined, node: string): Finding {
  if (!pod) {
    return {
      status: 'pending', detail: `No konnectivity-agent pod for node ${node} yet: the DaemonSet has not placed one there`,
      fix: `If none appears within a minute, check the DaemonSet's node selector and tolerations (kubectl -n ${AGENT_NAMESPACE} get daemonset konnectivity-agent -o yaml)`,
    };
  }
  const name = pod.metadata?.name ?? 'konnectivity-agent';
  const phase = pod.status?.phase ?? 'Unknown';
  const waiting = pod.status?.containerStatuses?.find((c) => c.state?.waiting)?.state?.waiting?.reason;
  if (phase === 'Running') {
    const ready = pod.status?.containerStatuses?.every((c) => c.ready) ?? true;
    if (ready) return { status: 'ok', detail: `${name} is running on ${node}`, fix: null };
    return { status: 'failing', detail: `konnectivity-agent ${name} on ${node} is running but not ready${waiting ? ` (${waiting})` : ''}: it has not connected to the konnectivity server yet`, fix: AGENT_REACH(name) };
  }
  if (phase === 'Pending') {
    if (waiting && /ErrImagePull|ImagePullBackOff|InvalidImageName/.test(waiting)) {
      const image = pod.spec?.containers?.[0]?.image ?? 'its image';
      return { status: 'failing', detail: `konnectivity-agent on ${node} is Pending (${waiting})`, fix: `The node cannot pull ${image}: check its access to the registry (or containerd's mirror and proxy settings)` };
    }
    return { status: 'pending', detail: `konnectivity-agent on ${node} is Pending${waiting ? ` (${waiting})` : ''}: the node's CNI (pod network) is not up yet`, fix: `If it stays Pending, ${CNI_POD(node)}` };
  }
  return { status: 'failing', detail: `konnectivity-agent ${name} on ${node} is ${phase}`, fix: `Read the pod's events and log (kubectl -n ${AGENT_NAMESPACE} describe pod ${name})` };
}

/** A node-proxy answer other than the kubelet's `ok`, from the texts the API server really returns. */
export function tunnelFailure(node: string, agentPod: string, status: number, body: string): Finding {
  let message = body;
  try { message = (JSON.parse(body) as { message?: string }).message ?? body; } catch { /* not a Status */ }
  message = message.trim().slice(0, 300);
  if (/No agent available/i.test(message)) {
    return { status: 'failing', detail: `No agent available: the konnectivity agent on ${node} is not connected to the control plane's konnectivity server`, fix: AGENT_REACH(agentPod) };
  }
  if (/i\/o timeout/i.test(message)) {
    return { status: 'failing', detail: `i/o timeout: the konnectivity agent on ${node} is connected but cannot reach the node's kubelet`, fix: 'Check that the kubelet listens on port 10250 at the node IP and that no host firewall blocks it' };
  }
  const fix = status === 401 || status === 403
    ? 'Tether\'s credentials must be allowed to get nodes/proxy (the tenant\'s admin kubeconfig is)'
    : 'Read the konnectivity agent\'s log on the node and the API server\'s answer above';
  return { status: 'failing', detail: `Node proxy healthz through the API server failed for ${node} (HTTP ${status}): ${message || 'no message'}`, fix };
}

/**
 * healthz through the API server once per replica, one finding per request. The replicas sit behind
 * the tenant's load balancer, so which replica answered request i is the balancer's choice: the
 * findings say what each request returned, not which server it reached.
 */
export async function checkTunnel(kube: Kube, node: string, agentPod: string, replicas: number): Promise<Finding[]> {
  const out: Finding[] = [];
  while (out.length < replicas) {
    let r: { status: number; body: string };
    try {
      r = await kube.raw(`/api/v1/nodes/${encodeURIComponent(node)}/proxy/healthz`);
    } catch (e) {
      out.push({ status: 'unknown', detail: `The request did not reach the API server: ${describeError(e)}`, fix: null });
      // The rest would only wait for the same deadline.
      while (out.length < replicas) out.push({ status: 'unknown', detail: 'Not asked: the request before it did not reach the API server', fix: null });
      break;
    }
    out.push(r.status === 200 && r.body.trim() === 'ok' ? { status: 'ok', detail: 'Node proxy healthz through the API server answered ok', fix: null } : tunnelFailure(node, agentPod, r.status, r.body));
  }
  const ok = out.filter((f) => f.status === 'ok').length;
  if (ok === 0 || ok === out.length) return out;
  // Some replicas reach the node and others do not: the agent holds tunnels to some servers only.
  // It learns how many to hold from the servers' --server-count and dials through the balancer
  // until it has that many.
  const partly = `${ok} of ${replicas} requests reached the node, so the agent is connected to some of the ${replicas} konnectivity servers only: check that the servers run with --server-count=${replicas} and that the agent's log shows a connection to each (it dials them through the load balancer on port 8132)`;
  return out.map((f) => (f.status === 'failing' && f.detail.startsWith('No agent available') ? { ...f, fix: partly } : f));
}
