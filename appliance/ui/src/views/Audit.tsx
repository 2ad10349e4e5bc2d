// The audit trail: every transition, operator action, login and terminal session, newest first,
// filtered by kind and actor; new events arrive live at the top.
import { useCallback, useEffect, useState } from 'react';
import { api, query, type EventPage, type EventRecord } from '../api.ts';
import { subscribe } from '../live.ts';
import { EventTable } from '../components/EventTable.tsx';

const KINDS = ['transition', 'audit', 'auth', 'terminal', 'boot', 'install', 'inventory', 'identity', 'agent', 'enrollment', 'enrollment-checks', 'link'];
const ACTORS = ['operator', 'agent', 'dhcp', 'tftp', 'http', 'rule', 'cloud', 'system'];

export function AuditView() {
  const [kind, setKind] = useState('');
  const [actor, setActor] = useState('');
  const [events, setEvents] = useState<EventRecord[]>([]);
  const [next, setNext] = useState<number | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback((before?: number) => {
    api<EventPage>('GET', `/events${query({ kind, actor, before, limit: 100 })}`).then((page) => {
      setEvents((old) => (before ? [...old, ...page.items] : page.items));
      setNext(page.next);
      setError(null);
    }, (e: Error) => setError(e.message));
  }, [kind, actor]);

  useEffect(() => {
    load();
    return subscribe((msg) => {
      if (msg.kind === 'resync') return load();
      const e = msg.event;
      if ((kind && e.kind !== kind) || (actor && e.actor !== actor)) return;
      setEvents((old) => (old.some((x) => x.id === e.id) ? old : [e, ...old]));
    });
  }, [load, kind, actor]);

  return (
    <>
      <div className="page-head"><h1>Audit</h1><span className="muted">Every change, login and terminal session, newest first.</span></div>
      <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="filter events">
        <label>Kind
          <select value={kind} onChange={(e) => setKind(e.target.value)} aria-label="kind">
            <option value="">All kinds</option>
            {KINDS.map((k) => <option key={k} value={k}>{k}</option>)}
          </select>
        </label>
        <label>Actor
          <select value={actor} onChange={(e) => setActor(e.target.value)} aria-label="actor">
            <option value="">Everyone</option>
            {ACTORS.map((a) => <option key={a} value={a}>{a}</option>)}
          </select>
        </label>
      </form>
      {error && <p className="error" role="alert">{error}</p>}
      <section className="card"><EventTable events={events} showMachine empty="No event matches." /></section>
      {next && <button type="button" onClick={() => load(next)}>Show older</button>}
    </>
  );
}
