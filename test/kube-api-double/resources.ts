// The resources the double serves, described once: their group/version, kind, scope, subresources
// and the field selectors the real registry strategies support (GetAttrs / ToSelectableFields).
import type { GroupResource } from './status.ts';

export interface ResourceDef {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  /** Subresources served; `status` also means the main endpoint ignores status on update. */
  subresources: string[];
  /** Extra selectable fields beyond metadata.name and metadata.namespace. */
  fields: Record<string, (o: any) => string>;
}

const str = (v: unknown) => (v === undefined || v === null ? '' : String(v));

export const RESOURCES: ResourceDef[] = [
  { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace', namespaced: false, subresources: ['status'],
    fields: { 'status.phase': (o) => str(o.status?.phase) } },
  { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false, subresources: ['status', 'proxy'],
    fields: { 'spec.unschedulable': (o) => str(o.spec?.unschedulable ?? false) } },
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true, subresources: ['status'],
    fields: {
      'spec.nodeName': (o) => str(o.spec?.nodeName),
      'spec.restartPolicy': (o) => str(o.spec?.restartPolicy),
      'spec.schedulerName': (o) => str(o.spec?.schedulerName),
      'spec.serviceAccountName': (o) => str(o.spec?.serviceAccountName),
      'spec.hostNetwork': (o) => str(o.spec?.hostNetwork ?? false),
      'status.phase': (o) => str(o.status?.phase),
      'status.podIP': (o) => str(o.status?.podIP),
      'status.nominatedNodeName': (o) => str(o.status?.nominatedNodeName),
    } },
  { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true, subresources: [],
    fields: { type: (o) => str(o.type) } },
  { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true, subresources: [], fields: {} },
  { group: '', version: 'v1', resource: 'events', kind: 'Event', namespaced: true, subresources: [],
    fields: {
      'involvedObject.kind': (o) => str(o.involvedObject?.kind),
      'involvedObject.name': (o) => str(o.involvedObject?.name),
      'involvedObject.namespace': (o) => str(o.involvedObject?.namespace),
      'involvedObject.uid': (o) => str(o.involvedObject?.uid),
      reason: (o) => str(o.reason),
      type: (o) => str(o.type),
    } },
  { group: '', version: 'v1', resource: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true, subresources: [], fields: {} },
  { group: '', version: 'v1', resource: 'services', kind: 'Service', namespaced: true, subresources: ['status'],
    fields: { 'spec.clusterIP': (o) => str(o.spec?.clusterIP), 'spec.type': (o) => str(o.spec?.type) } },
  { group: 'certificates.k8s.io', version: 'v1', resource: 'certificatesigningrequests', kind: 'CertificateSigningRequest',
    namespaced: false, subresources: ['status', 'approval'], fields: { 'spec.signerName': (o) => str(o.spec?.signerName) } },
  { group: 'kamaji.clastix.io', version: 'v1alpha1', resource: 'tenantcontrolplanes', kind: 'TenantControlPlane',
    namespaced: true, subresources: ['status'], fields: {} },
];

export const apiVersionOf = (d: ResourceDef) => (d.group ? `${d.group}/${d.version}` : d.version);
export const groupResource = (d: ResourceDef): GroupResource => ({ group: d.group, resource: d.resource });

export function findResource(group: string, version: string, resource: string): ResourceDef | undefined {
  return RESOURCES.find((d) => d.group === group && d.version === version && d.resource === resource);
}

/** By plural name alone, for the test-facing `objects` API (`'secrets'`, `'tenantcontrolplanes'`). */
export function resourceByName(resource: string): ResourceDef {
  const d = RESOURCES.find((r) => r.resource === resource || `${r.resource}.${r.group}` === resource);
  if (!d) throw new Error(`kube-api-double: unknown resource ${resource} (serves ${RESOURCES.map((r) => r.resource).join(', ')})`);
  return d;
}

export function selectableFields(d: ResourceDef, o: any): Record<string, string> {
  const f: Record<string, string> = { 'metadata.name': str(o.metadata?.name) };
  if (d.namespaced) f['metadata.namespace'] = str(o.metadata?.namespace);
  for (const [k, get] of Object.entries(d.fields)) f[k] = get(o);
  return f;
}

export const supportedFields = (d: ResourceDef) =>
  [...(d.namespaced ? ['metadata.name', 'metadata.namespace'] : ['metadata.name']), ...Object.keys(d.fields)];
