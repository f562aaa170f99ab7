import GRDB
import RegistryCore

/// Read access to the registry inside a read or write transaction.
public struct RegistryReader {
    let db: Database

    public func fetch<R: RegistryRecord>(_ type: R.Type, id: String) throws -> Stored<R>? {
        guard let values = try FastRead.row(db, db.cachedStatement(sql: EntitySQL.of(R.entity).selectById), id)
        else { return nil }
        return try Stored(R.self, values: values)
    }

    /// The live record with that id; a missing or deleted one is an error naming `field`.
    public func require<R: RegistryRecord>(_ type: R.Type, id: String, field: String? = nil) throws -> R {
        try Stored.live(try fetch(R.self, id: id), id: id, field: field)
    }

    /// Live records whose `field` equals `value`, oldest first.
    public func records<R: RegistryRecord>(_ type: R.Type, where field: String, is value: String) throws -> [R] {
        let sql = EntitySQL.of(R.entity).select
            + " WHERE \(Entity.column(for: field)) = ? AND deleted_at IS NULL ORDER BY \(R.entity.idColumn)"
        return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: [value]).map { try $0.stored(R.self).record }
    }

    /// A whole case: its pseudonymous patient, sites, biopsies and follow-ups.
    public func caseDetail(id: String) throws -> CaseDetail {
        let c = try require(ClinicalCase.self, id: id)
        return CaseDetail(
            clinicalCase: c, patient: try require(Patient.self, id: c.patientId),
            sites: try records(ExtramedullarySite.self, where: "caseId", is: id),
            biopsies: try records(Biopsy.self, where: "caseId", is: id),
            followUps: try records(FollowUp.self, where: "caseId", is: id))
    }

    /// Live cases, optionally of one diagnosis, in the order they were created.
    public func cases(diagnosis: Diagnosis? = nil) throws -> [ClinicalCase] {
        if let diagnosis { return try records(ClinicalCase.self, where: "diagnosis", is: diagnosis.rawValue) }
        let sql = EntitySQL.of(.clinicalCase).select + " WHERE deleted_at IS NULL ORDER BY id"
        return try Row.fetchAll(db, sql: sql).map { try $0.stored(ClinicalCase.self).record }
    }

    public func patientIdentity(id: String) throws -> PatientIdentity? {
        try fetch(PatientIdentity.self, id: id).flatMap { $0.isDeleted ? nil : $0.record }
    }

    /// The live patient registered under this MRN, if any.
    public func patientId(mrn: String) throws -> String? {
        let statement = try db.cachedStatement(
            sql: "SELECT patient_id FROM patient_identities WHERE mrn = ? AND deleted_at IS NULL")
        guard case .text(let id)? = try FastRead.row(db, statement, mrn)?.first else { return nil }
        return id
    }

    /// Live patients sharing a linkage key with a patient registered at another clinic:
    /// the same person, probably, registered twice. Grouped by key, oldest id first.
    public func duplicatePatients() throws -> [[Stored<Patient>]] {
        let rows = try Row.fetchAll(
            db,
            sql: EntitySQL.of(.patient).select + """
                 WHERE deleted_at IS NULL AND linkage_key IN (
                  SELECT linkage_key FROM patients WHERE deleted_at IS NULL AND linkage_key IS NOT NULL
                  GROUP BY linkage_key HAVING COUNT(DISTINCT origin) > 1)
                ORDER BY linkage_key, id
                """)
        var groups = [[Stored<Patient>]]()
        for row in rows {
            let p = try row.stored(Patient.self)
            if groups.last?.first?.record.linkageKey == p.record.linkageKey { groups[groups.count - 1].append(p) } else { groups.append([p]) }
        }
        return groups
    }

    /// Every change to the record with this id, oldest first.
    public func history(id: String) throws -> [ChangeLogEntry] {
        try Row.fetchAll(
            db, sql: "SELECT \(ChangeLogEntry.columns) FROM change_log WHERE row_id = ? ORDER BY seq", arguments: [id]
        ).map { try ChangeLogEntry(row: $0) }
    }

    /// How many change log entries there are.
    public func changeCount() throws -> Int { try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM change_log") ?? 0 }

    public func meta(_ key: String) throws -> String? {
        try String.fetchOne(db, sql: "SELECT value FROM registry_meta WHERE key = ?", arguments: [key])
    }

    /// Counts of live records per entity.
    public func counts() throws -> [Entity: Int] {
        var out = [Entity: Int]()
        for e in Entity.allCases {
            out[e] = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM \(e.table) WHERE deleted_at IS NULL") ?? 0
        }
        return out
    }
}

/// A case with everything that hangs off it, as `emreg case show` prints it.
public struct CaseDetail: Sendable, Hashable {
    public var clinicalCase: ClinicalCase
    public var patient: Patient
    public var sites: [ExtramedullarySite]
    public var biopsies: [Biopsy]
    public var followUps: [FollowUp]

    public init(
        clinicalCase: ClinicalCase, patient: Patient, sites: [ExtramedullarySite], biopsies: [Biopsy], followUps: [FollowUp]
    ) {
        self.clinicalCase = clinicalCase
        self.patient = patient
        self.sites = sites
        self.biopsies = biopsies
        self.followUps = followUps
    }
}
