import PostgresNIO
import RegistryCore
import RegistrySync

extension PostgresHubStore {
    public func applyBatch(_ batch: PreparedBatch, id: String, bodySHA256: String) async throws(HubError)
        -> BatchOutcome
    {
        let lookups = Lookups(batch.needs)
        return try await postgresErrors(nil) {
            try await batchGate.pass {
                try await withConnection { [self] c in
                    if let known = rememberedRecords(for: batch.batch, lookups) {
                        do {
                            return try await applyRemembered(batch, known, id: id, bodySHA256: bodySHA256, c)
                        } catch where Self.isWorthRetrying(error) && !c.isClosed {
                            // A remembered record changed, or a key the batch took for new or
                            // unanswered was taken: read them.
                            remembered.forget(lookups.keys)
                        }
                    }
                    // A batch that met another's commit of the same new record, change id or
                    // batch id (a unique key) or a deadlock is tried again: it then sees the commit.
                    var attempt = 1
                    while true {
                        do {
                            return try await apply(batch, lookups, id: id, bodySHA256: bodySHA256, c)
                        } catch where attempt < 3 && Self.isWorthRetrying(error) && !c.isClosed {
                            attempt += 1
                        }
                    }
                }
            }
        }
    }

    /// One batch in one transaction. Nothing waits for the one counter lock while it reads: the
    /// records the batch touches are locked row by row (FOR UPDATE, in key order), so batches
    /// touching the same records apply one after the other and others side by side. The batch is
    /// then applied with its feed entries numbered from 0, and the database numbers them as it
    /// writes them (``WriteBatch``): the counter lock, which keeps the feed gap-free in commit
    /// order, is taken by that one statement and held until the COMMIT queued behind it, which
    /// postgres-nio sends as soon as the write is answered: one network round trip, and none of
    /// the hub's work, happens while a batch holds the lock.
    func apply(
        _ batch: PreparedBatch, _ lookups: Lookups, id: String, bodySHA256: String, _ c: PostgresConnection
    ) async throws -> BatchOutcome {
        let clinic = batch.clinic
        try await statements.prepare([Self.storedBatchSQL, LoadTouched.sql, WriteBatch.sql], on: c)
        // BEGIN, the stored answer of a retried batch id, and the touched records, locked.
        let begun = c.collect("BEGIN", logger: logger)
        var idBind = PreparedBinds(capacity: 1)
        try idBind.append(id)
        let storedBatch = statements.execute(Self.storedBatchSQL, idBind, on: c)
        let touched = statements.execute(LoadTouched.sql, try LoadTouched.binds(lookups), on: c)
        let conflicts =
            lookups.conflictIds.isEmpty
            ? nil
            : c.collect(
                "SELECT conflict FROM hub_conflicts WHERE id = ANY(\(lookups.conflictIds)::text[]) ORDER BY id FOR UPDATE",
                logger: logger)
        do {
            _ = try await begun.get()
            if let row = try await storedBatch.get().first {
                _ = try? await touched.get()
                _ = try? await conflicts?.get()
                let (batchRow, storedClinic, storedSHA256, gzip, base) = (
                    try row.decode(0, as: Int64.self), try row.decode(1, as: String.self), try row.decode(2, as: String.self),
                    try row.decode(3, as: ByteBuffer.self), try row.decode(4, as: Int64.self)
                )
                // A retry (rare): the batch's own answers are the ones hub_changes points at.
                let positions =
                    base == 0
                    ? []
                    : try await c.allRows(
                        """
                        SELECT position FROM hub_changes
                        WHERE change_id = ANY(\(lookups.changeIds)::text[]) AND batch = \(batchRow)
                        """, logger: logger
                    ).map { Int(try $0.decode(Int32.self)) }
                try await c.finish(commit: false, logger: logger)
                guard storedClinic == clinic && storedSHA256 == bodySHA256 else { return .idTaken }
                let stored = Array(gzip.readableBytesView)
                let json = try StoredReceipt.inflate(stored, batchId: id)
                let receipt = try StoredReceipt.shifted(json, by: base, positions: Set(positions))
                return .receipt(json: receipt, gzip: receipt == json ? stored : JSONResponse.compress(receipt))
            }
            var (snapshot, read) = try await snapshot(c, touched: try await touched.get())
            if let conflicts {
                for row in try await conflicts.get().rows {
                    let conflict = try WireConflict.stored(try row.decode(String.self))
                    snapshot.conflicts[conflict.id] = conflict
                }
            }
            let existed = Set(snapshot.records.keys)
            snapshot.lastSeq = 0
            var application = BatchApplication(batchId: id, clinic: clinic, snapshot: snapshot)
            let effects = application.apply(batch)
            let write = WriteBatch(
                effects: effects, existed: existed, batchId: id, clinic: clinic, bodySHA256: bodySHA256,
                changeCount: batch.batch.changes.count)
            let written = statements.execute(WriteBatch.sql, try write.binds, on: c)
            let resolved = effects.resolvedConflicts
            // After the write above, which moved the counter on by the batch's entries: a conflict
            // raised and resolved in one batch is updated too.
            let resolutions =
                resolved.isEmpty
                ? nil
                : c.collect(
                    """
                    UPDATE hub_conflicts SET status = 'resolved', resolved_seq = c.last_seq - \(Int64(effects.feed.count)) + r.seq,
                        conflict = r.conflict
                    FROM unnest(\(resolved.map(\.conflict.id))::text[], \(resolved.map(\.seq))::bigint[],
                        \(resolved.map(\.json))::text[]) AS r(id, seq, conflict), hub_counter c
                    WHERE hub_conflicts.id = r.id AND c.id = 1
                    """, logger: logger)
            let committed = c.collect("COMMIT", logger: logger)
            // An error in the write or the resolutions turns that COMMIT into a rollback.
            let base = try write.base(try await written.get())
            _ = try await resolutions?.get()
            let tag = try await committed.get().metadata.command
            guard tag == "COMMIT" else { throw HubError.database("PostgreSQL answered \(tag) to COMMIT") }
            remembered.keep(read)
            return try afterCommit(write, base: base)
        } catch {
            if !c.isClosed { try? await c.finish(commit: false, logger: logger) }
            throw error
        }
    }

