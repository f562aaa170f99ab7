import GRDB
import RegistryCore

/// A run of local changes frozen for the hub: whole transactions, retried with the same id
/// until the hub answers.
public struct OutboxBatch: Sendable {
    public var batchId: String
    public var entries: [ChangeLogEntry]
    public var lastSeq: Int64
}

/// The hub's answer for one pushed change.
public struct PushOutcome: Sendable {
    public enum Status: String, Sendable { case accepted, conflict, rejected }

    public var changeId: String
    public var status: Status
    public var hubSeq: Int64?
    public var revisions: [String: Int64]
    public var reason: String?

    public init(changeId: String, status: Status, hubSeq: Int64?, revisions: [String: Int64], reason: String?) {
        self.changeId = changeId
        self.status = status
        self.hubSeq = hubSeq
        self.revisions = revisions
        self.reason = reason
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

/// One entry pulled from the hub feed, in hub order.
public enum PulledEntry: Sendable {
    /// A change accepted at the hub; field revisions are the ones the hub assigned.
    case change(seq: Int64, ChangeLogEntry)
    case conflict(seq: Int64, SyncConflict)
    case resolution(seq: Int64, ChangeLogEntry, SyncConflict)
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
    /// The frozen batch still waiting for an answer, else a new batch frozen from the pending
    /// local changes (never splitting a transaction), else nil when nothing is pending.
    public func nextOutboxBatch(maxChanges: Int) throws(StoreError) -> OutboxBatch? {
        try storeErrors {
            try pool.write { db -> OutboxBatch? in
                let select = "SELECT \(ChangeLogEntry.columns) FROM change_log"
                if let frozen = try Row.fetchOne(
                    db, sql: "SELECT batch_id, first_seq, last_seq FROM sync_batches WHERE answered_at IS NULL ORDER BY first_seq LIMIT 1")
                {
                    let entries = try Row.fetchAll(
                        db, sql: select + " WHERE seq BETWEEN ? AND ? AND origin = ? AND table_name <> ? ORDER BY seq",
                        arguments: [frozen[1], frozen[2], clinic, Entity.identity.table]
                    ).map { try ChangeLogEntry(row: $0) }
                    return OutboxBatch(batchId: frozen[0], entries: entries, lastSeq: frozen[2])
                }
                let cursor = try Self.state(db, "push_cursor").flatMap { Int64($0) } ?? 0
                let rows = try Row.fetchCursor(
                    db, sql: select + " WHERE seq > ? AND origin = ? AND table_name <> ? ORDER BY seq",
                    arguments: [cursor, clinic, Entity.identity.table])
                var entries = [ChangeLogEntry]()
                while let row = try rows.next() {
                    let e = try ChangeLogEntry(row: row)
                    // Stop at a transaction boundary once the batch is full.
                    if entries.count >= maxChanges, let last = entries.last, last.txId != e.txId { break }
                    // A single transaction larger than the hub accepts (a big import) is split
                    // as a last resort, in order, rather than blocking the outbox forever.
                    if entries.count >= 20_000 { break }
                    entries.append(e)
                }
                guard let first = entries.first, let last = entries.last else { return nil }
                let batchId = EntityID.make()
                try db.execute(
                    sql: "INSERT INTO sync_batches (batch_id, first_seq, last_seq, changes, frozen_at) VALUES (?, ?, ?, ?, ?)",
                    arguments: [batchId, first.seq, last.seq, entries.count, Clock.timestamp()])
                return OutboxBatch(batchId: batchId, entries: entries, lastSeq: last.seq)
            }
        }
    }

    /// Records the hub's answer to a batch in one transaction: outcomes, confirmed field
    /// revisions, the batch closed and the push cursor moved past it.
    public func recordPushOutcomes(_ batch: OutboxBatch, _ outcomes: [PushOutcome]) throws(StoreError) {
        try storeErrors {
            try pool.write { db in
                let byId = Dictionary(uniqueKeysWithValues: batch.entries.map { ($0.changeId, $0) })
                for o in outcomes {
                    guard let entry = byId[o.changeId] else { continue }
                    try db.cachedStatement(
                        sql: "INSERT OR REPLACE INTO sync_outcomes (change_id, status, hub_seq, reason) VALUES (?, ?, ?, ?)"
                    ).execute(arguments: [o.changeId, o.status.rawValue, o.hubSeq, o.reason])
                    for (field, revision) in o.revisions {
                        try Self.setRevision(db, entry.table, entry.rowId, field, revision)
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
        try storeErrors { try pool.read { try Self.state($0, "pull_cursor").flatMap { Int64($0) } ?? 0 } }
    }

    /// Applies a page of the hub feed and moves the pull cursor, in one transaction: a kill
    /// at any instant leaves either the whole page applied or none of it.
    public func applyPulled(_ entries: [PulledEntry], next: Int64) throws(StoreError) {
        try storeErrors {
            try pool.write { db in
                var applier = try RemoteApplier(db: db, registry: self)
                for e in entries { try applier.apply(e) }
                try Self.setState(db, "pull_cursor", String(next))
                try Self.setState(db, "last_pull_at", Clock.timestamp())
            }
        }
    }

    public func syncStatus() throws(StoreError) -> SyncStatus {
        try storeErrors {
            try pool.read { db in
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
            try pool.read { db in
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
            try pool.read { db in
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
        try storeErrors { try pool.write { try Self.setState($0, "pull_cursor", String(seq)) } }
    }

    static func state(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM sync_state WHERE key = ?"), arguments: [key])
    }

    static func setState(_ db: Database, _ key: String, _ value: String) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO sync_state (key, value) VALUES (?, ?)").execute(arguments: [key, value])
    }

    static func setRevision(_ db: Database, _ table: String, _ rowId: String, _ field: String, _ revision: Int64) throws {
        try FastInsert.run(
            db,
            db.cachedStatement(
                sql: """
                    INSERT INTO field_revisions (table_name, row_id, field, revision) VALUES (?, ?, ?, ?)
                    ON CONFLICT (table_name, row_id, field) DO UPDATE SET revision = max(revision, excluded.revision)
                    """), [.text(table), .text(rowId), .text(field), .int(revision)])
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
    /// The most recently answered batch, rebuilt from the log as it was sent.
    public func lastAnsweredBatch() throws -> OutboxBatch? {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT batch_id, first_seq, last_seq FROM sync_batches WHERE answered_at IS NOT NULL ORDER BY last_seq DESC LIMIT 1")
        else { return nil }
        let origin = try meta("clinic") ?? ""
        let entries = try Row.fetchAll(
            db, sql: "SELECT \(ChangeLogEntry.columns) FROM change_log WHERE seq BETWEEN ? AND ? AND origin = ? AND table_name <> ? ORDER BY seq",
            arguments: [row[1], row[2], origin, Entity.identity.table]
        ).map { try ChangeLogEntry(row: $0) }
        return OutboxBatch(batchId: row[0], entries: entries, lastSeq: row[2])
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
