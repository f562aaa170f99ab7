import Synchronization

/// Lets a few batches at a time into the database, in arrival order.
///
/// A batch in the database holds a pooled connection, and at the end waits for the counter lock;
/// with many clinics pushing at once the batches would hold every connection, so that feed reads
/// and token lookups queued behind them. A few in the database keep the lock handed over inside
/// PostgreSQL and read side by side; the rest wait here, holding nothing.
final class BatchGate: Sendable {
    private let state: Mutex<(free: Int, waiting: [CheckedContinuation<Void, Never>])>

    init(limit: Int) { state = Mutex((limit, [])) }

    /// Runs `body` once a place is free.
    func pass<T>(_ body: () async throws -> T) async throws -> T {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let enter = state.withLock { s -> Bool in
                if s.free > 0 {
                    s.free -= 1
                    return true
                }
                s.waiting.append(c)
                return false
            }
            if enter { c.resume() }
        }
        defer {
            let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
                if s.waiting.isEmpty {
                    s.free += 1
                    return nil
                }
                return s.waiting.removeFirst()
            }
            next?.resume()
        }
        return try await body()
    }
}
