// The agent's side of the HTTP protocol: report, heartbeat, task, and for install/wipe tasks
// progress, result and the files to stage; bearer boot token, a timeout on each, and errors that say
// whether trying again can help (the appliance being down or busy) or not (the appliance refused
// this report or this token).
import { AGENT_PATHS, PROTOCOL_VERSION, readTaskAnswer, type FilesAnswer, type Heartbeat, type HeartbeatAnswer, type Progress, type Report, type ReportAnswer, type StagedFile, type TaskAnswer, type TaskResult } from './protocol.ts';
import type { AgentConfig } from './cmdline.ts';

export type Fetch = (url: string, init: { method: string; headers: Record<string, string>; body?: string; signal?: AbortSignal }) => Promise<Response>;

/** An answer other than 2xx; `code` is the appliance's stable error code when it sent one. */
export class ApplianceError extends Error {
  readonly status: number;
  readonly code: string | null;
  constructor(status: number, code: string | null, message: string) {
    super(`appliance answered ${status}${code ? ` ${code}` : ''}: ${message}`);
    this.name = 'ApplianceError';
    this.status = status;
    this.code = code;
  }
  /** 5xx, 408, 429: the appliance may answer differently later. 4xx otherwise: it will not. */
  get retryable(): boolean { return this.status >= 500 || this.status === 408 || this.status === 429; }
}

export interface ApplianceClient {
  report(r: Report): Promise<ReportAnswer>;
  heartbeat(h: Heartbeat): Promise<HeartbeatAnswer>;
  task(): Promise<TaskAnswer>;
  progress(p: Progress): Promise<void>;
  result(r: TaskResult): Promise<void>;
  /** The files to stage on the disk written by install `taskId`. */
  files(taskId: string): Promise<StagedFile[]>;
}

/** Reads a files answer defensively: the shapes the stager relies on, or an error saying what is wrong. */
export function readFilesAnswer(x: unknown): StagedFile[] {
  const o = x as Partial<FilesAnswer> | null;
  if (typeof o !== 'object' || o === null || o.version !== PROTOCOL_VERSION || !Array.isArray(o.files)) throw new Error('the files answer is malformed');
  for (const f of o.files as unknown[]) {
    const g = f as Partial<StagedFile> | null;
    if (typeof g !== 'object' || g === null || typeof g.path !== 'string' || typeof g.mode !== 'number' || typeof g.contentBase64 !== 'string') throw new Error('the files answer has a malformed file entry');
  }
  return o.files;
}

/** How an agent shows its boot token, on every call and on the console channel (shell/channel.ts). */
export const bootTokenHeader = (cfg: Pick<AgentConfig, 'token'>): { authorization: string } => ({ authorization: `Bearer ${cfg.token}` });

export function applianceClient(cfg: AgentConfig, o: { fetch?: Fetch; timeoutMs?: number } = {}): ApplianceClient {
  const doFetch: Fetch = o.fetch ?? ((url, init) => fetch(url, init));
  const timeoutMs = o.timeoutMs ?? 15_000;
  async function call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    const headers: Record<string, string> = { ...bootTokenHeader(cfg), accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await doFetch(`${cfg.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let json: unknown = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON: reported below */ }
    if (!res.ok) {
      const e = (json ?? {}) as { error?: unknown; message?: unknown };
      throw new ApplianceError(res.status, typeof e.error === 'string' ? e.error : null, typeof e.message === 'string' ? e.message : text.slice(0, 200));
    }
    return json;
  }
  const mac = encodeURIComponent(cfg.mac);
  return {
    report: async (r) => call('POST', AGENT_PATHS.report, r) as Promise<ReportAnswer>,
    heartbeat: async (h) => call('POST', AGENT_PATHS.heartbeat, h) as Promise<HeartbeatAnswer>,
    task: async () => readTaskAnswer(await call('GET', `${AGENT_PATHS.task}?mac=${mac}`)),
    progress: async (p) => { await call('POST', AGENT_PATHS.progress, p); },
    result: async (r) => { await call('POST', AGENT_PATHS.result, r); },
    files: async (taskId) => readFilesAnswer(await call('GET', `${AGENT_PATHS.files}?mac=${mac}&taskId=${encodeURIComponent(taskId)}`)),
  };
}

/** Exponential backoff with jitter: ~1, 2, 4 … s capped at 30 s, each between half and all of it. */
export function backoffMs(attempt: number, random: () => number = Math.random, baseMs = 1000, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export const heartbeatOf = (cfg: AgentConfig, phase: Heartbeat['phase'], uptimeS: number, message?: string): Heartbeat => ({
  version: PROTOCOL_VERSION, mac: cfg.mac, phase, uptimeS: Math.max(0, Math.round(uptimeS)), ...(message ? { message: message.slice(0, 1024) } : {}),
});
