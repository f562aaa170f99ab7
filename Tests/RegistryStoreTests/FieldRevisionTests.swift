import GRDB
import RegistryCore
import Testing

@testable import RegistryStore

/// The revisions a clinic keeps of the hub's fields (the base of its next edit of each): a change
/// that gives every field of its record one revision, as an insert does, is kept as one row for
/// the whole record; any other as a row per field; a field's revision is the larger of the two.
struct FieldRevisionTests {
    static func rows(_ db: Database, _ id: String) throws -> [String] {
        try Row.fetchAll(db, sql: "SELECT field, revision FROM field_revisions WHERE row_id = ? ORDER BY field", arguments: [id])
            .map { "\($0["field"] as String)=\($0["revision"] as Int64)" }
    }

    static func revisions(_ t: TestRegistry, _ id: String) throws -> [String: Int64] {
        try t.registry.write { tx in
            var out = [String: Int64]()
            for field in RegistryCore.Entity.patient.fields { out[field] = try tx.revision(.patient, id, field) }
            return out
        }
    }

    @Test func aWholeRecordRowStandsForEveryFieldAndFieldRowsWrittenLaterWin() throws {
        let t = try TestRegistry()
        let id = try t.seed().patient.id
        let fields = RegistryCore.Entity.patient.fields
        #expect(fields.count >= 2)
        let (first, rest) = (fields[0], Array(fields.dropFirst()))
        #expect(try Self.revisions(t, id).values.allSatisfy { $0 == 0 })

        // As an insert comes: every field at 1, one row.
        try t.raw().write { db in try RevisionWriter(db).set("patients", id, fields.map { ($0, Int64(1)) }) }
        #expect(try t.raw().read { try Self.rows($0, id) } == ["*=1"])
        #expect(try Self.revisions(t, id) == Dictionary(uniqueKeysWithValues: fields.map { ($0, 1) }))

        // One revision for all but one field is not the whole record: a row each, the other
        // field left at 1.
        try t.raw().write { db in try RevisionWriter(db).set("patients", id, rest.map { ($0, Int64(2)) }) }
        var expected = Dictionary(uniqueKeysWithValues: rest.map { ($0, Int64(2)) })
        expected[first] = 1
        #expect(try Self.revisions(t, id) == expected)
        #expect(try t.raw().read { try Self.rows($0, id) }.count == rest.count + 1)

        // Every field, but not one revision: a row each.
        try t.raw().write { db in
            try RevisionWriter(db).set("patients", id, fields.enumerated().map { ($1, Int64(3 + $0)) })
        }
        expected = Dictionary(uniqueKeysWithValues: fields.enumerated().map { ($1, Int64(3 + $0)) })
        #expect(try Self.revisions(t, id) == expected)

        // The whole record again, above some fields and below others: each field the larger.
        try t.raw().write { db in try RevisionWriter(db).set("patients", id, fields.map { ($0, Int64(4)) }) }
        #expect(try Self.revisions(t, id) == expected.mapValues { max($0, 4) })

        // A stale answer moves nothing.
        try t.raw().write { db in try RevisionWriter(db).set("patients", id, fields.map { ($0, Int64(1)) }) }
        #expect(try Self.revisions(t, id) == expected.mapValues { max($0, 4) })
    }

