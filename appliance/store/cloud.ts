// The cloud link's tables: bootstrap tokens (the pool), enrollment per machine, the outbox of
// work that must reach the cluster, and the offline cache. Written with the store's connection;
// every multi-row change is one transaction so a crash never leaves a token half-handed-out.
import type { Store } from './store.ts';

export type TokenState = 'minting' | 'pooled' | 'released' | 'revoking' | 'revoked';

export interface BootstrapTokenRow {
  id: string;
  sealed: string;
  state: TokenState;
  machineId: string | null;
  createdAt: number;
  expiresAt: number;
  releasedAt: number | null;
  revokedAt: number | null;
}

interface TokenRow {
  id: string; sealed: string; state: TokenState; machine_id: string | null; created_at: number; expires_at: number;
  released_at: number | null; revoked_at: number | null;
}

const toToken = (r: TokenRow): BootstrapTokenRow => ({
  id: r.id, sealed: r.sealed, state: r.state, machineId: r.machine_id, createdAt: r.created_at, expiresAt: r.expires_at,
  releasedAt: r.released_at, revokedAt: r.revoked_at,
});

export function insertBootstrapToken(store: Store, t: { id: string; sealed: string; machineId: string | null; expiresAt: number }, at: number): void {
  store.db.prepare(`INSERT INTO bootstrap_tokens (id, sealed, state, machine_id, created_at, expires_at) VALUES (?, ?, 'minting', ?, ?, ?)`)
    .run(t.id, t.sealed, t.machineId, at, t.expiresAt);
}

export function getBootstrapToken(store: Store, id: string): BootstrapTokenRow | undefined {
  const r = store.db.prepare('SELECT * FROM bootstrap_tokens WHERE id = ?').get(id) as TokenRow | undefined;
  return r && toToken(r);
}

export function listBootstrapTokens(store: Store, q: { state?: TokenState; machineId?: string } = {}): BootstrapTokenRow[] {
  return (store.db.prepare(`SELECT * FROM bootstrap_tokens WHERE (@state IS NULL OR state = @state) AND (@machine IS NULL OR machine_id = @machine) ORDER BY created_at, id`)
    .all({ state: q.state ?? null, machine: q.machineId ?? null }) as TokenRow[]).map(toToken);
}

/** A minting token whose Secret the cluster confirmed: into the pool, or to its machine. */
export function confirmMinted(store: Store, id: string, at: number): BootstrapTokenRow | undefined {
  return store.transaction(() => {
    const t = getBootstrapToken(store, id);
    if (!t || t.state !== 'minting') return t;
    if (t.machineId) {
      store.db.prepare(`UPDATE bootstrap_tokens SET state = 'released', released_at = ? WHERE id = ?`).run(at, id);
    } else {
      store.db.prepare(`UPDATE bootstrap_tokens SET state = 'pooled' WHERE id = ?`).run(id);
    }
    return getBootstrapToken(store, id);
  });
}

/** An on-demand mint that could not be confirmed: the row joins the pool, whose filler finishes it. */
export function unassignMinting(store: Store, id: string): void {
  store.db.prepare(`UPDATE bootstrap_tokens SET machine_id = NULL WHERE id = ? AND state = 'minting'`).run(id);
}

/** Tokens the pool counts against its size: confirmed and in-flight, unassigned. */
export function poolCounts(store: Store, usableAfter: number): { pooled: number; minting: number; usable: number; earliestExpiry: number | null } {
  const r = store.db.prepare(`SELECT
      sum(state = 'pooled') AS pooled, sum(state = 'minting') AS minting,
      sum(state = 'pooled' AND expires_at > @after) AS usable,
      min(CASE WHEN state = 'pooled' THEN expires_at END) AS earliest
    FROM bootstrap_tokens WHERE machine_id IS NULL AND state IN ('pooled', 'minting')`).get({ after: usableAfter }) as
    { pooled: number | null; minting: number | null; usable: number | null; earliest: number | null };
  return { pooled: r.pooled ?? 0, minting: r.minting ?? 0, usable: r.usable ?? 0, earliestExpiry: r.earliest };
}

/**
 * Hands one pooled token to a machine, consumed once: the UPDATE only wins while the row is still
 * pooled, inside one IMMEDIATE transaction, so two callers (or two processes) never get the same
 * one. The machine's earlier released tokens are queued for revocation in the same transaction:
 * one live join credential per machine. Picks the token that lives longest (the pool matters
 * when the link is down, and then the window until the kubelet can use it is what counts).
 */
export function takePooledToken(store: Store, machineId: string, usableAfter: number, at: number): BootstrapTokenRow | null {
  return store.transaction(() => {
    const r = store.db.prepare(`SELECT * FROM bootstrap_tokens WHERE state = 'pooled' AND machine_id IS NULL AND expires_at > ?
      ORDER BY expires_at DESC, id LIMIT 1`).get(usableAfter) as TokenRow | undefined;
    if (!r) return null;
    revokeMachineTokens(store, machineId, 'superseded by a newer join token', at);
    const won = store.db.prepare(`UPDATE bootstrap_tokens SET state = 'released', machine_id = ?, released_at = ? WHERE id = ? AND state = 'pooled'`)
      .run(machineId, at, r.id).changes === 1;
    return won ? getBootstrapToken(store, r.id)! : null;
  });
}

