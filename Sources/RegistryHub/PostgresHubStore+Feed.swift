import PostgresNIO

extension PostgresHubStore {
    /// Entries commit in seq order (see ``WriteBatch``), so whatever one statement sees past a
    /// seq is a gap-free run. Entries kept from earlier reads (``FeedEntryCache``) come first; the
    /// database sends only what follows them.
    public func feed(since: Int64, limit: Int) async throws(HubError) -> HubFeedSlice {
        var entries = feedEntries.run(from: since + 1, limit: limit + 1)
        if entries.count <= limit {
            let after = entries.last?.seq ?? since
            let wanted = Int64(limit + 1 - entries.count)
            let read = try await postgresErrors(nil) {
                try await withConnection { [self] c in
                    let rows = try await c.allRows(
                        "SELECT seq, entry FROM hub_feed WHERE seq > \(after) ORDER BY seq LIMIT \(wanted)", logger: logger)
                    return try rows.map { row in
                        let (seq, entry) = try row.decode((Int64, String).self)
                        return HubFeedSlice.Entry(seq: seq, json: entry)
                    }
                }
            }
            feedEntries.keep(read)
            entries += read
        }
        let more = entries.count > limit
        if more { entries.removeLast() }
        return HubFeedSlice(entries: entries, more: more)
    }
}
