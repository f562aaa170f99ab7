import PostgresNIO

extension PostgresHubStore {
    /// Entries commit in seq order (see ``PostgresHubStore``), so whatever one statement sees
    /// past `since` is a gap-free run.
    public func feed(since: Int64, limit: Int) async throws(HubError) -> HubFeedSlice {
        try await postgresErrors(nil) {
            try await withConnection { [self] c in
                let rows = try await c.allRows(
                    "SELECT seq, entry FROM hub_feed WHERE seq > \(since) ORDER BY seq LIMIT \(Int64(limit) + 1)",
                    logger: logger)
                var entries = [HubFeedSlice.Entry]()
                entries.reserveCapacity(rows.count)
                for row in rows {
                    let (seq, entry) = try row.decode((Int64, String).self)
                    entries.append(HubFeedSlice.Entry(seq: seq, json: entry))
                }
                let more = entries.count > limit
                if more { entries.removeLast() }
                return HubFeedSlice(entries: entries, more: more)
            }
        }
    }
}
