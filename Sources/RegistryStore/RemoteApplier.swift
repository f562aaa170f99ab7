import GRDB
import RegistryCore

/// Applies entries pulled from the hub inside one write transaction. Every table write is
/// logged, so `audit verify` still replays the registry exactly; identity never arrives.
///
/// A page holds thousands of changes, nearly all of them inserts of records this clinic has
/// never seen: the statements of that path (is the change already here, does the record
/// exist, the insert, the field revisions) are prepared once per page and driven through the
/// SQLite C API.
struct RemoteApplier {
    let db: Database
    let registry: Registry
    var log: ChangeLogAppender
    /// Reverts and conflict bookkeeping are stamped as the hub's doing, not this clinic's,
    /// so they are never pushed back.
    static let hubOrigin = "hub"

    let inLog: SyncStatement
    /// `SELECT 1 FROM sync_outcomes WHERE change_id = ? AND hub_seq = ?`.
    let answered: SyncStatement
    let revisions: RevisionWriter
    /// Per entity (by layout index): `SELECT 1 FROM table WHERE id = ?`.
    var rowProbes: [SyncStatement?]
    /// INSERTs by entity and the set of fields given (a bit per field of the layout).
    var inserts: [Int: SyncStatement] = [:]
    /// The records the page's changes name, checked when the page is applied
    /// (``checkReferences()``): foreign keys are deferred to the commit, where SQLite would say
    /// only "FOREIGN KEY constraint failed".
    var named: [(seq: Int64, table: String, field: String, parent: Entity, id: String)] = []
    /// The ids of the records of each entity (by ordinal) the page's new inserts made
    /// (``insertNew(_:_:seq:)``): a reference to one needs no probe. Kept only for entities
    /// that other records name.
    var made = Array(repeating: Set<String>(), count: Entity.allCases.count)

    init(db: Database, registry: Registry) throws {
        self.db = db
        self.registry = registry
        log = try ChangeLogAppender(db: db, author: "sync", origin: Self.hubOrigin)
        inLog = try SyncStatement(db, "SELECT 1 FROM change_log WHERE change_id = ?")
        answered = try SyncStatement(db, "SELECT 1 FROM sync_outcomes WHERE change_id = ? AND hub_seq = ?")
        revisions = try RevisionWriter(db)
        rowProbes = Array(repeating: nil, count: EntityLayout.all.count)
    }

    mutating func apply(_ entry: PulledEntry, prepared: PreparedInsert?) throws {
        try stored("feed entry \(entry.seq)") { try $0.applyChecked(entry, prepared: prepared) }
    }

    /// The seqs of the first and last entries whose change-log entries are held back
    /// (``ChangeLogAppender/held``).
    var heldEntries: (first: Int64, last: Int64)?

    /// Inserts the change-log entries held back; then anything may read the log. Run as well
    /// before the page's transaction ends.
    mutating func flushLog() throws {
        guard let (first, last) = heldEntries else { return }
        heldEntries = nil
        let db = self.db
        try stored(first == last ? "feed entry \(first)" : "feed entries \(first) to \(last)") { try $0.log.flush(db: db) }
    }

    /// `body`, a constraint it breaks here (a record it names that this registry lacks) said
    /// as a refusal of `entries` (which, so the operator can find it): the page is not applied.
    mutating func stored(_ entries: String, _ body: (inout Self) throws -> Void) throws {
        do {
            try body(&self)
        } catch let e as DatabaseError {
            throw StoreError.database(
                "the hub's \(entries) cannot be stored in this registry (\(e.message ?? "SQLite error \(e.resultCode.rawValue)")); nothing of its page was applied")
        }
    }

    mutating func applyChecked(_ entry: PulledEntry, prepared: PreparedInsert?) throws {
        // This clinic's own inserts coming back are in the log already: the general way.
        if case .change(let seq, let change) = entry, let prepared, change.origin != registry.clinic,
            try insertNew(change, prepared, seq: seq)
        {
            return
        }
        // Anything else may read the change log: the entries held back go in first.
        try flushLog()
        switch entry {
        case .change(let seq, let change):
            try apply(change, seq: seq)
        case .conflict(let seq, let conflict):
            // A conflict delivered again after its resolution must not reopen it.
            let known = try String.fetchOne(db, sql: "SELECT status FROM conflicts WHERE id = ?", arguments: [conflict.id])
            guard known != "resolved" else { return }
            try record(conflict, seq: seq)
            if conflict.localClinic == registry.clinic { try revert(conflict) }
        case .resolution(let seq, let change, let conflict):
            try apply(change, seq: seq)
            try record(conflict, seq: seq)
        }
    }

