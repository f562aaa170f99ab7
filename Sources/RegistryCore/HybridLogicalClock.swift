/// A hybrid logical clock (Kulkarni et al.): wall-clock milliseconds plus a counter, so the
/// audit trail stays ordered even when a machine's clock steps back.
///
/// Text form `MMMMMMMMMMMMMMM-CCCCC` sorts as the clock does.
public struct HybridLogicalClock: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var millis: UInt64
    public var counter: UInt32

    public init(millis: UInt64, counter: UInt32 = 0) {
        self.millis = millis
        self.counter = counter
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts[0].count == 15, parts[1].count == 5,
            let m = UInt64(parts[0]), let c = UInt32(parts[1])
        else { return nil }
        self.init(millis: m, counter: c)
    }

    public var description: String {
        let m = String(millis)
        let c = String(counter)
        return String(repeating: "0", count: max(0, 15 - m.count)) + m + "-"
            + String(repeating: "0", count: max(0, 5 - c.count)) + c
    }

    /// The next reading for a local event.
    public func tick(now: UInt64 = Clock.nowMillis()) -> HybridLogicalClock {
        now > millis ? HybridLogicalClock(millis: now) : HybridLogicalClock(millis: millis, counter: counter + 1)
    }

    /// The next reading after receiving `remote`.
    public func receive(_ remote: HybridLogicalClock, now: UInt64 = Clock.nowMillis()) -> HybridLogicalClock {
        let m = max(millis, remote.millis, now)
        if m == millis && m == remote.millis { return HybridLogicalClock(millis: m, counter: max(counter, remote.counter) + 1) }
        if m == millis { return HybridLogicalClock(millis: m, counter: counter + 1) }
        if m == remote.millis { return HybridLogicalClock(millis: m, counter: remote.counter + 1) }
        return HybridLogicalClock(millis: m)
    }

    public static func < (a: HybridLogicalClock, b: HybridLogicalClock) -> Bool {
        (a.millis, a.counter) < (b.millis, b.counter)
    }
}
