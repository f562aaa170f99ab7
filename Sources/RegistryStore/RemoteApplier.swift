import GRDB
import RegistryCore

/// Applies entries pulled from the hub inside one write transaction. Every table write is
/// logged, so `audit verify` still replays the registry exactly; identity never arrives.
struct RemoteApplier {
    let db: Database
    let registry: Registry
    var log: ChangeLogAppender
    /// Reverts and conflict bookkeeping are stamped as the hub's doing, not this clinic's,
    /// so they are never pushed back.
    static let hubOrigin = "hub"

    init(db: Database, registry: Registry) throws {
        self.db = db
        self.registry = registry
        log = try ChangeLogAppender(db: db, author: "sync", origin: Self.hubOrigin)
    }

    mutating func apply(_ entry: PulledEntry) throws {
        switch entry {
        case .change(_, let change):
            try apply(change)
        case .conflict(let seq, let conflict):
            // A conflict delivered again after its resolution must not reopen it.
            let known = try String.fetchOne(db, sql: "SELECT status FROM conflicts WHERE id = ?", arguments: [conflict.id])
            guard known != "resolved" else { return }
            try record(conflict, seq: seq)
            if conflict.localClinic == registry.clinic { try revert(conflict) }
        case .resolution(let seq, let change, let conflict):
            try apply(change)
            try record(conflict, seq: seq)
        }
    }

    /// Applies a change accepted at the hub. A change already in the log (this clinic's own,
    /// or delivered twice) only brings its confirmed revisions.
    mutating func apply(_ change: ChangeLogEntry) throws {
        guard let entity = Entity(table: change.table), entity.isSynced else { return }
        let fields = try change.fieldChanges()
        if try FastRead.row(db, db.cachedStatement(sql: "SELECT 1 FROM change_log WHERE change_id = ?"), change.changeId) != nil {
            for f in fields { try Registry.setRevision(db, change.table, change.rowId, f.field, f.baseRevision) }
            return
        }
        let stamp = log.timestamp
        var logged = [ChangeLogEntry.FieldChange]()
        let exists = try Self.rowExists(db, entity, change.rowId)
        if change.op == .insert && !exists {
            let given = fields.filter { entity.fields.contains($0.field) }
            let columns = [entity.idColumn] + given.map { Entity.column(for: $0.field) } + ["origin", "created_at", "updated_at"]
            // Inserts of one entity nearly always carry the same fields: one prepared statement each.
            let insert = try db.cachedStatement(
                sql: "INSERT INTO \(entity.table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))")
            try FastInsert.run(
                db, insert, [.text(change.rowId)] + given.map(\.new) + [.text(change.origin), .text(stamp), .text(stamp)])
            logged = given.map { .init(field: $0.field, old: .null, new: $0.new, baseRevision: $0.baseRevision) }
        } else if exists {
            for f in fields where entity.fields.contains(f.field) || Entity.tombstoneFields.contains(f.field) {
                let old = try Self.value(db, entity, change.rowId, f.field)
                guard old != f.new else { continue }
                try Self.setField(db, entity, change.rowId, f.field, f.new, stamp: stamp)
                logged.append(.init(field: f.field, old: old, new: f.new, baseRevision: f.baseRevision))
            }
        }
        for f in fields { try Registry.setRevision(db, change.table, change.rowId, f.field, f.baseRevision) }
        guard !logged.isEmpty else { return }
        try log.appendRemote(
            db: db, changeId: change.changeId, table: change.table, rowId: change.rowId, op: change.op, changes: logged,
            conflictId: change.conflictId, remoteHLC: change.hlc, author: change.author, origin: change.origin)
    }

    /// This clinic's edit lost at the hub: put the standing value back until someone decides.
    mutating func revert(_ c: SyncConflict) throws {
        guard let entity = Entity(table: c.table), try Self.rowExists(db, entity, c.recordId) else { return }
        var fields = [(c.field, c.remoteValue)]
        if c.field == "deletedAt" { fields.append(("deleteReason", .null)) }
        var logged = [ChangeLogEntry.FieldChange]()
        let stamp = log.timestamp
        for (field, value) in fields {
            let old = try Self.value(db, entity, c.recordId, field)
            guard old != value else { continue }
            try Self.setField(db, entity, c.recordId, field, value, stamp: stamp)
            logged.append(.init(field: field, old: old, new: value, baseRevision: 0))
        }
        guard !logged.isEmpty else { return }
        try log.append(db: db, table: c.table, rowId: c.recordId, op: .update, changes: logged, conflictId: c.id)
    }

    func record(_ c: SyncConflict, seq: Int64) throws {
        try db.cachedStatement(
            sql: """
                INSERT OR REPLACE INTO conflicts
                  (id, table_name, row_id, field, base_value, local_value, remote_value, local_clinic, change_id, status,
                   resolved_value, hub_seq)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(arguments: [
            c.id, c.table, c.recordId, c.field, JSON(c.baseValue).text, JSON(c.localValue).text, JSON(c.remoteValue).text,
            c.localClinic, c.changeId, c.status, c.resolvedValue.map { JSON($0).text }, seq,
        ])
    }

    static func rowExists(_ db: Database, _ entity: Entity, _ id: String) throws -> Bool {
        try FastRead.row(db, db.cachedStatement(sql: "SELECT 1 FROM \(entity.table) WHERE \(entity.idColumn) = ?"), id) != nil
    }

    static func value(_ db: Database, _ entity: Entity, _ id: String, _ field: String) throws -> FieldValue {
        try FastRead.row(
            db, db.cachedStatement(sql: "SELECT \(Entity.column(for: field)) FROM \(entity.table) WHERE \(entity.idColumn) = ?"), id
        )?.first ?? .null
    }

    static func setField(_ db: Database, _ entity: Entity, _ id: String, _ field: String, _ value: FieldValue, stamp: String) throws {
        try FastInsert.run(
            db, db.cachedStatement(sql: "UPDATE \(entity.table) SET \(Entity.column(for: field)) = ?, updated_at = ? WHERE \(entity.idColumn) = ?"),
            [value, .text(stamp), .text(id)])
    }
}
