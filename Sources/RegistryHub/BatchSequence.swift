import Synchronization

/// The batches this hub is applying or has lately answered, so that a batch sent before the
/// batch it follows was answered can wait for it.
///
/// A clinic may send its next batch while the hub still applies the one before (two requests
/// in flight), naming that one in `Emreg-After-Batch`: the next is read, decoded and readied
/// beside the writer, then waits here until the one before has ended. Its changes may build on
/// that batch's (a case on a patient it inserted), so it is applied only after that batch was.
final class BatchSequence: Sendable {
    private struct State {
        /// Batches being pushed, with the pushes of each (a retry can race its first attempt)
        /// and the requests waiting for them to end.
        var running: [String: (pushes: Int, waiting: [CheckedContinuation<Void, Never>])] = [:]
        /// Batches lately ended, by whether one of their pushes applied them (or found them
        /// applied): the newest, and the generation before (forgotten when the newest is full).
        var ended: [String: Bool] = [:]
        var endedBefore: [String: Bool] = [:]

        func endedApplied(_ id: String) -> Bool? { ended[id] ?? endedBefore[id] }
    }

    private let state = Mutex(State())
    /// How many ended batches a generation remembers: a clinic's next batch comes within moments.
    static let remembered = 4096

    /// A push of `id` starts (call ``end(_:applied:)`` once it is answered).
    func begin(_ id: String) {
        state.withLock { s in s.running[id, default: (0, [])].pushes += 1 }
    }

    func end(_ id: String, applied: Bool) {
        let waiting = state.withLock { s -> [CheckedContinuation<Void, Never>] in
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
            return r.waiting
        }
        for c in waiting { c.resume() }
    }

    /// Whether `id` was applied, once no push of it is running here: nil when this hub has
    /// not seen it lately (not yet arrived, long answered, or pushed to another hub process).
    func settled(_ id: String) async -> Bool? {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let waits = state.withLock { s -> Bool in
                guard s.running[id] != nil else { return false }
                s.running[id]!.waiting.append(c)
                return true
            }
            if !waits { c.resume() }
        }
        return state.withLock { $0.endedApplied(id) }
    }
}
