import PostgresNIO
import RegistryCore

// The statements of a batch. Rows come back as `PostgresRow`, decoded where they are read; every
// value is a bind parameter.

/// A hub statement whose rows are decoded by the caller.
protocol HubStatement: PostgresPreparedStatement where Row == PostgresRow {}

extension HubStatement {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// The clinic whose active token has this SHA-256: every request's authentication, prepared once
/// per connection.
struct ClinicByToken: HubStatement {
    static let name = "emreg_hub_clinic_by_token_v1"
    static let sql = "SELECT code FROM hub_clinics WHERE token_sha256 = $1 AND revoked_at IS NULL"
    var tokenSHA256: String

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(tokenSHA256)
        return b
    }
}

/// The records a batch touches, locked in key order (so two batches never wait for each other
/// both ways), and its changes answered before: kind 'r' rows are records (table, row id, origin,
/// fields), kind 'c' rows answers (change id, clinic, status, batch row, position). Not prepared:
/// it can return many rows, which are read whole (``PostgresConnection/allRows``), and a plan made
/// for the actual keys finds them by index however many there are.
enum LoadTouched {
    static let sql = """
        WITH records AS (
            SELECT r.table_name, r.row_id, r.origin, r.fields
            FROM unnest($1::text[], $2::text[]) AS k(table_name, row_id)
            JOIN hub_records r ON r.table_name = k.table_name AND r.row_id = k.row_id
            ORDER BY r.table_name, r.row_id
            FOR UPDATE OF r
        )
        SELECT 'r', table_name, row_id, origin, fields, 0::bigint, 0 FROM records
        UNION ALL
        SELECT 'c', change_id, clinic, status, '', batch, position FROM hub_changes
        WHERE change_id = ANY($3::text[])
        """

    static func binds(_ keys: PostgresHubStore.Lookups) throws -> PreparedBinds {
        var b = PreparedBinds(capacity: 3)
        try b.append(keys.tables)
        try b.append(keys.rowIds)
        try b.append(keys.changeIds)
        return b
    }
}

/// The records a batch applied against remembered states (``RememberedRecords``), locked in key
/// order as ``LoadTouched`` locks them, and counted where the database still holds exactly the
/// remembered origin and field text: any other count fails the statement as a serialization
/// failure (`hub_expect_unchanged`, migration 004). It is the first part of the batch's
/// statement (``WriteBatch/sqlVerifyingRemembered``): the counter waits for it, so the records
/// are locked before the counter, in the order the usual path locks them.
enum VerifyRemembered {
    /// Parameters $30 to $34: they follow ``WriteBatch``'s.
    static let cte = """
        verified AS MATERIALIZED (
            SELECT hub_expect_unchanged((
                SELECT count(*) FROM (
                    SELECT 1 FROM hub_records r
                    JOIN unnest($30::text[], $31::text[], $32::text[], $33::text[]) AS e(table_name, row_id, origin, fields)
                        ON r.table_name = e.table_name AND r.row_id = e.row_id
                    WHERE r.origin = e.origin AND r.fields = e.fields
                    ORDER BY r.table_name, r.row_id
                    FOR UPDATE OF r
                ) AS matched), $34::integer)
        ),
        """

    static func append(_ records: [RecordKey: RememberedRecords.Record], to b: inout PreparedBinds) throws {
        try b.append(records.keys.map(\.table))
        try b.append(records.keys.map(\.rowId))
        try b.append(records.values.map(\.origin))
        try b.append(records.values.map(\.fieldsJSON))
        try b.append(Int32(records.count))
    }
}

/// Everything a batch produced but conflict resolutions, in one statement: the counter, the batch
/// row with its receipt, feed entries, new and changed records, answers and raised conflicts, each
/// table's rows bound as arrays. Returns the batch row's id and the base its seqs count from.
///
/// The batch was applied on a base of 0 (its feed entries numbered 1, 2, ...); the statement
/// numbers them from the counter, which it moves on first: that takes the counter's row lock,
/// held to the COMMIT sent with the statement, so batches commit in seq order and the feed stays
/// gap-free (a reader never sees a seq before every lower one is committed). Every part that
/// inserts rows reads the counter, so none of them runs before the lock is held; the update
/// touches only records this batch has locked already. An entry's JSON ends with its seq
/// (`…"seq":N}`, keys sorted): the statement appends the numbered seq to the rest. The receipt
/// is stored with the batch's own answers counted from 0 and the base beside it
/// (``StoredReceipt/shifted(_:by:positions:)``).
///
/// Its COMMIT is queued behind it (``sqlVerifyingRemembered`` needs none): any check must fail
/// the statement itself, in the database. A record the batch found missing is inserted without
/// ON CONFLICT: if another batch created it since (it could not be locked: it did not exist), the
/// insert fails on the primary key, the transaction rolls back and the batch is tried again, now
/// seeing the record.
struct WriteBatch {
    static let sql = statement(verifyingRemembered: false)
    /// The same, first checking and locking the remembered records the batch was applied to
    /// (``VerifyRemembered``, parameters $30 to $34). One statement is one transaction: sent
    /// alone, without BEGIN and COMMIT, it is a batch in one round trip.
    static let sqlVerifyingRemembered = statement(verifyingRemembered: true)

