// A list of machines that follows the site live: a state change moves a machine in place, a
// machine the list does not know yet (newly discovered, newly matching the filter) reloads it.
// Generic over what a row holds: the tables load full machines, the site view only its tiles.
import { useCallback, useEffect, useRef, useState } from 'react';
import { allMachines, api, type Machine, type SiteTile } from './api.ts';
import { subscribe } from './live.ts';

interface Live { id: string; state: string; stateReason: string | null }

export function useLiveList<T extends Live>(load: () => Promise<T[]>, filterState?: string): { machines: T[] | null; error: string | null; reload: () => void } {
  const [machines, setMachines] = useState<T[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);

  const reload = useCallback(() => {
    load().then((m) => { setMachines(m); setError(null); }, (e: Error) => setError(e.message));
  }, [load]);

  useEffect(() => {
    reload();
    const reloadSoon = () => { window.clearTimeout(timer.current); timer.current = window.setTimeout(reload, 300); };
    const off = subscribe((msg) => {
      if (msg.kind === 'resync') return reloadSoon();
      const e = msg.event;
      if (e.kind !== 'transition' || !e.machineId || !e.to) return;
      const to = e.to;
      setMachines((list) => {
        if (!list) return list;
        const i = list.findIndex((m) => m.id === e.machineId);
        if (i < 0) {
          if (!filterState || filterState === to) reloadSoon();
          return list;
        }
        if (filterState && filterState !== to) return list.filter((m) => m.id !== e.machineId);
        // A new object for the moved machine only: memoized rows and tiles of the others stay put.
        const next = list.slice();
        next[i] = { ...list[i], state: to, stateReason: e.reason ?? null, updatedAt: e.at };
        return next;
      });
    });
    return () => { off(); window.clearTimeout(timer.current); };
  }, [reload, filterState]);

  return { machines, error, reload };
}

export function useLiveMachines(params: { state?: string } = {}): { machines: Machine[] | null; error: string | null; reload: () => void } {
  const state = params.state;
  const load = useCallback(() => allMachines({ state }), [state]);
  return useLiveList(load, state);
}

const loadTiles = async (): Promise<SiteTile[]> => (await api<{ items: SiteTile[] }>('GET', '/site/tiles')).items;

/** Every machine as a site tile, in one request. */
export function useLiveTiles(): { machines: SiteTile[] | null; error: string | null; reload: () => void } {
  return useLiveList(loadTiles);
}
