/// A cursor over JSON bytes for the documents read in bulk: pushed batches and stored record
/// state at the hub, feed pages and receipts at the client, change log entries in an audit.
/// Every method gives nil (or false) on anything ``JSON``'s parser would refuse, or that the
/// caller does not expect: the caller then falls back to the generic path. Shared by the
/// registry, the hub and the client (`package`), inlinable so that none of them pays a call per
/// byte across the module boundary.
package struct JSONCursor {
    package let bytes: UnsafeBufferPointer<UInt8>
    package var i = 0
    /// Why the last ``string()`` gave nil (``JSON``'s parser names it in its error).
    package var stringProblem: StaticString = ""

    @inlinable package init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// `decode` run by a cursor over `bytes`: the fast decoders' entry point.
    @inlinable package static func decode<T>(_ bytes: [UInt8], _ decode: (inout JSONCursor) -> T?) -> T? {
        bytes.withUnsafeBufferPointer { buffer in
            var reader = JSONCursor(bytes: buffer)
            return decode(&reader)
        }
    }

    @inlinable package static var quote: UInt8 { 0x22 }
    @inlinable package static var backslash: UInt8 { 0x5C }
    @inlinable package static var colon: UInt8 { 0x3A }
    @inlinable package static var comma: UInt8 { 0x2C }
    @inlinable package static var openBrace: UInt8 { 0x7B }
    @inlinable package static var closeBrace: UInt8 { 0x7D }
    @inlinable package static var openBracket: UInt8 { 0x5B }
    @inlinable package static var closeBracket: UInt8 { 0x5D }

    @inlinable package mutating func skipSpace() {
        while i < bytes.count {
            let b = bytes[i]
            guard b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 else { return }
            i += 1
        }
    }

    @inlinable package mutating func take(_ byte: UInt8) -> Bool {
        skipSpace()
        guard i < bytes.count, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    /// Walks the members of an object, calling `member` with each key; the reader stands on
    /// the value when it is called.
    @inlinable package mutating func object(_ member: (inout JSONCursor, String) -> Bool) -> Bool {
        guard take(Self.openBrace) else { return false }
        if take(Self.closeBrace) { return true }
        while true {
            skipSpace()
            guard let key = string(), take(Self.colon), member(&self, key) else { return false }
            if take(Self.comma) { continue }
            return take(Self.closeBrace)
        }
    }

    /// ``object(_:)`` for objects whose keys are plain ASCII (no escapes, as every emreg writer
    /// spells them): each key is handed over as its bytes, with no `String` made. A key with an
    /// escape or a byte outside printable ASCII gives false: the caller falls back to the
    /// generic path, which reads any key.
    @inlinable package mutating func objectWithPlainKeys(_ member: (inout JSONCursor, UnsafeBufferPointer<UInt8>) -> Bool)
        -> Bool
    {
        guard take(Self.openBrace) else { return false }
        if take(Self.closeBrace) { return true }
        while true {
            skipSpace()
            guard i < bytes.count, bytes[i] == Self.quote else { return false }
            let start = i + 1
            var k = start
            while k < bytes.count, bytes[k] != Self.quote {
                guard bytes[k] >= 0x20, bytes[k] < 0x7F, bytes[k] != Self.backslash else { return false }
                k += 1
            }
            guard k < bytes.count else { return false }
            i = k + 1
            guard take(Self.colon), member(&self, UnsafeBufferPointer(rebasing: bytes[start..<k])) else { return false }
            if take(Self.comma) { continue }
            return take(Self.closeBrace)
        }
    }

    /// True when `key` is the bytes of `name`.
    @inlinable package static func key(_ key: UnsafeBufferPointer<UInt8>, is name: StaticString) -> Bool {
        guard key.count == name.utf8CodeUnitCount else { return false }
        guard let base = key.baseAddress else { return true }
        return same(base, name.utf8Start, count: key.count)
    }

    /// Takes `literal` if the bytes at the cursor are exactly it (no space skipped).
    @inlinable package mutating func takeLiteral(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        guard i + n <= bytes.count else { return false }
        guard n == 0 || Self.same(bytes.baseAddress! + i, literal.utf8Start, count: n) else { return false }
        i += n
        return true
    }

    /// True when the `count` bytes at `a` and at `b` are the same, compared eight (or four) at a
    /// time: the literals and keys compared are mostly 4 to 20 bytes long.
    @inlinable package static func same(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count n: Int) -> Bool {
        let a = UnsafeRawPointer(a)
        let b = UnsafeRawPointer(b)
        if n >= 8 {
            var k = 0
            while k + 8 < n {
                guard a.loadUnaligned(fromByteOffset: k, as: UInt64.self) == b.loadUnaligned(fromByteOffset: k, as: UInt64.self)
                else { return false }
                k += 8
            }
            // The last eight, overlapping what was compared.
            return a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
                == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        if n >= 4 {
            return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
                && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
                    == b.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        for k in 0..<n where a.load(fromByteOffset: k, as: UInt8.self) != b.load(fromByteOffset: k, as: UInt8.self) {
            return false
        }
        return true
    }

    /// The first index from `k` whose eight-byte block holds a byte that is not plain ASCII
    /// inside a string (a quote, a backslash, a control byte or one of 0x80 and up), or
    /// from which fewer than eight bytes are left: the bytes before it need no look one by one.
    @inlinable package func skipPlain(from k: Int) -> Int {
        guard let base = bytes.baseAddress else { return k }
        let raw = UnsafeRawPointer(base)
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        var k = k
        while k + 8 <= bytes.count {
            let x = raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)
            let quote = x ^ (ones &* UInt64(Self.quote))
            let backslash = x ^ (ones &* UInt64(Self.backslash))
            // A zero byte in `quote` or `backslash`, a byte below 0x20, or a high bit: each test
            // is exact as a whole (a borrow starts only at a byte that meets it).
            let special =
                ((quote &- ones) & ~quote) | ((backslash &- ones) & ~backslash) | ((x &- ones &* 0x20) & ~x) | x
            guard special & high == 0 else { return k }
            k += 8
        }
        return k
    }

    /// A field value: text (at most the wire's limit), an integer or null.
    @inlinable package mutating func value() -> FieldValue? {
        skipSpace()
        guard i < bytes.count else { return nil }
        switch bytes[i] {
        case Self.quote: return string(max: 8192).map { .text($0) }
        case UInt8(ascii: "n"): return literalNull() ? .null : nil
        default: return integer().map { .int($0) }
        }
    }

    /// True when only whitespace is left.
    @inlinable package mutating func atEnd() -> Bool {
        skipSpace()
        return i == bytes.count
    }

    @inlinable package mutating func literalNull() -> Bool {
        guard i + 4 <= bytes.count, bytes[i] == UInt8(ascii: "n"), bytes[i + 1] == UInt8(ascii: "u"),
            bytes[i + 2] == UInt8(ascii: "l"), bytes[i + 3] == UInt8(ascii: "l")
        else { return false }
        i += 4
        return true
    }

    /// `.some(nil)` for null, `.some(text)` for a string, nil when it is neither (or too long).
    @inlinable package mutating func optionalString(max: Int) -> String?? {
        skipSpace()
        if literalNull() { return .some(nil) }
        guard let s = string(max: max) else { return nil }
        return .some(s)
    }

    @inlinable package mutating func string(max: Int) -> String? {
        guard let s = string(), s.utf8.count <= max else { return nil }
        return s
    }

    /// ``string(max:)``, giving `previous` itself (no new `String`) when the text is the same,
    /// spelled without escapes: for a value that repeats from one object to the next, as a
    /// transaction id does across the changes of a batch or feed page.
    @inlinable package mutating func string(max: Int, sameAs previous: String?) -> String? {
        if var previous {
            skipSpace()
            let same = previous.withUTF8 { u -> Bool in
                let n = u.count
                guard i + n + 2 <= bytes.count, bytes[i] == Self.quote, bytes[i + n + 1] == Self.quote else { return false }
                for k in 0..<n {
                    let b = u[k]
                    guard b == bytes[i + 1 + k], b >= 0x20, b != Self.quote, b != Self.backslash else { return false }
                }
                return true
            }
            if same {
                i += previous.utf8.count + 2
                return previous
            }
        }
        return string(max: max)
    }

    /// A JSON string, its escapes decoded. Anything ``JSON``'s parser would refuse gives nil:
    /// this is the parser's own reading of strings, and ``stringProblem`` says what was wrong.
    @inlinable package mutating func string() -> String? {
        skipSpace()
        guard i < bytes.count, bytes[i] == Self.quote else { return problem("expected a string") }
        i += 1
        let start = i
        var ascii = true
        i = skipPlain(from: i)
        while i < bytes.count {
            let b = bytes[i]
            if b == Self.quote {
                let slice = UnsafeBufferPointer(rebasing: bytes[start..<i])
                i += 1
                // ASCII is valid UTF-8: only other text needs the validating initialiser.
                if ascii { return String(decoding: slice, as: UTF8.self) }
                return String(validating: slice, as: UTF8.self) ?? problem("invalid UTF-8")
            }
            if b == Self.backslash { return escapedString(from: start) }
            if b < 0x20 { return problem("control character in string") }
            if b >= 0x80 { ascii = false }
            i += 1
        }
        return problem("unterminated string")
    }

    @inlinable package mutating func problem(_ reason: StaticString) -> String? {
        stringProblem = reason
        return nil
    }

    @inlinable package mutating func escapedString(from start: Int) -> String? {
        var out = Array(bytes[start..<i])
        while i < bytes.count {
            let b = bytes[i]
            if b == Self.quote {
                i += 1
                return String(validating: out, as: UTF8.self) ?? problem("invalid UTF-8")
            }
            if b < 0x20 { return problem("control character in string") }
            guard b == Self.backslash else {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < bytes.count else { return problem("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case Self.quote: out.append(34)
            case Self.backslash: out.append(92)
            case UInt8(ascii: "/"): out.append(47)
            case UInt8(ascii: "b"): out.append(8)
            case UInt8(ascii: "f"): out.append(12)
            case UInt8(ascii: "n"): out.append(10)
            case UInt8(ascii: "r"): out.append(13)
            case UInt8(ascii: "t"): out.append(9)
            case UInt8(ascii: "u"):
                guard var scalar = hex4() else { return problem("bad \\u escape") }
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 2 <= bytes.count, bytes[i] == Self.backslash, bytes[i + 1] == UInt8(ascii: "u") else {
                        return problem("lone surrogate")
                    }
                    i += 2
                    guard let low = hex4() else { return problem("bad \\u escape") }
                    guard (0xDC00..<0xE000).contains(low) else { return problem("bad surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let u = Unicode.Scalar(scalar) else { return problem("invalid code point") }
                out.append(contentsOf: String(Character(u)).utf8)
            default: return problem("bad escape")
            }
        }
        return problem("unterminated string")
    }

    @inlinable package mutating func hex4() -> UInt32? {
        guard i + 4 <= bytes.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = Hex.nibble(bytes[i + k]) else { return nil }
            v = v << 4 | UInt32(d)
        }
        i += 4
        return v
    }

    /// An integer as RegistryCore's parser reads one: optional minus, no leading zeros, no
    /// fraction or exponent, within Int64.
    @inlinable package mutating func integer() -> Int64? {
        skipSpace()
        var negative = false
        if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
            negative = true
            i += 1
        }
        let digits = i
        var magnitude: UInt64 = 0
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
            let (m, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (n, overflow2) = m.addingReportingOverflow(UInt64(bytes[i] - 48))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = n
            i += 1
        }
        let count = i - digits
        guard count > 0, !(count > 1 && bytes[digits] == 48) else { return nil }
        if i < bytes.count,
            bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E")
        {
            return nil
        }
        if negative {
            guard magnitude <= UInt64(Int64.max) + 1 else { return nil }
            return magnitude == UInt64(Int64.max) + 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}
