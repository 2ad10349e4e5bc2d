// The UI's only door to the appliance: /api/v1 with the session cookie, and the CSRF token the
// login answered on every state-changing request. Errors keep the API's stable code.
import type { EventRecord, Machine, Role, SiteTile } from '../../store/store.ts';

export type { EventRecord, Machine, Role, SiteTile };
export type { EnrollmentReport, ReportedCheck } from '../../cloud/checks.ts';

export interface Session { user: string; role: Role; csrfToken: string }
export interface Site { site: string; zones: string[]; autoApprove: Record<string, string[]>; counts: Record<string, number>; total: number; cloudLink: CloudLink }

/** The cloud link as the site banner shows it; `status` is null until the first probe decided it. */
export interface CloudLink { configured: boolean; status: 'up' | 'degraded' | 'down' | 'unconfigured' | null; since: number | null; lastError: string | null; queued: number; pooledTokens: number }
export interface MachinePage { items: Machine[]; total: number }
export interface EventPage { items: EventRecord[]; next: number | null }
export interface MachineDetail { machine: Machine; events: EventRecord[] }
export interface User { name: string; role: Role; disabled: boolean; createdAt: number }

export class ApiFailure extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: () => void = () => {};

export function useCsrf(token: string | null): void { csrfToken = token; }
export function csrf(): string | null { return csrfToken; }
/** Called when a request finds the session gone (expired, logged out elsewhere). */
export function whenUnauthorized(fn: () => void): void { onUnauthorized = fn; }

export async function api<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (method !== 'GET' && csrfToken) headers['x-csrf-token'] = csrfToken;
  const r = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
  if (r.status === 204) return undefined as T;
  const json = await r.json().catch(() => null) as { error?: string; message?: string } | null;
  if (!r.ok) {
    if (r.status === 401 && path !== '/session') onUnauthorized();
    throw new ApiFailure(r.status, json?.error ?? 'http_error', json?.message ?? `${r.status} ${r.statusText}`);
  }
  return json as T;
}

/** A query string from the set values only. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/** Every machine matching `params`, page by page (the API returns at most 1000 at a time). */
export async function allMachines(params: Record<string, string | undefined> = {}): Promise<Machine[]> {
  const out: Machine[] = [];
  for (;;) {
    const page = await api<MachinePage>('GET', `/machines${query({ ...params, limit: 1000, offset: out.length })}`);
    out.push(...page.items);
    if (page.items.length === 0 || out.length >= page.total) return out;
  }
}
