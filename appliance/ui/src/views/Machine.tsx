// One machine: who it is, where it sits, how its last boot went, what it is doing now, its
// history, and the actions an operator may take — each behind a confirmation naming it.
import { lazy, Suspense, useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { api, type Machine, type MachineDetail } from '../api.ts';
import type { Absent, Fact, Inventory as InventoryDoc, LldpNeighbour } from '../../../../agent/protocol.ts';
import { subscribe } from '../live.ts';
import { useCan } from '../session.tsx';
import { lookOf } from '../states.ts';
import { ACTION_TEXT, actionsFor, type Action } from '../actions.ts';
import { installProgress } from '../install-progress.ts';
import { StateBadge } from '../components/StateBadge.tsx';
import { ProgressBar } from '../components/ProgressBar.tsx';
import { BootTimeline } from '../components/BootTimeline.tsx';
import { EventTable } from '../components/EventTable.tsx';
import { ConfirmDialog } from '../components/ConfirmDialog.tsx';
import { EnrollmentChecks } from '../components/EnrollmentChecks.tsx';
import { ago, machineName, time } from '../format.ts';
import { Link } from '../router.tsx';

function Facts(p: { rows: Array<[string, ReactNode]> }) {
  return <dl className="facts">{p.rows.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v ?? <span className="muted">—</span>}</dd></div>)}</dl>;
}

