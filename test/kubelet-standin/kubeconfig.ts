// Reading and writing the kubelet's kubeconfigs inside a node root. Paths in a kubeconfig are the
// node's own absolute paths (/etc/kubernetes/pki/ca.crt); the stand-in resolves them under `root`.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { Credentials } from './client.ts';

export const onNode = (root: string, p: string) => join(root, p);

/** client-go's errors for a kubeconfig it cannot use, with the node's path in them. */
export function loadKubeconfig(root: string, path: string): Credentials {
  const file = onNode(root, path);
  if (!existsSync(file)) throw new Error(`stat ${path}: no such file or directory`);
  let cfg: any;
  try { cfg = parse(readFileSync(file, 'utf8')); } catch (e) { throw new Error(`error loading config file "${path}": ${(e as Error).message}`); }
  const ctxName = cfg?.['current-context'];
  const ctx = (cfg?.contexts ?? []).find((c: any) => c.name === ctxName)?.context;
  if (!ctx) throw new Error(`invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable`);
  const cluster = (cfg.clusters ?? []).find((c: any) => c.name === ctx.cluster)?.cluster;
  const user = (cfg.users ?? []).find((u: any) => u.name === ctx.user)?.user ?? {};
  if (!cluster?.server) throw new Error(`invalid configuration: no server found for cluster "${ctx.cluster}"`);
  const resolve = (p: string) => onNode(root, isAbsolute(p) ? p : join(dirname(path), p));
  const read = (data: string | undefined, p: string | undefined) =>
    data ? Buffer.from(data, 'base64').toString('utf8') : p ? readFileSync(resolve(p), 'utf8') : undefined;
  const caPem = read(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (!caPem) throw new Error(`the kubeconfig ${path} has no certificate authority for ${cluster.server}`);
  return {
    server: cluster.server,
    caPem,
    token: user.token ?? (user.tokenFile ? readFileSync(resolve(user.tokenFile), 'utf8').trim() : undefined),
    certPem: read(user['client-certificate-data'], user['client-certificate']),
    keyPem: read(user['client-key-data'], user['client-key']),
  };
}

/** bootstrap.writeKubeconfigFromBootstrapping: the cluster from the bootstrap file, the cert by path. */
export function kubeletKubeconfig(server: string, caPem: string, pemPath: string): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'default-cluster', cluster: { 'certificate-authority-data': Buffer.from(caPem).toString('base64'), server } }],
    contexts: [{ name: 'default-context', context: { cluster: 'default-cluster', namespace: 'default', user: 'default-auth' } }],
    'current-context': 'default-context',
    preferences: {},
    users: [{ name: 'default-auth', user: { 'client-certificate': pemPath, 'client-key': pemPath } }],
  });
}
