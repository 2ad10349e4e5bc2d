// The kubelet's command line as Tether stages it: systemd's EnvironmentFile /etc/default/kubelet
// with KUBELET_EXTRA_ARGS, and the kubelet's own startup check of --node-labels
// (cmd/kubelet/app/options.ValidateKubeletFlags), which refuses labels only the cluster may set.

export interface KubeletFlags {
  nodeIp: string | null;
  nodeLabels: Record<string, string>;
  hostnameOverride: string | null;
  registerWithTaints: string[];
  kubeconfig: string;
  bootstrapKubeconfig: string;
  config: string;
  certDir: string;
}

/** systemd EnvironmentFile syntax: KEY=value, KEY="value", KEY='value', # comments. */
export function parseEnvironmentFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    let v = line.slice(eq + 1).trim();
    if ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'"))) v = v.slice(1, -1);
    env[line.slice(0, eq).trim()] = v.replace(/\\"/g, '"');
  }
  return env;
}

/** Splits $KUBELET_EXTRA_ARGS the way the unit's ExecStart expands it (whitespace, no globbing). */
export function parseArgs(args: string): KubeletFlags {
  const f: KubeletFlags = {
    nodeIp: null, nodeLabels: {}, hostnameOverride: null, registerWithTaints: [],
    kubeconfig: '/etc/kubernetes/kubelet.conf', bootstrapKubeconfig: '/etc/kubernetes/bootstrap-kubelet.conf',
    config: '/var/lib/kubelet/config.yaml', certDir: '/var/lib/kubelet/pki',
  };
  const words = args.split(/\s+/).filter(Boolean);
  for (let i = 0; i < words.length; i++) {
    let [name, value] = words[i].includes('=') ? [words[i].slice(0, words[i].indexOf('=')), words[i].slice(words[i].indexOf('=') + 1)] : [words[i], undefined];
    name = name.replace(/^--?/, '');
    const take = () => value ?? words[++i] ?? '';
    switch (name) {
      case 'node-ip': f.nodeIp = take(); break;
      case 'hostname-override': f.hostnameOverride = take(); break;
      case 'node-labels':
        for (const kv of take().split(',').filter(Boolean)) {
          const eq = kv.indexOf('=');
          if (eq < 0) throw new Error(`invalid argument "${kv}" for "--node-labels" flag: ${kv} must be formatted as key=value`);
          f.nodeLabels[kv.slice(0, eq)] = kv.slice(eq + 1);
        }
        break;
      case 'register-with-taints': f.registerWithTaints.push(...take().split(',').filter(Boolean)); break;
      case 'kubeconfig': f.kubeconfig = take(); break;
      case 'bootstrap-kubeconfig': f.bootstrapKubeconfig = take(); break;
      case 'config': f.config = take(); break;
      case 'cert-dir': f.certDir = take(); break;
      default: if (value === undefined && words[i + 1] && !words[i + 1].startsWith('-')) i++;
    }
  }
  return f;
}

const KUBELET_LABELS = [
  'beta.kubernetes.io/arch', 'beta.kubernetes.io/instance-type', 'beta.kubernetes.io/os', 'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone', 'kubernetes.io/arch', 'kubernetes.io/hostname', 'kubernetes.io/os',
  'node.kubernetes.io/instance-type', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone',
];
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

const labelNamespace = (k: string) => (k.includes('/') ? k.slice(0, k.indexOf('/')) : '');
function isKubernetesLabel(k: string): boolean {
  const ns = labelNamespace(k);
  return ns === 'kubernetes.io' || ns.endsWith('.kubernetes.io') || ns === 'k8s.io' || ns.endsWith('.k8s.io');
}
function isKubeletLabel(k: string): boolean {
  if (KUBELET_LABELS.includes(k)) return true;
  const ns = labelNamespace(k);
  return KUBELET_LABEL_NAMESPACES.some((p) => ns === p || ns.endsWith(`.${p}`));
}

const qualifiedName = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Throws the kubelet's own startup error for labels it may not set or that are malformed. */
export function validateNodeLabels(labels: Record<string, string>): void {
  const unknown = Object.keys(labels).filter((k) => isKubernetesLabel(k) && !isKubeletLabel(k)).sort();
  if (unknown.length) {
    throw new Error(`failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [${unknown.join(' ')}]\n`
      + `--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix (${KUBELET_LABEL_NAMESPACES.join(', ')}) `
      + `or be in the specifically allowed set (${KUBELET_LABELS.join(', ')})`);
  }
  const bad: string[] = [];
  for (const [k, v] of Object.entries(labels)) {
    if (!qualifiedName.test(k) || k.length > 316) bad.push(`'${k}' - name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
    if (!labelValue.test(v) || v.length > 63) bad.push(`'${v}' - a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`);
  }
  if (bad.length) throw new Error(`failed to validate kubelet flags: invalid node labels: ${bad.join('; ')}`);
}
