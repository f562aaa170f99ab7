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

    /// A registry a newer emreg migrated (a migration this one does not know) is refused on open,
    /// saying why, rather than read by rules that may have changed.
    @Test func aRegistryANewerEmregMigratedIsRefused() throws {
        let t = try TestRegistry()
        try t.raw().write { try $0.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('999-from-a-newer-emreg')") }
        #expect { try Registry.open(at: t.path, author: "tester") } throws: { "\($0)".contains("newer emreg") }
    }
}
