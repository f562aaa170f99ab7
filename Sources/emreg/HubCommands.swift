import ArgumentParser
import Dispatch
import Logging
import RegistryHub
import Synchronization

/// `emreg hub …`: run the hub clinics sync through, and manage the clinics allowed to.
struct HubCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hub", abstract: "Run the sync hub and manage the clinics allowed to use it.",
        subcommands: [Serve.self, Clinic.self])
}

/// The hub database every hub command works on: a SQLite file or a PostgreSQL database.
struct HubDatabaseOptions: ParsableArguments {
    @Option(name: .customLong("hub-db"), help: "The hub's SQLite database; created on first use.")
    var path: String?

    @Option(
        name: .customLong("postgres"),
        help: ArgumentHelp(
            "The hub's PostgreSQL database instead: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=MODE].",
            discussion: """
                Without a password in the URL, PGPASSWORD is used. The schema is created or brought up to \
                date on first use.
                """,
            valueName: "url"))
    var postgresURL: String?

    func validate() throws {
        switch (path, postgresURL) {
        case (nil, nil):
            throw ValidationError("name the hub database: --hub-db FILE (SQLite) or --postgres URL (PostgreSQL)")
        case (.some, .some):
            throw ValidationError("--hub-db and --postgres name two hub databases; give one of them")
        default: break
        }
    }

    /// The hub database as messages may name it: the file, or the URL without its password.
    var name: String {
        if let path { return path }
        return (try? PostgresLocation(url: postgresURL ?? "").description) ?? "the PostgreSQL database"
    }

    /// The option that names this database again, for hints.
    var option: String { path != nil ? "--hub-db \(name)" : "--postgres \(name)" }

    static func openStore(path: String?, postgresURL: String?) async throws -> any HubStore {
        do {
            if let postgresURL { return try await PostgresHubStore.open(url: postgresURL) }
            return try SQLiteHubStore.open(at: path ?? "")
        } catch {
            throw HubFailure.cli(error)
        }
    }

    /// Opens the store, runs `body` on it and closes it, whatever `body` does.
    func withStore<T: Sendable>(_ body: @escaping @Sendable (any HubStore) async throws -> T) throws -> T {
        let (path, postgresURL) = (self.path, self.postgresURL)
        return try blocking {
            let store = try await Self.openStore(path: path, postgresURL: postgresURL)
            do {
                let result = try await body(store)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        }
    }
}

extension HubCommand {
    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "serve", 
            abstract: "Serve the hub over HTTP until SIGTERM or SIGINT.",
            discussion: """
                Logs one line per request to stderr (method, route, status, bytes, milliseconds, clinic); \
                never bodies, tokens or clinical values. Put a TLS-terminating proxy in front of it when \
                clinics reach it over a network.
                """)

        @OptionGroup var hub: HubDatabaseOptions
        @Option(help: "The TCP port to listen on (0 picks a free one).") var port: Int
        @Option(help: "The address to listen on.") var bind = "127.0.0.1"
        @Option(help: "The largest request body accepted, in bytes (413 above it).")
        var maxBodyBytes = HubConfiguration.defaultMaxBodyBytes

        func validate() throws {
            guard (0...65535).contains(port) else {
                throw ValidationError("--port: \(port) is not a TCP port; accepted: 0 to 65535")
            }
            guard maxBodyBytes >= 1024 else {
                throw ValidationError("--max-body-bytes: too small; accepted: 1024 or more")
            }
        }

        func run() throws {
            let configuration = HubConfiguration(host: bind, port: port, maxBodyBytes: maxBodyBytes)
            var logger = Logger(label: "emreg.hub") { StreamLogHandler.standardError(label: $0) }
            logger.logLevel = .info
            let name = hub.name
            try hub.withStore { [logger] store in
                let app = buildApplication(configuration: configuration, store: store, logger: logger) { port in
                    logger.info("emreg hub serving \(name) on http://\(configuration.host):\(port)")
                }
                do {
                    try await app.runService()
                } catch {
                    guard let why = ListenFailure.reason(error) else { throw error }
                    throw CLIError(
                        message: "--bind, --port: cannot listen on \(configuration.host):\(configuration.port): \(why); accepted: an address of this machine (e.g. 127.0.0.1, 0.0.0.0, ::1) and a free port",
                        status: Failure.ioError)
                }
                logger.info("emreg hub stopped")
            }
        }
    }

    struct Clinic: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "clinic", 
            abstract: "Manage the clinics allowed to sync.", subcommands: [Add.self, List.self, Revoke.self])
    }
}