/** A fact as the agent sent it: the value, or "unknown" with the agent's reason on hover. */
function F(p: { f: Fact<unknown> | undefined; unit?: (v: never) => string }): ReactNode {
  const f = p.f;
  if (f === undefined || f === null) return <span className="muted">—</span>;
  if (typeof f === 'object' && !Array.isArray(f) && typeof (f as Absent).absent === 'string') {
    return <span className="muted" title={(f as Absent).absent}>unknown ({(f as Absent).absent})</span>;
  }
  return <>{p.unit ? p.unit(f as never) : String(f)}</>;
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(bytes >= 2 ** 30 ? 0 : 2)} GiB`;
const list = <T,>(f: Fact<T[]>): T[] => (Array.isArray(f) ? f : []);

function Inventory(p: { machine: Machine }) {
  const { machine } = p;
  const [inv, setInv] = useState<{ reportedAt: number; inventory: InventoryDoc } | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!machine.inventoriedAt) return;
    api<{ reportedAt: number; inventory: InventoryDoc }>('GET', `/machines/${encodeURIComponent(machine.id)}/inventory`).then(setInv, (e: Error) => setError(e.message));
  }, [machine.id, machine.inventoriedAt]);
  if (!machine.inventoriedAt) return <p className="muted" data-testid="inventory">Not yet reported. The agent reports the hardware once the machine has booted the discovery OS.</p>;
  if (error) return <p className="error" data-testid="inventory">{error}</p>;
  if (!inv) return <p className="muted" data-testid="inventory">Loading…</p>;
  const d = inv.inventory;
  return (
    <div data-testid="inventory">
      <Facts rows={[
        ['Reported', <span title={time(inv.reportedAt)}>{ago(inv.reportedAt)}</span>],
        ['System', <><F f={d.system.vendor} /> <F f={d.system.product} /></>],
        ['Serial / UUID', <><F f={d.system.serial} /> · <F f={d.system.uuid} /></>],
        ['Firmware', <><F f={d.firmware.mode} /> <F f={d.firmware.version} /> · Secure Boot <F f={d.firmware.secureBoot} unit={(v: boolean) => (v ? 'on' : 'off')} /></>],
        ['CPU', <><F f={d.cpu.model} /> — <F f={d.cpu.sockets} /> socket(s), <F f={d.cpu.cores} /> cores, <F f={d.cpu.threads} /> threads</>],
        ['Memory', <><F f={d.memory.totalBytes} unit={gib} /> in {list(d.memory.dimms).length} DIMM(s)</>],
        ['BMC', <><F f={d.bmc.present} unit={(v: boolean) => (v ? 'present' : 'none')} /> <F f={d.bmc.address} /></>],
        ['TPM', <><F f={d.tpm.present} unit={(v: boolean) => (v ? 'present' : 'none')} /> <F f={d.tpm.version} /></>],
      ]} />
      <h3>Disks</h3>
      <div className="scroll-x"><table className="events" data-testid="disks">
        <thead><tr><th>Name</th><th>Model</th><th>Serial</th><th>WWN</th><th>Size</th><th>Transport</th><th>Rotational</th></tr></thead>
        <tbody>{list(d.disks).map((x) => (
          <tr key={x.name}><td>{x.name}</td><td><F f={x.model} /></td><td><F f={x.serial} /></td><td><F f={x.wwn} /></td><td>{gib(x.sizeBytes)}</td><td><F f={x.transport} /></td><td><F f={x.rotational} unit={(v: boolean) => (v ? 'yes' : 'no')} /></td></tr>
        ))}</tbody>
      </table></div>
      <h3>Network ports</h3>
      <div className="scroll-x"><table className="events" data-testid="nics">
        <thead><tr><th>Name</th><th>MAC</th><th>Driver</th><th>Speed</th><th>Link</th><th>PCI</th><th>Switch port (LLDP)</th></tr></thead>
        <tbody>{list(d.nics).map((n) => (
          <tr key={n.mac}><td>{n.name}</td><td>{n.mac}</td><td><F f={n.driver} /></td><td><F f={n.speedMbps} unit={(v: number) => `${v} Mb/s`} /></td><td><F f={n.link} /></td><td><F f={n.pci} /></td>
            <td>{typeof n.lldp === 'object' && n.lldp !== null && 'absent' in n.lldp ? <F f={n.lldp} /> : <><F f={(n.lldp as LldpNeighbour).systemName} /> <F f={(n.lldp as LldpNeighbour).portId} /></>}</td></tr>
        ))}</tbody>
      </table></div>
    </div>
  );
}

function Location(p: { m: Machine }) {
  const l = p.m.location;
  if (!l || Object.keys(l).length === 0) return null;
  return <>{Object.entries(l).map(([k, v]) => <span key={k} className="chip">{k}: {typeof v === 'object' ? JSON.stringify(v) : String(v)}</span>)}</>;
}

// xterm.js is most of the bundle: loaded when an admin opens a shell, not with the page.
const TerminalView = lazy(() => import('./Terminal.tsx').then((m) => ({ default: m.TerminalView })));

/** Admin only, while the machine's agent holds its console channel open (the discovery OS). */
function MachineShell(p: { m: Machine; name: string }) {
  const isAdmin = useCan('admin');
  const [agent, setAgent] = useState<{ connected: boolean; mode: string | null } | null>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    if (!isAdmin) return;
    let live = true;
    // Polled: an agent connecting or going away writes no event the live feed would bring.
    const check = () => api<{ connected: boolean; mode: string | null }>('GET', `/machines/${encodeURIComponent(p.m.id)}/terminal`)
      .then((s) => { if (live) setAgent(s); }, () => { if (live) setAgent(null); });
    check();
    const t = window.setInterval(check, 5000);
    return () => { live = false; window.clearInterval(t); };
  }, [isAdmin, p.m.id]);
  if (!isAdmin || (!open && !agent?.connected)) return null;
  return (
    <section className="card" aria-label="shell">
      <h2>Shell</h2>
      {open ? (
        <Suspense fallback={<p className="muted">Loading the terminal…</p>}>
          <TerminalView path={`/api/v1/machines/${encodeURIComponent(p.m.id)}/terminal`} where={p.name} onClose={() => setOpen(false)} />
        </Suspense>
      ) : (
        <div className="buttons">
          <button type="button" onClick={() => setOpen(true)}>Open a shell on {p.name}</button>
          <span className="muted">Its agent is connected ({agent?.mode} boot). The session is recorded in the audit log.</span>
        </div>
      )}
    </section>
  );
}

export function MachineView(p: { id: string }) {
  const [detail, setDetail] = useState<MachineDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const canAct = useCan('operator');
  const timer = useRef<number | undefined>(undefined);
  // The page may be opened by MAC; live events name the machine by its id.
  const machineId = useRef(p.id);

  const load = useCallback(() => {
    api<MachineDetail>('GET', `/machines/${encodeURIComponent(p.id)}`).then((d) => {
      machineId.current = d.machine.id;
      setDetail(d);
      setError(null);
    }, (e: Error) => setError(e.message));
  }, [p.id]);

  useEffect(() => {
    load();
    const off = subscribe((msg) => {
      if (msg.kind === 'event' && msg.event.machineId !== machineId.current) return;
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(load, 150);
    });
    return () => { off(); window.clearTimeout(timer.current); };
  }, [load]);

  if (error && !detail) return <div className="card"><h1>Machine {p.id}</h1><p className="error" role="alert">{error}</p><Link to="/machines">Back to all machines</Link></div>;
  if (!detail) return <p className="muted">Loading…</p>;
  const m = detail.machine;
  const name = machineName(m);
  const look = lookOf(m.state);
  const progress = installProgress(detail.events);
  const actions = actionsFor(m.state);

  return (
    <>
      <div className="page-head">
        <h1>{name}</h1>
        <StateBadge state={m.state} />
        <span className="muted">{m.zone ?? 'no zone'} · rack {m.rack ?? '—'}</span>
      </div>
      <div className={`banner state-banner`} style={{ borderColor: look.color }} data-testid="state-line">
        <strong>{look.label}.</strong> {look.meaning}{m.stateReason ? <> Last change: {m.stateReason}.</> : null} <span className="muted">({ago(m.updatedAt)})</span>
      </div>
      {progress && (m.state === 'installing' || m.state === 'approved') && (
        <section className="card" aria-label="install progress">
          <h2>Install</h2>
          <ProgressBar progress={progress} label={`install progress of ${name}`} />
        </section>
      )}
      <EnrollmentChecks machine={m} />
      {canAct && actions.length > 0 && (
        <section className="card actions" aria-label="actions">
          <h2>Actions</h2>
          <div className="buttons">
            {actions.map((a) => <button key={a} type="button" className={ACTION_TEXT[a].destructive ? 'danger' : a === 'approve' ? 'primary' : undefined} onClick={() => setAction(a)}>{ACTION_TEXT[a].label}</button>)}
          </div>
        </section>
      )}
      <MachineShell m={m} name={name} />
      <div className="grid2">
        <section className="card" aria-label="identity">
          <h2>Identity</h2>
          <Facts rows={[
            ['Name', m.hostname], ['Machine ID', <span className="mono">{m.id}</span>], ['Boot MAC', <span className="mono">{m.bootMac}</span>],
            ['All MACs', m.macs.length ? <span className="mono">{m.macs.join(', ')}</span> : null],
            ['Serial number', m.serial], ['SMBIOS UUID', m.smbiosUuid ? <span className="mono">{m.smbiosUuid}</span> : null],
            ['First seen', <span title={time(m.createdAt)}>{ago(m.createdAt)}</span>],
          ]} />
        </section>
        <section className="card" aria-label="placement">
          <h2>Placement</h2>
          <Facts rows={[['Zone', m.zone], ['Rack', m.rack], ['Location', m.location && Object.keys(m.location).length ? <Location m={m} /> : null]]} />
          <h2>Inventory</h2>
          <Inventory machine={detail.machine} />
        </section>
      </div>
      <section className="card" aria-label="boot">
        <h2>Last network boot</h2>
        <BootTimeline events={detail.events} />
      </section>
      <section className="card" aria-label="history">
        <h2>History</h2>
        <EventTable events={detail.events} empty="Nothing recorded yet." />
      </section>
      {action && (
        <ConfirmDialog
          title={`${ACTION_TEXT[action].label} ${name}?`}
          confirmLabel={`${ACTION_TEXT[action].label} ${name}`}
          danger={ACTION_TEXT[action].destructive}
          typeToConfirm={ACTION_TEXT[action].destructive ? name : undefined}
          withReason
          onClose={() => setAction(null)}
          onConfirm={async (reason) => {
            await api('POST', `/machines/${m.id}/actions/${action}`, reason ? { reason } : {});
            load();
          }}>
          <p><strong>{name}</strong> <span className="mono muted">({m.bootMac}{m.serial ? `, serial ${m.serial}` : ''})</span> in {m.zone ?? 'no zone'}, rack {m.rack ?? '—'}, now <StateBadge state={m.state} />.</p>
          <p className={ACTION_TEXT[action].destructive ? 'warn' : undefined}>{ACTION_TEXT[action].consequence}</p>
        </ConfirmDialog>
      )}
    </>
  );
}
