import Foundation
import GRDB
import RegistryCore
import Testing

@testable import RegistryStore

/// The two-thread cohort scan (`Registry.forEachCohortPatient`): a row altered behind emreg's
/// back ends the scan with a clear error, whichever thread finds it, and the reader thread is
/// never left waiting on a full pipe.
@Suite struct CohortScanTests {
    /// The seeded patient and case with `followUps` follow-ups, a week apart.
    static func registry(followUps: Int) throws -> (TestRegistry, caseId: String) {
        let t = try TestRegistry()
        let (_, c, _) = try t.seed()
        try t.registry.write { tx in
            for i in 0..<followUps {
                try tx.addFollowUp(
                    FollowUp(caseId: c.id, on: CalendarDay("2021-07-01")!.adding(days: 7 * (i % 200)), vitalStatus: .alive))
            }
        }
        return (t, c.id)
    }

    /// Changes the file as the sqlite3 shell would: no foreign-key checks.
    static func alter(_ t: TestRegistry, _ sql: String, _ arguments: StatementArguments) throws {
        var configuration = Configuration()
        configuration.foreignKeysEnabled = false
        try DatabaseQueue(path: t.path, configuration: configuration).write { try $0.execute(sql: sql, arguments: arguments) }
    }

    static func expectTampered(_ reason: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
        let error = #expect(throws: StoreError.self, sourceLocation: sourceLocation) { try body() }
        guard case .tampered(let what)? = error else { return }
        #expect(what == reason, sourceLocation: sourceLocation)
    }

    @Test func anUntouchedRegistryGivesEachPatientOnceWithItsFollowUps() throws {
        let (t, _) = try Self.registry(followUps: 300)
        var patients: [CohortPatient] = []
        try t.registry.forEachCohortPatient(CohortSelection()) { patients.append($0) }
        #expect(patients.count == 1)
        #expect(patients.first?.cases == 1)
        #expect(patients.first?.diagnosedOn == CalendarDay("2020-01-10")!.daysSinceEpoch)
        #expect(patients.first?.lastSeenOn == CalendarDay("2021-07-01")!.adding(days: 7 * 199).daysSinceEpoch)
        #expect(patients.first?.diedOn == nil)
        #expect(patients.first?.sites.count == 1)
    }

    /// The bad id is in the first batch; 40,000 follow-ups (ten batches, the pipe holds eight)
    /// are still to come, so the reader is blocked on a full pipe when the calling thread fails.
    @Test(.timeLimit(.minutes(2))) func anIdRefusedByTheCallingThreadEndsTheScanWithoutHanging() throws {
        let (t, caseId) = try Self.registry(followUps: 40_000)
        // 36 characters, so the reader copies it; not hex, so the calling thread refuses it.
        try Self.alter(t, "UPDATE cases SET patient_id = ? WHERE id = ?", [String(repeating: "z", count: 36), caseId])
        Self.expectTampered("a stored id is not a UUID") { try t.registry.forEachCohortPatient(CohortSelection()) { _ in } }
        // The registry is still usable: the reader thread let go of the connection.
        #expect(try t.registry.read { try $0.changeCount() } > 40_000)
    }

    @Test(.timeLimit(.minutes(2))) func aDateRefusedByTheReaderThreadIsTheScansError() throws {
        let (t, _) = try Self.registry(followUps: 20)
        try Self.alter(t, "UPDATE follow_ups SET on_date = '2021-7-1' WHERE id = (SELECT id FROM follow_ups LIMIT 1)", [])
        Self.expectTampered("a stored date is not a date") { try t.registry.forEachCohortPatient(CohortSelection()) { _ in } }
    }
}
