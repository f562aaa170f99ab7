/// Generates time-ordered UUIDv7 identifiers (RFC 9562) as lowercase text.
///
/// Time-ordered keys keep B-tree inserts at the right edge of the index, which matters
/// when a registry imports a million records. Within one millisecond a counter in the
/// random bits keeps ids strictly increasing in this process.
public enum EntityID {
    private static let state = Mutex(State())

    private struct State {
        var lastMillis: UInt64 = 0
        var counter: UInt16 = 0
        /// Seeded once from the system: a getrandom(2) call per id would dominate bulk
        /// imports. The seed makes every process's sequence its own.
        var generator: SplitMix64 = {
            var system = SystemRandomNumberGenerator()
            return SplitMix64(seed: system.next())
        }()

        mutating func random() -> UInt64 { generator.next() }
    }

    public static func make(now: UInt64 = Clock.nowMillis()) -> String {
        String(unsafeUninitializedCapacity: 36) { out in
            write(now: now, to: out.baseAddress!)
            return 36
        }
    }

    /// Appends a new id's 36 bytes of text to `out` (the change log hashes and binds them
    /// from one buffer, without a String in between).
    public static func make(appendingTo out: inout [UInt8], now: UInt64 = Clock.nowMillis()) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 36))
        out.withUnsafeMutableBufferPointer { write(now: now, to: $0.baseAddress! + start) }
    }

    /// Writes a new id's 36 bytes of text at `out`.
    private static func write(now: UInt64, to out: UnsafeMutablePointer<UInt8>) {
        let (millis, counter, random, more) = state.withLock { s -> (UInt64, UInt16, UInt64, UInt64) in
            let random = s.random()
            let rest = s.random()
            if now > s.lastMillis {
                s.lastMillis = now
                s.counter = UInt16(truncatingIfNeeded: random >> 52) & 0x07FF
            } else if s.counter < 0x0FFF {
                s.counter += 1
            } else {
                s.lastMillis += 1
                s.counter = 0
            }
            return (s.lastMillis, s.counter, random, rest)
        }
        var position = 0
        func put(_ byte: UInt8) {
            if position == 8 || position == 13 || position == 18 || position == 23 {
                out[position] = UInt8(ascii: "-")
                position += 1
            }
            out[position] = Hex.digit(byte >> 4)
            out[position + 1] = Hex.digit(byte & 0x0F)
            position += 2
        }
        for i in 0..<6 { put(UInt8(truncatingIfNeeded: millis >> (40 - 8 * UInt64(i)))) }
        put(0x70 | UInt8(counter >> 8))
        put(UInt8(truncatingIfNeeded: counter))
        put(0x80 | UInt8(truncatingIfNeeded: random >> 8) & 0x3F)
        put(UInt8(truncatingIfNeeded: random))
        var rest = more
        for _ in 10..<16 {
            put(UInt8(truncatingIfNeeded: rest))
            rest >>= 8
        }
    }

    /// 16 bytes as canonical lower-case UUID text.
    public static func format(_ b: [UInt8]) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, byte) in b.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// True when `text` is a UUID in canonical lowercase or uppercase form.
    public static func isValid(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard u.count == 36 else { return false }
        for (i, c) in u.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                if c != UInt8(ascii: "-") { return false }
            } else if !(c >= 48 && c <= 57) && !(c >= 97 && c <= 102) && !(c >= 65 && c <= 70) {
                return false
            }
        }
        return true
    }
}