    /// Applies a change accepted at the hub (its feed entry `seq`). A change already in the log
    /// (this clinic's own, or delivered twice) only brings its confirmed revisions.
    mutating func apply(_ change: RemoteChange, seq: Int64) throws {
        guard let layout = EntityLayout.byTable[change.table], layout.entity.isSynced else { return }
        let entity = layout.entity
        inLog.bind(1, change.changeId)
        if try inLog.exists() {
            // This clinic's own change coming back, its receipt recorded for this very feed
            // entry: the receipt brought the same revisions (the hub answers with the fields it
            // applied, and feeds the same), so they are in place already.
            if change.origin == registry.clinic {
                answered.bind(1, change.changeId)
                answered.bind(2, seq)
                if try answered.exists() { return }
            }
            try setRevisions(change)
            return
        }
        let exists = try rowExists(layout, change.rowId)
        // An insert not readied before: this clinic's own, coming back to a registry that does
        // not hold it (one made anew under the clinic's code).
        if change.op == .insert && !exists, let prepared = PreparedInsert(change, seq: seq) {
            guard try insertNew(change, prepared, seq: seq) else {
                throw StoreError.database("the \(entity.label) of the hub's feed entry \(seq) appeared while it was applied")
            }
            return
        }
        let stamp = log.timestamp
        var logged = [ChangeLogEntry.FieldChange]()
        try check(change, seq: seq, entity: entity, exists: exists)
        if exists {
            for f in change.fields where layout.index[f.field] != nil || Entity.tombstoneFields.contains(f.field) {
                let old = try Self.value(db, entity, change.rowId, f.field)
                guard old != f.new else { continue }
                try Self.setField(db, entity, change.rowId, f.field, f.new, stamp: stamp)
                logged.append(.init(field: f.field, old: old, new: f.new, baseRevision: f.baseRevision))
            }
        }
        try setRevisions(change)
        guard !logged.isEmpty else { return }
        try log.appendRemote(
            db: db, changeId: change.changeId, table: change.table, rowId: change.rowId, op: change.op, changes: logged,
            conflictId: change.conflictId, remoteHLC: change.hlc, author: change.author, origin: change.origin)
    }

    /// Nearly every pulled change inserts a record this clinic has never seen. Such a change is
    /// not in the log either (no record is ever removed, so a logged insert left its record), so
    /// it goes in with no probe first; false, with nothing written, when the record is here
    /// already (this clinic's own insert coming back, a delivery repeated): ``apply(_:seq:)``
    /// takes it the general way. What it writes was worked out before (``PreparedInsert``).
    mutating func insertNew(_ change: RemoteChange, _ prepared: PreparedInsert, seq: Int64) throws -> Bool {
        let stamp = log.timestamp
        let insert = try insertStatement(prepared.layout, prepared.mask)
        insert.bind(1, change.rowId)
        var column: Int32 = 2
        for value in prepared.values {
            insert.bind(column, value)
            column += 1
        }
        insert.bind(column, change.origin)
        insert.bind(column + 1, stamp)
        insert.bind(column + 2, stamp)
        do {
            guard try insert.insertUnlessPresent() else { return false }
        } catch {
            // A value SQLite refuses (a required field missing, a code its CHECK does not know):
            // the check says which field and what is accepted, as it would have first.
            throw prepared.problem ?? error
        }
        // Refused once in: the refusal aborts the whole page, this insert with it.
        if let problem = prepared.problem { throw problem }
        for r in prepared.references { named.append((seq, change.table, r.field, r.parent, r.id)) }
        if Self.namedByOthers[prepared.layout.entity.ordinal] { made[prepared.layout.entity.ordinal].insert(change.rowId) }
        // No field_revisions row: the revisions the hub gave are the ones its change-log entry
        // holds, and are read from there (``RegistryTransaction/insertRevisions(_:_:)``).
        guard let fields = prepared.loggedFields else { return true }
        // Held back and inserted with others (``flushLog()``): nothing of the fast path reads the log.
        heldEntries = (heldEntries?.first ?? seq, seq)
        try log.appendRemote(
            db: db, changeId: change.changeId, table: change.table, rowId: change.rowId, op: change.op,
            encodedFields: fields, conflictId: change.conflictId, remoteHLC: prepared.clock, author: change.author,
            origin: change.origin, hold: true)
        if log.held >= SyncStatement.rowsPerInsert { try flushLog() }
        return true
    }

