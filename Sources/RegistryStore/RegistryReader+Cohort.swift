import GRDB
import GRDBSQLite
import RegistryCore

/// Which cases a cohort report covers.
public struct CohortSelection: Sendable, Hashable {
    public var diagnosis: Diagnosis?
    public var diagnosedFrom: CalendarDay?
    public var diagnosedTo: CalendarDay?

    public init(diagnosis: Diagnosis? = nil, diagnosedFrom: CalendarDay? = nil, diagnosedTo: CalendarDay? = nil) {
        self.diagnosis = diagnosis
        self.diagnosedFrom = diagnosedFrom
        self.diagnosedTo = diagnosedTo
    }
}

/// What a cohort report needs to know of one patient: dates as days since 1970-01-01.
public struct CohortPatient: Sendable {
    /// Selected cases of this patient.
    public var cases = 0
    /// The earliest diagnosis among them: time zero of survival.
    public var diagnosedOn = Int.max
    /// The first follow-up recording death, if any.
    public var diedOn: Int?
    /// The last follow-up of any kind, if any.
    public var lastSeenOn: Int?
    public var sites: [Site] = []

    public struct Site: Sendable {
        public var caseDiagnosedOn: Int
        public var detectedOn: Int
        public var timing: SiteTiming
        public var category: SiteCategory
        public var region: BodyRegion
        /// A live biopsy sampled this site.
        public var biopsied: Bool
    }
}

extension RegistryReader {
    /// Calls `body` with one ``CohortPatient`` per patient with a selected live case, in
    /// patient id order.
    ///
    /// Every table is read once, in storage order, through the SQLite C API: per-case index
    /// searches into follow-ups and sites cost a dozen B-tree descents per case, which at a
    /// million patients is half a minute. What is kept in memory is a few integers per
    /// selected case and patient (ids as 128-bit numbers), about 100 bytes a patient.
    public func forEachCohortPatient(_ selection: CohortSelection, _ body: (CohortPatient) throws -> Void) throws {
        var filter = "deleted_at IS NULL"
        var arguments = StatementArguments()
        if let d = selection.diagnosis {
            filter += " AND diagnosis = ?"
            arguments += [d.rawValue]
        }
        if let from = selection.diagnosedFrom {
            filter += " AND diagnosed_on >= ?"
            arguments += [from.description]
        }
        if let to = selection.diagnosedTo {
            filter += " AND diagnosed_on <= ?"
            arguments += [to.description]
        }
        var patientSlot = [UInt128: Int32]()
        var patientIds = [UInt128]()
        var patients = [CohortPatient]()
        var caseSlot = [UInt128: (patient: Int32, diagnosedOn: Int32)]()
        try RawRows(db, "SELECT id, patient_id, diagnosed_on FROM cases WHERE \(filter)", arguments).forEach { row in
            let pid = try row.id(1)
            let slot: Int32
            if let s = patientSlot[pid] {
                slot = s
            } else {
                slot = Int32(patients.count)
                patientSlot[pid] = slot
                patientIds.append(pid)
                patients.append(CohortPatient())
            }
            let diagnosed = try row.day(2)
            caseSlot[try row.id(0)] = (slot, Int32(diagnosed))
            patients[Int(slot)].cases += 1
            patients[Int(slot)].diagnosedOn = min(patients[Int(slot)].diagnosedOn, diagnosed)
        }
        patientSlot = [:]
        try RawRows(db, "SELECT case_id, on_date, vital_status FROM follow_ups WHERE deleted_at IS NULL").forEach { row in
            guard let c = caseSlot[try row.id(0)] else { return }
            let on = try row.day(1)
            let i = Int(c.patient)
            if row.equals(2, "dead") { patients[i].diedOn = min(patients[i].diedOn ?? .max, on) }
            patients[i].lastSeenOn = max(patients[i].lastSeenOn ?? .min, on)
        }
        var biopsied = Set<UInt128>()
        try RawRows(db, "SELECT site_id FROM biopsies WHERE deleted_at IS NULL AND site_id IS NOT NULL").forEach { row in
            biopsied.insert(try row.id(0))
        }
        try RawRows(db, "SELECT id, case_id, detected_on, timing, category, region FROM sites WHERE deleted_at IS NULL")
            .forEach { row in
                guard let c = caseSlot[try row.id(1)] else { return }
                guard let timing = SiteTiming(rawValue: row.text(3)), let category = SiteCategory(rawValue: row.text(4)),
                    let region = BodyRegion(rawValue: row.text(5))
                else { throw StoreError.tampered("a stored site has an unknown code") }
                patients[Int(c.patient)].sites.append(
                    .init(
                        caseDiagnosedOn: Int(c.diagnosedOn), detectedOn: try row.day(2), timing: timing,
                        category: category, region: region, biopsied: biopsied.contains(try row.id(0))))
            }
        caseSlot = [:]
        for i in patientIds.indices.sorted(by: { patientIds[$0] < patientIds[$1] }) { try body(patients[i]) }
    }
}

/// The rows of one SELECT read straight through the SQLite C API, for whole-table scans.
struct RawRows {
    let statement: Statement

    init(_ db: Database, _ sql: String, _ arguments: StatementArguments = StatementArguments()) throws {
        statement = try db.makeStatement(sql: sql)
        try statement.setArguments(arguments)
    }

    func forEach(_ body: (RawRow) throws -> Void) throws {
        let s = statement.sqliteStatement
        defer { sqlite3_reset(s) }
        while true {
            switch sqlite3_step(s) {
            case SQLITE_ROW: try body(RawRow(statement: s))
            case SQLITE_DONE: return
            case let code:
                throw DatabaseError(
                    resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(sqlite3_db_handle(s))))
            }
        }
    }
}

/// The current row of a ``RawRows`` scan.
struct RawRow {
    let statement: SQLiteStatement

    func bytes(_ column: Int32) -> UnsafeBufferPointer<UInt8> {
        let count = Int(sqlite3_column_bytes(statement, column))
        guard let base = sqlite3_column_text(statement, column) else { return UnsafeBufferPointer(start: nil, count: 0) }
        return UnsafeBufferPointer(start: base, count: count)
    }

    func text(_ column: Int32) -> String { String(decoding: bytes(column), as: UTF8.self) }

    func equals(_ column: Int32, _ text: StaticString) -> Bool {
        bytes(column).elementsEqual(UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// A stored UUID as a 128-bit number (its order is the text's order).
    func id(_ column: Int32) throws -> UInt128 {
        let b = bytes(column)
        var value: UInt128 = 0
        var digits = 0
        for c in b {
            let v: UInt8
            switch c {
            case 48...57: v = c &- 48
            case 97...102: v = c &- 87
            case 45: continue
            default: throw StoreError.tampered("a stored id is not a UUID")
            }
            value = value << 4 | UInt128(v)
            digits += 1
        }
        guard digits == 32, b.count == 36 else { throw StoreError.tampered("a stored id is not a UUID") }
        return value
    }

    /// A stored date as days since 1970-01-01.
    func day(_ column: Int32) throws -> Int {
        guard let d = CalendarDay(text(column)) else { throw StoreError.tampered("a stored date is not a date") }
        return d.daysSinceEpoch
    }
}
