// The three patch types the API server applies: JSON Patch (RFC 6902, the default of
// @kubernetes/client-node 2.x), JSON merge patch (RFC 7386) and strategic merge patch, which merges
// lists by their patchMergeKey (conditions by type, containers by name...) instead of replacing them.
import { ApiError, badRequest, failure } from './status.ts';

const isObj = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(o: T): T => structuredClone(o);
const unprocessable = (msg: string) => new ApiError(failure(422, 'Invalid', msg, {}));

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw unprocessable(`invalid JSON pointer "${path}"`);
  return path.slice(1).split('/').map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: any, tokens: string[], op: string, path: string): { parent: any; last: string } {
  let cur = doc;
  for (const t of tokens.slice(0, -1)) {
    cur = Array.isArray(cur) ? cur[Number(t)] : isObj(cur) ? cur[t] : undefined;
    if (cur === undefined) throw unprocessable(`jsonpatch ${op} operation does not apply: doc is missing path: "${path}": missing value`);
  }
  return { parent: cur, last: tokens[tokens.length - 1] };
}

function getAt(doc: any, path: string, op: string): any {
  let cur = doc;
  for (const t of pointer(path)) {
    cur = Array.isArray(cur) ? cur[Number(t)] : isObj(cur) ? cur[t] : undefined;
    if (cur === undefined) throw unprocessable(`jsonpatch ${op} operation does not apply: doc is missing path: "${path}": missing value`);
  }
  return cur;
}

function index(arr: any[], t: string, op: string, path: string, forAdd: boolean): number {
  if (forAdd && t === '-') return arr.length;
  if (!/^\d+$/.test(t)) throw unprocessable(`jsonpatch ${op} operation does not apply: invalid index in "${path}"`);
  const i = Number(t);
  if (i > arr.length || (!forAdd && i === arr.length)) throw unprocessable(`jsonpatch ${op} operation does not apply: doc is missing path: "${path}": index out of range`);
  return i;
}

function addAt(doc: any, path: string, value: any, op = 'add'): any {
  const tokens = pointer(path);
  if (!tokens.length) return value;
  const { parent, last } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) parent.splice(index(parent, last, op, path, true), 0, value);
  else if (isObj(parent)) parent[last] = value;
  else throw unprocessable(`jsonpatch ${op} operation does not apply: doc is missing path: "${path}": missing value`);
  return doc;
}

function removeAt(doc: any, path: string, op = 'remove'): any {
  const tokens = pointer(path);
  const { parent, last } = parentOf(doc, tokens, op, path);
  if (Array.isArray(parent)) parent.splice(index(parent, last, op, path, false), 1);
  else if (isObj(parent) && Object.hasOwn(parent, last)) delete parent[last];
  else throw unprocessable(`jsonpatch ${op} operation does not apply: doc is missing path: "${path}": missing value`);
  return doc;
}

