#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One piece of work on a thread of its own; `wait()` joins the thread and gives its result.
///
/// The sync engine overlaps network and hub time with its own database work: the next batch
/// is frozen while the current one is sent, the next feed page fetched while the current one
/// is applied. The caller hands the work values it does not touch until `wait()` returns
/// (the join orders every write of the thread before the read of the result), which is why
/// this is `@unchecked Sendable`. `wait()` must be called exactly once.
package final class Background<T>: @unchecked Sendable {
    private let box: ResultBox<T>
    private var thread: pthread_t?

    package init(_ work: @escaping () -> T) {
        let box = ResultBox<T>()
        self.box = box
        let job = Job { box.value = work() }
        let context = Unmanaged.passRetained(job).toOpaque()
        var t = pthread_t()
        if pthread_create(&t, nil, runJob, context) == 0 {
            thread = t
        } else {
            // No thread to be had: do the work here, in order.
            Unmanaged<Job>.fromOpaque(context).release()
            box.value = work()
        }
    }

    package func wait() -> T {
        if let t = thread {
            pthread_join(t, nil)
            thread = nil
        }
        return box.value!
    }
}

/// A value handed to another thread to be let go of there: whoever holds the box last, only
/// the thread that sets `value` to nil frees the value. Freeing a page or batch of thousands of
/// changes (several allocations each) is work the thread that used it need not wait for: the sync
/// engine's applying thread (``SyncEngine/pull(_:progress:)``), the hub's writer.
package final class Retired<T>: @unchecked Sendable {
    package var value: T?

    package init(_ value: consuming T? = nil) { self.value = value }

    /// Frees `value` on a background task: pass it with `consume` (or `Optional.take()`), so that
    /// no other reference is left here.
    package static func letGo(_ value: consuming T?) {
        let box = Retired(value)
        Task.detached(priority: .background) { box.value = nil }
    }
}

private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

private final class Job: @unchecked Sendable {
    let run: () -> Void
    init(_ run: @escaping () -> Void) { self.run = run }
}

private func runJob(_ context: UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer? {
    Unmanaged<Job>.fromOpaque(context!).takeRetainedValue().run()
    return nil
}
