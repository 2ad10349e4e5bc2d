// The files that make an installed node join the cluster without kubeadm (the kubelet's own TLS
// bootstrap), plus a kubeadm JoinConfiguration for users who run `kubeadm join --config`. Pure:
// everything comes in as arguments, so the same inputs always stage the same bytes.
import { createHash, X509Certificate } from 'node:crypto';
import { stringify } from 'yaml';
import type { StagedFile } from '../../agent/protocol.ts';
import type { Machine } from '../store/store.ts';
import { tokenString, type BootstrapToken } from './tokens.ts';

/**
 * Tether's own rack label. NodeRestriction lets a kubelet set labels outside the kubernetes.io /
 * k8s.io namespaces freely, and inside them only kubernetes.io/{hostname,arch,os},
 * topology.kubernetes.io/{zone,region}, the instance-type labels and the kubelet.kubernetes.io/ and
 * node.kubernetes.io/ prefixes. `node.kubernetes.io/rack` would pass too, but that prefix belongs
 * to labels Kubernetes itself defines; a key under Tether's own domain cannot collide with one.
 */
export const RACK_LABEL = 'tether.dev/rack';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** DNS-1123 subdomain, as Node names must be. */
export function isNodeName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every((l) => l.length <= 63 && DNS_LABEL.test(l));
}

/**
 * The Node name for a machine, decided in one place (it is also the installed OS's hostname):
 * the operator's hostname when it is a valid Node name once lowercased, else one made from it,
 * else the machine id (already lowercase letters, digits and a dash).
 */
export function nodeNameFor(machine: Pick<Machine, 'id' | 'hostname'>): string {
  const h = machine.hostname?.trim().toLowerCase();
  if (h && isNodeName(h)) return h;
  if (h) {
    const cleaned = h.split('.').map((l) => l.replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, '')).filter(Boolean).join('.');
    if (isNodeName(cleaned)) return cleaned;
  }
  const id = machine.id.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '');
  return isNodeName(id) ? id : `node-${createHash('sha256').update(machine.id).digest('hex').slice(0, 12)}`;
}

/** A label value (≤ 63, alphanumerics with - _ . inside), or null when nothing usable remains. */
export function labelValue(s: string | null | undefined): string | null {
  if (!s) return null;
  const v = s.trim().replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 63).replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
  return v || null;
}

/** Every certificate in a PEM bundle. */
export function pemCertificates(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/**
 * kubeadm's `caCertHashes` entry: sha256 over the CA certificate's DER SubjectPublicKeyInfo
 * (RFC 7469 style), as `openssl x509 -pubkey | openssl pkey -pubin -outform der | sha256sum`.
 */
export function caCertHash(certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(spki).digest('hex')}`;
}

/** host:port of the API server, as kubeadm's `apiServerEndpoint` wants it. */
export function apiServerEndpoint(server: string): string {
  const u = new URL(server);
  // URL keeps IPv6 hosts in brackets already, which is the host:port form kubeadm parses.
  return `${u.hostname}:${u.port || (u.protocol === 'http:' ? '80' : '443')}`;
}

export interface JoinInputs {
  nodeName: string;
  server: string;
  caPem: string;
  token: BootstrapToken;
  kubeletConfig: string;
  nodeIp: string | null;
  labels: Record<string, string>;
}

/** Labels the kubelet registers its Node with: all in namespaces NodeRestriction allows it. */
export function nodeLabels(o: { zone: string | null; region: string; rack: string | null }): Record<string, string> {
  const labels: Record<string, string> = {};
  const zone = labelValue(o.zone);
  const region = labelValue(o.region);
  const rack = labelValue(o.rack);
  if (zone) labels['topology.kubernetes.io/zone'] = zone;
  if (region) labels['topology.kubernetes.io/region'] = region;
  if (rack) labels[RACK_LABEL] = rack;
  return labels;
}

/** The kubelet flags, in the order kubeadm writes them. */
export function kubeletArgs(o: Pick<JoinInputs, 'nodeIp' | 'labels' | 'nodeName'>): Array<{ name: string; value: string }> {
  const args: Array<{ name: string; value: string }> = [];
  if (o.nodeIp) args.push({ name: 'node-ip', value: o.nodeIp });
  const labels = Object.entries(o.labels).map(([k, v]) => `${k}=${v}`).join(',');
  if (labels) args.push({ name: 'node-labels', value: labels });
  args.push({ name: 'hostname-override', value: o.nodeName });
  return args;
}

export function bootstrapKubeconfig(o: Pick<JoinInputs, 'server' | 'caPem' | 'token'>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'kubernetes', cluster: { server: o.server, 'certificate-authority-data': Buffer.from(o.caPem).toString('base64') } }],
    contexts: [{ name: 'tls-bootstrap-token-user@kubernetes', context: { cluster: 'kubernetes', user: 'tls-bootstrap-token-user' } }],
    'current-context': 'tls-bootstrap-token-user@kubernetes',
    preferences: {},
    users: [{ name: 'tls-bootstrap-token-user', user: { token: tokenString(o.token) } }],
  });
}

export function kubeadmJoinConfiguration(o: JoinInputs): string {
  return stringify({
    apiVersion: 'kubeadm.k8s.io/v1beta4',
    kind: 'JoinConfiguration',
    discovery: {
      bootstrapToken: {
        apiServerEndpoint: apiServerEndpoint(o.server),
        token: tokenString(o.token),
        caCertHashes: pemCertificates(o.caPem).map(caCertHash),
      },
    },
    nodeRegistration: {
      name: o.nodeName,
      // v1beta4 lists extra args as name/value pairs (v1beta3 had a map).
      kubeletExtraArgs: kubeletArgs(o).filter((a) => a.name !== 'hostname-override'),
    },
  });
}

/** The shell-quoted environment file the kubelet unit reads (kubeadm's /etc/default/kubelet). */
export function kubeletDefaults(o: Pick<JoinInputs, 'nodeIp' | 'labels' | 'nodeName'>): string {
  const flags = kubeletArgs(o).map((a) => `--${a.name}=${a.value}`).join(' ');
  return `# Written by Tether: this node's own kubelet flags.\nKUBELET_EXTRA_ARGS="${flags.replace(/["\\$`]/g, '\\$&')}"\n`;
}

export function joinFiles(o: JoinInputs): StagedFile[] {
  const file = (path: string, body: string, mode: number): StagedFile => ({ path, mode, contentBase64: Buffer.from(body).toString('base64') });
  const ca = o.caPem.endsWith('\n') ? o.caPem : `${o.caPem}\n`;
  return [
    file('etc/kubernetes/pki/ca.crt', ca, 0o644),
    file('etc/kubernetes/bootstrap-kubelet.conf', bootstrapKubeconfig(o), 0o600),
    file('var/lib/kubelet/config.yaml', o.kubeletConfig, 0o644),
    file('etc/default/kubelet', kubeletDefaults(o), 0o644),
    file('etc/kubernetes/kubeadm-join.yaml', kubeadmJoinConfiguration(o), 0o600),
  ];
}
