// Numbered schema migrations, applied in order at start inside one transaction each; the applied
// number lives in PRAGMA user_version. Never edit a migration that has shipped: add the next one.

export const migrations: ReadonlyArray<{ n: number; name: string; sql: string }> = [
  {
    n: 1,
    name: 'machines, interfaces, events, inventory, leases, tokens, users, sessions',
    sql: `
      CREATE TABLE machines (
        id            TEXT PRIMARY KEY,
        boot_mac      TEXT NOT NULL UNIQUE,
        smbios_uuid   TEXT,
        serial        TEXT,
        hostname      TEXT,
        zone          TEXT,
        rack          TEXT,
        location      TEXT,              -- JSON: where placement came from (option 82, LLDP)
        state         TEXT NOT NULL,
        state_reason  TEXT,
        created_at    INTEGER NOT NULL,  -- ms since epoch
        updated_at    INTEGER NOT NULL,
        inventoried_at INTEGER
      ) STRICT;
      CREATE INDEX machines_state ON machines(state);
      CREATE INDEX machines_zone_rack ON machines(zone, rack);
      CREATE INDEX machines_identity ON machines(smbios_uuid, serial);

      CREATE TABLE machine_macs (
        mac        TEXT PRIMARY KEY,
        machine_id TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
        ifname     TEXT
      ) STRICT;
      CREATE INDEX machine_macs_machine ON machine_macs(machine_id);

      CREATE TABLE events (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        machine_id  TEXT REFERENCES machines(id) ON DELETE SET NULL,
        kind        TEXT NOT NULL,       -- transition | action | auth | boot | link | ...
        from_state  TEXT,
        to_state    TEXT,
        actor       TEXT NOT NULL,       -- dhcp | tftp | http | agent | operator | rule | cloud | system
        actor_name  TEXT,                -- the user for operator actions
        reason      TEXT,
        data        TEXT,                -- JSON
        at          INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX events_machine ON events(machine_id, id);
      CREATE INDEX events_kind ON events(kind, id);

      CREATE TABLE inventory (
        machine_id  TEXT PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,
        doc         TEXT NOT NULL,       -- JSON inventory document as the agent reported it
        reported_at INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE leases (
        zone        TEXT NOT NULL,
        ip          TEXT NOT NULL,
        mac         TEXT NOT NULL,
        state       TEXT NOT NULL,       -- offered | bound | declined | released
        expires_at  INTEGER NOT NULL,
        updated_at  INTEGER NOT NULL,
        PRIMARY KEY (zone, ip)
      ) STRICT;
      CREATE INDEX leases_mac ON leases(zone, mac);

      CREATE TABLE tokens (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,       -- boot | bootstrap | ...
        machine_id  TEXT REFERENCES machines(id) ON DELETE CASCADE,
        secret_hash TEXT NOT NULL,       -- sha256 of the secret: a leaked database leaks no token
        data        TEXT,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        used_at     INTEGER
      ) STRICT;
      CREATE INDEX tokens_machine ON tokens(machine_id, kind);

      CREATE TABLE users (
        name          TEXT PRIMARY KEY,
        password_hash TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_at    INTEGER NOT NULL,
        disabled      INTEGER NOT NULL DEFAULT 0
      ) STRICT;

      CREATE TABLE sessions (
        id_hash     TEXT PRIMARY KEY,
        user_name   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        csrf        TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL
      ) STRICT;

      CREATE TABLE api_tokens (
        id          TEXT PRIMARY KEY,
        user_name   TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        name        TEXT NOT NULL,
        role        TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        secret_hash TEXT NOT NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER,
        last_used_at INTEGER
      ) STRICT;
    `,
  },
  {
    n: 2,
    name: 'disk tasks (install, wipe) with their progress and outcome',
    sql: `
      CREATE TABLE disk_tasks (
        id           TEXT PRIMARY KEY,
        machine_id   TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
        kind         TEXT NOT NULL CHECK (kind IN ('install', 'wipe')),
        -- pending: handed to no agent yet | running: an agent took it | written: image on disk and
        -- verified, waiting for the first boot from disk | done | failed | cancelled
        status       TEXT NOT NULL CHECK (status IN ('pending', 'running', 'written', 'done', 'failed', 'cancelled')),
        image        TEXT,               -- catalog name (install)
        spec         TEXT NOT NULL,      -- JSON: target disk(s), options; what the agent was told
        phase        TEXT,               -- last progress phase
        bytes_done   INTEGER NOT NULL DEFAULT 0,
        bytes_total  INTEGER NOT NULL DEFAULT 0,
        rate_bps     REAL NOT NULL DEFAULT 0,
        reason       TEXT,               -- why it failed
        files_at     INTEGER,            -- when the per-machine files (join credentials) were released: once
        created_at   INTEGER NOT NULL,
        updated_at   INTEGER NOT NULL,
        finished_at  INTEGER
      ) STRICT;
      CREATE INDEX disk_tasks_machine ON disk_tasks(machine_id, created_at);
      -- At most one unfinished disk task per machine.
      CREATE UNIQUE INDEX disk_tasks_open ON disk_tasks(machine_id) WHERE status IN ('pending', 'running', 'written');
    `,
  },
  {
    n: 3,
    name: 'cloud link: bootstrap tokens (pool), enrollment per machine, outbox, cache',
    sql: `
      -- One row per bootstrap token Secret Tether minted. The token secret is sealed with
      -- AES-256-GCM under a key file in the data dir: the database alone yields no credential.
      CREATE TABLE bootstrap_tokens (
        id          TEXT PRIMARY KEY,    -- token-id: the Secret is bootstrap-token-<id>
        sealed      TEXT NOT NULL,       -- token-secret, sealed
        -- minting: Secret create sent, not confirmed | pooled: in the cluster, unassigned |
        -- released: handed to machine_id | revoking: Secret delete queued | revoked: gone
        state       TEXT NOT NULL CHECK (state IN ('minting', 'pooled', 'released', 'revoking', 'revoked')),
        machine_id  TEXT REFERENCES machines(id) ON DELETE SET NULL,
        created_at  INTEGER NOT NULL,
        expires_at  INTEGER NOT NULL,
        released_at INTEGER,
        revoked_at  INTEGER
      ) STRICT;
      CREATE INDEX bootstrap_tokens_state ON bootstrap_tokens(state, expires_at);
      CREATE INDEX bootstrap_tokens_machine ON bootstrap_tokens(machine_id);

      -- Where each machine is in joining the cluster, as the cloud link sees it.
      CREATE TABLE enrollments (
        machine_id   TEXT PRIMARY KEY REFERENCES machines(id) ON DELETE CASCADE,
        node_name    TEXT NOT NULL,
        token_id     TEXT,               -- the bootstrap token in its join files
        released_at  INTEGER,            -- join files handed out
        deferred_at  INTEGER,            -- asked for join files while none could be had
        installed_at INTEGER,            -- the installed OS phoned home
        enrolled_at  INTEGER,            -- the Node object was first seen
        updated_at   INTEGER NOT NULL
      ) STRICT;

      -- Enrollment work that must reach the cluster (token revocations, label patches), retried
      -- idempotently until it does; the key makes queuing the same work twice a no-op.
      CREATE TABLE cloud_outbox (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        key         TEXT NOT NULL UNIQUE,
        kind        TEXT NOT NULL,
        machine_id  TEXT REFERENCES machines(id) ON DELETE SET NULL,
        payload     TEXT NOT NULL,       -- JSON
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_at     INTEGER NOT NULL,
        last_error  TEXT,
        created_at  INTEGER NOT NULL
      ) STRICT;
      CREATE INDEX cloud_outbox_due ON cloud_outbox(next_at);

      -- What join files need from the cluster, kept for offline use (CA, server, kubelet config).
      CREATE TABLE cloud_cache (
        key         TEXT PRIMARY KEY,
        value       TEXT NOT NULL,
        updated_at  INTEGER NOT NULL
      ) STRICT;
    `,
  },
  {
    n: 4,
    name: 'enrollment checks per machine (Node, Ready, agent, tunnel per replica)',
    sql: `
      -- What the cloud link's latest verification of a machine found, one row per check, replaced
      -- as a whole by each verification so staff never see checks from two different passes.
      CREATE TABLE enrollment_checks (
        machine_id  TEXT NOT NULL REFERENCES machines(id) ON DELETE CASCADE,
        check_id    TEXT NOT NULL,       -- node-registered | node-ready | agent-pod | tunnel-<n>
        position    INTEGER NOT NULL,    -- the order staff read them in
        node_name   TEXT NOT NULL,
        title       TEXT NOT NULL,
        status      TEXT NOT NULL CHECK (status IN ('ok', 'failing', 'pending', 'unknown')),
        detail      TEXT NOT NULL,       -- what was seen
        fix         TEXT,                -- what to do about it
        since       INTEGER NOT NULL,    -- the status has been this since
        checked_at  INTEGER NOT NULL,
        PRIMARY KEY (machine_id, check_id)
      ) STRICT;
    `,
  },
];
