import GRDB
import RegistryCore

/// One write transaction on the registry. Every method validates what it writes against
/// the records it depends on and appends the change to the audit trail in the same
/// SQLite transaction.
public struct RegistryTransaction {
    let db: Database
    let registry: Registry
    var log: ChangeLogAppender
    /// The date "in the future" is measured against.
    public let today = Clock.today()
    /// Parents written or read in this transaction (``KnownParents``).
    var known = KnownParents()
    /// Each entity's INSERT and SELECT by id, prepared once per transaction (looking them up by
    /// SQL text hashes the text).
    private var inserts = [Statement?](repeating: nil, count: Entity.allCases.count)
    private var selects = [Statement?](repeating: nil, count: Entity.allCases.count)
    /// ``birthYear(ofPatient:field:)``'s SELECT, prepared on first use.
    private var patientYear: Statement?
    /// The values of the record being inserted; kept to reuse its buffers.
    private var row = BoundRow()

    init(db: Database, registry: Registry) throws {
        self.db = db
        self.registry = registry
        log = try ChangeLogAppender(db: db, author: registry.author, origin: registry.clinic)
    }

    public var reader: RegistryReader { RegistryReader(db: db) }

    // MARK: Entry

    /// Registers a patient with their local-only identity; the linkage key is derived from the MRN.
    public mutating func addPatient(_ patient: Patient, identity: PatientIdentity) throws -> Patient {
        var p = patient
        p.linkageKey = registry.linkageKey(mrn: identity.mrn)
        p = try insert(p)
        var i = identity
        i.patientId = p.id
        try insert(i)
        return p
    }

    @discardableResult
    public mutating func addCase(_ c: ClinicalCase) throws -> ClinicalCase { try insert(c) }

    /// Adds a site; with `deriveTiming` its timing follows from the case's diagnosis date.
    @discardableResult
    public mutating func addSite(_ s: ExtramedullarySite, deriveTiming: Bool = false) throws -> ExtramedullarySite {
        var site = s
        if deriveTiming {
            let c = try reader.require(ClinicalCase.self, id: s.caseId, field: "caseId")
            site.timing = SiteTiming.derived(diagnosedOn: c.diagnosedOn, detectedOn: s.detectedOn)
        }
        return try insert(site)
    }

    @discardableResult
    public mutating func addBiopsy(_ b: Biopsy) throws -> Biopsy { try insert(b) }

    @discardableResult
    public mutating func addFollowUp(_ f: FollowUp) throws -> FollowUp { try insert(f) }

    /// Applies `change` to a live record, validates the result and logs the fields that
    /// changed. Returns the record as stored.
    @discardableResult
    public mutating func update<R: RegistryRecord>(_ type: R.Type, id: String, _ change: (inout R) throws -> Void)
        throws -> R
    {
        let old = try reader.require(R.self, id: id)
        var new = old
        try change(&new)
        guard new.id == old.id else { throw FieldError("id", "cannot be changed") }
        new = try validated(new)
        if let c = new as? ClinicalCase {
            for f in try reader.records(FollowUp.self, where: "caseId", is: c.id) where f.on < c.diagnosedOn {
                throw FieldError(
                    "diagnosedOn", "\(c.diagnosedOn) is after follow-up \(f.id) of \(f.on)",
                    accepted: "a date on or before the earliest follow-up")
            }
        }
        if let i = new as? PatientIdentity, i.mrn != (old as? PatientIdentity)?.mrn {
            try checkMRNUnused(i.mrn, patientId: i.patientId)
            let key = registry.linkageKey(mrn: i.mrn)
            try update(Patient.self, id: i.patientId) { $0.linkageKey = key }
        }
        try write(old: old, new: new)
        return new
    }

    /// Tombstones a record and everything that hangs off it, giving `reason`.
    /// Returns how many records were tombstoned.
    @discardableResult
    public mutating func delete(_ entity: Entity, id: String, reason: String) throws -> Int {
        guard let why = try Parse.text(reason, field: "reason", maxLength: 500) else {
            throw FieldError("reason", "is empty", accepted: "a short reason for the audit trail")
        }
        let sql = EntitySQL.of(entity)
        guard let row = try Row.fetchOne(db, sql: "SELECT deleted_at FROM \(entity.table) WHERE \(entity.idColumn) = ?", arguments: [id])
        else { throw StoreError.notFound(entity, id: id, field: nil) }
        if row[0] as String? != nil { throw StoreError.deleted(entity, id: id) }
        let stamp = log.timestamp
        known.forget(id)
        try db.cachedStatement(sql: sql.tombstone).execute(arguments: [stamp, why, stamp, id])
        // A delete is based on everything this clinic knew of the record: the hub turns it
        // into a conflict if someone edited the record since.
        let known = max(
            try Int64.fetchOne(
                db, sql: "SELECT MAX(revision) FROM field_revisions WHERE table_name = ? AND row_id = ?",
                arguments: [entity.table, id]) ?? 0,
            try insertRevisions(entity, id).values.max() ?? 0)
        try log.append(
            db: db, table: entity.table, rowId: id, op: .delete,
            changes: [
                .init(field: "deleteReason", old: .null, new: .text(why), baseRevision: known),
                .init(field: "deletedAt", old: .null, new: .text(stamp), baseRevision: known),
            ])
        var count = 1
        if entity == .patient, try reader.patientIdentity(id: id) != nil {
            count += try delete(.identity, id: id, reason: why)
        }
        for child in entity.children {
            let parentColumn = Entity.column(for: child.parentField!.field)
            let ids = try String.fetchAll(
                db, sql: "SELECT id FROM \(child.table) WHERE \(parentColumn) = ? AND deleted_at IS NULL ORDER BY id",
                arguments: [id])
            for childId in ids { count += try delete(child, id: childId, reason: why) }
        }
        return count
    }

