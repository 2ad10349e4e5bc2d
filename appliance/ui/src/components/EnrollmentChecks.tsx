// A machine's enrollment checks as the cloud link last found them — Node registered, Ready, tunnel
// agent running, the cloud reaching the node once per API server replica — each with what was seen
// and, when it is not ok, what to do. They follow the live feed: a change of the checks is an event
// of the machine, and whether they can be trusted changes with the link's events.
import { useCallback, useEffect, useRef, useState } from 'react';
import { api, type EnrollmentReport, type Machine, type ReportedCheck } from '../api.ts';
import { subscribe } from '../live.ts';
import { ago, time } from '../format.ts';

/** States where a machine has (or is about to have) an enrollment; `failed` only shows checks it has. */
const ENROLLMENT_STATES = ['installed', 'joining', 'enrolled', 'ready', 'headless', 'failed'];

const LOOK: Record<ReportedCheck['status'], { icon: string; color: string; background: string }> = {
  ok: { icon: '✔', color: '#15803d', background: '#f0fdf4' },
  failing: { icon: '✖', color: '#b91c1c', background: '#fef2f2' },
  pending: { icon: '…', color: '#b45309', background: '#fffbeb' },
  unknown: { icon: '?', color: '#64748b', background: '#f8fafc' },
};

export function EnrollmentChecks(p: { machine: Machine }) {
  if (!ENROLLMENT_STATES.includes(p.machine.state)) return null;
  return <Checks machineId={p.machine.id} state={p.machine.state} />;
}

function Checks(p: { machineId: string; state: string }) {
  const [report, setReport] = useState<EnrollmentReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const timer = useRef<number | undefined>(undefined);

  const load = useCallback(() => {
    api<EnrollmentReport>('GET', `/machines/${encodeURIComponent(p.machineId)}/enrollment`).then((r) => { setReport(r); setError(null); }, (e: Error) => setError(e.message));
  }, [p.machineId]);

  useEffect(() => {
    load();
    const off = subscribe((msg) => {
      if (msg.kind === 'event' && msg.event.machineId !== p.machineId && msg.event.kind !== 'link') return;
      window.clearTimeout(timer.current);
      timer.current = window.setTimeout(load, 150);
    });
    return () => { off(); window.clearTimeout(timer.current); };
  }, [load, p.machineId]);

  if (p.state === 'failed' && !report?.checks.length) return null;
  const link = report?.link;
  return (
    <section className="card" aria-label="enrollment checks" data-testid="enrollment-checks">
      <h2>Enrollment checks{report?.nodeName ? <span className="muted small"> · Node <span className="mono">{report.nodeName}</span></span> : null}</h2>
      {error && <p className="error" role="alert">{error}</p>}
      {link?.state === 'down' && (
        <p className="banner banner-warn" data-testid="enrollment-blind">
          The cloud link is down since <span title={time(link.since)}>{ago(link.since)}</span>{link.lastError ? ` (${link.lastError})` : ''}: Tether cannot check this machine now.
          {report?.checkedAt ? <> What follows is what the last check found, <span title={time(report.checkedAt)}>{ago(report.checkedAt)}</span>.</> : null}
        </p>
      )}
      {report && report.checks.length === 0 && (
        <p className="muted">
          {link?.state === 'unconfigured' ? 'No cloud link is configured: machines are installed but not enrolled.'
            : 'Not checked yet. Tether checks the node from the cluster\'s side once the installed OS is up with its join files.'}
        </p>
      )}
      {report && report.checks.length > 0 && (
        <ul style={{ listStyle: 'none', margin: 0, padding: 0, display: 'grid', gap: '.4rem' }}>
          {report.checks.map((c) => <Check key={c.id} c={c} />)}
        </ul>
      )}
    </section>
  );
}

function Check(p: { c: ReportedCheck }) {
  const { c } = p;
  const look = LOOK[c.status];
  const showFix = c.fix && c.status !== 'ok' && c.seen !== 'ok';
  return (
    <li data-check={c.id} data-status={c.status} style={{ borderLeft: `4px solid ${look.color}`, background: look.background, borderRadius: 4, padding: '.4rem .6rem' }}>
      <div>
        <span aria-hidden="true" style={{ color: look.color, fontWeight: 700, display: 'inline-block', width: '1.3em' }}>{look.icon}</span>
        <strong>{c.title}</strong>{' '}
        <span style={{ color: look.color, fontWeight: 600 }}>{c.status}</span>{' '}
        <span className="muted small" title={`checked ${time(c.checkedAt)}`}>
          {c.status === 'unknown' && c.seen !== 'unknown' ? `— was ${c.seen} at the last check, ${ago(c.checkedAt)}` : `since ${ago(c.since)}`}
        </span>
      </div>
      <div className="check-detail">{c.detail}</div>
      {showFix && <div className="check-fix"><strong>What to do{c.status === 'unknown' ? ' (as of the last check)' : ''}:</strong> {c.fix}</div>}
    </li>
  );
}
