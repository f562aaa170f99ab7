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
                // First as if the batch's inserts were of new records and its change ids new, as
                // they nearly always are, with no lookup of those: the writes check it (a second
                // row with a key refuses to go in). When they were not, or an insert was refused,
                // the batch is applied again with every record and change id it names loaded.
                var outcome: BatchOutcome?
                do {
                    try db.inSavepoint {
                        outcome = try Self.apply(batch, id: id, bodySHA256: bodySHA256, optimistic: true, db)
                        return outcome == nil ? .rollback : .commit
                    }
                } catch is NotNew {
                    outcome = nil
                }
                if let outcome { return outcome }
                guard let outcome = try Self.apply(batch, id: id, bodySHA256: bodySHA256, optimistic: false, db) else {
                    throw HubError.database("batch \(id) could not be applied")
                }
                return outcome
            }
        }
    }

    /// A record or change id taken for new was there already.
    struct NotNew: Error {}

    /// Applies and writes `batch`. `optimistic`: loading only what the batch does not insert, and
    /// refusing (nil, or ``NotNew`` from the writes) when the batch would be applied otherwise
    /// with everything loaded: an insert refused, a record or change id there already.
    static func apply(_ batch: PreparedBatch, id: String, bodySHA256: String, optimistic: Bool, _ db: Database) throws
        -> BatchOutcome?
    {
        let clinic = batch.clinic
        var application = BatchApplication(
            batchId: id, clinic: clinic, snapshot: try Self.snapshot(db, for: batch.needs, optimistic: optimistic))
        let effects = application.apply(batch)
        // Its snapshot and records are freed beside the writer, not in its way.
        Retired.letGo(consume application)
        if optimistic && effects.rejectedInsert { return nil }
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
            try Self.write(effects, batchRow: batchRow, clinic: clinic, optimistic: optimistic, db)
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

    /// Loads the records, earlier answers and conflicts a batch can touch; `optimistic`, not the
    /// records only its inserts name nor the earlier answers.
    static func snapshot(_ db: Database, for needs: BatchNeeds, optimistic: Bool = false) throws -> HubSnapshot {
        var snapshot = HubSnapshot()
        snapshot.lastSeq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM hub_feed") ?? 0

        for (table, rowIds) in optimistic ? needs.recordsNotInserted : needs.records {
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
        try forChunks(of: optimistic ? [] : needs.changeIds) { ids in
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

    /// Writes what a batch of `clinic` produced; the caller's transaction makes it all or nothing. A new
    /// record or answer whose key is taken throws ``NotNew`` when `optimistic` (and is a fault
    /// otherwise: everything the batch names was loaded).
    static func write(_ effects: BatchEffects, batchRow: Int64, clinic: String, optimistic: Bool, _ db: Database) throws {
        func taken(_ what: String) -> any Error {
            optimistic ? NotNew() : HubError.database("a new \(what) of the batch is there already")
        }
        // Rows go in by multi-row INSERTs (``SyncStatement/insertRows(_:into:columns:count:replacing:bind:)``),
        // read in place: a copy of each would count a reference to each of its texts, on this
        // core, to strings made on another.
        // Each entry is written into this one buffer, then copied into the statement's own.
        var entry = [UInt8]()
        let fed = try effects.feed.withUnsafeBufferPointer { feed in
            try SyncStatement.insertRows(db, into: "hub_feed", columns: ["seq", "kind", "entry"], count: feed.count) {
                s, p, i in
                s.bind(p, feed[i].seq)
                s.bind(p + 1, feed[i].kind.rawValue)
                entry.removeAll(keepingCapacity: true)
                feed[i].write(to: &entry)
                entry.withUnsafeBufferPointer { s.bind(p + 2, bytes: $0) }
            }
        }
        guard fed else { throw HubError.database("a feed entry of the batch has a seq taken already") }
        let madeNew = try effects.records.withUnsafeBufferPointer { records in
            let inserted = records.indices.filter { !records[$0].stored }
            return try SyncStatement.insertRows(
                db, into: "hub_records", columns: ["table_name", "row_id", "origin", "deleted", "fields"],
                count: inserted.count
            ) { s, p, i in
                let k = inserted[i]
                s.bind(p, records[k].key.table)
                s.bind(p + 1, records[k].key.rowId)
                s.bind(p + 2, records[k].origin)
                s.bind(p + 3, Int64(records[k].deleted ? 1 : 0))
                s.bind(p + 4, records[k].fieldsJSON)
            }
        }
        guard madeNew else { throw taken("record") }
        // The long fields text is bound uncopied for the step.
        let update = try SyncStatement(
            db, "UPDATE hub_records SET deleted = ?4, fields = ?5 WHERE table_name = ?1 AND row_id = ?2 AND origin = ?3")
        for (key, origin, deleted, fieldsJSON, stored) in effects.records where stored {
            update.bind(1, key.table)
            update.bind(2, key.rowId)
            update.bind(3, origin)
            update.bind(4, Int64(deleted ? 1 : 0))
            try update.run(binding: fieldsJSON, at: 5)
            guard db.changesCount == 1 else { throw HubError.database("record \(key.table) \(key.rowId) was not updated") }
        }
        let answered = try effects.results.withUnsafeBufferPointer { results in
            try SyncStatement.insertRows(
                db, into: "hub_changes", columns: ["change_id", "clinic", "status", "batch", "position"],
                count: results.count
            ) { s, p, i in
                s.bind(p, results[i].changeId)
                s.bind(p + 1, clinic)
                s.bind(p + 2, results[i].status.rawValue)
                s.bind(p + 3, batchRow)
                s.bind(p + 4, Int64(results[i].position))
            }
        }
        guard answered else { throw taken("change id") }
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
