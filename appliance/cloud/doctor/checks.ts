// `tether doctor`'s checks: pure functions from a Snapshot (a TenantControlPlane and tenant-cluster
// objects, however they were obtained) to findings a staff member can act on. Nothing here does I/O,
// so the same checks run on live clusters (gather.ts) and on saved YAML (load.ts), and are tested
// from a table of fixtures.
//
// Field sources are listed in types.ts; the Kamaji behaviour each check relies on is cited inline.
import type { ClusterRoleBinding, Finding, Pod, Severity, Snapshot, TenantControlPlane, Workload } from './types.ts';

export const CHECK_IDS = [
  'node-restriction',
  'konnectivity-addon',
  'konnectivity-host-network',
  'konnectivity-nodeport',
  'version-images',
  'bootstrap-rbac',
  'ca-rotating',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

export interface CheckOptions {
  /** The management cluster's --service-node-port-range; Kubernetes' default unless told otherwise. */
  nodePortRange?: readonly [number, number];
  /** "Now", for the recent-CA-change warning; tests pin it. */
  now?: Date;
  /** A CA that changed less than this long ago is worth a warning. */
  recentCaHours?: number;
}

export const DEFAULT_NODE_PORT_RANGE = [30000, 32767] as const;

// Kamaji's CRD default for spec.kubernetes.admissionControllers ([crd]): NodeRestriction is not in it,
// so a TenantControlPlane created without the field runs without it.
export const KAMAJI_DEFAULT_ADMISSION = [
  'CertificateApproval', 'CertificateSigning', 'CertificateSubjectRestriction', 'DefaultIngressClass',
  'DefaultStorageClass', 'DefaultTolerationSeconds', 'LimitRanger', 'MutatingAdmissionWebhook', 'NamespaceLifecycle',
  'PersistentVolumeClaimResize', 'Priority', 'ResourceQuota', 'RuntimeClass', 'ServiceAccount',
  'StorageObjectInUseProtection', 'TaintNodesByCondition', 'ValidatingAdmissionWebhook',
];

// The group Tether's bootstrap tokens carry (DESIGN.md) and the bindings kubeadm's bootstrap-token
// phase creates for it (kubeadm implementation details: kubeadm:kubelet-bootstrap,
// kubeadm:node-autoapprove-bootstrap, kubeadm:node-autoapprove-certificate-rotation).
export const TOKEN_GROUP = 'system:bootstrappers:kubeadm:default-node-token';
const BOOTSTRAP_BINDINGS = [
  { name: 'kubeadm:kubelet-bootstrap', role: 'system:node-bootstrapper', groups: [TOKEN_GROUP, 'system:bootstrappers'], group: TOKEN_GROUP, severity: 'error', why: 'the kubelet cannot create its certificate signing request' },
  { name: 'kubeadm:node-autoapprove-bootstrap', role: 'system:certificates.k8s.io:certificatesigningrequests:nodeclient', groups: [TOKEN_GROUP, 'system:bootstrappers'], group: TOKEN_GROUP, severity: 'error', why: 'the CSR stays Pending, so the kubelet never gets a certificate and the node never registers' },
  { name: 'kubeadm:node-autoapprove-certificate-rotation', role: 'system:certificates.k8s.io:certificatesigningrequests:selfnodeclient', groups: ['system:nodes'], group: 'system:nodes', severity: 'warning', why: 'renewals of the kubelet client certificate stay Pending, and the node drops out when its certificate expires' },
] as const;

// kubelet's waiting reasons for images it cannot get (pkg/kubelet/images: ErrImagePull, ImagePullBackOff,
// InvalidImageName, ErrImageNeverPull).
const PULL_FAILURES = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);

// Kamaji's defaults when status does not name the agent (agent.go: name konnectivity-agent; namespace
// kube-system; pods labelled k8s-app=konnectivity-agent).
export const AGENT_NAME = 'konnectivity-agent';
export const AGENT_NAMESPACE = 'kube-system';