extension HubCommand.Clinic {
    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add", 
            abstract: "Allow a clinic to sync: prints its new token, alone on stdout, once.",
            discussion: """
                The hub keeps only the token's SHA-256. To replace a lost or leaked token, revoke the \
                clinic and add it again.
                """)
        @OptionGroup var hub: HubDatabaseOptions
        @Argument(help: "The clinic's code, as in its registry (e.g. OSL-1).") var code: String

        func run() throws {
            let token = ClinicToken.make()
            try hub.withStore { [code] store in try await store.addClinic(code, tokenSHA256: ClinicToken.sha256(token)) }
            print(token)
            FileOutput.standardError.write("clinic \(code) may sync now; the token above is shown only this once\n")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the clinics, their status and last push.")
        @OptionGroup var hub: HubDatabaseOptions
        @Flag(help: "Print JSON.") var json = false

        struct Document: Encodable {
            var code: String
            var status: String
            var createdAt: String
            var revokedAt: String?
            var lastPushAt: String?
            var batches: Int

            enum Keys: String, CodingKey { case code, status, createdAt, revokedAt, lastPushAt, batches }

            /// Every key always present (null when unset), so scripts see one shape.
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: Keys.self)
                try c.encode(code, forKey: .code)
                try c.encode(status, forKey: .status)
                try c.encode(createdAt, forKey: .createdAt)
                try c.encode(revokedAt, forKey: .revokedAt)
                try c.encode(lastPushAt, forKey: .lastPushAt)
                try c.encode(batches, forKey: .batches)
            }
        }

        func run() throws {
            let clinics = try hub.withStore { store in try await store.clinics() }
            let documents = clinics.map {
                Document(
                    code: $0.code, status: $0.revokedAt == nil ? "active" : "revoked", createdAt: $0.createdAt,
                    revokedAt: $0.revokedAt, lastPushAt: $0.lastPushAt, batches: $0.batches)
            }
            if json { return try JSONOutput.print(documents) }
            if documents.isEmpty {
                FileOutput.standardError.write(
                    "no clinics yet; add one with `emreg hub clinic add CODE \(hub.option)`\n")
                return
            }
            let width = max(4, documents.map(\.code.count).max() ?? 0)
            func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
            print("\(pad("CODE", width))  STATUS   SINCE                     LAST PUSH                 BATCHES")
            for d in documents {
                let since = d.revokedAt ?? d.createdAt
                print(
                    "\(pad(d.code, width))  \(pad(d.status, 7))  \(pad(since, 24))  \(pad(d.lastPushAt ?? "never", 24))  \(d.batches)"
                )
            }
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke", 
            abstract: "Stop a clinic's token from working; its changes stay in the feed.")
        @OptionGroup var hub: HubDatabaseOptions
        @Argument(help: "The clinic's code.") var code: String

        func run() throws {
            let revoked = try hub.withStore { [code] store in try await store.revokeClinic(code) }
            FileOutput.standardError.write(
                revoked ? "clinic \(code) revoked; its token no longer works\n" : "clinic \(code) was already revoked\n"
            )
        }
    }
}

/// Hub failures as the command line reports them.
enum HubFailure {
    static func cli(_ error: any Error) -> any Error {
        guard let e = error as? HubError else { return error }
        switch e {
        case .invalid(let f): return CLIError(message: f.description, status: Failure.invalidData)
        case .unknownClinic, .clinicExists: return CLIError(message: e.description, status: Failure.invalidData)
        case .database: return CLIError(message: e.description, status: Failure.ioError)
        default: return CLIError(message: e.description, status: Failure.usage)
        }
    }
}

/// Runs async hub work from a synchronous command and waits for it; failures come back as
/// command-line errors.
private func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let outcome = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task {
        let result: Result<T, any Error>
        do { result = .success(try await body()) } catch { result = .failure(error) }
        outcome.withLock { $0 = result }
        done.signal()
    }
    done.wait()
    do { return try outcome.withLock { $0! }.get() } catch { throw HubFailure.cli(error) }
}
