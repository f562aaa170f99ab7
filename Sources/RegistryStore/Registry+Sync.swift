import GRDB
import GRDBSQLite
import RegistryCore

/// A run of local changes frozen for the hub: whole transactions, retried with the same id
/// until the hub answers.
public struct OutboxBatch: Sendable {
    public var batchId: String
    /// The batch's changes in log order (the order of the receipt's results).
    public var changes: [OutboxChange]
    public var firstSeq: Int64
    public var lastSeq: Int64
}

/// One change of a frozen batch: what its answer is recorded against.
public struct OutboxChange: Sendable, Hashable {
    public var changeId: String
    public var table: String
    public var rowId: String
    /// True for an insert: accepted, its fields' revisions need no row (migration 005).
    public var isInsert = false

    public init(changeId: String, table: String, rowId: String, isInsert: Bool = false) {
        self.changeId = changeId
        self.table = table
        self.rowId = rowId
        self.isInsert = isInsert
    }
}

/// One change_log row as the outbox reads it. The texts are borrowed from SQLite and valid
/// only during the call that receives them; `entry` copies the row out.
public struct OutboxRow {
    public var seq: Int64
    public var changeId: UnsafeBufferPointer<UInt8>
    public var txId: UnsafeBufferPointer<UInt8>
    public var table: UnsafeBufferPointer<UInt8>
    public var rowId: UnsafeBufferPointer<UInt8>
    public var op: UnsafeBufferPointer<UInt8>
    /// Canonical JSON `{field: {"new": v, "old": v, "rev": base revision}}` as stored.
    public var fields: UnsafeBufferPointer<UInt8>
    public var hlc: UnsafeBufferPointer<UInt8>
    public var author: UnsafeBufferPointer<UInt8>
    public var conflictId: UnsafeBufferPointer<UInt8>?

    /// The row as a change log entry (its hashes and origin left empty: the outbox does not read them).
    public func entry() throws(StoreError) -> ChangeLogEntry {
        func text(_ b: UnsafeBufferPointer<UInt8>) -> String { String(decoding: b, as: UTF8.self) }
        guard let op = ChangeLogEntry.Operation(rawValue: text(op)) else {
            throw .tampered("change log row \(seq) has an unknown operation")
        }
        return ChangeLogEntry(
            seq: seq, changeId: text(changeId), txId: text(txId), table: text(table), rowId: text(rowId),
            op: op, fields: text(fields),
            conflictId: conflictId.map(text), hlc: text(hlc), author: text(author), origin: "", prevHash: "", hash: "")
    }
}

/// The hub's answer for one pushed change.
public struct PushOutcome: Sendable, Hashable {
    public enum Status: String, Sendable { case accepted, conflict, rejected }

    public var changeId: String
    public var status: Status
    public var hubSeq: Int64?
    /// The hub revision of each field it applied.
    public var revisions: [FieldRevision]
    public var reason: String?

    public init(changeId: String, status: Status, hubSeq: Int64?, revisions: [FieldRevision], reason: String?) {
        self.changeId = changeId
        self.status = status
        self.hubSeq = hubSeq
        self.revisions = revisions
        self.reason = reason
    }
}

/// A field's revision as the hub confirmed it.
public struct FieldRevision: Sendable, Hashable {
    public var field: String
    public var revision: Int64

    public init(field: String, revision: Int64) {
        self.field = field
        self.revision = revision
    }
}

/// A conflict as the hub recorded it: `localValue` is the stale edit that lost (made at
/// `localClinic`), `remoteValue` the value standing until a person decides.
public struct SyncConflict: Sendable, Hashable, Encodable {
    public var id: String
    public var status: String
    public var table: String
    public var recordId: String
    public var field: String
    public var baseValue: FieldValue
    public var localValue: FieldValue
    public var remoteValue: FieldValue
    public var localClinic: String
    public var changeId: String
    public var resolvedValue: FieldValue?
    public var hubSeq: Int64

