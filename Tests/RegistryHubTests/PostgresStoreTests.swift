import Foundation
import Logging
import PostgresNIO
import RegistryCore
import RegistrySync
import Testing

@testable import RegistryHub

/// What only the PostgreSQL store has: its migrations, its URL and its errors. Everything the
/// two stores share runs in the parameterised hub suite.
@Suite struct PostgresStoreTests {
    static let schemaDirectory = HubDocumentTests.schemaDirectory + "/postgres"

    static func schemaFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: schemaDirectory).filter { $0.hasSuffix(".sql") }.sorted()
    }

    @Test func embeddedSQLMatchesTheSchemaFiles() throws {
        let files = try Self.schemaFiles()
        #expect(!files.isEmpty)
        #expect(HubPostgresSchemaSQL.migrations.map(\.name) == files.map { String($0.dropLast(4)) })
        // The SQLite schema's migrations, in the same order; PostgreSQL's own may follow
        // (002-feed-numbered-at-write: the store numbers feed entries as it writes them).
        #expect(Array(HubPostgresSchemaSQL.migrations.map(\.name).prefix(HubSchemaSQL.migrations.count)) == HubSchemaSQL.migrations.map(\.name))
        for (m, f) in zip(HubPostgresSchemaSQL.migrations, files) {
            let text = try String(contentsOfFile: Self.schemaDirectory + "/" + f, encoding: .utf8)
            #expect(m.sql == text.trimmingCharacters(in: .newlines), "run scripts/gen-schema: \(f) changed")
        }
    }

    @Test func scriptsSplitAtSemicolonsOutsideQuotesAndBodies() {
        let sql = """
            -- a comment; with a semicolon
            CREATE TABLE t (a TEXT DEFAULT 'x;y');
            CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'no;'; END;
            $$;
            SELECT $tag$ ; $tag$
            """
        #expect(
            SQLScript.statements(sql) == [
                "CREATE TABLE t (a TEXT DEFAULT 'x;y')",
                "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN RAISE EXCEPTION 'no;'; END;\n$$",
                "SELECT $tag$ ; $tag$",
            ])
    }

    /// The tables of the public schema and how many migrations are recorded.
    static func tables(_ url: String) async throws -> (tables: Set<String>, migrations: Int) {
        var tables = Set<String>()
        var migrations = 0
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let location = try PostgresLocation(url: url)
        let c = try await PostgresConnection.connect(
            configuration: try location.connectionConfiguration(statementTimeout: .seconds(30)), id: 0, logger: logger)
        defer { Task { try? await c.close() } }
        for try await name in try await c.query(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", logger: logger
        ).decode(String.self) {
            tables.insert(name)
        }
        for try await n in try await c.query("SELECT count(*) FROM hub_schema_migrations", logger: logger).decode(
            Int64.self)
        {
            migrations = Int(n)
        }
        return (tables, migrations)
    }

    @Test func hubsStartingTogetherMigrateANewDatabaseOnceAndKeepItsData() async throws {
        let url = try await TestPostgres.createDatabase()
        let location = try PostgresLocation(url: url)
        defer { Task { await TestPostgres.dropDatabase(location.database) } }
        // Four hubs open the new database at the same moment: the advisory lock lets one migrate.
        let stores = try await withThrowingTaskGroup(of: PostgresHubStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresHubStore.open(url: url) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await stores[0].addClinic("A", tokenSHA256: ClinicToken.sha256("t"))
        _ = try await stores[1].applyBatch(
            .init(changes: [WireChanges.patient()]), id: EntityID.make(), clinic: "A", bodySHA256: "x")
        for s in stores { await s.close() }

        let reopened = try await PostgresHubStore.open(url: url)
        #expect(try await reopened.feed(since: 0, limit: 10).entries.count == 1)
        #expect(try await reopened.clinics().map(\.code) == ["A"])
        await reopened.close()
        let (tables, migrations) = try await Self.tables(url)
        let reviewed = try String(contentsOfFile: Self.schemaDirectory + "/001-hub.sql", encoding: .utf8)
        let declared = Set(
            reviewed.split(separator: "\n").filter { $0.hasPrefix("CREATE TABLE ") }.map {
                String($0.split(separator: " ")[2])
            })
        #expect(tables == declared.union(["hub_schema_migrations"]))
        #expect(migrations == HubPostgresSchemaSQL.migrations.count)
    }

    /// A store on a new database with clinic A and one pushed patient, handed to `body`; then
    /// closed, and its database dropped.
    static func withOnePush(
        maximumConnections: Int = 16, feedCacheBytes: Int = 64 << 20, _ body: (PostgresHubStore) async throws -> Void
    ) async throws {
        let url = try await TestPostgres.createDatabase()
        let store = try await PostgresHubStore.open(
            url: url, maximumConnections: maximumConnections, feedCacheBytes: feedCacheBytes)
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }
        try await store.addClinic("A", tokenSHA256: ClinicToken.sha256("t"))
        _ = try await store.applyBatch(
            .init(changes: [WireChanges.patient()]), id: EntityID.make(), clinic: "A", bodySHA256: "x")
        try await body(store)
    }

    /// A second store on `store`'s database with one connection, for statements the test sends
    /// itself (a schema change, a lock held); close it when done.
    static func sideStore(beside store: PostgresHubStore) -> PostgresHubStore {
        PostgresHubStore(
            location: store.location,
            configuration: store.location.clientConfiguration(statementTimeout: .seconds(30), maximumConnections: 1),
            responseTimeout: .seconds(70))
    }

    @Test func theFeedIsAppendOnly() async throws {
        try await Self.withOnePush { (store: PostgresHubStore) async throws in
            for statement in ["UPDATE hub_feed SET entry = '{}'", "DELETE FROM hub_feed", "TRUNCATE hub_feed CASCADE"] {
                await #expect(throws: PSQLError.self, "\(statement)") {
                    try await store.client.withConnection {
                        try await $0.run(PostgresQuery(unsafeSQL: statement), logger: store.logger)
                    }
                }
            }
            #expect(try await store.feed(since: 0, limit: 10).entries.count == 1)
        }
    }

    /// Waits until `condition` holds, at most `seconds`.
    static func until(_ what: String, seconds: Double = 5, _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(seconds)
        while !condition() {
            guard ContinuousClock.now < deadline else {
                throw PostgresConnectionLossTests.Hung(what: what, seconds: seconds)
            }
            try await Task.sleep(for: .milliseconds(10))
        }
    }

    /// A verified token is remembered (no round trip per request) while the store listens for
    /// changes to the clinics. A revocation by another process (`emreg hub clinic revoke`), an
    /// operator's own SQL, and a lost listening connection each make it forget, within moments;
    /// once it listens again a revocation still reaches it.
    @Test func rememberedTokensAreForgottenWhenAnotherProcessChangesTheClinics() async throws {
        try await Self.withOnePush { store in
            let (t, u) = (ClinicToken.sha256("t"), ClinicToken.sha256("u"))
            try await Self.until("the store listens") { store.tokens.generation != nil }
            #expect(try await store.clinic(tokenSHA256: t) == "A")
            #expect(store.tokens.code(tokenSHA256: t) == "A")
            let other = Self.sideStore(beside: store)
            #expect(try await other.revokeClinic("A"))
            let revoked = ContinuousClock.now
            try await Self.until("the revocation's notice") { store.tokens.code(tokenSHA256: t) == nil }
            #expect(ContinuousClock.now - revoked < .seconds(1))
            #expect(try await store.clinic(tokenSHA256: t) == nil)
            #expect(store.tokens.code(tokenSHA256: t) == nil)

            // Reinstated with a new token by the other process: let in at once, then remembered.
            try await other.addClinic("A", tokenSHA256: u)
            #expect(try await store.clinic(tokenSHA256: u) == "A")
            #expect(store.tokens.code(tokenSHA256: u) == "A")
            try await other.client.withConnection {
                try await $0.run("UPDATE hub_clinics SET revoked_at = 'by hand' WHERE code = 'A'", logger: other.logger)
            }
            try await Self.until("an operator's UPDATE's notice") { store.tokens.code(tokenSHA256: u) == nil }
            #expect(try await store.clinic(tokenSHA256: u) == nil)
            await other.close()

            // The listening connection lost: nothing is kept until the store listens again.
            try await store.addClinic("B", tokenSHA256: t)
            #expect(try await store.clinic(tokenSHA256: t) == "B")
            #expect(try await PostgresConnectionLossTests.terminateBackends(of: store.location.database) > 0)
            try await Self.until("the store notices it stopped listening") { store.tokens.generation == nil }
            #expect(store.tokens.code(tokenSHA256: t) == nil)
            try await Self.until("the store listens again") { store.tokens.generation != nil }
            #expect(try await store.clinic(tokenSHA256: t) == "B")
            #expect(store.tokens.code(tokenSHA256: t) == "B")
            let again = Self.sideStore(beside: store)
            #expect(try await again.revokeClinic("B"))
            await again.close()
            try await Self.until("the notice after listening again") { store.tokens.code(tokenSHA256: t) == nil }
            #expect(try await store.clinic(tokenSHA256: t) == nil)
        }
    }

    /// Two stores (two hubs) on one new database with clinic A, handed to `body`; then closed,
    /// and the database dropped.
    static func withTwoStores(_ body: (PostgresHubStore, PostgresHubStore) async throws -> Void) async throws {
        let url = try await TestPostgres.createDatabase()
        let one = try await PostgresHubStore.open(url: url)
        let two = try await PostgresHubStore.open(url: url)
        defer {
            Task {
                await one.close(); await two.close(); await TestPostgres.dropDatabase(one.location.database)
            }
        }
        try await one.addClinic("A", tokenSHA256: ClinicToken.sha256("t"))
        try await body(one, two)
    }

    /// Two hubs on one database: each keeps the entries it has read (``FeedEntryCache``), and
    /// still reads what the other wrote since, in order, with `more` right at a page's end.
    @Test func hubsSharingADatabaseSeeEachOthersEntriesPastWhatTheyKept() async throws {
        try await Self.withTwoStores { one, two in
            func push(_ store: PostgresHubStore, _ count: Int) async throws -> [String] {
                let changes = (0..<count).map { _ in WireChanges.patient() }
                _ = try await store.applyBatch(.init(changes: changes), id: EntityID.make(), clinic: "A", bodySHA256: "x")
                return changes.map(\.changeId)
            }
            var pushed = try await push(one, 5)
            #expect(try await one.feed(since: 0, limit: 10).entries.count == 5)  // now kept by `one`
            pushed += try await push(two, 4)
            let page = try await one.feed(since: 2, limit: 7)
            #expect(page.entries.map(\.seq) == Array(3...9))
            #expect(page.more == false)
            let first = try await one.feed(since: 0, limit: 5)
            #expect(first.entries.map(\.seq) == Array(1...5) && first.more)
            let all = try await one.feed(since: 0, limit: 100).entries
            let ids = try all.map { try #require(try SyncFeedPage(json: try JSON.parse("{\"entries\":[\($0.json)],\"more\":false,\"next\":\($0.seq)}")).entries.first?.change?.changeId) }
            #expect(ids == pushed)
        }
    }

    /// A batch's entries are kept as it commits, so the first clinic to pull them needs no read,
    /// and they are the very text the database holds: changes, and the conflicts they raise.
    @Test func entriesKeptAtCommitAreTheDatabasesOwn() async throws {
        try await Self.withTwoStores { one, two in
            let p = WireChanges.patient()
            let c = WireChanges.clinicalCase(patientId: p.rowId)
            let site = WireChanges.site(caseId: c.rowId, sizeMm: 39)
            for changes in [
                [p, c, site], [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(41), 1)])],
                [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(45), 1)])],
            ] {
                _ = try await one.applyBatch(.init(changes: changes), id: EntityID.make(), clinic: "A", bodySHA256: "x")
            }
            let kept = one.feedEntries.run(from: 1, limit: 100)
            let read = try await two.feed(since: 0, limit: 100)  // `two` has kept nothing: the database's
            #expect(read.entries.map(\.seq) == Array(1...5))
            #expect(kept == read.entries)
            #expect(try SyncFeedPage(json: try JSON.parse(String(decoding: read.pageJSON(since: 0), as: UTF8.self))).entries.last?.kind == .conflict)
        }
    }

    /// A batch that reads only records the hub remembers, or creates them, goes in one round trip,
    /// but never on the memory alone: a record another hub changed since is found changed in the
    /// database, and the batch is applied the usual way. Here a stale edit must raise a conflict
    /// (applied against the remembered record it would have been accepted, and the other hub's
    /// change lost), a record the other hub created must not be created twice, and a batch sent
    /// again must get its first receipt.
    @Test func rememberedRecordsAreCheckedInTheDatabaseBeforeABatchReliesOnThem() async throws {
        try await Self.withTwoStores { one, two in
            func push(_ store: PostgresHubStore, _ changes: [WireChange], id: String = EntityID.make()) async throws
                -> (SyncReceipt, [UInt8])
            {
                guard case .receipt(let json, _) = try await store.applyBatch(.init(changes: changes), id: id, clinic: "A", bodySHA256: "x")
                else { throw HubError.database("no receipt") }
                return (try SyncReceipt(json: try JSON.parse(bytes: json)), json)
            }
            func oneRoundTrip() -> Int { one.appliedInOneRoundTrip.load(ordering: .relaxed) }
            let p = WireChanges.patient()
            let c = WireChanges.clinicalCase(patientId: p.rowId)
            let site = WireChanges.site(caseId: c.rowId, sizeMm: 39)
            // Created records need no memory; the edit then finds the site remembered.
            _ = try await push(one, [p, c, site])
            #expect(oneRoundTrip() == 1)
            let (edited, _) = try await push(one, [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(39), .int(41), 1)])])
            #expect(edited.results.map(\.status) == [.accepted] && oneRoundTrip() == 2)
            let revision = try #require(edited.results[0].revisions["sizeMm"])
            // The other hub edits the site; `one` still remembers size 41.
            let (theirs, _) = try await push(two, [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(41), .int(50), revision)])])
            #expect(theirs.results.map(\.status) == [.accepted])
            let stale = WireChanges.update("sites", site.rowId, ["sizeMm": (.int(41), .int(44), revision)])
            let (answer, _) = try await push(one, [stale])
            #expect(answer.results.map(\.status) == [.conflict])
            #expect(oneRoundTrip() == 2)
            // A new case for a patient the other hub created, which `one` has never read.
            let other = WireChanges.patient()
            _ = try await push(two, [other])
            let again = WireChange(
                changeId: EntityID.make(), txId: EntityID.make(), table: "patients", rowId: other.rowId, op: .insert,
                fields: other.fields, hlc: WireChanges.hlc(), author: "registrar")
            let (created, _) = try await push(one, [again, WireChanges.clinicalCase(patientId: other.rowId)])
            let (sameOnTwo, _) = try await push(
                two,
                [
                    WireChange(
                        changeId: EntityID.make(), txId: EntityID.make(), table: "patients", rowId: other.rowId, op: .insert,
                        fields: other.fields, hlc: WireChanges.hlc(), author: "registrar"),
                    WireChanges.clinicalCase(patientId: other.rowId),
                ])
            #expect(created.results.map(\.status) == sameOnTwo.results.map(\.status))
            #expect(oneRoundTrip() == 2)
            // A batch sent again gets the receipt it got the first time, byte for byte.
            let batchId = EntityID.make()
            let retried = [WireChanges.update("sites", site.rowId, ["sizeMm": (.int(50), .int(52), theirs.results[0].revisions["sizeMm"] ?? 0)])]
            let (first, firstJSON) = try await push(one, retried, id: batchId)
            #expect(first.results.map(\.status) == [.accepted])
            let (_, secondJSON) = try await push(one, retried, id: batchId)
            #expect(secondJSON == firstJSON)
        }
    }

    /// Statements prepared on a connection before a schema change that alters what they return
    /// (a newer hub's migration) fail once with SQLSTATE 0A000; they are prepared again and the
    /// push and the read go through.
    @Test func statementsOutdatedByASchemaChangeArePreparedAgain() async throws {
        // One connection, so that the statements prepared by the first push and read are the
        // ones the second finds; no kept entries, so that every read asks the database.
        try await Self.withOnePush(maximumConnections: 1, feedCacheBytes: 0) { (store: PostgresHubStore) async throws in
            #expect(try await store.feed(since: 0, limit: 10).entries.count == 1)
            let other = Self.sideStore(beside: store)
            try await other.client.withConnection { c in
                try await c.run("ALTER TABLE hub_feed ALTER COLUMN entry TYPE varchar", logger: other.logger)
                try await c.run("ALTER TABLE hub_batches ALTER COLUMN clinic TYPE varchar", logger: other.logger)
            }
            await other.close()
            _ = try await store.applyBatch(
                .init(changes: [WireChanges.patient()]), id: EntityID.make(), clinic: "A", bodySHA256: "y")
            #expect(try await store.feed(since: 0, limit: 10).entries.map(\.seq) == [1, 2])
        }
    }

    /// A batch stuck behind the counter lock (held here by another session) is cancelled by the
    /// statement timeout: a clean database error, and the hub works once the lock is gone.
    @Test func theStatementTimeoutEndsABatchStuckBehindTheLock() async throws {
        let url = try await TestPostgres.createDatabase()
        let store = try await PostgresHubStore.open(url: url, statementTimeout: .seconds(1))
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }
        try await store.addClinic("A", tokenSHA256: ClinicToken.sha256("t"))
        let holder = Self.sideStore(beside: store)
        let locked = DoneFlag()
        let release = DoneFlag()
        let holding = Task {
            try await holder.client.withConnection { c in
                try await c.withTransaction(logger: holder.logger) { c in
                    try await c.run("SELECT last_seq FROM hub_counter FOR UPDATE", logger: holder.logger)
                    locked.set()
                    while !release.isSet { try await Task.sleep(for: .milliseconds(20)) }
                }
            }
        }
        while !locked.isSet { try await Task.sleep(for: .milliseconds(20)) }
        let started = ContinuousClock.now
        do {
            _ = try await store.applyBatch(
                .init(changes: [WireChanges.patient()]), id: EntityID.make(), clinic: "A", bodySHA256: "x")
            Issue.record("the batch went through a held lock")
        } catch {
            #expect("\(error)".contains("SQLSTATE 57014"), "\(error)")
        }
        #expect(ContinuousClock.now - started < .seconds(10))
        release.set()
        try await holding.value
        await holder.close()
        _ = try await store.applyBatch(
            .init(changes: [WireChanges.patient()]), id: EntityID.make(), clinic: "A", bodySHA256: "y")
        #expect(try await store.feed(since: 0, limit: 10).entries.map(\.seq) == [1])
    }

    @Test func aWrongPasswordOrServerFailsClearlyWithoutThePassword() async throws {
        var c = try #require(URLComponents(string: try TestPostgres.serverURL()))
        c.password = "not-the-Secret-4711"
        do {
            _ = try await PostgresHubStore.open(url: try #require(c.string))
            Issue.record("a wrong password was accepted")
        } catch {
            #expect("\(error)".contains("28P01"), "\(error)")
            #expect("\(error)".contains("postgres://\(c.user ?? "")@"))
            #expect(!"\(error)".contains("not-the-Secret-4711"))
        }
        c.port = try Self.closedPort()
        do {
            _ = try await PostgresHubStore.open(url: try #require(c.string))
            Issue.record("a closed port was reached")
        } catch {
            #expect("\(error)".contains("cannot reach PostgreSQL"), "\(error)")
            #expect(!"\(error)".contains("not-the-Secret-4711"))
        }
        for bad in ["http://x@localhost/db", "postgres://localhost/db", "postgres://u:pw@localhost/db?sslmode=maybe"] {
            do {
                _ = try PostgresLocation(url: bad)
                Issue.record("\(bad) was accepted")
            } catch {
                #expect("\(error)".hasPrefix("--postgres: "))
                #expect(!"\(error)".contains("pw@"))
            }
        }
        let parsed = try PostgresLocation(url: "postgresql://hub:s3cret@db.example:6543/registry?sslmode=require")
        #expect(parsed.description == "postgres://hub@db.example:6543/registry")
        #expect(parsed.password == "s3cret" && parsed.sslMode == "require")
        #expect(
            try PostgresLocation(url: "postgres://hub@db/registry", environment: ["PGPASSWORD": "p"]).password == "p")
    }

    /// PostgreSQL text cannot hold NUL, which JSON can (`\u0000`): such keys are rejected per
    /// change like any malformed key, the same answer again on a retry, and the hub goes on.
    @Test func keysWithNULAreRejectedLikeAnyMalformedKey() async throws {
        let url = try await TestPostgres.createDatabase()
        let store = try await PostgresHubStore.open(url: url)
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }
        try await store.addClinic("A", tokenSHA256: ClinicToken.sha256("t"))
        var badId = WireChanges.patient()
        badId.changeId = "abc\u{0}def"
        var badRow = WireChanges.patient()
        badRow.rowId = "row\u{0}"
        let good = WireChanges.patient()
        let batch = SyncBatch(changes: [badId, badRow, good])
        for attempt in 0..<2 {
            guard
                case .receipt(let json, _) = try await store.applyBatch(
                    batch, id: EntityID.make(), clinic: "A", bodySHA256: "x\(attempt)")
            else { throw HubError.database("no receipt") }
            let receipt = try SyncReceipt(json: try JSON.parse(bytes: json))
            #expect(receipt.results.map(\.status) == [.rejected, .rejected, .accepted], "attempt \(attempt)")
            #expect(receipt.results[2].seq == 1)
        }
        #expect(try await store.feed(since: 0, limit: 10).entries.count == 1)
    }

    /// A loopback port nothing listens on.
    static func closedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard bound else { throw TestPostgres.Missing() }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
