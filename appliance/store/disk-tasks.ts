// Disk tasks (install, wipe): what an agent was told to write, how far it got, how it ended.
// SQL for the disk_tasks table lives here, on the store's connection (like inventory.ts). At most
// one unfinished task per machine is enforced by a partial unique index, so two agents polling at
// once cannot both be handed a task.
import type { Store } from './store.ts';

export type DiskTaskKind = 'install' | 'wipe';
export type DiskTaskStatus = 'pending' | 'running' | 'written' | 'done' | 'failed' | 'cancelled';
export const OPEN_STATUSES: readonly DiskTaskStatus[] = ['pending', 'running', 'written'];

export interface DiskTask {
  id: string;
  machineId: string;
  kind: DiskTaskKind;
  status: DiskTaskStatus;
  image: string | null;
  spec: Record<string, unknown>;
  phase: string | null;
  bytesDone: number;
  bytesTotal: number;
  rateBps: number;
  reason: string | null;
  filesAt: number | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

interface Row {
  id: string; machine_id: string; kind: DiskTaskKind; status: DiskTaskStatus; image: string | null; spec: string; phase: string | null;
  bytes_done: number; bytes_total: number; rate_bps: number; reason: string | null; files_at: number | null;
  created_at: number; updated_at: number; finished_at: number | null;
}

const toTask = (r: Row): DiskTask => ({
  id: r.id, machineId: r.machine_id, kind: r.kind, status: r.status, image: r.image, spec: JSON.parse(r.spec) as Record<string, unknown>,
  phase: r.phase, bytesDone: r.bytes_done, bytesTotal: r.bytes_total, rateBps: r.rate_bps, reason: r.reason, filesAt: r.files_at,
  createdAt: r.created_at, updatedAt: r.updated_at, finishedAt: r.finished_at,
});

export function createDiskTask(store: Store, t: { id: string; machineId: string; kind: DiskTaskKind; image?: string | null; spec: Record<string, unknown>; bytesTotal?: number }): DiskTask {
  const now = Date.now();
  store.db.prepare(`INSERT INTO disk_tasks (id, machine_id, kind, status, image, spec, bytes_total, created_at, updated_at)
    VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)`).run(t.id, t.machineId, t.kind, t.image ?? null, JSON.stringify(t.spec), t.bytesTotal ?? 0, now, now);
  return mustGetDiskTask(store, t.id);
}

export function getDiskTask(store: Store, id: string): DiskTask | undefined {
  const r = store.db.prepare('SELECT * FROM disk_tasks WHERE id = ?').get(id) as Row | undefined;
  return r && toTask(r);
}

export function mustGetDiskTask(store: Store, id: string): DiskTask {
  const t = getDiskTask(store, id);
  if (!t) throw new Error(`no disk task ${id}`);
  return t;
}

/** The machine's unfinished task (pending, running or written), if any. */
export function openDiskTask(store: Store, machineId: string): DiskTask | undefined {
  const r = store.db.prepare(`SELECT * FROM disk_tasks WHERE machine_id = ? AND status IN ('pending', 'running', 'written')`).get(machineId) as Row | undefined;
  return r && toTask(r);
}

/** The machine's most recent tasks, newest first (the UI's install history). */
export function listDiskTasks(store: Store, machineId: string, limit = 10): DiskTask[] {
  return (store.db.prepare('SELECT * FROM disk_tasks WHERE machine_id = ? ORDER BY created_at DESC, rowid DESC LIMIT ?').all(machineId, limit) as Row[]).map(toTask);
}

export function setDiskTaskStatus(store: Store, id: string, status: DiskTaskStatus, o: { reason?: string | null } = {}): DiskTask {
  const now = Date.now();
  const finished = OPEN_STATUSES.includes(status) ? null : now;
  store.db.prepare('UPDATE disk_tasks SET status = ?, reason = COALESCE(?, reason), updated_at = ?, finished_at = ? WHERE id = ?').run(status, o.reason ?? null, now, finished, id);
  return mustGetDiskTask(store, id);
}

export function recordDiskTaskProgress(store: Store, id: string, p: { phase: string; bytesDone: number; bytesTotal: number; rateBps: number }): void {
  store.db.prepare('UPDATE disk_tasks SET phase = ?, bytes_done = ?, bytes_total = ?, rate_bps = ?, updated_at = ? WHERE id = ?')
    .run(p.phase, p.bytesDone, p.bytesTotal, p.rateBps, Date.now(), id);
}

/** Marks the task's per-machine files released; false if they were released before (once only). */
export function releaseDiskTaskFiles(store: Store, id: string): boolean {
  return store.db.prepare('UPDATE disk_tasks SET files_at = ? WHERE id = ? AND files_at IS NULL').run(Date.now(), id).changes === 1;
}

/** Closes every unfinished task of a machine (an operator sent it elsewhere). */
export function cancelOpenDiskTasks(store: Store, machineId: string, reason: string): number {
  const now = Date.now();
  return store.db.prepare(`UPDATE disk_tasks SET status = 'cancelled', reason = ?, updated_at = ?, finished_at = ? WHERE machine_id = ? AND status IN ('pending', 'running', 'written')`)
    .run(reason, now, now, machineId).changes;
}
