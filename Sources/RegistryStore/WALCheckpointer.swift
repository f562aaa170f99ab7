import Dispatch
import GRDB
import GRDBSQLite
import Synchronization

/// Copies a database's WAL back into its main file on a connection and a thread of its own.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses its threshold: that commit
/// stops to copy the WAL's pages into the main file and sync it, while nothing else is written.
/// Here the copy runs beside the writer instead (PASSIVE: it never blocks a writer or a reader,
/// and never waits for one; what it cannot copy yet waits for the next request), so with two
/// cores the next transactions go on while the last ones are copied.
///
/// Its connection is opened by the first request: a short command that never fills the WAL never
/// opens it.
package final class WALCheckpointer: Sendable {
    private let path: String
    private let configuration: Configuration
    private let queue: DispatchQueue
    private let state = Mutex<State>(State())
    /// Opened by the first run and kept until ``close()``; touched on `queue` only.
    nonisolated(unsafe) private var connection: DatabaseQueue?

    private struct State {
        /// Whether a checkpoint runs now, and whether another was asked for meanwhile.
        var running = false
        var again = false
        var closed = false
    }

    /// WAL pages after which a watched connection's commit asks for a checkpoint (SQLite's own
    /// automatic threshold).
    static let requestPages: Int32 = 1000
    /// WAL pages after which the committing connection checkpoints itself, as SQLite would: a
    /// safety net for a WAL that outgrows the copies beside it. A checkpoint that overlaps the
    /// next write transaction lets the WAL grow rather than start again from its beginning; the
    /// writer's own checkpoint, most pages already copied, lets it start again.
    static let inlinePages: Int32 = 4096

    /// `prepare` sets up the checkpointer's own connection.
    package init(path: String, label: String, prepare: @escaping @Sendable (Database) throws -> Void) {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = label
        config.prepareDatabase(prepare)
        configuration = config
        queue = DispatchQueue(label: label, qos: .utility)
    }

    /// Asks for a checkpoint soon; requests while one runs fold into one more run.
    package func request() {
        let start = state.withLock { s -> Bool in
            if s.closed { return false }
            if s.running {
                s.again = true
                return false
            }
            s.running = true
            return true
        }
        if start { queue.async { self.run() } }
    }

    /// Makes `db`'s commits ask for checkpoints (``requestPages``) in place of SQLite's automatic
    /// checkpoint, and checkpoint themselves past ``inlinePages``. `db` must close before this
    /// checkpointer goes (a connection's set-up closure that calls this keeps it alive).
    package func watch(_ db: Database) {
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, connection, name, pages in
                if pages >= WALCheckpointer.inlinePages {
                    // A failure (busy: the copy beside it holds the lock) waits for the next commit.
                    _ = sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if pages >= WALCheckpointer.requestPages {
                    Unmanaged<WALCheckpointer>.fromOpaque(context!).takeUnretainedValue().request()
                }
                return SQLITE_OK
            }, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Waits for a running checkpoint and closes the connection; later requests are ignored.
    /// (The last connection to close a WAL database checkpoints it and trims the file: the
    /// writer's, when this one has gone first.)
    package func close() {
        state.withLock { $0.closed = true }
        queue.sync {
            try? connection?.close()
            connection = nil
        }
    }

    /// Checkpoints until no request is left.
    private func run() {
        while true {
            // A failure (busy, I/O) leaves the WAL for the next request or the safety net.
            if connection == nil { connection = try? DatabaseQueue(path: path, configuration: configuration) }
            try? connection?.writeWithoutTransaction { db in
                _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            }
            let again = state.withLock { s -> Bool in
                if s.again && !s.closed {
                    s.again = false
                    return true
                }
                s.running = false
                return false
            }
            if !again { return }
        }
    }
}