    public init(
        id: String, status: String, table: String, recordId: String, field: String, baseValue: FieldValue,
        localValue: FieldValue, remoteValue: FieldValue, localClinic: String, changeId: String,
        resolvedValue: FieldValue?, hubSeq: Int64
    ) {
        self.id = id
        self.status = status
        self.table = table
        self.recordId = recordId
        self.field = field
        self.baseValue = baseValue
        self.localValue = localValue
        self.remoteValue = remoteValue
        self.localClinic = localClinic
        self.changeId = changeId
        self.resolvedValue = resolvedValue
        self.hubSeq = hubSeq
    }

    enum CodingKeys: String, CodingKey {
        case id, status, table, recordId, field, baseValue, localValue, remoteValue, localClinic, changeId, resolvedValue
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(status, forKey: .status)
        try c.encode(table, forKey: .table)
        try c.encode(recordId, forKey: .recordId)
        try c.encode(field, forKey: .field)
        for (key, value) in [(CodingKeys.baseValue, baseValue), (.localValue, localValue), (.remoteValue, remoteValue)] {
            try c.encode(JSONScalar(value), forKey: key)
        }
        try c.encode(localClinic, forKey: .localClinic)
        try c.encode(changeId, forKey: .changeId)
        try c.encode(resolvedValue.map(JSONScalar.init), forKey: .resolvedValue)
    }
}

/// A field value encoded as a bare JSON scalar.
struct JSONScalar: Encodable {
    let value: FieldValue
    init(_ value: FieldValue) { self.value = value }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch value {
        case .null: try c.encodeNil()
        case .int(let i): try c.encode(i)
        case .text(let s): try c.encode(s)
        }
    }
}

/// A change accepted at the hub, as the feed delivers it: field revisions are the ones the
/// hub assigned, `origin` the clinic that made it.
public struct RemoteChange: Sendable, Hashable {
    public var changeId: String
    public var txId: String
    public var table: String
    public var rowId: String
    public var op: ChangeLogEntry.Operation
    /// Sorted by field name, each name once.
    public var fields: [ChangeLogEntry.FieldChange]
    public var conflictId: String?
    public var hlc: String
    public var author: String
    public var origin: String

    /// `fields` are sorted by name here when they are not already.
    public init(
        changeId: String, txId: String, table: String, rowId: String, op: ChangeLogEntry.Operation,
        fields: [ChangeLogEntry.FieldChange], conflictId: String?, hlc: String, author: String, origin: String
    ) {
        self.changeId = changeId
        self.txId = txId
        self.table = table
        self.rowId = rowId
        self.op = op
        let sorted = zip(fields, fields.dropFirst()).allSatisfy { $0.field < $1.field }
        self.fields = sorted ? fields : fields.sorted { $0.field < $1.field }
        self.conflictId = conflictId
        self.hlc = hlc
        self.author = author
        self.origin = origin
    }
}

/// One entry pulled from the hub feed, in hub order.
public enum PulledEntry: Sendable, Hashable {
    /// A change accepted at the hub.
    case change(seq: Int64, RemoteChange)
    case conflict(seq: Int64, SyncConflict)
    case resolution(seq: Int64, RemoteChange, SyncConflict)

    /// The entry's place in the hub's feed.
    public var seq: Int64 {
        switch self {
        case .change(let seq, _), .conflict(let seq, _), .resolution(let seq, _, _): seq
        }
    }
}

/// A page of the hub feed readied to apply (``Registry/preparePulled(_:)``).
public struct PreparedPull: Sendable {
    public let entries: [PulledEntry]
    let inserts: [PreparedInsert?]
}

/// Where sync stands, for `emreg sync status`.
public struct SyncStatus: Sendable, Encodable {
    public var pendingChanges: Int
    public var frozenBatch: String?
    public var lastPushAt: String?
    public var lastPullAt: String?
    public var pullCursor: Int64
    public var openConflicts: Int
    public var rejectedChanges: Int
}