export function runChecks(s: Snapshot, o: CheckOptions = {}): Finding[] {
  const out: Finding[] = [];
  for (const u of s.unreadable ?? []) {
    out.push({ id: 'access', severity: 'error', title: `cannot read ${u.what}: ${u.error}`, detail: `Checks that need it are reported as not checked.`, fix: u.fix });
  }
  if (!s.tcp && !s.unreadable?.some((u) => u.key === 'tcp')) {
    out.push({
      id: 'tcp', severity: 'warning', title: 'no TenantControlPlane to check',
      detail: 'Only the tenant cluster was examined: admission plugins, the konnectivity addon, the NodePort range and CA rotation are settings of the TenantControlPlane in the management cluster.',
      fix: 'set cloud.managementKubeconfig and cloud.tenantControlPlane {name, namespace} in tether.yaml, or pass --tcp-file with `kubectl -n <ns> get tenantcontrolplane <name> -o yaml` saved from the management cluster',
    });
  }
  for (const check of [nodeRestriction, konnectivityAddon, konnectivityHostNetwork, konnectivityNodePort, versionImages, bootstrapRbac, caRotating]) {
    const f = check(s, o);
    if (f) out.push(f);
  }
  return out;
}

/** Ids of findings that are not ok, in order, without duplicates. */
export function failingIds(findings: Finding[]): string[] {
  return [...new Set(findings.filter((f) => f.severity !== 'ok').map((f) => f.id))];
}

// ---- helpers -------------------------------------------------------------------------------------

function ok(id: CheckId, title: string, detail = ''): Finding {
  return { id, severity: 'ok', title, detail, fix: '' };
}

function notChecked(id: CheckId, s: Snapshot, key: string, missing: string): Finding {
  const u = s.unreadable?.find((x) => x.key === key || key.startsWith(`${x.key}.`));
  return {
    id, severity: 'warning',
    title: `not checked: ${u ? `cannot read ${u.what}` : missing}`,
    detail: u ? u.error : `${missing}.`,
    fix: u ? u.fix : 'run `tether doctor` with cloud.kubeconfig set in tether.yaml, or pass --tenant-dir with the tenant objects saved as YAML',
  };
}

function ref(tcp: TenantControlPlane): string {
  return `${tcp.metadata.namespace ?? 'default'}/${tcp.metadata.name ?? '?'}`;
}

/** A merge patch of the TCP, as the exact command to run against the management cluster. */
function patchTcp(tcp: TenantControlPlane, patch: unknown): string {
  return `kubectl -n ${tcp.metadata.namespace ?? 'default'} patch tenantcontrolplane ${tcp.metadata.name ?? '?'} --type merge -p '${JSON.stringify(patch)}'   # management cluster`;
}

/** Kamaji's ArgsFromSliceToMap: "--flag=value" → flag → value (a bare flag maps to ""). */
function argMap(args: string[] | undefined): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of args ?? []) {
    const i = a.indexOf('=');
    m.set(i < 0 ? a : a.slice(0, i), i < 0 ? '' : a.slice(i + 1));
  }
  return m;
}

function splitList(v: string | undefined): string[] {
  return (v ?? '').split(',').map((x) => x.trim()).filter(Boolean);
}

function normVersion(v: string | undefined): string | undefined {
  const m = /^v?(\d+\.\d+\.\d+)/.exec(v?.trim() ?? '');
  return m ? `v${m[1]}` : v?.trim() || undefined;
}

function konnectivity(tcp: TenantControlPlane) {
  return tcp.spec?.addons?.konnectivity ?? null;
}

function agentRef(s: Snapshot): { name: string; namespace: string } {
  const a = s.tcp?.status?.addons?.konnectivity?.agent;
  return { name: a?.name || AGENT_NAME, namespace: a?.namespace || AGENT_NAMESPACE };
}

function agentWorkload(s: Snapshot): Workload | undefined {
  const { name, namespace } = agentRef(s);
  const all = [...(s.tenant?.daemonSets ?? []), ...(s.tenant?.deployments ?? [])];
  return all.find((w) => w.metadata.name === name && (w.metadata.namespace ?? AGENT_NAMESPACE) === namespace);
}

function agentPods(s: Snapshot): Pod[] {
  const { namespace } = agentRef(s);
  return (s.tenant?.pods ?? []).filter((p) => (p.metadata.namespace ?? namespace) === namespace && p.metadata.labels?.['k8s-app'] === AGENT_NAME);
}