    // MARK: Generic writing

    mutating func remember<R: RegistryRecord>(_ record: R) { known.keep(record) }

    @discardableResult
    mutating func insert<R: RegistryRecord>(_ record: R) throws -> R {
        let r = try validated(record)
        if let i = r as? PatientIdentity { try checkMRNUnused(i.mrn, patientId: i.patientId) }
        let stamp = log.timestamp
        let values = r.values
        let n = values.count
        row.reset(count: n + 4)
        row.setText(0, r.id)
        for i in 0..<n { row.set(i + 1, values[i]) }
        row.setText(n + 1, registry.clinic)
        row.setText(n + 2, stamp)
        row.setText(n + 3, stamp)
        try row.run(db, try Self.statement(db, &inserts, R.entity) { EntitySQL.of($0).insert })
        remember(r)
        try log.appendInsert(db: db, entity: R.entity, rowId: r.id, values: values)
        return r
    }

    /// The entity's statement from `cache`, prepared on first use (GRDB's statement cache
    /// looks statements up by hashing their SQL text).
    private static func statement(_ db: Database, _ cache: inout [Statement?], _ entity: Entity, _ sql: (Entity) -> String)
        throws -> Statement
    {
        let i = entity.ordinal
        if let s = cache[i] { return s }
        let s = try db.cachedStatement(sql: sql(entity))
        cache[i] = s
        return s
    }

    mutating func write<R: RegistryRecord>(old: R, new: R) throws {
        let entity = R.entity
        var changes = [ChangeLogEntry.FieldChange]()
        var assignments = [String]()
        var arguments = StatementArguments()
        for (field, (before, after)) in zip(entity.fields, zip(old.values, new.values)) where before != after {
            changes.append(.init(field: field, old: before, new: after, baseRevision: 0))
            assignments.append("\(Entity.column(for: field)) = ?")
            arguments += [after]
        }
        guard !changes.isEmpty else { return }
        for (i, rev) in try revisions(entity, new.id, changes.map(\.field)).enumerated() { changes[i].baseRevision = rev }
        remember(new)
        arguments += [log.timestamp, new.id]
        try db.execute(
            sql: "UPDATE \(entity.table) SET \(assignments.joined(separator: ", ")), updated_at = ? WHERE \(entity.idColumn) = ?",
            arguments: arguments)
        try log.append(db: db, table: entity.table, rowId: new.id, op: .update, changes: changes)
    }

    /// The hub-confirmed revision a local edit of this field is based on (0 before any sync): the
    /// largest of its own row's, the whole record's (``RevisionWriter/wholeRecord``) and the one
    /// the record's insert was logged with (``insertRevisions(_:_:)``).
    func revision(_ entity: Entity, _ id: String, _ field: String) throws -> Int64 {
        try revisions(entity, id, [field])[0]
    }

    /// ``revision(_:_:_:)`` of each of `fields`, the record's insert entry read once.
    func revisions(_ entity: Entity, _ id: String, _ fields: [String]) throws -> [Int64] {
        let inserted = try insertRevisions(entity, id)
        let rows = try db.cachedStatement(
            sql: "SELECT MAX(revision) FROM field_revisions WHERE table_name = ? AND row_id = ? AND field IN (?, ?)")
        return try fields.map { field in
            max(
                try Int64.fetchOne(rows, arguments: [entity.table, id, field, RevisionWriter.wholeRecord]) ?? 0,
                inserted[field] ?? 0)
        }
    }

