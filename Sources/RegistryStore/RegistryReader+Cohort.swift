import Dispatch
import GRDB
import GRDBSQLite
import RegistryCore
import Synchronization

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

extension Registry {
    /// Calls `body` with one ``CohortPatient`` per patient with a selected live case, in
    /// patient id order.
    ///
    /// Every table is read once, in storage order, through the SQLite C API: per-case index
    /// searches into follow-ups and sites cost a dozen B-tree descents per case, which at a
    /// million patients is half a minute. What is kept in memory is a few integers per
    /// selected case and patient (ids as 128-bit numbers): at a million patients about 90 MB at
    /// the peak, while the follow-ups are read (130 MB for the whole `emreg report` process).
    ///
    /// Two threads share the work. A reader thread walks the four tables in one read
    /// transaction (one snapshot) and copies the few column bytes it needs into fixed-size
    /// ``CohortScanRow``s: SQLite's B-tree walk and column access, about half of the work. The
    /// calling thread parses ids and dates, indexes the cases and keeps what it learns per case;
    /// patients are formed by one sort at the end, so it never holds the reader up. A bounded
    /// pipe between them keeps memory flat.
    public func forEachCohortPatient(_ selection: CohortSelection, _ body: (CohortPatient) throws -> Void) throws {
        let pipe = CohortScanPipe(depth: 8)
        let producerDone = DispatchSemaphore(value: 0)
        DispatchQueue.global(qos: .userInitiated).async {
            do {
                try self.read { r in try CohortScan.produce(r.db, selection, into: pipe) }
                pipe.finish(nil)
            } catch {
                pipe.finish(error)
            }
            producerDone.signal()
        }
        defer {
            pipe.cancel()
            producerDone.wait()
        }
        try CohortScan.consume(pipe, body)
    }
}

/// The two halves of ``Registry/forEachCohortPatient(_:_:)``.
enum CohortScan {
    static let batchSize = 4096

    /// On the reader thread: cases, biopsies, follow-ups, then sites, copied into batches.
    static func produce(_ db: Database, _ selection: CohortSelection, into pipe: CohortScanPipe) throws {
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
        func scan(
            _ table: CohortScanBatch.Table, _ sql: String, _ arguments: StatementArguments = StatementArguments(),
            _ copy: (RawRow, inout CohortScanRow) throws -> Void
        ) throws {
            var rows = [CohortScanRow]()
            rows.reserveCapacity(batchSize)
            try RawRows(db, sql, arguments).forEach { row in
                var r = CohortScanRow()
                try copy(row, &r)
                rows.append(r)
                if rows.count == batchSize {
                    try pipe.send(CohortScanBatch(table: table, rows: rows))
                    rows.removeAll(keepingCapacity: true)
                }
            }
            if !rows.isEmpty { try pipe.send(CohortScanBatch(table: table, rows: rows)) }
        }
        try scan(.cases, "SELECT id, patient_id, diagnosed_on FROM cases WHERE \(filter)", arguments) { row, r in
            try r.id.copy(row.bytes(0))
            try r.ref.copy(row.bytes(1))
            try r.day.copy(row.bytes(2))
        }
        try scan(.biopsies, "SELECT site_id FROM biopsies WHERE deleted_at IS NULL AND site_id IS NOT NULL") { row, r in
            try r.id.copy(row.bytes(0))
        }
        try scan(.followUps, "SELECT case_id, on_date, vital_status FROM follow_ups WHERE deleted_at IS NULL") { row, r in
            try r.ref.copy(row.bytes(0))
            try r.day.copy(row.bytes(1))
            r.dead = row.equals(2, "dead")
        }
        try scan(.sites, "SELECT id, case_id, detected_on, timing, category, region FROM sites WHERE deleted_at IS NULL") {
            row, r in
            guard let timing = SiteTiming(rawValue: row.text(3)), let category = SiteCategory(rawValue: row.text(4)),
                let region = BodyRegion(rawValue: row.text(5))
            else { throw StoreError.tampered("a stored site has an unknown code") }
            try r.id.copy(row.bytes(0))
            try r.ref.copy(row.bytes(1))
            try r.day.copy(row.bytes(2))
            r.site = (timing, category, region)
        }
    }

