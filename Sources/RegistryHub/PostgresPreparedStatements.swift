import PostgresNIO
import Synchronization

/// The statements every batch and feed read sends, parsed once per connection as named prepared
/// statements instead of on every call: PostgreSQL spent about a sixth of its CPU parsing and
/// analysing them. They are still planned for each call's parameters (`plan_cache_mode`, see
/// ``PostgresLocation``).
///
/// postgres-nio's `PreparedQuery` is used because its `execute` writes the statement at once and
/// returns a future: a caller can send COMMIT behind it in the same round trip (``WriteBatch``),
/// which the async `execute` of `PostgresPreparedStatement` does not allow. Statements are
/// prepared before a transaction begins (``prepare(_:on:)``), so none is prepared between the
/// statements of a pipeline. Parameters carry no types to PostgreSQL: each statement casts every
/// parameter, so the binary values sent always match.
final class PostgresPreparedStatements: Sendable {
    /// By connection (ids are unique for a pool's life), then by SQL.
    private let prepared = Mutex<[PostgresConnection.ID: [String: PreparedQuery]]>([:])

    /// Prepares those of `statements` not yet prepared on `c`.
    func prepare(_ statements: [String], on c: PostgresConnection) async throws {
        let have = prepared.withLock { $0[c.id] }
        if have == nil {
            let id = c.id
            c.closeFuture.whenComplete { [self] _ in _ = prepared.withLock { $0.removeValue(forKey: id) } }
        }
        for sql in statements where have?[sql] == nil {
            let query = try await c.prepare(query: sql).get()
            prepared.withLock { $0[c.id, default: [:]][sql] = query }
        }
    }

    /// Sends `sql`, prepared on `c` before, with `binds`, and returns its rows to come.
    ///
    /// A statement the server no longer has (26000: deallocated, e.g. by `DISCARD ALL`) or can
    /// no longer run as prepared (0A000: a newer hub's migration changed the type of a column it
    /// returns) is forgotten, so that the next ``prepare(_:on:)`` prepares it again; the error
    /// still reaches the caller, which tries again (``isOutdated(_:)``).
    func execute(_ sql: String, _ binds: PreparedBinds, on c: PostgresConnection) -> EventLoopFuture<[PreparedRow]> {
        guard let query = prepared.withLock({ $0[c.id]?[sql] }) else {
            return c.eventLoop.makeFailedFuture(HubError.database("a statement was not prepared on its connection"))
        }
        let id = c.id
        return query.execute(binds.values).map { $0.map(PreparedRow.init) }.flatMapErrorThrowing { [self] error in
            if Self.isOutdated(error) { _ = prepared.withLock { $0[id]?.removeValue(forKey: sql) } }
            throw error
        }
    }

    /// Prepares `sql` if needed and runs it on its own, once more if it was outdated.
    func run(_ sql: String, _ binds: PreparedBinds, on c: PostgresConnection) async throws -> [PreparedRow] {
        do {
            try await prepare([sql], on: c)
            return try await execute(sql, binds, on: c).get()
        } catch where Self.isOutdated(error) {
            try await prepare([sql], on: c)
            return try await execute(sql, binds, on: c).get()
        }
    }

    /// True for the errors of a prepared statement that preparing it again cures.
    static func isOutdated(_ error: any Error) -> Bool {
        guard let state = PostgresFailure.server(error)?.state else { return false }
        return state == "26000" || state == "0A000"
    }
}

/// Parameters for a ``PostgresPreparedStatements`` statement, encoded as postgres-nio encodes
/// bind parameters.
struct PreparedBinds {
    var values: [PostgresData] = []

    init(capacity: Int) { values.reserveCapacity(capacity) }

    mutating func append<T: PostgresEncodable>(_ value: T) throws {
        var buffer = ByteBuffer()
        try value.encode(into: &buffer, context: .default)
        values.append(PostgresData(type: T.psqlType, formatCode: T.psqlFormat, value: buffer))
    }
}

/// A row of a ``PostgresPreparedStatements`` statement. Its values arrive in binary, as every
/// bind asks, but postgres-nio (1.33.2) labels them with the statement's description, which says
/// text: the cells are relabelled so that they decode.
struct PreparedRow {
    let cells: [PostgresCell]

    init(_ row: PostgresRow) {
        cells = row.map {
            PostgresCell(bytes: $0.bytes, dataType: $0.dataType, format: .binary, columnName: $0.columnName, columnIndex: $0.columnIndex)
        }
    }

    /// The value of column `index`.
    func decode<T: PostgresDecodable>(_ index: Int, as: T.Type = T.self) throws -> T {
        guard index < cells.count else { throw HubError.database("a statement returned \(cells.count) columns, not \(index + 1)") }
        return try cells[index].decode(T.self)
    }
}

/// What a failed statement's error says, whichever postgres-nio API raised it: the async API
/// throws `PSQLError`, `PreparedQuery` the older `PostgresError` (or, for a connection error,
/// the channel's own error).
enum PostgresFailure {
    /// The server's SQLSTATE and message, when the server refused the statement.
    static func server(_ error: any Error) -> (state: String, message: String?)? {
        if let e = error as? PSQLError, e.code == .server, let state = e.serverInfo?[.sqlState] {
            return (state, e.serverInfo?[.message])
        }
        if case .server(let m) = error as? PostgresError, let state = m.fields[.sqlState] {
            return (state, m.fields[.message])
        }
        return nil
    }

    /// True when the connection went away under the statement: closed by either side, broken, or
    /// ended by the server (shut down by an operator, or a crash).
    static func connectionLost(_ error: any Error) -> Bool {
        if let state = server(error)?.state { return ["57P01", "57P02"].contains(state) }
        switch error {
        case let e as PSQLError:
            return [.serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown].contains(e.code)
        case let e as PostgresError:
            switch e {
            case .connectionClosed: return true
            case .protocol(let message): return message == "Unexpected connection close"
            case .server: return false
            }
        case is ChannelError, is IOError: return true
        default: return false
        }
    }
}