    /// The records `batch` reads as this hub remembers them, if it remembers every one the batch
    /// does not create and the batch resolves no conflict (those it always reads); nil otherwise.
    func rememberedRecords(for batch: SyncBatch, _ lookups: Lookups) -> [RecordKey: RememberedRecords.Record]? {
        guard lookups.conflictIds.isEmpty, !batch.changes.contains(where: { $0.op == .resolve }) else { return nil }
        let created = Set(batch.changes.lazy.filter { $0.op == .insert }.map { RecordKey(table: $0.table, rowId: $0.rowId) })
        return remembered.records(lookups.keys, created: created)
    }

    /// One batch in one round trip: applied in memory against the records the hub remembers, as if
    /// every record it creates were new and every change and the batch id unanswered, then sent
    /// as one statement, which is its own transaction: the check that the remembered records are
    /// unchanged (locking them), then the write. Any guess that was wrong fails the statement
    /// before it commits: a remembered record changed (a serialization failure), a record it
    /// created, a change it sent or its batch id already known (a unique key). The caller then
    /// applies the batch the usual way (``apply(_:_:id:bodySHA256:_:)``), which reads them.
    func applyRemembered(
        _ batch: PreparedBatch, _ known: [RecordKey: RememberedRecords.Record], id: String, bodySHA256: String,
        _ c: PostgresConnection
    ) async throws -> BatchOutcome {
        let clinic = batch.clinic
        var snapshot = HubSnapshot()
        for (key, record) in known {
            snapshot.records[key] = try HubRecord(origin: record.origin, fieldsJSON: record.fieldsJSON)
        }
        var application = BatchApplication(batchId: id, clinic: clinic, snapshot: snapshot)
        let effects = application.apply(batch)
        let write = WriteBatch(
            effects: effects, existed: Set(known.keys), batchId: id, clinic: clinic, bodySHA256: bodySHA256,
            changeCount: batch.batch.changes.count)
        var binds = try write.binds
        let sql: String
        if known.isEmpty {
            sql = WriteBatch.sql
        } else {
            sql = WriteBatch.sqlVerifyingRemembered
            try VerifyRemembered.append(known, to: &binds)
        }
        try await statements.prepare([sql], on: c)
        let base = try write.base(try await statements.execute(sql, binds, on: c).get())
        appliedInOneRoundTrip.add(1, ordering: .relaxed)
        return try afterCommit(write, base: base)
    }

    /// What follows a batch's commit: its feed entries and records kept for the next readers and
    /// batches, and its receipt numbered from `base`.
    func afterCommit(_ write: WriteBatch, base: Int64) throws -> BatchOutcome {
        // The next clinics pulling find the batch's entries kept, as if this hub had read them.
        feedEntries.keep(try write.entries(base: base))
        remembered.keep(write.written.lazy.map { (key: $0.key, record: $0.record) })
        let effects = write.effects
        let receipt = try StoredReceipt.shifted(effects, by: base)
        return .receipt(json: receipt, gzip: receipt == effects.receiptJSON ? write.receiptGzip : JSONResponse.compress(receipt))
    }

    static let storedBatchSQL =
        "SELECT id, clinic, body_sha256, receipt_gzip, seq_base FROM hub_batches WHERE batch_id = $1::text"

