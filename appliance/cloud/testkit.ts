// Shared by the cloud link's tests: Debian's real kubectl (1.20, unpacked, never the one on PATH),
// a throwaway CA made by openssl, a fresh store with a machine in a given state, a silent log, and
// Kubernetes objects in the shapes the real API server returns (the API double's fixtures).
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { unpackDeb } from '../../images/debian/debs.ts';
import { Store } from '../store/store.ts';
import { discover } from '../lifecycle/lifecycle.ts';
import type { MachineState } from '../lifecycle/states.ts';
import type { CloudLog } from './log.ts';
import type { FastifyInstance } from 'fastify';
import { startKubeApiDouble, type KubeApiDouble } from '../../test/kube-api-double/server.ts';
import { configFrom } from '../config/load.ts';
import { buildApp } from '../http/app.ts';
import { createCloud, type Cloud } from './cloud.ts';
import { waitFor } from '../../test/lib/wait.ts';

export async function debianKubectl(): Promise<string> {
  const { root } = await unpackDeb('kubernetes-client', join(process.cwd(), '.cache', 'debs'));
  return join(root, 'usr', 'bin', 'kubectl');
}

export async function opensslCa(dir: string, cn = 'kubernetes'): Promise<string> {
  await execa('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'ca.key'), '-out', join(dir, 'ca.crt'), '-subj', `/CN=${cn}`, '-days', '2'], { cwd: dir });
  return readFileSync(join(dir, 'ca.crt'), 'utf8');
}

export function tempDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A machine placed directly in `state` (the test setup event is the store's, not a lifecycle move). */
export function machineIn(store: Store, state: MachineState, n: number, o: { hostname?: string; zone?: string; rack?: string } = {}): string {
  const mac = `02:00:00:00:${(n >> 8).toString(16).padStart(2, '0')}:${(n & 255).toString(16).padStart(2, '0')}`;
  const { machine } = discover(store, { mac, actor: 'dhcp', zone: o.zone ?? 'zone-a', rack: o.rack ?? null, hostname: o.hostname ?? null });
  if (state !== 'discovered') store.transition(machine.id, () => ({ to: state, actor: 'system', reason: 'test setup' }));
  return machine.id;
}

export const silentLog: CloudLog = { debug() {}, info() {}, warn() {}, error() {} };

/** A log that keeps what was said, for printing when a test fails. */
export function recordingLog(): CloudLog & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (obj: object, msg?: string) => { lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`); };
  return { lines, debug: rec('debug'), info: rec('info'), warn: rec('warn'), error: rec('error') };
}

export { waitFor };

/**
 * Starts the cloud, lets the link come up so the CA and kubelet-config are cached, then takes the
 * API server away: an appliance installing offline with what it read before.
 */
export async function cachedThenDown(cloud: Cloud, double: KubeApiDouble): Promise<void> {
  cloud.start();
  await waitFor('the link to come up', () => cloud.link().state === 'up');
  await cloud.sync();
  double.fault({ kind: 'down' });
  await waitFor('the link to be down', () => cloud.link().state === 'down' && cloud.link().known);
}

export interface OfflineAppliance {
  double: KubeApiDouble; store: Store; cloud: Cloud; app: FastifyInstance; dir: string; log: CloudLog & { lines: string[] };
  close(): Promise<void>;
}

/**
 * An appliance with a cloud link that was up once (CA and kubelet-config cached) and is down now,
 * and no token pool: what an install sees when it can get no join files. `beforeReady` adds hooks
 * or routes while fastify still allows it.
 */
export async function offlineAppliance(prefix: string, o: { beforeReady?: (app: FastifyInstance) => void | Promise<void> } = {}): Promise<OfflineAppliance> {
  const double = await startKubeApiDouble({ replicas: 1 });
  const { dir, cleanup } = tempDir(prefix);
  const kubeconfig = join(dir, 'tenant.kubeconfig');
  writeFileSync(kubeconfig, double.kubeconfig());
  const store = Store.open(join(dir, 'tether.db'));
  const log = recordingLog();
  const dataDir = join(dir, 'data');
  const config = configFrom({ site: 'dc1', dataDir, zones: [{ name: 'zone-a' }], cloud: { kubeconfig, pool: { size: 0 } } });
  const cloud = createCloud({ store, config, log, dataDir, timing: FAST });
  const app = await buildApp({ config, store, cloud });
  await o.beforeReady?.(app);
  await app.ready();
  await cachedThenDown(cloud, double);
  return {
    double, store, cloud, app, dir, log,
    close: async () => { await app.close(); await cloud.stop(); store.close(); await double.close(); cleanup(); },
  };
}

/** Short intervals for tests: probes every 100 ms, down after 2 misses, rounds every 100 ms. */
export const FAST = { probeMs: 100, probeTimeoutMs: 2000, maxBackoffMs: 400, downAfter: 2, verifyMs: 100, tunnelRecheckMs: 60_000, cacheMs: 60_000 };

/** A response body from the API double's fixtures (test/kube-api-double/fixtures/shapes). */
export function fixture<T = unknown>(name: string): T {
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'test', 'kube-api-double', 'fixtures', 'shapes', name), 'utf8')) as T;
}

/** The fixture Node (`worker-1`, or `name`) with its Ready condition as given; null = none reported yet. */
export function nodeWithReady(status: 'True' | 'False' | 'Unknown' | null, reason?: string, message?: string, name = 'worker-1'): V1Node {
  const n = fixture<V1Node & { metadata: { name: string }; status: { conditions: object[] } }>('node.json');
  n.metadata.name = name;
  n.metadata.labels = { ...n.metadata.labels, 'kubernetes.io/hostname': name };
  n.status.conditions = n.status.conditions.filter((c) => (c as { type: string }).type !== 'Ready');
  if (status) n.status.conditions.push({ type: 'Ready', status, lastHeartbeatTime: '2025-01-14T10:02:17Z', lastTransitionTime: '2025-01-14T09:13:05Z', reason, message });
  return n;
}

/**
 * The konnectivity-agent DaemonSet's pod for a node. Unscheduled Pending pods are pinned by node
 * affinity and have no nodeName; a bound one waiting for its container (`waiting`) has one.
 */
export function agentPod(node: string, phase: 'Pending' | 'Running', o: { waiting?: string; ready?: boolean } = {}): V1Pod {
  const image = 'registry.k8s.io/kas-network-proxy/proxy-agent:v0.31.0';
  const bound = phase === 'Running' || o.waiting !== undefined;
  const ready = phase === 'Running' && (o.ready ?? true);
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: `konnectivity-agent-${node}`, namespace: 'kube-system', labels: { 'k8s-app': 'konnectivity-agent' } },
    spec: {
      ...(bound ? { nodeName: node } : {}),
      affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }] } } },
      containers: [{ name: 'konnectivity-agent', image }],
    },
    status: {
      phase,
      ...(bound ? {
        containerStatuses: [{
          name: 'konnectivity-agent', ready, restartCount: 0, image, imageID: phase === 'Running' ? `${image}@sha256:0d1e` : '',
          state: o.waiting ? { waiting: { reason: o.waiting } } : { running: { startedAt: new Date('2025-01-14T09:14:02Z') } },
        }],
      } : {}),
    },
  };
}
