import Foundation
import GRDB
import RegistryCore
import Testing
@testable import RegistryStore

struct ChangeLogTests {
    @Test func everyWriteAppendsOneChainedEntryPerRecordInTheSameTransaction() throws {
        let t = try TestRegistry()
        let seeded = try t.seed()
        let entries = try t.registry.read { r in
            try Row.fetchAll(r.db, sql: "SELECT \(ChangeLogEntry.columns) FROM change_log ORDER BY seq").map {
                try ChangeLogEntry(row: $0)
            }
        }
        // patient, identity, case, site
        #expect(entries.map(\.table) == ["patients", "patient_identities", "cases", "sites"])
        #expect(Set(entries.map(\.txId)).count == 1)
        #expect(entries.allSatisfy { $0.op == .insert && $0.author == "tester" && $0.origin == "TEST-A" })
        #expect(entries[0].prevHash == ChangeLogEntry.genesisHash)
        for (a, b) in zip(entries, entries.dropFirst()) {
            #expect(b.prevHash == a.hash)
            #expect(a.hlc < b.hlc)
        }
        #expect(entries.allSatisfy { $0.computedHash == $0.hash })
        let site = try entries[3].fieldChanges()
        #expect(site.first { $0.field == "sizeMm" }?.new == .int(39))
        #expect(site.first { $0.field == "timing" }?.new == .text("during-course"))
        #expect(entries[3].rowId == seeded.site.id)
    }

    @Test func updatesLogOnlyChangedFieldsWithOldValuesAndNoChangeLogsNothing() throws {
        let t = try TestRegistry()
        let s = try t.seed().site
        try t.registry.write { tx in try tx.update(ExtramedullarySite.self, id: s.id) { $0.sizeMm = 45 } }
        try t.registry.write { tx in try tx.update(ExtramedullarySite.self, id: s.id) { $0.sizeMm = 45 } }
        let history = try t.registry.read { try $0.history(id: s.id) }
        #expect(history.count == 2)
        let changes = try history[1].fieldChanges()
        #expect(changes == [.init(field: "sizeMm", old: .int(39), new: .int(45), baseRevision: 0)])
    }

    /// A new record's entry is written straight from its values; it must read exactly as the
    /// general encoder writes the same field changes (escapes, integers, nulls left out, sorted).
    @Test func anInsertsFieldsEncodeAsTheGeneralEncoderWouldWriteThem() throws {
        let day = CalendarDay("2020-03-04")!
        let records: [any RegistryRecord] = [
            Patient(sex: .female, birthYear: 1950, linkageKey: "k\"ey\\\n"),
            PatientIdentity(patientId: "p", mrn: "MRN\u{1}é", name: nil, birthDate: day),
            ClinicalCase(patientId: "p", diagnosis: .multipleMyeloma, diagnosedOn: day, icd10: "C90.0", morphology: nil),
            ExtramedullarySite(
                caseId: "c", detectedOn: day, timing: .atDiagnosis, category: .paraskeletal, region: .paravertebral, sizeMm: 12),
            Biopsy(caseId: "c", performedOn: day, procedure: .coreNeedle, finding: "\t\u{7f} ok"),
            FollowUp(caseId: "c", on: day, vitalStatus: .alive, diseaseStatus: nil),
        ]
        for record in records {
            let entity = type(of: record).entity
            let values = record.values
            let changes = zip(entity.fields, values).filter { !$0.1.isNull }.map {
                ChangeLogEntry.FieldChange(field: $0.0, old: .null, new: $0.1, baseRevision: 0)
            }
            var bytes = [UInt8]()
            ChangeLogEntry.encodeInsert(entity, values, to: &bytes)
            #expect(String(decoding: bytes, as: UTF8.self) == ChangeLogEntry.encode(changes), "\(entity)")
        }
    }

