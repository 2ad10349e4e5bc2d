// Offline input for `tether doctor --tcp-file F [--tenant-dir D]`: objects saved with
// `kubectl get ... -o yaml` (or -o json, or raw API lists) become the same Snapshot gather.ts builds
// from live clusters. Support staff can check a customer's cluster from files alone.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { ClusterRoleBinding, Pod, Snapshot, TenantControlPlane, VersionInfo, Workload } from './types.ts';

/** A problem with the files themselves: the CLI exits 2 on it. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

type Obj = Record<string, unknown> & { kind?: string; apiVersion?: string; metadata?: Record<string, unknown> };

/** Every object in a YAML/JSON file, lists flattened (`kind: List` from kubectl, `PodList` from the API). */
export function objectsIn(path: string, kinds?: Set<string>): Obj[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const out: Obj[] = [];
  for (const doc of parseAllDocuments(text)) {
    if ('errors' in doc && doc.errors.length) throw new InputError(`${path}: ${doc.errors[0].message.split('\n')[0]}`);
    const v = doc.toJS() as unknown;
    if (v === null || v === undefined) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new InputError(`${path}: expected Kubernetes objects, found ${Array.isArray(v) ? 'a list' : typeof v}`);
    flatten(v as Obj, out, kinds);
  }
  return out;
}

function flatten(o: Obj, out: Obj[], kinds?: Set<string>): void {
  if (Array.isArray(o.items) && (o.kind === undefined || o.kind.endsWith('List'))) {
    // Raw API lists omit kind on items (DESIGN.md wire facts): the list's kind names them.
    const itemKind = o.kind && o.kind !== 'List' ? o.kind.slice(0, -'List'.length) : undefined;
    // An empty ClusterRoleBindingList still says "read, and there are none".
    if (itemKind) kinds?.add(itemKind);
    for (const it of o.items as Obj[]) {
      if (it && typeof it === 'object') flatten(it.kind || !itemKind ? it : { ...it, kind: itemKind }, out, kinds);
    }
    return;
  }
  if (o.kind) kinds?.add(o.kind);
  out.push(o);
}

/** The TenantControlPlane in `path`, plus any Pods saved beside it (the control-plane pods). */
export function loadTcpFile(path: string): Pick<Snapshot, 'tcp' | 'tcpSource' | 'management'> {
  const objs = objectsIn(path);
  const tcps = objs.filter((o) => o.kind === 'TenantControlPlane');
  if (!tcps.length) throw new InputError(`${path}: no TenantControlPlane in it (save one with \`kubectl -n <ns> get tenantcontrolplane <name> -o yaml\`)`);
  if (tcps.length > 1) throw new InputError(`${path}: ${tcps.length} TenantControlPlanes in it; give one`);
  const tcp = tcps[0] as unknown as TenantControlPlane;
  if (!tcp.metadata || typeof tcp.metadata !== 'object') throw new InputError(`${path}: the TenantControlPlane has no metadata`);
  const pods = objs.filter((o) => o.kind === 'Pod') as unknown as Pod[];
  return { tcp, tcpSource: path, management: pods.length ? { pods } : undefined };
}

/**
 * Tenant objects from every *.yaml, *.yml and *.json file in `dir`. A file holding `/version` output
 * (or `kubectl version -o json`, whose serverVersion is it) gives the API server's version.
 * Kinds that were never saved stay undefined ("not given"), not empty.
 */
export function loadTenantDir(dir: string): NonNullable<Snapshot['tenant']> {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new InputError(`${dir} is not a directory`);
    names = readdirSync(dir).filter((n) => /\.(ya?ml|json)$/i.test(n)).sort();
  } catch (e) {
    if (e instanceof InputError) throw e;
    throw new InputError(`cannot read ${dir}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const tenant: NonNullable<Snapshot['tenant']> = {};
  const kinds = new Set<string>();
  const push = <K extends 'clusterRoleBindings' | 'daemonSets' | 'deployments' | 'pods'>(k: K, v: NonNullable<Snapshot['tenant']>[K]): void => {
    tenant[k] = [...(tenant[k] ?? []), ...(v ?? [])] as never;
  };
  for (const n of names) {
    for (const o of objectsIn(join(dir, n), kinds)) {
      switch (o.kind) {
        case 'ClusterRoleBinding': push('clusterRoleBindings', [o as unknown as ClusterRoleBinding]); break;
        case 'DaemonSet': push('daemonSets', [o as unknown as Workload]); break;
        case 'Deployment': push('deployments', [o as unknown as Workload]); break;
        case 'Pod': push('pods', [o as unknown as Pod]); break;
        case undefined: {
          const v = (o.serverVersion ?? o) as VersionInfo;
          if (typeof v.gitVersion === 'string') tenant.version = v;
          break;
        }
        default: break; // other kinds are not needed by any check
      }
    }
  }
  const keys = { ClusterRoleBinding: 'clusterRoleBindings', DaemonSet: 'daemonSets', Deployment: 'deployments', Pod: 'pods' } as const;
  for (const [kind, key] of Object.entries(keys)) if (kinds.has(kind)) tenant[key] ??= [];
  return tenant;
}
