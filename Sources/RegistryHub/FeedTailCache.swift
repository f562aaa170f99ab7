import Synchronization

/// Values kept by a feed position (a seq, or a run of seqs), at most `budget` bytes of them by
/// `size`: over it, the older half (lower keys: clinics pull the feed's tail) is dropped; 0 keeps
/// nothing. Feed entries never change once committed (hub_feed refuses UPDATE and DELETE), so
/// whatever is made from them can be kept. Shared by ``FeedEntryCache`` and ``FeedGzipCache``.
///
/// Values are kept in blocks of 64 consecutive keys, so that a run is read with one lookup a block
/// instead of one hash a value: with a lookup a value, reading runs was 9.4 % of the PostgreSQL
/// hub's CPU under `scripts/load-hub` (every pull reads a run of the feed's tail from here).
final class FeedTailCache<Value: Sendable>: Sendable {
    let budget: Int
    private let size: @Sendable (Value) -> Int
    private struct State {
        /// By block (``place(_:)``): the values of its 64 keys, nil where none is kept.
        var blocks: [Int64: [Value?]] = [:]
        var count = 0
        var bytes = 0
    }
    private let state = Mutex(State())
    private static var blockSize: Int { 64 }

    /// The block a key is kept in, and its slot there.
    private static func place(_ key: Int64) -> (block: Int64, slot: Int) { (key >> 6, Int(key & 63)) }

    init(budget: Int, size: @escaping @Sendable (Value) -> Int) {
        self.budget = budget
        self.size = size
    }

    var count: Int { state.withLock { $0.count } }

    subscript(key: Int64) -> Value? {
        let (block, slot) = Self.place(key)
        return state.withLock { $0.blocks[block]?[slot] ?? nil }
    }

    /// The values from `first` on at consecutive keys, at most `limit` of them, each with its key
    /// made into a `T`.
    func run<T>(from first: Int64, limit: Int, _ make: (Int64, Value) -> T) -> [T] {
        state.withLock { s in
            var out = [T]()
            var key = first
            while out.count < limit {
                let (index, start) = Self.place(key)
                guard let block = s.blocks[index] else { break }
                if out.isEmpty { out.reserveCapacity(min(limit, 1024)) }
                var slot = start
                while slot < Self.blockSize, out.count < limit, let value = block[slot] {
                    out.append(make(key, value))
                    key += 1
                    slot += 1
                }
                if slot < Self.blockSize { break }
            }
            return out
        }
    }

    func keep(_ pairs: some Sequence<(key: Int64, value: Value)>) {
        guard budget > 0 else { return }
        state.withLock { s in
            for (key, value) in pairs {
                let (block, slot) = Self.place(key)
                let added = s.blocks[block]?[slot] == nil
                s.blocks[block, default: Array(repeating: nil, count: Self.blockSize)][slot] = value
                if added {
                    s.count += 1
                    s.bytes += size(value)
                }
            }
            guard s.bytes > budget else { return }
            // The older half goes, whole blocks at a time.
            let half = s.count / 2
            for block in s.blocks.keys.sorted() where s.count > half {
                for value in s.blocks.removeValue(forKey: block)! {
                    guard let value else { continue }
                    s.count -= 1
                    s.bytes -= size(value)
                }
            }
        }
    }
}
