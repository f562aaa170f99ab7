import Foundation
import GRDB
import Logging
import RegistryCore
import Testing

@testable import RegistryHub

/// The OpenAPI document against the router, and the hub schema against its reviewed SQL.
@Suite struct HubDocumentTests {
    static func routerOperations() throws -> Set<String> {
        let directory = NSTemporaryDirectory() + "emreg-hub-routes-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let router = buildRouter(
            configuration: HubConfiguration(), store: try SQLiteHubStore.open(at: directory + "/hub.sqlite"),
            logger: Logger(label: "test"))
        return Set(
            router.routes.map { route in
                let path = route.path.description.split(separator: "/").map { segment in
                    segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
                }
                return "\(route.method.rawValue) /" + path.joined(separator: "/")
            })
    }

    @Test func openAPIDocumentDescribesExactlyTheRoutes() throws {
        let routes = try Self.routerOperations()
        #expect(routes.count == 4)
        #expect(routes == OpenAPIDocument.operations)
    }

    @Test(arguments: HubStoreKind.allCases)
    func servedDocumentIsOpenAPI31WithSchemasAndErrors(_ kind: HubStoreKind) async throws {
        try await RunningHub.with(kind) { hub in
            let reply = try await hub.request("GET", "/openapi.json")
            #expect(reply.status == 200)
            let doc = try reply.json()
            #expect(doc["openapi"]?.string == "3.1.0")
            let paths = try #require(doc["paths"]?.object)
            var served = Set<String>()
            for (path, item) in paths {
                for (method, operation) in item.object ?? [:] {
                    served.insert("\(method.uppercased()) \(path)")
                    let responses = try #require(operation["responses"]?.object)
                    #expect(responses["200"]?["content"]?["application/json"]?["schema"] != nil)
                    #expect(
                        responses["500"]?["content"]?["application/json"]?["schema"]?["$ref"]?.string
                            == "#/components/schemas/Error")
                }
            }
            #expect(served == (try Self.routerOperations()))
            let push = try #require(paths["/v1/batches/{batchId}"]?["post"])
            #expect(
                push["requestBody"]?["content"]?["application/json"]?["schema"]?["$ref"]?.string
                    == "#/components/schemas/SyncBatch")
            for status in ["400", "401", "409", "413"] { #expect(push["responses"]?[status] != nil, "\(status)") }
            // Every $ref points at a schema the document defines.
            let schemas = try #require(doc["components"]?["schemas"]?.object)
            var refs = Set<String>()
            func collect(_ j: JSON) {
                switch j {
                case .object(let o):
                    if let r = o["$ref"]?.string { refs.insert(r) }
                    o.values.forEach(collect)
                case .array(let a): a.forEach(collect)
                default: break
                }
            }
            collect(doc)
            for r in refs { #expect(schemas[String(r.dropFirst("#/components/schemas/".count))] != nil, "\(r)") }
        }
    }

    static let schemaDirectory = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("../../Schema/hub").standardized.path

    static func dump(_ db: Database) throws -> [String] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT type, name, tbl_name, sql FROM sqlite_master
                WHERE name NOT LIKE 'sqlite_%' AND name <> 'grdb_migrations' ORDER BY type, name
                """
        ).map {
            "\($0["type"] as String) \($0["name"] as String) \($0["tbl_name"] as String): \($0["sql"] as String? ?? "")"
        }
    }

    static func schemaFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: schemaDirectory).filter { $0.hasSuffix(".sql") }.sorted()
    }

    @Test func embeddedSQLMatchesTheSchemaFiles() throws {
        let files = try Self.schemaFiles()
        #expect(!files.isEmpty)
        #expect(HubSchemaSQL.migrations.map(\.name) == files.map { String($0.dropLast(4)) })
        for (m, f) in zip(HubSchemaSQL.migrations, files) {
            let text = try String(contentsOfFile: Self.schemaDirectory + "/" + f, encoding: .utf8)
            #expect(m.sql == text.trimmingCharacters(in: .newlines), "run scripts/gen-schema: \(f) changed")
        }
    }

    @Test func newHubDatabaseHasExactlyTheReviewedSchemaInWALWithFullSync() throws {
        let directory = NSTemporaryDirectory() + "emreg-hub-schema-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteHubStore.open(at: directory + "/hub.sqlite")
        let migrated = try store.pool.read { try Self.dump($0) }
        let reference = try DatabaseQueue()
        for f in try Self.schemaFiles() {
            let sql = try String(contentsOfFile: Self.schemaDirectory + "/" + f, encoding: .utf8)
            try reference.write { try $0.execute(sql: sql) }
        }
        #expect(migrated == (try reference.read { try Self.dump($0) }))
        #expect(try store.pool.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") } == "wal")
        #expect(try store.pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA synchronous") } == 2)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA page_size") } == SQLiteHubStore.pageSize)
        // Opening again migrates nothing and keeps the data.
        _ = try SQLiteHubStore.open(at: directory + "/hub.sqlite")
    }

    /// A hub database made before keeps its page size (it cannot change in WAL mode) and opens.
    @Test func aHubDatabaseWithSmallerPagesStillOpens() throws {
        let directory = NSTemporaryDirectory() + "emreg-hub-pages-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/hub.sqlite"
        let old = try DatabasePool(path: path)
        try SQLiteHubStore.migrator.migrate(old)
        try old.close()
        let store = try SQLiteHubStore.open(at: path)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "PRAGMA page_size") } == 4096)
        #expect(try store.pool.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM hub_feed") } == 0)
    }

    @Test func theFeedIsAppendOnly() async throws {
        let directory = NSTemporaryDirectory() + "emreg-hub-feed-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SQLiteHubStore.open(at: directory + "/hub.sqlite")
        try await store.addClinic("A", tokenSHA256: ClinicToken.sha256("t"))
        _ = try await store.applyBatch(
            .init(changes: [WireChanges.patient()]), id: EntityID.make(), clinic: "A", bodySHA256: "x")
        #expect(throws: DatabaseError.self) {
            try store.pool.write { try $0.execute(sql: "UPDATE hub_feed SET entry = '{}'") }
        }
        #expect(throws: DatabaseError.self) { try store.pool.write { try $0.execute(sql: "DELETE FROM hub_feed") } }
    }
}
