// The only module that touches SQL. better-sqlite3 is synchronous, so one process serializes its
// own writes; BEGIN IMMEDIATE + busy_timeout serialize writers across processes (daemon + CLI).
// WAL with synchronous=FULL: a committed transition survives kill -9 and power loss.
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { migrations } from './migrations.ts';

export type Role = 'viewer' | 'operator' | 'admin';
export type Actor = 'dhcp' | 'tftp' | 'http' | 'agent' | 'operator' | 'rule' | 'cloud' | 'system';

export interface Machine {
  id: string;
  bootMac: string;
  smbiosUuid: string | null;
  serial: string | null;
  hostname: string | null;
  zone: string | null;
  rack: string | null;
  location: Record<string, unknown> | null;
  state: string;
  stateReason: string | null;
  createdAt: number;
  updatedAt: number;
  inventoriedAt: number | null;
  macs: string[];
}

export interface EventRecord {
  id: number;
  machineId: string | null;
  kind: string;
  from: string | null;
  to: string | null;
  actor: Actor;
  actorName: string | null;
  reason: string | null;
  data: Record<string, unknown> | null;
  at: number;
}

export interface NewEvent {
  machineId?: string | null;
  kind: string;
  from?: string | null;
  to?: string | null;
  actor: Actor;
  actorName?: string | null;
  reason?: string | null;
  data?: Record<string, unknown> | null;
}

/** What a transition check decided: the new state and why. Throwing instead refuses the change. */
export interface TransitionPlan {
  to: string;
  actor: Actor;
  actorName?: string | null;
  reason?: string | null;
  data?: Record<string, unknown> | null;
}

export interface TokenRecord {
  id: string;
  kind: string;
  machineId: string | null;
  secretHash: string;
  data?: Record<string, unknown> | null;
  expiresAt: number;
}

export interface LeaseRecord {
  zone: string;
  ip: string;
  mac: string;
  state: 'offered' | 'bound' | 'declined' | 'released';
  expiresAt: number;
}

export interface MachineQuery {
  state?: string;
  zone?: string;
  rack?: string;
  q?: string;
  sort?: 'id' | 'state' | 'zone' | 'rack' | 'updatedAt' | 'createdAt' | 'hostname';
  order?: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

export class NotFoundError extends Error {
  constructor(what: string) { super(`${what} not found`); this.name = 'NotFoundError'; }
}

export class ConflictError extends Error {
  constructor(message: string) { super(message); this.name = 'ConflictError'; }
}

interface MachineRow {
  id: string; boot_mac: string; smbios_uuid: string | null; serial: string | null; hostname: string | null;
  zone: string | null; rack: string | null; location: string | null; state: string; state_reason: string | null;
  created_at: number; updated_at: number; inventoried_at: number | null; macs: string | null;
}

interface EventRow {
  id: number; machine_id: string | null; kind: string; from_state: string | null; to_state: string | null;
  actor: Actor; actor_name: string | null; reason: string | null; data: string | null; at: number;
}

const sortColumns: Record<NonNullable<MachineQuery['sort']>, string> = {
  id: 'id', state: 'state', zone: 'zone', rack: 'rack', updatedAt: 'updated_at', createdAt: 'created_at', hostname: 'hostname',
};

const machineSelect = `SELECT m.*, (SELECT group_concat(mac, ',') FROM machine_macs WHERE machine_id = m.id) AS macs FROM machines m`;

/** A machine as a site-view tile: where it sits and its state, nothing else. */
export interface SiteTile {
  id: string; hostname: string | null; bootMac: string; state: string; stateReason: string | null;
  zone: string | null; rack: string | null;
  /** Position in the rack (location.slot, .unit or .u) when the placement gives a number. */
  slot: number | null;
}

export function normalizeMac(mac: string): string {
  const hex = mac.toLowerCase().replace(/[^0-9a-f]/g, '');
  if (hex.length !== 12) throw new RangeError(`not a MAC address: ${mac}`);
  return hex.match(/../g)!.join(':');
}

export class Store {
  readonly db: Database.Database;
  private readonly now: () => number;

  private constructor(db: Database.Database, now: () => number) {
    this.db = db;
    this.now = now;
  }

  static open(path: string, o: { now?: () => number } = {}): Store {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    const store = new Store(db, o.now ?? Date.now);
    store.migrate();
    return store;
  }

  close(): void { this.db.close(); }

  private readonly statements = new Map<string, Database.Statement>();

