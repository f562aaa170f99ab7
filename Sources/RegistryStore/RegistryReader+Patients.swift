import GRDB
import RegistryCore

/// A patient with everything registered about them: what exports write, one per line.
public struct PatientBundle: Sendable, Hashable {
    public var patient: Patient
    /// Local-only identifiers; nil for patients registered at another clinic.
    public var identity: PatientIdentity?
    public var cases: [CaseDetail]

    public init(patient: Patient, identity: PatientIdentity?, cases: [CaseDetail]) {
        self.patient = patient
        self.identity = identity
        self.cases = cases
    }
}

extension RegistryReader {
    /// Calls `body` with each live patient, oldest id first, streaming: memory stays flat
    /// however large the registry. With `diagnosis`, only patients with a case of that
    /// diagnosis, and only those cases.
    public func forEachPatient(diagnosis: Diagnosis? = nil, _ body: (PatientBundle) throws -> Void) throws {
        let patients = try Row.fetchCursor(
            db.makeStatement(sql: EntitySQL.of(.patient).select + " WHERE deleted_at IS NULL ORDER BY id"))
        while let row = try patients.next() {
            let patient = try row.stored(Patient.self).record
            var cases = try records(ClinicalCase.self, where: "patientId", is: patient.id)
            if let diagnosis {
                cases = cases.filter { $0.diagnosis == diagnosis }
                if cases.isEmpty { continue }
            }
            let details = try cases.map { c in
                CaseDetail(
                    clinicalCase: c, patient: patient,
                    sites: try records(ExtramedullarySite.self, where: "caseId", is: c.id),
                    biopsies: try records(Biopsy.self, where: "caseId", is: c.id),
                    followUps: try records(FollowUp.self, where: "caseId", is: c.id))
            }
            try body(PatientBundle(patient: patient, identity: try patientIdentity(id: patient.id), cases: details))
        }
    }

    /// How many live patients `forEachPatient` would visit (for progress bars).
    public func patientCount(diagnosis: Diagnosis? = nil) throws -> Int {
        if let diagnosis {
            return try Int.fetchOne(
                db,
                sql: "SELECT COUNT(DISTINCT patient_id) FROM cases WHERE deleted_at IS NULL AND diagnosis = ?",
                arguments: [diagnosis.rawValue]) ?? 0
        }
        return try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM patients WHERE deleted_at IS NULL") ?? 0
    }

    /// The registry-wide secret that linkage keys and de-identification derive from.
    public func linkageSecret() throws -> [UInt8] {
        guard let hex = try meta("linkage_secret"), let bytes = Hex.decode(hex) else {
            throw StoreError.database("registry_meta has no linkage secret")
        }
        return bytes
    }
}