    /// On the calling thread: the batches in the order they were read, then `body` per patient.
    static func consume(_ pipe: CohortScanPipe, _ body: (CohortPatient) throws -> Void) throws {
        // Per case, by its index in the order read: the patient, the diagnosis date and, from
        // the follow-ups, the first death and the last follow-up. A case's id maps to its index.
        var casePatient = [UInt128]()
        var caseDiagnosed = [Int32]()
        var caseDied = [Int32]()
        var caseLastSeen = [Int32]()
        var caseIndex = IdMap<Int32>(placeholder: 0)
        var biopsied = IdMap<Void>()
        var sites = [(case: Int32, site: CohortPatient.Site)]()
        while let batch = try pipe.receive() {
            switch batch.table {
            case .cases:
                for row in batch.rows {
                    caseIndex[try row.id.value()] = Int32(casePatient.count)
                    casePatient.append(try row.ref.value())
                    caseDiagnosed.append(try row.day.value())
                }
            case .biopsies:
                for row in batch.rows { biopsied[try row.id.value()] = () }
            case .followUps:
                if caseDied.count != casePatient.count {
                    caseDied = [Int32](repeating: .max, count: casePatient.count)
                    caseLastSeen = [Int32](repeating: .min, count: casePatient.count)
                }
                for row in batch.rows {
                    guard let c = caseIndex[try row.ref.value()] else { continue }
                    let on = try row.day.value()
                    if row.dead { caseDied[Int(c)] = min(caseDied[Int(c)], on) }
                    caseLastSeen[Int(c)] = max(caseLastSeen[Int(c)], on)
                }
            case .sites:
                for row in batch.rows {
                    guard let c = caseIndex[try row.ref.value()], let codes = row.site else { continue }
                    sites.append(
                        (
                            c,
                            .init(
                                caseDiagnosedOn: Int(caseDiagnosed[Int(c)]), detectedOn: Int(try row.day.value()),
                                timing: codes.timing, category: codes.category, region: codes.region,
                                biopsied: biopsied[try row.id.value()] != nil)
                        ))
                }
            }
        }
        caseIndex = IdMap(capacity: 0, placeholder: 0)
        biopsied = IdMap()
        // Patients in patient id order (the order they are reported in): (patient, case) pairs
        // sorted side by side, then folded; no map of patient ids at all.
        var byPatient = [(patient: UInt128, case: Int32)]()
        byPatient.reserveCapacity(casePatient.count)
        for (c, patient) in casePatient.enumerated() { byPatient.append((patient, Int32(c))) }
        casePatient = []
        byPatient.sort { $0 < $1 }
        var patients = [PatientDays]()
        var patientOfCase = [Int32](repeating: 0, count: byPatient.count)
        var previous: UInt128 = 0
        for (patient, c) in byPatient {
            if patient != previous || patients.isEmpty {
                patients.append(PatientDays())
                previous = patient
            }
            let slot = patients.count - 1
            let i = Int(c)
            patientOfCase[i] = Int32(slot)
            patients[slot].cases += 1
            patients[slot].diagnosedOn = min(patients[slot].diagnosedOn, caseDiagnosed[i])
            if !caseDied.isEmpty {
                patients[slot].diedOn = min(patients[slot].diedOn, caseDied[i])
                patients[slot].lastSeenOn = max(patients[slot].lastSeenOn, caseLastSeen[i])
            }
        }
        byPatient = []
        // Sites in patient order; a patient's own sites keep their storage (id) order.
        let siteOrder = sites.indices.sorted {
            (patientOfCase[Int(sites[$0].case)], $0) < (patientOfCase[Int(sites[$1].case)], $1)
        }
        var next = 0
        for (slot, p) in patients.enumerated() {
            var patient = CohortPatient()
            patient.cases = Int(p.cases)
            patient.diagnosedOn = Int(p.diagnosedOn)
            patient.diedOn = p.diedOn == .max ? nil : Int(p.diedOn)
            patient.lastSeenOn = p.lastSeenOn == .min ? nil : Int(p.lastSeenOn)
            while next < siteOrder.count, patientOfCase[Int(sites[siteOrder[next]].case)] == slot {
                patient.sites.append(sites[siteOrder[next]].site)
                next += 1
            }
            try body(patient)
        }
    }
}

