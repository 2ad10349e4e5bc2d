// Server-side printing (meta.k8s.io/v1 Table), which kubectl asks for on every `get`. Columns as the
// real printers define them (pkg/printers/internalversion, a CRD's additionalPrinterColumns, or
// the default Name/Created At); rows carry PartialObjectMetadata unless includeObject says otherwise.
import type { ResourceDef } from './resources.ts';
import { toWire } from './strategy.ts';

interface Column { name: string; type: string; format: string; description: string; priority: number }
const col = (name: string, type = 'string', priority = 0, format = ''): Column => ({ name, type, format, description: name, priority });
const NAME = col('Name', 'string', 0, 'name');

/** duration.HumanDuration, the AGE column's format. */
export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < -1) return '<invalid>';
  if (s < 0) return '0s';
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`;
  if (d < 365 * 2) return `${d}d`;
  const y = Math.floor(d / 365);
  return d % 365 === 0 || y >= 8 ? `${y}y` : `${y}y${d % 365}d`;
}

const age = (o: any) => (o.metadata?.creationTimestamp ? humanDuration(Date.now() - Date.parse(o.metadata.creationTimestamp)) : '<unknown>');

function nodeStatus(o: any): string {
  const ready = (o.status?.conditions ?? []).find((c: any) => c.type === 'Ready');
  const parts = [ready ? (ready.status === 'True' ? 'Ready' : 'NotReady') : 'Unknown'];
  if (o.spec?.unschedulable) parts.push('SchedulingDisabled');
  return parts.join(',');
}
function nodeRoles(o: any): string {
  const roles = Object.keys(o.metadata?.labels ?? {}).filter((k) => k.startsWith('node-role.kubernetes.io/')).map((k) => k.slice(24));
  if (o.metadata?.labels?.['kubernetes.io/role']) roles.push(o.metadata.labels['kubernetes.io/role']);
  return roles.length ? roles.sort().join(',') : '<none>';
}
const addr = (o: any, t: string) => (o.status?.addresses ?? []).find((a: any) => a.type === t)?.address ?? '<none>';

function csrCondition(o: any): string {
  const conds = (o.status?.conditions ?? []).map((c: any) => c.type);
  const parts = conds.filter((t: string) => t === 'Approved' || t === 'Denied' || t === 'Failed');
  if (!parts.length) parts.push('Pending');
  if (o.status?.certificate) parts.push('Issued');
  return parts.join(',');
}

function podReady(o: any): string {
  const cs = o.status?.containerStatuses ?? [];
  return `${cs.filter((c: any) => c.ready).length}/${(o.spec?.containers ?? []).length}`;
}

const PRINTERS: Record<string, { columns: Column[]; cells: (o: any) => unknown[] }> = {
  Node: {
    columns: [NAME, col('Status'), col('Roles'), col('Age'), col('Version'), col('Internal-IP', 'string', 1), col('External-IP', 'string', 1),
      col('OS-Image', 'string', 1), col('Kernel-Version', 'string', 1), col('Container-Runtime', 'string', 1)],
    cells: (o) => [o.metadata.name, nodeStatus(o), nodeRoles(o), age(o), o.status?.nodeInfo?.kubeletVersion ?? '', addr(o, 'InternalIP'),
      addr(o, 'ExternalIP'), o.status?.nodeInfo?.osImage ?? '<unknown>', o.status?.nodeInfo?.kernelVersion ?? '<unknown>',
      o.status?.nodeInfo?.containerRuntimeVersion ?? '<unknown>'],
  },
  Secret: {
    columns: [NAME, col('Type'), col('Data', 'string'), col('Age')],
    cells: (o) => [o.metadata.name, o.type, Object.keys(o.data ?? {}).length, age(o)],
  },
  ConfigMap: {
    columns: [NAME, col('Data', 'string'), col('Age')],
    cells: (o) => [o.metadata.name, Object.keys(o.data ?? {}).length + Object.keys(o.binaryData ?? {}).length, age(o)],
  },
  Namespace: { columns: [NAME, col('Status'), col('Age')], cells: (o) => [o.metadata.name, o.status?.phase ?? '', age(o)] },
  Pod: {
    columns: [NAME, col('Ready'), col('Status'), col('Restarts', 'integer'), col('Age'), col('IP', 'string', 1), col('Node', 'string', 1)],
    cells: (o) => [o.metadata.name, podReady(o), o.status?.phase ?? '', (o.status?.containerStatuses ?? []).reduce((n: number, c: any) => n + (c.restartCount ?? 0), 0),
      age(o), o.status?.podIP ?? '<none>', o.spec?.nodeName ?? '<none>'],
  },
  CertificateSigningRequest: {
    columns: [NAME, col('Age'), col('SignerName'), col('Requestor'), col('RequestedDuration'), col('Condition')],
    cells: (o) => [o.metadata.name, age(o), o.spec?.signerName ?? '', o.spec?.username ?? '',
      o.spec?.expirationSeconds ? humanDuration(o.spec.expirationSeconds * 1000) : '<none>', csrCondition(o)],
  },
  TenantControlPlane: {
    columns: [NAME, col('Version'), col('Status'), col('Control-Plane endpoint'), col('Kubeconfig'), col('Datastore'), col('Age', 'date')],
    cells: (o) => [o.metadata.name, o.spec?.kubernetes?.version ?? null, o.status?.kubernetesResources?.version?.status ?? null,
      o.status?.controlPlaneEndpoint ?? null, o.status?.kubeconfig?.admin?.secretName ?? null, o.status?.storage?.dataStoreName ?? null,
      o.metadata.creationTimestamp],
  },
};
const DEFAULT = { columns: [NAME, col('Created At', 'date')], cells: (o: any) => [o.metadata.name, o.metadata.creationTimestamp] };

/** True when the Accept header asks for a Table first (kubectl `get` without -o json/yaml). */
export function wantsTable(accept: string | undefined): boolean {
  const first = (accept ?? '').split(',')[0] ?? '';
  return /as=Table/.test(first) && /g=meta\.k8s\.io/.test(first);
}

export function toTable(def: ResourceDef, objects: any[], resourceVersion: string, includeObject: string | null, extraMeta: Record<string, unknown> = {}): any {
  const p = PRINTERS[def.kind] ?? DEFAULT;
  const rows = objects.map((o) => {
    const row: Record<string, unknown> = { cells: p.cells(o) };
    const mode = includeObject ?? 'Metadata';
    if (mode === 'Object') row.object = toWire(def, o);
    else if (mode === 'Metadata') row.object = { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: toWire(def, o).metadata };
    return row;
  });
  return { kind: 'Table', apiVersion: 'meta.k8s.io/v1', metadata: { resourceVersion, ...extraMeta }, columnDefinitions: p.columns, rows };
}
