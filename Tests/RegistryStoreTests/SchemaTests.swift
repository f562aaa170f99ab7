import Foundation
import GRDB
import RegistryCore
import Testing
@testable import RegistryStore

struct SchemaTests {
    static let schemaDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../Schema").standardized.path

    static func dump(_ db: Database) throws -> [String] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT type, name, tbl_name, sql FROM sqlite_master
                WHERE name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations' ORDER BY type, name
                """
        ).map { "\($0["type"] as String) \($0["name"] as String) \($0["tbl_name"] as String): \($0["sql"] as String? ?? "")" }
    }

    @Test func migratedDatabaseHasExactlyTheReviewedSchema() throws {
        let t = try TestRegistry()
        let migrated = try t.raw().read { try Self.dump($0) }
        let reference = try DatabaseQueue()
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.schemaDirectory).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(!files.isEmpty)
        for f in files {
            let sql = try String(contentsOfFile: Self.schemaDirectory + "/" + f, encoding: .utf8)
            try reference.write { try $0.execute(sql: sql) }
        }
        let expected = try reference.read { try Self.dump($0) }
        #expect(migrated == expected)
        #expect(migrated.contains { $0.hasPrefix("table change_log") })
    }

    /// `Entity.requiredFields` and `Entity.references` (which the hub checks pushed changes
    /// against, so that no clinic is handed a record its schema refuses) are the schema's NOT NULL
    /// columns and foreign keys.
    @Test(arguments: RegistryCore.Entity.allCases)
    func requiredFieldsAndReferencesAreTheSchemas(_ entity: RegistryCore.Entity) throws {
        let t = try TestRegistry()
        let (notNull, foreignKeys) = try t.raw().read { db in
            (
                try Row.fetchAll(db, sql: "PRAGMA table_info(\(entity.table))").filter { ($0["notnull"] as Int) == 1 }
                    .map { $0["name"] as String },
                try Row.fetchAll(db, sql: "PRAGMA foreign_key_list(\(entity.table))").map {
                    ($0["from"] as String, $0["table"] as String)
                }
            )
        }
        let bookkeeping: Set = [entity.idColumn, "origin", "created_at", "updated_at"]
        #expect(notNull.filter { !bookkeeping.contains($0) } == entity.requiredFields.map(RegistryCore.Entity.column(for:)))
        let keys = foreignKeys.filter { $0.0 != entity.idColumn }.map { "\($0.0) -> \($0.1)" }.sorted()
        #expect(keys == entity.references.map { "\(RegistryCore.Entity.column(for: $0.field)) -> \($0.entity.table)" }.sorted())
    }

    @Test func embeddedSQLMatchesTheSchemaFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.schemaDirectory).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(SchemaSQL.migrations.map(\.name) == files.map { String($0.dropLast(4)) })
        for (m, f) in zip(SchemaSQL.migrations, files) {
            let text = try String(contentsOfFile: Self.schemaDirectory + "/" + f, encoding: .utf8)
            #expect(m.sql == text.trimmingCharacters(in: .newlines), "run scripts/gen-schema: \(f) changed")
        }
    }

    @Test func registryRunsInWALWithForeignKeys() throws {
        let t = try TestRegistry()
        let mode = try t.registry.database.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let fk = try t.registry.database.read { try Int.fetchOne($0, sql: "PRAGMA foreign_keys") }
        #expect(fk == 1)
    }
}
