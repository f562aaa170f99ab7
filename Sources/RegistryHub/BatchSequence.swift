import Synchronization

/// The batches this hub is applying or has lately answered, so that a batch sent before the
/// batch it follows was answered can wait for it.
///
/// A clinic may send its next batch while the hub still applies the one before (two requests
/// in flight), naming that one in `Emreg-After-Batch`: the next is read, decoded and readied
/// beside the writer, then waits here until the one before has ended. Its changes may build on
/// that batch's (a case on a patient it inserted), so it is applied only after that batch was.
///
/// Waits are bounded: a batch never waits for itself or for a batch that (through others)
/// waits for it, and never longer than it is told.
final class BatchSequence: Sendable {
    /// What became of a batch waited for.
    enum Standing: Equatable {
        /// Its push ended having applied it (or found it applied).
        case applied
        /// Its push ended without applying it.
        case failed
        /// No push of it is running here, and none ended lately (not yet arrived, long answered,
        /// or pushed to another hub process).
        case unknown
        /// It waits, itself or through others, for the batch that would wait for it.
        case cycle
        /// Still running when the wait was over.
        case running
    }

    private struct Waiter {
        /// Resumed with false when the wait is over (the batch ended, or the time is up).
        var continuation: CheckedContinuation<Bool, Never>
        var timer: Task<Void, Never>?
    }

    private struct State {
        /// Batches being pushed, with the pushes of each (a retry can race its first attempt)
        /// and the requests waiting for them to end, by token.
        var running: [String: (pushes: Int, waiting: [UInt64: Waiter])] = [:]
        var nextToken: UInt64 = 0
        /// The batch each waiting batch waits for.
        var waitsFor: [String: String] = [:]
        /// Batches lately ended, by whether one of their pushes applied them (or found them
        /// applied): the newest, and the generation before (forgotten when the newest is full).
        var ended: [String: Bool] = [:]
        var endedBefore: [String: Bool] = [:]

        func endedApplied(_ id: String) -> Bool? { ended[id] ?? endedBefore[id] }

        func standing(_ id: String) -> Standing {
            if running[id] != nil { return .running }
            return endedApplied(id).map { $0 ? .applied : .failed } ?? .unknown
        }

        /// Whether `id`, or a batch it waits for (and so on), is `waiter`.
        func leadsBack(from id: String, to waiter: String) -> Bool {
            var current = id
            var steps = 0
            while steps <= waitsFor.count {
                if current == waiter { return true }
                guard let next = waitsFor[current] else { return false }
                current = next
                steps += 1
            }
            return true  // a cycle not through `waiter`: no use waiting on it either
        }
    }

    private let state = Mutex(State())
    /// How many ended batches a generation remembers: a clinic's next batch comes within moments.
    static let remembered = 4096

    /// A push of `id` starts (call ``end(_:applied:)`` once it is answered).
    func begin(_ id: String) {
        state.withLock { s in s.running[id, default: (0, [:])].pushes += 1 }
    }

    func end(_ id: String, applied: Bool) {
        let waiting = state.withLock { s -> [Waiter] in
            guard var r = s.running[id] else { return [] }
            let before = s.endedApplied(id) ?? false
            if s.ended.count >= Self.remembered {
                s.endedBefore = s.ended
                s.ended = [:]
            }
            s.ended[id] = before || applied
            r.pushes -= 1
            if r.pushes > 0 {
                s.running[id] = r
                return []
            }
            s.running[id] = nil
            return Array(r.waiting.values)
        }
        for w in waiting {
            w.timer?.cancel()
            w.continuation.resume(returning: false)
        }
    }

    /// What became of `id`, once no push of it is running here or `timeout` is over, for the
    /// batch `waiter`, which waits meanwhile.
    func standing(of id: String, for waiter: String, timeout: Duration) async -> Standing {
        let cycle = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
            let token = state.withLock { s -> UInt64? in
                guard s.running[id] != nil, !s.leadsBack(from: id, to: waiter) else { return nil }
                let token = s.nextToken
                s.nextToken += 1
                s.running[id]!.waiting[token] = Waiter(continuation: c, timer: nil)
                s.waitsFor[waiter] = id
                return token
            }
            guard let token else {
                return c.resume(returning: state.withLock { $0.running[id] != nil })
            }
            let timer = Task { [self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                let expired = state.withLock { s in s.running[id]?.waiting.removeValue(forKey: token) }
                expired?.continuation.resume(returning: false)
            }
            // The timer, unless the wait is over already (then `end` found no timer to cancel).
            let over = state.withLock { s -> Bool in
                guard s.running[id]?.waiting[token] != nil else { return true }
                s.running[id]!.waiting[token]!.timer = timer
                return false
            }
            if over { timer.cancel() }
        }
        return state.withLock { s in
            if s.waitsFor[waiter] == id { s.waitsFor[waiter] = nil }
            return cycle ? .cycle : s.standing(id)
        }
    }
}
