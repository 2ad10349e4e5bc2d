// An HTTPS Kubernetes API server double on 127.0.0.1 for Tether's cloud link: the wire protocol of
// kube-apiserver (Status errors, resourceVersion, watch, selectors, discovery, Tables), its
// authentication (bootstrap tokens, client certificates), the CSR controllers a kubelet's TLS
// bootstrap needs, node proxy through Konnectivity, and faults for the link going bad.
import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { stringify } from 'yaml';
import { ResourceApi } from './api.ts';
import { Authenticator, type User } from './auth.ts';
import { CsrController } from './csr-controller.ts';
import { discoveryDocs } from './discovery.ts';
import { asApiError, send, sendStatus } from './http.ts';
import { Kamaji } from './kamaji.ts';
import { kubeconfigYaml } from './kubeconfig.ts';
import { NodeProxy, type Tunnel } from './node-proxy.ts';
import { inspectCsr, makePki } from './pki.ts';
import { authorize } from './rbac.ts';
import { requestInfo } from './request-info.ts';
import { resourceByName, type ResourceDef } from './resources.ts';
import { failure, invalid, serverError } from './status.ts';
import { keyOf, Store } from './store.ts';
import { rfc3339, toWire } from './strategy.ts';
import { versionInfo } from './version.ts';

export type Fault = null | { kind: 'down' } | { kind: 'slow'; ms: number } | { kind: '5xx'; code?: number } | { kind: 'flapping'; periodMs: number };

export interface KubeApiDoubleOptions {
  version?: string;
  replicas?: number;
  autoApproveCsrs?: boolean;
  kubeletConfig?: object;
  /** --kubelet-preferred-address-types of the API server: which node address node proxy dials. */
  kubeletPreferredAddressTypes?: string[];
  /** Events the watch cache keeps; a watch from before them gets 410 Expired. */
  watchWindow?: number;
  /**
   * NodeRestriction admission (default on, as kubeadm sets it up). A Kamaji tenant has it only when
   * spec.kubernetes.admissionControllers lists it: Kamaji's default list does not.
   */
  nodeRestriction?: boolean;
}

export interface RequestRecord { method: string; path: string; query: string; user: string | null; status: number }