export function applyJsonPatch(target: any, ops: unknown): any {
  if (!Array.isArray(ops)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let doc = clone(target);
  for (const o of ops) {
    if (!isObj(o) || typeof o.op !== 'string' || typeof o.path !== 'string') throw badRequest('invalid JSON Patch');
    switch (o.op) {
      case 'add': doc = addAt(doc, o.path, clone(o.value)); break;
      case 'remove': doc = removeAt(doc, o.path); break;
      case 'replace': getAt(doc, o.path, 'replace'); doc = removeAt(doc, o.path, 'replace'); doc = addAt(doc, o.path, clone(o.value), 'replace'); break;
      case 'move': { const v = getAt(doc, o.from, 'move'); doc = removeAt(doc, o.from, 'move'); doc = addAt(doc, o.path, v, 'move'); break; }
      case 'copy': doc = addAt(doc, o.path, clone(getAt(doc, o.from, 'copy')), 'copy'); break;
      case 'test':
        if (JSON.stringify(getAt(doc, o.path, 'test')) !== JSON.stringify(o.value)) throw unprocessable(`testing value ${o.path} failed: test failed`);
        break;
      default: throw badRequest(`Unexpected kind: ${o.op}`);
    }
  }
  return doc;
}

export function applyMergePatch(target: any, patch: any): any {
  if (!isObj(patch)) return clone(patch);
  const out = isObj(target) ? clone(target) : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

/**
 * patchMergeKey by field name, from the k8s.io/api struct tags of the types the double serves
 * (Node/Pod conditions and addresses, containers, volumes, env, ownerReferences...). Lists not
 * named here are replaced whole, as in the real server. `finalizers` merges as a set of strings.
 */
const MERGE_KEYS: Record<string, string | ((items: any[]) => string)> = {
  conditions: 'type', addresses: 'type', containers: 'name', initContainers: 'name', ephemeralContainers: 'name',
  volumes: 'name', env: 'name', volumeMounts: 'mountPath', ownerReferences: 'uid', podIPs: 'ip', volumesAttached: 'name',
  ports: (items) => (items.some((i) => isObj(i) && 'containerPort' in i) ? 'containerPort' : 'port'),
};
const PRIMITIVE_MERGE = new Set(['finalizers']);

function mergeList(field: string, orig: any[], patch: any[]): any[] {
  const keySpec = MERGE_KEYS[field];
  if (PRIMITIVE_MERGE.has(field)) return [...orig, ...patch.filter((v) => !orig.includes(v))];
  if (!keySpec) return patch.filter((p) => !(isObj(p) && p.$patch === 'delete'));
  const key = typeof keySpec === 'function' ? keySpec([...orig, ...patch]) : keySpec;
  if (patch.some((p) => isObj(p) && p.$patch === 'replace')) return patch.filter((p) => !(isObj(p) && '$patch' in p));
  const out = clone(orig);
  for (const p of patch) {
    if (!isObj(p)) continue;
    const i = out.findIndex((o) => isObj(o) && o[key] === p[key]);
    if (p.$patch === 'delete') { if (i >= 0) out.splice(i, 1); continue; }
    if (i >= 0) out[i] = strategicMerge(out[i], p);
    else out.push(strategicMerge({}, p));
  }
  return out;
}

export function strategicMerge(target: any, patch: any): any {
  if (!isObj(patch)) return clone(patch);
  if (patch.$patch === 'replace') { const { $patch: _, ...rest } = patch; return clone(rest); }
  if (patch.$patch === 'delete') return undefined;
  let out: Record<string, any> = isObj(target) ? clone(target) : {};
  const retain = Array.isArray(patch.$retainKeys) ? (patch.$retainKeys as string[]) : null;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$retainKeys' || k === '$patch' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const f = k.slice('$deleteFromPrimitiveList/'.length);
      if (Array.isArray(out[f]) && Array.isArray(v)) out[f] = out[f].filter((x: unknown) => !v.includes(x));
      continue;
    }
    if (v === null) { delete out[k]; continue; }
    if (Array.isArray(v)) { out[k] = mergeList(k, Array.isArray(out[k]) ? out[k] : [], v); continue; }
    const merged = strategicMerge(out[k], v);
    if (merged === undefined) delete out[k];
    else out[k] = merged;
  }
  if (retain) out = Object.fromEntries(Object.entries(out).filter(([k]) => retain.includes(k)));
  return out;
}

export const PATCH_TYPES = {
  json: 'application/json-patch+json',
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

/** Applies a patch of the given content type; `custom` resources (CRDs) have no strategic merge. */
export function applyPatch(contentType: string, target: any, patch: any, custom: boolean): any {
  switch (contentType) {
    case PATCH_TYPES.json: return applyJsonPatch(target, patch);
    case PATCH_TYPES.merge:
      if (!isObj(patch)) throw badRequest('json: cannot unmarshal into merge patch: not an object');
      return applyMergePatch(target, patch);
    case PATCH_TYPES.strategic:
      if (custom) break;
      if (!isObj(patch)) throw badRequest('json: cannot unmarshal into strategic merge patch: not an object');
      return strategicMerge(target, patch);
  }
  // Server-side apply is not implemented here, so it is not offered either.
  const accepted = [PATCH_TYPES.json, PATCH_TYPES.merge, ...(custom ? [] : [PATCH_TYPES.strategic])];
  throw new ApiError(failure(415, 'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`));
}
