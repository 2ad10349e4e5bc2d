// Builds doctor's Snapshot from live clusters with @kubernetes/client-node: the TenantControlPlane
// (and its pods) from the management cluster, and the objects the checks need from the tenant
// cluster. Every read is independent and every failure is recorded as Unreadable — a doctor that
// crashes on a 403 tells the staff member nothing.
import {
  ApiException, AppsV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, Observable, RbacAuthorizationV1Api, VersionApi,
  type ConfigurationOptions,
} from '@kubernetes/client-node';
import { AGENT_NAME, AGENT_NAMESPACE } from './checks.ts';
import type { ClusterRoleBinding, Pod, Snapshot, TenantControlPlane, Unreadable, VersionInfo, Workload } from './types.ts';

export interface GatherOptions {
  /** Kubeconfig of the management cluster (where the TenantControlPlane lives). */
  managementKubeconfig?: string | null;
  tenantControlPlane?: { name: string; namespace: string } | null;
  /** Kubeconfig of the tenant cluster. */
  tenantKubeconfig?: string | null;
  /** Per request; an unreachable API server must not hang the command. */
  timeoutMs?: number;
}

// kamaji.clastix.io/v1alpha1, resource tenantcontrolplanes ([types] groupversion_info.go, shortName tcp).
const KAMAJI = { group: 'kamaji.clastix.io', version: 'v1alpha1', plural: 'tenantcontrolplanes' } as const;

export async function gather(o: GatherOptions): Promise<Snapshot> {
  const unreadable: Unreadable[] = [];
  const timeoutMs = o.timeoutMs ?? 10_000;
  const snap: Snapshot = { tcp: null, tenant: null, unreadable };

  if (o.managementKubeconfig && o.tenantControlPlane) {
    const { name, namespace } = o.tenantControlPlane;
    snap.tcpSource = `${namespace}/${name}`;
    const mgmt = kubeconfig(o.managementKubeconfig, 'management cluster', unreadable, 'tcp');
    if (mgmt) {
      const where = `(management cluster, ${o.managementKubeconfig})`;
      const tcp = await read(unreadable, { key: 'tcp', what: `tenantcontrolplane ${namespace}/${name} ${where}`, kubeconfig: o.managementKubeconfig, verb: 'get', resource: 'tenantcontrolplanes.kamaji.clastix.io', namespace },
        () => mgmt.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({ ...KAMAJI, namespace, name }, opts(timeoutMs)) as Promise<TenantControlPlane>);
      snap.tcp = tcp ?? null;
      // The control-plane pods show image pull failures that the TCP status only hints at.
      const selector = tcp?.status?.kubernetesResources?.deployment?.selector;
      if (selector) {
        const pods = await read(unreadable, { key: 'management.pods', what: `pods in ${namespace} ${where}`, kubeconfig: o.managementKubeconfig, verb: 'list', resource: 'pods', namespace },
          async () => (await mgmt.makeApiClient(CoreV1Api).listNamespacedPod({ namespace, labelSelector: selector }, opts(timeoutMs))).items as unknown as Pod[]);
        if (pods) snap.management = { pods };
      }
    }
  }

  if (o.tenantKubeconfig) {
    const tenant: NonNullable<Snapshot['tenant']> = {};
    snap.tenant = tenant;
    const kc = kubeconfig(o.tenantKubeconfig, 'tenant cluster', unreadable, 'tenant');
    if (kc) {
      const where = `(tenant cluster, ${o.tenantKubeconfig})`;
      const agentNs = snap.tcp?.status?.addons?.konnectivity?.agent?.namespace || AGENT_NAMESPACE;
      const base = { kubeconfig: o.tenantKubeconfig };
      const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
      const apps = kc.makeApiClient(AppsV1Api);
      const core = kc.makeApiClient(CoreV1Api);
      const [version, crbs, daemonSets, deployments, pods] = await Promise.all([
        read(unreadable, { ...base, key: 'tenant.version', what: `/version ${where}`, verb: 'get', resource: '/version' },
          async () => (await kc.makeApiClient(VersionApi).getCode({}, opts(timeoutMs))) as VersionInfo),
        read(unreadable, { ...base, key: 'tenant.clusterRoleBindings', what: `clusterrolebindings ${where}`, verb: 'list', resource: 'clusterrolebindings.rbac.authorization.k8s.io' },
          async () => (await rbac.listClusterRoleBinding({}, opts(timeoutMs))).items as unknown as ClusterRoleBinding[]),
        read(unreadable, { ...base, key: 'tenant.daemonSets', what: `daemonsets in ${agentNs} ${where}`, verb: 'list', resource: 'daemonsets.apps', namespace: agentNs },
          async () => (await apps.listNamespacedDaemonSet({ namespace: agentNs }, opts(timeoutMs))).items.map((d) => ({ ...d, kind: 'DaemonSet' })) as unknown as Workload[]),
        read(unreadable, { ...base, key: 'tenant.deployments', what: `deployments in ${agentNs} ${where}`, verb: 'list', resource: 'deployments.apps', namespace: agentNs },
          async () => (await apps.listNamespacedDeployment({ namespace: agentNs }, opts(timeoutMs))).items.map((d) => ({ ...d, kind: 'Deployment' })) as unknown as Workload[]),
        // Kamaji labels the agent pods k8s-app=konnectivity-agent (agent.go); a label selector, not a
        // field selector on the node: a Pending agent pod may have no spec.nodeName yet (DESIGN.md).
        read(unreadable, { ...base, key: 'tenant.pods', what: `pods in ${agentNs} ${where}`, verb: 'list', resource: 'pods', namespace: agentNs },
          async () => (await core.listNamespacedPod({ namespace: agentNs, labelSelector: `k8s-app=${AGENT_NAME}` }, opts(timeoutMs))).items as unknown as Pod[]),
      ]);
      if (version) tenant.version = version;
      if (crbs) tenant.clusterRoleBindings = crbs;
      if (daemonSets) tenant.daemonSets = daemonSets;
      if (deployments) tenant.deployments = deployments;
      if (pods) tenant.pods = pods;
    }
  }
  return snap;
}