  /** Prepared once per SQL text: hot paths (DHCP leases, boot events) skip re-parsing. */
  private sql(text: string): Database.Statement {
    let st = this.statements.get(text);
    if (!st) {
      st = this.db.prepare(text);
      this.statements.set(text, st);
    }
    return st;
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction (nested calls join it): the DHCP server groups the
   * lease writes of a burst of packets into one commit, one fsync, before any ACK leaves.
   */
  transaction<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.db.transaction(fn).immediate();
  }

  /** Applies pending migrations; returns the numbers applied. */
  migrate(): number[] {
    const applied: number[] = [];
    const current = this.schemaVersion();
    const latest = migrations.at(-1)!.n;
    if (current > latest) throw new Error(`database schema ${current} is newer than this Tether (${latest}); refusing to run an older version on it`);
    for (const m of migrations) {
      if (m.n <= current) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.pragma(`user_version = ${m.n}`);
      }).immediate();
      applied.push(m.n);
    }
    return applied;
  }

  schemaVersion(): number { return this.db.pragma('user_version', { simple: true }) as number; }

  // --- machines -------------------------------------------------------------------------------

  getMachine(idOrMac: string): Machine | undefined {
    let row = this.sql(`${machineSelect} WHERE m.id = ?`).get(idOrMac) as MachineRow | undefined;
    if (!row && /^([0-9a-fA-F]{2}[:-]?){5}[0-9a-fA-F]{2}$/.test(idOrMac)) {
      row = this.sql(`${machineSelect} WHERE m.id = (SELECT machine_id FROM machine_macs WHERE mac = ?)`).get(normalizeMac(idOrMac)) as MachineRow | undefined;
    }
    return row && toMachine(row);
  }

  mustGetMachine(idOrMac: string): Machine {
    const m = this.getMachine(idOrMac);
    if (!m) throw new NotFoundError(`machine ${idOrMac}`);
    return m;
  }

  listMachines(q: MachineQuery = {}): { items: Machine[]; total: number } {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.state) { where.push('m.state = @state'); args.state = q.state; }
    if (q.zone) { where.push('m.zone = @zone'); args.zone = q.zone; }
    if (q.rack) { where.push('m.rack = @rack'); args.rack = q.rack; }
    if (q.q) {
      where.push(`(m.id LIKE @q OR m.hostname LIKE @q OR m.serial LIKE @q OR m.smbios_uuid LIKE @q OR m.rack LIKE @q
        OR EXISTS (SELECT 1 FROM machine_macs x WHERE x.machine_id = m.id AND x.mac LIKE @q))`);
      args.q = `%${q.q.toLowerCase().replace(/[%_\\]/g, '\\$&')}%`;
    }
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const col = sortColumns[q.sort ?? 'id'];
    const order = q.order === 'desc' ? 'DESC' : 'ASC';
    const limit = Math.min(Math.max(q.limit ?? 100, 1), 1000);
    const offset = Math.max(q.offset ?? 0, 0);
    const items = (this.sql(`${machineSelect} ${w} ORDER BY m.${col} ${order}, m.id ASC LIMIT ${limit} OFFSET ${offset}`).all(args) as MachineRow[]).map(toMachine);
    const total = (this.sql(`SELECT count(*) AS n FROM machines m ${w}`).get(args) as { n: number }).n;
    return { items, total };
  }

  /**
   * Every machine as the site view draws it: one query, only the columns a tile shows. The site
   * view places all machines at once, and paging 10,000 full machines through the list API
   * (with their MAC lists) took seconds.
   */
  siteTiles(): SiteTile[] {
    const rows = this.sql(`SELECT id, hostname, boot_mac, state, state_reason, zone, rack,
        coalesce(json_extract(location, '$.slot'), json_extract(location, '$.unit'), json_extract(location, '$.u')) AS slot
      FROM machines`).all() as Array<{ id: string; hostname: string | null; boot_mac: string; state: string; state_reason: string | null; zone: string | null; rack: string | null; slot: unknown }>;
    return rows.map((r) => ({
      id: r.id, hostname: r.hostname, bootMac: r.boot_mac, state: r.state, stateReason: r.state_reason, zone: r.zone, rack: r.rack,
      slot: typeof r.slot === 'number' ? r.slot : null,
    }));
  }

  countByState(): Record<string, number> {
    const rows = this.sql('SELECT state, count(*) AS n FROM machines GROUP BY state').all() as Array<{ state: string; n: number }>;
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /**
   * Creates a machine known only by its boot MAC, in `initialState`, with the creation event.
   * A MAC already known is a ConflictError (the caller decides whether that is fine).
   */
  createMachine(o: { bootMac: string; state: string; zone?: string | null; rack?: string | null; hostname?: string | null; actor: Actor; actorName?: string | null; reason?: string | null }): { machine: Machine; event: EventRecord } {
    const mac = normalizeMac(o.bootMac);
    return this.db.transaction(() => {
      if (this.sql('SELECT 1 FROM machine_macs WHERE mac = ?').get(mac)) throw new ConflictError(`a machine with MAC ${mac} already exists`);
      const id = `m-${randomBytes(5).toString('hex')}`;
      const t = this.now();
      this.sql(`INSERT INTO machines (id, boot_mac, hostname, zone, rack, state, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`).run(id, mac, o.hostname ?? null, o.zone ?? null, o.rack ?? null, o.state, t, t);
      this.sql('INSERT INTO machine_macs (mac, machine_id) VALUES (?, ?)').run(mac, id);
      const event = this.insertEvent({ machineId: id, kind: 'transition', from: null, to: o.state, actor: o.actor, actorName: o.actorName, reason: o.reason ?? 'first seen' }, t);
      return { machine: this.mustGetMachine(id), event };
    }).immediate();
  }

  /**
   * The one way a machine changes state: inside one IMMEDIATE transaction, read the machine, let
   * `decide` check the move (it throws to refuse), write the new state and its event together.
   */
  transition(id: string, decide: (m: Machine) => TransitionPlan): { machine: Machine; event: EventRecord } {
    return this.db.transaction(() => {
      const m = this.mustGetMachine(id);
      const plan = decide(m);
      const t = this.now();
      this.sql('UPDATE machines SET state = ?, state_reason = ?, updated_at = ? WHERE id = ?').run(plan.to, plan.reason ?? null, t, m.id);
      const event = this.insertEvent({ machineId: m.id, kind: 'transition', from: m.state, to: plan.to, actor: plan.actor, actorName: plan.actorName, reason: plan.reason, data: plan.data }, t);
      return { machine: { ...m, state: plan.to, stateReason: plan.reason ?? null, updatedAt: t }, event };
    }).immediate();
  }

  /** Updates placement/identity fields that are not lifecycle state. */
  updateMachine(id: string, patch: Partial<Pick<Machine, 'hostname' | 'zone' | 'rack' | 'location' | 'smbiosUuid' | 'serial'>>): Machine {
    const cols: Record<string, string> = { hostname: 'hostname', zone: 'zone', rack: 'rack', location: 'location', smbiosUuid: 'smbios_uuid', serial: 'serial' };
    const sets: string[] = [];
    const args: unknown[] = [];
    for (const [k, v] of Object.entries(patch)) {
      if (!(k in cols) || v === undefined) continue;
      sets.push(`${cols[k]} = ?`);
      args.push(k === 'location' && v !== null ? JSON.stringify(v) : v);
    }
    if (sets.length) {
      const r = this.sql(`UPDATE machines SET ${sets.join(', ')}, updated_at = ? WHERE id = ?`).run(...args, this.now(), id);
      if (r.changes === 0) throw new NotFoundError(`machine ${id}`);
    }
    return this.mustGetMachine(id);
  }

  /** Machines sharing a SMBIOS UUID or serial or any MAC with a report: the candidates identity rules pick from. */
  identityCandidates(o: { uuid?: string | null; serial?: string | null; macs: string[] }): Machine[] {
    const macs = o.macs.map(normalizeMac);
    const rows = this.sql(`${machineSelect} WHERE (@uuid IS NOT NULL AND m.smbios_uuid = @uuid) OR (@serial IS NOT NULL AND m.serial = @serial)
      OR m.id IN (SELECT machine_id FROM machine_macs WHERE mac IN (SELECT value FROM json_each(@macs)))`)
      .all({ uuid: o.uuid ?? null, serial: o.serial ?? null, macs: JSON.stringify(macs) }) as MachineRow[];
    return rows.map(toMachine);
  }

  // --- events ---------------------------------------------------------------------------------

  appendEvent(e: NewEvent): EventRecord {
    return this.insertEvent(e, this.now());
  }

  private insertEvent(e: NewEvent, at: number): EventRecord {
    const r = this.sql(`INSERT INTO events (machine_id, kind, from_state, to_state, actor, actor_name, reason, data, at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(e.machineId ?? null, e.kind, e.from ?? null, e.to ?? null, e.actor, e.actorName ?? null, e.reason ?? null, e.data ? JSON.stringify(e.data) : null, at);
    return { id: Number(r.lastInsertRowid), machineId: e.machineId ?? null, kind: e.kind, from: e.from ?? null, to: e.to ?? null, actor: e.actor, actorName: e.actorName ?? null, reason: e.reason ?? null, data: e.data ?? null, at };
  }

  /**
   * Newest first, paged by `before` (an event id): stable under concurrent inserts. With `after`,
   * oldest first from that id on — what a live feed tails.
   */
  listEvents(q: { machineId?: string; kind?: string; actor?: string; before?: number; after?: number; limit?: number } = {}): EventRecord[] {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.machineId) { where.push('machine_id = @machineId'); args.machineId = q.machineId; }
    if (q.kind) { where.push('kind = @kind'); args.kind = q.kind; }
    if (q.actor) { where.push('actor = @actor'); args.actor = q.actor; }
    if (q.before) { where.push('id < @before'); args.before = q.before; }
    if (q.after !== undefined) { where.push('id > @after'); args.after = q.after; }
    const limit = Math.min(Math.max(q.limit ?? 50, 1), 1001);
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const order = q.after !== undefined ? 'ASC' : 'DESC';
    return (this.sql(`SELECT * FROM events ${w} ORDER BY id ${order} LIMIT ${limit}`).all(args) as EventRow[]).map(toEvent);
  }

  // --- machine credentials (boot tokens, bootstrap tokens) --------------------------------------

  /** Stores a new token; `replace` revokes the machine's earlier tokens of the same kind, used or not. */
  putToken(t: TokenRecord, o: { replace?: boolean } = {}): void {
    this.db.transaction(() => {
      if (o.replace && t.machineId) this.sql('DELETE FROM tokens WHERE machine_id = ? AND kind = ?').run(t.machineId, t.kind);
      this.sql(`INSERT INTO tokens (id, kind, machine_id, secret_hash, data, created_at, expires_at, used_at)
        VALUES (@id, @kind, @machineId, @secretHash, @data, @createdAt, @expiresAt, NULL)`).run({ ...t, data: t.data ? JSON.stringify(t.data) : null, createdAt: this.now() });
    }).immediate();
  }

  /** A live (unexpired) token by id. */
  getToken(id: string): (TokenRecord & { usedAt: number | null }) | undefined {
    const r = this.sql('SELECT * FROM tokens WHERE id = ? AND expires_at > ?').get(id, this.now()) as
      { id: string; kind: string; machine_id: string | null; secret_hash: string; data: string | null; expires_at: number; used_at: number | null } | undefined;
    return r && { id: r.id, kind: r.kind, machineId: r.machine_id, secretHash: r.secret_hash, data: r.data ? JSON.parse(r.data) : null, expiresAt: r.expires_at, usedAt: r.used_at };
  }

  /** Moves a live token's expiry; false when it is unknown or expired already (nothing to renew). */
  extendToken(id: string, expiresAt: number): boolean {
    return this.sql('UPDATE tokens SET expires_at = ? WHERE id = ? AND expires_at > ?').run(expiresAt, id, this.now()).changes === 1;
  }

  /** Marks a token used; false if it was used already (consume-once semantics). */
  useToken(id: string): boolean {
    return this.sql('UPDATE tokens SET used_at = ? WHERE id = ? AND used_at IS NULL').run(this.now(), id).changes === 1;
  }

  // --- DHCP leases ----------------------------------------------------------------------------

  listLeases(zone: string): LeaseRecord[] {
    return (this.sql('SELECT zone, ip, mac, state, expires_at FROM leases WHERE zone = ? ORDER BY ip').all(zone) as Array<{ zone: string; ip: string; mac: string; state: LeaseRecord['state']; expires_at: number }>)
      .map((r) => ({ zone: r.zone, ip: r.ip, mac: r.mac, state: r.state, expiresAt: r.expires_at }));
  }

  /** Upsert by (zone, ip): an address has one lease at a time. */
  putLease(l: LeaseRecord): void {
    this.sql(`INSERT INTO leases (zone, ip, mac, state, expires_at, updated_at) VALUES (@zone, @ip, @mac, @state, @expiresAt, @now)
      ON CONFLICT (zone, ip) DO UPDATE SET mac = excluded.mac, state = excluded.state, expires_at = excluded.expires_at, updated_at = excluded.updated_at`)
      .run({ ...l, now: this.now() });
  }

  deleteLease(zone: string, ip: string): void {
    this.sql('DELETE FROM leases WHERE zone = ? AND ip = ?').run(zone, ip);
  }

  // --- users, sessions, API tokens --------------------------------------------------------------

  countUsers(): number { return (this.sql('SELECT count(*) AS n FROM users').get() as { n: number }).n; }

  createUser(name: string, passwordHash: string, role: Role): void {
    try {
      this.sql('INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)').run(name, passwordHash, role, this.now());
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new ConflictError(`user ${name} already exists`);
      throw e;
    }
  }

  getUser(name: string): { name: string; passwordHash: string; role: Role; disabled: boolean; createdAt: number } | undefined {
    const r = this.sql('SELECT * FROM users WHERE name = ?').get(name) as { name: string; password_hash: string; role: Role; disabled: number; created_at: number } | undefined;
    return r && { name: r.name, passwordHash: r.password_hash, role: r.role, disabled: r.disabled === 1, createdAt: r.created_at };
  }

  listUsers(): Array<{ name: string; role: Role; disabled: boolean; createdAt: number }> {
    return (this.sql('SELECT name, role, disabled, created_at FROM users ORDER BY name').all() as Array<{ name: string; role: Role; disabled: number; created_at: number }>)
      .map((r) => ({ name: r.name, role: r.role, disabled: r.disabled === 1, createdAt: r.created_at }));
  }

  updateUser(name: string, patch: { passwordHash?: string; role?: Role; disabled?: boolean }): void {
    const r = this.sql(`UPDATE users SET password_hash = coalesce(@hash, password_hash), role = coalesce(@role, role),
      disabled = coalesce(@disabled, disabled) WHERE name = @name`)
      .run({ name, hash: patch.passwordHash ?? null, role: patch.role ?? null, disabled: patch.disabled === undefined ? null : Number(patch.disabled) });
    if (r.changes === 0) throw new NotFoundError(`user ${name}`);
    if (patch.passwordHash || patch.disabled) this.sql('DELETE FROM sessions WHERE user_name = ?').run(name);
  }

  createSession(idHash: string, user: string, csrf: string, ttlMs: number): void {
    const t = this.now();
    this.sql('DELETE FROM sessions WHERE expires_at < ?').run(t);
    this.sql('INSERT INTO sessions (id_hash, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)').run(idHash, user, csrf, t, t + ttlMs);
  }

  /** The live session with its user's current role (a role change applies at once). */
  getSession(idHash: string): { user: string; role: Role; csrf: string; expiresAt: number } | undefined {
    const r = this.sql(`SELECT s.user_name, s.csrf, s.expires_at, u.role FROM sessions s JOIN users u ON u.name = s.user_name
      WHERE s.id_hash = ? AND s.expires_at > ? AND u.disabled = 0`).get(idHash, this.now()) as { user_name: string; csrf: string; expires_at: number; role: Role } | undefined;
    return r && { user: r.user_name, role: r.role, csrf: r.csrf, expiresAt: r.expires_at };
  }

  deleteSession(idHash: string): void { this.sql('DELETE FROM sessions WHERE id_hash = ?').run(idHash); }

  createApiToken(o: { id: string; user: string; name: string; role: Role; secretHash: string; expiresAt: number | null }): void {
    this.sql('INSERT INTO api_tokens (id, user_name, name, role, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(o.id, o.user, o.name, o.role, o.secretHash, this.now(), o.expiresAt);
  }

  /** A token's effective role is the lower of its own and its user's current role. */
  getApiToken(id: string): { id: string; user: string; tokenRole: Role; userRole: Role; secretHash: string } | undefined {
    const r = this.sql(`SELECT t.id, t.user_name, t.role, t.secret_hash, u.role AS user_role FROM api_tokens t JOIN users u ON u.name = t.user_name
      WHERE t.id = ? AND (t.expires_at IS NULL OR t.expires_at > ?) AND u.disabled = 0`).get(id, this.now()) as
      { id: string; user_name: string; role: Role; secret_hash: string; user_role: Role } | undefined;
    if (!r) return undefined;
    this.sql('UPDATE api_tokens SET last_used_at = ? WHERE id = ?').run(this.now(), id);
    return { id: r.id, user: r.user_name, tokenRole: r.role, userRole: r.user_role, secretHash: r.secret_hash };
  }
}

function toMachine(r: MachineRow): Machine {
  return {
    id: r.id, bootMac: r.boot_mac, smbiosUuid: r.smbios_uuid, serial: r.serial, hostname: r.hostname, zone: r.zone, rack: r.rack,
    location: r.location ? JSON.parse(r.location) : null, state: r.state, stateReason: r.state_reason,
    createdAt: r.created_at, updatedAt: r.updated_at, inventoriedAt: r.inventoried_at,
    macs: r.macs ? r.macs.split(',').sort() : [],
  };
}

function toEvent(r: EventRow): EventRecord {
  return {
    id: r.id, machineId: r.machine_id, kind: r.kind, from: r.from_state, to: r.to_state, actor: r.actor, actorName: r.actor_name,
    reason: r.reason, data: r.data ? JSON.parse(r.data) : null, at: r.at,
  };
}
