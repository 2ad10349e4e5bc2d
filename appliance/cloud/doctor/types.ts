// The shapes `tether doctor` reads, in their wire (JSON) form. Only fields a check reads are declared,
// and each one is named after the source where it was confirmed, so a reader can tell a real Kamaji
// field from a guess. Objects read through @kubernetes/client-node models have the same property names
// (dates may arrive as Date objects), so the checks accept both.
//
// Sources (clastix/kamaji):
//   [types]  api/v1alpha1/tenantcontrolplane_types.go
//   [status] api/v1alpha1/tenantcontrolplane_status.go
//   [crd]    charts/kamaji-crds/hack/kamaji.clastix.io_tenantcontrolplanes_spec.yaml (defaults, enums)
//   [svc]    internal/resources/k8s_service_resource.go, internal/resources/konnectivity/service_resource.go
//   [agent]  internal/resources/konnectivity/agent.go
//   [apisrv] internal/builders/controlplane/deployment.go (buildKubeAPIServerCommand)
//   [ca]     internal/resources/ca_certificate.go, docs/content/guides/certs-lifecycle.md
// Kubernetes: apps/v1 DaemonSet/Deployment, core/v1 Pod, rbac/v1 ClusterRoleBinding, /version.

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  creationTimestamp?: string | Date;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
}

export interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

/** kamaji.clastix.io/v1alpha1 TenantControlPlane. */
export interface TenantControlPlane {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  spec?: {
    controlPlane?: {
      // [types] ServiceSpec.ServiceType; [crd] enum ClusterIP | NodePort | LoadBalancer
      service?: { serviceType?: string };
      deployment?: {
        // [types] ControlPlaneExtraArgs.APIServer: "--flag=value" strings merged over Kamaji's own args [apisrv]
        extraArgs?: { apiServer?: string[] };
        // [crd] registrySettings {registry, apiServerImage, ..., tagSuffix}
        registrySettings?: { registry?: string; apiServerImage?: string; tagSuffix?: string };
      };
    };
    kubernetes?: {
      version?: string; // [types] KubernetesSpec.Version
      admissionControllers?: string[]; // [types] KubernetesSpec.AdmissionControllers → --enable-admission-plugins [apisrv]
    };
    networkProfile?: { port?: number }; // [types] NetworkProfileSpec.Port, [crd] default 6443
    addons?: {
      // [types] AddonsSpec.Konnectivity (*KonnectivitySpec): nil = addon off
      konnectivity?: {
        server?: { port?: number; version?: string; image?: string }; // [crd] default {port: 8132}
        // [crd] agent.hostNetwork (default false), agent.mode (DaemonSet | Deployment), agent.version, agent.image
        agent?: { hostNetwork?: boolean; mode?: string; version?: string; image?: string };
      } | null;
    };
  };
  status?: {
    controlPlaneEndpoint?: string; // [status]
    certificates?: {
      // [status] CertificatesStatus.CA; [ca] lastUpdate and checksum change when the CA Secret's data changes
      ca?: { secretName?: string; lastUpdate?: string | Date; checksum?: string };
    };
    kubernetesResources?: {
      // [status] KubernetesVersion; [crd] status enum Unknown | Provisioning | CertificateAuthorityRotating |
      // Upgrading | Migrating | Ready | NotReady | Sleeping | WriteLimited
      version?: { version?: string; status?: string };
      // [status] KubernetesDeploymentStatus: apps/v1 DeploymentStatus inline + selector/name/namespace
      deployment?: {
        selector?: string;
        name?: string;
        namespace?: string;
        replicas?: number;
        readyReplicas?: number;
        unavailableReplicas?: number;
        conditions?: Condition[];
      };
    };
    addons?: {
      // [status] KonnectivityStatus: enabled, agent {name, namespace, mode}, service {port}
      konnectivity?: {
        enabled?: boolean;
        agent?: { name?: string; namespace?: string; mode?: string };
        service?: { port?: number };
      };
    };
  };
}

export interface Subject { kind: string; name: string; apiGroup?: string; namespace?: string }

export interface ClusterRoleBinding {
  metadata: ObjectMeta;
  roleRef: { kind: string; name: string; apiGroup?: string };
  subjects?: Subject[];
}

/** apps/v1 DaemonSet or Deployment: only the pod template's hostNetwork matters here. */
export interface Workload {
  kind?: string;
  metadata: ObjectMeta;
  spec?: { template?: { spec?: { hostNetwork?: boolean } } };
}

export interface ContainerStatus {
  name: string;
  image?: string;
  state?: { waiting?: { reason?: string; message?: string } };
}

export interface Pod {
  metadata: ObjectMeta;
  spec?: { nodeName?: string };
  status?: { phase?: string; containerStatuses?: ContainerStatus[]; initContainerStatuses?: ContainerStatus[] };
}

/** GET /version (apimachinery version.Info). */
export interface VersionInfo { gitVersion?: string; major?: string; minor?: string }

/** Something doctor tried to read and could not: becomes an `access` finding, never a crash. */
export interface Unreadable {
  /** Which snapshot field stays empty because of it, e.g. `tenant.clusterRoleBindings`. */
  key: string;
  /** What was read, in words: `clusterrolebindings (tenant cluster)`. */
  what: string;
  /** `403 Forbidden: ...`, `connect ECONNREFUSED 127.0.0.1:6443`. */
  error: string;
  /** How to let doctor read it. */
  fix: string;
}

/**
 * Everything the checks look at. `undefined` means "not read" (see `unreadable` for why);
 * an empty array means "read, and there are none".
 */
export interface Snapshot {
  tcp: TenantControlPlane | null;
  /** Where the TCP came from (file path or `namespace/name`), for messages. */
  tcpSource?: string;
  /** Objects in the management cluster beside the TCP: its pods (image pull failures show there). */
  management?: { pods?: Pod[] };
  /** The tenant cluster; null when no tenant kubeconfig / directory was given. */
  tenant: {
    version?: VersionInfo;
    clusterRoleBindings?: ClusterRoleBinding[];
    daemonSets?: Workload[];
    deployments?: Workload[];
    pods?: Pod[];
  } | null;
  unreadable?: Unreadable[];
}

export type Severity = 'error' | 'warning' | 'ok';

export interface Finding {
  id: string;
  severity: Severity;
  title: string;
  detail: string;
  /** What a staff member does about it: the exact field / command. Empty for `ok`. */
  fix: string;
}
