import GRDB
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
    /// Streams one ``CohortPatient`` per patient with a selected live case. Two ordered
    /// queries merged by patient id, so memory does not grow with the registry.
    public func forEachCohortPatient(_ selection: CohortSelection, _ body: (CohortPatient) throws -> Void) throws {
        var filter = "c.deleted_at IS NULL"
        var arguments = StatementArguments()
        if let d = selection.diagnosis {
            filter += " AND c.diagnosis = ?"
            arguments += [d.rawValue]
        }
        if let from = selection.diagnosedFrom {
            filter += " AND c.diagnosed_on >= ?"
            arguments += [from.description]
        }
        if let to = selection.diagnosedTo {
            filter += " AND c.diagnosed_on <= ?"
            arguments += [to.description]
        }
        let cases = try Row.fetchCursor(
            db,
            sql: """
                SELECT c.patient_id, c.diagnosed_on,
                  (SELECT MIN(f.on_date) FROM follow_ups f
                    WHERE f.case_id = c.id AND f.deleted_at IS NULL AND f.vital_status = 'dead'),
                  (SELECT MAX(f.on_date) FROM follow_ups f WHERE f.case_id = c.id AND f.deleted_at IS NULL)
                FROM cases c WHERE \(filter) ORDER BY c.patient_id
                """, arguments: arguments)
        let sites = try Row.fetchCursor(
            db,
            sql: """
                SELECT c.patient_id, c.diagnosed_on, s.detected_on, s.timing, s.category, s.region,
                  EXISTS (SELECT 1 FROM biopsies b WHERE b.site_id = s.id AND b.deleted_at IS NULL)
                FROM cases c JOIN sites s ON s.case_id = c.id AND s.deleted_at IS NULL
                WHERE \(filter) ORDER BY c.patient_id
                """, arguments: arguments)
        var pendingSite = try sites.next()
        var current: (id: String, patient: CohortPatient)?
        func day(_ row: Row, _ i: Int) throws -> Int? {
            guard let text: String = row[i] else { return nil }
            guard let d = CalendarDay(text) else { throw StoreError.tampered("a stored date is not a date") }
            return d.daysSinceEpoch
        }
        func flush() throws {
            guard var (id, patient) = current else { return }
            while let row = pendingSite, let pid: String = row[0], pid <= id {
                if pid == id {
                    guard let timing = SiteTiming(rawValue: row[3]), let category = SiteCategory(rawValue: row[4]),
                        let region = BodyRegion(rawValue: row[5])
                    else { throw StoreError.tampered("a stored site has an unknown code") }
                    patient.sites.append(
                        .init(
                            caseDiagnosedOn: try day(row, 1)!, detectedOn: try day(row, 2)!, timing: timing,
                            category: category, region: region, biopsied: row[6]))
                }
                pendingSite = try sites.next()
            }
            try body(patient)
        }
        while let row = try cases.next() {
            let pid: String = row[0]
            if current?.id != pid {
                try flush()
                current = (pid, CohortPatient())
            }
            current!.patient.cases += 1
            current!.patient.diagnosedOn = min(current!.patient.diagnosedOn, try day(row, 1)!)
            if let died = try day(row, 2) { current!.patient.diedOn = min(current!.patient.diedOn ?? .max, died) }
            if let seen = try day(row, 3) { current!.patient.lastSeenOn = max(current!.patient.lastSeenOn ?? .min, seen) }
        }
        try flush()
    }
}