/** Queues the revocation (Secret delete) of one token; a no-op for tokens already on their way out. */
export function revokeToken(store: Store, id: string, why: string, at: number): boolean {
  return store.transaction(() => {
    const r = store.db.prepare(`UPDATE bootstrap_tokens SET state = 'revoking' WHERE id = ? AND state IN ('minting', 'pooled', 'released')`).run(id);
    if (r.changes === 0) return false;
    const t = getBootstrapToken(store, id)!;
    enqueueOutbox(store, { key: `revoke-token:${id}`, kind: 'revoke-token', machineId: t.machineId, payload: { tokenId: id, why } }, at);
    return true;
  });
}

/** Revokes every live token released to a machine (its Node registered, or it got a newer one). */
export function revokeMachineTokens(store: Store, machineId: string, why: string, at: number, except?: string): number {
  return store.transaction(() => {
    const ids = (store.db.prepare(`SELECT id FROM bootstrap_tokens WHERE machine_id = ? AND state = 'released' AND id != ?`)
      .all(machineId, except ?? '') as Array<{ id: string }>).map((r) => r.id);
    for (const id of ids) revokeToken(store, id, why, at);
    return ids.length;
  });
}

export function markTokenRevoked(store: Store, id: string, at: number): void {
  store.db.prepare(`UPDATE bootstrap_tokens SET state = 'revoked', revoked_at = ? WHERE id = ? AND state != 'revoked'`).run(at, id);
}

/** Pooled tokens with too little life left, and released ones that expired unused. */
export function staleTokens(store: Store, pooledBefore: number, at: number): BootstrapTokenRow[] {
  return (store.db.prepare(`SELECT * FROM bootstrap_tokens WHERE (state = 'pooled' AND expires_at <= ?) OR (state = 'released' AND expires_at <= ?)
    OR (state = 'minting' AND expires_at <= ?)`).all(pooledBefore, at, at) as TokenRow[]).map(toToken);
}

/** Unconfirmed mints that are nobody's (the pool filler retries their create with the same id). */
export function unconfirmedPoolTokens(store: Store): BootstrapTokenRow[] {
  return (store.db.prepare(`SELECT * FROM bootstrap_tokens WHERE state = 'minting' AND machine_id IS NULL ORDER BY created_at`).all() as TokenRow[]).map(toToken);
}

// --- enrollments ------------------------------------------------------------------------------

export interface Enrollment {
  machineId: string;
  nodeName: string;
  tokenId: string | null;
  releasedAt: number | null;
  deferredAt: number | null;
  installedAt: number | null;
  enrolledAt: number | null;
}

interface EnrollmentRow {
  machine_id: string; node_name: string; token_id: string | null; released_at: number | null; deferred_at: number | null;
  installed_at: number | null; enrolled_at: number | null;
}

const toEnrollment = (r: EnrollmentRow): Enrollment => ({
  machineId: r.machine_id, nodeName: r.node_name, tokenId: r.token_id, releasedAt: r.released_at, deferredAt: r.deferred_at,
  installedAt: r.installed_at, enrolledAt: r.enrolled_at,
});

export function getEnrollment(store: Store, machineId: string): Enrollment | undefined {
  const r = store.db.prepare('SELECT * FROM enrollments WHERE machine_id = ?').get(machineId) as EnrollmentRow | undefined;
  return r && toEnrollment(r);
}

/** Join files handed out: a new install starts its enrollment afresh. */
export function recordJoinReleased(store: Store, machineId: string, nodeName: string, tokenId: string, at: number): void {
  store.db.prepare(`INSERT INTO enrollments (machine_id, node_name, token_id, released_at, deferred_at, installed_at, enrolled_at, updated_at)
    VALUES (@m, @n, @t, @at, NULL, NULL, NULL, @at)
    ON CONFLICT (machine_id) DO UPDATE SET node_name = @n, token_id = @t, released_at = @at, deferred_at = NULL, installed_at = NULL,
      enrolled_at = NULL, updated_at = @at`).run({ m: machineId, n: nodeName, t: tokenId, at });
}

/** Join files were asked for but none could be had (link down, pool empty). */
export function recordJoinDeferred(store: Store, machineId: string, nodeName: string, at: number): void {
  store.db.prepare(`INSERT INTO enrollments (machine_id, node_name, token_id, released_at, deferred_at, installed_at, enrolled_at, updated_at)
    VALUES (@m, @n, NULL, NULL, @at, NULL, NULL, @at)
    ON CONFLICT (machine_id) DO UPDATE SET node_name = @n, token_id = NULL, released_at = NULL, deferred_at = @at, installed_at = NULL,
      enrolled_at = NULL, updated_at = @at`).run({ m: machineId, n: nodeName, at });
}

export function recordInstalled(store: Store, machineId: string, at: number): Enrollment | undefined {
  store.db.prepare('UPDATE enrollments SET installed_at = coalesce(installed_at, @at), updated_at = @at WHERE machine_id = @m').run({ m: machineId, at });
  return getEnrollment(store, machineId);
}

