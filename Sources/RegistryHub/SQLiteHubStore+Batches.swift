import Foundation
import GRDB
import GRDBSQLite
import RegistryCore
import RegistryStore
import RegistrySync

extension SQLiteHubStore {
    /// Lookups of many keys go in chunks below SQLite's bound-parameter limit.
    static let lookupChunk = 500
    /// The receipt size (bytes of JSON) from which it is compressed beside the writes: a
    /// receipt of about 2,000 changes.
    static let receiptCompressedAside = 256 << 10

    public func applyBatch(_ batch: PreparedBatch, id: String, bodySHA256: String) async throws(HubError)
        -> BatchOutcome
    {
        let clinic = batch.clinic
        defer { checkpointer.request() }
        return try await databaseErrors {
            try await pool.write { db -> BatchOutcome in
                if let stored = try Row.fetchOne(
                    db.cachedStatement(
                        sql: "SELECT clinic, body_sha256, receipt_gzip FROM hub_batches WHERE batch_id = ?"),
                    arguments: [id])
                {
                    guard stored[0] as String == clinic && stored[1] as String == bodySHA256 else { return .idTaken }
                    let gzip = Array(stored[2] as Data)
                    return .receipt(json: try StoredReceipt.inflate(gzip, batchId: id), gzip: gzip)
                }
                var application = BatchApplication(
                    batchId: id, clinic: clinic, snapshot: try Self.snapshot(db, for: batch.needs))
                let effects = application.apply(batch)
                // Its snapshot and records are freed beside the writer, not in its way.
                Retired.letGo(consume application)
                // A large receipt is compressed on another core while the writer writes the rest
                // (a small one takes less time than starting a thread).
                let receiptJSON = effects.receiptJSON
                let compressing =
                    receiptJSON.count >= Self.receiptCompressedAside ? Background { StoredReceipt.compress(receiptJSON) } : nil
                var receiptGzip = compressing == nil ? StoredReceipt.compress(receiptJSON) : []
                do {
                    try db.cachedStatement(
                        sql: """
                            INSERT INTO hub_batches (batch_id, clinic, body_sha256, received_at, change_count, receipt_gzip)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """
                    ).execute(arguments: [
                        id, clinic, bodySHA256, Clock.timestamp(), batch.batch.changes.count, Data(receiptGzip),
                    ])
                    let batchRow = db.lastInsertedRowID
                    try Self.write(effects, batchRow: batchRow, db)
                    if let compressing {
                        receiptGzip = compressing.wait()
                        try db.cachedStatement(sql: "UPDATE hub_batches SET receipt_gzip = ? WHERE id = ?").execute(
                            arguments: [Data(receiptGzip), batchRow])
                    }
                } catch {
                    _ = compressing?.wait()
                    throw error
                }
                Retired.letGo(consume effects)
                return BatchOutcome.receipt(json: receiptJSON, gzip: receiptGzip)
            }
        }
    }

    /// Loads the records, earlier answers and conflicts a batch can touch.
    static func snapshot(_ db: Database, for needs: BatchNeeds) throws -> HubSnapshot {
        var snapshot = HubSnapshot()
        snapshot.lastSeq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM hub_feed") ?? 0

        for (table, rowIds) in needs.records {
            try forChunks(of: rowIds) { ids in
                let lookup = try SyncStatement(
                    db,
                    "SELECT row_id, origin, fields FROM hub_records WHERE table_name = ? AND row_id IN (\(placeholders(ids.count)))"
                )
                lookup.bind(1, table)
                for (k, id) in ids.enumerated() { lookup.bind(Int32(k + 2), id) }
                try lookup.rows { row in
                    snapshot.records[RecordKey(table: table, rowId: text(row, 0))] = try HubRecord(
                        origin: text(row, 1), fieldsJSON: text(row, 2))
                    return true
                }
            }
        }
        // Answers given before live in the receipts of their batches: read each receipt once.
        var earlier = [StoredAnswer]()
        try forChunks(of: needs.changeIds) { ids in
            let lookup = try SyncStatement(
                db,
                "SELECT change_id, clinic, status, batch, position FROM hub_changes WHERE change_id IN (\(placeholders(ids.count)))"
            )
            for (k, id) in ids.enumerated() { lookup.bind(Int32(k + 1), id) }
            try lookup.rows { row in
                earlier.append(
                    StoredAnswer(
                        changeId: text(row, 0), clinic: text(row, 1), status: text(row, 2),
                        batchRow: sqlite3_column_int64(row, 3), position: Int(sqlite3_column_int64(row, 4))))
                return true
            }
        }
        try snapshot.addProcessed(earlier) { batchRow in
            guard
                let gzip = try Data.fetchOne(
                    db, sql: "SELECT receipt_gzip FROM hub_batches WHERE id = ?", arguments: [batchRow])
            else { throw HubError.database("the receipt of batch row \(batchRow) is missing") }
            return (Array(gzip), 0)
        }
        try forChunks(of: needs.conflictIds) { ids in
            let texts = try String.fetchAll(
                db, sql: "SELECT conflict FROM hub_conflicts WHERE id IN (\(placeholders(ids.count)))",
                arguments: StatementArguments(ids))
            for text in texts {
                let conflict = try WireConflict.stored(text)
                snapshot.conflicts[conflict.id] = conflict
            }
        }
        return snapshot
    }

