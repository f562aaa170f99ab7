// Generated from Schema/ by scripts/gen-schema. Do not edit by hand:
// edit the SQL and run scripts/gen-schema.

/// The clinic registry schema, one entry per migration, in order.
enum SchemaSQL {
    static let migrations: [(name: String, sql: String)] = [
        ("001-registry", #"""
-- emreg clinic registry, schema version 1 (SQLite).
-- The migration in Sources/RegistryStore/Schema.swift must produce exactly this schema;
-- RegistryStoreTests/SchemaTests proves it.

-- Registry-wide settings: clinic code, registry id, linkage secret.
CREATE TABLE registry_meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Pseudonymous patients: what may leave the clinic.
CREATE TABLE patients (
    id TEXT PRIMARY KEY NOT NULL,
    sex TEXT NOT NULL,
    birth_year INTEGER NOT NULL,
    linkage_key TEXT,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    delete_reason TEXT
) WITHOUT ROWID;

CREATE INDEX patients_linkage_key ON patients (linkage_key);

-- Direct identifiers: local only. Never synced, never exported de-identified, never logged.
CREATE TABLE patient_identities (
    patient_id TEXT PRIMARY KEY NOT NULL REFERENCES patients (id) DEFERRABLE INITIALLY DEFERRED,
    mrn TEXT NOT NULL,
    name TEXT,
    birth_date TEXT,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    delete_reason TEXT
) WITHOUT ROWID;

CREATE UNIQUE INDEX patient_identities_mrn ON patient_identities (mrn) WHERE deleted_at IS NULL;

CREATE TABLE cases (
    id TEXT PRIMARY KEY NOT NULL,
    patient_id TEXT NOT NULL REFERENCES patients (id) DEFERRABLE INITIALLY DEFERRED,
    diagnosis TEXT NOT NULL,
    diagnosed_on TEXT NOT NULL,
    icd10 TEXT,
    morphology TEXT,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    delete_reason TEXT
) WITHOUT ROWID;

CREATE INDEX cases_patient ON cases (patient_id);

-- Extramedullary sites.
CREATE TABLE sites (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id) DEFERRABLE INITIALLY DEFERRED,
    detected_on TEXT NOT NULL,
    timing TEXT NOT NULL,
    category TEXT NOT NULL,
    region TEXT NOT NULL,
    topography TEXT,
    laterality TEXT,
    size_mm INTEGER,
    imaging TEXT,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    delete_reason TEXT
) WITHOUT ROWID;

CREATE INDEX sites_case ON sites (case_id);

CREATE TABLE biopsies (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id) DEFERRABLE INITIALLY DEFERRED,
    site_id TEXT REFERENCES sites (id) DEFERRABLE INITIALLY DEFERRED,
    performed_on TEXT NOT NULL,
    procedure TEXT NOT NULL,
    morphology TEXT,
    finding TEXT,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    delete_reason TEXT
) WITHOUT ROWID;

CREATE INDEX biopsies_case ON biopsies (case_id);

CREATE INDEX biopsies_site ON biopsies (site_id);

CREATE TABLE follow_ups (
    id TEXT PRIMARY KEY NOT NULL,
    case_id TEXT NOT NULL REFERENCES cases (id) DEFERRABLE INITIALLY DEFERRED,
    on_date TEXT NOT NULL,
    vital_status TEXT NOT NULL,
    disease_status TEXT,
    origin TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    delete_reason TEXT
) WITHOUT ROWID;

CREATE INDEX follow_ups_case ON follow_ups (case_id);

-- The append-only change log: audit trail and sync outbox in one.
-- fields holds canonical JSON {field: {"new": v, "old": v, "rev": revision}}: for a local change the
-- hub revision it was based on, for a change pulled from the hub the revision the hub assigned;
-- conflict_id names the conflict a 'resolve' decides; origin is the clinic that made the change;
-- hash = SHA-256 of prev_hash and the entry, chaining every row to the one before.
CREATE TABLE change_log (
    seq INTEGER PRIMARY KEY,
    change_id TEXT NOT NULL UNIQUE,
    tx_id TEXT NOT NULL,
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    -- Comparisons, not IN: SQLite 3.40 builds a temporary B-tree for an IN list of three or more
    -- values each time the CHECK runs (2.9 us of a 4 us insert).
    op TEXT NOT NULL CHECK (op = 'insert' OR op = 'update' OR op = 'delete' OR op = 'resolve'),
    fields TEXT NOT NULL,
    conflict_id TEXT,
    hlc TEXT NOT NULL,
    author TEXT NOT NULL,
    origin TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);

CREATE INDEX change_log_row ON change_log (row_id, seq);

CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log
BEGIN
    SELECT RAISE(ABORT, 'change_log is append-only');
END;

CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log
BEGIN
    SELECT RAISE(ABORT, 'change_log is append-only');
END;

-- The revision of each synced field as the hub last confirmed it (absent = 0, never synced).
CREATE TABLE field_revisions (
    table_name TEXT NOT NULL,
    row_id TEXT NOT NULL,
    field TEXT NOT NULL,
    revision INTEGER NOT NULL,
    PRIMARY KEY (table_name, row_id, field)
) WITHOUT ROWID;
"""#),
        ("002-sync", #"""
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
"""#),
        ("003-whole-record-revisions", #"""
-- emreg clinic registry, schema version 3 (SQLite): no new tables or columns; field_revisions
-- gains a convention that an older emreg would misread, so the version moves on (an emreg that
-- does not know this migration refuses the registry instead of reading it wrong).
--
-- A field_revisions row whose field is '*' stands for every field of its record: it is written
-- when a change gives each of its entity's fields one revision, as every insert does, instead of
-- a row per field. A field's revision is the larger of its own row's and the '*' row's.
"""#),
        ("004-pulled-insert-revisions", #"""
-- emreg clinic registry, schema version 4 (SQLite): no new tables or columns; field_revisions
-- gains a convention that an older emreg would misread, so the version moves on (an emreg that
-- does not know this migration refuses the registry instead of reading it wrong).
--
-- A record pulled in from the hub as an insert gets no field_revisions row: the revisions the hub
-- gave its fields are the "rev" of each field in the change-log entry of its insert, which holds
-- them anyway (a record inserted here has revision 0 there, the base it was made on). A field's
-- revision is the largest of its own row's, the '*' row's and its insert entry's.
"""#),
        ("005-accepted-insert-revisions", #"""
-- emreg clinic registry, schema version 5 (SQLite): no new tables or columns; field_revisions
-- gains a second convention that an older emreg would misread, so the version moves on (an emreg
-- that does not know this migration refuses the registry instead of reading it wrong).
--
-- An insert made here that the hub accepted gets no field_revisions row either: the hub gives
-- every field an insert carries its first revision, 1, so that revision follows from the insert's
-- change-log entry (revision 0 there, the base it was made on) and its 'accepted' row in
-- sync_outcomes. A field's revision is the largest of its own row's, the '*' row's and its
-- insert's (the entry's, or 1 for an accepted insert made here).
"""#),
    ]
}
