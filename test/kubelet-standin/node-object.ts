// The Node a kubelet registers and the status it reports, in the shape pkg/kubelet/nodestatus
// builds: default labels, addresses, capacity, nodeInfo and the four node conditions.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const rfc3339 = () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The labels the kubelet owns and re-asserts on an existing Node (updateDefaultLabels). */
export const defaultLabels = (hostname: string): Record<string, string> => ({
  'beta.kubernetes.io/arch': 'amd64',
  'beta.kubernetes.io/os': 'linux',
  'kubernetes.io/arch': 'amd64',
  'kubernetes.io/hostname': hostname,
  'kubernetes.io/os': 'linux',
});

function parseTaint(t: string): { key: string; value?: string; effect: string } {
  const [kv, effect] = t.split(':');
  const [key, value] = kv.split('=');
  return value === undefined ? { key, effect } : { key, value, effect };
}

export function initialNode(name: string, labels: Record<string, string>, taints: string[]): any {
  const node: any = {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: { ...labels, ...defaultLabels(name) },
      annotations: { 'volumes.kubernetes.io/controller-managed-attach-detach': 'true' },
    },
    spec: {},
  };
  if (taints.length) node.spec.taints = taints.map(parseTaint);
  return node;
}

function osImage(root: string): string {
  const f = join(root, 'etc/os-release');
  const pretty = existsSync(f) ? /^PRETTY_NAME="?([^"\n]*)"?/m.exec(readFileSync(f, 'utf8'))?.[1] : undefined;
  return pretty ?? 'Debian GNU/Linux 12 (bookworm)';
}

const condition = (type: string, status: string, reason: string, message: string, now: string) =>
  ({ type, status, lastHeartbeatTime: now, lastTransitionTime: now, reason, message });

export function nodeStatus(o: { root: string; hostname: string; nodeIp: string; ready: boolean; kubeletVersion: string }): any {
  const now = rfc3339();
  const resources = { cpu: '4', 'ephemeral-storage': '51287520Ki', 'hugepages-1Gi': '0', 'hugepages-2Mi': '0', memory: '8131452Ki', pods: '110' };
  const conditions = [
    condition('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available', now),
    condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure', now),
    condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available', now),
    o.ready
      ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status', now)
      : condition('Ready', 'False', 'KubeletNotReady', 'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized', now),
  ];
  return {
    capacity: resources,
    allocatable: { ...resources, 'ephemeral-storage': '47266578354', memory: '8029052Ki' },
    conditions,
    addresses: [{ type: 'InternalIP', address: o.nodeIp }, { type: 'Hostname', address: o.hostname }],
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      machineID: randomUUID().replace(/-/g, ''),
      systemUUID: randomUUID(),
      bootID: randomUUID(),
      kernelVersion: '6.1.0-28-amd64',
      osImage: osImage(o.root),
      containerRuntimeVersion: 'containerd://1.6.20',
      kubeletVersion: o.kubeletVersion,
      kubeProxyVersion: '',
      operatingSystem: 'linux',
      architecture: 'amd64',
    },
  };
}

/** The kubelet's status update: a strategic merge patch with the conditions' order pinned. */
export function statusPatch(status: any): any {
  return {
    status: {
      '$setElementOrder/addresses': status.addresses.map((a: any) => ({ type: a.type })),
      '$setElementOrder/conditions': status.conditions.map((c: any) => ({ type: c.type })),
      ...status,
    },
  };
}