extension Registry {
    /// The oldest frozen batch still waiting for an answer after `after` (default: the push
    /// cursor), else a new batch frozen from the pending local changes after it (never
    /// splitting a transaction), else nil when nothing is pending. `row` sees each change of
    /// the batch in log order, inside the freezing transaction (the caller writes the request
    /// body from it). Several batches may be frozen ahead of their answers (a pipelined push);
    /// they are answered, and so sent after a restart, in order.
    public func nextOutboxBatch(maxChanges: Int, after: Int64? = nil, row: (OutboxRow) throws -> Void) throws(StoreError)
        -> OutboxBatch?
    {
        try storeErrors {
            try database.write { db -> OutboxBatch? in
                let start = try after ?? (Self.state(db, "push_cursor").flatMap { Int64($0) } ?? 0)
                if let frozen = try Row.fetchOne(
                    db,
                    sql: """
                        SELECT batch_id, first_seq, last_seq FROM sync_batches
                        WHERE answered_at IS NULL AND last_seq > ? ORDER BY first_seq LIMIT 1
                        """,
                    arguments: [start])
                {
                    let first: Int64 = frozen[1], last: Int64 = frozen[2]
                    var changes = [OutboxChange]()
                    try Self.outboxRows(db, clinic: clinic, after: first - 1, through: last) { r in
                        changes.append(Self.outboxChange(r))
                        try row(r)
                        return true
                    }
                    return OutboxBatch(batchId: frozen[0], changes: changes, firstSeq: first, lastSeq: last)
                }
                var changes = [OutboxChange]()
                var lastTx = [UInt8]()
                var first: Int64 = 0, last: Int64 = 0
                try Self.outboxRows(db, clinic: clinic, after: start, through: nil) { r in
                    let sameTx = lastTx.withUnsafeBufferPointer { Self.same(r.txId, $0) }
                    // Stop at a transaction boundary once the batch is full.
                    if changes.count >= maxChanges && !sameTx { return false }
                    // A single transaction larger than the hub accepts (a big import) is split
                    // as a last resort, in order, rather than blocking the outbox forever.
                    if changes.count >= 20_000 { return false }
                    if !sameTx { lastTx = Array(r.txId) }
                    if changes.isEmpty { first = r.seq }
                    last = r.seq
                    changes.append(Self.outboxChange(r))
                    try row(r)
                    return true
                }
                guard !changes.isEmpty else { return nil }
                let batchId = EntityID.make()
                try db.execute(
                    sql: "INSERT INTO sync_batches (batch_id, first_seq, last_seq, changes, frozen_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [batchId, first, last, changes.count, Clock.timestamp()])
                return OutboxBatch(batchId: batchId, changes: changes, firstSeq: first, lastSeq: last)
            }
        }
    }

    static func outboxChange(_ r: OutboxRow) -> OutboxChange {
        OutboxChange(
            changeId: String(decoding: r.changeId, as: UTF8.self), table: String(decoding: r.table, as: UTF8.self),
            rowId: String(decoding: r.rowId, as: UTF8.self), isInsert: Self.same(r.op, "insert"))
    }

    /// True when `a` and `b` hold the same bytes (word by word: `elementsEqual` goes byte by byte
    /// through generic iterators, a thousand instructions for a transaction id).
    static func same(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        guard let x = a.baseAddress, let y = b.baseAddress else { return true }
        return JSONCursor.same(x, y, count: a.count)
    }

    static func same(_ a: UnsafeBufferPointer<UInt8>, _ literal: StaticString) -> Bool {
        same(a, UnsafeBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount))
    }

    /// This clinic's synced change_log rows after `after` (through `through`), in log order,
    /// read through the SQLite C API; `body` returns false to stop.
    static func outboxRows(
        _ db: Database, clinic: String, after: Int64, through: Int64?, _ body: (OutboxRow) throws -> Bool
    ) throws {
        let select = try SyncStatement(
            db,
            """
            SELECT seq, change_id, tx_id, table_name, row_id, op, fields, hlc, author, conflict_id FROM change_log
            WHERE seq > ? AND seq <= ? AND origin = ? AND table_name <> ? ORDER BY seq
            """)
        select.bind(1, after)
        select.bind(2, through ?? Int64.max)
        select.bind(3, clinic)
        select.bind(4, Entity.identity.table)
        try select.rows { s in
            func text(_ c: Int32) -> UnsafeBufferPointer<UInt8> {
                let n = Int(sqlite3_column_bytes(s, c))
                return UnsafeBufferPointer(start: sqlite3_column_text(s, c), count: n)
            }
            let row = OutboxRow(
                seq: sqlite3_column_int64(s, 0), changeId: text(1), txId: text(2), table: text(3), rowId: text(4),
                op: text(5), fields: text(6), hlc: text(7), author: text(8),
                conflictId: sqlite3_column_type(s, 9) == SQLITE_NULL ? nil : text(9))
            return try body(row)
        }
    }

