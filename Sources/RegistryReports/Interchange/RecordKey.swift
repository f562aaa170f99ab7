import RegistryCore

/// A record id (a UUID) as 16 bytes: the key the CSV checking pass indexes parents by, so a
/// million of them take tens of megabytes rather than hundreds.
struct RecordKey: Hashable, Sendable, CustomStringConvertible {
    let high: UInt64
    let low: UInt64

    /// Parses a UUID in either case; nil when the text is not one.
    init?(_ text: String) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        for (i, c) in text.utf8.enumerated() {
            if i == 8 || i == 13 || i == 18 || i == 23 {
                guard c == UInt8(ascii: "-") else { return nil }
                continue
            }
            guard let v = Hex.nibble(c) else { return nil }
            if digits < 16 { high = high << 4 | UInt64(v) } else { low = low << 4 | UInt64(v) }
            digits += 1
        }
        guard digits == 32, text.utf8.count == 36 else { return nil }
        self.high = high
        self.low = low
    }

    /// The canonical lower-case spelling.
    var description: String {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            let word = i < 16 ? high : low
            let shift = UInt64(60 - 4 * (i % 16))
            out.append(hex[Int(word >> shift & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
