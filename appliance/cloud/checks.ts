// The enrollment checks staff read on a machine's page, in the order enrollment goes: the Node
// registered, it is Ready, its konnectivity agent runs, and the cloud reaches it through the tunnel
// once per API server replica. A check that waits for an earlier one is pending, never guessed.
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { CheckResult, CheckStatus, EnrollmentCheck, StoredChecks } from '../store/enrollment-checks.ts';
import type { LinkStatus } from './link.ts';
import { agentPodState, readiness, type Finding } from './verify.ts';

export interface Observed {
  nodeName: string;
  node: V1Node | undefined;
  /** While the machine waits for its Node: the bootstrap token in its join files. Null once it registered. */
  joining: { tokenId: string | null; tokenExpiresAt: number | null } | null;
  /** The node's konnectivity-agent pod (agentPodFor), if the DaemonSet placed one. */
  agentPod: V1Pod | undefined;
  now: number;
}

const WAITS_FOR_NODE: Finding = { status: 'pending', detail: 'Checked once the Node has registered', fix: null };

/** Node registered, Ready, agent running; the tunnel is worth asking only when all three are ok. */
export function nodeChecks(o: Observed): CheckResult[] {
  const name = o.nodeName;
  return [
    { id: 'node-registered', title: 'Node registered with the cluster', ...registration(o) },
    { id: 'node-ready', title: 'Node is Ready', ...(o.node ? readiness(o.node) : WAITS_FOR_NODE) },
    { id: 'agent-pod', title: 'Tunnel agent (konnectivity-agent) runs on the node', ...(o.node ? agentPodState(o.agentPod, name) : WAITS_FOR_NODE) },
  ];
}

/** One check per API server replica; `answers` null when the tunnel was not asked. */
export function tunnelChecks(replicas: number, answers: readonly Finding[] | null): CheckResult[] {
  return Array.from({ length: replicas }, (_, i) => ({
    id: `tunnel-${i + 1}`,
    title: `Cloud reaches the node through the tunnel (request ${i + 1} of ${replicas})`,
    ...(answers?.[i] ?? { status: 'pending', detail: 'Asked once the Node is Ready and its konnectivity agent runs', fix: null }),
  }));
}

function registration(o: Observed): Finding {
  const name = o.nodeName;
  if (o.node) return { status: 'ok', detail: `Node ${name} exists in the cluster`, fix: null };
  if (!o.joining) return { status: 'failing', detail: `Node ${name} no longer exists in the cluster (deleted?)`, fix: 'Reinstall the machine to enroll it again' };
  const { tokenId, tokenExpiresAt } = o.joining;
  if (tokenExpiresAt !== null && tokenExpiresAt <= o.now) {
    return { status: 'failing', detail: `The bootstrap token ${tokenId} expired before the kubelet registered Node ${name}`, fix: 'Reinstall the machine to give it a new token' };
  }
  return {
    status: 'pending', detail: `Waiting for the kubelet on ${name} to register its Node (TLS bootstrap${tokenId ? ` with token ${tokenId}` : ''})`,
    fix: 'If it takes more than a few minutes, the kubelet\'s log on the node says why (journalctl -u kubelet): it must reach the API server and have its bootstrap token accepted',
  };
}

/** The machine's state reason for a check that is not ok: what was seen, then what to do. */
export function reasonOf(c: Pick<CheckResult, 'detail' | 'fix'>): string {
  return c.fix ? `${c.detail}. ${c.fix}` : c.detail;
}

export interface ReportedCheck extends EnrollmentCheck {
  /** What the last real check found; `status` is unknown instead while the link is down. */
  seen: CheckStatus;
}

export interface EnrollmentReport {
  machineId: string;
  nodeName: string | null;
  /** The last real check; null when the machine was never checked. */
  checkedAt: number | null;
  link: LinkStatus;
  checks: ReportedCheck[];
}

/**
 * The stored checks as they stand now. While the link is down nothing can be checked: every check
 * is unknown since the link went down, and keeps what the last real check saw and when.
 */
export function enrollmentReport(machineId: string, nodeName: string | null, stored: StoredChecks | undefined, link: LinkStatus): EnrollmentReport {
  const blind = link.state === 'down';
  return {
    machineId,
    nodeName: stored?.nodeName ?? nodeName,
    checkedAt: stored?.checkedAt ?? null,
    link,
    checks: (stored?.checks ?? []).map((c) => (blind ? { ...c, status: 'unknown', seen: c.status, since: link.since } : { ...c, seen: c.status })),
  };
}