    /// The record as the change would leave it must be one this registry can read back, as the
    /// hub checks before it accepts a change: its required fields set, coded values from their
    /// vocabularies, real dates, whole numbers. A registry holding one that is not could no longer
    /// list, report or export (a hub that accepted it before it checked, a clinic on a newer emreg
    /// with a new code). Refused with the field and what is accepted, never the value; the page
    /// is not applied and the sync stops, so nothing is skipped either.
    mutating func check(_ change: RemoteChange, seq: Int64, entity: Entity, exists: Bool) throws {
        // Only an insert writes a record that is not here (an edit of one is not applied).
        guard exists || change.op == .insert else { return }
        for r in Self.references(change, entity) { named.append((seq, change.table, r.field, r.parent, r.id)) }
        let names = entity.fields
        var values: [FieldValue]
        if exists {
            // Only a change to the record's own fields can make it unreadable (a delete sets
            // tombstone fields alone).
            guard change.fields.contains(where: { names.contains($0.field) }) else { return }
            // The row as ``EntitySQL/selectById`` reads it: the id, then the fields in order.
            let row = try FastRead.row(db, db.cachedStatement(sql: EntitySQL.of(entity).selectById), change.rowId) ?? []
            guard row.count > names.count else { return }
            values = Array(row[1...names.count])
        } else {
            values = Array(repeating: .null, count: names.count)
        }
        for f in change.fields {
            if let i = names.firstIndex(of: f.field) { values[i] = f.new }
        }
        if let problem = Self.problem(change, seq: seq, entity: entity, values: values) { throw problem }
    }

    /// Whether records of each entity (by ordinal) are named by others.
    static let namedByOthers = Entity.allCases.map { parent in Entity.allCases.contains { $0.references.contains { $0.entity == parent } } }

    /// The records `change` names by id (a case's patient, a site's case), each to be here once
    /// its page is applied.
    static func references(_ change: RemoteChange, _ entity: Entity) -> [PreparedInsert.Reference] {
        entity.references.compactMap { field, parent in
            guard let f = change.fields.first(where: { $0.field == field }), case .text(let id) = f.new else { return nil }
            return .init(field: field, parent: parent, id: id)
        }
    }

    /// Why the record `values` (the entity's fields in order, as `change` leaves them) cannot be
    /// stored here: a required field missing, a value its type does not read; nil when it can.
    static func problem(_ change: RemoteChange, seq: Int64, entity: Entity, values: [FieldValue]) -> StoreError? {
        func refused(_ field: String, _ accepted: String?) -> StoreError {
            .invalid(
                FieldError(
                    "\(change.table).\(field)",
                    "the hub's feed entry \(seq) holds a value this registry cannot store (nothing of its page was applied; a clinic on a newer emreg may have sent it)",
                    accepted: accepted))
        }
        if let field = entity.missingRequired(in: values) { return refused(field, "a value: the field is required") }
        if let error = entity.unreadable(id: change.rowId, values: values) { return refused(error.field, error.accepted) }
        return nil
    }

    /// Every record the page's changes named must be here once the page is applied (a parent may
    /// come after its child within a page, as a clinic's transaction may write them).
    mutating func checkReferences() throws {
        for n in named where !made[n.parent.ordinal].contains(n.id) {
            guard try !rowExists(EntityLayout.all[n.parent.ordinal], n.id) else { continue }
            throw StoreError.invalid(
                FieldError(
                    "\(n.table).\(n.field)",
                    "the hub's feed entry \(n.seq) names a \(n.parent.label) this registry does not hold (nothing of its page was applied)",
                    accepted: "the id of a \(n.parent.label) the hub sent before"))
        }
    }

    func setRevisions(_ change: RemoteChange) throws {
        try revisions.set(change.table, change.rowId, change.fields.lazy.map { ($0.field, $0.baseRevision) })
    }