/** Containers that are waiting because their image cannot be pulled. */
function pullFailures(pods: Pod[] | undefined): string[] {
  const out: string[] = [];
  for (const p of pods ?? []) {
    for (const c of [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])]) {
      const w = c.state?.waiting;
      if (w?.reason && PULL_FAILURES.has(w.reason)) {
        out.push(`${p.metadata.name}/${c.name} ${c.image ?? ''}: ${w.reason}${w.message ? ` (${w.message})` : ''}`.replace(/ {2,}/g, ' '));
      }
    }
  }
  return out;
}

function toDate(v: string | Date | undefined): Date | undefined {
  if (!v) return undefined;
  const d = v instanceof Date ? v : new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

// ---- 1. NodeRestriction --------------------------------------------------------------------------

function nodeRestriction(s: Snapshot): Finding | null {
  const tcp = s.tcp;
  if (!tcp) return null;
  const id = 'node-restriction';
  const specList = tcp.spec?.kubernetes?.admissionControllers ?? KAMAJI_DEFAULT_ADMISSION;
  // [apisrv] extraArgs are merged after Kamaji's own args, so an --enable-admission-plugins there wins.
  const extra = argMap(tcp.spec?.controlPlane?.deployment?.extraArgs?.apiServer);
  const enableOverride = extra.get('--enable-admission-plugins');
  const effective = enableOverride !== undefined ? splitList(enableOverride) : specList;
  const disabled = splitList(extra.get('--disable-admission-plugins'));
  const missing = !effective.includes('NodeRestriction');
  const isDisabled = disabled.includes('NodeRestriction');
  if (!missing && !isDisabled) return ok(id, 'NodeRestriction admission plugin is enabled');

  const why = 'Without NodeRestriction a kubelet may modify any Node and the pods of other nodes, and may label its own Node with node-role labels. '
    + 'Hybrid workers sit on a provisioning LAN where anyone can pretend to be any machine: one compromised server must not be able to rewrite the rest of the cluster.';
  let detail: string;
  let fix: string;
  if (enableOverride !== undefined || isDisabled) {
    // Fix the override itself: editing spec.kubernetes.admissionControllers would change nothing.
    const args = (tcp.spec?.controlPlane?.deployment?.extraArgs?.apiServer ?? []).map((a) => {
      if (a.startsWith('--enable-admission-plugins=')) return `--enable-admission-plugins=${[...effective.filter((p) => p !== 'NodeRestriction'), 'NodeRestriction'].join(',')}`;
      if (a.startsWith('--disable-admission-plugins=')) return `--disable-admission-plugins=${disabled.filter((p) => p !== 'NodeRestriction').join(',')}`;
      return a;
    }).filter((a) => a !== '--disable-admission-plugins=');
    detail = `${why} spec.controlPlane.deployment.extraArgs.apiServer ${isDisabled ? 'disables NodeRestriction with --disable-admission-plugins' : 'overrides --enable-admission-plugins without NodeRestriction'}; Kamaji applies extraArgs after spec.kubernetes.admissionControllers, so they win.`;
    fix = `${patchTcp(tcp, { spec: { controlPlane: { deployment: { extraArgs: { apiServer: args } } } } })}  — Kamaji then rolls the API server pods`;
  } else {
    const wanted = [...specList, 'NodeRestriction'];
    detail = `${why} spec.kubernetes.admissionControllers ${tcp.spec?.kubernetes?.admissionControllers ? 'lacks it' : 'is unset, and Kamaji\'s default list lacks it'} (current: ${specList.join(', ')}).`;
    fix = `${patchTcp(tcp, { spec: { kubernetes: { admissionControllers: wanted } } })}  — Kamaji then rolls the API server pods`;
  }
  return { id, severity: 'error', title: 'NodeRestriction is not among the API server\'s admission plugins', detail, fix };
}

// ---- 2. konnectivity addon -----------------------------------------------------------------------

function konnectivityAddon(s: Snapshot, o: CheckOptions): Finding | null {
  const tcp = s.tcp;
  if (!tcp) return null;
  const id = 'konnectivity-addon';
  const k = konnectivity(tcp);
  if (!k) {
    const nodePort = tcp.spec?.controlPlane?.service?.serviceType === 'NodePort';
    const [lo, hi] = o.nodePortRange ?? DEFAULT_NODE_PORT_RANGE;
    const port = nodePort ? Math.min(Math.max(31132, lo), hi) : 8132;
    return {
      id, severity: 'error',
      title: 'konnectivity addon is off (spec.addons.konnectivity is unset)',
      detail: 'The API server reaches kubelets (logs, exec, port-forward, node proxy) and webhooks in the tenant cluster through Konnectivity. '
        + 'On-prem workers behind NAT cannot be dialled from the cloud, so without it `kubectl logs`/`exec` fail and Tether cannot prove a node is reachable.',
      fix: `${patchTcp(tcp, { spec: { addons: { konnectivity: { server: { port }, agent: { hostNetwork: true } } } } })}${nodePort ? `  — ${port} is inside the NodePort range because the TCP Service is NodePort` : ''}`,
    };
  }
  const st = tcp.status?.addons?.konnectivity;
  const port = k.server?.port ?? 8132;
  if (st && st.enabled !== true) {
    return {
      id, severity: 'warning',
      title: 'konnectivity addon is set but Kamaji does not report it enabled yet',
      detail: `spec.addons.konnectivity is set (server port ${port}) but status.addons.konnectivity.enabled is not true: Kamaji has not finished reconciling it, or failed to (see the Kamaji controller's log and \`kubectl -n ${tcp.metadata.namespace} describe tenantcontrolplane ${tcp.metadata.name}\`).`,
      fix: `wait for status.addons.konnectivity.enabled=true, then run tether doctor again; if it stays false, read the kamaji controller logs for ${ref(tcp)}`,
    };
  }
  return ok(id, `konnectivity addon is on (server port ${port}, agent as ${k.agent?.mode ?? 'DaemonSet'})`);
}

// ---- 3. agent on the host network ----------------------------------------------------------------

function konnectivityHostNetwork(s: Snapshot): Finding | null {
  const id = 'konnectivity-host-network';
  const tcp = s.tcp;
  const k = tcp ? konnectivity(tcp) : null;
  if (tcp && !k) return ok(id, 'n/a: konnectivity addon is off');
  const { name, namespace } = agentRef(s);
  const w = agentWorkload(s);
  const specHost = k ? k.agent?.hostNetwork === true : undefined;
  const liveHost = w ? w.spec?.template?.spec?.hostNetwork === true : undefined;
  if (!tcp) {
    if (!s.tenant) return null;
    if (s.tenant.daemonSets === undefined && s.tenant.deployments === undefined) return notChecked(id, s, 'tenant.daemonSets', 'no tenant workloads given');
    if (!w) {
      return {
        id, severity: 'warning', title: `no ${namespace}/${name} DaemonSet or Deployment in the tenant cluster`,
        detail: 'Kamaji deploys the konnectivity agent there when spec.addons.konnectivity is set; without an agent the API server cannot reach on-prem nodes.',
        fix: 'check spec.addons.konnectivity on the TenantControlPlane (run tether doctor with cloud.managementKubeconfig and cloud.tenantControlPlane set)',
      };
    }
  }
  if (specHost !== false && liveHost !== false) {
    return ok(id, `konnectivity agent uses the host network${w ? ` (${w.kind ?? 'workload'} ${namespace}/${name})` : ''}`);
  }
  const why = 'An agent on the pod network cannot start before the node\'s CNI is up, and the CNI itself may need the API server through the tunnel (webhooks, IPAM): '
    + 'the node never becomes reachable, and when the CNI breaks so does the only path to the node\'s logs. On the host network the agent dials out as soon as the kubelet runs it.';
  const evidence = [
    specHost === false ? `spec.addons.konnectivity.agent.hostNetwork is ${k?.agent?.hostNetwork === undefined ? 'unset (Kamaji\'s CRD default is false)' : 'false'}` : '',
    liveHost === false ? `the tenant's ${namespace}/${name} pod template has hostNetwork: ${w?.spec?.template?.spec?.hostNetwork ?? 'unset'}` : '',
  ].filter(Boolean).join('; ');
  const onlyLive = specHost !== false && liveHost === false;
  const fix = tcp
    ? onlyLive
      ? `the TenantControlPlane asks for hostNetwork but the agent does not have it: this Kamaji does not apply spec.addons.konnectivity.agent.hostNetwork (check \`kubectl explain tenantcontrolplane.spec.addons.konnectivity.agent.hostNetwork\` on the management cluster) — upgrade Kamaji; editing the ${namespace}/${name} DaemonSet by hand is reverted by Kamaji's reconcile`
      : `${patchTcp(tcp, { spec: { addons: { konnectivity: { agent: { hostNetwork: true } } } } })}  — Kamaji then rewrites the ${namespace}/${name} agent`
    : `set spec.addons.konnectivity.agent.hostNetwork: true on the TenantControlPlane (management cluster); the agent ${namespace}/${name} is Kamaji's and is rewritten from it`;
  return { id, severity: 'error', title: 'konnectivity agent runs on the pod network, not the host network', detail: `${why} Found: ${evidence}.`, fix };
}

// ---- 4. NodePort range -----------------------------------------------------------------------------

function konnectivityNodePort(s: Snapshot, o: CheckOptions): Finding | null {
  const tcp = s.tcp;
  if (!tcp) return null;
  const id = 'konnectivity-nodeport';
  const type = tcp.spec?.controlPlane?.service?.serviceType;
  if (type !== 'NodePort') return ok(id, `n/a: the TenantControlPlane Service is ${type ?? 'unset'}, not NodePort`);
  const [lo, hi] = o.nodePortRange ?? DEFAULT_NODE_PORT_RANGE;
  const inRange = (p: number): boolean => p >= lo && p <= hi;
  const k = konnectivity(tcp);
  const kPort = k ? (k.server?.port ?? 8132) : undefined;
  const apiPort = tcp.spec?.networkProfile?.port ?? 6443;
  const bad: string[] = [];
  const patch: { spec: Record<string, unknown> } = { spec: {} };
  if (kPort !== undefined && !inRange(kPort)) {
    bad.push(`konnectivity server port ${kPort} (spec.addons.konnectivity.server.port)`);
    patch.spec.addons = { konnectivity: { server: { port: Math.min(Math.max(31132, lo), hi) } } };
  }
  if (!inRange(apiPort)) {
    bad.push(`API server port ${apiPort} (spec.networkProfile.port)`);
    patch.spec.networkProfile = { port: Math.min(Math.max(31443, lo), hi) };
  }
  if (!bad.length) return ok(id, `NodePort Service ports are inside ${lo}-${hi}${kPort !== undefined ? ` (konnectivity ${kPort}, API ${apiPort})` : ` (API ${apiPort})`}`);
  return {
    id, severity: 'error',
    title: `${bad.map((b) => b.split(' (')[0]).join(' and ')} outside the NodePort range ${lo}-${hi}`,
    detail: `The TenantControlPlane Service is NodePort and Kamaji sets each nodePort equal to the port (k8s_service_resource.go, konnectivity/service_resource.go). `
      + `The management cluster rejects a nodePort outside its --service-node-port-range (default ${DEFAULT_NODE_PORT_RANGE.join('-')}), so the Service never gets that port and agents on the workers have nothing to dial. Out of range: ${bad.join('; ')}.`,
    fix: `${patchTcp(tcp, patch)}  — pick free ports inside ${lo}-${hi}; changing the API port changes every kubeconfig's server URL (re-run tether's cloud link setup after)`,
  };
}

// ---- 5. version and images ---------------------------------------------------------------------

function versionImages(s: Snapshot): Finding | null {
  const id = 'version-images';
  const tcp = s.tcp;
  if (!tcp && !s.tenant) return null;
  const wanted = normVersion(tcp?.spec?.kubernetes?.version);
  const versionStatus = tcp?.status?.kubernetesResources?.version;
  const running = normVersion(versionStatus?.version);
  const phase = versionStatus?.status;
  const tenantVersion = normVersion(s.tenant?.version?.gitVersion);
  const dep = tcp?.status?.kubernetesResources?.deployment;
  const stalled = dep?.conditions?.find((c) => c.type === 'Progressing' && c.status === 'False');
  const cpPulls = pullFailures(s.management?.pods);
  const agentPulls = pullFailures(agentPods(s));
  const errors: string[] = [];
  const warnings: string[] = [];
  const fixes: string[] = [];

  if (cpPulls.length) {
    errors.push(`control-plane pods cannot pull their images: ${cpPulls.join('; ')}`);
    const reg = tcp?.spec?.controlPlane?.deployment?.registrySettings;
    fixes.push(`set spec.kubernetes.version to a release whose images exist in ${reg?.registry ?? 'registry.k8s.io'} (${reg?.apiServerImage ?? 'kube-apiserver'}:<version>${reg?.tagSuffix ?? ''} and friends), or mirror the images for ${wanted ?? 'the requested version'} into that registry`
      + (tcp ? `: ${patchTcp(tcp, { spec: { kubernetes: { version: '<version with published images>' } } })}` : ''));
  }
  if (agentPulls.length) {
    errors.push(`konnectivity agent pods cannot pull their image: ${agentPulls.join('; ')}`);
    // [crd] agent.version: "If left empty, Kamaji will automatically inflect the version from the deployed
    // Tenant Control Plane. WARNING: for last cut-off releases, the container image could be not available."
    fixes.push(`set spec.addons.konnectivity.agent.version (and server.version) to a tag published under registry.k8s.io/kas-network-proxy/proxy-agent`
      + (tcp ? `: ${patchTcp(tcp, { spec: { addons: { konnectivity: { agent: { version: '<published tag>' }, server: { version: '<published tag>' } } } } })}` : ''));
  }
  if (wanted && running && wanted !== running) {
    if (stalled) {
      errors.push(`${wanted} is requested but ${running} is running, and the control-plane Deployment stopped progressing (${stalled.reason ?? 'Progressing=False'}${stalled.message ? `: ${stalled.message.replace(/\.$/, '')}` : ''})`);
      if (!cpPulls.length) fixes.push(`find why the new pods fail: \`kubectl -n ${dep?.namespace ?? tcp?.metadata.namespace} get pods -l ${dep?.selector ?? `<selector>`}\` then describe the failing one; if ${wanted} has no images, set spec.kubernetes.version back to a published release`);
    } else if (phase === 'NotReady') {
      errors.push(`${wanted} is requested but ${running} is running and the TenantControlPlane is NotReady`);
      if (!cpPulls.length) fixes.push(`\`kubectl -n ${tcp?.metadata.namespace} describe tenantcontrolplane ${tcp?.metadata.name}\` and the control-plane pods' events; check that ${wanted} is a release Kamaji supports and whose images exist`);
    } else {
      warnings.push(`${wanted} is requested but ${running} is running (status ${phase ?? 'unknown'}): the upgrade has not finished`);
      fixes.push('join workers after status.kubernetesResources.version.version equals spec.kubernetes.version: a kubelet newer than the API server is not supported');
    }
  } else if (wanted && !running && (phase === 'NotReady' || stalled)) {
    errors.push(`${wanted} is requested and never came up (status ${phase ?? 'unknown'}${stalled ? `, Deployment ${stalled.reason ?? 'not progressing'}` : ''})`);
    if (!cpPulls.length) fixes.push(`\`kubectl -n ${tcp?.metadata.namespace} describe tenantcontrolplane ${tcp?.metadata.name}\` and the control-plane pods' events; check that ${wanted} is a published release Kamaji supports`);
  }
  if (wanted && tenantVersion && tenantVersion !== wanted && !errors.length && !warnings.length) {
    warnings.push(`the tenant API server reports ${tenantVersion} but ${wanted} is requested`);
    fixes.push('wait for the control-plane rollout to finish, then run tether doctor again');
  }

  if (errors.length) {
    return {
      id, severity: 'error', title: 'requested Kubernetes version is not running: images missing or unsupported',
      detail: `${[...errors, ...warnings].join('. ')}. Workers joined now get a kubelet/API-server version skew or no API server at all; the node image's kubelet must not be newer than the running API server.`,
      fix: fixes.join('; then '),
    };
  }
  if (warnings.length) {
    return { id, severity: 'warning', title: 'Kubernetes version change in progress', detail: `${warnings.join('. ')}.`, fix: fixes.join('; ') };
  }
  const v = running ?? tenantVersion ?? wanted;
  return ok(id, v ? `Kubernetes ${v} is running${phase ? ` (status ${phase})` : ''}` : 'no version information, nothing failing');
}

// ---- 6. bootstrap token RBAC -----------------------------------------------------------------------

function bootstrapRbac(s: Snapshot): Finding | null {
  const id = 'bootstrap-rbac';
  if (!s.tenant) return notChecked(id, s, 'tenant.clusterRoleBindings', 'no tenant cluster objects given');
  const crbs = s.tenant.clusterRoleBindings;
  if (!crbs) return notChecked(id, s, 'tenant.clusterRoleBindings', 'no ClusterRoleBindings given');
  const bound = (role: string, groups: readonly string[]): ClusterRoleBinding | undefined => crbs.find((b) =>
    b.roleRef?.kind === 'ClusterRole' && b.roleRef.name === role
    && (b.subjects ?? []).some((sub) => sub.kind === 'Group' && groups.includes(sub.name)));
  const missing = BOOTSTRAP_BINDINGS.filter((b) => !bound(b.role, b.groups));
  if (!missing.length) return ok(id, `bootstrap token group ${TOKEN_GROUP} is bound for TLS bootstrap and CSR auto-approval`);
  const severity: Severity = missing.some((m) => m.severity === 'error') ? 'error' : 'warning';
  return {
    id, severity,
    title: `bootstrap RBAC missing: ${missing.map((m) => `${m.group} → ${m.role}`).join(', ')}`,
    detail: `Tether's bootstrap tokens authenticate as group ${TOKEN_GROUP}; the kubelet's TLS bootstrap needs these bindings. `
      + missing.map((m) => `Without ${m.group} bound to ClusterRole ${m.role}, ${m.why}.`).join(' ')
      + ' Kamaji creates them through kubeadm\'s bootstrap-token phase (status.kubeadmPhase.bootstrapToken); they are missing or were deleted.',
    fix: missing.map((m) => `kubectl create clusterrolebinding ${m.name} --clusterrole=${m.role} --group=${m.group}`).join('; ') + '   # tenant cluster',
  };
}

// ---- 7. CA rotation ----------------------------------------------------------------------------------

function caRotating(s: Snapshot, o: CheckOptions): Finding | null {
  const tcp = s.tcp;
  if (!tcp) return null;
  const id = 'ca-rotating';
  const phase = tcp.status?.kubernetesResources?.version?.status;
  const ca = tcp.status?.certificates?.ca;
  // [ca] Kamaji sets status.kubernetesResources.version.status = CertificateAuthorityRotating while it
  // regenerates the CA; the rotation is requested with the annotation certs.kamaji.clastix.io/rotate on
  // the CA Secret (status.certificates.ca.secretName), or by deleting that Secret.
  if (phase === 'CertificateAuthorityRotating') {
    return {
      id, severity: 'error', title: 'the tenant cluster\'s CA is being rotated',
      detail: `status.kubernetesResources.version.status is CertificateAuthorityRotating${ca?.secretName ? ` (CA Secret ${tcp.metadata.namespace}/${ca.secretName})` : ''}. `
        + 'A node that joins now gets a ca.crt and bootstrap kubeconfig for the CA being replaced and will not trust the API server once the rotation ends. '
        + 'Every node needs the new CA and new kubelet certificates afterwards.',
      fix: 'hold approvals and installs until status.kubernetesResources.version.status returns to Ready (`kubectl -n '
        + `${tcp.metadata.namespace} get tenantcontrolplane ${tcp.metadata.name} -w\`); then refresh Tether's cached CA/join files and re-issue join files for machines staged during the rotation`,
    };
  }
  const changed = toDate(ca?.lastUpdate);
  const created = toDate(tcp.metadata.creationTimestamp);
  const now = o.now ?? new Date();
  const hours = o.recentCaHours ?? 24;
  // lastUpdate is also written when the CA is first created: only a change well after creation counts.
  if (changed && created && changed.getTime() - created.getTime() > 3600_000 && now.getTime() - changed.getTime() < hours * 3600_000) {
    return {
      id, severity: 'warning', title: `the CA changed at ${changed.toISOString()}`,
      detail: `status.certificates.ca.lastUpdate is less than ${hours} h old and well after the TenantControlPlane was created: the CA was rotated. Join files staged before then carry the old CA.`,
      fix: 'refresh Tether\'s cached CA, and re-issue join files for machines staged before the change',
    };
  }
  return ok(id, `no CA rotation in progress${phase ? ` (status ${phase})` : ''}`);
}
