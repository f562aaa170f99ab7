/// Feed entries the PostgreSQL store has read or written (kept as their batch commits), by seq, so
/// that the clinics pulling them get them without the database sending them: every clinic pulls
/// every other clinic's changes, and a page read cost the server ~1.5 ms under load (scripts/load-hub). A kept
/// entry is always right (``FeedTailCache``); the store still asks the database for what follows
/// the kept run, which is how it learns of entries other hubs on the same database wrote.
///
/// At most `budget` bytes of entry text are kept (0: none). A hub whose database is restored to an
/// earlier moment must be restarted, as with any cache of it.
final class FeedEntryCache: Sendable {
    private let kept: FeedTailCache<String>

    init(budget: Int = 64 << 20) { kept = FeedTailCache(budget: budget) { $0.utf8.count } }

    var count: Int { kept.count }

    /// The kept entries from `first` on without a gap, at most `limit` of them.
    func run(from first: Int64, limit: Int) -> [HubFeedSlice.Entry] {
        kept.run(from: first, limit: limit) { HubFeedSlice.Entry(seq: $0, json: $1) }
    }

    func keep(_ entries: some Collection<HubFeedSlice.Entry>) {
        kept.keep(entries.lazy.map { (key: $0.seq, value: $0.json) })
    }
}
