import Synchronization

/// Values kept by a feed position (a seq, or a run of seqs), at most `budget` bytes of them by
/// `size`: over it, the older half (lower keys: clinics pull the feed's tail) is dropped; 0 keeps
/// nothing. Feed entries never change once committed (hub_feed refuses UPDATE and DELETE), so
/// whatever is made from them can be kept. Shared by ``FeedEntryCache`` and ``FeedGzipCache``.
final class FeedTailCache<Value: Sendable>: Sendable {
    let budget: Int
    private let size: @Sendable (Value) -> Int
    private struct State {
        var values: [Int64: Value] = [:]
        var bytes = 0
    }
    private let state = Mutex(State())

    init(budget: Int, size: @escaping @Sendable (Value) -> Int) {
        self.budget = budget
        self.size = size
    }

    var count: Int { state.withLock { $0.values.count } }

    subscript(key: Int64) -> Value? { state.withLock { $0.values[key] } }

    /// The values from `first` on at consecutive keys, at most `limit` of them.
    func run(from first: Int64, limit: Int) -> [(key: Int64, value: Value)] {
        state.withLock { s in
            var out = [(key: Int64, value: Value)]()
            var key = first
            while out.count < limit, let value = s.values[key] {
                out.append((key, value))
                key += 1
            }
            return out
        }
    }

    func keep(_ pairs: some Sequence<(key: Int64, value: Value)>) {
        guard budget > 0 else { return }
        state.withLock { s in
            for (key, value) in pairs where s.values.updateValue(value, forKey: key) == nil { s.bytes += size(value) }
            guard s.bytes > budget else { return }
            for key in s.values.keys.sorted().prefix(s.values.count / 2 + 1) {
                s.bytes -= s.values.removeValue(forKey: key).map(size) ?? 0
            }
        }
    }
}
