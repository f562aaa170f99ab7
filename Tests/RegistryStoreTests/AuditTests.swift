import Foundation
import GRDB
import RegistryCore
import Testing
@testable import RegistryStore

struct AuditTests {
    @Test func anUntouchedRegistryVerifies() throws {
        let t = try TestRegistry()
        _ = try t.seed()
        let report = try t.registry.verifyAudit()
        #expect(report.problem == nil)
        #expect(report.entries == 4)
        #expect(report.records == 4)
    }

    @Test(arguments: [
        ("UPDATE sites SET size_mm = 40", "field sizeMm"),
        ("UPDATE patients SET birth_year = 1970", "field birthYear"),
        // A blob where emreg writes text: reported, not a trap in the value conversion (it was).
        ("UPDATE cases SET icd10 = X'0001'", "field icd10"),
        ("UPDATE sites SET size_mm = 39.5", "field sizeMm"),
        ("UPDATE patient_identities SET mrn = 'X1'", "field mrn"),
        ("UPDATE cases SET deleted_at = '2024-01-01T00:00:00.000Z'", "field deletedAt"),
        ("DELETE FROM sites", "deleted behind"),
        ("INSERT INTO follow_ups VALUES ('f1', (SELECT id FROM cases), '2022-01-01', 'dead', NULL, 'X', 'a', 'a', NULL, NULL)", "no history"),
        ("DROP TRIGGER change_log_no_update", "trigger change_log_no_update"),
        ("DROP TRIGGER change_log_no_delete; DELETE FROM change_log WHERE seq = 2; CREATE TRIGGER change_log_no_delete BEFORE DELETE ON change_log BEGIN SELECT RAISE(ABORT, 'change_log is append-only'); END", "does not follow"),
        ("DROP TRIGGER change_log_no_update; UPDATE change_log SET author = 'mallory' WHERE seq = 3; CREATE TRIGGER change_log_no_update BEFORE UPDATE ON change_log BEGIN SELECT RAISE(ABORT, 'change_log is append-only'); END", "altered"),
    ])
    func tamperingBehindEmregsBackIsFound(sql: String, expected: String) throws {
        let t = try TestRegistry()
        _ = try t.seed()
        try t.raw().write { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            try db.execute(sql: sql)
        }
        let problem = try #require(try t.registry.verifyAudit().problem)
        #expect(problem.contains(expected), "\(problem)")
    }
}
