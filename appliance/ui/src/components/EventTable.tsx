// Events as a history a person can read: when, what happened, who did it.
import type { EventRecord } from '../api.ts';
import { Link } from '../router.tsx';
import { StateBadge } from './StateBadge.tsx';
import { ago, bytes, time } from '../format.ts';

export function whoDid(e: EventRecord): string {
  return e.actorName ? `${e.actorName} (${e.actor})` : e.actor;
}

function details(e: EventRecord): string | null {
  const d = e.data;
  if (!d) return null;
  if (e.kind === 'terminal' && typeof d.transcript === 'string') return `transcript ${d.transcript}`;
  if (e.kind === 'install' && typeof d.bytes === 'number' && typeof d.total === 'number') return `${bytes(d.bytes)} of ${bytes(d.total)}`;
  return null;
}

export function EventTable(p: { events: EventRecord[]; showMachine?: boolean; empty?: string }) {
  if (p.events.length === 0) return <p className="muted">{p.empty ?? 'No events.'}</p>;
  return (
    <table className="events">
      <thead>
        <tr><th>When</th>{p.showMachine && <th>Machine</th>}<th>Kind</th><th>What happened</th><th>Who</th></tr>
      </thead>
      <tbody>
        {p.events.map((e) => (
          <tr key={e.id} data-event-id={e.id} data-kind={e.kind}>
            <td title={time(e.at)} className="nowrap">{ago(e.at)}</td>
            {p.showMachine && <td>{e.machineId ? <Link to={`/machines/${e.machineId}`}>{e.machineId}</Link> : <span className="muted">—</span>}</td>}
            <td><span className={`kind kind-${e.kind}`}>{e.kind}</span></td>
            <td>
              {e.to && <span className="transition">{e.from ? <><StateBadge state={e.from} /> → </> : null}<StateBadge state={e.to} /></span>}
              {e.reason && <span className="reason">{e.reason}</span>}
              {details(e) && <span className="muted small"> · {details(e)}</span>}
            </td>
            <td className="nowrap">{whoDid(e)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
