import GRDB
import RegistryCore
import Testing

@testable import RegistryStore

/// Changes pulled from the hub are checked as the hub checks pushed ones: a record a change
/// would leave unreadable (a code outside its vocabulary, a required field cleared, a record it
/// names that is missing) stops the page with the field and what is accepted, and nothing of the
/// page is applied. Without the check the registry took a patient with sex "banana", and its
/// exports then failed with "audit trail broken".
@Suite struct PulledChangeCheckTests {
    static func change(_ table: String, _ rowId: String, _ op: ChangeLogEntry.Operation, _ fields: [String: FieldValue])
        -> RemoteChange
    {
        RemoteChange(
            changeId: EntityID.make(), txId: EntityID.make(), table: table, rowId: rowId, op: op,
            fields: fields.map { .init(field: $0.key, old: .null, new: $0.value, baseRevision: 1) }, conflictId: nil,
            hlc: HybridLogicalClock(millis: Clock.nowMillis()).description, author: "registrar", origin: "TEST-B")
    }

    /// The patients and the pull cursor, to show that nothing was applied.
    static func state(_ t: TestRegistry) throws -> (patients: Int, sites: [String], cursor: Int64) {
        let (patients, sites) = try t.raw().read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM patients") ?? -1,
             try String.fetchAll(db, sql: "SELECT region FROM sites"))
        }
        return (patients, sites, try t.registry.pullCursor())
    }

    /// A registry made anew under a clinic's code pulls that clinic's history from the hub: its
    /// own changes, which its log does not hold. They are stored like any other clinic's, and
    /// their revisions are the hub's; its own changes already here are not applied twice.
    @Test func aClinicsOwnChangesMissingHereAreStoredWhenPulled() throws {
        let t = try TestRegistry(clinic: "TEST-A")
        let seeded = try t.seed().patient.id
        var own = Self.change("patients", EntityID.make(), .insert, ["sex": .text("male"), "birthYear": .int(1950)])
        own.origin = "TEST-A"
        let localLog = try t.raw().read { try Int.fetchOne($0, sql: "SELECT count(*) FROM change_log") ?? 0 }
        try t.registry.applyPulled([.change(seq: 1, own)], next: 1)
        #expect(try Self.state(t).patients == 2)
        #expect(try t.registry.write { tx in try tx.revision(.patient, own.rowId, "sex") } == 1)
        // Delivered again: nothing more.
        try t.registry.applyPulled([.change(seq: 1, own)], next: 1)
        #expect(try t.raw().read { try Int.fetchOne($0, sql: "SELECT count(*) FROM change_log") ?? 0 } == localLog + 1)
        #expect(try t.registry.write { tx in try tx.revision(.patient, seeded, "sex") } == 0)
    }

    /// A page's new records' log entries go in many to a statement (``ChangeLogAppender``): one
    /// the log refuses (here a change id given twice, which a hub never feeds) stops the page with
    /// the entries named, and nothing of it is applied; a page of more entries than one statement
    /// takes, with an entry the general way between them, is applied whole, its chain intact.
    @Test func logEntriesWrittenManyAtATimeKeepThePageWholeOrNothing() throws {
        let t = try TestRegistry()
        let before = try Self.state(t)
        let first = Self.change("patients", EntityID.make(), .insert, ["sex": .text("male"), "birthYear": .int(1950)])
        var twice = Self.change("patients", EntityID.make(), .insert, ["sex": .text("female"), "birthYear": .int(1960)])
        twice.changeId = first.changeId
        #expect {
            try t.registry.applyPulled([.change(seq: 1, first), .change(seq: 2, twice)], next: 2)
        } throws: { "\($0)".contains("the hub's feed entries 1 to 2 cannot be stored in this registry") }
        #expect(try Self.state(t) == before)

        let count = 2 * SyncStatement.rowsPerInsert + 5
        var entries = (1...count).map { seq -> PulledEntry in
            .change(seq: Int64(seq), Self.change("patients", EntityID.make(), .insert, ["sex": .text("male"), "birthYear": .int(1950)]))
        }
        // An update of the first patient, in the middle: it reads the log, which must hold the entries before it.
        guard case .change(_, let made) = entries[0] else { return }
        entries[SyncStatement.rowsPerInsert + 2] = .change(
            seq: Int64(SyncStatement.rowsPerInsert + 3), Self.change("patients", made.rowId, .update, ["birthYear": .int(1951)]))
        try t.registry.applyPulled(entries, next: Int64(count))
        #expect(try Self.state(t).patients == before.patients + count - 1)
        #expect(try t.raw().read { try Int.fetchOne($0, sql: "SELECT birth_year FROM patients WHERE id = ?", arguments: [made.rowId]) } == 1951)
        let audit = try t.registry.verifyAudit()
        #expect(audit.problem == nil && audit.entries >= count, "\(audit)")
    }

    @Test func aPulledRecordThisRegistryCannotReadStopsThePageWithNothingApplied() throws {
        let t = try TestRegistry()
        let site = try t.seed().site
        let newPatient = Self.change("patients", EntityID.make(), .insert, ["sex": .text("male"), "birthYear": .int(1950)])
        try t.registry.applyPulled([.change(seq: 1, newPatient)], next: 1)
        let before = try Self.state(t)
        #expect(before.patients == 2 && before.cursor == 1)

        let bad: [(RemoteChange, field: String, accepted: String)] = [
            (Self.change("patients", EntityID.make(), .insert, ["sex": .text("banana"), "birthYear": .int(1950)]),
             "patients.sex", "female"),
            (Self.change("patients", EntityID.make(), .insert, ["sex": .text("male")]), "patients.birthYear", "required"),
            (Self.change("sites", site.id, .update, ["region": .text("moon")]), "sites.region", "lower-limb"),
            (Self.change("sites", site.id, .update, ["detectedOn": .null]), "sites.detectedOn", "required"),
            (Self.change("sites", site.id, .update, ["detectedOn": .text("2021-02-30")]), "sites.detectedOn", "YYYY-MM-DD"),
        ]
        for (change, field, accepted) in bad {
            // A good entry before the bad one: it is not applied either.
            let good = Self.change("patients", EntityID.make(), .insert, ["sex": .text("female"), "birthYear": .int(1970)])
            do {
                try t.registry.applyPulled([.change(seq: 2, good), .change(seq: 3, change)], next: 3)
                Issue.record("\(field): the change was applied")
            } catch {
                #expect(error.description.hasPrefix("\(field): the hub's feed entry 3 holds a value"), "\(error)")
                #expect(error.description.contains(accepted), "\(error)")
                for value in ["banana", "moon", "2021-02-30"] { #expect(!error.description.contains(value)) }
            }
            #expect(try Self.state(t) == before)
        }

        // A record naming a case this registry lacks: the entry and the field are named.
        let orphan = Self.change(
            "sites", EntityID.make(), .insert,
            ["caseId": .text(EntityID.make()), "detectedOn": .text("2021-06-01"), "timing": .text("during-course"),
             "category": .text("extraosseous"), "region": .text("lower-limb")])
        #expect {
            try t.registry.applyPulled([.change(seq: 2, orphan)], next: 2)
        } throws: { "\($0)".hasPrefix("sites.caseId: the hub's feed entry 2 names a case this registry does not hold") }
        #expect(try Self.state(t) == before)

        // A child before its parent within one page, as one clinic transaction may write them: applied.
        let (patientId, caseId) = (EntityID.make(), EntityID.make())
        try t.registry.applyPulled(
            [
                .change(seq: 2, Self.change(
                    "cases", caseId, .insert,
                    ["patientId": .text(patientId), "diagnosis": .text("multiple-myeloma"), "diagnosedOn": .text("2020-03-01")])),
                .change(seq: 3, Self.change("patients", patientId, .insert, ["sex": .text("other"), "birthYear": .int(1944)])),
            ], next: 3)
        #expect(try Self.state(t).patients == before.patients + 1)

        // An edit or a delete of a record that is not here changes nothing, as before: not refused.
        try t.registry.applyPulled(
            [.change(seq: 4, Self.change("sites", EntityID.make(), .update, ["region": .text("thorax")]))], next: 4)
        #expect(try Self.state(t).cursor == 4)

        // A valid edit goes through.
        try t.registry.applyPulled(
            [.change(seq: 5, Self.change("sites", site.id, .update, ["region": .text("upper-limb")]))], next: 5)
        #expect(try Self.state(t).sites == ["upper-limb"] && Self.state(t).cursor == 5)
    }
}
