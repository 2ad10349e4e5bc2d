// What Tether stages on a node before the kubelet starts, written by hand for tests (the real
// files come from appliance/cloud): CA, bootstrap kubeconfig, KubeletConfiguration, kubelet flags.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';

export interface Staging {
  server: string;
  caPem: string;
  token: string;
  kubeletConfigYaml: string;
  nodeIp?: string;
  labels?: Record<string, string>;
  hostnameOverride?: string;
}

const put = (root: string, p: string, text: string, mode = 0o600) => {
  const f = join(root, p);
  mkdirSync(dirname(f), { recursive: true });
  writeFileSync(f, text, { mode });
};

export function stageNodeRoot(root: string, s: Staging): void {
  put(root, 'etc/kubernetes/pki/ca.crt', s.caPem, 0o644);
  put(root, 'etc/kubernetes/bootstrap-kubelet.conf', stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { 'certificate-authority': '/etc/kubernetes/pki/ca.crt', server: s.server } }],
    contexts: [{ name: 'tls-bootstrap-token-user@kubernetes', context: { cluster: 'kubernetes', user: 'tls-bootstrap-token-user' } }],
    'current-context': 'tls-bootstrap-token-user@kubernetes',
    users: [{ name: 'tls-bootstrap-token-user', user: { token: s.token } }],
  }));
  put(root, 'var/lib/kubelet/config.yaml', s.kubeletConfigYaml, 0o644);
  const args: string[] = [];
  if (s.nodeIp) args.push(`--node-ip=${s.nodeIp}`);
  if (s.labels && Object.keys(s.labels).length) args.push(`--node-labels=${Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(',')}`);
  if (s.hostnameOverride) args.push(`--hostname-override=${s.hostnameOverride}`);
  put(root, 'etc/default/kubelet', `KUBELET_EXTRA_ARGS="${args.join(' ')}"\n`, 0o644);
}
