import Foundation
import Logging
import RegistryCore
import RegistrySync
import Synchronization
import Testing

@testable import RegistryHub

/// The stores the hub suite runs against. Every test takes one as its argument, so a new
/// store (PostgreSQL) joins the same suite by adding a case here, not by copying tests.
enum HubStoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    /// A new database on the server scripts/test starts (EMREG_TEST_POSTGRES_URL).
    case postgres

    var testDescription: String { rawValue }

    /// A fresh, empty store whose files (if any) live in `directory`.
    func makeStore(directory: String) async throws -> any HubStore {
        switch self {
        case .sqlite: try SQLiteHubStore.open(at: directory + "/hub.sqlite")
        // A generous timeout: the whole test run shares two cores, and a test that holds the
        // counter lock may wait for a thread a while (the timeout itself has its own test).
        case .postgres:
            try await PostgresHubStore.open(url: try await TestPostgres.createDatabase(), statementTimeout: .seconds(120))
        }
    }

    /// Closes `store` and drops what it leaves behind beyond `directory`.
    func dispose(_ store: any HubStore) async {
        await store.close()
        if let store = store as? PostgresHubStore { await TestPostgres.dropDatabase(store.location.database) }
    }
}

/// Log lines the hub wrote during a test.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct CollectingLogHandler: LogHandler {
    let sink: LogLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        sink.append("\(event.level) \(event.message)")
    }
}

/// A clinic as the hub knows it: its code and bearer token.
struct TestClinic: Sendable {
    var code: String
    var token: String
}

/// A real hub on 127.0.0.1 (random free port) over a real store in a temporary directory.
struct RunningHub: Sendable {
    let port: Int
    let store: any HubStore
    let directory: String
    let log: LogLines

    /// Starts a hub, runs `body` against it and stops it, whatever `body` does.
    static func with<T: Sendable>(
        _ kind: HubStoreKind, maxBodyBytes: Int = 1 << 20, arrivalWait: Duration = .seconds(2),
        runningWait: Duration = .seconds(60), _ body: (RunningHub) async throws -> T
    ) async throws -> T {
        let directory = NSTemporaryDirectory() + "emreg-hub-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try await kind.makeStore(directory: directory)
        do {
            var configuration = HubConfiguration(host: "127.0.0.1", port: 0, maxBodyBytes: maxBodyBytes)
            configuration.arrivalWait = arrivalWait
            configuration.runningWait = runningWait
            let result = try await run(store, configuration: configuration, directory: directory, body)
            await kind.dispose(store)
            return result
        } catch {
            await kind.dispose(store)
            throw error
        }
    }

    static func run<T: Sendable>(
        _ store: any HubStore, configuration: HubConfiguration, directory: String, _ body: (RunningHub) async throws -> T
    ) async throws -> T {
        let log = LogLines()
        let logger = Logger(label: "emreg.hub.test") { _ in CollectingLogHandler(sink: log) }
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = buildApplication(
            configuration: configuration, store: store,
            logger: logger
        ) { port in portContinuation.yield(port) }
        let server = Task { try await app.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw HTTPClient.Failure(description: "the hub did not start") }
        let hub = RunningHub(port: port, store: store, directory: directory, log: log)
        do {
            let result = try await body(hub)
            server.cancel()
            _ = await server.result
            return result
        } catch {
            server.cancel()
            _ = await server.result
            throw error
        }
    }

    /// Registers a clinic and returns its token.
    func addClinic(_ code: String) async throws -> TestClinic {
        let token = ClinicToken.make()
        try await store.addClinic(code, tokenSHA256: ClinicToken.sha256(token))
        return TestClinic(code: code, token: token)
    }

    /// Registers `count` clinics named `prefix` followed by 0, 1, ...
    func addClinics(_ prefix: String, count: Int) async throws -> [TestClinic] {
        var added = [TestClinic]()
        for i in 0..<count { added.append(try await addClinic("\(prefix)\(i)")) }
        return added
    }

    func request(
        _ method: String, _ path: String, token: String? = nil, headers: [(String, String)] = [], body: [UInt8] = []
    ) async throws -> HTTPReply {
        var all = headers
        if let token { all.append(("Authorization", "Bearer \(token)")) }
        return try await HTTPClient.send(port: port, method, path, headers: all, body: body)
    }

    /// Pushes `changes` as one batch (gzip unless told otherwise) and returns the raw answer.
    func push(
        _ changes: [WireChange], as clinic: TestClinic, batchId: String = EntityID.make(), gzip: Bool = true,
        headers: [(String, String)] = []
    ) async throws -> HTTPReply {
        try await pushBody(
            Array(SyncBatch(changes: changes).json.text.utf8), as: clinic, batchId: batchId, gzip: gzip, headers: headers)
    }

    func pushBody(
        _ body: [UInt8], as clinic: TestClinic, batchId: String = EntityID.make(), gzip: Bool = true,
        headers extra: [(String, String)] = []
    ) async throws -> HTTPReply {
        var headers = [("Content-Type", "application/json")] + extra
        if gzip { headers.append(("Content-Encoding", "gzip")) }
        return try await request(
            "POST", "/v1/batches/\(batchId)", token: clinic.token, headers: headers,
            body: gzip ? Gzip.compress(body) : body)
    }

    /// Pushes and decodes the receipt, failing the test on anything but 200.
    func receipt(_ changes: [WireChange], as clinic: TestClinic, batchId: String = EntityID.make()) async throws
        -> SyncReceipt
    {
        let reply = try await push(changes, as: clinic, batchId: batchId)
        guard reply.status == 200 else {
            throw HTTPClient.Failure(description: "push answered \(reply.status): \(reply.text)")
        }
        return try SyncReceipt(json: reply.json())
    }

    func page(since: Int64 = 0, limit: Int? = nil, as clinic: TestClinic) async throws -> SyncFeedPage {
        var path = "/v1/changes?since=\(since)"
        if let limit { path += "&limit=\(limit)" }
        let reply = try await request("GET", path, token: clinic.token)
        guard reply.status == 200 else {
            throw HTTPClient.Failure(description: "pull answered \(reply.status): \(reply.text)")
        }
        return try SyncFeedPage(json: reply.json())
    }

    /// The whole feed, page by page.
    func feed(as clinic: TestClinic, pageSize: Int = 1000) async throws -> [FeedEntry] {
        var entries = [FeedEntry]()
        var since: Int64 = 0
        while true {
            let page = try await self.page(since: since, limit: pageSize, as: clinic)
            entries += page.entries
            since = page.next
            if !page.more { return entries }
        }
    }
}
