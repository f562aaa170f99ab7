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
        let u = Array(text.utf8)
        guard u.count == 21,
            u.indices.allSatisfy({ $0 == 15 ? u[$0] == UInt8(ascii: "-") : u[$0] >= 48 && u[$0] <= 57 })
        else { return nil }
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts[0].count == 15, parts[1].count == 5,
            let m = UInt64(parts[0]), let c = UInt32(parts[1])
        else { return nil }
        self.init(millis: m, counter: c)
    }

    public var description: String {
        var out = [UInt8]()
        out.reserveCapacity(21)
        append(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends the 21 bytes of the text form to `out`.
    public func append(to out: inout [UInt8]) {
        DecimalText.append(millis, width: 15, to: &out)
        out.append(UInt8(ascii: "-"))
        DecimalText.append(UInt64(counter), width: 5, to: &out)
    }

    /// The largest counter the five-digit text form holds; past it the clock moves on one millisecond.
    static let maxCounter: UInt32 = 99_999

    /// The reading just after (`millis`, `counter`); carries into the milliseconds rather than
    /// outgrowing the text form.
    static func after(millis: UInt64, counter: UInt32) -> HybridLogicalClock {
        counter < maxCounter
            ? HybridLogicalClock(millis: millis, counter: counter + 1) : HybridLogicalClock(millis: millis + 1)
    }

    /// The next reading for a local event.
    public func tick(now: UInt64 = Clock.nowMillis()) -> HybridLogicalClock {
        now > millis ? HybridLogicalClock(millis: now) : Self.after(millis: millis, counter: counter)
    }

    /// The next reading after receiving `remote`.
    public func receive(_ remote: HybridLogicalClock, now: UInt64 = Clock.nowMillis()) -> HybridLogicalClock {
        let m = max(millis, remote.millis, now)
        if m == millis && m == remote.millis { return Self.after(millis: m, counter: max(counter, remote.counter)) }
        if m == millis { return Self.after(millis: m, counter: counter) }
        if m == remote.millis { return Self.after(millis: m, counter: remote.counter) }
        return HybridLogicalClock(millis: m)
    }

    public static func < (a: HybridLogicalClock, b: HybridLogicalClock) -> Bool {
        (a.millis, a.counter) < (b.millis, b.counter)
    }
}
