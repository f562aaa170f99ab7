import Logging
import PostgresNIO
import RegistryCore
import RegistrySync
import Synchronization

/// The hub's store for deployments that outgrow one machine: PostgreSQL, through a pool of
/// connections (postgres-nio's `PostgresClient`), with the same protocol and behaviour as
/// ``SQLiteHubStore``.
///
/// A batch locks the records it touches (row locks, in key order) while it reads them, so batches
/// on the same records apply one after the other and the rest side by side. Feed entries are
/// numbered under the one row of `hub_counter`, locked last and held only while the batch is
/// applied in memory, written and committed: batches commit in seq order, the feed stays gap-free
/// and a pull never skips an entry that commits later with a lower seq. Everything else (auth
/// lookups, feed reads, decoding) runs in parallel on the pool.
///
/// Every use of a pooled connection goes through ``withConnection(_:)``, which ends the work with
/// a database error when the connection closes under it (a PostgreSQL restart): postgres-nio
/// would otherwise leave a statement sent on a just-closed connection waiting forever.
public final class PostgresHubStore: HubStore {
    /// The server and database, without the password.
    public let location: PostgresLocation
    let client: PostgresClient
    /// Runs the pool's background work until ``close()``.
    let runner: Task<Void, Never>
    /// Tokens verified before, kept while ``listener`` hears of every change to the clinics.
    let tokens = ClinicTokenCache()
    let listener: Task<Void, Never>
    let batchGate = BatchGate(limit: 6)
    let connectionWatch = PostgresConnectionWatch()
    let statements = PostgresPreparedStatements()
    /// Feed entries read before, served again without the database (``FeedEntryCache``).
    let feedEntries: FeedEntryCache
    /// Records as this hub last wrote or read them, for batches in one round trip (``RememberedRecords``).
    let remembered: RememberedRecords
    /// How many batches were applied in one round trip, against remembered records.
    let appliedInOneRoundTrip = Atomic<Int>(0)
    /// How many times work lost a handed-out connection and was run again on another.
    let triedAgainAfterALostConnection = Atomic<Int>(0)
    /// The pool's size: after a restart every idle connection in it can be stale at once.
    let maximumConnections: Int
    /// How long one use of a connection may wait for the server (``withConnectionOnce(_:_:)``).
    let responseTimeout: Duration
    /// postgres-nio logs statements at debug level: the store keeps its logger silent so that no
    /// statement, and so no value, reaches a log.
    let logger = Logger(label: "emreg.hub.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Opens the hub database at `url`, bringing its schema up to date first.
    ///
    /// - Parameters:
    ///   - maximumConnections: the pool's size; at most six batches hold a connection at once
    ///     (``BatchGate``), so a few connections serve many clinics.
    ///   - statementTimeout: set on every connection; a statement that runs or waits longer is
    ///     cancelled and the request fails with a database error.
    ///   - responseTimeout: how long one use of a connection (a batch's transaction, a feed read)
    ///     may go without its answer before the hub gives up on the server and closes the
    ///     connection: a server that went silent, not one that is slow. Default: twice the
    ///     statement timeout (a batch runs two statements, each cut off by the server at that
    ///     timeout) plus 10 s.
    ///   - feedCacheBytes: how much feed entry text to keep for the next readers (0: none).
    ///   - rememberedBytes: how much record text to remember for batches in one round trip
    ///     (``RememberedRecords``; 0: none, every batch reads its records).
    public static func open(
        url: String, maximumConnections: Int = 16, statementTimeout: Duration = .seconds(30),
        responseTimeout: Duration? = nil, feedCacheBytes: Int = 64 << 20, rememberedBytes: Int = 32 << 20
    ) async throws(HubError) -> PostgresHubStore {
        let location = try PostgresLocation(url: url)
        try await migrate(location, statementTimeout: statementTimeout)
        return PostgresHubStore(
            location: location,
            configuration: location.clientConfiguration(
                statementTimeout: statementTimeout, maximumConnections: maximumConnections),
            responseTimeout: responseTimeout ?? statementTimeout * 2 + .seconds(10), feedCacheBytes: feedCacheBytes,
            rememberedBytes: rememberedBytes)
    }

    init(
        location: PostgresLocation, configuration: PostgresClient.Configuration, responseTimeout: Duration,
        feedCacheBytes: Int = 64 << 20, rememberedBytes: Int = 32 << 20
    ) {
        self.location = location
        self.responseTimeout = responseTimeout
        feedEntries = FeedEntryCache(budget: feedCacheBytes)
        remembered = RememberedRecords(budget: rememberedBytes)
        maximumConnections = configuration.options.maximumConnections
        let client = PostgresClient(configuration: configuration)
        self.client = client
        runner = Task { await client.run() }
        listener = Task { [tokens] in await ClinicTokenCache.listen(location, tokens: tokens) }
    }

    deinit {
        runner.cancel()
        listener.cancel()
    }

    /// Closes the pool's connections; the store answers nothing after this.
    public func close() async {
        listener.cancel()
        runner.cancel()
        await listener.value
        await runner.value
    }

    /// Applies the migrations in Schema/hub/postgres this database lacks, each once, over one
    /// connection of its own: a wrong host, password or database fails here at once. An
    /// advisory lock lets two hubs start on one new database at the same time.
    static func migrate(_ location: PostgresLocation, statementTimeout: Duration) async throws(HubError) {
        let logger = Logger(label: "emreg.hub.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        try await postgresErrors(location) {
            // Waiting for another hub's migration is no failure: this connection waits minutes.
            let connection = try await PostgresConnection.connect(
                configuration: try location.connectionConfiguration(
                    statementTimeout: max(statementTimeout, .seconds(300))), id: 1,
                logger: logger)
            do {
                try await connection.withTransaction(logger: logger) { c in
                    try await c.run("SELECT pg_advisory_xact_lock(\(migrationLock))", logger: logger)
                    try await c.run(
                        "CREATE TABLE IF NOT EXISTS hub_schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)",
                        logger: logger)
                    var applied = Set<String>()
                    for try await name in try await c.query("SELECT name FROM hub_schema_migrations", logger: logger)
                        .decode(String.self)
                    {
                        applied.insert(name)
                    }
                    let known = Set(HubPostgresSchemaSQL.migrations.map(\.name))
                    if let newer = applied.subtracting(known).sorted().first {
                        throw HubError.database(
                            "the hub database at \(location) has migration \(newer), which this emreg does not know; use a newer emreg"
                        )
                    }
                    for (name, sql) in HubPostgresSchemaSQL.migrations where !applied.contains(name) {
                        for statement in SQLScript.statements(sql) {
                            try await c.run(PostgresQuery(unsafeSQL: statement), logger: logger)
                        }
                        try await c.run(
                            "INSERT INTO hub_schema_migrations (name, applied_at) VALUES (\(name), \(Clock.timestamp()))",
                            logger: logger)
                    }
                }
            } catch {
                try? await connection.close()
                throw error
            }
            try? await connection.close()
        }
    }

    /// The key of the advisory lock migrations hold: "emreghub" in ASCII.
    static let migrationLock: Int64 = 0x656d_7265_6768_7562

    /// Runs `work` on a pooled connection, ending it with a database error if the connection
    /// closes under it (``PostgresConnectionWatch``) or the server is silent for longer than
    /// ``responseTimeout``, counted from asking the pool. Work that lost its connection is run again
    /// on another, up to twice per connection the pool can hold: after a restart every idle
    /// connection in the pool can be one whose server is gone before the pool learns so, and the
    /// pool can hand the same one out again until it has handled its closing (once failed in CI
    /// after a try per connection), so tries past the first round wait a few milliseconds for it
    /// first. A connection that fails as it is made (the server
    /// still down) is tried once more, then its error is the answer. Every use is safe to repeat
    /// (reads; a batch is one transaction that either committed, and is then answered from its
    /// stored receipt, or did not). Work the server left unanswered is not run again: the server
    /// is likely silent for the next try too, and the clinic retries the request later.
    func withConnection<T: Sendable>(_ work: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        var tries = 0
        while true {
            tries += 1
            do {
                return try await leased(until: .now + responseTimeout) { [self] connection, deadline in
                    do {
                        return try await withConnectionOnce(connection, until: deadline, work)
                    } catch where Self.lostConnection(error) {
                        throw LostHandedOut(error: error)
                    }
                }
            } catch let lost as LostHandedOut {
                if tries > 2 * maximumConnections { throw lost.error }
                triedAgainAfterALostConnection.add(1, ordering: .relaxed)
                if tries >= maximumConnections { try? await Task.sleep(for: .milliseconds(5)) }
            } catch where tries == 1 && Self.lostConnection(error) {
                continue
            }
        }
    }

    /// `body` on a connection from the pool, or ``NoAnswer`` if none is handed out by `deadline`:
    /// a new connection to a silent server waits for its handshake with no limit of its own. At
    /// the deadline the lease request is cancelled (the pool then gives it up); work already under
    /// way ends at the same deadline by itself (``withConnectionOnce(_:until:_:)``). The timer is
    /// an event loop's, removed when the answer comes: a sleeping task per request would leave a
    /// pending timer behind each one for the whole timeout.
    private func leased<T: Sendable>(
        until deadline: ContinuousClock.Instant,
        _ body: @escaping @Sendable (PostgresConnection, ContinuousClock.Instant) async throws -> T
    ) async throws -> T {
        let lease = Task { [client] in try await client.withConnection { try await body($0, deadline) } }
        let expired = Mutex(false)
        let timer = PostgresClient.defaultEventLoopGroup.any().scheduleTask(
            in: TimeAmount(max(.zero, deadline - .now))
        ) {
            expired.withLock { $0 = true }
            lease.cancel()
        }
        defer { timer.cancel() }
        do {
            return try await withTaskCancellationHandler { try await lease.value } onCancel: { lease.cancel() }
        } catch where expired.withLock({ $0 }) && !(error is LostHandedOut) {
            throw NoAnswer(timeout: responseTimeout)
        }
    }

    /// `work` on `connection`, ended with a database error if the connection closes under it or
    /// the server has not answered by `deadline` (default: ``responseTimeout`` from now).
    func withConnectionOnce<T: Sendable>(
        _ connection: PostgresConnection, until deadline: ContinuousClock.Instant? = nil,
        _ work: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.untilClosed(
            watch: connectionWatch, until: deadline ?? .now + responseTimeout, timeout: responseTimeout
        ) { try await work(connection) }
    }

    /// Work lost a connection the pool had handed out (not one that failed to open).
    private struct LostHandedOut: Error { var error: any Error }

    static func lostConnection(_ error: any Error) -> Bool {
        if error is ConnectionClosed { return true }
        if let e = error as? PostgresTransactionError {
            return (e.closureError ?? e.commitError ?? e.beginError).map(lostConnection) ?? false
        }
        return PostgresFailure.connectionLost(error)
    }

    // MARK: Clinics

    public func clinic(tokenSHA256: String) async throws(HubError) -> String? {
        if let code = tokens.code(tokenSHA256: tokenSHA256) { return code }
        let generation = tokens.generation
        let code = try await postgresErrors(nil) {
            try await withConnection { [self] c in
                var code: String?
                for try await row in try await c.execute(ClinicByToken(tokenSHA256: tokenSHA256), logger: logger) {
                    code = try row.decode(String.self)
                }
                return code
            }
        }
        if let code, let generation { tokens.keep(code, tokenSHA256: tokenSHA256, lookedUpAt: generation) }
        return code
    }

    public func addClinic(_ code: String, tokenSHA256: String) async throws(HubError) {
        // This hub lets a replaced token go at once, before the notice comes round (even when
        // the answer is lost: the change may have committed).
        defer { tokens.forgetAll() }
        try HubClinic.check(code: code)
        let added = try await postgresErrors(nil) { () async throws -> Bool in
            // One statement: a new clinic, or a revoked one reinstated; an active one is left alone.
            try await withConnection { [self] c in
                let rows = try await c.query(
                    """
                    INSERT INTO hub_clinics (code, token_sha256, created_at) VALUES (\(code), \(tokenSHA256), \(Clock.timestamp()))
                    ON CONFLICT (code) DO UPDATE SET token_sha256 = excluded.token_sha256, revoked_at = NULL
                    WHERE hub_clinics.revoked_at IS NOT NULL
                    RETURNING code
                    """, logger: logger)
                var added = false
                for try await _ in rows.decode(String.self) { added = true }
                return added
            }
        }
        if !added { throw HubError.clinicExists(code) }
    }

    public func revokeClinic(_ code: String) async throws(HubError) -> Bool {
        defer { tokens.forgetAll() }
        let (revoked, exists) = try await postgresErrors(nil) { () async throws -> (Int64, Bool) in
            try await withConnection { [self] c in
                let rows = try await c.query(
                    """
                    WITH revoked AS (
                        UPDATE hub_clinics SET revoked_at = \(Clock.timestamp()) WHERE code = \(code) AND revoked_at IS NULL
                        RETURNING code
                    )
                    SELECT (SELECT count(*) FROM revoked), EXISTS (SELECT 1 FROM hub_clinics WHERE code = \(code))
                    """, logger: logger)
                var answer: (Int64, Bool) = (0, false)
                for try await row in rows.decode((Int64, Bool).self) { answer = row }
                return answer
            }
        }
        if revoked == 1 { return true }
        if !exists { throw HubError.unknownClinic(code) }
        return false
    }

    public func batchApplied(id: String) async throws(HubError) -> Bool {
        try await postgresErrors(nil) {
            try await withConnection { [self] c in
                let rows = try await c.allRows(
                    "SELECT EXISTS (SELECT 1 FROM hub_batches WHERE batch_id = \(id))", logger: logger)
                return try rows.first?.decode(Bool.self) ?? false
            }
        }
    }

    public func clinics() async throws(HubError) -> [HubClinic] {
        try await postgresErrors(nil) {
            try await withConnection { [self] c in
                let rows = try await c.allRows(
                    """
                    SELECT c.code, c.created_at, c.revoked_at, MAX(b.received_at), COUNT(b.batch_id)
                    FROM hub_clinics c LEFT JOIN hub_batches b ON b.clinic = c.code
                    GROUP BY c.code ORDER BY c.code
                    """, logger: logger)
                var out = [HubClinic]()
                for row in rows {
                    let (code, created, revoked, lastPush, batches) = try row.decode(
                        (String, String, String?, String?, Int64).self)
                    out.append(
                        HubClinic(
                            code: code, createdAt: created, revokedAt: revoked, lastPushAt: lastPush,
                            batches: Int(batches))
                    )
                }
                return out
            }
        }
    }
}

/// Runs `body`, turning whatever it throws into a ``HubError`` that never holds a statement's
/// arguments. Opening names the server (`location`, without its password) for the operator;
/// requests (`location` nil) tell a clinic only what failed, not where the database lives.
func postgresErrors<T>(_ location: PostgresLocation?, _ body: () async throws -> T) async throws(HubError) -> T {
    do { return try await body() } catch { throw HubError.postgres(error, at: location) }
}

extension HubError {
    static func postgres(_ error: any Error, at location: PostgresLocation?) -> HubError {
        let server = location.map { "PostgreSQL at \($0)" } ?? "PostgreSQL"
        if let (state, message) = PostgresFailure.server(error) {
            // Messages of these classes name servers, users, databases and timeouts, never a
            // bound value: connection, authorization, missing database, resources, operator.
            let safe = ["08", "28", "3D", "53", "57"].contains(String(state.prefix(2)))
            return .database("\(server) failed with SQLSTATE \(state)\(safe ? message.map { ": \($0)" } ?? "" : "")")
        }
        switch error {
        case let e as HubError:
            return e
        case is ConnectionClosed:
            return .database("cannot reach \(server) (the connection closed)")
        case let e as NoAnswer:
            let (seconds, fraction) = e.timeout.components
            let within = fraction == 0 ? "\(seconds) s" : "\(Int(e.timeout / .milliseconds(1))) ms"
            return .database("\(server) did not answer within \(within) (the connection was closed)")
        case let e as PostgresTransactionError:
            if let inner = e.closureError ?? e.commitError ?? e.beginError { return postgres(inner, at: location) }
            return .database("a transaction on \(server) failed")
        case let e as PSQLError:
            switch e.code {
            case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed:
                return .database("cannot reach \(server) (\(e.code))")
            default:
                return .database("\(server) failed (\(e.code))")
            }
        case _ where PostgresFailure.connectionLost(error):
            return .database("cannot reach \(server) (the connection closed)")
        case let e as PostgresDecodingError:
            return .database("\(server) returned an unexpected type in column \(e.columnName)")
        default:
            return .database("\(server) failed (\(type(of: error)))")
        }
    }
}
