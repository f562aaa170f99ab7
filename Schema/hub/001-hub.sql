-- emreg hub, schema version 1 (SQLite).
-- Embedded in Sources/RegistryHub/HubSchemaSQL.swift by scripts/gen-schema;
-- RegistryHubTests/HubSchemaTests proves the embedded copy is current and that a new hub
-- database has exactly this schema. No table holds a patient identifier: they never leave
-- the clinics.

-- Clinics allowed to sync. Only the SHA-256 of a clinic's bearer token is kept; the token
-- is shown once, when it is issued.
CREATE TABLE hub_clinics (
    code TEXT PRIMARY KEY NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
) WITHOUT ROWID;

-- The current state of every synced record: each field's revision and value as canonical
-- JSON {"field":[revision,value]} (text, integer or null values). One row per record, so a
-- batch costs one write per record it touches. A field never set is null at revision 0.
CREATE TABLE hub_records (
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    -- The clinic that inserted the record.
    origin TEXT NOT NULL,
    -- 1 once deletedAt holds a stamp.
    deleted INTEGER NOT NULL CHECK (deleted IN (0, 1)),
    fields TEXT NOT NULL,
    PRIMARY KEY (table_name, row_id)
) WITHOUT ROWID;

-- The feed every clinic pulls, in hub commit order: seq is gap-free (assigned as MAX + 1
-- inside the single writer's transaction) and each entry is stored as the canonical JSON
-- of the protocol's FeedEntry, served verbatim.
CREATE TABLE hub_feed (
    seq INTEGER PRIMARY KEY,
    -- Comparisons, not IN: SQLite 3.40 builds a temporary B-tree on every insert for an IN list
    -- of three or more values.
    kind TEXT NOT NULL CHECK (kind = 'change' OR kind = 'conflict' OR kind = 'resolution'),
    entry TEXT NOT NULL
);

CREATE TRIGGER hub_feed_no_update BEFORE UPDATE ON hub_feed
BEGIN
    SELECT RAISE(ABORT, 'the hub feed is append-only');
END;

CREATE TRIGGER hub_feed_no_delete BEFORE DELETE ON hub_feed
BEGIN
    SELECT RAISE(ABORT, 'the hub feed is append-only');
END;

-- Conflicts raised by stale edits and racing deletes; `conflict` is the protocol's
-- WireConflict as canonical JSON in its current state.
CREATE TABLE hub_conflicts (
    id TEXT PRIMARY KEY NOT NULL,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    field TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    raised_seq INTEGER NOT NULL REFERENCES hub_feed (seq),
    resolved_seq INTEGER REFERENCES hub_feed (seq),
    conflict TEXT NOT NULL
) WITHOUT ROWID;

CREATE INDEX hub_conflicts_open ON hub_conflicts (table_name, row_id) WHERE status = 'open';

-- Every batch applied, with the SHA-256 of its (inflated) body and the receipt given (its
-- canonical JSON, gzip-compressed), so a retry gets the same bytes back and a reused id with
-- another body is refused.
CREATE TABLE hub_batches (
    id INTEGER PRIMARY KEY,
    batch_id TEXT NOT NULL UNIQUE,
    clinic TEXT NOT NULL REFERENCES hub_clinics (code),
    body_sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    change_count INTEGER NOT NULL,
    receipt_gzip BLOB NOT NULL
);

CREATE INDEX hub_batches_clinic ON hub_batches (clinic, received_at);

-- Every change id answered, so that a change pushed again (in any batch) gets the same
-- answer instead of a second application. The answer itself is the result at `position`
-- in the receipt of batch `batch` (hub_batches.id): stored once, compressed. (No foreign key:
-- the batch row is written in the same transaction, and the check would cost a lookup per
-- change.)
CREATE TABLE hub_changes (
    change_id TEXT PRIMARY KEY NOT NULL,
    clinic TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status = 'accepted' OR status = 'conflict' OR status = 'rejected'),
    batch INTEGER NOT NULL,
    position INTEGER NOT NULL
) WITHOUT ROWID;
