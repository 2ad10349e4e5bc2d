// The double's etcd + watch cache: one global resourceVersion counter, every write an event, a
// bounded event window (older watch starts get 410 Expired, as after etcd compaction), and
// point-in-time snapshots rebuilt from that window for paginated lists.

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoreEvent { rv: number; type: EventType; resource: string; key: string; object: any; prev: any | null }
export type Listener = (e: StoreEvent) => void;

export const keyOf = (ns: string | null | undefined, name: string) => (ns ? `${ns}/${name}` : name);
const clone = <T>(o: T): T => structuredClone(o);

export class Store {
  private rv = 0;
  private readonly data = new Map<string, Map<string, any>>();
  private log: StoreEvent[] = [];
  /** Every event with rv <= compactedRv is gone from the window. */
  private compactedRv = 0;
  private readonly listeners = new Set<Listener>();
  private readonly window: number;

  constructor(window = 1000) { this.window = window; }

  get resourceVersion(): number { return this.rv; }
  /** The oldest resourceVersion a watch may still start from. */
  get oldestWatchable(): number { return this.compactedRv; }

  private table(resource: string): Map<string, any> {
    let t = this.data.get(resource);
    if (!t) this.data.set(resource, (t = new Map()));
    return t;
  }

  get(resource: string, key: string): any | undefined {
    const o = this.data.get(resource)?.get(key);
    return o === undefined ? undefined : clone(o);
  }

  /** Objects in key order (etcd's order), optionally one namespace. */
  list(resource: string, ns?: string | null, at?: Map<string, any>): any[] {
    const t = at ?? this.data.get(resource) ?? new Map();
    const keys = [...t.keys()].sort();
    const out: any[] = [];
    for (const k of keys) {
      const o = t.get(k);
      if (ns && o.metadata?.namespace !== ns) continue;
      out.push(clone(o));
    }
    return out;
  }

  /** Writes `obj` (its metadata.resourceVersion is set here) and returns the stored copy. */
  write(resource: string, key: string, obj: any): any {
    const t = this.table(resource);
    const prev = t.get(key) ?? null;
    const rv = ++this.rv;
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(rv);
    t.set(key, stored);
    this.emit({ rv, type: prev ? 'MODIFIED' : 'ADDED', resource, key, object: stored, prev });
    return clone(stored);
  }

  remove(resource: string, key: string): any | undefined {
    const t = this.data.get(resource);
    const prev = t?.get(key);
    if (!t || prev === undefined) return undefined;
    t.delete(key);
    const rv = ++this.rv;
    // The DELETED event carries the last state at the deletion's revision, as etcd3's watcher does.
    const last = clone(prev);
    last.metadata.resourceVersion = String(rv);
    this.emit({ rv, type: 'DELETED', resource, key, object: last, prev });
    return clone(last);
  }

  private emit(e: StoreEvent): void {
    this.log.push(e);
    while (this.log.length > this.window) this.compactedRv = this.log.shift()!.rv;
    for (const l of this.listeners) l(e);
  }

  /** Drops the whole event window, like an etcd compaction at the current revision. */
  compact(): void {
    this.log = [];
    this.compactedRv = this.rv;
  }

  /**
   * Replays events after `fromRv` to `listener`, then keeps it subscribed. Returns null (nothing
   * subscribed) when `fromRv` is older than the window.
   */
  watch(fromRv: number, listener: Listener): (() => void) | null {
    if (fromRv < this.compactedRv) return null;
    for (const e of this.log) if (e.rv > fromRv) listener(e);
    this.listeners.add(listener);
    return () => { this.listeners.delete(listener); };
  }

  /** The table of `resource` as it was at `rv`, or null when the window no longer reaches back. */
  snapshot(resource: string, rv: number): Map<string, any> | null {
    if (rv < this.compactedRv) return null;
    const t = new Map(this.data.get(resource) ?? []);
    for (let i = this.log.length - 1; i >= 0 && this.log[i].rv > rv; i--) {
      const e = this.log[i];
      if (e.resource !== resource) continue;
      if (e.type === 'ADDED') t.delete(e.key);
      else t.set(e.key, e.prev);
    }
    return t;
  }

  close(): void { this.listeners.clear(); }
}
