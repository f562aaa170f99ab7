import PostgresNIO
import RegistryCore

// The statements every batch runs while it holds the counter lock, prepared once per connection:
// no parse or plan per batch (about 2 ms of the lock's time otherwise); LoadTouched, which can
// return many rows, is the exception (see there). Rows come back as `PostgresRow`, decoded where
// they are read; every value is a bind parameter.

/// A hub statement whose rows are decoded by the caller.
protocol HubStatement: PostgresPreparedStatement where Row == PostgresRow {}

extension HubStatement {
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }
}

/// Takes the lock every batch queues for and reads the newest seq, with the stored receipt of
/// a retried batch id.
struct LockCounter: HubStatement {
    static let name = "emreg_hub_lock_counter"
    static let sql = """
        SELECT h.last_seq, b.clinic, b.body_sha256, b.receipt_gzip
        FROM hub_counter h LEFT JOIN hub_batches b ON b.batch_id = $1
        WHERE h.id = 1 FOR UPDATE OF h
        """
    var batchId: String

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 1)
        b.append(batchId)
        return b
    }
}

/// The records and earlier answers a batch touches: kind 'r' rows are records (table, row id,
/// origin, fields), kind 'c' rows answers (change id, clinic, status, batch row, position).
/// Not prepared: it can return many rows, which are read whole (``PostgresConnection/allRows``).
enum LoadTouched {
    static let sql = """
        SELECT 'r', r.table_name, r.row_id, r.origin, r.fields, 0::bigint, 0
        FROM unnest($1::text[], $2::text[]) AS k(table_name, row_id)
        JOIN hub_records r ON r.table_name = k.table_name AND r.row_id = k.row_id
        UNION ALL
        SELECT 'c', change_id, clinic, status, '', batch, position FROM hub_changes
        WHERE change_id = ANY($3::text[])
        """

    static func query(_ keys: PostgresHubStore.Lookups) -> PostgresQuery {
        var b = PostgresBindings(capacity: 3)
        b.append(keys.tables)
        b.append(keys.rowIds)
        b.append(keys.changeIds)
        return PostgresQuery(unsafeSQL: sql, binds: b)
    }
}

/// Everything a batch produced but conflict resolutions, in one statement: the batch row with its
/// receipt, feed entries, records, answers, raised conflicts and the counter, each table's rows
/// bound as arrays. Returns the batch row's id.
struct WriteBatch: HubStatement {
    static let name = "emreg_hub_write_batch"
    static let sql = """
        WITH batch AS (
            INSERT INTO hub_batches (batch_id, clinic, body_sha256, received_at, change_count, receipt_gzip)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING id
        ), feed AS (
            INSERT INTO hub_feed (seq, kind, entry)
            SELECT * FROM unnest($7::bigint[], $8::text[], $9::text[])
        ), records AS (
            INSERT INTO hub_records (table_name, row_id, origin, deleted, fields)
            SELECT * FROM unnest($10::text[], $11::text[], $12::text[], $13::boolean[], $14::text[])
            ON CONFLICT (table_name, row_id) DO UPDATE SET deleted = excluded.deleted, fields = excluded.fields
        ), answers AS (
            INSERT INTO hub_changes (change_id, clinic, status, batch, position)
            SELECT a.change_id, a.clinic, a.status, (SELECT id FROM batch), a.position
            FROM unnest($15::text[], $16::text[], $17::text[], $18::integer[]) AS a(change_id, clinic, status, position)
        ), raised AS (
            INSERT INTO hub_conflicts (id, table_name, row_id, field, status, raised_seq, conflict)
            SELECT r.id, r.table_name, r.row_id, r.field, 'open', r.seq, r.conflict
            FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::bigint[], $24::text[])
                AS r(id, table_name, row_id, field, seq, conflict)
        ), counter AS (
            UPDATE hub_counter SET last_seq = $25 WHERE id = 1
        )
        SELECT id FROM batch
        """
    var effects: BatchEffects
    var batchId: String
    var clinic: String
    var bodySHA256: String
    var changeCount: Int
    var lastSeq: Int64

    func makeBindings() throws -> PostgresBindings {
        var b = PostgresBindings(capacity: 25)
        b.append(batchId)
        b.append(clinic)
        b.append(bodySHA256)
        b.append(Clock.timestamp())
        b.append(Int32(changeCount))
        b.append(ByteBuffer(bytes: StoredReceipt.compress(effects.receiptJSON)))
        b.append(effects.feed.map(\.seq))
        b.append(effects.feed.map(\.kind.rawValue))
        b.append(effects.feed.map(\.json))
        b.append(effects.records.map(\.key.table))
        b.append(effects.records.map(\.key.rowId))
        b.append(effects.records.map(\.record.origin))
        b.append(effects.records.map(\.record.isDeleted))
        b.append(effects.records.map(\.record.fieldsJSON))
        // A change id with NUL cannot be stored (it was rejected: ids are UUIDs); pushed again, it
        // is rejected again for the same reason, so its answer needs no row.
        let results = effects.results.filter(\.changeId.isStorable)
        b.append(results.map(\.changeId))
        b.append(results.map(\.answer.clinic))
        b.append(results.map(\.answer.status.rawValue))
        b.append(results.map { Int32($0.position) })
        let raised = effects.raisedConflicts
        b.append(raised.map(\.conflict.id))
        b.append(raised.map(\.conflict.table))
        b.append(raised.map(\.conflict.rowId))
        b.append(raised.map(\.conflict.field))
        b.append(raised.map(\.seq))
        b.append(raised.map(\.json))
        b.append(effects.feed.last?.seq ?? lastSeq)
        return b
    }
}
