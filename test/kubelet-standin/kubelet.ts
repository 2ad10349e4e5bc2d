// A kubelet stand-in that does what the kubelet documents for TLS bootstrapping
// (kubernetes.io/docs/reference/access-authn-authz/kubelet-tls-bootstrapping/) with the files
// Tether staged in a node root: bootstrap kubeconfig -> CSR -> wait for the signed certificate ->
// kubelet.conf with client-cert auth -> register the Node -> report status. Like the real kubelet
// under systemd it keeps trying while the API server is unreachable; unlike it, it throws on the
// first definitive refusal (401/403/invalid) instead of crash-looping, so tests see the reason.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parse } from 'yaml';
import { call, getText, KubeError, watch, type Credentials } from './client.ts';
import { digestedName, KUBELET_USAGES_EC, makeCsr, newKeyPem } from './csr.ts';
import { parseArgs, parseEnvironmentFile, validateNodeLabels, type KubeletFlags } from './flags.ts';
import { kubeletKubeconfig, loadKubeconfig, onNode } from './kubeconfig.ts';
import { defaultLabels, initialNode, nodeStatus, statusPatch } from './node-object.ts';

export interface KubeletStandinOptions {
  root: string;
  hostname: string;
  ready?: boolean;
  signal?: AbortSignal;
  retryMs?: number;
  kubeletVersion?: string;
  /** The kubelet's log lines worth seeing in a test (retries, mostly). */
  log?: (line: string) => void;
}

const SIGNER = 'kubernetes.io/kube-apiserver-client-kubelet';
const CSR_PATH = '/apis/certificates.k8s.io/v1/certificatesigningrequests';

function write(path: string, data: string, mode = 0o600): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(`${path}.tmp-write`, data, { mode });
  renameSync(`${path}.tmp-write`, path);
}

function readFlags(root: string): KubeletFlags {
  const envFile = onNode(root, '/etc/default/kubelet');
  // The kubeadm drop-in reads it with EnvironmentFile=- : optional.
  const env = existsSync(envFile) ? parseEnvironmentFile(readFileSync(envFile, 'utf8')) : {};
  return parseArgs(env.KUBELET_EXTRA_ARGS ?? '');
}

/** kubelet's config file loading: a KubeletConfiguration of kubelet.config.k8s.io/v1beta1. */
function loadConfig(root: string, path: string): any {
  const file = onNode(root, path);
  const fail = (why: string) => new Error(`failed to load kubelet config file, path: ${path}, error: ${why}`);
  if (!existsSync(file)) throw fail(`failed to read kubelet config file "${path}", error: open ${path}: no such file or directory`);
  let cfg: any;
  try { cfg = parse(readFileSync(file, 'utf8')); } catch (e) { throw fail(`failed to decode: ${(e as Error).message}`); }
  if (cfg?.kind !== 'KubeletConfiguration' || cfg?.apiVersion !== 'kubelet.config.k8s.io/v1beta1') {
    throw fail(`failed to decode: no kind "${cfg?.kind ?? ''}" is registered for version "${cfg?.apiVersion ?? ''}" in scheme "pkg/kubelet/apis/config/scheme/scheme.go:33"`);
  }
  const ca = cfg.authentication?.x509?.clientCAFile;
  if (ca && !existsSync(onNode(root, ca))) throw new Error(`unable to load client CA file ${ca}: open ${ca}: no such file or directory`);
  return cfg;
}

/** isClientConfigStillValid: an existing kubelet.conf whose client certificate has not expired. */
function clientConfigValid(root: string, path: string): boolean {
  try {
    const c = loadKubeconfig(root, path);
    if (!c.certPem || !c.keyPem) return false;
    return new Date(new X509Certificate(c.certPem).validTo).getTime() > Date.now();
  } catch {
    return false;
  }
}

async function retrying<T>(what: string, f: () => Promise<T>, o: KubeletStandinOptions): Promise<T> {
  for (;;) {
    o.signal?.throwIfAborted();
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof KubeError) || !e.retryable) throw e;
      o.log?.(`${what} failed, will retry: ${e.message}`);
      await sleep(o.retryMs ?? 1000, undefined, { signal: o.signal });
    }
  }
}

