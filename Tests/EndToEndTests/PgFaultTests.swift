import Foundation
import Testing

/// PostgreSQL restarted (immediate shutdown: a crash, then recovery) while a hub on it takes a
/// 20,000-change push and serves the pull, with SyncFaultTests' clinics and checks. The cluster
/// is the test's own (scripts/pg-start), not the one the hub suite shares.
@Suite(.serialized) struct PgFaultTests {
    typealias World = SyncFaultTests

    /// It once failed in the full suite: a batch in the database when PostgreSQL went down hung
    /// for good (postgres-nio drops a statement sent on a just-closed connection), so pushes
    /// stopped being answered. The store now ends such work when its connection closes
    /// (PostgresConnectionWatch; RegistryHubTests/PostgresConnectionLossTests shows it alone).
    @Test
    func restartingPostgreSQLUnderLoadLosesAndDoublesNothing() throws {
        let scratch = try EmregProcess()
        defer { scratch.cleanUp() }
        let pg = try PostgresCluster(directory: scratch.directory + "/pg")
        defer { pg.stop() }
        let (root, hub, a, b) = try World.world(postgres: pg.url)
        defer { [a, b].forEach { $0.runner.cleanUp() }; hub.stop(); root.cleanUp() }
        try World.importBulk(into: a)
        var rng = World.SplitMix64(seed: World.seed &+ 7)
        var events = [String]()

        // Push: after the hub answered the first and the second batch, restart PostgreSQL while
        // the hub applies the next one: once it is inside its transaction (the case that hung the
        // hub before), else after a random moment of the send. Batches of 1,000 changes, not
        // 5,000: four batches went through before the restarts could come once the client got
        // faster, and the test restarted nothing.
        let answered = "SELECT count(*) FROM sync_batches WHERE answered_at IS NOT NULL"
        let push = try a.spawn(
            ["sync", "--hub", hub.url, "--token-file", a.tokenFile], log: "push.log",
            environment: ["EMREG_SYNC_BATCH_SIZE": "1000"])
        for round in 1...2 {
            try World.waitUntil("batch \(round) answered", timeout: 90) {
                try Int(a.sql(answered)) ?? 0 >= round || !push.isRunning
            }
            var inTransaction = false
            if round == 1 {
                inTransaction =
                    (try? World.waitUntil("the hub in a transaction", timeout: 30, poll: 5_000) {
                        try pg.psql(Self.hubTransactions) != "0" || !push.isRunning
                    }) != nil && push.isRunning
            } else {
                usleep(UInt32(Int.random(in: 0...300, using: &rng)) * 1000)
            }
            guard push.isRunning else { break }
            try pg.restart()
            events.append(
                "push: PostgreSQL restarted after batch \(round)\(inTransaction ? ", the hub in a transaction" : "")")
        }
        push.waitUntilExit()
        #expect(events.count == 2, "the push ended before PostgreSQL could be restarted twice: \(events)")
        #expect([0, 3].contains(push.terminationStatus), "\(events): \(a.read("push.log"))")
        let again = try a.sync(hub)
        #expect(again.status == 0, "\(again.stderr)")

        // Pull: B pulls the 20,000 changes in pages of 5,000; restart after its cursor first moves.
        let cursor = "SELECT coalesce((SELECT value FROM sync_state WHERE key = 'pull_cursor'), 0)"
        let pull = try b.spawn(["sync", "--hub", hub.url, "--token-file", b.tokenFile], log: "pull.log")
        try World.waitUntil("a page applied", timeout: 90, poll: 10_000) { try b.sql(cursor) != "0" || !pull.isRunning }
        if pull.isRunning {
            try pg.restart()
            events.append("pull: PostgreSQL restarted at cursor \(try b.sql(cursor))")
        }
        pull.waitUntilExit()
        #expect([0, 3].contains(pull.terminationStatus), "\(events): \(b.read("pull.log"))")
        let context = "seed \(World.seed), \(events)"

        // The hub's PostgreSQL tables: every change of A once, the feed gap-free.
        let changes = World.bulkChanges
        #expect(try pg.psql("SELECT count(*) FROM hub_changes WHERE clinic = 'A'") == "\(changes)", "\(context)")
        #expect(
            try pg.psql("SELECT status || '|' || count(*) FROM hub_changes GROUP BY status") == "accepted|\(changes)")
        #expect(
            try pg.psql(
                "SELECT count(*) || '|' || count(DISTINCT entry::json #>> '{change,changeId}') FROM hub_feed WHERE kind = 'change'"
            ) == "\(changes)|\(changes)", "\(context)")
        #expect(try pg.psql("SELECT count(*) = max(seq) FROM hub_feed") == "t", "the feed has gaps; \(context)")
        #expect(try pg.psql("SELECT count(*) FROM hub_records") == "\(changes)", "\(context)")
        #expect(
            events.first?.hasSuffix("in a transaction") == true, "no restart met a batch in the database: \(events)")
        try World.expectBothClinicsHoldEveryChangeOnce(
            a: a, b: b, hub: hub, changes: changes, patients: World.bulkPatients,
            lastSeq: try pg.psql("SELECT max(seq) FROM hub_feed"), context: context)
    }

    /// How many of the hub's sessions are inside a transaction of more than one statement (a
    /// batch in the database; a token lookup or feed read is one statement).
    static let hubTransactions = """
        SELECT count(*) FROM pg_stat_activity
        WHERE datname = current_database() AND pid <> pg_backend_pid()
          AND (state LIKE 'idle in transaction%' OR xact_start < query_start)
        """
}