    /// The audit reads entries without a JSON tree; whatever it reads must be what the generic
    /// reading gives, and anything unusual (a field named twice, an unknown member, a float) must
    /// go to the generic reading, which accepts or names it.
    @Test func fieldChangesReadWithoutAJSONTreeAreTheGenericReading() throws {
        let written = ChangeLogEntry.encode([
            .init(field: "sizeMm", old: .int(-3), new: .int(Int64.max), baseRevision: 7),
            .init(field: "finding", old: .null, new: .text("q\"\\ \n\u{1} é 😀 \u{7f}"), baseRevision: 0),
            .init(field: "deletedAt", old: .text(""), new: .null, baseRevision: 12),
        ])
        func generic(_ text: String) throws -> [ChangeLogEntry.FieldChange] {
            let object = try #require(try JSON.parse(text).object)
            return try object.keys.sorted().map { key in
                let f = try #require(object[key])
                return .init(field: key, old: f["old"]?.fieldValue ?? .null, new: try #require(f["new"]?.fieldValue), baseRevision: f["rev"]?.int ?? 0)
            }
        }
        let canonical = [
            written, "{}", #" { "b" : { "rev" : 1 , "old" : null , "new" : "x" } , "a" : {"new":2,"old":1,"rev":0} } "#,
            #"{"a":{"new":"\u00e9\ud83d\ude00","old":null,"rev":0}}"#,
        ]
        for text in canonical {
            let fast = try #require(ChangeLogEntry.canonicalFieldChanges(text), "\(text)")
            #expect(fast == (try generic(text)), "\(text)")
            #expect(try ChangeLogEntry.fieldChanges(text, changeId: "c") == fast)
        }
        for unusual in [
            #"{"a":{"new":1,"old":null,"rev":0},"a":{"new":2,"old":null,"rev":0}}"#, #"{"a":{"new":1,"old":null,"rev":0,"x":1}}"#,
            #"{"a":{"new":1.5,"old":null,"rev":0}}"#, #"{"a":{"new":1,"rev":0}}"#, #"{"a":{"new":1,"old":null,"rev":0}} x"#,
        ] {
            #expect(ChangeLogEntry.canonicalFieldChanges(unusual) == nil, "\(unusual)")
        }
        // Read generically: an entry with no `old` is still a change from null.
        #expect(try ChangeLogEntry.fieldChanges(#"{"a":{"new":1,"rev":0}}"#, changeId: "c") == [.init(field: "a", old: .null, new: .int(1), baseRevision: 0)])
        #expect(throws: StoreError.self) { try ChangeLogEntry.fieldChanges(#"{"a":{"new":1.5,"old":null,"rev":0}}"#, changeId: "c") }
    }

    @Test func theLogRefusesUpdatesAndDeletes() throws {
        let t = try TestRegistry()
        _ = try t.seed()
        let raw = try t.raw()
        #expect(throws: DatabaseError.self) { try raw.write { try $0.execute(sql: "UPDATE change_log SET author = 'x'") } }
        #expect(throws: DatabaseError.self) { try raw.write { try $0.execute(sql: "DELETE FROM change_log") } }
        #expect(try raw.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM change_log") } == 4)
    }

    @Test func aRejectedWriteLeavesNothingBehind() throws {
        let t = try TestRegistry()
        let seeded = try t.seed()
        let before = try t.registry.read { try $0.changeCount() }
        #expect(throws: StoreError.self) {
            try t.registry.write { tx in
                try tx.addFollowUp(FollowUp(caseId: seeded.clinicalCase.id, on: CalendarDay("2022-01-01")!, vitalStatus: .alive))
                // second write in the same transaction is invalid: the first must roll back too
                try tx.addFollowUp(FollowUp(caseId: seeded.clinicalCase.id, on: CalendarDay("2019-01-01")!, vitalStatus: .dead))
            }
        }
        #expect(try t.registry.read { try $0.changeCount() } == before)
        #expect(try t.registry.read { try $0.records(FollowUp.self, where: "caseId", is: seeded.clinicalCase.id) }.isEmpty)
    }

    @Test func deleteTombstonesTheRecordAndWhatHangsOffIt() throws {
        let t = try TestRegistry()
        let seeded = try t.seed()
        try t.registry.write { tx in
            try tx.addBiopsy(
                Biopsy(caseId: seeded.clinicalCase.id, siteId: seeded.site.id, performedOn: CalendarDay("2021-06-03")!, procedure: .coreNeedle, morphology: "9734/3"))
        }
        let count = try t.registry.write { tx in try tx.delete(.patient, id: seeded.patient.id, reason: "registered in error") }
        #expect(count == 5)  // patient, identity, case, biopsy, site
        #expect(throws: StoreError.self) { try t.registry.read { try $0.caseDetail(id: seeded.clinicalCase.id) } }
        let stored = try t.registry.read { try $0.fetch(ExtramedullarySite.self, id: seeded.site.id) }
        #expect(stored?.deleteReason == "registered in error")
        // the MRN may be registered again once its patient is deleted
        _ = try t.registry.write { tx in
            try tx.addPatient(Patient(sex: .female, birthYear: 1963), identity: PatientIdentity(patientId: "", mrn: "MM00165"))
        }
        #expect(try t.registry.verifyAudit().problem == nil)
    }

    @Test func linkageKeyIsHMACOfTheNormalisedMRNAndMRNsAreUnique() throws {
        let t = try TestRegistry()
        let p = try t.seed().patient
        let secret = try #require(Hex.decode(try t.registry.read { try $0.meta("linkage_secret") } ?? ""))
        #expect(p.linkageKey == Hex.encode(SHA256.hmac(key: secret, message: Array("MM00165".utf8))))
        #expect(t.registry.linkageKey(mrn: " mm-00165 ") == p.linkageKey)
        #expect(throws: StoreError.self) {
            try t.registry.write { tx in
                try tx.addPatient(Patient(sex: .male, birthYear: 1950), identity: PatientIdentity(patientId: "", mrn: "MM00165"))
            }
        }
    }

    @Test func concurrentWritersFromManyHandlesAllLand() async throws {
        let t = try TestRegistry()
        let p = try t.seed().patient
        let path = t.path
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    let handle = try Registry.open(at: path, author: "writer\(w)")
                    for i in 0..<50 {
                        try handle.write { tx in
                            try tx.addCase(
                                ClinicalCase(patientId: p.id, diagnosis: .multipleMyeloma, diagnosedOn: CalendarDay("2020-01-01")!.adding(days: i)))
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try t.registry.read { try $0.cases() }.count == 201)
        #expect(try t.registry.verifyAudit().problem == nil)
    }
}
