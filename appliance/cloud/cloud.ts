// The cloud link: the only part of Tether that talks to Kubernetes. It probes the tenant API
// server, keeps the token pool, hands join files to machines being installed, and watches each
// node from the API side until it is Ready through the Konnectivity tunnel, moving machines
// through the lifecycle as the actor `cloud`. Nothing starts at import; start() starts the timers
// (unref'd), stop() ends them and closes connections.
import { join } from 'node:path';
import type { V1Node, V1Pod } from '@kubernetes/client-node';
import type { StagedFile } from '../../agent/protocol.ts';
import type { TetherConfig } from '../config/schema.ts';
import type { Machine, Store } from '../store/store.ts';
import { IllegalTransitionError, transition } from '../lifecycle/lifecycle.ts';
import type { MachineState } from '../lifecycle/states.ts';
import {
  enqueueOutbox, getBootstrapToken, getCloudCache, getEnrollment, machinesToVerify, outboxStats, putCloudCache, recordEnrolled,
  recordInstalled, recordJoinDeferred, recordJoinReleased, revokeMachineTokens, setStateReason, type Enrollment,
} from '../store/cloud.ts';
import { connect, type Connection } from './connection.ts';
import { joinFiles, nodeLabels, nodeNameFor } from './join.ts';
import { describeError, isNotFound, kubeFrom, loadKubeconfig, type Kube } from './kube.ts';
import { clearEnrollmentChecks, getEnrollmentChecks, saveEnrollmentChecks } from '../store/enrollment-checks.ts';
import { enrollmentReport, nodeChecks, reasonOf, tunnelChecks, type EnrollmentReport } from './checks.ts';
import { createLink, type LinkStatus, type ProbeResult } from './link.ts';
import type { CloudLog } from './log.ts';
import { drainOutbox } from './outbox.ts';
import { createPool, type PoolStatus } from './pool.ts';
import { loadOrCreateKey, sealerFromKey, type Sealer } from './sealed.ts';
import { AGENT_NAMESPACE, AGENT_SELECTOR, agentPodFor, checkTunnel } from './verify.ts';

export interface CloudTiming {
  probeMs: number;
  probeTimeoutMs: number;
  maxBackoffMs: number;
  downAfter: number;
  verifyMs: number;
  /** How often a ready node's tunnel is checked again. */
  tunnelRecheckMs: number;
  /** How long the cached kubelet-config is trusted before it is read again (link up). */
  cacheMs: number;
}

export interface CloudStatus {
  configured: boolean;
  link: LinkStatus & { server: string | null; source: Connection['source'] | null; replicas: number | null; tenantControlPlane: Connection['tenantControlPlane'] };
  pool: PoolStatus;
  outbox: { length: number; oldestAt: number | null; lastError: string | null };
}

export interface JoinOptions { nodeIp: string | null; zone: string | null; rack: string | null }

export interface Cloud {
  readonly configured: boolean;
  start(): void;
  stop(): Promise<void>;
  link(): LinkStatus;
  poolStatus(): PoolStatus;
  status(): CloudStatus;
  /** Join files for a machine being installed; null when none can be had now (see DESIGN notes in the method). */
  joinFilesFor(machine: Machine, o: JoinOptions): Promise<StagedFile[] | null>;
  /** The installed OS phoned home: with join files released, the machine is joining. */
  onInstalled(machineId: string): void;
  nodeNameFor(machine: Pick<Machine, 'id' | 'hostname'>): string;
  /** Run a work round (outbox, pool, verification) now; resolves when it is done. */
  sync(): Promise<void>;
  /** The machine's latest enrollment checks as they stand with the link now (NotFoundError for no such machine). */
  enrollment(idOrMac: string): EnrollmentReport;
}

export class JoinRefusedError extends Error {
  constructor(message: string) { super(message); this.name = 'JoinRefusedError'; }
}

const VERIFY_STATES: readonly MachineState[] = ['installed', 'joining', 'enrolled', 'ready', 'headless'];
const CACHE_SERVER = 'server';
const CACHE_CA = 'ca.crt';
const CACHE_KUBELET = 'kubelet-config';

