// The agent's life in one boot: collect the inventory, report it (retrying while the appliance is
// unreachable), then heartbeat and poll for the next task until told to power off or reboot.
//
// Install and wipe are the only tasks that write a disk, and only when BOTH say so: the task (with a
// disk that still matches by name, size, serial and WWN) and this boot's kernel command line
// (`tether.write=1`, AgentConfig.write). Without the latter the agent touches nothing — it does not
// even open a disk — and answers the task with a refusal. Each install/wipe ends with one result
// (retried while the appliance is unreachable); progress is posted about once a second and may be
// lost; heartbeats go on (phase `working`) during the long work.
import { PROTOCOL_VERSION, type Disk, type InstallSpec, type Inventory, type ProgressPhase, type StagedFile, type TaskAnswer, type TaskResult, type WipeSpec } from './protocol.ts';
import { ApplianceError, backoffMs, heartbeatOf, type ApplianceClient } from './client.ts';
import type { AgentConfig } from './cmdline.ts';
import type { ImageManifest } from '../images/manifest.ts';
import { devPath, resolveTarget, type DevicePath } from './install/target.ts';
import { writeImage, type ImageFetch, type WriteOptions, type WriteResult } from './install/write.ts';
import { wipeDisks, type WipeOptions, type WipeResult } from './install/wipe.ts';

export type PowerAction = 'poweroff' | 'reboot';

export interface AgentDeps {
  client: ApplianceClient;
  collect: () => Promise<Inventory>;
  power: (action: PowerAction) => Promise<void>;
  sleep: (ms: number) => Promise<void>;
  log: (msg: string) => void;
  uptimeS: () => number;
  random?: () => number;
  /** What install and wipe tasks need; without it such tasks are answered with a refusal. */
  disks?: DiskDeps;
  /** The console channel (agent/shell/channel.ts): started once registered, stopped before a power action. */
  console?: { start(): void; stop(why: string): Promise<void> };
}

export interface DiskDeps {
  /** A fresh listing of this machine's disks (not the inventory's: disks can change meanwhile). */
  list: () => Promise<Disk[]>;
  /** Disk name → device node; default `/dev/<name>` (tests map names to files). */
  devicePath?: DevicePath;
  /** Stages the appliance's files on the root partition of the disk just written (install/stage.ts). */
  stage: (o: { disk: string; manifest: ImageManifest; files: StagedFile[]; log: (msg: string) => void }) => Promise<void>;
  /** Runs between the write and its re-read (drops the device's page cache). */
  beforeVerify?: (path: string) => Promise<void>;
  fetch?: ImageFetch;
  /** Defaults: install/write.ts and install/wipe.ts. */
  writeImage?: (o: WriteOptions) => Promise<WriteResult>;
  wipe?: (o: WipeOptions) => Promise<WipeResult>;
}

export const NO_WRITE_REASON = 'this boot does not allow disk writes (kernel command line lacks tether.write=1)';
const RESULT_ATTEMPTS = 8;
const FILES_ATTEMPTS = 5;

const TOKEN_REFUSED_RETRY_MS = 60_000;
/**
 * Boots whose agent offers the appliance a shell. All of them: the moment an operator most needs
 * to look at a machine is when its install or wipe failed and it waits in that same boot; the
 * shell is admin-only and audited on the appliance, which could boot the machine into anything
 * anyway. Install and wipe run on regardless of it (a person typing cannot pause the writer).
 */
export const CONSOLE_MODES: readonly AgentConfig['mode'][] = ['discovery', 'rescue', 'install', 'wipe'];
const DEFAULT_HEARTBEAT_S = 30;

