import GRDB
import Synchronization

/// Copies the WAL back into the hub database off the request path.
///
/// SQLite's automatic checkpoint runs inside the commit that crosses the threshold, so one push
/// in a few would wait for tens of megabytes to be copied and synced. Instead the writer's
/// automatic checkpoint is set far out (a safety net only) and, after each batch, this runs a
/// PASSIVE checkpoint on a connection of its own, which never blocks the writer or readers.
final class WALCheckpointer: Sendable {
    private let connection: DatabaseQueue
    /// Whether a checkpoint runs now, and whether another was asked for meanwhile.
    private let state = Mutex<(running: Bool, again: Bool)>((false, false))

    init(path: String) throws {
        var config = Configuration()
        config.busyMode = .timeout(30)
        config.label = "emreg-hub-checkpoint"
        connection = try DatabaseQueue(path: path, configuration: config)
        try connection.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
    }

    /// Asks for a checkpoint soon; requests while one runs fold into one more run.
    func request() {
        let start = state.withLock { s -> Bool in
            if s.running {
                s.again = true
                return false
            }
            s.running = true
            return true
        }
        guard start else { return }
        Task.detached(priority: .utility) { await self.run() }
    }

    private func run() async {
        while true {
            // A failure (busy, I/O) leaves the WAL for the next request or the safety net. The
            // closure returns nothing (Sendable), so this is GRDB's async form: the checkpoint runs
            // on the connection's own queue, not on one of the few threads requests run on.
            try? await connection.writeWithoutTransaction { db in
                _ = try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")
            }
            let again = state.withLock { s -> Bool in
                if s.again {
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
