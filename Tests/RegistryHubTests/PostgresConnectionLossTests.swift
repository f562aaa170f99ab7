import Foundation
import Logging
import PostgresNIO
import RegistryCore
import RegistrySync
import Synchronization
import Testing

@testable import RegistryHub

/// The PostgreSQL store when the server drops its connections (a restart, a crash, an operator's
/// `pg_terminate_backend`): requests fail cleanly and quickly, and the hub carries on with new
/// connections, nothing lost or doubled. Before, a statement sent on a connection that had just
/// closed waited forever (postgres-nio drops it), and a batch stuck so held its BatchGate place:
/// after a PostgreSQL restart under load no push was ever answered again.
@Suite struct PostgresConnectionLossTests {
    /// Runs `body` in a task of its own and waits at most `seconds` for it: a hang fails the test
    /// instead of hanging the suite.
    static func within<T: Sendable>(
        _ seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T
    ) async throws -> Result<T, any Error> {
        let outcome = Box<Result<T, any Error>?>(nil)
        Task {
            let r: Result<T, any Error>
            do { r = .success(try await body()) } catch { r = .failure(error) }
            outcome.set(r)
        }
        let deadline = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < deadline {
            if let r = outcome.value { return r }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Hung(what: what, seconds: seconds)
    }

    struct Hung: Error, CustomStringConvertible {
        var what: String
        var seconds: Double
        var description: String { "\(what) did not finish within \(seconds) s" }
    }

    /// Ends the server processes of every connection to `database` but the admin's own.
    static func terminateBackends(of database: String) async throws -> Int {
        var ended = 0
        try await TestPostgres.admin { c, logger in
            ended = try await c.run(
                """
                SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                WHERE datname = \(database) AND pid <> pg_backend_pid()
                """, logger: logger)
        }
        return ended
    }

    /// The plainest case: a statement on a pooled connection whose server process is gone.
    @Test func aStatementOnAConnectionTheServerClosedFailsInsteadOfHanging() async throws {
        let url = try await TestPostgres.createDatabase()
        let store = try await PostgresHubStore.open(url: url)
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }

        // One try on one pooled connection (``PostgresHubStore/withConnection(_:)`` would run the
        // work again on another, and this work ends its own connection every time).
        let result = try await Self.within(20, "a statement on a closed connection") {
            try await store.client.withConnection { pooled in
                try await store.withConnectionOnce(pooled) { c in
                    // At least ours (a just-closed migration connection may still be listed).
                    #expect(try await Self.terminateBackends(of: store.location.database) >= 1)
                    let deadline = ContinuousClock.now + .seconds(10)
                    while !c.isClosed && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
                    #expect(c.isClosed, "the server did not close the connection")
                    try await c.run("SELECT 1", logger: store.logger)
                }
            }
        }
        guard case .failure(let error) = result else {
            Issue.record("a statement on a closed connection succeeded")
            return
        }
        #expect("\(HubError.postgres(error, at: nil))".contains("cannot reach PostgreSQL"), "\(error)")
        // The watch keeps nothing for connections that closed.
        #expect(
            try await Self.within(10, "a statement on a new connection") {
                try await store.feed(since: 0, limit: 10).entries.count
            }.get() == 0)
    }

    /// A read just after the server ended every connection of a full pool: the pool can hand out
    /// each of its stale connections in turn before it learns they are gone. The read gets
    /// through (once failed in CI: one more try had taken a second stale connection).
    @Test func aReadRightAfterEveryPooledConnectionWasEndedGetsThrough() async throws {
        let url = try await TestPostgres.createDatabase()
        let store = try await PostgresHubStore.open(url: url, maximumConnections: 4)
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }
        for round in 0..<20 {
            // Four connections at once fill the pool; they stay in it, idle.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask {
                        _ = try await store.withConnection { c in
                            try await c.run("SELECT pg_sleep(0.05)", logger: store.logger)
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await Self.terminateBackends(of: store.location.database) >= 1)
            let read = try await Self.within(20, "a read after the drop") {
                try await store.feed(since: 0, limit: 10).entries.count
            }
            if case .failure(let error) = read { Issue.record("round \(round): \(error)") }
        }
    }

    /// Eight clinics push batches at once while every connection of the hub is ended, again and
    /// again. Each failed push is retried with the same batch id, as the sync client does. No
    /// request may hang; afterwards every change is in the hub once and the feed is gap-free.
    @Test func concurrentPushesSurviveTheServerDroppingEveryConnection() async throws {
        let url = try await TestPostgres.createDatabase()
        let store = try await PostgresHubStore.open(url: url, maximumConnections: 4)
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }
        let clinics = (1...8).map { "C\($0)" }
        for code in clinics { try await store.addClinic(code, tokenSHA256: ClinicToken.sha256("t-\(code)")) }

        let stop = DoneFlag()
        let failures = Box(0)
        let killer = Task {
            var rounds = 0
            while !stop.isSet {
                try await Task.sleep(for: .milliseconds(150))
                if try await Self.terminateBackends(of: store.location.database) > 0 { rounds += 1 }
            }
            return rounds
        }
        let pushed = try await withThrowingTaskGroup(of: [String].self) { group in
            for code in clinics {
                group.addTask {
                    var changeIds = [String]()
                    for _ in 0..<12 {
                        let patient = WireChanges.patient()
                        let batch = SyncBatch(changes: [patient, WireChanges.clinicalCase(patientId: patient.rowId)])
                        let id = EntityID.make()
                        var attempts = 0
                        while true {
                            attempts += 1
                            let outcome = try await Self.within(30, "a push from \(code)") {
                                try await store.applyBatch(batch, id: id, clinic: code, bodySHA256: "sha-\(id)")
                            }
                            switch outcome {
                            case .success(.receipt(let bytes, _)):
                                let receipt = try SyncReceipt(json: try JSON.parse(bytes: bytes))
                                #expect(receipt.results.allSatisfy { $0.status == .accepted }, "\(receipt)")
                            case .success(.idTaken):
                                Issue.record("batch \(id) was answered as taken")
                            case .failure(let error):
                                failures.update { $0 += 1 }
                                #expect("\(error)".contains("PostgreSQL"), "\(error)")
                                #expect(attempts < 40, "batch \(id) never went through: \(error)")
                                try await Task.sleep(for: .milliseconds(50))
                                continue
                            }
                            break
                        }
                        changeIds += batch.changes.map(\.changeId)
                    }
                    return changeIds
                }
            }
            return try await group.reduce(into: [String]()) { $0 += $1 }
        }
        stop.set()
        let rounds = try await killer.value
        #expect(rounds >= 3, "the server dropped the hub's connections only \(rounds) times")
        // (Pushes that lost their connection are tried once more on another by the store, so
        // few or none of them fail here; `rounds` says the drops happened under them.)
        _ = failures.value

        // Every change once, the feed gap-free from 1.
        let slice = try await Self.within(20, "reading the feed") {
            try await store.feed(since: 0, limit: 10_000)
        }.get()
        let feed = try SyncFeedPage(json: try JSON.parse(bytes: slice.pageJSON(since: 0))).entries
        #expect(feed.map(\.seq) == Array(1...Int64(feed.count)))
        let fed = feed.compactMap(\.change?.changeId)
        #expect(fed.count == pushed.count)
        #expect(Set(fed) == Set(pushed))
    }

    /// Large feed pages read while the server drops every connection, again and again. Before,
    /// a connection closed while rows waited for their reader made postgres-nio trap: the hub
    /// process died (this test process would die with it).
    @Test func largeFeedReadsSurviveTheServerDroppingConnectionsMidRead() async throws {
        let url = try await TestPostgres.createDatabase()
        // No kept entries: every read goes to the database.
        let store = try await PostgresHubStore.open(url: url, maximumConnections: 4, feedCacheBytes: 0)
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }
        try await store.addClinic("A", tokenSHA256: ClinicToken.sha256("t-A"))
        let patient = WireChanges.patient()
        let clinicalCase = WireChanges.clinicalCase(patientId: patient.rowId)
        _ = try await store.applyBatch(
            SyncBatch(changes: [patient, clinicalCase]), id: EntityID.make(), clinic: "A", bodySHA256: EntityID.make())
        let note = String(repeating: "long text ", count: 200)  // 2 KB an entry
        for _ in 0..<10 {
            let changes = (0..<500).map { _ in
                WireChanges.insert(
                    "biopsies",
                    [
                        "caseId": .text(clinicalCase.rowId), "performedOn": .text("2024-09-01"),
                        "procedure": .text("core-needle"), "finding": .text(note),
                    ])
            }
            _ = try await store.applyBatch(
                SyncBatch(changes: changes), id: EntityID.make(), clinic: "A", bodySHA256: EntityID.make())
        }
        let total = 2 + 10 * 500

        // Readers read whole pages until some reads went through and some were cut (the request
        // failed, or the store ran it again on another connection), and the server dropped the
        // connections at least five times (at most a minute: a slow machine).
        let stop = DoneFlag()
        let (whole, failed, rounds) = (Box(0), Box(0), Box(0))
        let cut = { failed.value + store.triedAgainAfterALostConnection.load(ordering: .relaxed) }
        let killer = Task {
            while !stop.isSet {
                // Short and long gaps: reads are cut at every stage, and some get through.
                try await Task.sleep(for: .milliseconds([40, 150, 1500][rounds.value % 3]))
                if try await Self.terminateBackends(of: store.location.database) > 0 { rounds.update { $0 += 1 } }
            }
        }
        let readers = (0..<3).map { _ in
            Task {
                while !stop.isSet {
                    let outcome = try await Self.within(30, "a feed read") {
                        try await store.feed(since: 0, limit: 10_000)
                    }
                    switch outcome {
                    case .success(let slice):
                        #expect(slice.entries.map(\.seq) == Array(1...Int64(total)))
                        whole.update { $0 += 1 }
                    case .failure(let error):
                        #expect("\(error)".contains("PostgreSQL"), "\(error)")
                        failed.update { $0 += 1 }
                    }
                }
            }
        }
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline && !(whole.value > 0 && cut() > 0 && rounds.value >= 5) {
            try await Task.sleep(for: .milliseconds(50))
        }
        stop.set()
        try await killer.value
        for r in readers { try await r.value }
        #expect(rounds.value >= 5, "the server dropped the hub's connections only \(rounds.value) times")
        #expect(cut() > 0, "no read met a dropped connection; the test proved nothing")
        #expect(whole.value > 0, "no read went through")
        #expect(
            try await Self.within(20, "a read after the drops") {
                try await store.feed(since: 0, limit: 10_000).entries.count
            }.get() == total)
    }

    /// The server goes silent (a network partition: no FIN, no RST, no answer; here a relay that
    /// swallows every byte). A push, a feed read and a token lookup each end with a database error
    /// at the response timeout instead of waiting for hours, both on a connection the pool had
    /// and on one it opens into the silence. Once the server answers again the same push goes
    /// through under its batch id, once.
    @Test func aServerThatGoesSilentEndsEachRequestAtTheResponseTimeout() async throws {
        let url = try await TestPostgres.createDatabase()
        let direct = try PostgresLocation(url: url)
        let relay = try SilentRelay(toPort: direct.port)
        defer { relay.close() }
        let relayed = url.replacingOccurrences(of: ":\(direct.port)/", with: ":\(relay.port)/")
        #expect(relayed != url)
        let store = try await PostgresHubStore.open(
            url: relayed, maximumConnections: 2, statementTimeout: .seconds(2), responseTimeout: .seconds(4),
            feedCacheBytes: 0)
        defer {
            Task {
                await store.close(); await TestPostgres.dropDatabase(store.location.database)
            }
        }
        try await store.addClinic("A", tokenSHA256: ClinicToken.sha256("t-A"))
        _ = try await store.applyBatch(
            .init(changes: [WireChanges.patient()]), id: EntityID.make(), clinic: "A", bodySHA256: "first")

        relay.silent = true
        let batch = SyncBatch(changes: [WireChanges.patient()])
        let id = EntityID.make()
        // The first request meets the pooled connection; the pool opens new ones for the next
        // (the second round's push waits on a lease into the silence).
        for round in 0..<2 {
            let requests: [(String, @Sendable () async throws -> Void)] = [
                ("a push", { _ = try await store.applyBatch(batch, id: id, clinic: "A", bodySHA256: "second") }),
                ("a feed read", { _ = try await store.feed(since: 0, limit: 10) }),
                ("a token lookup", { _ = try await store.clinic(tokenSHA256: ClinicToken.sha256("t-A")) }),
            ]
            for (what, request) in round == 0 ? requests : Array(requests.prefix(1)) {
                let started = ContinuousClock.now
                let outcome = try await Self.within(20, "\(what) to a silent server") { try await request() }
                let waited = ContinuousClock.now - started
                guard case .failure(let error) = outcome else {
                    Issue.record("round \(round): \(what) to a silent server succeeded")
                    continue
                }
                #expect(
                    "\(error)".contains("PostgreSQL did not answer within 4 s"), "round \(round), \(what): \(error)")
                #expect(waited >= .milliseconds(3900) && waited < .seconds(10), "round \(round), \(what): \(waited)")
            }
        }

        relay.silent = false
        let outcome = try await Self.within(30, "the push once the server answers") {
            try await store.applyBatch(batch, id: id, clinic: "A", bodySHA256: "second")
        }.get()
        guard case .receipt = outcome else {
            Issue.record("the retried push was not applied: \(outcome)")
            return
        }
        let feed = try await store.feed(since: 0, limit: 10).entries
        #expect(feed.map(\.seq) == [1, 2])
    }
}

/// A value shared between tasks.
final class Box<T: Sendable>: Sendable {
    private let state: Mutex<T>
    init(_ value: T) { state = Mutex(value) }
    var value: T { state.withLock { $0 } }
    func set(_ value: T) { state.withLock { $0 = value } }
    func update(_ body: (inout T) -> Void) { state.withLock { body(&$0) } }
}
