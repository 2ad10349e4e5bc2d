// Authorization: the RBAC the double's users would get on a Kamaji tenant (kubeadm's bootstrap-token
// phase bindings, the default system:* ClusterRoles), plus NodeRestriction admission for kubelets.
// Denials carry RBAC's own wording, which clients show to operators.
import type { User } from './auth.ts';
import { forbidden, forbiddenPath, type ApiError } from './status.ts';

export interface Attributes {
  user: User;
  verb: string;
  resourceRequest: boolean;
  path: string;
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
}

interface Rule {
  verbs: string[];
  group?: string;
  resources?: string[];
  namespace?: string;
  names?: string[];
  paths?: string[];
}

/** The group kubeadm (run by Kamaji) binds to node-bootstrapper and CSR auto-approval. */
export const KUBEADM_BOOTSTRAP_GROUP = 'system:bootstrappers:kubeadm:default-node-token';

const PUBLIC_INFO: Rule = { verbs: ['get'], paths: ['/healthz', '/livez', '/readyz', '/version', '/version/'] };
const DISCOVERY: Rule = { verbs: ['get'], paths: ['/api', '/api/*', '/apis', '/apis/*', '/openapi', '/openapi/*', '/healthz', '/livez', '/readyz', '/version', '/version/'] };
const KUBEADM_CONFIGMAPS: Rule = { verbs: ['get'], group: '', resources: ['configmaps'], namespace: 'kube-system', names: ['kubeadm-config', 'kubelet-config'] };
const CSR_REQUESTER: Rule = { verbs: ['create', 'get', 'list', 'watch'], group: 'certificates.k8s.io', resources: ['certificatesigningrequests'] };

const ROLES: Record<string, Rule[]> = {
  'system:unauthenticated': [PUBLIC_INFO],
  'system:authenticated': [DISCOVERY],
  [KUBEADM_BOOTSTRAP_GROUP]: [
    CSR_REQUESTER,
    { verbs: ['create'], group: 'certificates.k8s.io', resources: ['certificatesigningrequests/nodeclient'] },
    { verbs: ['get'], group: '', resources: ['nodes'] },
    KUBEADM_CONFIGMAPS,
  ],
  'system:nodes': [
    { verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'], group: '', resources: ['nodes'] },
    { verbs: ['get', 'update', 'patch'], group: '', resources: ['nodes/status'] },
    CSR_REQUESTER,
    { verbs: ['create'], group: 'certificates.k8s.io', resources: ['certificatesigningrequests/selfnodeclient'] },
    { verbs: ['get', 'list', 'watch'], group: '', resources: ['pods'] },
    { verbs: ['create', 'update', 'patch'], group: '', resources: ['events'] },
    KUBEADM_CONFIGMAPS,
  ],
};

const pathMatches = (pattern: string, path: string) =>
  pattern.endsWith('*') ? path.startsWith(pattern.slice(0, -1)) : pattern === path;

function allows(rule: Rule, a: Attributes): boolean {
  if (!rule.verbs.includes(a.verb) && !rule.verbs.includes('*')) return false;
  if (!a.resourceRequest) return !!rule.paths?.some((p) => pathMatches(p, a.path));
  if (!rule.resources || rule.group !== a.group) return false;
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (!rule.resources.includes(res)) return false;
  if (rule.namespace !== undefined && rule.namespace !== a.namespace) return false;
  if (rule.names && !rule.names.includes(a.name)) return false;
  return true;
}

export function allowed(a: Attributes): boolean {
  if (a.user.groups.includes('system:masters')) return true;
  return a.user.groups.some((g) => (ROLES[g] ?? []).some((r) => allows(r, a)));
}

/** Null when allowed, else the 403 exactly as RBAC words it. */
export function authorize(a: Attributes): ApiError | null {
  if (allowed(a)) return null;
  if (!a.resourceRequest) return forbiddenPath(a.user.name, a.verb, a.path);
  const res = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
  return forbidden({ group: a.group, resource: a.resource }, a.name,
    `User "${a.user.name}" cannot ${a.verb} resource "${res}" in API group "${a.group}" ${scope}`);
}

// NodeRestriction (plugin/pkg/admission/noderestriction): a kubelet may write only its own Node,
// and only labels in the kubelet's allowed set.
const KUBELET_LABELS = new Set([
  'kubernetes.io/hostname', 'kubernetes.io/arch', 'kubernetes.io/os', 'beta.kubernetes.io/arch', 'beta.kubernetes.io/os',
  'beta.kubernetes.io/instance-type', 'node.kubernetes.io/instance-type', 'failure-domain.beta.kubernetes.io/region',
  'failure-domain.beta.kubernetes.io/zone', 'topology.kubernetes.io/region', 'topology.kubernetes.io/zone',
]);
const KUBELET_LABEL_NAMESPACES = ['kubelet.kubernetes.io', 'node.kubernetes.io'];

const labelNamespace = (k: string) => (k.includes('/') ? k.slice(0, k.indexOf('/')) : '');
const isKubernetesLabel = (k: string) => {
  const ns = labelNamespace(k);
  return ns === 'kubernetes.io' || ns.endsWith('.kubernetes.io') || ns === 'k8s.io' || ns.endsWith('.k8s.io');
};
export const isKubeletLabel = (k: string) => {
  if (KUBELET_LABELS.has(k)) return true;
  const ns = labelNamespace(k);
  return KUBELET_LABEL_NAMESPACES.some((p) => ns === p || ns.endsWith(`.${p}`));
};
export const forbiddenKubeletLabels = (labels: Record<string, string> | undefined) =>
  Object.keys(labels ?? {}).filter((k) => isKubernetesLabel(k) && !isKubeletLabel(k)).sort();

export const nodeNameOf = (u: User) =>
  u.groups.includes('system:nodes') && u.name.startsWith('system:node:') ? u.name.slice('system:node:'.length) : null;

/** Admission for a node user writing `nodes/<name>`; `old` is null on create. */
export function admitNodeWrite(user: User, name: string, next: any, old: any | null): ApiError | null {
  const self = nodeNameOf(user);
  if (self === null) return null;
  const gr = { group: '', resource: 'nodes' };
  if (self !== name) return forbidden(gr, name, `node "${self}" is not allowed to modify node "${name}"`);
  if (!old) {
    const bad = forbiddenKubeletLabels(next.metadata?.labels);
    if (bad.length) return forbidden(gr, name, `is not allowed to set the following labels: ${bad.join(', ')}`);
    return null;
  }
  const before = old.metadata?.labels ?? {};
  const after = next.metadata?.labels ?? {};
  const changed = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => before[k] !== after[k] && isKubernetesLabel(k) && !isKubeletLabel(k)).sort();
  if (changed.length) return forbidden(gr, name, `is not allowed to modify labels: ${changed.join(', ')}`);
  return null;
}
