import Foundation
import PostgresNIO

/// Where a PostgreSQL hub store lives, read from a libpq-style URL
/// (`postgres://user:password@host:port/database?sslmode=disable`).
///
/// The password never appears in ``description``: errors and logs name the server by
/// ``description`` only. A URL without a password takes it from `PGPASSWORD`, so it need not
/// stand on a command line.
public struct PostgresLocation: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    var password: String?
    public var database: String
    /// libpq's `sslmode`: disable, allow, prefer (the default), require, verify-ca or verify-full.
    public var sslMode: String

    public init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws(HubError) {
        guard let c = URLComponents(string: url), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme)
        else {
            throw .badRequest(
                "--postgres: not a PostgreSQL URL; expected postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE")
        }
        guard let host = c.host, !host.isEmpty else { throw .badRequest("--postgres: the URL names no host") }
        guard let user = c.user, !user.isEmpty else { throw .badRequest("--postgres: the URL names no user") }
        self.host = host
        port = c.port ?? 5432
        username = user
        password = c.password ?? environment["PGPASSWORD"]
        let path = c.path.hasPrefix("/") ? String(c.path.dropFirst()) : c.path
        database = path.isEmpty ? user : path
        sslMode = "prefer"
        for item in c.queryItems ?? [] {
            switch (item.name, item.value ?? "") {
            case ("sslmode", let mode):
                guard ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"].contains(mode) else {
                    throw .badRequest(
                        "--postgres: sslmode \(mode.prefix(20)) is not one of disable, allow, prefer, require, verify-ca, verify-full"
                    )
                }
                sslMode = mode
            default:
                throw .badRequest("--postgres: unknown URL parameter \(item.name.prefix(40)); accepted: sslmode")
            }
        }
    }

    /// The URL without its password: safe for logs and error messages.
    public var description: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "postgres://\(username)@\(hostPart):\(port)/\(database)"
    }

    /// TLS as libpq's sslmode means it: prefer and require encrypt without checking the
    /// certificate, verify-ca checks the chain, verify-full the chain and the host name.
    /// nil for disable; `required` tells prefer from the others.
    var tlsConfiguration: (config: TLSConfiguration, required: Bool)? {
        var config = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case "disable": return nil
        case "verify-full": return (config, true)
        case "verify-ca":
            config.certificateVerification = .noHostnameVerification
            return (config, true)
        case "require":
            config.certificateVerification = .none
            return (config, true)
        default:
            config.certificateVerification = .none
            return (config, false)
        }
    }

    /// Settings every hub connection starts with: a statement that runs (or waits for a lock)
    /// longer than `statementTimeout` is cancelled, and a transaction left idle is ended.
    ///
    /// Prepared statements (``PostgresPreparedStatements``) are planned once per connection (a
    /// generic plan), and the planner may not scan a table whole nor hash or merge a join: every
    /// hub statement finds its rows by key, through an index, whatever the tables' size. Left to
    /// choose, the planner picked a scan for a generic plan made while the tables were small
    /// (LoadTouched took 12 ms instead of 0.4 under load); planned for its parameters every time
    /// instead, the batch's statements spent 0.8 ms of PostgreSQL's CPU planning per batch (a
    /// quarter of the server's CPU under load).
    static func startupParameters(statementTimeout: Duration) -> [(String, String)] {
        let millis = statementTimeout.components.seconds * 1000
        return [
            ("statement_timeout", String(millis)),
            ("idle_in_transaction_session_timeout", String(max(millis, 60_000))),
            ("application_name", "emreg-hub"),
            ("plan_cache_mode", "force_generic_plan"),
            ("enable_seqscan", "off"),
            ("enable_hashjoin", "off"),
            ("enable_mergejoin", "off"),
        ]
    }

    /// One connection, for migrating when the store opens: it fails at once on a wrong host,
    /// password or database, where the pool would keep retrying.
    func connectionConfiguration(statementTimeout: Duration) throws -> PostgresConnection.Configuration {
        var tls = PostgresConnection.Configuration.TLS.disable
        if let t = tlsConfiguration {
            let context = try NIOSSLContext(configuration: t.config)
            tls = t.required ? .require(context) : .prefer(context)
        }
        var c = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        c.options.connectTimeout = .seconds(10)
        c.options.additionalStartupParameters = Self.startupParameters(statementTimeout: statementTimeout)
        return c
    }

    func clientConfiguration(statementTimeout: Duration, maximumConnections: Int) -> PostgresClient.Configuration {
        var tls = PostgresClient.Configuration.TLS.disable
        if let t = tlsConfiguration { tls = t.required ? .require(t.config) : .prefer(t.config) }
        var c = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database, tls: tls)
        c.options.connectTimeout = .seconds(10)
        c.options.additionalStartupParameters = Self.startupParameters(statementTimeout: statementTimeout)
        c.options.maximumConnections = maximumConnections
        c.options.minimumConnections = 0
        return c
    }
}
