// Compares the shape (keys and JSON types, recursively) of one of the double's responses with a
// fixture of the real API's. Keys the double adds are always reported; keys it lacks are reported
// unless listed as optional (server-side machinery the double does not run, e.g. managedFields).

export interface ShapeOptions {
  /** Paths whose keys are data, not schema (labels, data, capacity): values compared by type only. */
  maps?: string[];
  /** Paths present in the real response that the double may leave out. */
  optional?: string[];
}

const typeOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);
const join = (path: string, k: string) => (path ? `${path}.${k}` : k);

export function shapeDiff(real: unknown, ours: unknown, o: ShapeOptions = {}, path = ''): string[] {
  const tr = typeOf(real);
  const to = typeOf(ours);
  if (tr !== to) return [`${path || '(root)'}: real ${tr}, double ${to}`];
  if (Array.isArray(real) && Array.isArray(ours)) {
    if (!real.length) return [];
    return ours.flatMap((v, i) => shapeDiff(real[Math.min(i, real.length - 1)], v, o, `${path}[]`));
  }
  if (tr !== 'object') return [];
  const r = real as Record<string, unknown>;
  const d = ours as Record<string, unknown>;
  if (o.maps?.includes(path)) {
    const sample = Object.values(r)[0];
    return sample === undefined ? [] : Object.values(d).flatMap((v) => shapeDiff(sample, v, o, `${path}.*`));
  }
  const out: string[] = [];
  for (const k of Object.keys(d)) if (!(k in r)) out.push(`${join(path, k)}: only in the double`);
  for (const k of Object.keys(r)) {
    if (!(k in d)) { if (!o.optional?.includes(join(path, k))) out.push(`${join(path, k)}: missing in the double`); continue; }
    out.push(...shapeDiff(r[k], d[k], o, join(path, k)));
  }
  return out;
}