    /// Records the hub's answer to a batch in one transaction: outcomes, confirmed field
    /// revisions, the batch closed and the push cursor moved past it. The sync engine has checked
    /// that they answer each of the batch's changes once (`SyncEngine.checkAnswers`); they
    /// normally come in the batch's order.
    public func recordPushOutcomes(_ batch: OutboxBatch, _ outcomes: [PushOutcome]) throws(StoreError) {
        try storeErrors {
            try database.write { db in
                // Each outcome with the change it answers: by position, as a receipt answers in
                // the batch's order, or else by change id.
                var answered = [(outcome: Int, change: Int)]()
                answered.reserveCapacity(outcomes.count)
                var byId: [String: Int]?
                for (i, o) in outcomes.enumerated() {
                    if i < batch.changes.count && batch.changes[i].changeId == o.changeId {
                        answered.append((i, i))
                        continue
                    }
                    if byId == nil {
                        byId = Dictionary(batch.changes.enumerated().map { ($1.changeId, $0) }, uniquingKeysWith: { a, _ in a })
                    }
                    if let k = byId![o.changeId] { answered.append((i, k)) }
                }
                _ = try SyncStatement.insertRows(
                    db, into: "sync_outcomes", columns: ["change_id", "status", "hub_seq", "reason"], count: answered.count,
                    replacing: true
                ) { s, p, k in
                    let o = outcomes[answered[k].outcome]
                    s.bind(p, o.changeId)
                    s.bind(p + 1, o.status.rawValue)
                    s.bind(p + 2, o.hubSeq)
                    s.bind(p + 3, o.reason)
                }
                let revisions = try RevisionWriter(db)
                for (i, k) in answered {
                    let (o, change) = (outcomes[i], batch.changes[k])
                    // An accepted insert's fields are all at the hub's first revision: its
                    // change-log entry and this outcome say so (migration 005), with no row.
                    let firstRevisions = change.isInsert && o.status == .accepted && o.revisions.allSatisfy { $0.revision == 1 }
                    if !o.revisions.isEmpty && !firstRevisions {
                        try revisions.set(change.table, change.rowId, o.revisions.lazy.map { ($0.field, $0.revision) })
                    }
                }
                try db.execute(
                    sql: "UPDATE sync_batches SET answered_at = ? WHERE batch_id = ?", arguments: [Clock.timestamp(), batch.batchId])
                try Self.setState(db, "push_cursor", String(batch.lastSeq))
                try Self.setState(db, "last_push_at", Clock.timestamp())
            }
        }
    }

    /// The hub cursor pulled changes are applied after.
    public func pullCursor() throws(StoreError) -> Int64 {
        try storeErrors { try database.read { try Self.state($0, "pull_cursor").flatMap { Int64($0) } ?? 0 } }
    }

    /// Readies a page of the hub feed for ``applyPulled(_:next:)-(PreparedPull,_)``: the work
    /// that needs no database, done on any thread (the sync engine's fetching one, while the page
    /// before is applied).
    public static func preparePulled(_ entries: [PulledEntry]) -> PreparedPull {
        PreparedPull(
            entries: entries,
            inserts: entries.map { e in
                guard case .change(let seq, let change) = e else { return nil }
                return PreparedInsert(change, seq: seq)
            })
    }

    public func applyPulled(_ entries: [PulledEntry], next: Int64) throws(StoreError) {
        try applyPulled(Self.preparePulled(entries), next: next)
    }

