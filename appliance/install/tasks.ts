// What an agent is told to do with disks, and what its reports of that work mean for the machine.
// Decisions only (no HTTP): the agent routes call these. Two locks guard every write: the task
// names the disk, and the boot that runs the agent must have been rendered with tether.write=1
// (decideBoot gives that only to approved/installing/wiping machines). An agent whose boot may not
// write is told to reboot, so the next boot script carries the permission.
import { randomBytes } from 'node:crypto';
import type { Machine, Store } from '../store/store.ts';
import type { TetherConfig } from '../config/load.ts';
import { transition } from '../lifecycle/lifecycle.ts';
import { getInventory } from '../store/inventory.ts';
import {
  cancelOpenDiskTasks, createDiskTask, getDiskTask, openDiskTask, recordDiskTaskProgress, releaseDiskTaskFiles, setDiskTaskStatus, type DiskTask,
} from '../store/disk-tasks.ts';
import { PROTOCOL_VERSION, factValue, type DiskRef, type InstallSpec, type Progress, type StagedFile, type TaskAnswer, type TaskResult, type WipeSpec } from '../../agent/protocol.ts';
import { imageFileName } from '../../images/compress.ts';
import type { SigningKey } from '../../images/manifest.ts';
import type { Catalog } from './catalog.ts';
import { diskBytesNeeded, pickTargetDisk } from './target.ts';
import { mintPhoneHomeToken } from './phone-home.ts';
import { getEnrollment } from '../store/cloud.ts';

/** What the cloud link contributes to an install (appliance/cloud implements it). */
export interface EnrollmentHooks {
  /** False when no cloud link is configured: then no join files will ever come (the cloud link sets it). */
  readonly configured?: boolean;
  /** Join files for this machine, or null when none can be had now (cloud unconfigured, link down and pool empty). */
  joinFilesFor(machine: Machine, o: { nodeIp: string | null; zone: string | null; rack: string | null }): Promise<StagedFile[] | null>;
  /** The machine came up from its disk (phone-home). */
  onInstalled(machineId: string): void;
  nodeNameFor(machine: Machine): string;
}

export interface DiskTaskContext {
  store: Store;
  config: TetherConfig;
  catalog: Catalog;
  /** Null only with an empty catalog. */
  signingKey: SigningKey | null;
  enrollment?: EnrollmentHooks;
}

const answer = (task: TaskAnswer['task'], reason: string, pollAfterS: number, extra: Partial<TaskAnswer> = {}): TaskAnswer => ({ version: PROTOCOL_VERSION, task, reason, pollAfterS, ...extra });
const newTaskId = (kind: string): string => `${kind}-${randomBytes(9).toString('base64url')}`;

/** A problem worth an event, recorded once per distinct text (the agent polls every few seconds). */
function noteOnce(store: Store, machine: Machine, reason: string): void {
  const last = store.listEvents({ machineId: machine.id, kind: 'install', limit: 1 })[0];
  if (last?.reason !== reason) store.appendEvent({ machineId: machine.id, kind: 'install', actor: 'system', reason });
}

function installSpec(t: DiskTask, c: DiskTaskContext, baseUrl: string): InstallSpec | null {
  const image = t.image ? c.catalog.get(t.image) : undefined;
  if (!image?.manifest || image.problem || !c.signingKey) return null;
  return {
    id: t.id,
    imageUrl: `${baseUrl}/images/${image.name}/${imageFileName(image.name)}`,
    manifest: image.manifest,
    publicKey: c.signingKey.publicPem,
    target: t.spec.target as DiskRef,
  };
}

/**
 * The disk task for a machine whose state calls for one (approved, installing, wiping), or null
 * to fall back to the plain lifecycle answer. `bootMayWrite` is what the agent's boot token says.
 */