    private static func statement(verifyingRemembered: Bool) -> String {
        "WITH " + (verifyingRemembered ? VerifyRemembered.cte : "") + """
        counter AS (
            UPDATE hub_counter SET last_seq = last_seq + $7::bigint
            WHERE id = 1\(verifyingRemembered ? " AND EXISTS (SELECT 1 FROM verified)" : "")
            RETURNING last_seq - $7::bigint AS base
        ), batch AS (
            INSERT INTO hub_batches (batch_id, clinic, body_sha256, received_at, change_count, receipt_gzip, seq_base)
            SELECT $1::text, $2::text, $3::text, $4::text, $5::integer, $6::bytea, counter.base FROM counter
            RETURNING id
        ), feed AS (
            INSERT INTO hub_feed (seq, kind, entry)
            SELECT counter.base + f.seq, f.kind, f.head || (counter.base + f.seq)::text || '}'
            FROM unnest($8::bigint[], $9::text[], $10::text[]) AS f(seq, kind, head), counter
        ), inserted AS (
            INSERT INTO hub_records (table_name, row_id, origin, deleted, fields)
            SELECT n.table_name, n.row_id, n.origin, n.deleted, n.fields
            FROM unnest($11::text[], $12::text[], $13::text[], $14::boolean[], $15::text[])
                AS n(table_name, row_id, origin, deleted, fields), counter
        ), updated AS (
            UPDATE hub_records r SET deleted = u.deleted, fields = u.fields
            FROM unnest($16::text[], $17::text[], $18::boolean[], $19::text[]) AS u(table_name, row_id, deleted, fields)
            WHERE r.table_name = u.table_name AND r.row_id = u.row_id
        ), answers AS (
            INSERT INTO hub_changes (change_id, clinic, status, batch, position)
            SELECT a.change_id, a.clinic, a.status, (SELECT id FROM batch), a.position
            FROM unnest($20::text[], $21::text[], $22::text[], $23::integer[]) AS a(change_id, clinic, status, position)
        ), raised AS (
            INSERT INTO hub_conflicts (id, table_name, row_id, field, status, raised_seq, conflict)
            SELECT r.id, r.table_name, r.row_id, r.field, 'open', counter.base + r.seq, r.conflict
            FROM unnest($24::text[], $25::text[], $26::text[], $27::text[], $28::bigint[], $29::text[])
                AS r(id, table_name, row_id, field, seq, conflict), counter
        )
        SELECT id, (SELECT base FROM counter) FROM batch
        """
    }

    var effects: BatchEffects
    /// The records that existed (and were locked) when the batch read them.
    var existed: Set<RecordKey>
    var batchId: String
    var clinic: String
    var bodySHA256: String
    var changeCount: Int
    /// Every record the batch changed, in its new state as the statement stores it.
    let written: [(key: RecordKey, record: RememberedRecords.Record, deleted: Bool)]
    /// The receipt as stored (``StoredReceipt``).
    let receiptGzip: [UInt8]

    init(effects: BatchEffects, existed: Set<RecordKey>, batchId: String, clinic: String, bodySHA256: String, changeCount: Int) {
        self.effects = effects
        self.existed = existed
        self.batchId = batchId
        self.clinic = clinic
        self.bodySHA256 = bodySHA256
        self.changeCount = changeCount
        written = effects.records.map {
            ($0.key, RememberedRecords.Record(origin: $0.origin, fieldsJSON: $0.fieldsJSON), $0.deleted)
        }
        receiptGzip = StoredReceipt.compress(effects.receiptJSON)
    }

    var binds: PreparedBinds {
        get throws {
            var b = PreparedBinds(capacity: 34)
            try b.append(batchId)
            try b.append(clinic)
            try b.append(bodySHA256)
            try b.append(Clock.timestamp())
            try b.append(Int32(changeCount))
            try b.append(ByteBuffer(bytes: receiptGzip))
            try b.append(Int64(effects.feed.count))
            try b.append(effects.feed.map(\.seq))
            try b.append(effects.feed.map(\.kind.rawValue))
            try b.append(try effects.feed.map(Self.head))
            let new = written.filter { !existed.contains($0.key) }
            try b.append(new.map(\.key.table))
            try b.append(new.map(\.key.rowId))
            try b.append(new.map(\.record.origin))
            try b.append(new.map(\.deleted))
            try b.append(new.map(\.record.fieldsJSON))
            let changed = written.filter { existed.contains($0.key) }
            try b.append(changed.map(\.key.table))
            try b.append(changed.map(\.key.rowId))
            try b.append(changed.map(\.deleted))
            try b.append(changed.map(\.record.fieldsJSON))
            // A change id with NUL cannot be stored (it was rejected: ids are UUIDs); pushed again, it
            // is rejected again for the same reason, so its answer needs no row.
            let results = effects.results.filter(\.changeId.isStorable)
            try b.append(results.map(\.changeId))
            try b.append(results.map { _ in clinic })
            try b.append(results.map(\.status.rawValue))
            try b.append(results.map { Int32($0.position) })
            let raised = effects.raisedConflicts
            try b.append(raised.map(\.conflict.id))
            try b.append(raised.map(\.conflict.table))
            try b.append(raised.map(\.conflict.rowId))
            try b.append(raised.map(\.conflict.field))
            try b.append(raised.map(\.seq))
            try b.append(raised.map(\.json))
            return b
        }
    }

    /// An entry's JSON without its seq and closing brace, for the statement to number.
    static func head(_ row: BatchEffects.FeedRow) throws -> String {
        guard row.head.suffix(6).elementsEqual(#""seq":"#.utf8) else { throw HubError.database("a feed entry does not end with its seq") }
        return String(decoding: row.head, as: UTF8.self)
    }

    /// The feed entries as the statement numbered them, counted from `base`.
    func entries(base: Int64) throws -> [HubFeedSlice.Entry] {
        try effects.feed.map { row in
            HubFeedSlice.Entry(seq: base + row.seq, json: try Self.head(row) + "\(base + row.seq)}")
        }
    }

    /// The batch row's id and the base its seqs count from.
    func base(_ rows: [PreparedRow]) throws -> Int64 {
        guard rows.count == 1 else { throw HubError.database("the batch row was not written") }
        return try rows[0].decode(1, as: Int64.self)
    }
}
