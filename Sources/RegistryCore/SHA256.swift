import Crypto

/// SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104), for the audit chain and linkage keys.
///
/// The block function is BoringSSL's, through swift-crypto (SHA extensions or AVX2 where the CPU
/// has them): hashing the audit chain was a sixth of the cost of logging a case with a Swift loop.
/// BoringSSL is compiled into the binary (the hub's PostgreSQL client needs swift-crypto anyway),
/// so no command loads the system's libcrypto: mapping and relocating it was about a millisecond
/// of every `emreg` process's start-up. Tests check the NIST and RFC 4231 vectors.
public struct SHA256: Sendable {
    /// A value: copying it copies the hash state (HMACKey relies on that).
    private var state = Crypto.SHA256()

    public init() {}

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        if let done: Void = bytes.withContiguousStorageIfAvailable({ update(UnsafeRawBufferPointer($0)) }) {
            return done
        }
        update(Array(bytes))
    }

    public mutating func update(_ raw: UnsafeRawBufferPointer) {
        guard raw.count > 0 else { return }
        state.update(bufferPointer: raw)
    }

    public mutating func update(_ text: String) {
        var t = text
        t.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    public mutating func finalize() -> [UInt8] {
        state.finalize().withUnsafeBytes { [UInt8]($0) }
    }

    /// The digest of a contiguous byte array (the fast path: no per-part overhead).
    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        var s = SHA256()
        bytes.withUnsafeBytes { s.update($0) }
        return s.finalize()
    }

    public static func hash<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var s = SHA256()
        s.update(bytes)
        return s.finalize()
    }

    public static func hex(_ text: String) -> String { Hex.encode(hash(text.utf8)) }

    public static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        HMACKey(key).authenticate(message)
    }
}

/// An HMAC-SHA256 key with its padded blocks hashed once, for many messages under one key.
public struct HMACKey: Sendable {
    private let inner: SHA256
    private let outer: SHA256

    public init(_ key: [UInt8]) {
        var k = key.count > 64 ? SHA256.hash(key) : key
        k += [UInt8](repeating: 0, count: 64 - k.count)
        var i = SHA256()
        i.update(k.map { $0 ^ 0x36 })
        var o = SHA256()
        o.update(k.map { $0 ^ 0x5c })
        inner = i
        outer = o
    }

    public func authenticate(_ message: [UInt8]) -> [UInt8] {
        var i = inner
        i.update(message)
        var o = outer
        o.update(i.finalize())
        return o.finalize()
    }
}

/// Lower-case hexadecimal text for byte strings.
public enum Hex {
    public static func encode(_ bytes: [UInt8]) -> String {
        String(unsafeUninitializedCapacity: bytes.count * 2) { out in
            for (i, b) in bytes.enumerated() {
                out[2 &* i] = digit(b >> 4)
                out[2 &* i &+ 1] = digit(b & 0x0F)
            }
            return bytes.count * 2
        }
    }

    /// Appends the hex text of `bytes` to `out`.
    public static func append(_ bytes: [UInt8], to out: inout [UInt8]) {
        // Room first, then the digits in place: appending each one checked capacity and uniqueness.
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: bytes.count * 2))
        out.withUnsafeMutableBufferPointer { o in
            for (i, b) in bytes.enumerated() {
                o[start &+ 2 &* i] = digit(b >> 4)
                o[start &+ 2 &* i &+ 1] = digit(b & 0x0F)
            }
        }
    }

    @inline(__always) static func digit(_ nibble: UInt8) -> UInt8 { nibble < 10 ? 48 &+ nibble : 87 &+ nibble }

    /// The value of one hex digit (either case), or nil.
    @inlinable public static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: c - 48
        case 97...102: c - 87
        case 65...70: c - 55
        default: nil
        }
    }

    public static func decode(_ text: String) -> [UInt8]? {
        let u = Array(text.utf8)
        guard u.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = nibble(u[i]), let lo = nibble(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}