export function diskTaskFor(c: DiskTaskContext, machine: Machine, o: { bootMayWrite: boolean; baseUrl: string }): TaskAnswer | null {
  const { store } = c;
  const open = openDiskTask(store, machine.id);
  if (machine.state === 'approved' || machine.state === 'installing') {
    if (open?.kind === 'wipe') cancelOpenDiskTasks(store, machine.id, `machine moved to ${machine.state}`);
    const task = open?.kind === 'install' ? open : undefined;
    if (task?.status === 'written') return answer('reboot', 'the image is written and verified: rebooting to boot from the disk', 10);
    if (!o.bootMayWrite) return answer('reboot', `${machine.state}: rebooting into the install boot (this boot may not write disks)`, 10);
    if (task) {
      // The agent rebooted or restarted mid-install: the same task again (it re-verifies what is on disk).
      const spec = installSpec(task, c, o.baseUrl);
      if (!spec) return answer('wait', `image ${task.image} is no longer installable`, 30);
      if (task.status === 'pending') setDiskTaskStatus(store, task.id, 'running');
      return answer('install', `installing ${task.image} on ${spec.target.name}`, 10, { install: spec });
    }
    if (machine.state === 'installing') return answer('wait', 'installing, but no install task is open; an operator decides', 30);
    return store.transaction(() => startInstall(c, machine, o.baseUrl));
  }
  if (machine.state === 'wiping') {
    if (open?.kind === 'install') cancelOpenDiskTasks(store, machine.id, 'machine moved to wiping');
    if (!o.bootMayWrite) return answer('reboot', 'wiping: rebooting into the wipe boot (this boot may not write disks)', 10);
    const task = open?.kind === 'wipe' ? open : store.transaction(() => startWipe(c, machine));
    if (!task) return answer('wait', 'wiping: the inventory lists no disks to wipe', 30);
    if (task.status === 'pending') setDiskTaskStatus(store, task.id, 'running');
    const spec: WipeSpec = { id: task.id, disks: task.spec.disks as DiskRef[], full: task.spec.full === true };
    return answer('wipe', `wiping ${spec.disks.map((d) => d.name).join(', ')}${spec.full ? ' (full overwrite)' : ''}`, 10, { wipe: spec });
  }
  // Any other state: an unfinished disk task belongs to an earlier plan (operator moved the machine).
  if (open) cancelOpenDiskTasks(store, machine.id, `machine moved to ${machine.state}`);
  return null;
}

function startInstall(c: DiskTaskContext, machine: Machine, baseUrl: string): TaskAnswer {
  const { store } = c;
  const chosen = c.catalog.forZone(machine.zone);
  if ('problem' in chosen) { noteOnce(store, machine, `cannot install: ${chosen.problem}`); return answer('wait', chosen.problem, 30); }
  const m = chosen.image.manifest;
  const disks = factValue(getInventory(store, machine.id)?.doc.disks ?? { absent: 'no inventory' }) ?? [];
  const picked = pickTargetDisk(disks, c.config.images.target, diskBytesNeeded(m));
  if ('problem' in picked) { noteOnce(store, machine, `cannot install: ${picked.problem}`); return answer('wait', picked.problem, 30); }
  const task = createDiskTask(store, {
    id: newTaskId('install'), machineId: machine.id, kind: 'install', image: chosen.image.name,
    spec: { target: picked.disk, why: picked.why, rawSha256: m.raw.sha256 }, bytesTotal: m.raw.size,
  });
  setDiskTaskStatus(store, task.id, 'running');
  transition(store, machine.id, 'installing', {
    actor: 'agent',
    reason: `installing ${chosen.image.name} on ${picked.disk.name} (${picked.why})`,
    data: { task: task.id, image: chosen.image.name, target: picked.disk },
    expectFrom: ['approved'],
  });
  const spec = installSpec(task, c, baseUrl)!;
  return answer('install', `installing ${task.image} on ${picked.disk.name}`, 10, { install: spec });
}