    /// A record pulled in as an insert has no revision row: its fields' revisions are the ones its
    /// insert was logged with, the hub's; a field the insert left out is at 0; a later revision of
    /// a field (a row) wins; a delete is based on the highest. A record inserted here is at 0.
    @Test func aPulledInsertsRevisionsAreReadFromItsLogEntry() throws {
        let t = try TestRegistry()
        let local = try t.seed().patient.id
        let id = EntityID.make()
        // The hub's revisions as a feed brings them (2 stands for a field edited before this pull).
        let insert = RemoteChange(
            changeId: EntityID.make(), txId: EntityID.make(), table: "patients", rowId: id, op: .insert,
            fields: [
                .init(field: "sex", old: .null, new: .text("female"), baseRevision: 1),
                .init(field: "birthYear", old: .null, new: .int(1960), baseRevision: 2),
            ],
            conflictId: nil, hlc: HybridLogicalClock(millis: Clock.nowMillis()).description, author: "registrar",
            origin: "TEST-B")
        try t.registry.applyPulled([.change(seq: 1, insert)], next: 1)
        #expect(try t.raw().read { try Self.rows($0, id) } == [])
        var expected = Dictionary(uniqueKeysWithValues: RegistryCore.Entity.patient.fields.map { ($0, Int64(0)) })
        expected["sex"] = 1
        expected["birthYear"] = 2
        #expect(try Self.revisions(t, id) == expected)
        #expect(try Self.revisions(t, local).values.allSatisfy { $0 == 0 })

        // A newer revision of one field, as a pulled update or a receipt writes it.
        try t.raw().write { db in try RevisionWriter(db).set("patients", id, [("sex", Int64(5))]) }
        expected["sex"] = 5
        #expect(try Self.revisions(t, id) == expected)

        // The record's delete is based on its highest revision: the log entry's when no row is
        // higher.
        let other = EntityID.make()
        var second = insert
        second.changeId = EntityID.make()
        second.rowId = other
        try t.registry.applyPulled([.change(seq: 2, second)], next: 2)
        _ = try t.registry.write { tx in try tx.delete(.patient, id: other, reason: "entered twice") }
        let deleted = try t.raw().read { db in
            try String.fetchOne(
                db, sql: "SELECT fields FROM change_log WHERE row_id = ? AND op = 'delete'", arguments: [other])
        }
        #expect(deleted?.contains(#""rev":2"#) == true, "\(deleted ?? "no delete logged")")
    }

    /// An insert made here and accepted by the hub has no revision row: every field it carries
    /// is at the hub's first revision (migration 005). One not yet answered, or rejected, is at 0;
    /// a later revision of a field wins.
    @Test func anAcceptedInsertsFieldsAreAtTheFirstRevisionWithoutARow() throws {
        let t = try TestRegistry()
        let seeded = try t.seed()
        let id = seeded.patient.id
        #expect(try Self.revisions(t, id).values.allSatisfy { $0 == 0 })
        let batch = try #require(try t.registry.nextOutboxBatch(maxChanges: 100) { _ in })
        #expect(batch.changes.allSatisfy { $0.isInsert })
        let outcomes = batch.changes.enumerated().map { k, c in
            // The site's insert rejected; the others accepted, each field at 1 as the hub answers.
            c.rowId == seeded.site.id
                ? PushOutcome(changeId: c.changeId, status: .rejected, hubSeq: nil, revisions: [], reason: "test")
                : PushOutcome(
                    changeId: c.changeId, status: .accepted, hubSeq: Int64(k + 1),
                    revisions: ["sex", "birthYear"].map { FieldRevision(field: $0, revision: 1) }, reason: nil)
        }
        try t.registry.recordPushOutcomes(batch, outcomes)
        #expect(try t.raw().read { try Self.rows($0, id) } == [])
        let inserted = try t.registry.write { tx in
            try tx.insertRevisions(.patient, id)
        }
        #expect(!inserted.isEmpty && inserted.values.allSatisfy { $0 == 1 })
        var expected = Dictionary(uniqueKeysWithValues: RegistryCore.Entity.patient.fields.map { ($0, inserted[$0] ?? 0) })
        #expect(try Self.revisions(t, id) == expected)
        let site = try t.registry.write { tx in try tx.insertRevisions(.site, seeded.site.id) }
        #expect(!site.isEmpty && site.values.allSatisfy { $0 == 0 })

        // A newer revision of one field, as a pulled update or a receipt writes it.
        try t.raw().write { db in try RevisionWriter(db).set("patients", id, [("sex", Int64(4))]) }
        expected["sex"] = 4
        #expect(try Self.revisions(t, id) == expected)
    }

    /// A registry a newer emreg migrated (a migration this one does not know) is refused on open,
    /// saying why, rather than read by rules that may have changed.
    @Test func aRegistryANewerEmregMigratedIsRefused() throws {
        let t = try TestRegistry()
        try t.raw().write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('999-from-a-newer-emreg')") }
        #expect { try Registry.open(at: t.path, author: "tester") } throws: { "\($0)".contains("newer emreg") }
    }
}
