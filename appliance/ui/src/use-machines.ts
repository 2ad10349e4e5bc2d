// A list of machines that follows the site live: a state change moves a machine in place, a
// machine the list does not know yet (newly discovered, newly matching the filter) reloads it.
import { useCallback, useEffect, useRef, useState } from 'react';
import { allMachines, type Machine } from './api.ts';
import { subscribe } from './live.ts';

export function useLiveMachines(params: { state?: string } = {}): { machines: Machine[] | null; error: string | null; reload: () => void } {
  const [machines, setMachines] = useState<Machine[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const state = params.state;
  const timer = useRef<number | undefined>(undefined);

  const load = useCallback(() => {
    allMachines({ state }).then((m) => { setMachines(m); setError(null); }, (e: Error) => setError(e.message));
  }, [state]);

  useEffect(() => {
    load();
    const reloadSoon = () => { window.clearTimeout(timer.current); timer.current = window.setTimeout(load, 300); };
    const off = subscribe((msg) => {
      if (msg.kind === 'resync') return reloadSoon();
      const e = msg.event;
      if (e.kind !== 'transition' || !e.machineId || !e.to) return;
      const to = e.to;
      setMachines((list) => {
        if (!list) return list;
        const i = list.findIndex((m) => m.id === e.machineId);
        if (i < 0) {
          if (!state || state === to) reloadSoon();
          return list;
        }
        if (state && state !== to) return list.filter((m) => m.id !== e.machineId);
        const next = list.slice();
        next[i] = { ...list[i], state: to, stateReason: e.reason, updatedAt: e.at };
        return next;
      });
    });
    return () => { off(); window.clearTimeout(timer.current); };
  }, [load, state]);

  return { machines, error, reload: load };
}
