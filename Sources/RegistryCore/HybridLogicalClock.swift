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
        var t = text
        guard let clock = t.withUTF8(Self.parse) else { return nil }
        self = clock
    }

    /// The clock `text` writes: 15 decimal digits of milliseconds, `-`, 5 of counter (ASCII
    /// digits only; a pulled change carries one, so this is read in one pass, without allocating).
    static func parse(_ text: UnsafeBufferPointer<UInt8>) -> HybridLogicalClock? {
        guard text.count == 21, text[15] == UInt8(ascii: "-") else { return nil }
        var millis: UInt64 = 0
        for i in 0..<15 {
            let digit = text[i] &- UInt8(ascii: "0")
            guard digit <= 9 else { return nil }
            millis = millis * 10 + UInt64(digit)
        }
        var counter: UInt32 = 0
        for i in 16..<21 {
            let digit = text[i] &- UInt8(ascii: "0")
            guard digit <= 9 else { return nil }
            counter = counter * 10 + UInt32(digit)
        }
        return HybridLogicalClock(millis: millis, counter: counter)
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