/// A throwaway PostgreSQL cluster of a test's own (scripts/pg-start and scripts/pg-stop), so
/// that the test may crash and restart it.
final class PostgresCluster {
    let directory: String
    let url: String
    let bindir: String

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts").path

    init(directory: String) throws {
        self.directory = directory
        try Self.run(Self.scripts + "/pg-start", [directory, "--no-fsync"], log: directory + ".log")
        url = try String(contentsOfFile: directory + "/url", encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
        bindir = try String(contentsOfFile: directory + "/bindir", encoding: .utf8).trimmingCharacters(
            in: .whitespacesAndNewlines)
    }

    /// Runs a program that starts the server, output to a file. Foundation's Process learns
    /// that a child exited when a socket the child inherits closes; the server the child starts
    /// would inherit it too and keep it open, so the child would never seem to exit (and a pipe
    /// for its output would never end). Python closes every inherited descriptor first.
    static func run(_ executable: String, _ arguments: [String], log: String) throws {
        guard let python = WireCapture.python else { throw EmregProcess.Failure(message: "no python3") }
        FileManager.default.createFile(atPath: log, contents: nil)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: python)
        p.arguments =
            ["-c", "import os, sys; os.closerange(3, 65536); os.execv(sys.argv[1], sys.argv[1:])", executable]
            + arguments
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        p.standardOutput = out
        p.standardError = out
        p.standardInput = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        try out.close()
        guard p.terminationStatus == 0 else {
            let text = FileManager.default.contents(atPath: log).map { String(decoding: $0, as: UTF8.self) } ?? ""
            throw EmregProcess.Failure(message: "\(executable) \(arguments.joined(separator: " ")): \(text)")
        }
    }

    deinit { stop() }

    /// Immediate shutdown (no checkpoint: crash recovery on start), then start again.
    func restart() throws {
        var command = [
            bindir + "/pg_ctl", "-D", directory + "/data", "-l", directory + "/log", "-m", "immediate", "-w", "-t", "60",
            "restart",
        ]
        if getuid() == 0 { command = ["/usr/sbin/runuser", "-u", "postgres", "--"] + command }
        try Self.run(command[0], Array(command.dropFirst()), log: directory + ".restart.log")
    }

    /// One value (rows on lines) from `sql`, through psql.
    func psql(_ sql: String) throws -> String {
        let r = try EmregProcess(in: NSTemporaryDirectory()).run(
            [url, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql], executable: bindir + "/psql")
        guard r.status == 0 else { throw EmregProcess.Failure(message: "psql \(sql): \(r.stderr)") }
        return r.out
    }

    func stop() {
        try? Self.run(Self.scripts + "/pg-stop", [directory], log: directory + ".stop.log")
    }
}
