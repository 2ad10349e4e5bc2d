// The latest enrollment checks of each machine (Node registered, Ready, konnectivity agent, tunnel
// per API server replica), as the cloud link's last verification of it found them. A pass replaces
// the machine's checks as a whole, in one transaction, and writes one event when what staff would
// read changed — that event is also what tells open Machine views to look again.
import type { Store } from './store.ts';

/** `unknown`: Tether could not tell (the request never reached the API server). */
export type CheckStatus = 'ok' | 'failing' | 'pending' | 'unknown';

/** One check as a verification pass decides it. */
export interface CheckResult {
  id: string;
  title: string;
  status: CheckStatus;
  /** What was seen. */
  detail: string;
  /** What to do about it; null when there is nothing to do. */
  fix: string | null;
}

export interface EnrollmentCheck extends CheckResult {
  /** The status has been this, pass after pass, since. */
  since: number;
  checkedAt: number;
}

export interface StoredChecks { nodeName: string; checkedAt: number; checks: EnrollmentCheck[] }

interface Row {
  check_id: string; node_name: string; title: string; status: CheckStatus; detail: string; fix: string | null; since: number; checked_at: number;
}

export function getEnrollmentChecks(store: Store, machineId: string): StoredChecks | undefined {
  const rows = store.db.prepare('SELECT * FROM enrollment_checks WHERE machine_id = ? ORDER BY position').all(machineId) as Row[];
  if (!rows.length) return undefined;
  return {
    nodeName: rows[0].node_name,
    checkedAt: Math.max(...rows.map((r) => r.checked_at)),
    checks: rows.map((r) => ({ id: r.check_id, title: r.title, status: r.status, detail: r.detail, fix: r.fix, since: r.since, checkedAt: r.checked_at })),
  };
}

/** Replaces the machine's checks; true (and one `enrollment-checks` event) when more than the time changed. */
export function saveEnrollmentChecks(store: Store, machineId: string, nodeName: string, results: readonly CheckResult[], at: number): boolean {
  return store.transaction(() => {
    const before = getEnrollmentChecks(store, machineId);
    const prev = new Map(before?.checks.map((c) => [c.id, c]));
    store.db.prepare('DELETE FROM enrollment_checks WHERE machine_id = ?').run(machineId);
    const insert = store.db.prepare(`INSERT INTO enrollment_checks (machine_id, check_id, position, node_name, title, status, detail, fix, since, checked_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    results.forEach((c, i) => {
      const p = prev.get(c.id);
      insert.run(machineId, c.id, i, nodeName, c.title, c.status, c.detail, c.fix, p?.status === c.status ? p.since : at, at);
    });
    const same = before?.nodeName === nodeName && before.checks.length === results.length
      && results.every((c, i) => { const b = before.checks[i]; return b.id === c.id && b.title === c.title && b.status === c.status && b.detail === c.detail && b.fix === c.fix; });
    if (same) return false;
    store.appendEvent({
      machineId, kind: 'enrollment-checks', actor: 'cloud', reason: summary(nodeName, results),
      data: { nodeName, statuses: Object.fromEntries(results.map((c) => [c.id, c.status])) },
    });
    return true;
  });
}

/** A new enrollment (join files released again) starts without the old node's checks. */
export function clearEnrollmentChecks(store: Store, machineId: string): void {
  store.db.prepare('DELETE FROM enrollment_checks WHERE machine_id = ?').run(machineId);
}

function summary(nodeName: string, results: readonly CheckResult[]): string {
  const titles = (s: CheckStatus): string[] => results.filter((c) => c.status === s).map((c) => c.title);
  const parts = [`${titles('ok').length} of ${results.length} ok`];
  for (const s of ['failing', 'pending', 'unknown'] as const) if (titles(s).length) parts.push(`${s}: ${titles(s).join(', ')}`);
  return `Enrollment checks of Node ${nodeName}: ${parts.join('; ')}`;
}
