import CDeflate
import CZlib

/// gzip (RFC 1952): the client compresses request bodies, the hub inflates them and compresses
/// its answers. Whole bodies go through libdeflate, which compresses about twice as fast as zlib
/// at level 1 and inflates three times as fast (`scripts/bench-sync`'s bodies: 212 against 123
/// MB/s, 894 against 330 MB/s); zlib makes the pieces of feed pages (``Pieces``), and names
/// what is wrong with a body libdeflate cannot inflate.
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

    /// Compresses `bytes` into one gzip member. `level` is 0 (store) ... 9 (smallest), as zlib's.
    public static func compress(_ bytes: [UInt8], level: Int32 = defaultLevel) -> [UInt8] {
        // Only an allocation can fail.
        guard let compressor = libdeflate_alloc_compressor(min(max(level, 0), 9)) else {
            fatalError("libdeflate_alloc_compressor failed")
        }
        defer { libdeflate_free_compressor(compressor) }
        return bytes.withUnsafeBufferPointer { input in
            let start = UnsafeRawPointer(input.baseAddress) ?? UnsafeRawPointer(compressor)
            let bound = libdeflate_gzip_compress_bound(compressor, input.count)
            // Not zero-filled first: libdeflate writes every byte that is kept.
            return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
                initialized = libdeflate_gzip_compress(compressor, start, input.count, out.baseAddress, bound)
                precondition(initialized > 0, "libdeflate's bound was too small")
            }
        }
    }

    /// Feeds all of `input` to `stream` and returns what it produced: up to the end of the
    /// stream when `final`, else up to a sync flush (byte-aligned: another piece may follow).
    private static func deflateAll(_ stream: inout z_stream, _ input: UnsafeBufferPointer<UInt8>, final: Bool) -> [UInt8] {
        // deflateBound (which counts a gzip header and trailer) is enough for a single pass;
        // the slack covers a sync flush's empty block.
        let bound = Int(deflateBound(&stream, uLong(input.count))) + 64
        // Not zero-filled first: zlib writes every byte that is kept.
        return [UInt8](unsafeUninitializedCapacity: bound) { out, initialized in
            var produced = 0
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
                let status = deflate(&stream, last ? (final ? Z_FINISH : Z_SYNC_FLUSH) : Z_NO_FLUSH)
                consumed += inChunk - Int(stream.avail_in)
                produced += outChunk - Int(stream.avail_out)
                if status == Z_STREAM_END { break }
                // A sync flush is complete when it left room in the output.
                if !final && last && status == Z_OK && stream.avail_out > 0 { break }
                precondition(status == Z_OK || status == Z_BUF_ERROR, "zlib deflate failed: \(status)")
                precondition(produced < out.count || stream.avail_out > 0, "deflateBound was too small")
            }
            initialized = produced
        }
    }

    /// One gzip member assembled from pieces compressed apart, so that a piece compressed once
    /// can go into many bodies (the hub's feed pages: every clinic pulls the same entries). Each
    /// piece is raw deflate ending in a sync flush; the last one ends the stream. The trailer's
    /// CRC-32 is combined from the pieces' own.
    public struct Pieces: Sendable {
        /// A compressed piece and what the trailer needs of its uncompressed text.
        public struct Piece: Sendable {
            public var deflated: [UInt8]
            public var crc: UInt32
            public var length: Int
        }

        public private(set) var bytes: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]  // no name, no time; Unix
        private var crc: UInt32 = 0
        private var length = 0

        public init() {}

        /// `text` compressed as a piece that others follow (`final` false) or the last one.
        public static func piece(_ text: UnsafeBufferPointer<UInt8>, level: Int32 = defaultLevel, final: Bool) -> Piece {
            var stream = z_stream()
            guard emreg_deflate_init_raw(&stream, min(max(level, 0), 9)) == Z_OK else {
                fatalError("zlib deflateInit2 failed")
            }
            defer { deflateEnd(&stream) }
            let deflated = deflateAll(&stream, text, final: final)
            return Piece(deflated: deflated, crc: UInt32(crc32(0, text.baseAddress, uInt(text.count))), length: text.count)
        }

        public mutating func append(_ piece: Piece) {
            bytes.append(contentsOf: piece.deflated)
            crc = UInt32(crc32_combine(uLong(crc), uLong(piece.crc), off_t(piece.length)))
            length += piece.length
        }

        /// The member, after its last piece (one made with `final`).
        public mutating func finish() -> [UInt8] {
            for value in [crc, UInt32(truncatingIfNeeded: length)] {
                withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
            }
            return bytes
        }
    }

    /// Inflates a gzip body of one or more members, refusing to produce more than `limit` bytes.
    public static func decompress(_ bytes: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
        guard bytes.count >= 2, bytes[0] == 0x1f, bytes[1] == 0x8b else { throw GzipError.notGzip }
        switch bytes.withUnsafeBufferPointer({ inflateWhole($0, limit: limit) }) {
        case .inflated(let output): return output
        case .tooLarge: throw .tooLarge(limit: limit)
        case .unreadable: return try inflateStreaming(bytes, limit: limit)
        }
    }

    enum Inflated {
        case inflated([UInt8])
        case tooLarge
        /// Not gzip members end to end: zlib says why (``inflateStreaming(_:limit:)``).
        case unreadable
    }

    /// The body inflated whole with libdeflate, member after member, into a buffer sized by the
    /// last member's trailer (its length, exact for the usual single member), grown while it is
    /// too small and still under `limit`.
    static func inflateWhole(_ input: UnsafeBufferPointer<UInt8>, limit: Int) -> Inflated {
        guard let decompressor = libdeflate_alloc_decompressor() else { fatalError("libdeflate_alloc_decompressor failed") }
        defer { libdeflate_free_decompressor(decompressor) }
        let n = input.count
        let stated = n >= 18 ? Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24 : 0
        var capacity = min(limit, max(stated, 4096))
        while true {
            var outcome = Inflated.unreadable
            let output = [UInt8](unsafeUninitializedCapacity: capacity) { out, initialized in
                var (consumed, produced) = (0, 0)
                while consumed < n {
                    guard n - consumed >= 2, input[consumed] == 0x1f, input[consumed + 1] == 0x8b else { return }
                    var (used, made) = (0, 0)
                    let result = libdeflate_gzip_decompress_ex(
                        decompressor, input.baseAddress! + consumed, n - consumed, out.baseAddress! + produced,
                        capacity - produced, &used, &made)
                    guard result == LIBDEFLATE_SUCCESS else {
                        if result == LIBDEFLATE_INSUFFICIENT_SPACE { outcome = .tooLarge }
                        return
                    }
                    consumed += used
                    produced += made
                }
                initialized = produced
                outcome = .inflated([])
            }
            switch outcome {
            case .inflated: return .inflated(output)
            case .unreadable: return .unreadable
            case .tooLarge:
                if capacity >= limit { return .tooLarge }
                capacity = min(limit, capacity * 2)
            }
        }
    }

    /// Inflates with zlib, streaming: slower than ``inflateWhole(_:limit:)``, and able to say
    /// what is wrong with a body (truncated, corrupt, bytes after the last member).
    static func inflateStreaming(_ bytes: [UInt8], limit: Int) throws(GzipError) -> [UInt8] {
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
