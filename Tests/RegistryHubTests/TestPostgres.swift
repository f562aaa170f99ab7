import Foundation
import Logging
import PostgresNIO
import Testing

@testable import RegistryHub

/// The PostgreSQL server the tests run against: the throwaway cluster scripts/test starts and
/// names in EMREG_TEST_POSTGRES_URL. Each test gets a database of its own on it.
enum TestPostgres {
    struct Missing: Error, CustomStringConvertible {
        var description: String {
            """
            EMREG_TEST_POSTGRES_URL is not set, so the PostgreSQL cases of the hub suite cannot run. \
            scripts/test sets it; by hand: `scripts/pg-start /tmp/emreg-pg --no-fsync` and \
            `export EMREG_TEST_POSTGRES_URL=$(cat /tmp/emreg-pg/url)`, and `scripts/pg-stop /tmp/emreg-pg` after.
            """
        }
    }

    static func serverURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["EMREG_TEST_POSTGRES_URL"], !url.isEmpty else {
            throw Missing()
        }
        return url
    }

    /// `serverURL` with another database.
    static func url(database: String) throws -> String {
        var c = try #require(URLComponents(string: try serverURL()))
        c.path = "/" + database
        return try #require(c.string)
    }

    /// Creates an empty database and returns its URL.
    static func createDatabase() async throws -> String {
        let name = "emreg_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        // The name is made here, never input: it is the one thing spliced into SQL.
        try await admin { try await $0.run(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"), logger: $1) }
        return try url(database: name)
    }

    static func dropDatabase(_ name: String) async {
        guard name.hasPrefix("emreg_test_"), name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            return
        }
        try? await admin {
            try await $0.run(PostgresQuery(unsafeSQL: "DROP DATABASE \(name) WITH (FORCE)"), logger: $1)
        }
    }

    /// Runs `body` on a connection to the server's own database.
    static func admin(_ body: (PostgresConnection, Logger) async throws -> Void) async throws {
        let logger = Logger(label: "emreg.test.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
        let location = try PostgresLocation(url: try serverURL())
        let connection = try await PostgresConnection.connect(
            configuration: try location.connectionConfiguration(statementTimeout: .seconds(60)), id: 0, logger: logger)
        do {
            try await body(connection, logger)
            try await connection.close()
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
