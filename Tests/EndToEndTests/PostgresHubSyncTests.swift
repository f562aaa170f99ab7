import Foundation
import Testing

/// `emreg hub serve --postgres URL`: the built binary, a real PostgreSQL (the cluster
/// scripts/test starts, named by EMREG_TEST_POSTGRES_URL) and clinics syncing through it.
@Suite(.serialized) struct PostgresHubSyncTests {
    /// A new database on the test server; its URL, and its name for dropping.
    static func freshDatabase() throws -> (url: String, name: String) {
        guard let server = ProcessInfo.processInfo.environment["EMREG_TEST_POSTGRES_URL"], !server.isEmpty else {
            throw EmregProcess.Failure(
                message: "EMREG_TEST_POSTGRES_URL is not set: run scripts/test, or scripts/pg-start DIR and export it")
        }
        let name = "emreg_e2e_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        try psql(server, "CREATE DATABASE \(name)")
        var c = try #require(URLComponents(string: server))
        c.path = "/" + name
        return (try #require(c.string), name)
    }

    static func psql(_ url: String, _ sql: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["psql", url, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql]
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { throw EmregProcess.Failure(message: "psql failed: \(sql)") }
    }

    @Test func twoClinicsSyncThroughAHubOnPostgreSQLAndConverge() throws {
        let (url, name) = try Self.freshDatabase()
        let password = URLComponents(string: url)?.password ?? ""
        let root = try EmregProcess()
        defer { root.cleanUp() }
        let hub = try HubProcess(directory: root.directory, postgresURL: url)
        defer { hub.stop() }
        let clinics = try SyncTests.clinics(["A", "B"], hub: hub, root: root)
        defer { clinics.forEach { $0.runner.cleanUp() } }
        let (a, b) = (clinics[0], clinics[1])
        for k in 0..<2 { _ = try a.runner.logLegPlasmacytoma(mrn: "MRN-A-\(k)") }
        let shared = try b.runner.logLegPlasmacytoma(mrn: "MRN-B-0")
        for _ in 0..<2 {
            for c in clinics {
                let r = try c.sync(hub)
                #expect(r.status == 0, "\(c.code): \(r.stderr)")
            }
        }
        let contents = try clinics.map(SyncTests.syncedContent)
        #expect(contents[0].count == 3)
        #expect(contents[0] == contents[1])

        // A conflict on PostgreSQL as on SQLite: both edit one site, both see one open conflict.
        _ = try a.runner.ok(["site", "update", shared.site, "--size-mm", "50"])
        _ = try b.runner.ok(["site", "update", shared.site, "--size-mm", "55"])
        for _ in 0..<2 { for c in clinics { #expect(try c.sync(hub).status == 0) } }
        for c in clinics {
            #expect(try c.runner.ok(["conflicts", "list", "--json"]).contains(#""field" : "sizeMm""#))
            #expect(try c.runner.ok(["sync", "status", "--json"]).contains(#""pendingChanges" : 0"#))
            #expect(try c.runner.ok(["audit", "verify"]).contains("intact"))
        }

        let list = try root.ok(["hub", "clinic", "list", "--json"] + hub.storeArguments)
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(list.utf8)) as? [[String: Any]])
        #expect(listed.map { $0["code"] as? String } == ["A", "B"])
        #expect(listed.allSatisfy { ($0["batches"] as? Int ?? 0) >= 2 }, "\(list)")
        _ = try root.ok(["hub", "clinic", "revoke", "B"] + hub.storeArguments)
        let revoked = try b.sync(hub)
        #expect(revoked.status != 0 && revoked.stderr.contains("401"))

        hub.stop()
        let log = String(decoding: hub.log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(log.contains("emreg hub serving postgres://"), "\(log)")
        #expect(!password.isEmpty && !log.contains(password))
        try? Self.psql(
            URLComponents(string: url).map {
                var c = $0; c.path = "/postgres"; return c.string ?? url
            } ?? url,
            "DROP DATABASE \(name) WITH (FORCE)")
    }

    @Test func aWrongPasswordIsAClearErrorThatDoesNotRepeatIt() throws {
        let (url, _) = try Self.freshDatabase()
        var c = try #require(URLComponents(string: url))
        c.password = "Wrong-Secret-31337"
        let root = try EmregProcess()
        defer { root.cleanUp() }
        let r = try root.run(["hub", "clinic", "list", "--postgres", try #require(c.string)])
        #expect(r.status != 0)
        #expect(r.stderr.contains("28P01") && r.stderr.contains("postgres://"), "\(r.stderr)")
        #expect(!r.stderr.contains("Wrong-Secret-31337") && !r.stdout.contains("Wrong-Secret-31337"))
        let both = try root.run(["hub", "clinic", "list", "--postgres", url, "--hub-db", "x.sqlite"])
        #expect(both.status != 0 && both.stderr.contains("give one of them"), "\(both.stderr)")
    }
}
