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
    /// selected case and patient (ids as 128-bit numbers): at a million patients about 100 MB at
    /// the peak, while the cases are read.
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
        // Cases first: each case's patient id and diagnosis date in one array, its id in a map
        // to its index there. Patients are then numbered in patient id order (the order they
        // are reported in) by sorting case indices, with no map of patient ids at all.
        var casePatients = [(patient: UInt128, diagnosed: Int32)]()
        var caseIndex = IdMap<Int32>(placeholder: 0)
        try RawRows(db, "SELECT id, patient_id, diagnosed_on FROM cases WHERE \(filter)", arguments).forEach { row in
            caseIndex[try row.id(0)] = Int32(casePatients.count)
            casePatients.append((try row.id(1), Int32(try row.day(2))))
        }
        var patients = [PatientDays]()
        var patientOfCase = [Int32](repeating: 0, count: casePatients.count)
        do {
            var previous: UInt128 = 0
            for c in casePatients.indices.sorted(by: { casePatients[$0].patient < casePatients[$1].patient }) {
                let (patient, diagnosed) = casePatients[c]
                if patient != previous {
                    patients.append(PatientDays())
                    previous = patient
                }
                let slot = patients.count - 1
                patientOfCase[c] = Int32(slot)
                patients[slot].cases += 1
                patients[slot].diagnosedOn = min(patients[slot].diagnosedOn, diagnosed)
            }
        }
        let diagnosedOfCase = casePatients.map(\.diagnosed)
        casePatients = []

        try RawRows(db, "SELECT case_id, on_date, vital_status FROM follow_ups WHERE deleted_at IS NULL").forEach { row in
            guard let c = caseIndex[try row.id(0)] else { return }
            let on = Int32(try row.day(1))
            let i = Int(patientOfCase[Int(c)])
            if row.equals(2, "dead") { patients[i].diedOn = min(patients[i].diedOn, on) }
            patients[i].lastSeenOn = max(patients[i].lastSeenOn, on)
        }
        var biopsied = IdMap<Void>()
        try RawRows(db, "SELECT site_id FROM biopsies WHERE deleted_at IS NULL AND site_id IS NOT NULL").forEach { row in
            biopsied[try row.id(0)] = ()
        }
        var sites = [(patient: Int32, site: CohortPatient.Site)]()
        try RawRows(db, "SELECT id, case_id, detected_on, timing, category, region FROM sites WHERE deleted_at IS NULL")
            .forEach { row in
                guard let c = caseIndex[try row.id(1)] else { return }
                guard let timing = SiteTiming(rawValue: row.text(3)), let category = SiteCategory(rawValue: row.text(4)),
                    let region = BodyRegion(rawValue: row.text(5))
                else { throw StoreError.tampered("a stored site has an unknown code") }
                sites.append(
                    (
                        patientOfCase[Int(c)],
                        .init(
                            caseDiagnosedOn: Int(diagnosedOfCase[Int(c)]), detectedOn: try row.day(2), timing: timing,
                            category: category, region: region, biopsied: biopsied[try row.id(0)] != nil)
                    ))
            }
        caseIndex = IdMap(capacity: 0, placeholder: 0)
        // Sites in patient order; a patient's own sites keep their storage (id) order.
        let siteOrder = sites.indices.sorted { (sites[$0].patient, $0) < (sites[$1].patient, $1) }
        var next = 0
        for (slot, p) in patients.enumerated() {
            var patient = CohortPatient()
            patient.cases = Int(p.cases)
            patient.diagnosedOn = Int(p.diagnosedOn)
            patient.diedOn = p.diedOn == .max ? nil : Int(p.diedOn)
            patient.lastSeenOn = p.lastSeenOn == .min ? nil : Int(p.lastSeenOn)
            while next < siteOrder.count, sites[siteOrder[next]].patient == slot {
                patient.sites.append(sites[siteOrder[next]].site)
                next += 1
            }
            try body(patient)
        }
    }
}

/// What the cohort scan keeps per patient while it reads the tables: 16 bytes, days since
/// 1970-01-01 (a million patients: 16 MB).
private struct PatientDays {
    var cases: Int32 = 0
    var diagnosedOn = Int32.max
    /// Int32.max: no death recorded.
    var diedOn = Int32.max
    /// Int32.min: no follow-up.
    var lastSeenOn = Int32.min
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

    /// A stored UUID (lowercase 8-4-4-4-12 hex) as a 128-bit number; its order is the text's order.
    func id(_ column: Int32) throws -> UInt128 {
        let b = bytes(column)
        guard b.count == 36, b[8] == 45, b[13] == 45, b[18] == 45, b[23] == 45 else {
            throw StoreError.tampered("a stored id is not a UUID")
        }
        let p = b.baseAddress!
        var bad: UInt8 = 0
        var high = Self.hex(p, 0, 8, 0, &bad)
        high = Self.hex(p, 9, 4, high, &bad)
        high = Self.hex(p, 14, 4, high, &bad)
        var low = Self.hex(p, 19, 4, 0, &bad)
        low = Self.hex(p, 24, 12, low, &bad)
        guard bad == 0 else { throw StoreError.tampered("a stored id is not a UUID") }
        return UInt128(high) << 64 | UInt128(low)
    }

    /// `value` followed by the `count` hex digits at `p + start`: 0-9 and a-f map to 0...15
    /// without branches, and anything else sets `bad`.
    @inline(__always)
    private static func hex(_ p: UnsafePointer<UInt8>, _ start: Int, _ count: Int, _ value: UInt64, _ bad: inout UInt8)
        -> UInt64
    {
        var v = value
        var b = bad
        for i in start..<(start + count) {
            let c = p[i]
            b |= UInt8(truncatingIfNeeded: ((c &- 48) >= 10 && (c &- 97) >= 6) ? 1 : 0)
            v = v &<< 4 | UInt64((c & 0xF) &+ 9 &* (c &>> 6))
        }
        bad = b
        return v
    }

    /// A stored date as days since 1970-01-01.
    func day(_ column: Int32) throws -> Int {
        guard let d = CalendarDay(utf8: bytes(column)) else { throw StoreError.tampered("a stored date is not a date") }
        return d.daysSinceEpoch
    }
}