    /// A unique key taken by another batch's commit (a retried batch id, a change id sent again,
    /// a new record created meanwhile), a deadlock, a serialization failure, a prepared statement
    /// to prepare again: tried again.
    static func isWorthRetrying(_ error: any Error) -> Bool {
        if PostgresPreparedStatements.isOutdated(error) { return true }
        guard let state = PostgresFailure.server(error)?.state else { return false }
        return ["23505", "40P01", "40001"].contains(state)
    }

    /// The keys a batch needs, each once, as arrays to bind.
    struct Lookups: Sendable {
        var tables: [String] = []
        var rowIds: [String] = []
        var changeIds: [String]
        var conflictIds: [String]

        /// Keys holding NUL are left out: PostgreSQL text cannot hold one, so no row has such a
        /// key, and the protocol rejects the change anyway (ids are UUIDs, tables are named).
        init(_ needs: BatchNeeds) {
            for (table, ids) in needs.records where table.isStorable {
                for rowId in Set(ids) where rowId.isStorable {
                    tables.append(table)
                    rowIds.append(rowId)
                }
            }
            changeIds = Array(Set(needs.changeIds.filter(\.isStorable)))
            conflictIds = Array(Set(needs.conflictIds.filter(\.isStorable)))
        }

        var keys: some Sequence<RecordKey> { zip(tables, rowIds).lazy.map { RecordKey(table: $0, rowId: $1) } }
    }

    /// The records a batch touches (locked) and its changes answered before, with the receipts
    /// those answers are in.
    func snapshot(_ c: PostgresConnection, touched: [PreparedRow]) async throws
        -> (HubSnapshot, read: [(key: RecordKey, record: RememberedRecords.Record)])
    {
        var snapshot = HubSnapshot()
        var read = [(key: RecordKey, record: RememberedRecords.Record)]()
        var earlier = [StoredAnswer]()
        for row in touched {
            let (kind, a, b, c, fields) = (
                try row.decode(0, as: String.self), try row.decode(1, as: String.self), try row.decode(2, as: String.self),
                try row.decode(3, as: String.self), try row.decode(4, as: String.self)
            )
            let (batchRow, position) = (try row.decode(5, as: Int64.self), try row.decode(6, as: Int32.self))
            if kind == "r" {
                let key = RecordKey(table: a, rowId: b)
                snapshot.records[key] = try HubRecord(origin: c, fieldsJSON: fields)
                read.append((key, RememberedRecords.Record(origin: c, fieldsJSON: fields)))
            } else {
                earlier.append(
                    StoredAnswer(changeId: a, clinic: b, status: c, batchRow: batchRow, position: Int(position)))
            }
        }
        if !earlier.isEmpty {
            // Each earlier batch's receipt, read once.
            var receipts = [Int64: (gzip: [UInt8], base: Int64)]()
            let rows = try await c.allRows(
                "SELECT id, receipt_gzip, seq_base FROM hub_batches WHERE id = ANY(\(Array(Set(earlier.map(\.batchRow))))::bigint[])",
                logger: logger)
            for row in rows {
                let (batchRow, gzip, base) = try row.decode((Int64, ByteBuffer, Int64).self)
                receipts[batchRow] = (Array(gzip.readableBytesView), base)
            }
            try snapshot.addProcessed(earlier) { batchRow in
                guard let stored = receipts[batchRow] else {
                    throw HubError.database("the receipt of batch row \(batchRow) is missing")
                }
                return stored
            }
        }
        return (snapshot, read)
    }
}

extension PostgresConnection {
    /// Every row of `query`, each taken as it arrives. postgres-nio (1.33.2) traps when the server
    /// closes a connection while rows of an async row sequence wait for their reader (the row
    /// stream hears "read complete" with no read asked for), which crashed the hub when PostgreSQL
    /// restarted during a large feed read; a query read whole never leaves rows waiting. Use it
    /// for any statement that can return many rows.
    func allRows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        try await collect(query, logger: logger).get().rows
    }

    /// Queues `query` now and returns its whole result to come. Statements queued one after
    /// another run in that order. postgres-nio (1.33.2) sends each only once the one before is
    /// answered, but without waiting for the caller: queuing the next before awaiting the first
    /// saves the way through the caller's task, not the round trip. Read whole, as above.
    func collect(_ query: PostgresQuery, logger: Logger) -> EventLoopFuture<PostgresQueryResult> {
        self.query(query, logger: logger)
    }

    /// COMMIT or ROLLBACK.
    func finish(commit: Bool, logger: Logger) async throws {
        _ = try await collect(commit ? "COMMIT" : "ROLLBACK", logger: logger).get()
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
