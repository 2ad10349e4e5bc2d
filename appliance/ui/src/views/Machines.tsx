// Every machine in one table that stays fast at 10,000 and more: the server filters, sorts and
// pages; the table renders only the rows on screen and fetches the pages they fall in.
import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { api, query, type Machine, type MachinePage, type Site } from '../api.ts';
import { subscribe } from '../live.ts';
import { STATES, lookOf } from '../states.ts';
import { StateBadge } from '../components/StateBadge.tsx';
import { ago, time } from '../format.ts';
import { navigate, useRoute } from '../router.tsx';

const PAGE = 200;
const ROW_HEIGHT = 34;
type SortKey = 'hostname' | 'state' | 'zone' | 'rack' | 'updatedAt' | 'id';
const COLUMNS: Array<{ key: SortKey | null; label: string }> = [
  { key: 'hostname', label: 'Name' }, { key: 'state', label: 'State' }, { key: 'zone', label: 'Zone' }, { key: 'rack', label: 'Rack' },
  { key: null, label: 'Boot MAC' }, { key: null, label: 'Serial' }, { key: 'updatedAt', label: 'Last change' },
];

function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => { const t = window.setTimeout(() => setV(value), ms); return () => window.clearTimeout(t); }, [value, ms]);
  return v;
}