/** Lists then watches the CSR by name until it is issued; denied or failed is final. */
async function waitForCertificate(c: Credentials, name: string, uid: string, signal?: AbortSignal): Promise<string> {
  const check = (csr: any): string | null => {
    if (!csr || csr.metadata?.uid !== uid) return null;
    for (const cond of csr.status?.conditions ?? []) {
      if (cond.type === 'Denied' && cond.status === 'True') throw new Error(`certificate signing request is denied, reason: ${cond.reason}, message: ${cond.message}`);
      if (cond.type === 'Failed' && cond.status === 'True') throw new Error(`certificate signing request failed, reason: ${cond.reason}, message: ${cond.message}`);
    }
    const approved = (csr.status?.conditions ?? []).some((x: any) => x.type === 'Approved' && x.status === 'True');
    return approved && csr.status?.certificate ? Buffer.from(csr.status.certificate, 'base64').toString('utf8') : null;
  };
  const selector = `fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
  for (;;) {
    const list = await call(c, 'GET', `${CSR_PATH}?${selector}`, undefined, undefined, signal);
    const now = check(list.items?.[0]);
    if (now) return now;
    let cert: string | null = null;
    await watch(c, `${CSR_PATH}?watch=1&${selector}&resourceVersion=${list.metadata.resourceVersion}`, (e) => {
      if (e.type === 'ERROR') return true; // 410 Expired and friends: list again
      if (e.type === 'ADDED' || e.type === 'MODIFIED') cert = check(e.object);
      return cert !== null;
    }, signal);
    if (cert) return cert;
  }
}

async function requestClientCertificate(root: string, flags: KubeletFlags, nodeName: string, signal?: AbortSignal): Promise<{ cert: string; key: string; boot: Credentials }> {
  let boot: Credentials;
  try {
    boot = loadKubeconfig(root, flags.bootstrapKubeconfig);
  } catch (e) {
    throw new Error(`unable to load bootstrap kubeconfig: ${(e as Error).message}`);
  }
  if (!boot.token && !boot.certPem) throw new Error(`unable to load bootstrap kubeconfig: ${flags.bootstrapKubeconfig} has no credentials`);
  // The key survives restarts so a retried bootstrap asks for the same certificate.
  const keyFile = onNode(root, `${flags.certDir}/kubelet-client.key.tmp`);
  if (!existsSync(keyFile)) write(keyFile, newKeyPem());
  const key = readFileSync(keyFile, 'utf8');
  // waitForServer: the kubelet polls /healthz before asking; a refusal there is left to the CSR call to report.
  try { await getText(boot, '/healthz', signal); } catch (e) { if (e instanceof KubeError && e.retryable) throw e; }
  const request = await makeCsr(keyFile, nodeName);
  const name = digestedName(key, nodeName, KUBELET_USAGES_EC);
  const body = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(request).toString('base64'), signerName: SIGNER, usages: KUBELET_USAGES_EC },
  };
  let csr: any;
  try {
    csr = await call(boot, 'POST', CSR_PATH, body, undefined, signal);
  } catch (e) {
    if (!(e instanceof KubeError)) throw e;
    if (e.status !== 409 || e.reason !== 'AlreadyExists') {
      if (e.retryable) throw e;
      throw new Error(`cannot create certificate signing request: ${e.message}`);
    }
    csr = await call(boot, 'GET', `${CSR_PATH}/${name}`, undefined, undefined, signal);
    if (csr.spec?.request !== body.spec.request || csr.spec?.signerName !== SIGNER) {
      throw new Error(`retrieved csr is not compatible: csr signerName or request differs`);
    }
  }
  const cert = await waitForCertificate(boot, name, csr.metadata.uid, signal);
  return { cert, key, boot };
}

/** certificate.Store.Update: kubelet-client-<time>.pem (cert + key) and the -current symlink. */
function storeClientCertificate(root: string, certDir: string, cert: string, key: string): string {
  const stamp = new Date().toISOString().slice(0, 19).replace(/[T:]/g, '-');
  const file = `kubelet-client-${stamp}.pem`;
  write(onNode(root, `${certDir}/${file}`), cert + key);
  const current = onNode(root, `${certDir}/kubelet-client-current.pem`);
  rmSync(current, { force: true });
  symlinkSync(file, current);
  rmSync(onNode(root, `${certDir}/kubelet-client.key.tmp`), { force: true });
  return `${certDir}/kubelet-client-current.pem`;
}

function defaultNodeIp(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

async function registerNode(c: Credentials, flags: KubeletFlags, nodeName: string, signal?: AbortSignal): Promise<void> {
  const node = initialNode(nodeName, flags.nodeLabels, flags.registerWithTaints);
  try {
    await call(c, 'POST', '/api/v1/nodes', node, undefined, signal);
    return;
  } catch (e) {
    if (!(e instanceof KubeError) || e.retryable) throw e;
    if (e.reason !== 'AlreadyExists') throw new Error(`Unable to register node with API server: ${e.message}`);
  }
  // Re-registration: the kubelet re-asserts only its default labels, never --node-labels.
  const existing = await call(c, 'GET', `/api/v1/nodes/${nodeName}`, undefined, undefined, signal);
  const want = defaultLabels(nodeName);
  const labels = existing.metadata?.labels ?? {};
  const drift = Object.fromEntries(Object.entries(want).filter(([k, v]) => labels[k] !== v));
  if (Object.keys(drift).length) {
    await call(c, 'PATCH', `/api/v1/nodes/${nodeName}`, { metadata: { labels: drift } }, 'application/strategic-merge-patch+json', signal);
  }
}

export async function runKubeletStandin(o: KubeletStandinOptions): Promise<{ nodeName: string; kubeconfigPath: string }> {
  const flags = readFlags(o.root);
  validateNodeLabels(flags.nodeLabels);
  loadConfig(o.root, flags.config);
  const nodeName = (flags.hostnameOverride ?? o.hostname).trim().toLowerCase();

  if (!clientConfigValid(o.root, flags.kubeconfig)) {
    const { cert, key, boot } = await retrying('TLS bootstrap', () => requestClientCertificate(o.root, flags, nodeName, o.signal), o);
    const pemPath = storeClientCertificate(o.root, flags.certDir, cert, key);
    write(onNode(o.root, flags.kubeconfig), kubeletKubeconfig(boot.server, boot.caPem, pemPath));
  }
  const client = loadKubeconfig(o.root, flags.kubeconfig);

  await retrying('Unable to register node with API server', () => registerNode(client, flags, nodeName, o.signal), o);
  const status = nodeStatus({ root: o.root, hostname: nodeName, nodeIp: flags.nodeIp ?? defaultNodeIp(), ready: o.ready ?? true, kubeletVersion: o.kubeletVersion ?? 'v1.31.4' });
  await retrying('Error updating node status', async () => {
    try {
      await call(client, 'PATCH', `/api/v1/nodes/${nodeName}/status`, statusPatch(status), 'application/strategic-merge-patch+json', o.signal);
    } catch (e) {
      if (e instanceof KubeError && !e.retryable) throw new Error(`Error updating node status, will retry: ${e.message}`);
      throw e;
    }
  }, o);
  return { nodeName, kubeconfigPath: onNode(o.root, flags.kubeconfig) };
}