    /// Applies a page of the hub feed and moves the pull cursor, in one transaction: a kill
    /// at any instant leaves either the whole page applied or none of it.
    public func applyPulled(_ page: PreparedPull, next: Int64) throws(StoreError) {
        try storeErrors {
            try database.write { db in
                // A page writes thousands of rows across a handful of B-trees: keep their
                // pages in memory from one page to the next (SQLite's default cache is 2 MB).
                try db.execute(sql: "PRAGMA cache_size = -65536")
                var applier = try RemoteApplier(db: db, registry: self)
                // Entries read in place (a `zip` would copy each, and its readied insert).
                try page.entries.withUnsafeBufferPointer { entries in
                    try page.inserts.withUnsafeBufferPointer { inserts in
                        for i in entries.indices { try applier.apply(entries[i], prepared: inserts[i]) }
                    }
                }
                try applier.flushLog()
                try applier.checkReferences()
                try Self.setState(db, "pull_cursor", String(next))
                try Self.setState(db, "last_pull_at", Clock.timestamp())
            }
        }
    }

    public func syncStatus() throws(StoreError) -> SyncStatus {
        try storeErrors {
            try database.read { db in
                let cursor = try Self.state(db, "push_cursor").flatMap { Int64($0) } ?? 0
                return SyncStatus(
                    pendingChanges: try Int.fetchOne(
                        db, sql: "SELECT COUNT(*) FROM change_log WHERE seq > ? AND origin = ? AND table_name <> ?",
                        arguments: [cursor, clinic, Entity.identity.table]) ?? 0,
                    frozenBatch: try String.fetchOne(db, sql: "SELECT batch_id FROM sync_batches WHERE answered_at IS NULL"),
                    lastPushAt: try Self.state(db, "last_push_at"), lastPullAt: try Self.state(db, "last_pull_at"),
                    pullCursor: try Self.state(db, "pull_cursor").flatMap { Int64($0) } ?? 0,
                    openConflicts: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conflicts WHERE status = 'open'") ?? 0,
                    rejectedChanges: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM sync_outcomes WHERE status = 'rejected'") ?? 0)
            }
        }
    }

    /// Outcomes of pushed changes, for accounting: change id → status.
    public func pushOutcomes() throws(StoreError) -> [String: PushOutcome.Status] {
        try storeErrors {
            try database.read { db in
                var out = [String: PushOutcome.Status]()
                for row in try Row.fetchAll(db, sql: "SELECT change_id, status FROM sync_outcomes") {
                    out[row[0]] = PushOutcome.Status(rawValue: row[1])
                }
                return out
            }
        }
    }

    public func conflicts(openOnly: Bool = false) throws(StoreError) -> [SyncConflict] {
        try storeErrors {
            try database.read { db in
                try Row.fetchAll(
                    db, sql: "SELECT * FROM conflicts" + (openOnly ? " WHERE status = 'open'" : "") + " ORDER BY hub_seq"
                ).map(SyncConflict.init(row:))
            }
        }
    }

    /// Decides an open conflict: the chosen value is written locally at once and goes to
    /// the hub as a `resolve` change, which closes the conflict at every clinic.
    public func resolveConflict(id: String, value: FieldValue) throws(StoreError) -> SyncConflict {
        try storeErrors { try resolve(id: id, value: value) }
    }

    private func resolve(id: String, value: FieldValue) throws -> SyncConflict {
        try write { tx in
            guard let row = try Row.fetchOne(tx.db, sql: "SELECT * FROM conflicts WHERE id = ?", arguments: [id]) else {
                throw StoreError.invalid(FieldError("id", "no conflict with id \(id)", accepted: "an id from `emreg conflicts list`"))
            }
            let c = try SyncConflict(row: row)
            guard c.status == "open" else {
                throw StoreError.invalid(FieldError("id", "conflict \(id) is already resolved", accepted: "an open conflict"))
            }
            guard let entity = Entity(table: c.table) else { throw StoreError.tampered("conflict \(id) names an unknown table") }
            let current = try RemoteApplier.value(tx.db, entity, c.recordId, c.field)
            try RemoteApplier.setField(tx.db, entity, c.recordId, c.field, value, stamp: tx.log.timestamp)
            if !Entity.tombstoneFields.contains(c.field) { try tx.revalidate(entity, c.recordId) }
            let rev = try tx.revision(entity, c.recordId, c.field)
            try tx.log.append(
                db: tx.db, table: c.table, rowId: c.recordId, op: .resolve,
                changes: [.init(field: c.field, old: current, new: value, baseRevision: rev)], conflictId: id)
            return c
        }
    }

    /// Moves the pull cursor back, so the next pull delivers entries again (tests of
    /// repeated and reordered delivery; recovery after restoring a backup).
    public func rewindPullCursor(to seq: Int64) throws(StoreError) {
        try storeErrors { try database.write { try Self.setState($0, "pull_cursor", String(seq)) } }
    }

    static func state(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM sync_state WHERE key = ?"), arguments: [key])
    }

    static func setState(_ db: Database, _ key: String, _ value: String) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)").execute(arguments: [key, value])
    }

    static func setRevision(_ db: Database, _ table: String, _ rowId: String, _ field: String, _ revision: Int64) throws {
        try RevisionWriter(db).set(table, rowId, CollectionOfOne((field, revision)))
    }
}