function startWipe(c: DiskTaskContext, machine: Machine): DiskTask | null {
  const disks = (factValue(getInventory(c.store, machine.id)?.doc.disks ?? { absent: 'no inventory' }) ?? []).filter((d) => factValue(d.removable) !== true);
  if (disks.length === 0) return null;
  // The wipe action's event carries the operator's choice of a full overwrite.
  const action = c.store.listEvents({ machineId: machine.id, kind: 'transition', limit: 5 }).find((e) => e.to === 'wiping');
  const full = (action?.data as { full?: unknown } | null)?.full === true;
  const refs: DiskRef[] = disks.map((d) => ({ name: d.name, sizeBytes: d.sizeBytes, serial: factValue(d.serial), wwn: factValue(d.wwn) }));
  const task = createDiskTask(c.store, { id: newTaskId('wipe'), machineId: machine.id, kind: 'wipe', spec: { disks: refs, full }, bytesTotal: full ? refs.reduce((a, d) => a + d.sizeBytes, 0) : 0 });
  return task;
}

export class DiskTaskError extends Error {
  readonly code: 'not_found' | 'conflict';
  constructor(code: 'not_found' | 'conflict', message: string) { super(message); this.code = code; }
}

/** An event for what a machine's own node did, recorded once per distinct text (it polls). */
function noteNodeOnce(store: Store, machineId: string, reason: string, data?: Record<string, unknown>): void {
  const last = store.listEvents({ machineId, kind: 'enrollment', actor: 'agent', limit: 1 })[0];
  if (last?.reason !== reason) store.appendEvent({ machineId, kind: 'enrollment', actor: 'agent', reason, data: data ?? null });
}

/** The machine's running task with this id, or a clear error. */
function runningTask(c: DiskTaskContext, machine: Machine, taskId: string, kind?: DiskTask['kind']): DiskTask {
  const t = getDiskTask(c.store, taskId);
  if (!t || t.machineId !== machine.id) throw new DiskTaskError('not_found', `machine ${machine.id} has no disk task ${taskId}`);
  if (kind && t.kind !== kind) throw new DiskTaskError('conflict', `task ${taskId} is a ${t.kind} task`);
  if (t.status !== 'running') throw new DiskTaskError('conflict', `task ${taskId} is ${t.status}, not running`);
  return t;
}

/** Progress lands on the timeline (and the UI's live feed) at most this often per task, and on every phase change. */
const PROGRESS_EVENT_MS = 2000;

export function recordProgress(c: DiskTaskContext, machine: Machine, p: Progress): DiskTask {
  const t = runningTask(c, machine, p.taskId);
  c.store.transaction(() => {
    recordDiskTaskProgress(c.store, t.id, p);
    const last = c.store.listEvents({ machineId: machine.id, kind: 'install', limit: 1 })[0];
    const d = last?.data as { task?: unknown; phase?: unknown } | null | undefined;
    if (d?.task !== t.id || d.phase !== p.phase || Date.now() - last.at >= PROGRESS_EVENT_MS) {
      const pct = p.bytesTotal > 0 ? ` ${Math.floor((p.bytesDone / p.bytesTotal) * 100)}%` : '';
      c.store.appendEvent({
        machineId: machine.id, kind: 'install', actor: 'agent',
        reason: `${p.phase}${pct}${p.message ? `: ${p.message}` : ''}`,
        data: { task: t.id, phase: p.phase, bytes: p.bytesDone, total: p.bytesTotal, rate: p.rateBps },
      });
    }
  });
  return { ...t, phase: p.phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, rateBps: p.rateBps };
}

