import Synchronization

/// Feed entries the PostgreSQL store has read, by seq, so that the next clinics pulling the same
/// entries get them without the database sending them again: every clinic pulls every other
/// clinic's changes, and a page read cost the server ~1.5 ms under load (scripts/load-hub). A
/// feed entry never changes once committed (hub_feed refuses UPDATE and DELETE), so a kept entry
/// is always right; the store still asks the database for what follows the kept run, which is
/// how it learns of entries other hubs on the same database wrote.
///
/// At most `budget` bytes of entry text are kept (0: none): over it, the older half (lower seqs: clinics
/// pull the feed's tail) is dropped. A hub whose database is restored to an earlier moment must
/// be restarted, as with any cache of it.
final class FeedEntryCache: Sendable {
    let budget: Int
    private struct State {
        var entries: [Int64: String] = [:]
        var bytes = 0
    }
    private let state = Mutex(State())

    init(budget: Int = 64 << 20) { self.budget = budget }

    var count: Int { state.withLock { $0.entries.count } }

    /// The kept entries from `first` on without a gap, at most `limit` of them.
    func run(from first: Int64, limit: Int) -> [HubFeedSlice.Entry] {
        state.withLock { s in
            var out = [HubFeedSlice.Entry]()
            var seq = first
            while out.count < limit, let json = s.entries[seq] {
                out.append(HubFeedSlice.Entry(seq: seq, json: json))
                seq += 1
            }
            return out
        }
    }

    func keep(_ entries: some Collection<HubFeedSlice.Entry>) {
        guard !entries.isEmpty, budget > 0 else { return }
        state.withLock { s in
            for e in entries where s.entries.updateValue(e.json, forKey: e.seq) == nil { s.bytes += e.json.utf8.count }
            guard s.bytes > budget else { return }
            for seq in s.entries.keys.sorted().prefix(s.entries.count / 2 + 1) {
                s.bytes -= s.entries.removeValue(forKey: seq)?.utf8.count ?? 0
            }
        }
    }
}
