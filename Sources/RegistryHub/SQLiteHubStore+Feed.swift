import GRDB

extension SQLiteHubStore {
    public func feed(since: Int64, limit: Int) async throws(HubError) -> HubFeedSlice {
        try await databaseErrors {
            try await pool.read { db in
                var entries = [HubFeedSlice.Entry]()
                entries.reserveCapacity(min(limit, 10_000) + 1)
                let rows = try Row.fetchCursor(
                    db.cachedStatement(sql: "SELECT seq, entry FROM hub_feed WHERE seq > ? ORDER BY seq LIMIT ?"),
                    arguments: [since, limit + 1])
                while let row = try rows.next() { entries.append(HubFeedSlice.Entry(seq: row[0], json: row[1])) }
                let more = entries.count > limit
                if more { entries.removeLast() }
                return HubFeedSlice(entries: entries, more: more)
            }
        }
    }
}
