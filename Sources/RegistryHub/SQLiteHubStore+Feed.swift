import GRDB
import GRDBSQLite
import RegistryStore

extension SQLiteHubStore {
    public func feed(since: Int64, limit: Int) async throws(HubError) -> HubFeedSlice {
        try await databaseErrors {
            try await pool.read { db in
                var entries = [HubFeedSlice.Entry]()
                entries.reserveCapacity(min(limit, 10_000) + 1)
                // Through the C API: a page is thousands of rows, each read straight into its text.
                let page = try SyncStatement(db, "SELECT seq, entry FROM hub_feed WHERE seq > ? ORDER BY seq LIMIT ?")
                page.bind(1, since)
                page.bind(2, Int64(limit) + 1)
                try page.rows { row in
                    entries.append(HubFeedSlice.Entry(seq: sqlite3_column_int64(row, 0), json: Self.text(row, 1)))
                    return true
                }
                let more = entries.count > limit
                if more { entries.removeLast() }
                return HubFeedSlice(entries: entries, more: more)
            }
        }
    }

    public func batchApplied(id: String) async throws(HubError) -> Bool {
        try await databaseErrors {
            try await pool.read { db in
                try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM hub_batches WHERE batch_id = ?)", arguments: [id])
                    ?? false
            }
        }
    }
}
