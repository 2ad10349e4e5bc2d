// Kubeconfig text for a server, the way kubeadm and Kamaji write them (CA inline).
import { stringify } from 'yaml';

export function kubeconfigYaml(o: { server: string; caPem: string; user: string; token?: string; clientCertPath?: string; clientKeyPath?: string; cluster?: string }): string {
  const cluster = o.cluster ?? 'kubernetes';
  const user: Record<string, string> = {};
  if (o.token) user.token = o.token;
  if (o.clientCertPath) user['client-certificate'] = o.clientCertPath;
  if (o.clientKeyPath) user['client-key'] = o.clientKeyPath;
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: cluster, cluster: { server: o.server, 'certificate-authority-data': Buffer.from(o.caPem).toString('base64') } }],
    contexts: [{ name: `${o.user}@${cluster}`, context: { cluster, user: o.user } }],
    'current-context': `${o.user}@${cluster}`,
    preferences: {},
    users: [{ name: o.user, user }],
  });
}