export interface KubeApiDouble {
  url: string;
  caPem: string;
  caKeyPem: string;
  adminToken: string;
  kubeconfig(o?: { token?: string; user?: string }): string;
  fault(f: Fault): void;
  /** Per node; `replica` narrows it to one control-plane replica (an agent connected to some servers only). */
  tunnel(node: string, t: Tunnel, replica?: number): void;
  objects: {
    get(resource: string, ns: string | null, name: string): any;
    list(resource: string, ns?: string | null): any[];
    put(resource: string, obj: any): any;
    delete(resource: string, ns: string | null, name: string): void;
  };
  requests: RequestRecord[];
  /** A bearer token for an identity of the test's choosing (e.g. one without rights, for 403s). */
  staticToken(user: string, groups?: string[]): string;
  /** Drops the watch cache's event window, like etcd compaction: older resourceVersions get 410. */
  compact(): void;
  /** Resolves when the CSR controllers have processed every CSR written so far. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const LOG_LIMIT = 2000;
const HEALTH_CHECKS = ['ping', 'log', 'etcd', 'poststarthook/start-apiextensions-controllers', 'poststarthook/bootstrap-controller'];

export const DEFAULT_KUBELET_CONFIG = {
  apiVersion: 'kubelet.config.k8s.io/v1beta1',
  kind: 'KubeletConfiguration',
  authentication: {
    anonymous: { enabled: false },
    webhook: { cacheTTL: '0s', enabled: true },
    x509: { clientCAFile: '/etc/kubernetes/pki/ca.crt' },
  },
  authorization: { mode: 'Webhook', webhook: { cacheAuthorizedTTL: '0s', cacheUnauthorizedTTL: '0s' } },
  cgroupDriver: 'systemd',
  clusterDNS: ['10.96.0.10'],
  clusterDomain: 'cluster.local',
  containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
  rotateCertificates: true,
  staticPodPath: '/etc/kubernetes/manifests',
};

function seed(store: Store, kubeletConfig: object): void {
  const now = rfc3339();
  for (const name of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    store.write('namespaces', name, {
      kind: 'Namespace', apiVersion: 'v1',
      metadata: { name, uid: randomUUID(), creationTimestamp: now, labels: { 'kubernetes.io/metadata.name': name } },
      spec: { finalizers: ['kubernetes'] }, status: { phase: 'Active' },
    });
  }
  store.write('configmaps', 'kube-system/kubelet-config', {
    kind: 'ConfigMap', apiVersion: 'v1',
    metadata: { name: 'kubelet-config', namespace: 'kube-system', uid: randomUUID(), creationTimestamp: now },
    data: { kubelet: stringify(kubeletConfig) },
  });
}

export async function startKubeApiDouble(o: KubeApiDoubleOptions = {}): Promise<KubeApiDouble> {
  const version = o.version ?? 'v1.31.4';
  const replicas = Math.max(1, o.replicas ?? 2);
  const autoApprove = o.autoApproveCsrs ?? true;
  const pki = await makePki();
  const store = new Store(o.watchWindow ?? 1000);
  seed(store, o.kubeletConfig ?? DEFAULT_KUBELET_CONFIG);
  const auth = new Authenticator(store);
  const adminToken = randomBytes(24).toString('hex');
  auth.addToken(adminToken, 'admin', ['system:masters']);
  const proxy = new NodeProxy(replicas, o.kubeletPreferredAddressTypes ?? ['InternalIP', 'ExternalIP', 'Hostname']);
  const csrs = new CsrController(store, pki, () => autoApprove);
  const api = new ResourceApi(store, proxy, {
    nodeRestriction: o.nodeRestriction ?? true,
    async onCreate(def, obj) {
      if (def.kind !== 'CertificateSigningRequest') return;
      try {
        await inspectCsr(Buffer.from(obj.spec.request, 'base64').toString('utf8'));
      } catch {
        throw invalid(def.kind, def.group, obj.metadata.name, [{ reason: 'FieldValueInvalid', field: 'spec.request', message: 'Invalid value: []byte{...}: x509: malformed certificate request' }]);
      }
    },
  });
  const requests: RequestRecord[] = [];
  let fault: Fault = null;
  let faultSince = 0;
  let flapTimer: NodeJS.Timeout | null = null;
  const sockets = new Set<Socket>();
  // Requests held by a `slow` fault; any fault change (or close) lets them go on at once.
  const held = new Set<() => void>();
  const hold = (ms: number) => new Promise<void>((resolve) => {
    const release = () => { clearTimeout(t); held.delete(release); resolve(); };
    const t = setTimeout(release, ms);
    held.add(release);
  });
  const releaseAll = () => { for (const r of [...held]) r(); };
  let docs = new Map<string, any>();
  let url = '';

  const isDown = () => {
    if (fault?.kind === 'down') return true;
    if (fault?.kind === 'flapping') return Math.floor((Date.now() - faultSince) / fault.periodMs) % 2 === 1;
    return false;
  };
  const dropAll = () => { for (const s of sockets) s.destroy(); };

  const nonResource = (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): number => {
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, 405, failure(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource', {})); return 405; }
    if (path === '/version' || path === '/version/') { send(res, 200, versionInfo(version)); return 200; }
    const health = /^\/(healthz|livez|readyz)(\/.*)?$/.exec(path);
    if (health) {
      const which = health[1];
      if (health[2] && !HEALTH_CHECKS.includes(health[2].slice(1))) { send(res, 404, '404 page not found\n', 'text/plain; charset=utf-8'); return 404; }
      const body = query.has('verbose') ? `${HEALTH_CHECKS.map((c) => `[+]${c} ok`).join('\n')}\n${which} check passed\n` : 'ok';
      send(res, 200, body, 'text/plain; charset=utf-8');
      return 200;
    }
    const doc = docs.get(path.replace(/\/$/, '') || '/');
    if (doc) { send(res, 200, doc); return 200; }
    if (path === '/') { send(res, 200, { paths: [...docs.keys(), '/healthz', '/livez', '/readyz', '/version'].sort() }); return 200; }
    send(res, 404, '404 page not found\n', 'text/plain; charset=utf-8');
    return 404;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const u = new URL(req.url ?? '/', 'https://127.0.0.1');
    const record: RequestRecord = { method: req.method ?? '', path: u.pathname, query: u.search, user: null, status: 0 };
    requests.push(record);
    if (requests.length > LOG_LIMIT) requests.splice(0, requests.length - LOG_LIMIT);
    try {
      if (fault?.kind === 'slow') await hold(fault.ms);
      if (isDown()) { req.socket.destroy(); return; }
      if (fault?.kind === '5xx') {
        const s = serverError(fault.code ?? 503);
        sendStatus(res, s);
        record.status = s.code;
        return;
      }
      const user: User = auth.authenticate(req.headers.authorization, req.socket as TLSSocket);
      record.user = user.name;
      const info = requestInfo(req.method ?? 'GET', u.pathname, u.searchParams);
      const denied = authorize({ ...info, user });
      if (denied) throw denied;
      record.status = info.resourceRequest ? await api.serve({ req, res, url: u, info, user }) : nonResource(req, res, u.pathname, u.searchParams);
    } catch (e) {
      const ae = asApiError(e);
      const s = ae ? ae.status : failure(500, 'InternalError', `Internal error occurred: ${(e as Error).message}`);
      if (s.code === 413) res.setHeader('Connection', 'close');
      if (!res.headersSent) sendStatus(res, s);
      else res.end();
      record.status = s.code;
    }
  };

  const server: Server = createServer({
    key: pki.servingKeyPem, cert: pki.servingCertPem, ca: [pki.caPem],
    requestCert: true, rejectUnauthorized: false,
  }, (req, res) => { void handle(req, res); });
  server.on('connection', (s: Socket) => {
    if (isDown()) { s.destroy(); return; }
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  url = `https://127.0.0.1:${port}`;
  docs = discoveryDocs(`127.0.0.1:${port}`);

  const kubeconfig = (k: { token?: string; user?: string } = {}) =>
    kubeconfigYaml({ server: url, caPem: pki.caPem, user: k.user ?? 'admin', token: k.token ?? adminToken });
  const kamaji = new Kamaji(store, { endpoint: () => ({ host: '127.0.0.1', port }), adminKubeconfig: () => kubeconfig(), newUid: randomUUID });
  csrs.start();
  kamaji.start();

  const def = (resource: string): ResourceDef => resourceByName(resource);
  const objects = {
    get(resource: string, ns: string | null, name: string) {
      const d = def(resource);
      const obj = store.get(d.resource, keyOf(d.namespaced ? ns : null, name));
      return obj === undefined ? undefined : toWire(d, obj);
    },
    list(resource: string, ns?: string | null) {
      const d = def(resource);
      return store.list(d.resource, ns ?? null).map((x) => toWire(d, x));
    },
    put(resource: string, obj: any) {
      const d = def(resource);
      const o = structuredClone(obj);
      o.metadata = { ...(o.metadata ?? {}) };
      const ns = d.namespaced ? (o.metadata.namespace ?? 'default') : null;
      if (ns) o.metadata.namespace = ns;
      const key = keyOf(ns, o.metadata.name);
      const old = store.get(d.resource, key);
      o.metadata.uid = old?.metadata.uid ?? o.metadata.uid ?? randomUUID();
      o.metadata.creationTimestamp = old?.metadata.creationTimestamp ?? o.metadata.creationTimestamp ?? rfc3339();
      if (d.kind === 'Secret' && o.stringData) {
        o.data = { ...(o.data ?? {}) };
        for (const [k, v] of Object.entries(o.stringData)) o.data[k] = Buffer.from(String(v)).toString('base64');
        delete o.stringData;
      }
      return toWire(d, store.write(d.resource, key, o));
    },
    delete(resource: string, ns: string | null, name: string) {
      const d = def(resource);
      store.remove(d.resource, keyOf(d.namespaced ? ns : null, name));
    },
  };

  return {
    url,
    caPem: pki.caPem,
    caKeyPem: pki.caKeyPem,
    adminToken,
    kubeconfig,
    fault(f: Fault) {
      fault = f;
      faultSince = Date.now();
      releaseAll();
      if (flapTimer) { clearInterval(flapTimer); flapTimer = null; }
      if (f?.kind === 'down') dropAll();
      if (f?.kind === 'flapping') flapTimer = setInterval(() => { if (isDown()) dropAll(); }, Math.max(1, f.periodMs / 2));
    },
    tunnel: (node, t, replica) => proxy.set(node, t, replica),
    objects,
    requests,
    staticToken(user: string, groups: string[] = []) {
      const t = randomBytes(24).toString('hex');
      auth.addToken(t, user, groups);
      return t;
    },
    compact: () => store.compact(),
    settle: () => csrs.idle(),
    async close() {
      if (flapTimer) clearInterval(flapTimer);
      fault = { kind: 'down' };
      releaseAll();
      kamaji.close();
      await csrs.close();
      await new Promise<void>((resolve) => { server.close(() => resolve()); dropAll(); });
      store.close();
      pki.close();
    },
  };
}
