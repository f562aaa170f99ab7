/// Canonical JSON tokens read byte by byte, as the canonical writers spell them: no space, strings
/// whose bytes are their own spelling (no byte below 0x20, no `"` or `\`), integers without a
/// leading zero, a plus sign, a fraction or `-0`. For bytes that are copied as they are once
/// found canonical, rather than decoded and written again: a clinic's stored change fields, a
/// pushed insert at the hub. Ranges are of `bytes`.
package struct CanonicalScanner {
    package let bytes: UnsafeBufferPointer<UInt8>
    package var i = 0

    @inlinable package init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Takes `literal` if the bytes at the cursor are exactly it.
    @inlinable package mutating func take(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        for k in 0..<n where bytes[i + k] != literal.utf8Start[k] { return false }
        i += n
        return true
    }

    /// A string spelled as its bytes; the range inside its quotes. `ascii`: of ASCII only.
    @inlinable package mutating func string(ascii: Bool = false) -> Range<Int>? {
        guard i < bytes.count, bytes[i] == 0x22 else { return nil }
        let start = i + 1
        var k = start
        while k < bytes.count {
            let b = bytes[k]
            if b == 0x22 {
                i = k + 1
                return start..<k
            }
            if b < 0x20 || b == 0x5C || (ascii && b > 0x7F) { return nil }
            k += 1
        }
        return nil
    }

    /// `null`, an integer (``integer()``) or a string (``string(ascii:)``); the token's range,
    /// quotes included.
    @inlinable package mutating func value(ascii: Bool = false) -> Range<Int>? {
        guard i < bytes.count else { return nil }
        let start = i
        switch bytes[i] {
        case 0x22: return string(ascii: ascii).map { _ in start..<i }
        case UInt8(ascii: "n"): return take("null") ? start..<i : nil
        default: return integer()
        }
    }

    /// An Int64 as `DecimalText` writes one.
    @inlinable package mutating func integer() -> Range<Int>? {
        let start = i
        var k = i
        var negative = false
        if k < bytes.count && bytes[k] == UInt8(ascii: "-") {
            negative = true
            k += 1
        }
        let digits = k
        var magnitude: UInt64 = 0
        while k < bytes.count, bytes[k] >= 48, bytes[k] <= 57 {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: 10)
            let (n, o2) = m.addingReportingOverflow(UInt64(bytes[k] - 48))
            if o1 || o2 { return nil }
            magnitude = n
            k += 1
        }
        let count = k - digits
        guard count > 0, !(count > 1 && bytes[digits] == 48) else { return nil }
        if negative {
            guard magnitude != 0, magnitude <= UInt64(Int64.max) + 1 else { return nil }
        } else {
            guard magnitude <= UInt64(Int64.max) else { return nil }
        }
        i = k
        return start..<k
    }
}