/** Runs until a power action was taken (in a real boot the machine is then gone); returns it. */
export async function runAgent(cfg: AgentConfig, d: AgentDeps): Promise<PowerAction> {
  let heartbeatS = DEFAULT_HEARTBEAT_S;
  let lastHeartbeat = -Infinity;
  let problem: string | undefined;
  /** Results of install/wipe tasks that succeeded in this boot, by task id. */
  const finished = new Map<string, TaskResult>();
  const beat = async (phase: 'collecting' | 'reporting' | 'idle' | 'working'): Promise<void> => {
    lastHeartbeat = d.uptimeS();
    try {
      heartbeatS = clampS((await d.client.heartbeat(heartbeatOf(cfg, phase, d.uptimeS(), problem))).intervalS, DEFAULT_HEARTBEAT_S);
    } catch (e) {
      d.log(`heartbeat failed: ${(e as Error).message}`);
    }
  };

  d.log(`agent ${PROTOCOL_VERSION} for ${cfg.mac} (mode ${cfg.mode}), appliance ${cfg.url}, at ${d.uptimeS().toFixed(1)} s`);
  void beat('collecting');
  const t0 = d.uptimeS();
  const inventory = await d.collect();
  d.log(`inventory collected in ${(d.uptimeS() - t0).toFixed(1)} s`);

  let task: TaskAnswer | null = null;
  for (let attempt = 0; ; attempt++) {
    try {
      const answer = await d.client.report({ version: PROTOCOL_VERSION, mac: cfg.mac, inventory });
      d.log(`reported: machine ${answer.machineId} is ${answer.state} (at ${d.uptimeS().toFixed(1)} s)`);
      task = answer.task;
      break;
    } catch (e) {
      if (e instanceof ApplianceError && e.code === 'conflict') {
        d.log('this boot already reported (an earlier answer was lost); going on'); // the token is spent
        break;
      }
      if (e instanceof ApplianceError && (e.status === 401 || e.status === 403)) {
        d.log(`boot token refused (${e.message}); a newer boot of this machine may have replaced it. Retrying in ${TOKEN_REFUSED_RETRY_MS / 1000} s`);
        await d.sleep(TOKEN_REFUSED_RETRY_MS);
        continue;
      }
      if (e instanceof ApplianceError && !e.retryable) {
        problem = `report refused: ${e.message}`;
        d.log(problem); // the same document would be refused again: wait for instructions instead
        break;
      }
      const ms = backoffMs(attempt, d.random);
      d.log(`report failed (${(e as Error).message}); retrying in ${(ms / 1000).toFixed(1)} s`);
      await d.sleep(ms);
    }
  }
  // Registered (the appliance knows this boot and its token): a refused report is no reason to
  // withhold the shell, it is a reason to want one.
  if (CONSOLE_MODES.includes(cfg.mode)) d.console?.start();

  for (let attempt = 0; ;) {
    if (d.uptimeS() - lastHeartbeat >= heartbeatS) await beat('idle');
    if (!task) {
      try {
        task = await d.client.task();
        attempt = 0;
      } catch (e) {
        const ms = backoffMs(attempt++, d.random);
        d.log(`task poll failed (${(e as Error).message}); retrying in ${(ms / 1000).toFixed(1)} s`);
        await d.sleep(ms);
        continue;
      }
    }
    const t: TaskAnswer = task;
    task = null;
    if (t.task === 'poweroff' || t.task === 'reboot') {
      d.log(`task ${t.task}: ${t.reason}`);
      await d.console?.stop(`the machine is going to ${t.task}`);
      await d.power(t.task);
      return t.task;
    }
    if ((t.task === 'install' && t.install) || (t.task === 'wipe' && t.wipe)) {
      const id = t.install?.id ?? t.wipe!.id;
      const earlier = finished.get(id);
      if (earlier) {
        // The same task again after it succeeded: our result was probably lost. Say it again;
        // never write the disk twice for one task. (A failed task asked again is tried again.)
        d.log(`task ${t.task} ${id} was already done (ok: ${earlier.ok}); sending its result again`);
        await sendResult(earlier);
      } else {
        const r = await work(t);
        if (r.ok) finished.set(id, r);
        await sendResult(r);
        if (r.ok) continue; // ask at once: the appliance answers with what comes next (reboot)
      }
    }
    await d.sleep(clampS(t.pollAfterS, 10) * 1000);
  }

  async function sendResult(r: TaskResult): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await d.client.result(r);
        return;
      } catch (e) {
        const last = attempt + 1 >= RESULT_ATTEMPTS || (e instanceof ApplianceError && !e.retryable);
        d.log(`sending the ${r.kind} result failed (${(e as Error).message})${last ? '; giving up (it is sent again if the task comes again)' : ''}`);
        if (last) return;
        await d.sleep(backoffMs(attempt, d.random));
      }
    }
  }

  /** Runs an install or wipe task to its result; never throws. */
  async function work(t: TaskAnswer): Promise<TaskResult> {
    const kind = t.task === 'install' ? 'install' : 'wipe';
    const id = t.install?.id ?? t.wipe!.id;
    const base = { version: PROTOCOL_VERSION, mac: cfg.mac, taskId: id, kind } as const;
    const fail = (reason: string): TaskResult => {
      d.log(`task ${kind} ${id} failed: ${reason}`);
      return { ...base, ok: false, reason: reason.slice(0, 2048) };
    };
    if (!cfg.write) return fail(NO_WRITE_REASON);
    if (!d.disks) return fail('this agent was started without disk access; nothing was written');
    const disks = d.disks;
    d.log(`task ${kind} ${id}: ${t.reason}`);

    let status = `${kind} ${id}`;
    const beatTimer = setInterval(() => { void beatWorking(); }, heartbeatS * 1000);
    beatTimer.unref?.();
    const beatWorking = async (): Promise<void> => {
      const saved = problem;
      problem = status;
      try { await beat('working'); } finally { problem = saved; }
    };
    void beatWorking();
    let posting = false;
    const post = (phase: ProgressPhase, p: { bytesDone: number; bytesTotal: number; rateBps: number; message?: string }): void => {
      status = `${kind} ${id}: ${phase} ${p.bytesTotal > 0 ? Math.floor((100 * p.bytesDone) / p.bytesTotal) : 0}%`;
      if (posting) return; // the appliance is slow: drop this sample rather than queue them
      posting = true;
      d.client.progress({ version: PROTOCOL_VERSION, mac: cfg.mac, taskId: id, phase, bytesDone: p.bytesDone, bytesTotal: p.bytesTotal, rateBps: p.rateBps, ...(p.message ? { message: p.message.slice(0, 1024) } : {}) })
        .catch((e: unknown) => d.log(`progress post failed: ${(e as Error).message}`))
        .finally(() => { posting = false; });
    };
    try {
      let listing: Disk[];
      try { listing = await disks.list(); } catch (e) { return fail(`could not list this machine's disks: ${(e as Error).message}; nothing was written`); }
      const resolve = (ref: InstallSpec['target']) => resolveTarget(ref, listing, disks.devicePath ?? devPath);
      if (t.install) return await install(t.install, resolve, post, base, fail);
      return await wipe(t.wipe!, resolve, post, base, fail);
    } catch (e) {
      return fail((e as Error).message);
    } finally {
      clearInterval(beatTimer);
    }
  }

  async function install(spec: InstallSpec, resolve: (ref: InstallSpec['target']) => ReturnType<typeof resolveTarget>, post: (phase: ProgressPhase, p: { bytesDone: number; bytesTotal: number; rateBps: number; message?: string }) => void,
    base: Omit<TaskResult, 'ok'>, fail: (reason: string) => TaskResult): Promise<TaskResult> {
    const disks = d.disks!;
    const target = resolve(spec.target);
    if ('refused' in target) return fail(target.refused);
    d.log(`installing ${spec.manifest.name} (${spec.manifest.raw.size} bytes) to ${target.path}`);
    let written: WriteResult;
    try {
      written = await (disks.writeImage ?? writeImage)({
        spec, targetPath: target.path, fetch: disks.fetch, log: d.log,
        onProgress: (p) => post(p.phase, p),
        ...(disks.beforeVerify ? { beforeVerify: () => disks.beforeVerify!(target.path) } : {}),
      });
    } catch (e) {
      return fail((e as Error).message);
    }
    d.log(`${target.path}: written and verified, sha256 ${written.rawSha256} (${written.requests} requests, ${written.resumes} resumed)`);
    let files: StagedFile[] = [];
    for (let attempt = 0; ; attempt++) {
      try { files = await d.client.files(spec.id); break; } catch (e) {
        if (attempt + 1 >= FILES_ATTEMPTS || (e instanceof ApplianceError && !e.retryable)) {
          return fail(`the image was written and verified, but the files to stage could not be fetched: ${(e as Error).message}`);
        }
        await d.sleep(backoffMs(attempt, d.random));
      }
    }
    post('staging', { bytesDone: 0, bytesTotal: files.length, rateBps: 0, message: `staging ${files.length} files` });
    try {
      await disks.stage({ disk: target.path, manifest: spec.manifest, files, log: d.log });
    } catch (e) {
      return fail(`the image was written and verified, but staging files failed: ${(e as Error).message}`);
    }
    post('staging', { bytesDone: files.length, bytesTotal: files.length, rateBps: 0 });
    return { ...base, ok: true, rawSha256: written.rawSha256, bytesWritten: written.bytesWritten };
  }

  async function wipe(spec: WipeSpec, resolve: (ref: InstallSpec['target']) => ReturnType<typeof resolveTarget>, post: (phase: ProgressPhase, p: { bytesDone: number; bytesTotal: number; rateBps: number; message?: string }) => void,
    base: Omit<TaskResult, 'ok'>, fail: (reason: string) => TaskResult): Promise<TaskResult> {
    try {
      const r = await (d.disks!.wipe ?? wipeDisks)({ spec, resolve: async (ref) => resolve(ref), onProgress: (p) => post('wiping', p), log: d.log });
      d.log(`wiped ${r.disks.map((x) => `${x.name} (${x.bytesZeroed} bytes zeroed)`).join(', ')}`);
      return { ...base, ok: true, bytesWritten: r.bytesZeroed };
    } catch (e) {
      return fail((e as Error).message);
    }
  }
}

function clampS(v: unknown, fallback: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 1 && v <= 3600 ? v : fallback;
}
