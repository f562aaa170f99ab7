#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An outcome that may be worth trying again: transport errors and HTTP responses (and any
/// error type of the caller's that wraps them).
public protocol Retryable {
    /// True when the same request may succeed later (network errors, timeouts, 5xx, 429).
    var isRetryable: Bool { get }
    /// A delay the server asked for (`Retry-After`), if any.
    var retryAfter: Duration? { get }
}

extension Retryable {
    public var retryAfter: Duration? { nil }
}

extension TransportError: Retryable {}

/// Capped exponential backoff with full jitter.
///
/// Before retry *n* (n = 1 after the first failed attempt) it waits a uniformly random time
/// in `0 ... min(maxDelay, baseDelay * 2^(n-1))`; when the server sent `Retry-After` (429 or
/// 503) it waits that long instead, at most `maxRetryAfter`. After `maxAttempts` attempts it
/// gives up: the last error is thrown, or the last retryable response is returned.
///
/// The defaults (8 attempts, 0.2 s doubling to a 30 s cap) ride out about 25 s of outage at
/// most and about 13 s on average before giving up.
public struct RetryPolicy: Sendable {
    /// Attempts in all, the first included (1 = never retry).
    public var maxAttempts: Int
    public var baseDelay: Duration
    public var maxDelay: Duration
    /// The longest `Retry-After` honoured; longer requests are cut to this.
    public var maxRetryAfter: Duration
    /// Waits between attempts. Return false to stop retrying (e.g. the service is shutting
    /// down): `run` then gives up with the last outcome at once. Tests inject a recorder.
    public var sleep: @Sendable (Duration) -> Bool
    /// A uniform random number in 0..<1 for the jitter; injectable for tests.
    public var random: @Sendable () -> Double

    public init(
        maxAttempts: Int = 8, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(30),
        maxRetryAfter: Duration = .seconds(300),
        sleep: @escaping @Sendable (Duration) -> Bool = RetryPolicy.threadSleep,
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.maxRetryAfter = maxRetryAfter
        self.sleep = sleep
        self.random = random
    }

    public static let `default` = RetryPolicy()

    /// The upper bound of the jittered wait before retry `retry` (1-based).
    public func ceiling(forRetry retry: Int) -> Duration {
        let base = Self.seconds(baseDelay)
        let cap = Self.seconds(maxDelay)
        let factor = Double(UInt64(1) << UInt64(min(max(retry - 1, 0), 62)))
        return Self.duration(min(cap, base * factor))
    }

    /// The wait before retry `retry` (1-based): `Retry-After` when given, else full jitter.
    public func delay(forRetry retry: Int, retryAfter: Duration? = nil) -> Duration {
        if let retryAfter { return min(max(retryAfter, .zero), maxRetryAfter) }
        let r = min(max(random(), 0), 1)
        return Self.duration(Self.seconds(ceiling(forRetry: retry)) * r)
    }

    /// Runs `attempt` (called with 1, 2, ...) until it returns a non-retryable outcome, throws
    /// a non-retryable error, or `maxAttempts` is reached, sleeping between attempts.
    /// `onRetry` hears about every retry before its wait (for logs and progress).
    public func run<T: Retryable, E: Error & Retryable>(
        onRetry: (RetryEvent) -> Void = { _ in }, _ attempt: (Int) throws(E) -> T
    ) throws(E) -> T {
        var n = 1
        while true {
            let outcome: Result<T, E> = Result { () throws(E) -> T in try attempt(n) }
            let retryable: Bool
            let retryAfter: Duration?
            let reason: String
            switch outcome {
            case .success(let value):
                (retryable, retryAfter, reason) = (value.isRetryable, value.retryAfter, "\(value)")
            case .failure(let error):
                (retryable, retryAfter, reason) = (error.isRetryable, error.retryAfter, "\(error)")
            }
            guard retryable, n < maxAttempts else { return try outcome.get() }
            let wait = delay(forRetry: n, retryAfter: retryAfter)
            onRetry(RetryEvent(failedAttempt: n, maxAttempts: maxAttempts, delay: wait, reason: reason))
            guard sleep(wait) else { return try outcome.get() }
            n += 1
        }
    }

    /// Like `run` for work whose successful result needs no judging (only errors are retried).
    public func run<T, E: Error & Retryable>(
        onRetry: (RetryEvent) -> Void = { _ in }, _ attempt: (Int) throws(E) -> T
    ) throws(E) -> T {
        try run(onRetry: onRetry) { (n: Int) throws(E) -> AlwaysFinal<T> in AlwaysFinal(value: try attempt(n)) }.value
    }

    /// Blocks the thread for `d` (nanosleep, resumed after signals); always true.
    public static let threadSleep: @Sendable (Duration) -> Bool = { d in
        let (seconds, attoseconds) = d.components
        guard seconds > 0 || attoseconds > 0 else { return true }
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
        return true
    }

    static func seconds(_ d: Duration) -> Double {
        let (s, a) = d.components
        return Double(s) + Double(a) / 1e18
    }

    static func duration(_ seconds: Double) -> Duration {
        guard seconds > 0, seconds.isFinite else { return .zero }
        return .nanoseconds(Int64(min(seconds, 1e9) * 1e9))
    }
}

/// One retry about to happen.
public struct RetryEvent: Sendable, Hashable, CustomStringConvertible {
    /// The attempt that just failed (1-based).
    public var failedAttempt: Int
    public var maxAttempts: Int
    /// How long `run` waits before the next attempt.
    public var delay: Duration
    /// What went wrong, e.g. "HTTP 503" or a transport error's description.
    public var reason: String

    public var description: String {
        let ms = HTTPTransport.milliseconds(delay)
        let wait = ms >= 1000 ? "\(ms / 1000).\(ms % 1000 / 100) s" : "\(ms) ms"
        return "attempt \(failedAttempt) of \(maxAttempts) failed (\(reason)); retrying in \(wait)"
    }
}

private struct AlwaysFinal<T>: Retryable {
    var value: T
    var isRetryable: Bool { false }
}

/// Parses an HTTP `Retry-After` value: delay-seconds or an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`). Dates in the past give zero.
public enum RetryAfter {
    public static func parse(_ value: String, now: Int64 = Int64(time(nil))) -> Duration? {
        let v = value.trimmingWhitespace()
        if !v.isEmpty, v.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) {
            guard let seconds = Int64(v) else { return .seconds(Int64(Int32.max)) }  // absurdly large
            return .seconds(seconds)
        }
        guard let date = imfFixdate(v) else { return nil }
        return .seconds(max(0, date - now))
    }

    /// Seconds since 1970 for `Day, DD Mon YYYY HH:MM:SS GMT`.
    static func imfFixdate(_ s: String) -> Int64? {
        let parts = s.split(separator: " ")
        guard parts.count == 6, parts[0].hasSuffix(","), parts[5] == "GMT",
            let day = Int(parts[1]), let year = Int(parts[3]),
            let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
                .firstIndex(of: String(parts[2]))
        else { return nil }
        let hms = parts[4].split(separator: ":")
        guard hms.count == 3, let h = Int(hms[0]), let m = Int(hms[1]), let sec = Int(hms[2]),
            (1...31).contains(day), (0...23).contains(h), (0...59).contains(m), (0...60).contains(sec)
        else { return nil }
        // Days from civil (Howard Hinnant's algorithm).
        let y = month < 2 ? year - 1 : year
        let mp = (month + 10) % 12  // month is 0-based (Jan = 0); mp counts from March = 0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Int64(days) * 86_400 + Int64(h * 3600 + m * 60 + sec)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        String(
            self.drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed()
        )
    }
}
