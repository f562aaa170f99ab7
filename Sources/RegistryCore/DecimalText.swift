/// Decimal digits appended to a byte buffer without the String a `String(n)` allocates:
/// the change log writes several numbers for every record.
public enum DecimalText {
    /// Appends `n`, left-padded with zeros to at least `width` digits.
    public static func append(_ n: UInt64, width: Int = 1, to out: inout [UInt8]) {
        // Most numbers written are the lengths that frame the change log's hash message: short.
        if n < 1000 && width <= 1 {
            if n >= 100 { out.append(48 &+ UInt8(truncatingIfNeeded: n / 100)) }
            if n >= 10 { out.append(48 &+ UInt8(truncatingIfNeeded: n / 10 % 10)) }
            out.append(48 &+ UInt8(truncatingIfNeeded: n % 10))
            return
        }
        var digits: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)  // 40 bytes: 20 digits fit
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            var v = n
            repeat {
                buffer[19 - count] = 48 &+ UInt8(truncatingIfNeeded: v % 10)
                v /= 10
                count += 1
            } while v > 0
            while count < min(width, 20) {
                buffer[19 - count] = 48
                count += 1
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)..<20]))
        }
    }

    public static func append(_ n: Int64, to out: inout [UInt8]) {
        if n < 0 { out.append(UInt8(ascii: "-")) }
        append(n.magnitude, to: &out)
    }

    public static func append(_ n: Int, to out: inout [UInt8]) { append(Int64(n), to: &out) }
}
