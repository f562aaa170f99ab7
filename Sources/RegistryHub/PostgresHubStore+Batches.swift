import PostgresNIO
import RegistryCore
import RegistrySync

extension PostgresHubStore {
    public func applyBatch(_ batch: SyncBatch, id: String, clinic: String, bodySHA256: String) async throws(HubError)
        -> BatchOutcome
    {
        // Work out what to look up before taking the lock: the lock is held until commit.
        let lookups = Lookups(BatchApplication.needs(of: batch))
        return try await postgresErrors(nil) {
            try await batchGate.pass { try await apply(batch, lookups, id: id, clinic: clinic, bodySHA256: bodySHA256) }
        }
    }

    /// One batch in one transaction: lock, load, apply, write.
    func apply(_ batch: SyncBatch, _ lookups: Lookups, id: String, clinic: String, bodySHA256: String) async throws
        -> BatchOutcome
    {
        try await withConnection { [self] connection in
            try await connection.withTransaction(logger: logger) { c -> BatchOutcome in
                // The lock every batch queues for, and the stored receipt of a retry.
                var lastSeq: Int64?
                var stored: (clinic: String, sha256: String, gzip: ByteBuffer)?
                for try await row in try await c.execute(LockCounter(batchId: id), logger: logger) {
                    let (seq, storedClinic, storedSHA256, gzip) = try row.decode(
                        (Int64, String?, String?, ByteBuffer?).self)
                    lastSeq = seq
                    if let storedClinic, let storedSHA256, let gzip { stored = (storedClinic, storedSHA256, gzip) }
                }
                guard let lastSeq else { throw HubError.database("hub_counter has no row") }
                if let stored {
                    guard stored.clinic == clinic && stored.sha256 == bodySHA256 else { return .idTaken }
                    return .receipt(try StoredReceipt.inflate(Array(stored.gzip.readableBytesView), batchId: id))
                }
                var application = BatchApplication(
                    batchId: id, clinic: clinic, snapshot: try await snapshot(c, lookups, lastSeq: lastSeq))
                let effects = application.apply(batch)
                try await write(
                    effects, batchId: id, clinic: clinic, bodySHA256: bodySHA256, changeCount: batch.changes.count,
                    lastSeq: lastSeq, c)
                return .receipt(effects.receiptJSON)
            }
        }
    }

    /// The keys a batch needs, each once, as arrays to bind.
    struct Lookups: Sendable {
        var tables: [String] = []
        var rowIds: [String] = []
        var changeIds: [String]
        var conflictIds: [String]

        /// Keys holding NUL are left out: PostgreSQL text cannot hold one, so no row has such a
        /// key, and the protocol rejects the change anyway (ids are UUIDs, tables are named).
        init(_ needs: (records: [String: [String]], changeIds: [String], conflictIds: [String])) {
            for (table, ids) in needs.records where table.isStorable {
                for rowId in Set(ids) where rowId.isStorable {
                    tables.append(table)
                    rowIds.append(rowId)
                }
            }
            changeIds = Array(Set(needs.changeIds.filter(\.isStorable)))
            conflictIds = Array(Set(needs.conflictIds.filter(\.isStorable)))
        }
    }

    /// Loads the records, earlier answers and conflicts a batch can touch, under the lock. The
    /// records and earlier answers come in one statement (one round trip while the lock is held).
    func snapshot(_ c: PostgresConnection, _ keys: Lookups, lastSeq: Int64) async throws -> HubSnapshot {
        var snapshot = HubSnapshot(lastSeq: lastSeq)
        var earlier = [StoredAnswer]()
        for row in try await c.allRows(LoadTouched.query(keys), logger: logger) {
            let (kind, a, b, c, fields, batchRow, position) = try row.decode(
                (String, String, String, String, String, Int64, Int32).self)
            if kind == "r" {
                snapshot.records[RecordKey(table: a, rowId: b)] = try HubRecord(origin: c, fieldsJSON: fields)
            } else {
                earlier.append(
                    StoredAnswer(changeId: a, clinic: b, status: c, batchRow: batchRow, position: Int(position)))
            }
        }
        if !earlier.isEmpty {
            // Each earlier batch's receipt, read once.
            var receipts = [Int64: [UInt8]]()
            let rows = try await c.allRows(
                "SELECT id, receipt_gzip FROM hub_batches WHERE id = ANY(\(Array(Set(earlier.map(\.batchRow))))::bigint[])",
                logger: logger)
            for row in rows {
                let (batchRow, gzip) = try row.decode((Int64, ByteBuffer).self)
                receipts[batchRow] = Array(gzip.readableBytesView)
            }
            try snapshot.addProcessed(earlier) { batchRow in
                guard let gzip = receipts[batchRow] else {
                    throw HubError.database("the receipt of batch row \(batchRow) is missing")
                }
                return gzip
            }
        }
        if !keys.conflictIds.isEmpty {
            let rows = try await c.allRows(
                "SELECT conflict FROM hub_conflicts WHERE id = ANY(\(keys.conflictIds)::text[])", logger: logger)
            for row in rows {
                let text = try row.decode(String.self)
                let conflict = try WireConflict.stored(text)
                snapshot.conflicts[conflict.id] = conflict
            }
        }
        return snapshot
    }

    /// Writes what a batch produced in one statement (``WriteBatch``), then the rare conflict
    /// resolutions; the caller's transaction makes it all or nothing.
    func write(
        _ effects: BatchEffects, batchId: String, clinic: String, bodySHA256: String, changeCount: Int,
        lastSeq: Int64, _ c: PostgresConnection
    ) async throws {
        var written = 0
        let statement = WriteBatch(
            effects: effects, batchId: batchId, clinic: clinic, bodySHA256: bodySHA256, changeCount: changeCount,
            lastSeq: lastSeq)
        for try await _ in try await c.execute(statement, logger: logger) { written += 1 }
        guard written == 1 else { throw HubError.database("the batch row was not written") }
        let resolved = effects.resolvedConflicts
        if !resolved.isEmpty {
            // After the insert above: a conflict raised and resolved in one batch is updated too.
            try await c.run(
                """
                UPDATE hub_conflicts SET status = 'resolved', resolved_seq = r.seq, conflict = r.conflict
                FROM unnest(\(resolved.map(\.conflict.id))::text[], \(resolved.map(\.seq))::bigint[],
                    \(resolved.map(\.json))::text[]) AS r(id, seq, conflict)
                WHERE hub_conflicts.id = r.id
                """, logger: logger)
        }
    }
}

extension PostgresConnection {
    /// Every row of `query`, each taken as it arrives. postgres-nio (1.33.2) traps when the server
    /// closes a connection while rows of an async row sequence wait for their reader (the row
    /// stream hears "read complete" with no read asked for), which crashed the hub when PostgreSQL
    /// restarted during a large feed read; a query read whole never leaves rows waiting. Use it
    /// for any statement that can return many rows.
    func allRows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        let result: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        return Array(try await result.get())
    }

    /// Runs a statement to its end and counts the rows it returned. An error raised while the
    /// statement runs arrives with its rows: a statement whose rows were never read could fail
    /// unseen, and the COMMIT that follows would quietly roll the transaction back.
    @discardableResult
    func run(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        var count = 0
        for try await _ in try await self.query(query, logger: logger) { count += 1 }
        return count
    }
}

extension String {
    /// False for text PostgreSQL cannot store: text with a NUL character.
    var isStorable: Bool { !utf8.contains(0) }
}