    mutating func rowExists(_ layout: EntityLayout, _ id: String) throws -> Bool {
        let probe: SyncStatement
        if let p = rowProbes[layout.position] {
            probe = p
        } else {
            probe = try SyncStatement(db, "SELECT 1 FROM \(layout.entity.table) WHERE \(layout.entity.idColumn) = ?")
            rowProbes[layout.position] = probe
        }
        probe.bind(1, id)
        return try probe.exists()
    }

    /// The INSERT of a record of `layout` with the fields in `mask`, in the layout's order.
    mutating func insertStatement(_ layout: EntityLayout, _ mask: UInt64) throws -> SyncStatement {
        let key = layout.position << 32 | Int(mask)
        if let s = inserts[key] { return s }
        let entity = layout.entity
        let given = layout.columns.indices.filter { mask & (1 << UInt64($0)) != 0 }.map { layout.columns[$0] }
        let columns = [entity.idColumn] + given + ["origin", "created_at", "updated_at"]
        let s = try SyncStatement(
            db,
            "INSERT INTO \(entity.table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))")
        inserts[key] = s
        return s
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

/// An entity's fields and columns, looked up by name without building arrays per change.
struct EntityLayout: Sendable {
    let entity: Entity
    /// Position in ``all``.
    let position: Int
    let fields: [String]
    let columns: [String]
    /// Field name → its position in `fields` (the entity's own fields, tombstones not included).
    let index: [String: Int]

    static let all: [EntityLayout] = Entity.allCases.enumerated().map { position, entity in
        EntityLayout(
            entity: entity, position: position, fields: entity.fields, columns: entity.columns,
            index: Dictionary(uniqueKeysWithValues: entity.fields.enumerated().map { ($1, $0) }))
    }

    static let byTable: [String: EntityLayout] = Dictionary(uniqueKeysWithValues: all.map { ($0.entity.table, $0) })
}

/// What applying a pulled insert takes that needs no database, worked out on the thread that
/// fetched its page while the page before is applied (``Registry/preparePulled(_:)``).
struct PreparedInsert: Sendable {
    struct Reference: Sendable {
        let field: String
        let parent: Entity
        let id: String
    }

    let layout: EntityLayout
    /// The fields given, a bit per field of the layout (which INSERT), and their values in the
    /// layout's order.
    let mask: UInt64
    let values: [FieldValue]
    /// The fields JSON of its change-log entry (the entity's own fields, set from null); nil when
    /// it sets none, and is not logged.
    let loggedFields: [UInt8]?
    /// The change's clock reading, which the log's clock moves past.
    let clock: HybridLogicalClock?
    let references: [Reference]
    /// Why the record cannot be stored here, if it cannot (``RemoteApplier/problem(_:seq:entity:values:)``).
    let problem: StoreError?

    /// Nil for anything but an insert of a synced record.
    init?(_ change: RemoteChange, seq: Int64) {
        guard change.op == .insert, let layout = EntityLayout.byTable[change.table], layout.entity.isSynced
        else { return nil }
        var record = [FieldValue](repeating: .null, count: layout.fields.count)
        var mask: UInt64 = 0
        var logged = [ChangeLogEntry.FieldChange]()
        logged.reserveCapacity(change.fields.count)
        // Tombstones never come in an insert; fields this emreg does not know are not stored.
        for f in change.fields {
            guard let k = layout.index[f.field] else { continue }
            mask |= 1 << UInt64(k)
            record[k] = f.new
            logged.append(.init(field: f.field, old: .null, new: f.new, baseRevision: f.baseRevision))
        }
        self.layout = layout
        self.mask = mask
        var given = [FieldValue]()
        given.reserveCapacity(logged.count)
        for k in record.indices where mask & (1 << UInt64(k)) != 0 { given.append(record[k]) }
        values = given
        if logged.isEmpty {
            loggedFields = nil
        } else {
            var json = [UInt8]()
            json.reserveCapacity(64 * logged.count)
            ChangeLogEntry.encode(logged, to: &json)
            loggedFields = json
        }
        clock = HybridLogicalClock(change.hlc)
        references = RemoteApplier.references(change, layout.entity)
        problem = RemoteApplier.problem(change, seq: seq, entity: layout.entity, values: record)
    }
}
