import CSQLite

/// Process-wide SQLite settings, made once before this process opens its first connection
/// (SQLite takes them only then). Every place that opens one names ``ready`` first.
package enum SQLiteSetup {
    package static let ready: Void = {
        // Memory statistics off: nothing reads them, and they cost every allocation a lock.
        _ = emreg_sqlite_disable_memstatus()
    }()
}
