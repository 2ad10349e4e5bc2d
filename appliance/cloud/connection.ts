// How Tether reaches the tenant cluster: its kubeconfig directly, or through the management
// cluster's TenantControlPlane (Kamaji, kamaji.clastix.io/v1alpha1), whose status names the admin
// kubeconfig Secret, the endpoint and the version, and whose spec gives the replica count and the
// Konnectivity settings the tunnel check needs.
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { TetherConfig } from '../config/schema.ts';
import { kubeFrom, loadKubeconfig } from './kube.ts';

export interface Connection {
  kc: KubeConfig;
  /** The API server URL nodes are given (the tenant kubeconfig's server). */
  server: string;
  /** PEM of the cluster CA, when the kubeconfig carries one. */
  caPem: string | null;
  /** API server replicas: the tunnel check goes through each (a konnectivity-server per replica). */
  replicas: number;
  source: 'kubeconfig' | 'tenant-control-plane';
  tenantControlPlane: {
    name: string;
    namespace: string;
    endpoint: string | null;
    version: string | null;
    versionStatus: string | null;
    konnectivity: { enabled: boolean; port: number | null } | null;
  } | null;
}

export const TCP_GROUP = 'kamaji.clastix.io';
export const TCP_VERSION = 'v1alpha1';
export const TCP_PLURAL = 'tenantcontrolplanes';
/** Kamaji reads the admin kubeconfig from this key unless the TenantControlPlane's annotation names another. */
export const KUBECONFIG_KEY_ANNOTATION = 'kamaji.clastix.io/kubeconfig-secret-key';

/** The subset of a TenantControlPlane Tether reads. */
export interface TenantControlPlane {
  metadata?: { name?: string; namespace?: string; annotations?: Record<string, string> };
  spec?: {
    controlPlane?: { deployment?: { replicas?: number } };
    addons?: { konnectivity?: { server?: { port?: number } } | null };
  };
  status?: {
    controlPlaneEndpoint?: string;
    kubeconfig?: { admin?: { secretName?: string } };
    kubernetesResources?: { version?: { version?: string; status?: string } };
    addons?: { konnectivity?: { enabled?: boolean } };
  };
}

function caOf(kc: KubeConfig): string | null {
  const c = kc.getCurrentCluster();
  if (c?.caData) return Buffer.from(c.caData, 'base64').toString();
  if (c?.caFile) return readFileSync(c.caFile, 'utf8');
  return null;
}

/** Kamaji's default is two API server replicas when the spec leaves it out. */
const KAMAJI_DEFAULT_REPLICAS = 2;

export async function connect(cfg: TetherConfig['cloud'], o: { timeoutMs: number }): Promise<Connection> {
  if (cfg.kubeconfig) {
    const kc = loadKubeconfig({ path: cfg.kubeconfig });
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`${cfg.kubeconfig}: no current cluster (set current-context)`);
    return { kc, server: cluster.server, caPem: caOf(kc), replicas: cfg.controlPlaneReplicas, source: 'kubeconfig', tenantControlPlane: null };
  }
  if (!cfg.managementKubeconfig || !cfg.tenantControlPlane) throw new Error('cloud link not configured');
  const { name, namespace } = cfg.tenantControlPlane;
  const mgmt = kubeFrom(loadKubeconfig({ path: cfg.managementKubeconfig }), o);
  try {
    const tcp = await mgmt.custom.getNamespacedCustomObject({ group: TCP_GROUP, version: TCP_VERSION, namespace, plural: TCP_PLURAL, name }) as TenantControlPlane;
    const secretName = tcp.status?.kubeconfig?.admin?.secretName;
    if (!secretName) throw new Error(`TenantControlPlane ${namespace}/${name} has no status.kubeconfig.admin.secretName yet (is Kamaji still provisioning it?)`);
    const secret = await mgmt.core.readNamespacedSecret({ namespace, name: secretName });
    const wanted = tcp.metadata?.annotations?.[KUBECONFIG_KEY_ANNOTATION];
    // admin.conf points at the public endpoint; *.svc variants at the management cluster's
    // service DNS, which the site cannot resolve.
    const key = [wanted, 'admin.conf', 'super-admin.conf'].find((k) => k && secret.data?.[k]);
    if (!key) throw new Error(`Secret ${namespace}/${secretName} has no admin.conf`);
    const kc = loadKubeconfig({ yaml: Buffer.from(secret.data![key], 'base64').toString() });
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error(`Secret ${namespace}/${secretName} key ${key}: no current cluster`);
    const konn = tcp.spec?.addons?.konnectivity;
    return {
      kc,
      server: cluster.server,
      caPem: caOf(kc),
      replicas: tcp.spec?.controlPlane?.deployment?.replicas ?? KAMAJI_DEFAULT_REPLICAS,
      source: 'tenant-control-plane',
      tenantControlPlane: {
        name,
        namespace,
        endpoint: tcp.status?.controlPlaneEndpoint ?? null,
        version: tcp.status?.kubernetesResources?.version?.version ?? null,
        versionStatus: tcp.status?.kubernetesResources?.version?.status ?? null,
        konnectivity: konn ? { enabled: tcp.status?.addons?.konnectivity?.enabled ?? true, port: konn.server?.port ?? 8132 } : null,
      },
    };
  } finally {
    await mgmt.close();
  }
}
