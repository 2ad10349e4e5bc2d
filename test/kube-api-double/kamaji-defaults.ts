// The structural defaults of Kamaji's TenantControlPlane CRD (the +kubebuilder:default markers of
// api/v1alpha1), which the API server applies on every write: a field is defaulted only when the
// object holding it is present. Note the default admission plugins do not include NodeRestriction.
const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const orDefault = (o: Record<string, any>, k: string, v: unknown) => { if (o[k] === undefined) o[k] = structuredClone(v); };

export const DEFAULT_ADMISSION_CONTROLLERS = ['CertificateApproval', 'CertificateSigning', 'CertificateSubjectRestriction', 'DefaultIngressClass',
  'DefaultStorageClass', 'DefaultTolerationSeconds', 'LimitRanger', 'MutatingAdmissionWebhook', 'NamespaceLifecycle', 'PersistentVolumeClaimResize',
  'Priority', 'ResourceQuota', 'RuntimeClass', 'ServiceAccount', 'StorageObjectInUseProtection', 'TaintNodesByCondition', 'ValidatingAdmissionWebhook'];
const KONNECTIVITY_VERSION = 'v0.28.6';

export function defaultTenantControlPlane(tcp: any): void {
  const spec = tcp.spec;
  if (!isObj(spec)) return;
  const dep = spec.controlPlane?.deployment;
  if (isObj(dep)) {
    orDefault(dep, 'registrySettings', { registry: 'registry.k8s.io', apiServerImage: 'kube-apiserver', controllerManagerImage: 'kube-controller-manager', schedulerImage: 'kube-scheduler' });
    orDefault(dep, 'replicas', 2);
    orDefault(dep, 'strategy', { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: '100%' } });
    orDefault(dep, 'serviceAccountName', 'default');
  }
  const k8s = spec.kubernetes;
  if (isObj(k8s)) {
    orDefault(k8s, 'admissionControllers', DEFAULT_ADMISSION_CONTROLLERS);
    if (isObj(k8s.kubelet)) orDefault(k8s.kubelet, 'preferredAddressTypes', ['Hostname', 'InternalIP', 'ExternalIP']);
  }
  const net = spec.networkProfile;
  if (isObj(net)) {
    orDefault(net, 'clusterDomain', 'cluster.local');
    orDefault(net, 'port', 6443);
    orDefault(net, 'serviceCidr', '10.96.0.0/16');
    orDefault(net, 'podCidr', '10.244.0.0/16');
  }
  const konn = spec.addons?.konnectivity;
  if (isObj(konn)) {
    orDefault(konn, 'server', { version: KONNECTIVITY_VERSION, image: 'registry.k8s.io/kas-network-proxy/proxy-server', port: 8132 });
    orDefault(konn, 'agent', { version: KONNECTIVITY_VERSION, image: 'registry.k8s.io/kas-network-proxy/proxy-agent' });
    if (isObj(konn.server)) {
      orDefault(konn.server, 'version', KONNECTIVITY_VERSION);
      orDefault(konn.server, 'image', 'registry.k8s.io/kas-network-proxy/proxy-server');
    }
    if (isObj(konn.agent)) {
      orDefault(konn.agent, 'image', 'registry.k8s.io/kas-network-proxy/proxy-agent');
      orDefault(konn.agent, 'version', KONNECTIVITY_VERSION);
      orDefault(konn.agent, 'tolerations', [{ key: 'CriticalAddonsOnly', operator: 'Exists' }]);
    }
  }
}