export function recordEnrolled(store: Store, machineId: string, at: number): void {
  store.db.prepare('UPDATE enrollments SET enrolled_at = coalesce(enrolled_at, @at), updated_at = @at WHERE machine_id = @m').run({ m: machineId, at });
}

/** Machines the verifier looks at, with their enrollment (if Tether released join files to them). */
export function machinesToVerify(store: Store, states: readonly string[]): Array<{ machineId: string; state: string; stateReason: string | null; enrollment: Enrollment | null }> {
  const rows = store.db.prepare(`SELECT m.id, m.state, m.state_reason, e.* FROM machines m LEFT JOIN enrollments e ON e.machine_id = m.id
    WHERE m.state IN (SELECT value FROM json_each(?)) ORDER BY m.id`).all(JSON.stringify(states)) as Array<EnrollmentRow & { id: string; state: string; state_reason: string | null }>;
  return rows.map((r) => ({ machineId: r.id, state: r.state, stateReason: r.state_reason, enrollment: r.machine_id ? toEnrollment(r) : null }));
}

/**
 * Sets why a machine is where it is without moving it, with an event — only when the words
 * change, so a verifier that looks every few seconds writes one event per distinct problem.
 */
export function setStateReason(store: Store, machineId: string, state: string, reason: string, at: number, data?: Record<string, unknown>): boolean {
  return store.transaction(() => {
    const r = store.db.prepare(`UPDATE machines SET state_reason = ?, updated_at = ? WHERE id = ? AND state = ? AND coalesce(state_reason, '') != ?`)
      .run(reason, at, machineId, state, reason);
    if (r.changes === 0) return false;
    store.appendEvent({ machineId, kind: 'enrollment', actor: 'cloud', reason, data: data ?? null });
    return true;
  });
}

// --- outbox -----------------------------------------------------------------------------------

export interface OutboxItem {
  id: number;
  key: string;
  kind: string;
  machineId: string | null;
  payload: Record<string, unknown>;
  attempts: number;
  nextAt: number;
  lastError: string | null;
  createdAt: number;
}

interface OutboxRow {
  id: number; key: string; kind: string; machine_id: string | null; payload: string; attempts: number; next_at: number; last_error: string | null; created_at: number;
}

const toOutbox = (r: OutboxRow): OutboxItem => ({
  id: r.id, key: r.key, kind: r.kind, machineId: r.machine_id, payload: JSON.parse(r.payload) as Record<string, unknown>,
  attempts: r.attempts, nextAt: r.next_at, lastError: r.last_error, createdAt: r.created_at,
});

/** Queues work once per key: queuing the same revocation or patch again changes nothing. */
export function enqueueOutbox(store: Store, o: { key: string; kind: string; machineId?: string | null; payload: Record<string, unknown> }, at: number): boolean {
  return store.db.prepare(`INSERT INTO cloud_outbox (key, kind, machine_id, payload, next_at, created_at) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (key) DO NOTHING`).run(o.key, o.kind, o.machineId ?? null, JSON.stringify(o.payload), at, at).changes === 1;
}

/** Oldest first: a token's description patch runs before its revocation. */
export function dueOutbox(store: Store, at: number, limit = 100): OutboxItem[] {
  return (store.db.prepare('SELECT * FROM cloud_outbox WHERE next_at <= ? ORDER BY id LIMIT ?').all(at, limit) as OutboxRow[]).map(toOutbox);
}

export function hasOutboxKey(store: Store, key: string): boolean {
  return store.db.prepare('SELECT 1 FROM cloud_outbox WHERE key = ?').get(key) !== undefined;
}

export function completeOutbox(store: Store, id: number): void {
  store.db.prepare('DELETE FROM cloud_outbox WHERE id = ?').run(id);
}

export function retryOutbox(store: Store, id: number, error: string, nextAt: number): void {
  store.db.prepare('UPDATE cloud_outbox SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE id = ?').run(error, nextAt, id);
}

export function outboxStats(store: Store): { length: number; oldestAt: number | null; lastError: string | null } {
  const r = store.db.prepare('SELECT count(*) AS n, min(created_at) AS oldest FROM cloud_outbox').get() as { n: number; oldest: number | null };
  const e = store.db.prepare('SELECT last_error FROM cloud_outbox WHERE last_error IS NOT NULL ORDER BY id LIMIT 1').get() as { last_error: string } | undefined;
  return { length: r.n, oldestAt: r.oldest, lastError: e?.last_error ?? null };
}

// --- cache ------------------------------------------------------------------------------------

export function getCloudCache(store: Store, key: string): { value: string; updatedAt: number } | undefined {
  const r = store.db.prepare('SELECT value, updated_at FROM cloud_cache WHERE key = ?').get(key) as { value: string; updated_at: number } | undefined;
  return r && { value: r.value, updatedAt: r.updated_at };
}

export function putCloudCache(store: Store, key: string, value: string, at: number): void {
  store.db.prepare(`INSERT INTO cloud_cache (key, value, updated_at) VALUES (?, ?, ?)
    ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`).run(key, value, at);
}