extension SyncConflict {
    init(row: Row) throws {
        func value(_ column: String) throws -> FieldValue {
            guard let text: String = row[column], let v = try JSON.parse(text).fieldValue else {
                throw StoreError.tampered("conflict \(row["id"] as String? ?? "?") has an unreadable \(column)")
            }
            return v
        }
        self.init(
            id: row["id"], status: row["status"], table: row["table_name"], recordId: row["row_id"], field: row["field"],
            baseValue: try value("base_value"), localValue: try value("local_value"), remoteValue: try value("remote_value"),
            localClinic: row["local_clinic"], changeId: row["change_id"],
            resolvedValue: row["resolved_value"] == nil ? nil : try value("resolved_value"), hubSeq: row["hub_seq"])
    }
}

extension RegistryReader {
    /// The most recently answered batch, its changes read from the log (`row` sees each, in
    /// order, as the push did when it was sent).
    public func lastAnsweredBatch(row: (OutboxRow) throws -> Void) throws -> OutboxBatch? {
        guard let batch = try Row.fetchOne(
            db, sql: "SELECT batch_id, first_seq, last_seq FROM sync_batches WHERE answered_at IS NOT NULL ORDER BY last_seq DESC LIMIT 1")
        else { return nil }
        let first: Int64 = batch[1], last: Int64 = batch[2]
        var changes = [OutboxChange]()
        try Registry.outboxRows(db, clinic: try meta("clinic") ?? "", after: first - 1, through: last) { r in
            changes.append(Registry.outboxChange(r))
            try row(r)
            return true
        }
        return OutboxBatch(batchId: batch[0], changes: changes, firstSeq: first, lastSeq: last)
    }

    /// Every synced record as one line of text, in a fixed order: what must be identical at
    /// every clinic once sync has settled (local stamps and identity left out).
    public func canonicalSyncedDump() throws -> [String] {
        var lines = [String]()
        for entity in Entity.allCases where entity.isSynced {
            let columns = [entity.idColumn] + entity.columns + ["origin", "deleted_at", "delete_reason"]
            for row in try Row.fetchAll(db, sql: "SELECT \(columns.joined(separator: ", ")) FROM \(entity.table) ORDER BY 1") {
                lines.append(entity.table + "|" + (0..<columns.count).map { ((row[$0] as FieldValue?) ?? .null).description }.joined(separator: "|"))
            }
        }
        return lines
    }

    /// Ids of the synced changes this clinic made.
    public func localChangeIds(origin: String) throws -> [String] {
        try String.fetchAll(
            db, sql: "SELECT change_id FROM change_log WHERE origin = ? AND table_name <> ? ORDER BY seq",
            arguments: [origin, Entity.identity.table])
    }
}