    /// The revisions of the record's insert, by field. A record pulled in from the hub has its
    /// fields' revisions in the change-log entry of its insert, the hub's (migration 004: no
    /// field_revisions row is written for them). One inserted here has revision 0 there, the base
    /// it was made on; once the hub accepted that insert, every field it carries is at the hub's
    /// first revision, 1 (migration 005: no field_revisions row is written for them either).
    func insertRevisions(_ entity: Entity, _ id: String) throws -> [String: Int64] {
        guard
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT change_id, fields FROM change_log WHERE row_id = ? AND op = 'insert' AND table_name = ? ORDER BY seq LIMIT 1"),
                arguments: [id, entity.table])
        else { return [:] }
        let changeId: String = row[0]
        let changes = try ChangeLogEntry.fieldChanges(row[1], changeId: changeId)
        if changes.allSatisfy({ $0.baseRevision == 0 }),
            try String.fetchOne(
                db.cachedStatement(sql: "SELECT status FROM sync_outcomes WHERE change_id = ?"), arguments: [changeId])
                == PushOutcome.Status.accepted.rawValue
        {
            return Dictionary(changes.map { ($0.field, Int64(1)) }, uniquingKeysWith: max)
        }
        return Dictionary(changes.map { ($0.field, $0.baseRevision) }, uniquingKeysWith: max)
    }

    func checkMRNUnused(_ mrn: String, patientId: String) throws {
        if let other = try reader.patientId(mrn: mrn), other != patientId {
            throw FieldError("mrn", "is already registered to patient \(other)", accepted: "an MRN not yet in this registry")
        }
    }

    /// Re-checks a stored record after a field was set outside the typed API (a conflict
    /// decision): a value the record type would refuse rolls the transaction back.
    mutating func revalidate(_ entity: Entity, _ id: String) throws {
        func check<R: RegistryRecord>(_: R.Type) throws {
            guard let row = try Row.fetchOne(db, sql: EntitySQL.of(entity).select + " WHERE \(entity.idColumn) = ?", arguments: [id])
            else { throw StoreError.notFound(entity, id: id, field: nil) }
            known.forget(id)
            _ = try validated(try R(id: id, values: (1...entity.fields.count).map { (row[$0] as FieldValue?) ?? .null }))
        }
        switch entity {
        case .patient: try check(Patient.self)
        case .identity: try check(PatientIdentity.self)
        case .clinicalCase: try check(ClinicalCase.self)
        case .site: try check(ExtramedullarySite.self)
        case .biopsy: try check(Biopsy.self)
        case .followUp: try check(FollowUp.self)
        }
    }

    /// The live record with this id, from this transaction's own writes when it has them.
    mutating func parent<R: RegistryRecord>(_ type: R.Type, _ id: String, field: String? = nil) throws -> R {
        if let r = known.find(R.self, id) { return r }
        let values = try FastRead.row(db, try Self.statement(db, &selects, R.entity) { EntitySQL.of($0).selectById }, id)
        let r = try Stored<R>.live(values.map { try Stored(R.self, values: $0) }, id: id, field: field)
        remember(r)
        return r
    }

    /// The birth year of the live patient `id`, all that the records below a patient are checked
    /// against: from this transaction's own writes when it has them, else read alone (two
    /// integers, not the whole row: case entry reads a patient for every case).
    mutating func birthYear(ofPatient id: String, field: String? = nil) throws -> Int {
        if let year = known.birthYear(ofPatient: id) { return year }
        if patientYear == nil {
            patientYear = try db.cachedStatement(sql: "SELECT birth_year, deleted_at IS NOT NULL FROM patients WHERE id = ?")
        }
        let row = try FastRead.integers(db, patientYear!, id)
        try requireLive(.patient, id: id, field: field, exists: row != nil, deleted: row?[1] == 1)
        guard let year = row?[0], let birthYear = Int(exactly: year) else {
            throw StoreError.tampered("stored patient \(id) has an invalid birthYear")
        }
        known.keepBirthYear(birthYear, ofPatient: id)
        return birthYear
    }

    /// Runs the record's checks against the live records it depends on.
    mutating func validated<R: RegistryRecord>(_ record: R) throws -> R {
        switch record {
        case let p as Patient:
            return try p.validated(today: today) as! R
        case let i as PatientIdentity:
            let year = try birthYear(ofPatient: i.patientId, field: "patientId")
            return try i.validated(birthYear: year, today: today) as! R
        case let c as ClinicalCase:
            let year = try birthYear(ofPatient: c.patientId, field: "patientId")
            return try c.validated(patientBirthYear: year, today: today) as! R
        case let s as ExtramedullarySite:
            let c = try parent(ClinicalCase.self, s.caseId, field: "caseId")
            let year = try birthYear(ofPatient: c.patientId)
            return try s.validated(in: c, patientBirthYear: year, today: today) as! R
        case let b as Biopsy:
            let c = try parent(ClinicalCase.self, b.caseId, field: "caseId")
            let year = try birthYear(ofPatient: c.patientId)
            var site: ExtramedullarySite?
            if let siteId = b.siteId { site = try parent(ExtramedullarySite.self, siteId, field: "siteId") }
            return try b.validated(in: c, site: site, patientBirthYear: year, today: today) as! R
        case let f as FollowUp:
            let c = try parent(ClinicalCase.self, f.caseId, field: "caseId")
            return try f.validated(in: c, today: today) as! R
        default:
            fatalError("unknown record type \(R.self)")
        }
    }
}