    /// Writes what a batch produced; the caller's transaction makes it all or nothing.
    static func write(_ effects: BatchEffects, batchRow: Int64, _ db: Database) throws {
        let feed = try SyncStatement(db, "INSERT INTO hub_feed (seq, kind, entry) VALUES (?, ?, ?)")
        for row in effects.feed {
            feed.bind(1, row.seq)
            feed.bind(2, row.kind.rawValue)
            try feed.run(binding: row.json, at: 3)
        }
        let record = try SyncStatement(
            db,
            """
            INSERT INTO hub_records (table_name, row_id, origin, deleted, fields) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (table_name, row_id) DO UPDATE SET deleted = excluded.deleted, fields = excluded.fields
            """)
        for (key, r, fieldsJSON) in effects.records {
            record.bind(1, key.table)
            record.bind(2, key.rowId)
            record.bind(3, r.origin)
            record.bind(4, r.isDeleted ? 1 : 0)
            try record.run(binding: fieldsJSON, at: 5)
        }
        let answer = try SyncStatement(
            db, "INSERT INTO hub_changes (change_id, clinic, status, batch, position) VALUES (?, ?, ?, ?, ?)")
        for (changeId, position, a) in effects.results {
            answer.bind(1, changeId)
            answer.bind(2, a.clinic)
            answer.bind(3, a.status.rawValue)
            answer.bind(4, batchRow)
            answer.bind(5, Int64(position))
            try answer.run()
        }
        let raise = try db.cachedStatement(
            sql: """
                INSERT INTO hub_conflicts (id, table_name, row_id, field, status, raised_seq, conflict)
                VALUES (?, ?, ?, ?, 'open', ?, ?)
                """)
        for r in effects.raisedConflicts {
            try raise.execute(arguments: [
                r.conflict.id, r.conflict.table, r.conflict.rowId, r.conflict.field, r.seq, r.json,
            ])
        }
        let resolve = try db.cachedStatement(
            sql: "UPDATE hub_conflicts SET status = 'resolved', resolved_seq = ?, conflict = ? WHERE id = ?")
        for r in effects.resolvedConflicts {
            try resolve.execute(arguments: [r.seq, r.json, r.conflict.id])
        }
    }

    /// A text column of the current row (NOT NULL columns only).
    static func text(_ row: SQLiteStatement, _ column: Int32) -> String {
        // The text first, then its length (SQLite's advice: the length is of that conversion).
        guard let base = sqlite3_column_text(row, column) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: base, count: Int(sqlite3_column_bytes(row, column))), as: UTF8.self)
    }

    static func forChunks(of keys: [String], _ body: ([String]) throws -> Void) rethrows {
        var start = 0
        while start < keys.count {
            let end = min(start + lookupChunk, keys.count)
            try body(Array(keys[start..<end]))
            start = end
        }
    }

    static func placeholders(_ n: Int) -> String {
        String(repeating: "?,", count: n - 1) + "?"
    }
}
