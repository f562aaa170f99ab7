import Foundation
import GRDB
import RegistryCore
import Testing

@testable import RegistryStore

/// What a record is checked against when it is added below a patient that was written in an
/// earlier transaction (read back as its birth year alone).
@Suite struct ParentCheckTests {
    func addCase(_ t: TestRegistry, patient: String, diagnosedOn: String = "2020-01-10") throws {
        try t.registry.write { tx in
            _ = try tx.addCase(ClinicalCase(patientId: patient, diagnosis: .multipleMyeloma, diagnosedOn: CalendarDay(diagnosedOn)!))
        }
    }

    @Test func aCaseIsCheckedAgainstTheStoredPatientsBirthYear() throws {
        let t = try TestRegistry()
        let (p, _, _) = try t.seed()
        // Born 1963: a diagnosis in 1962 is refused, naming the field and what is accepted.
        #expect {
            try addCase(t, patient: p.id, diagnosedOn: "1962-12-31")
        } throws: { error in
            guard case StoreError.invalid(let e) = error else { return false }
            return e.field == "diagnosedOn" && "\(e)".contains("1963")
        }
        try addCase(t, patient: p.id, diagnosedOn: "1963-01-01")
        // A later birth year is read, not one kept from an earlier transaction.
        try t.registry.write { tx in try tx.update(Patient.self, id: p.id) { $0.birthYear = 1970 } }
        #expect(throws: StoreError.self) { try addCase(t, patient: p.id, diagnosedOn: "1969-06-01") }
    }

    @Test func aMissingOrDeletedPatientIsRefusedNamingTheField() throws {
        let t = try TestRegistry()
        let (p, _, _) = try t.seed()
        let unknown = EntityID.make()
        #expect {
            try addCase(t, patient: unknown)
        } throws: { error in
            guard case StoreError.notFound(let entity, let id, let field) = error else { return false }
            return entity == .patient && id == unknown && field == "patientId"
        }
        try t.registry.write { tx in _ = try tx.delete(.patient, id: p.id, reason: "test") }
        #expect {
            try addCase(t, patient: p.id)
        } throws: { error in
            guard case StoreError.invalid(let e) = error else { return false }
            return e.field == "patientId" && e.problem.contains("was deleted")
        }
    }

    @Test func aBirthYearAlteredToTextIsReportedAsTampering() throws {
        let t = try TestRegistry()
        let (p, _, _) = try t.seed()
        try t.raw().write { try $0.execute(sql: "UPDATE patients SET birth_year = 'nineteen' WHERE id = ?", arguments: [p.id]) }
        #expect {
            try addCase(t, patient: p.id)
        } throws: { error in
            guard case StoreError.tampered(let what) = error else { return false }
            return what.contains("birthYear")
        }
    }
}
