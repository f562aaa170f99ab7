import PostgresNIO

extension PostgresHubStore {
    static let feedSQL = "SELECT seq, entry FROM hub_feed WHERE seq > $1::bigint ORDER BY seq LIMIT $2::bigint"

    /// Entries commit in seq order (see ``WriteBatch``), so whatever one statement sees past a
    /// seq is a gap-free run. Entries kept from earlier reads (``FeedEntryCache``) come first; the
    /// database sends only what follows them.
    public func feed(since: Int64, limit: Int) async throws(HubError) -> HubFeedSlice {
        // No seq follows the largest one (and `since + 1` would trap).
        guard since < .max else { return HubFeedSlice(entries: [], more: false) }
        var entries = feedEntries.run(from: since + 1, limit: limit + 1)
        if entries.count <= limit {
            let after = entries.last?.seq ?? since
            let wanted = Int64(limit + 1 - entries.count)
            let read = try await postgresErrors(nil) {
                try await withConnection { [self] c in
                    var binds = PreparedBinds(capacity: 2)
                    try binds.append(after)
                    try binds.append(wanted)
                    let rows = try await statements.run(Self.feedSQL, binds, on: c)
                    return try rows.map { row in
                        let (seq, entry) = (try row.decode(0, as: Int64.self), try row.decode(1, as: String.self))
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