export function timingFrom(cfg: TetherConfig['cloud']): CloudTiming {
  return {
    probeMs: cfg.probeSeconds * 1000,
    probeTimeoutMs: cfg.probeTimeoutSeconds * 1000,
    maxBackoffMs: cfg.maxBackoffSeconds * 1000,
    downAfter: cfg.downAfterFailures,
    verifyMs: cfg.verifySeconds * 1000,
    tunnelRecheckMs: Math.max(cfg.verifySeconds * 10, 300) * 1000,
    cacheMs: 5 * 60_000,
  };
}

/** The AES-256 key that seals pooled token secrets: beside the database, never inside it. */
export const tokenKeyPath = (dataDir: string): string => join(dataDir, 'keys', 'bootstrap-tokens.key');

export function isCloudConfigured(cfg: TetherConfig['cloud']): boolean {
  return Boolean(cfg.kubeconfig || (cfg.managementKubeconfig && cfg.tenantControlPlane));
}

export function createCloud(o: {
  store: Store;
  config: TetherConfig;
  log: CloudLog;
  dataDir: string;
  now?: () => number;
  timing?: Partial<CloudTiming>;
}): Cloud {
  const { store, log } = o;
  const cfg = o.config.cloud;
  const now = o.now ?? Date.now;
  const timing: CloudTiming = { ...timingFrom(cfg), ...o.timing };
  const configured = isCloudConfigured(cfg);
  // The key file is made on first use, so an appliance without a cloud link never has one.
  let sealerOnce: Sealer | null = null;
  const sealed = (): Sealer => (sealerOnce ??= sealerFromKey(loadOrCreateKey(tokenKeyPath(o.dataDir))));
  const sealer: Sealer = { seal: (p, aad) => sealed().seal(p, aad), open: (s, aad) => sealed().open(s, aad) };
  const pool = createPool({
    store, sealer, now, log, site: o.config.site, size: cfg.pool.size, ttlMs: cfg.pool.ttlHours * 3_600_000, tokenTtlMs: cfg.tokenTtlMinutes * 60_000,
  });

  let conn: Connection | null = null;
  let kube: Kube | null = null;
  let stopped = true;
  let workTimer: NodeJS.Timeout | null = null;
  let working: Promise<void> | null = null;
  let queued: Promise<void> | null = null;
  const lastTunnelOk = new Map<string, number>();
  const perMachine = new Map<string, Promise<unknown>>();

  // --- connection and probes -----------------------------------------------------------------

  async function ensureKube(): Promise<Kube> {
    if (kube) return kube;
    const c = await connect(cfg, { timeoutMs: timing.probeTimeoutMs });
    conn = c;
    kube = kubeFrom(c.kc, { timeoutMs: timing.probeTimeoutMs });
    putCloudCache(store, CACHE_SERVER, c.server, now());
    if (c.caPem) putCloudCache(store, CACHE_CA, c.caPem, now());
    return kube;
  }

  async function dropKube(): Promise<void> {
    const k = kube;
    kube = null;
    await k?.close();
  }

  async function probe(): Promise<ProbeResult> {
    let k: Kube;
    try { k = await ensureKube(); } catch (e) { return { reachable: false, healthy: false, version: null, error: `cannot reach the cluster: ${describeError(e)}` }; }
    const [ready, version] = await Promise.allSettled([k.raw('/readyz'), k.raw('/version')]);
    const reachable = ready.status === 'fulfilled' || version.status === 'fulfilled';
    if (!reachable) return { reachable, healthy: false, version: null, error: describeError((ready as PromiseRejectedResult).reason) };
    const problems: string[] = [];
    let gitVersion: string | null = null;
    if (ready.status === 'rejected') problems.push(`/readyz: ${describeError(ready.reason)}`);
    else if (ready.value.status !== 200) problems.push(`/readyz answered ${ready.value.status}: ${firstLine(ready.value.body)}`);
    if (version.status === 'rejected') problems.push(`/version: ${describeError(version.reason)}`);
    else if (version.value.status !== 200) problems.push(`/version answered ${version.value.status}: ${firstLine(version.value.body)}`);
    else {
      try { gitVersion = (JSON.parse(version.value.body) as { gitVersion?: string }).gitVersion ?? null; } catch { problems.push('/version did not answer JSON'); }
    }
    const refused = [ready, version].some((r) => r.status === 'fulfilled' && (r.value.status === 401 || r.value.status === 403));
    if (refused) {
      problems.unshift('the API server refused Tether\'s credentials (check the kubeconfig; a rotated admin kubeconfig is read again)');
      // Through a TenantControlPlane the admin kubeconfig may have been rotated: read it again next time.
      if (conn?.source === 'tenant-control-plane') await dropKube();
    }
    return { reachable, healthy: problems.length === 0, version: gitVersion, error: problems.length ? problems.join('; ') : null };
  }

  const link = createLink({
    store,
    now,
    timing: { probeMs: timing.probeMs, maxBackoffMs: timing.maxBackoffMs, downAfter: timing.downAfter },
    probe,
    onChange(prev, next) {
      log.info({ from: prev.state, to: next.state, err: next.lastError }, 'cloud link changed');
      if (next.state !== 'down') kick();
    },
    onProbe(s) {
      if (s.state === 'down' && s.known) goHeadless(s);
    },
  });

  const usable = (s: LinkStatus = link.status()): boolean => s.state === 'up' || s.state === 'degraded';

  // --- lifecycle moves -------------------------------------------------------------------------

  function move(machineId: string, to: MachineState, from: readonly MachineState[], reason: string, data?: Record<string, unknown>): boolean {
    try {
      transition(store, machineId, to, { actor: 'cloud', reason, data, expectFrom: from });
      return true;
    } catch (e) {
      if (e instanceof IllegalTransitionError) return false; // moved by someone else meanwhile
      throw e;
    }
  }

  function goHeadless(s: LinkStatus): void {
    for (const m of machinesToVerify(store, ['enrolled', 'ready'])) {
      move(m.machineId, 'headless', ['enrolled', 'ready'], `Cloud link down since ${new Date(s.since).toISOString()} (${s.lastError ?? 'unreachable'}): the node keeps running its pods; Tether checks it again when the link returns`, { was: m.state });
    }
  }

  // --- the offline cache ---------------------------------------------------------------------

  async function refreshCache(k: Kube, force = false): Promise<void> {
    const cached = getCloudCache(store, CACHE_KUBELET);
    if (!force && cached && now() - cached.updatedAt < timing.cacheMs && getCloudCache(store, CACHE_CA)) return;
    if (!getCloudCache(store, CACHE_CA)) {
      // No CA in the kubeconfig: the cluster publishes it in kube-public/cluster-info.
      const ci = await k.core.readNamespacedConfigMap({ namespace: 'kube-public', name: 'cluster-info' });
      const ca = ci.data?.kubeconfig ? loadKubeconfig({ yaml: ci.data.kubeconfig }).getCurrentCluster()?.caData : undefined;
      if (ca) putCloudCache(store, CACHE_CA, Buffer.from(ca, 'base64').toString(), now());
    }
    try {
      const cm = await k.core.readNamespacedConfigMap({ namespace: 'kube-system', name: 'kubelet-config' });
      const body = cm.data?.kubelet;
      if (body) putCloudCache(store, CACHE_KUBELET, body, now());
      else log.warn({}, 'kube-system/kubelet-config has no "kubelet" key');
    } catch (e) {
      if (!isNotFound(e)) throw e;
      log.warn({}, 'kube-system/kubelet-config does not exist: join files cannot be made (is this a kubeadm/Kamaji cluster?)');
    }
  }

  function cachedJoinInputs(): { server: string; caPem: string; kubeletConfig: string } | null {
    const server = getCloudCache(store, CACHE_SERVER)?.value;
    const caPem = getCloudCache(store, CACHE_CA)?.value;
    const kubeletConfig = getCloudCache(store, CACHE_KUBELET)?.value;
    return server && caPem && kubeletConfig ? { server, caPem, kubeletConfig } : null;
  }

  // --- join files ----------------------------------------------------------------------------

  /** One join at a time per machine: a retried request waits for the first instead of racing it. */
  function serialized<T>(machineId: string, fn: () => Promise<T>): Promise<T> {
    const prev = perMachine.get(machineId) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    perMachine.set(machineId, next);
    void next.catch(() => {}).finally(() => { if (perMachine.get(machineId) === next) perMachine.delete(machineId); });
    return next;
  }

  async function joinFilesFor(machine: Machine, jo: JoinOptions): Promise<StagedFile[] | null> {
    if (!configured) return null;
    return serialized(machine.id, async () => {
      const m = store.mustGetMachine(machine.id);
      const e = getEnrollment(store, m.id);
      // Only an approved machine being installed gets a credential — or one that was installed while
      // none could be had (deferred) and now asks again over its authenticated phone-home channel.
      const deferredRetry = m.state === 'installed' && e?.deferredAt != null && e.releasedAt == null;
      if (m.state !== 'approved' && m.state !== 'installing' && !deferredRetry) {
        throw new JoinRefusedError(`machine ${m.id} is ${m.state}: join files go only to an approved machine that is being installed`);
      }
      const nodeName = nodeNameFor(m);
      // A new install enrolls afresh: the checks of the node it was before say nothing about it.
      clearEnrollmentChecks(store, m.id);
      const s = link.status();
      if (usable(s) && kube) {
        try { await refreshCache(kube); } catch (err) { log.warn({ err: describeError(err) }, 'could not refresh the join cache; using what is cached'); }
      }
      const inputs = cachedJoinInputs();
      const token = inputs ? await pool.take(m, nodeName, usable(s) ? kube : null) : null;
      if (!inputs || !token) {
        // An installed node asking again (it polls) stays deferred as it was, with no new event while nothing changed.
        if (!deferredRetry) recordJoinDeferred(store, m.id, nodeName, now());
        const why = !inputs
          ? 'the cluster CA and kubelet configuration have never been read (the cloud link has not been up since Tether started using it)'
          : `the cloud link is ${s.state} and the token pool is empty`;
        const reason = `No join files: ${why}. ${deferredRetry ? 'The installed node keeps asking for them' : 'The node will be installed without them and can fetch them once the link is back'}`;
        if (store.listEvents({ machineId: m.id, kind: 'enrollment', actor: 'cloud', limit: 1 })[0]?.reason !== reason) {
          store.appendEvent({ machineId: m.id, kind: 'enrollment', actor: 'cloud', reason, data: { nodeName } });
        }
        return null;
      }
      recordJoinReleased(store, m.id, nodeName, token.id, now());
      store.appendEvent({
        machineId: m.id, kind: 'enrollment', actor: 'cloud',
        reason: `Join files released for node ${nodeName} with bootstrap token ${token.id}${token.pooled ? ' from the pool' : ''}, valid until ${new Date(token.expiresAt).toISOString()}`,
        data: { nodeName, tokenId: token.id, pooled: token.pooled, expiresAt: token.expiresAt },
      });
      const files = joinFiles({
        nodeName, server: inputs.server, caPem: inputs.caPem, token, kubeletConfig: inputs.kubeletConfig, nodeIp: jo.nodeIp,
        labels: nodeLabels({ zone: jo.zone ?? m.zone, region: o.config.site, rack: jo.rack ?? m.rack }),
      });
      // A deferred node is already up from its disk: it starts its kubelet as soon as it has these.
      if (deferredRetry) onInstalled(m.id);
      return files;
    });
  }

  function onInstalled(machineId: string): void {
    if (!configured) return;
    const e = recordInstalled(store, machineId, now());
    const m = store.getMachine(machineId);
    if (!m || m.state !== 'installed') return;
    if (e?.releasedAt) {
      move(machineId, 'joining', ['installed'], `Installed OS is up with its join files: waiting for the kubelet to register Node ${e.nodeName}`, { nodeName: e.nodeName, tokenId: e.tokenId });
      kick();
    } else if (e?.deferredAt) {
      setStateReason(store, machineId, 'installed', 'Installed without join files: the cloud link was down and the token pool empty during the install. It joins once the link is back and the node fetches its files again', now());
    }
  }

  // --- verification ----------------------------------------------------------------------------

  async function verifyPass(k: Kube): Promise<void> {
    const list = machinesToVerify(store, VERIFY_STATES);
    for (const m of list.filter((x) => x.state === 'installed' && x.enrollment?.releasedAt && x.enrollment.installedAt)) onInstalled(m.machineId);
    // Ready nodes are looked at again only every tunnelRecheckMs: listing every Node of a large
    // cluster every few seconds for machines that are fine would cost the API server for nothing.
    const due = (id: string): boolean => now() - (lastTunnelOk.get(id) ?? 0) >= timing.tunnelRecheckMs;
    const watched = list.filter((x) => x.state !== 'installed' && (x.state !== 'ready' || due(x.machineId)));
    if (!watched.length) return;
    const [nodeList, podList] = await Promise.all([
      k.core.listNode(),
      k.core.listNamespacedPod({ namespace: AGENT_NAMESPACE, labelSelector: AGENT_SELECTOR }),
    ]);
    const nodes = new Map(nodeList.items.map((n) => [n.metadata?.name ?? '', n]));
    for (const m of watched) {
      const machine = store.getMachine(m.machineId);
      if (!machine) continue;
      const name = m.enrollment?.nodeName ?? nodeNameFor(machine);
      try {
        await verifyMachine(k, machine, name, m.enrollment, nodes.get(name), podList.items);
      } catch (e) {
        log.warn({ machine: m.machineId, node: name, err: describeError(e) }, 'verification of a machine failed; next round retries');
      }
    }
  }

  async function verifyMachine(k: Kube, machine: Machine, name: string, e: Enrollment | null, node: V1Node | undefined, pods: V1Pod[]): Promise<void> {
    let state = machine.state as MachineState;
    const id = machine.id;
    const token = state === 'joining' && !node && e?.tokenId ? getBootstrapToken(store, e.tokenId) : undefined;
    const pod = agentPodFor(pods, name);
    const base = nodeChecks({
      nodeName: name, node, agentPod: pod, now: now(),
      joining: state === 'joining' ? { tokenId: e?.tokenId ?? null, tokenExpiresAt: token?.expiresAt ?? null } : null,
    });
    const replicas = conn?.replicas ?? cfg.controlPlaneReplicas;
    // Through a node that is not Ready or has no running agent the tunnel cannot work: not asked.
    const asked = base.every((c) => c.status === 'ok');
    const checks = [...base, ...tunnelChecks(replicas, asked ? await checkTunnel(k, name, pod?.metadata?.name ?? 'konnectivity-agent', replicas) : null)];
    saveEnrollmentChecks(store, id, name, checks, now());
    const [registered] = checks;
    if (state === 'joining') {
      if (!node) {
        if (registered.status === 'failing') move(id, 'failed', ['joining'], reasonOf(registered), { tokenId: e?.tokenId ?? null });
        else setStateReason(store, id, 'joining', reasonOf(registered), now());
        return;
      }
      if (!move(id, 'enrolled', ['joining'], `Node ${name} registered with the cluster`, { nodeName: name })) return;
      state = 'enrolled';
      recordEnrolled(store, id, now());
      // The token did its job: revoke it (through the outbox, so a link drop cannot lose it).
      revokeMachineTokens(store, id, `Node ${name} registered`, now());
    }
    if (node) ensureRoleLabels(id, name, node);
    const blocking = checks.find((c) => c.status !== 'ok');
    if (!blocking) {
      lastTunnelOk.set(id, now());
      if (state !== 'ready') move(id, 'ready', [state], `Node ${name} is Ready and reachable through the Konnectivity tunnel (node proxy healthz ok via ${replicas} API server replica${replicas === 1 ? '' : 's'})`);
      return;
    }
    lastTunnelOk.delete(id);
    if (blocking.status === 'unknown') return; // the link, not the node: the link state says so
    if (state === 'enrolled') setStateReason(store, id, state, reasonOf(blocking), now());
    else move(id, 'enrolled', [state], reasonOf(blocking));
  }

  /** Role labels the kubelet may not set itself; queued once, re-queued only if they go missing. */
  function ensureRoleLabels(machineId: string, name: string, node: V1Node): void {
    const want = cfg.roleLabels;
    const have = node.metadata?.labels ?? {};
    if (Object.entries(want).every(([k2, v]) => have[k2] === v)) return;
    enqueueOutbox(store, { key: `label-node:${machineId}`, kind: 'label-node', machineId, payload: { node: name, labels: want } }, now());
  }

  // --- the work loop ---------------------------------------------------------------------------

  async function round(): Promise<void> {
    if (!configured || !usable() || !kube) return;
    const k = kube;
    try { await refreshCache(k); } catch (e) { log.warn({ err: describeError(e) }, 'could not refresh the join cache'); }
    try { await verifyPass(k); } catch (e) { log.warn({ err: describeError(e) }, 'verification round failed'); }
    try { await drainOutbox({ store, kube: k, now, log, retryBaseMs: timing.verifyMs, maxRetryMs: Math.max(timing.maxBackoffMs, timing.verifyMs) }); } catch (e) { log.warn({ err: describeError(e) }, 'outbox round failed'); }
    try { await pool.fill(k); } catch (e) { log.warn({ err: describeError(e) }, 'pool round failed'); }
  }

  /** A round that starts after this call (joining one already queued), then the timer takes over again. */
  function sync(): Promise<void> {
    if (working) return (queued ??= working.then(() => { queued = null; return sync(); }));
    if (workTimer) { clearTimeout(workTimer); workTimer = null; }
    working = round().finally(() => {
      working = null;
      if (!stopped && !queued) {
        workTimer = setTimeout(() => { void sync(); }, timing.verifyMs);
        workTimer.unref();
      }
    });
    return working;
  }

  function kick(): void {
    if (!stopped) void sync();
  }

  function linkStatus(): LinkStatus {
    return configured ? link.status() : { ...link.status(), state: 'unconfigured', lastError: null, known: true };
  }

  return {
    configured,
    start() {
      if (!configured || !stopped) return;
      stopped = false;
      link.start();
      kick();
    },
    async stop() {
      stopped = true;
      await link.stop();
      if (workTimer) { clearTimeout(workTimer); workTimer = null; }
      await queued?.catch(() => {});
      await working?.catch(() => {});
      await Promise.allSettled([...perMachine.values()]);
      await dropKube();
    },
    link: linkStatus,
    poolStatus: () => pool.status(),
    status() {
      return {
        configured,
        link: { ...linkStatus(), server: conn?.server ?? getCloudCache(store, CACHE_SERVER)?.value ?? null, source: conn?.source ?? null, replicas: conn?.replicas ?? null, tenantControlPlane: conn?.tenantControlPlane ?? null },
        pool: pool.status(),
        outbox: outboxStats(store),
      };
    },
    joinFilesFor,
    onInstalled,
    nodeNameFor,
    sync,
    enrollment(idOrMac) {
      const m = store.mustGetMachine(idOrMac);
      return enrollmentReport(m.id, getEnrollment(store, m.id)?.nodeName ?? null, getEnrollmentChecks(store, m.id), linkStatus());
    },
  };
}

function firstLine(s: string): string {
  let t = s;
  try { t = (JSON.parse(s) as { message?: string }).message ?? s; } catch { /* plain text */ }
  return t.split('\n')[0].slice(0, 200);
}