export function recordResult(c: DiskTaskContext, machine: Machine, r: TaskResult): DiskTask {
  const { store } = c;
  return store.transaction(() => {
    const t = runningTask(c, machine, r.taskId, r.kind);
    if (r.kind === 'install') {
      const expected = String(t.spec.rawSha256);
      let reason = r.ok ? null : (r.reason ?? 'the agent reported a failure without a reason');
      // The agent's own check is not the last word: the appliance compares the hash it read back.
      if (r.ok && r.rawSha256 !== expected) reason = `sha256 mismatch: the disk read back as ${r.rawSha256 ?? '(none)'}, the image is ${expected}`;
      if (reason) {
        const done = setDiskTaskStatus(store, t.id, 'failed', { reason });
        transition(store, machine.id, 'failed', { actor: 'agent', reason: `install failed: ${reason}`, data: { task: t.id }, expectFrom: ['installing'] });
        return done;
      }
      const done = setDiskTaskStatus(store, t.id, 'written');
      store.appendEvent({ machineId: machine.id, kind: 'install', actor: 'agent', reason: `image ${t.image} written to ${(t.spec.target as DiskRef).name} and verified (sha256 ${expected.slice(0, 12)}…); rebooting to the disk`, data: { task: t.id, bytesWritten: r.bytesWritten ?? null } });
      return done;
    }
    if (!r.ok) {
      const reason = r.reason ?? 'the agent reported a failure without a reason';
      const done = setDiskTaskStatus(store, t.id, 'failed', { reason });
      transition(store, machine.id, 'failed', { actor: 'agent', reason: `wipe failed: ${reason}`, data: { task: t.id }, expectFrom: ['wiping'] });
      return done;
    }
    const done = setDiskTaskStatus(store, t.id, 'done');
    transition(store, machine.id, 'discovered', { actor: 'agent', reason: 'disks wiped: partition tables and signatures erased', data: { task: t.id, full: t.spec.full === true }, expectFrom: ['wiping'] });
    return done;
  });
}

/**
 * The per-machine files for the written disk, released once per install task: hostname, network,
 * the first-boot phone-home credential, and the join files when the cloud link can give them.
 */
export async function filesFor(c: DiskTaskContext, machine: Machine, taskId: string, o: { baseUrl: string; nodeIp: string | null }): Promise<StagedFile[]> {
  const t = runningTask(c, machine, taskId, 'install');
  if (!releaseDiskTaskFiles(c.store, t.id)) throw new DiskTaskError('conflict', `the files of task ${taskId} were released already; a new install task issues new ones`);
  const hostname = c.enrollment?.nodeNameFor(machine) ?? (machine.hostname || machine.id.toLowerCase());
  const token = mintPhoneHomeToken(c.store, machine.id, t.id);
  const text = (path: string, body: string, mode = 0o644): StagedFile => ({ path, mode, contentBase64: Buffer.from(body).toString('base64') });
  const files: StagedFile[] = [
    text('etc/hostname', `${hostname}\n`),
    // The boot NIC by MAC: kernel names differ between the discovery OS and the installed one.
    text('etc/systemd/network/10-tether.network', `# Written by Tether for ${machine.id}\n[Match]\nMACAddress=${machine.bootMac}\n\n[Network]\nDHCP=ipv4\n`),
    text('etc/tether/firstboot.json', `${JSON.stringify({ url: o.baseUrl, mac: machine.bootMac, installId: t.id, token })}\n`, 0o600),
  ];
  let join: StagedFile[] | null = null;
  try {
    join = await (c.enrollment?.joinFilesFor(machine, { nodeIp: o.nodeIp, zone: machine.zone, rack: machine.rack }) ?? Promise.resolve(null));
  } catch (e) {
    c.store.appendEvent({ machineId: machine.id, kind: 'install', actor: 'system', reason: `join files unavailable: ${(e as Error).message}; the node will be enrolled when the cloud link allows` });
  }
  if (join) files.push(...join);
  c.store.appendEvent({ machineId: machine.id, kind: 'install', actor: 'system', reason: `per-machine files released (${files.length} files${join ? ', with join files' : ', no join files'})`, data: { task: t.id, paths: files.map((f) => f.path) } });
  return files;
}

/** The installed OS phoned home from its first boot: the install is done. Idempotent. */
export function phoneHome(c: DiskTaskContext, machine: Machine, installId: string, info: { kernel?: string; bootId?: string; ip: string }): Machine {
  const moved = c.store.transaction(() => {
    const t = getDiskTask(c.store, installId);
    if (!t || t.machineId !== machine.id || t.kind !== 'install') throw new DiskTaskError('not_found', `machine ${machine.id} has no install ${installId}`);
    if (t.status === 'done') return false; // a repeated phone-home
    if (t.status !== 'written') throw new DiskTaskError('conflict', `install ${installId} is ${t.status}: a phone-home comes after the image is written`);
    setDiskTaskStatus(c.store, t.id, 'done');
    transition(c.store, machine.id, 'installed', {
      actor: 'agent',
      reason: `first boot from disk phoned home${info.kernel ? ` (kernel ${info.kernel})` : ''}`,
      data: { task: t.id, image: t.image, ...info },
      expectFrom: ['installing'],
    });
    return true;
  });
  if (moved) c.enrollment?.onInstalled(machine.id);
  return c.store.mustGetMachine(machine.id);
}

