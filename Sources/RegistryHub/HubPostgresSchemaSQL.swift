// Generated from Schema/hub/postgres/ by scripts/gen-schema. Do not edit by hand:
// edit the SQL and run scripts/gen-schema.

/// The hub schema on PostgreSQL, one entry per migration, in order.
enum HubPostgresSchemaSQL {
    static let migrations: [(name: String, sql: String)] = [
        ("001-hub", #"""
-- emreg hub, schema version 1 (PostgreSQL): the same tables as Schema/hub/001-hub.sql, for
-- `emreg hub serve --postgres URL`. Embedded in Sources/RegistryHub/HubPostgresSchemaSQL.swift
-- by scripts/gen-schema and applied by PostgresHubStore when it opens (once, under an
-- advisory lock, recorded in hub_schema_migrations). No table holds a patient identifier.

-- Clinics allowed to sync. Only the SHA-256 of a clinic's bearer token is kept.
CREATE TABLE hub_clinics (
    code TEXT PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);

-- The current state of every synced record: each field's revision and value as canonical
-- JSON {"field":[revision,value]}, kept as text so it reads back byte for byte.
CREATE TABLE hub_records (
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    -- The clinic that inserted the record.
    origin TEXT NOT NULL,
    -- True once deletedAt holds a stamp.
    deleted BOOLEAN NOT NULL,
    fields TEXT NOT NULL,
    PRIMARY KEY (table_name, row_id)
);

-- The one row every batch locks (SELECT ... FOR UPDATE) before it reads what it touches and
-- numbers its feed entries. Batches therefore apply one at a time and commit in seq order:
-- the feed is gap-free and a pull never sees seq N+1 before N has committed.
CREATE TABLE hub_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    -- The seq of the newest feed entry (0 for an empty feed).
    last_seq BIGINT NOT NULL
);

INSERT INTO hub_counter (id, last_seq) VALUES (1, 0);

-- The feed every clinic pulls, in hub commit order; each entry is the canonical JSON of the
-- protocol's FeedEntry, served verbatim.
CREATE TABLE hub_feed (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('change', 'conflict', 'resolution')),
    entry TEXT NOT NULL
);

CREATE FUNCTION hub_feed_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the hub feed is append-only';
END;
$$;

CREATE TRIGGER hub_feed_no_change BEFORE UPDATE OR DELETE ON hub_feed
    FOR EACH ROW EXECUTE FUNCTION hub_feed_append_only();

CREATE TRIGGER hub_feed_no_truncate BEFORE TRUNCATE ON hub_feed
    FOR EACH STATEMENT EXECUTE FUNCTION hub_feed_append_only();

-- Conflicts raised by stale edits and racing deletes; `conflict` is the protocol's
-- WireConflict as canonical JSON in its current state.
CREATE TABLE hub_conflicts (
    id TEXT PRIMARY KEY,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    field TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
    raised_seq BIGINT NOT NULL REFERENCES hub_feed (seq),
    resolved_seq BIGINT REFERENCES hub_feed (seq),
    conflict TEXT NOT NULL
);

CREATE INDEX hub_conflicts_open ON hub_conflicts (table_name, row_id) WHERE status = 'open';

-- Every batch applied, with the SHA-256 of its (inflated) body and its receipt (canonical
-- JSON, gzip-compressed), so a retry gets the same bytes back and a reused id with another
-- body is refused.
CREATE TABLE hub_batches (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id TEXT NOT NULL UNIQUE,
    clinic TEXT NOT NULL REFERENCES hub_clinics (code),
    body_sha256 TEXT NOT NULL,
    received_at TEXT NOT NULL,
    change_count INTEGER NOT NULL,
    receipt_gzip BYTEA NOT NULL
);

CREATE INDEX hub_batches_clinic ON hub_batches (clinic, received_at);

-- Every change id answered; the answer itself is the result at `position` in the receipt of
-- batch `batch` (hub_batches.id).
CREATE TABLE hub_changes (
    change_id TEXT PRIMARY KEY,
    clinic TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('accepted', 'conflict', 'rejected')),
    batch BIGINT NOT NULL,
    position INTEGER NOT NULL
);
"""#),
        ("002-feed-numbered-at-write", #"""
-- A batch's feed entries are numbered by the statement that writes them (it moves hub_counter
-- on and takes its row lock, held to the COMMIT sent with it), so no batch holds the counter
-- while the hub works or while a round trip is under way. The hub applies the batch with seqs
-- counted from 0; the receipt is stored so, with the base they count from. Batches written
-- before this migration stored the feed's own seqs: their base is 0.
ALTER TABLE hub_batches ADD COLUMN seq_base BIGINT NOT NULL DEFAULT 0;
"""#),
        ("003-clinic-change-notice", #"""
-- A hub remembers the tokens it verified (one round trip less per request) only while it hears
-- of every change to hub_clinics: any statement that changes the table, `emreg hub clinic
-- revoke` from another process or an operator's own SQL, notifies the channel the hub listens
-- on, and the hub forgets every remembered token when the notice arrives.
CREATE FUNCTION hub_clinics_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('emreg_hub_clinics', '');
    RETURN NULL;
END;
$$;

CREATE TRIGGER hub_clinics_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON hub_clinics
    FOR EACH STATEMENT EXECUTE FUNCTION hub_clinics_changed();
"""#),
        ("004-remembered-records", #"""
-- A hub applies a batch in one round trip when it remembers every record the batch reads (those
-- it last wrote or read itself; the others the batch creates). The remembered records are only a
-- guess: the batch's transaction first locks them and calls this function with how many still
-- hold exactly the remembered values. Any other count fails the transaction as a serialization
-- failure, and the hub applies the batch again the usual way, reading the records.
CREATE FUNCTION hub_expect_unchanged(matched BIGINT, expected INTEGER) RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF matched IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'a record changed since this hub last read it' USING ERRCODE = 'serialization_failure';
    END IF;
END;
$$;
"""#),
    ]
}
