import Foundation
import GRDB
import RegistryCore
@testable import RegistryStore

/// A registry in a fresh temporary directory, removed when the test ends.
final class TestRegistry {
    let directory: String
    let path: String
    let registry: Registry

    init(clinic: String = "TEST-A", author: String = "tester") throws {
        directory = NSTemporaryDirectory() + "emreg-store-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/registry.sqlite"
        registry = try Registry.create(at: path, clinic: clinic, author: author)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    /// A patient, a myeloma case and an extraosseous leg site.
    func seed() throws -> (patient: Patient, clinicalCase: ClinicalCase, site: ExtramedullarySite) {
        try registry.write { tx in
            let p = try tx.addPatient(
                Patient(sex: .female, birthYear: 1963), identity: PatientIdentity(patientId: "", mrn: "MM00165", name: "Jane Roe"))
            let c = try tx.addCase(
                ClinicalCase(patientId: p.id, diagnosis: .multipleMyeloma, diagnosedOn: CalendarDay("2020-01-10")!, icd10: "C90.00"))
            let s = try tx.addSite(
                ExtramedullarySite(
                    caseId: c.id, detectedOn: CalendarDay("2021-06-01")!, timing: .atDiagnosis, category: .extraosseous,
                    region: .lowerLimb, topography: "C49.2", sizeMm: 39),
                deriveTiming: true)
            return (p, c, s)
        }
    }

    /// A raw connection that bypasses emreg, as the sqlite3 shell would.
    func raw() throws -> DatabaseQueue { try DatabaseQueue(path: path) }
}