/** How long an installed node waits before asking for its join files again (HTTP Retry-After). */
export const JOIN_RETRY_AFTER_S = 60;

export type LateJoinAnswer = { kind: 'files'; files: StagedFile[] } | { kind: 'wait'; reason: string; retryAfterS: number };

/**
 * An installed node that got no join files at install (link down, pool empty: the cloud recorded
 * the enrollment as deferred) asks for them over its phone-home channel, after it phoned home.
 * The cloud link decides whether they can be had now and releases them once (its releasedAt); a
 * machine the cloud never promised them to, or one whose files went out already, is refused.
 * Throws DiskTaskError: not_found when no cloud link is configured (none will ever come), conflict
 * for everything the machine's own state refuses.
 */
export async function joinFilesLater(c: DiskTaskContext, machine: Machine, installId: string, o: { nodeIp: string | null }): Promise<LateJoinAnswer> {
  const { store } = c;
  const hooks = c.enrollment;
  if (!hooks || hooks.configured === false) {
    throw new DiskTaskError('not_found', 'this appliance has no cloud link configured: it hands out no join files, and this node stays out of any cluster');
  }
  const refuse = (reason: string): DiskTaskError => {
    noteNodeOnce(store, machine.id, `The node asked for its join files and was refused: ${reason}`, { install: installId });
    return new DiskTaskError('conflict', reason);
  };
  const released = (): DiskTaskError | null => {
    const e = getEnrollment(store, machine.id);
    return e?.releasedAt != null
      ? refuse(`the join files for node ${e.nodeName} were released already (${new Date(e.releasedAt).toISOString()}); they are handed out once: reinstall the machine for new ones`)
      : null;
  };
  const t = getDiskTask(store, installId);
  if (!t || t.machineId !== machine.id || t.kind !== 'install') throw refuse(`machine ${machine.id} has no install ${installId}`);
  if (t.status !== 'done') throw refuse(`install ${installId} is ${t.status}: a node asks for its join files after it phoned home`);
  const gone = released();
  if (gone) throw gone;
  if (machine.state !== 'installed') throw refuse(`machine ${machine.id} is ${machine.state}: join files go to an installed node that is still waiting for them`);
  if (getEnrollment(store, machine.id)?.deferredAt == null) {
    throw refuse(`install ${installId} was not waiting for join files (no cloud link was configured when it was installed): reinstall the machine to enroll it`);
  }
  let files: StagedFile[] | null;
  try {
    files = await hooks.joinFilesFor(machine, { nodeIp: o.nodeIp, zone: machine.zone, rack: machine.rack });
  } catch (e) {
    // A refusal by the cloud (the machine moved meanwhile, or a concurrent ask got them first) is
    // the machine's state speaking; anything else is the appliance's trouble and the node retries.
    if ((e as Error).name !== 'JoinRefusedError') throw e;
    throw released() ?? refuse((e as Error).message);
  }
  if (!files) {
    const reason = 'none can be had yet (the cloud link is down and the token pool is empty, or the cluster was never reached)';
    noteNodeOnce(store, machine.id, `The installed node asked for its join files: ${reason}; it keeps asking`, { install: installId, ip: o.nodeIp });
    return { kind: 'wait', reason, retryAfterS: JOIN_RETRY_AFTER_S };
  }
  store.appendEvent({
    machineId: machine.id, kind: 'enrollment', actor: 'agent',
    reason: `The installed node fetched its join files (${files.length} files) over its phone-home channel and starts its kubelet`,
    data: { install: installId, ip: o.nodeIp, paths: files.map((f) => f.path) },
  });
  return { kind: 'files', files };
}