function kubeconfig(path: string, which: string, unreadable: Unreadable[], key: string): KubeConfig | null {
  try {
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    if (!kc.getCurrentCluster()) throw new Error('no current context/cluster in it');
    return kc;
  } catch (e) {
    unreadable.push({ key, what: `the ${which} kubeconfig ${path}`, error: (e as Error).message.split('\n')[0], fix: `check ${path}: \`kubectl --kubeconfig ${path} config view --minify\`` });
    return null;
  }
}

/** A per-request timeout, as the (Observable-style) middleware the object-parameter APIs take. */
function opts(timeoutMs: number): ConfigurationOptions {
  return {
    middleware: [{
      pre: (ctx) => { ctx.setSignal(AbortSignal.timeout(timeoutMs)); return new Observable(Promise.resolve(ctx)); },
      post: (r) => new Observable(Promise.resolve(r)),
    }],
    middlewareMergeStrategy: 'append',
  };
}

interface ReadSpec {
  key: string;
  what: string;
  kubeconfig: string;
  verb: string;
  resource: string;
  namespace?: string;
}

async function read<T>(unreadable: Unreadable[], r: ReadSpec, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (e) {
    const error = describeError(e);
    const code = e instanceof ApiException ? e.code : 0;
    const can = r.resource.startsWith('/')
      ? `kubectl --kubeconfig ${r.kubeconfig} get --raw ${r.resource}`
      : `kubectl --kubeconfig ${r.kubeconfig} auth can-i ${r.verb} ${r.resource}${r.namespace ? ` -n ${r.namespace}` : ''}`;
    const fix = code === 401
      ? `the credentials in ${r.kubeconfig} are expired or invalid: renew them (check with \`${can}\`)`
      : code === 403
        ? `grant the identity in ${r.kubeconfig} ${r.verb} on ${r.resource}${r.namespace ? ` in ${r.namespace}` : ''} (check with \`${can}\`)`
        : code === 404 && r.key === 'tcp'
          ? `check cloud.tenantControlPlane in tether.yaml: \`kubectl --kubeconfig ${r.kubeconfig} get tenantcontrolplanes -A\``
          : code
            ? `see the API server's message; check with \`${can}\``
            : `check that the API server in ${r.kubeconfig} is reachable from the appliance (\`${can}\`)`;
    unreadable.push({ key: r.key, what: r.what, error, fix });
    return undefined;
  }
}

/**
 * "403 Forbidden: <Status.message>" from an ApiException whose body is a Status object (every API
 * error is one, DESIGN.md wire facts); the network error otherwise ("connect ECONNREFUSED ...").
 */
export function describeError(e: unknown): string {
  if (e instanceof ApiException) {
    let status: { reason?: string; message?: string } | undefined;
    const body: unknown = e.body;
    if (typeof body === 'string') {
      try { status = JSON.parse(body) as typeof status; } catch { /* not JSON: keep the code alone */ }
    } else if (body && typeof body === 'object') {
      status = body as typeof status;
    }
    const reason = status?.reason || HTTP_REASONS[e.code] || '';
    return `${e.code}${reason ? ` ${reason}` : ''}${status?.message ? `: ${status.message}` : ''}`;
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError') return 'no answer (timed out)';
  const cause = err?.cause?.message ?? err?.cause?.code;
  return [err?.message, cause].filter(Boolean).join(': ') || String(e);
}

// Status.reason is empty for some failures (e.g. 401 bodies the client drops, node-proxy 500s).
const HTTP_REASONS: Record<number, string> = { 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 500: 'InternalError', 503: 'ServiceUnavailable' };
