// Machines that reported their hardware and wait for a person to accept them for install, grouped
// as they stand: by zone, then rack — so a whole freshly cabled rack is approved in one go.
import { useEffect, useMemo, useState } from 'react';
import { api, type Machine, type Site } from '../api.ts';
import { useLiveMachines } from '../use-machines.ts';
import { useCan } from '../session.tsx';
import { ACTION_TEXT } from '../actions.ts';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { ago, byName, machineName, time } from '../format.ts';
import { Link } from '../router.tsx';

interface Batch { title: string; machines: Machine[] }

function groups(machines: Machine[]): Array<{ zone: string; racks: Array<{ rack: string; machines: Machine[] }> }> {
  const byZone = new Map<string, Map<string, Machine[]>>();
  for (const m of machines) {
    const z = m.zone ?? '(no zone)';
    const r = m.rack ?? '(no rack)';
    if (!byZone.has(z)) byZone.set(z, new Map());
    const racks = byZone.get(z)!;
    if (!racks.has(r)) racks.set(r, []);
    racks.get(r)!.push(m);
  }
  return [...byZone].sort(([a], [b]) => byName(a, b)).map(([zone, racks]) => ({
    zone,
    racks: [...racks].sort(([a], [b]) => byName(a, b)).map(([rack, ms]) => ({ rack, machines: ms.sort((a, b) => byName(machineName(a), machineName(b))) })),
  }));
}

export function ApprovalsView() {
  const { machines, error } = useLiveMachines({ state: 'inventoried' });
  const canApprove = useCan('operator');
  const [batch, setBatch] = useState<Batch | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const grouped = useMemo(() => groups(machines ?? []), [machines]);
  const [rules, setRules] = useState<Site['autoApprove'] | null>(null);
  useEffect(() => { api<Site>('GET', '/site').then((s) => setRules(s.autoApprove), () => {}); }, []);

  const approveAll = async (b: Batch, reason: string) => {
    const failed: string[] = [];
    for (const m of b.machines) {
      try {
        await api('POST', `/machines/${m.id}/actions/approve`, reason ? { reason } : {});
      } catch (e) {
        failed.push(`${machineName(m)}: ${(e as Error).message}`);
      }
    }
    const ok = b.machines.length - failed.length;
    setOutcome(`${ok} of ${b.machines.length} approved.${failed.length ? ` Not approved — ${failed.join('; ')}` : ''}`);
  };

  return (
    <>
      <div className="page-head">
        <h1>Approval queue</h1>
        <span className="muted">{machines ? `${machines.length} waiting` : 'Loading…'}</span>
      </div>
      <div className="banner banner-muted">
        {rules && Object.values(rules).some((r) => r.length > 0)
          ? <>Auto-approve: {Object.entries(rules).map(([zone, r]) => `${zone}: ${r.length ? r.join(' or ') : 'manual'}`).join(' · ')}. Machines that match a rule of their zone skip this queue.</>
          : <>Auto-approve: no rules configured (tether.yaml zones[].autoApprove) — every new machine waits here for a person.</>}
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {outcome && <p className="notice" role="status">{outcome}</p>}
      {machines?.length === 0 && <div className="card"><p>No machine is waiting for approval. New machines appear here once they have booted and reported their hardware.</p></div>}
      {grouped.map((z) => {
        const all = z.racks.flatMap((r) => r.machines);
        return (
          <section key={z.zone} className="card" aria-label={`waiting in ${z.zone}`}>
            <div className="section-head">
              <h2>{z.zone} <span className="muted small">{all.length} waiting</span></h2>
              {canApprove && <button type="button" className="primary" onClick={() => setBatch({ title: `all ${all.length} waiting in zone ${z.zone}`, machines: all })}>Approve all in {z.zone}</button>}
            </div>
            {z.racks.map((r) => (
              <div key={r.rack} className="approval-rack" data-rack={r.rack}>
                <div className="section-head">
                  <h3>Rack {r.rack} <span className="muted small">{r.machines.length}</span></h3>
                  {canApprove && <button type="button" onClick={() => setBatch({ title: `all ${r.machines.length} waiting in ${z.zone}, rack ${r.rack}`, machines: r.machines })}>Approve rack {r.rack}</button>}
                </div>
                <table className="events">
                  <thead><tr><th>Name</th><th>Boot MAC</th><th>Serial</th><th>Reported</th>{canApprove && <th />}</tr></thead>
                  <tbody>
                    {r.machines.map((m) => (
                      <tr key={m.id} data-machine-id={m.id}>
                        <td><Link to={`/machines/${m.id}`}>{machineName(m)}</Link></td>
                        <td className="mono">{m.bootMac}</td>
                        <td className="mono">{m.serial ?? '—'}</td>
                        <td title={m.inventoriedAt ? time(m.inventoriedAt) : undefined}>{m.inventoriedAt ? ago(m.inventoriedAt) : '—'}</td>
                        {canApprove && <td><button type="button" onClick={() => setBatch({ title: machineName(m), machines: [m] })}>Approve</button></td>}
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            ))}
          </section>
        );
      })}
      {batch && (
        <ConfirmDialog title={`Approve ${batch.title}?`} confirmLabel={`Approve ${batch.machines.length === 1 ? machineName(batch.machines[0]) : `${batch.machines.length} machines`}`}
          withReason onClose={() => setBatch(null)} onConfirm={(reason) => approveAll(batch, reason)}>
          <p>{ACTION_TEXT.approve.consequence}</p>
          <ul className="namelist">{batch.machines.slice(0, 50).map((m) => <li key={m.id}><strong>{machineName(m)}</strong> <span className="mono muted">{m.bootMac}</span> {m.zone ?? ''} {m.rack ? `rack ${m.rack}` : ''}</li>)}</ul>
          {batch.machines.length > 50 && <p className="muted">…and {batch.machines.length - 50} more.</p>}
        </ConfirmDialog>
      )}
    </>
  );
}
