import Foundation
import GRDB
import RegistryCore
import RegistrySync

extension SQLiteHubStore {
    /// Lookups of many keys go in chunks below SQLite's bound-parameter limit.
    static let lookupChunk = 500

    public func applyBatch(_ batch: SyncBatch, id: String, clinic: String, bodySHA256: String) async throws(HubError)
        -> BatchOutcome
    {
        try await databaseErrors {
            try await pool.write { db -> BatchOutcome in
                if let stored = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT clinic, body_sha256, receipt_gzip FROM hub_batches WHERE batch_id = ?"),
                    arguments: [id])
                {
                    guard stored[0] as String == clinic && stored[1] as String == bodySHA256 else { return .idTaken }
                    do { return .receipt(try Gzip.decompress(Array(stored[2] as Data), limit: 1 << 30)) } catch {
                        throw HubError.database("the stored receipt of batch \(id) is unreadable")
                    }
                }
                let t0 = RequestLogMiddleware.monotonicNanos()
                var application = BatchApplication(
                    batchId: id, clinic: clinic, snapshot: try Self.snapshot(db, for: batch))
                let t1 = RequestLogMiddleware.monotonicNanos()
                let effects = application.apply(batch)
                let t2 = RequestLogMiddleware.monotonicNanos()
                try Self.write(effects, batchId: id, clinic: clinic, db)
                let t3 = RequestLogMiddleware.monotonicNanos()
                defer { let t4 = RequestLogMiddleware.monotonicNanos(); FileHandleStderr.write("TIMING snapshot \((t1-t0)/1000000)ms apply \((t2-t1)/1000000)ms write \((t3-t2)/1000000)ms batchrow \((t4-t3)/1000000)ms\n") }
                try db.cachedStatement(
                    sql: """
                        INSERT INTO hub_batches (batch_id, clinic, body_sha256, received_at, change_count, receipt_gzip)
                        VALUES (?, ?, ?, ?, ?, ?)
                        """
                ).execute(arguments: [
                    id, clinic, bodySHA256, Clock.timestamp(), batch.changes.count,
                    Data(Gzip.compress(effects.receiptJSON, level: 1)),
                ])
                return .receipt(effects.receiptJSON)
            }
        }
    }

    /// Loads the records, earlier answers and conflicts `batch` can touch.
    static func snapshot(_ db: Database, for batch: SyncBatch) throws -> HubSnapshot {
        let needs = BatchApplication.needs(of: batch)
        var snapshot = HubSnapshot()
        snapshot.lastSeq = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM hub_feed") ?? 0

        let byTable = Dictionary(grouping: needs.records, by: \.table)
        for (table, keys) in byTable {
            try forChunks(of: keys.map(\.rowId)) { ids in
                let rows = try Row.fetchCursor(
                    db.cachedStatement(
                        sql: "SELECT row_id, origin, fields FROM hub_records WHERE table_name = ? AND row_id IN (\(placeholders(ids.count)))"),
                    arguments: StatementArguments([table] + ids))
                while let row = try rows.next() {
                    snapshot.records[RecordKey(table: table, rowId: row[0])] = try HubRecord(origin: row[1], fieldsJSON: row[2])
                }
            }
        }
        try forChunks(of: Array(needs.changeIds)) { ids in
            let rows = try Row.fetchCursor(
                db.cachedStatement(
                    sql: "SELECT change_id, clinic, status, result FROM hub_changes WHERE change_id IN (\(placeholders(ids.count)))"),
                arguments: StatementArguments(ids))
            while let row = try rows.next() {
                guard let status = SyncReceipt.Result.Status(rawValue: row[2]) else {
                    throw HubError.database("hub_changes holds an unknown status")
                }
                snapshot.processed[row[0]] = ProcessedChange(clinic: row[1], status: status, resultJSON: row[3])
            }
        }
        try forChunks(of: Array(needs.conflictIds)) { ids in
            let texts = try String.fetchAll(
                db, sql: "SELECT conflict FROM hub_conflicts WHERE id IN (\(placeholders(ids.count)))",
                arguments: StatementArguments(ids))
            for text in texts {
                do {
                    let conflict = try WireConflict(json: try JSON.parse(text), path: "conflict")
                    snapshot.conflicts[conflict.id] = conflict
                } catch {
                    throw HubError.database("hub_conflicts holds a malformed conflict")
                }
            }
        }
        return snapshot
    }

    /// Writes what a batch produced; the caller's transaction makes it all or nothing.
    static func write(_ effects: BatchEffects, batchId: String, clinic: String, _ db: Database) throws {
        let feed = try db.cachedStatement(sql: "INSERT INTO hub_feed (seq, kind, entry) VALUES (?, ?, ?)")
        for row in effects.feed {
            try feed.execute(arguments: [row.seq, row.kind.rawValue, row.json])
        }
        let record = try db.cachedStatement(
            sql: """
                INSERT INTO hub_records (table_name, row_id, origin, deleted, fields) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (table_name, row_id) DO UPDATE SET deleted = excluded.deleted, fields = excluded.fields
                """)
        for (key, r) in effects.records {
            try record.execute(arguments: [key.table, key.rowId, r.origin, r.isDeleted, r.fieldsJSON])
        }
        let answer = try db.cachedStatement(
            sql: "INSERT INTO hub_changes (change_id, clinic, batch_id, status, result) VALUES (?, ?, ?, ?, ?)")
        for (changeId, a) in effects.results {
            try answer.execute(arguments: [changeId, a.clinic, batchId, a.status.rawValue, a.resultJSON])
        }
        let raise = try db.cachedStatement(
            sql: """
                INSERT INTO hub_conflicts (id, table_name, row_id, field, status, raised_seq, conflict)
                VALUES (?, ?, ?, ?, 'open', ?, ?)
                """)
        for r in effects.raisedConflicts {
            try raise.execute(arguments: [r.conflict.id, r.conflict.table, r.conflict.rowId, r.conflict.field, r.seq, r.json])
        }
        let resolve = try db.cachedStatement(
            sql: "UPDATE hub_conflicts SET status = 'resolved', resolved_seq = ?, conflict = ? WHERE id = ?")
        for r in effects.resolvedConflicts {
            try resolve.execute(arguments: [r.seq, r.json, r.conflict.id])
        }
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

import Glibc
enum FileHandleStderr { static func write(_ s: String) { var b = Array(s.utf8); _ = Glibc.write(2, &b, b.count) } }