export function MachinesView() {
  const { search } = useRoute();
  const [zones, setZones] = useState<string[]>([]);
  const [zone, setZone] = useState(search.get('zone') ?? '');
  const [rack, setRack] = useState(search.get('rack') ?? '');
  const [state, setState] = useState(search.get('state') ?? '');
  const [q, setQ] = useState(search.get('q') ?? '');
  const [sort, setSort] = useState<SortKey>((search.get('sort') as SortKey) || 'hostname');
  const [order, setOrder] = useState<'asc' | 'desc'>(search.get('order') === 'desc' ? 'desc' : 'asc');
  const dq = useDebounced(q, 250);
  const drack = useDebounced(rack, 250);
  const filters = { zone, rack: drack, state, q: dq, sort, order };
  const key = JSON.stringify(filters);

  const [total, setTotal] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [newMachines, setNewMachines] = useState(0);
  const [, redraw] = useReducer((x: number) => x + 1, 0);
  const pages = useRef(new Map<number, Machine[]>());
  const loading = useRef(new Set<number>());
  const current = useRef(key);

  useEffect(() => { api<Site>('GET', '/site').then((s) => setZones(s.zones), () => {}); }, []);

  const loadPage = useCallback((n: number) => {
    if (pages.current.has(n) || loading.current.has(n)) return;
    loading.current.add(n);
    const k = key;
    api<MachinePage>('GET', `/machines${query({ zone, rack: drack, state, q: dq, sort, order, limit: PAGE, offset: n * PAGE })}`)
      .then((r) => {
        if (current.current !== k) return;
        pages.current.set(n, r.items);
        setTotal(r.total);
        setError(null);
        redraw();
      }, (e: Error) => { if (current.current === k) setError(e.message); })
      .finally(() => loading.current.delete(n));
  }, [key]); // `key` is all the filters above

  // New filters: forget the cached pages, start at the top, keep the filters in the address bar.
  useEffect(() => {
    current.current = key;
    pages.current = new Map();
    loading.current = new Set();
    setTotal(null);
    setNewMachines(0);
    loadPage(0);
    window.history.replaceState(null, '', `${window.location.pathname}${query({ zone, rack: drack, state, q: dq, sort: sort === 'hostname' ? undefined : sort, order: order === 'asc' ? undefined : order })}`);
  }, [key, loadPage]);

  // Live: a state change updates its row in place; new machines are counted, not inserted, so the
  // rows under the technician's eyes do not jump.
  useEffect(() => subscribe((msg) => {
    if (msg.kind === 'resync') { setNewMachines((n) => n + 1); return; }
    const e = msg.event;
    if (e.kind !== 'transition' || !e.machineId || !e.to) return;
    if (!e.from) { setNewMachines((n) => n + 1); return; }
    for (const items of pages.current.values()) {
      const i = items.findIndex((m) => m.id === e.machineId);
      if (i >= 0) { items[i] = { ...items[i], state: e.to, stateReason: e.reason, updatedAt: e.at }; redraw(); }
    }
  }), []);

  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: total ?? 0, getScrollElement: () => scroller.current, estimateSize: () => ROW_HEIGHT, overscan: 20 });
  const rows = virtualizer.getVirtualItems();
  const firstPage = rows.length ? Math.floor(rows[0].index / PAGE) : 0;
  const lastPage = rows.length ? Math.floor(rows[rows.length - 1].index / PAGE) : 0;
  useEffect(() => { for (let p = firstPage; p <= lastPage; p++) loadPage(p); }, [firstPage, lastPage, loadPage]);

  const sortBy = (k: SortKey) => {
    if (k === sort) setOrder(order === 'asc' ? 'desc' : 'asc');
    else { setSort(k); setOrder('asc'); }
  };
  const refresh = () => {
    setNewMachines(0);
    pages.current = new Map();
    loading.current = new Set();
    for (let p = firstPage; p <= lastPage; p++) loadPage(p);
  };

  return (
    <>
      <div className="page-head">
        <h1>Machines</h1>
        <span className="muted" data-testid="machine-count">{total === null ? 'Loading…' : `${total.toLocaleString('en')} ${total === 1 ? 'machine' : 'machines'}`}</span>
        {newMachines > 0 && <button type="button" onClick={refresh}>New machines seen — refresh</button>}
      </div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="filter machines">
        <label>Search<input type="search" value={q} onChange={(e) => setQ(e.target.value)} placeholder="name, MAC, serial, UUID, rack" aria-label="search" /></label>
        <label>Zone
          <select value={zone} onChange={(e) => setZone(e.target.value)} aria-label="zone">
            <option value="">All zones</option>
            {zones.map((z) => <option key={z} value={z}>{z}</option>)}
          </select>
        </label>
        <label>Rack<input value={rack} onChange={(e) => setRack(e.target.value)} placeholder="exact rack name" aria-label="rack" /></label>
        <label>State
          <select value={state} onChange={(e) => setState(e.target.value)} aria-label="state">
            <option value="">All states</option>
            {STATES.map((s) => <option key={s} value={s}>{lookOf(s).label}</option>)}
          </select>
        </label>
        {(zone || rack || state || q) && <button type="button" onClick={() => { setZone(''); setRack(''); setState(''); setQ(''); }}>Clear filters</button>}
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <div className="mtable" role="table" aria-label="machines" aria-rowcount={total ?? 0}>
        <div className="mrow mhead" role="row">
          {COLUMNS.map((c) => (
            <div key={c.label} role="columnheader" aria-sort={c.key === sort ? (order === 'asc' ? 'ascending' : 'descending') : undefined}>
              {c.key ? <button type="button" className="sort" onClick={() => sortBy(c.key!)}>{c.label}{c.key === sort ? (order === 'asc' ? ' ▲' : ' ▼') : ''}</button> : c.label}
            </div>
          ))}
        </div>
        <div ref={scroller} className="mbody" data-testid="machines-scroller">
          {total === 0 && <p className="muted pad">No machine matches these filters.</p>}
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {rows.map((r) => {
              const m = pages.current.get(Math.floor(r.index / PAGE))?.[r.index % PAGE];
              return (
                <div key={r.key} role="row" aria-rowindex={r.index + 1} className={`mrow ${r.index % 2 ? 'odd' : ''}`} data-machine-id={m?.id}
                  style={{ position: 'absolute', top: 0, left: 0, right: 0, height: ROW_HEIGHT, transform: `translateY(${r.start}px)` }}
                  onClick={() => m && navigate(`/machines/${m.id}`)}>
                  {m ? (
                    <>
                      <div role="cell" className="strong">{m.hostname ?? <span className="muted">{m.id}</span>}</div>
                      <div role="cell"><StateBadge state={m.state} title={m.stateReason ?? undefined} /></div>
                      <div role="cell">{m.zone ?? '—'}</div>
                      <div role="cell">{m.rack ?? '—'}</div>
                      <div role="cell" className="mono">{m.bootMac}</div>
                      <div role="cell" className="mono">{m.serial ?? '—'}</div>
                      <div role="cell" title={time(m.updatedAt)}>{ago(m.updatedAt)}</div>
                    </>
                  ) : <div role="cell" className="muted">Loading…</div>}
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </>
  );
}
