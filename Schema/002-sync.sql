-- emreg clinic registry, schema version 2 (SQLite): sync progress, beside the change log.

-- push_cursor: the last change_log seq the hub has answered for; pull_cursor: the last hub
-- seq applied here; last_push_at, last_pull_at: ISO 8601 stamps.
CREATE TABLE sync_state (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- A batch frozen for sending: until answered it is retried with the same id and the same
-- changes (the change_log rows first_seq ... last_seq), so a retry is never a new batch.
CREATE TABLE sync_batches (
    batch_id TEXT PRIMARY KEY NOT NULL,
    first_seq INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    changes INTEGER NOT NULL,
    frozen_at TEXT NOT NULL,
    answered_at TEXT
) WITHOUT ROWID;

-- What the hub answered for each pushed change: every change is accounted exactly once.
CREATE TABLE sync_outcomes (
    change_id TEXT PRIMARY KEY NOT NULL,
    -- Comparisons, not IN (see change_log.op in 001-registry.sql).
    status TEXT NOT NULL CHECK (status = 'accepted' OR status = 'conflict' OR status = 'rejected'),
    hub_seq INTEGER,
    reason TEXT
) WITHOUT ROWID;

-- Conflicts as the hub recorded them; values are canonical JSON (null, an integer or a string).
CREATE TABLE conflicts (
    id TEXT PRIMARY KEY NOT NULL,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    field TEXT NOT NULL,
    base_value TEXT NOT NULL,
    local_value TEXT NOT NULL,
    remote_value TEXT NOT NULL,
    local_clinic TEXT NOT NULL,
    change_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    resolved_value TEXT,
    hub_seq INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX conflicts_row ON conflicts (row_id);
