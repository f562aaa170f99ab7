import Foundation
import GRDB
import RegistryCore
import Testing

@testable import RegistryStore

/// The registry's WAL is copied into its main file beside the writer (``WALCheckpointer``).
@Suite struct WALCheckpointTests {
    func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? -1 }

    @Test func aFilledWALIsCopiedWithoutTheWriterAndTrimmedWhenTheRegistryCloses() throws {
        let t = try TestRegistry()
        let wal = t.path + "-wal"
        let before = size(t.path)
        let pageSize = try t.raw().read { try Int.fetchOne($0, sql: "PRAGMA page_size")! }
        #expect(pageSize == Registry.pageSize)
        let requested = Int(WALCheckpointer.requestPages) * pageSize
        // Write until the WAL holds more than the pages that ask for a checkpoint.
        var cases = 0
        var patient = ""
        for round in 0..<200 where size(wal) <= requested + 65536 {
            try t.registry.write { tx in
                patient = try tx.addPatient(Patient(sex: .male, birthYear: 1950), identity: PatientIdentity(patientId: "", mrn: "W\(round)")).id
                for day in 0..<300 {
                    try tx.addCase(
                        ClinicalCase(
                            patientId: patient, diagnosis: .multipleMyeloma, diagnosedOn: CalendarDay("2000-01-01")!.adding(days: day),
                            icd10: "C90.0", morphology: "9732/3"))
                    cases += 1
                }
            }
        }
        #expect(size(wal) > requested)
        // No further write: the main file grows only by the copy running beside the writer.
        let deadline = Date().addingTimeInterval(30)
        while size(t.path) < before + 2_000_000 && Date() < deadline { usleep(20_000) }
        #expect(size(t.path) >= before + 2_000_000, "the main file did not grow: \(before) -> \(size(t.path))")
        // Closing waits for the copy; the last connection then trims the WAL it kept.
        try t.registry.close()
        #expect(size(wal) == 0)
        let reopened = try Registry.open(at: t.path, author: "tester")
        #expect(try reopened.read { try $0.changeCount() } >= cases)
        #expect(try reopened.verifyAudit().problem == nil)
        try reopened.close()
    }
}