/// One row of a cohort scan as the reader thread copied it. Cases: `id`, `ref` the patient,
/// `day` the diagnosis. Biopsies: `id` the site sampled. Follow-ups: `ref` the case, `day`,
/// `dead`. Sites: `id`, `ref` the case, `day` the detection, `site` the codes.
struct CohortScanRow: Sendable {
    var id = UUIDText()
    var ref = UUIDText()
    var day = DayText()
    var dead = false
    var site: (timing: SiteTiming, category: SiteCategory, region: BodyRegion)?
}

/// The 36 bytes of a stored UUID, copied out of a row to be parsed on another thread.
struct UUIDText: Sendable {
    private var bytes: (UInt64, UInt64, UInt64, UInt64, UInt32) = (0, 0, 0, 0, 0)

    mutating func copy(_ b: UnsafeBufferPointer<UInt8>) throws {
        guard b.count == 36 else { throw StoreError.tampered("a stored id is not a UUID") }
        withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: UnsafeRawBufferPointer(b)) }
    }

    /// The UUID as a 128-bit number; its order is the text's order.
    func value() throws -> UInt128 {
        try withUnsafeBytes(of: bytes) { try RawRow.uuid($0.assumingMemoryBound(to: UInt8.self)) }
    }
}

/// The 10 bytes of a stored date (YYYY-MM-DD), copied out of a row to be parsed on another thread.
struct DayText: Sendable {
    private var bytes: (UInt64, UInt16) = (0, 0)

    mutating func copy(_ b: UnsafeBufferPointer<UInt8>) throws {
        guard b.count == 10 else { throw StoreError.tampered("a stored date is not a date") }
        withUnsafeMutableBytes(of: &bytes) { $0.copyMemory(from: UnsafeRawBufferPointer(b)) }
    }

    /// Days since 1970-01-01.
    func value() throws -> Int32 {
        try withUnsafeBytes(of: bytes) { Int32(try RawRow.day($0.assumingMemoryBound(to: UInt8.self))) }
    }
}

struct CohortScanBatch: Sendable {
    enum Table: Sendable { case cases, biopsies, followUps, sites }
    var table: Table
    var rows: [CohortScanRow]
}

/// A bounded hand-over of batches from the reader thread to the calling thread.
final class CohortScanPipe: Sendable {
    private struct State {
        var batches: [CohortScanBatch] = []
        var failure: (any Error)?
        var cancelled = false
    }
    private let state = Mutex(State())
    /// Signalled once per batch sent and once at the end.
    private let ready = DispatchSemaphore(value: 0)
    /// Free places: the reader waits for one before each batch.
    private let room: DispatchSemaphore

    init(depth: Int) { room = DispatchSemaphore(value: depth) }

    /// Throws `CancellationError` once the consumer has gone.
    func send(_ batch: CohortScanBatch) throws {
        room.wait()
        let open = state.withLock { s in
            guard !s.cancelled else { return false }
            s.batches.append(batch)
            return true
        }
        guard open else { throw CancellationError() }
        ready.signal()
    }

    /// The end of the scan, with the reader's error if it failed.
    func finish(_ failure: (any Error)?) {
        state.withLock { $0.failure = failure }
        ready.signal()
    }

    /// The next batch in order; nil after the last; the reader's error rethrown.
    func receive() throws -> CohortScanBatch? {
        ready.wait()
        let (batch, failure) = state.withLock { s -> (CohortScanBatch?, (any Error)?) in
            s.batches.isEmpty ? (nil, s.failure) : (s.batches.removeFirst(), nil)
        }
        if let batch {
            room.signal()
            return batch
        }
        if let failure { throw failure }
        return nil
    }

    /// The consumer is done (or failed): a waiting reader wakes and stops.
    func cancel() {
        state.withLock { $0.cancelled = true }
        room.signal()
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
    static func uuid(_ b: UnsafeBufferPointer<UInt8>) throws -> UInt128 {
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
    static func day(_ b: UnsafeBufferPointer<UInt8>) throws -> Int {
        guard let d = CalendarDay(utf8: b) else { throw StoreError.tampered("a stored date is not a date") }
        return d.daysSinceEpoch
    }
}
