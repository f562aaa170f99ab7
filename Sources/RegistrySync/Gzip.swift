import CZlib

/// gzip (RFC 1952) with zlib: the client compresses request bodies, the hub inflates them.
///
/// `decompress` is the hub's first line of defence against hostile bodies: it stops at
/// `limit` output bytes (a gzip bomb inflates a few kilobytes into gigabytes), refuses
/// input that is not gzip, is truncated or carries bytes after the last member.
public enum Gzip {
    /// The compression level used for request bodies. Measured on a 1 MB batch of changes
    /// (scripts/bench-transport): level 1 packs it 4.7x at about 90 MB/s, level 6 (zlib's
    /// default) 5.4x at under 40 MB/s. Compression, not the network, bounds a loopback push,
    /// so the fast level wins.
    public static let defaultLevel: Int32 = 1

    /// Compresses `bytes` into one gzip member. `level` is zlib's 0 (store) ... 9 (smallest).
    public static func compress(_ bytes: [UInt8], level: Int32 = defaultLevel) -> [UInt8] {
        var stream = z_stream()
        let level = min(max(level, 0), 9)
        // Only Z_MEM_ERROR (out of memory) or Z_STREAM_ERROR (bad level, clamped above) can fail.
        guard emreg_deflate_init_gzip(&stream, level) == Z_OK else { fatalError("zlib deflateInit2 failed") }
        defer { deflateEnd(&stream) }

        // deflateBound (which counts the gzip header and trailer) is enough for a single
        // Z_FINISH pass; the slack is belt and braces.
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 64
        // Not zero-filled first: zlib writes every byte that is kept.
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            var produced = 0
            bytes.withUnsafeBufferPointer { input in
                var consumed = 0
                while true {
                    // avail_in/avail_out are 32-bit: feed huge inputs in slices.
                    let inChunk = min(input.count - consumed, Int(UInt32.max))
                    stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { $0 + consumed })
                    stream.avail_in = uInt(inChunk)
                    let outChunk = min(out.count - produced, Int(UInt32.max))
                    stream.next_out = out.baseAddress! + produced
                    stream.avail_out = uInt(outChunk)
                    let last = consumed + inChunk == input.count
                    let status = deflate(&stream, last ? Z_FINISH : Z_NO_FLUSH)
                    consumed += inChunk - Int(stream.avail_in)
                    produced += outChunk - Int(stream.avail_out)
                    if status == Z_STREAM_END { break }
                    precondition(status == Z_OK || status == Z_BUF_ERROR, "zlib deflate failed: \(status)")
                    precondition(produced < out.count || stream.avail_out > 0, "deflateBound was too small")
                }
            }
            initialized = produced
        }
    }

    /// Inflates a gzip body of one or more members, refusing to produce more than `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
        guard bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b else { throw GzipError.notGzip }

        var stream = z_stream()
        guard emreg_inflate_init_gzip(&stream) == Z_OK else { fatalError("zlib inflateInit2 failed") }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        // JSON bodies inflate 5 to 8 times: room for that up front saves regrowing copies.
        output.reserveCapacity(min(limit, bytes.count.multipliedReportingOverflow(by: 8).partialValue))
        let scratchSize = 256 * 1024
        let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: scratchSize)
        defer { scratch.deallocate() }

        let problem: GzipError? = bytes.withUnsafeBufferPointer { input -> GzipError? in
            var consumed = 0
            while true {
                // avail_in is 32-bit: feed huge inputs in slices.
                let fed = min(input.count - consumed, Int(UInt32.max))
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress! + consumed)
                stream.avail_in = uInt(fed)
                stream.next_out = scratch
                stream.avail_out = uInt(scratchSize)
                let status = inflate(&stream, Z_NO_FLUSH)
                consumed += fed - Int(stream.avail_in)
                let got = scratchSize - Int(stream.avail_out)
                if got > limit - output.count { return .tooLarge(limit: limit) }
                output.append(contentsOf: UnsafeBufferPointer(start: scratch, count: got))
                switch status {
                case Z_STREAM_END:
                    if consumed == input.count { return nil }
                    if let problem = nextMember(&stream, input: input, consumed: consumed) { return problem }
                case Z_OK, Z_BUF_ERROR:
                    // Input exhausted while the output buffer still had room: the stream wants
                    // more than there is.
                    if consumed == input.count && stream.avail_out > 0 { return .truncated }
                    if status == Z_BUF_ERROR && stream.avail_out > 0 { return .corrupt("inflate made no progress") }
                default:
                    return .corrupt(zlibMessage(stream, status))
                }
            }
        }
        if let problem { throw problem }
        return output
    }

    /// After the end of one member: nothing left (done), another gzip member (reset and go on),
    /// or anything else (refused: bytes after the body are not part of it).
    private static func nextMember(
        _ stream: inout z_stream, input: UnsafeBufferPointer<UInt8>, consumed: Int
    ) -> GzipError? {
        let rest = input.count - consumed
        if rest >= 2 && input[consumed] == 0x1f && input[consumed + 1] == 0x8b {
            return inflateReset(&stream) == Z_OK ? nil : .corrupt("inflateReset failed")
        }
        return .trailingData(bytes: rest)
    }

    private static func zlibMessage(_ stream: z_stream, _ status: Int32) -> String {
        if let msg = stream.msg { return String(cString: msg) }
        return "zlib status \(status)"
    }
}

/// Why a body could not be inflated. The hub answers all of these with 400 (or 413 for
/// `tooLarge`); none of them carries body bytes.
public enum GzipError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The body does not start with the gzip magic bytes.
    case notGzip
    /// The body ends before the gzip stream does.
    case truncated
    /// The deflate data or the gzip header/trailer is damaged (zlib's message).
    case corrupt(String)
    /// Bytes follow the last gzip member.
    case trailingData(bytes: Int)
    /// The body inflates to more than the limit.
    case tooLarge(limit: Int)

    public var description: String {
        switch self {
        case .notGzip: "body is not gzip (missing gzip magic bytes)"
        case .truncated: "gzip body is truncated"
        case .corrupt(let message): "gzip body is corrupt: \(message)"
        case .trailingData(let n): "gzip body has \(n) unexpected bytes after the compressed data"
        case .tooLarge(let limit): "gzip body inflates to more than \(limit) bytes"
        }
    }
}
