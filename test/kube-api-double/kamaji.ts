// A minimal Kamaji for the management-cluster role: a new TenantControlPlane goes Provisioning,
// then Ready with the status fields Kamaji fills (endpoint, version, admin kubeconfig Secret
// `<name>-admin-kubeconfig` with key `admin.conf`). The tenant it points at is this same double.
import { createHash } from 'node:crypto';
import { rfc3339 } from './strategy.ts';
import type { Store, StoreEvent } from './store.ts';

export interface KamajiOptions {
  /** host:port of this double, used when spec.networkProfile.address is empty. */
  endpoint: () => { host: string; port: number };
  adminKubeconfig: () => string;
  newUid: () => string;
}

export class Kamaji {
  private readonly store: Store;
  private readonly o: KamajiOptions;
  private unsubscribe: (() => void) | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(store: Store, o: KamajiOptions) {
    this.store = store;
    this.o = o;
  }

  start(): void {
    this.unsubscribe = this.store.watch(this.store.resourceVersion, (e: StoreEvent) => {
      if (e.resource !== 'tenantcontrolplanes' || e.type === 'DELETED') return;
      const observed = e.object.status?.kubernetesResources?.version?.status;
      if (observed === undefined) this.later(() => this.provisioning(e.key));
    });
  }

  private later(f: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); f(); }, 10);
    this.timers.add(t);
  }

  private provisioning(key: string): void {
    const tcp = this.store.get('tenantcontrolplanes', key);
    if (!tcp || tcp.status?.kubernetesResources?.version?.status) return;
    tcp.status = { kubernetesResources: { version: { status: 'Provisioning' } } };
    this.store.write('tenantcontrolplanes', key, tcp);
    this.later(() => this.ready(key));
  }

  private ready(key: string): void {
    const tcp = this.store.get('tenantcontrolplanes', key);
    if (!tcp) return;
    const { name, namespace } = tcp.metadata;
    const spec = tcp.spec ?? {};
    const ep = this.o.endpoint();
    const host = spec.networkProfile?.address || ep.host;
    const port = spec.networkProfile?.address ? (spec.networkProfile?.port ?? 6443) : ep.port;
    const kubeconfig = this.o.adminKubeconfig();
    const checksum = createHash('md5').update(kubeconfig).digest('hex');
    const now = rfc3339();
    const secretName = `${name}-admin-kubeconfig`;
    const secretKey = `${namespace}/${secretName}`;
    if (!this.store.get('secrets', secretKey)) {
      this.store.write('secrets', secretKey, {
        kind: 'Secret', apiVersion: 'v1',
        metadata: { name: secretName, namespace, uid: this.o.newUid(), creationTimestamp: now,
          labels: { 'kamaji.clastix.io/name': name, 'kamaji.clastix.io/component': 'admin-kubeconfig', 'kamaji.clastix.io/project': 'kamaji' } },
        data: { 'admin.conf': Buffer.from(kubeconfig).toString('base64'), 'super-admin.conf': Buffer.from(kubeconfig).toString('base64') },
        type: 'Opaque',
      });
    }
    const replicas = spec.controlPlane?.deployment?.replicas ?? 2;
    const konnectivity = spec.addons?.konnectivity;
    tcp.status = {
      storage: { driver: 'etcd', dataStoreName: spec.dataStore ?? 'default' },
      kubeconfig: { admin: { secretName, lastUpdate: now, checksum } },
      kubernetesResources: {
        version: { version: spec.kubernetes?.version, status: 'Ready' },
        deployment: { replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas,
          selector: `kamaji.clastix.io/name=${name}`, name, namespace, lastUpdate: now },
        service: { loadBalancer: {}, name, namespace, port },
      },
      controlPlaneEndpoint: `${host}:${port}`,
      addons: {
        coreDNS: { enabled: !!spec.addons?.coreDNS, lastUpdate: now },
        kubeProxy: { enabled: !!spec.addons?.kubeProxy, lastUpdate: now },
        konnectivity: konnectivity
          ? { enabled: true, agent: { name: 'konnectivity-agent', namespace: 'kube-system', lastUpdate: now },
            service: { loadBalancer: {}, name, namespace, port: konnectivity.server?.port ?? 8132 } }
          : { enabled: false },
      },
    };
    this.store.write('tenantcontrolplanes', key, tcp);
  }

  close(): void {
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
