// Canonical JSON tokens read byte by byte, as the canonical writers spell them: no space, strings
// whose bytes are their own spelling (no byte below 0x20, no `"` or `\`), integers without a
// leading zero, a plus sign, a fraction or `-0`. For bytes that are copied as they are once found
// canonical, rather than decoded and written again: a clinic's stored change fields, a pushed
// insert at the hub. Literals are taken with ``JSONCursor/takeLiteral(_:)``; ranges are of `bytes`.
extension JSONCursor {
    /// A string spelled as its bytes; the range inside its quotes. `ascii`: of ASCII only.
    @inlinable package mutating func canonicalString(ascii: Bool = false) -> Range<Int>? {
        guard i < bytes.count, bytes[i] == Self.quote else { return nil }
        let start = i + 1
        var k = skipPlain(from: start)
        while k < bytes.count {
            let b = bytes[k]
            if b == Self.quote {
                i = k + 1
                return start..<k
            }
            if b < 0x20 || b == Self.backslash || (ascii && b > 0x7F) { return nil }
            k += 1
        }
        return nil
    }

    /// `null`, an integer (``canonicalInteger()``) or a string (``canonicalString(ascii:)``); the
    /// token's range, quotes included.
    @inlinable package mutating func canonicalValue(ascii: Bool = false) -> Range<Int>? {
        guard i < bytes.count else { return nil }
        let start = i
        switch bytes[i] {
        case Self.quote: return canonicalString(ascii: ascii).map { _ in start..<i }
        case UInt8(ascii: "n"): return takeLiteral("null") ? start..<i : nil
        default: return canonicalInteger()
        }
    }

    /// An Int64 as `DecimalText` writes one: ``integer()``'s reading, with no space before it and
    /// no `-0`.
    @inlinable package mutating func canonicalInteger() -> Range<Int>? {
        let start = i
        guard i < bytes.count, bytes[i] == UInt8(ascii: "-") || (bytes[i] >= 48 && bytes[i] <= 57),
            let n = integer(), n != 0 || bytes[start] != UInt8(ascii: "-")
        else {
            i = start
            return nil
        }
        return start..<i
    }
}
