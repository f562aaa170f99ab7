import PostgresNIO
import Synchronization

/// Ends the hub's work on a PostgreSQL connection as soon as that connection closes.
///
/// postgres-nio (1.33.2) sends a statement by writing it to the connection's channel without a
/// write promise. Once the channel has closed, NIO has removed the connection's handlers, the
/// write is dropped, and the statement's result never comes: the task awaiting it waits forever.
/// The pool can hand out a connection whose server has just gone away (it learns of the close a
/// moment later), and `withTransaction` sends ROLLBACK on a connection whose failure it is
/// handling; so after a PostgreSQL restart a batch hung for good, holding its ``BatchGate`` place,
/// and after two of them no push was ever answered again.
///
/// ``PostgresConnection/untilClosed(watch:until:timeout:_:)`` runs the work in a task of its own and answers with
/// the work's result or, if the connection closes first, with a database error. A batch that was
/// cut off may or may not have committed; either way the client retries it under the same batch
/// id and gets the stored receipt or a first application: nothing is lost or doubled. Work that
/// was stuck stays stuck (postgres-nio gives no way to end it) but holds nothing of the hub's:
/// its connection is closed and the pool has let it go.
///
/// A watch serves one pool: connections are told apart by their id, which is unique in a pool only.
final class PostgresConnectionWatch: Sendable {
    private struct State {
        /// Per open connection seen so far (closed ones are dropped), the work waiting on it.
        var connections: [PostgresConnection.ID: [UInt64: @Sendable () -> Void]] = [:]
        var nextToken: UInt64 = 0
    }
    private let state = Mutex(State())

    /// Calls `onClose` once the connection closes (at once if it has), unless ``stopWatching``
    /// comes first. Returns the token for ``stopWatching``.
    func watch(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) -> UInt64 {
        let (token, isNew) = state.withLock { s -> (UInt64, Bool) in
            s.nextToken += 1
            let isNew = s.connections[connection.id] == nil
            s.connections[connection.id, default: [:]][s.nextToken] = onClose
            return (s.nextToken, isNew)
        }
        // One callback per connection, not per statement: a connection lives for many batches.
        if isNew {
            connection.closeFuture.whenComplete { [id = connection.id] _ in self.closed(id) }
        }
        return token
    }

    func stopWatching(_ connection: PostgresConnection, token: UInt64) {
        state.withLock { s in _ = s.connections[connection.id]?.removeValue(forKey: token) }
    }

    private func closed(_ id: PostgresConnection.ID) {
        let waiting = state.withLock { s in s.connections.removeValue(forKey: id) ?? [:] }
        for onClose in waiting.values { onClose() }
    }

    /// How many connections are watched: open connections only (a test holds it to that).
    var watchedConnections: Int { state.withLock { $0.connections.count } }
}

/// The connection closed while work used it.
struct ConnectionClosed: Error {}

/// One answer, from whichever comes first.
private final class FirstAnswer<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T, any Error>?>

    init(_ continuation: CheckedContinuation<T, any Error>) { self.continuation = Mutex(continuation) }

    func resume(with result: Result<T, any Error>) {
        let c = continuation.withLock { c -> CheckedContinuation<T, any Error>? in
            defer { c = nil }
            return c
        }
        c?.resume(with: result)
    }
}

extension PostgresConnection {
    /// Runs `work`, which uses this connection, and answers with its result, or with a database
    /// error as soon as the connection closes (see ``PostgresConnectionWatch``), or with
    /// ``NoAnswer`` at `deadline` (the store's `timeout`, counted from when it asked the pool).
    ///
    /// The limit is for a server that went silent: a network partition, a host that lost power. No
    /// FIN or RST arrives then, so the connection never closes by itself and, without a limit, the
    /// work would wait for as long as the kernel keeps the socket (hours), holding its
    /// ``BatchGate`` place. At the limit the connection is closed (the server, if it is still
    /// there, rolls back whatever the work left open) and the work ends with ``NoAnswer``.
    func untilClosed<T: Sendable>(
        watch: PostgresConnectionWatch, until deadline: ContinuousClock.Instant, timeout: Duration,
        _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let answer = FirstAnswer(continuation)
            let token = watch.watch(self) {
                answer.resume(with: .failure(ConnectionClosed()))
            }
            let timer = eventLoop.scheduleTask(in: TimeAmount(max(.zero, deadline - .now))) { [self] in
                answer.resume(with: .failure(NoAnswer(timeout: timeout)))
                let _: EventLoopFuture<Void> = close()
            }
            Task {
                let result: Result<T, any Error>
                do { result = .success(try await work()) } catch { result = .failure(error) }
                timer.cancel()
                watch.stopWatching(self, token: token)
                answer.resume(with: result)
            }
        }
    }
}

/// The server did not answer within the store's response timeout; the connection was closed.
struct NoAnswer: Error {
    var timeout: Duration
}
