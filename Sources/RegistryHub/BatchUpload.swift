import Hummingbird
import RegistryCore
import RegistrySync

/// Reading a pushed batch: size limits, gzip, JSON, the protocol's types; each failure a 4xx.
struct BatchUpload {
    /// The inflated body, its SHA-256 (hex) and the decoded batch.
    var bytes: [UInt8]
    var sha256: String
    var batch: SyncBatch
    /// Where each change is in `bytes`, when the fast decoder read them.
    var spans: [Range<Int>]?

    /// The body for ``PreparedBatch``, when the fast decoder read it.
    var body: BatchBody? { spans.map { BatchBody(bytes: bytes, spans: $0) } }

    static func read(_ request: Request, context: HubRequestContext, configuration: HubConfiguration) async throws
        -> BatchUpload
    {
        let limit = configuration.maxBodyBytes
        let declared = request.headers[.contentLength].flatMap(Int.init)
        if let declared, declared > limit {
            throw HubError.tooLarge("the body is \(declared) bytes; this hub accepts at most \(limit)")
        }
        var raw = [UInt8]()
        raw.reserveCapacity(max(0, declared ?? 0))
        for try await buffer in request.body {
            guard raw.count + buffer.readableBytes <= limit else {
                throw HubError.tooLarge("the body is larger than \(limit) bytes, the most this hub accepts")
            }
            raw.append(contentsOf: buffer.readableBytesView)
        }
        context.notes.bytesIn = raw.count

        let bytes: [UInt8]
        switch request.headers[.contentEncoding]?.lowercased() {
        case nil, "identity": bytes = raw
        case "gzip", "x-gzip":
            do { bytes = try Gzip.decompress(raw, limit: configuration.maxInflatedBytes) } catch {
                if case .tooLarge = error { throw HubError.tooLarge("the \(error)") }
                throw HubError.badRequest("Content-Encoding is gzip, but the \(error)")
            }
        case let other?:
            throw HubError.unsupportedEncoding("Content-Encoding \(other) is not accepted; send gzip or identity")
        }

        let fast = SyncBatch.decodeFastWithSpans(bytes)
        let batch = try fast?.batch ?? decode(bytes)
        context.notes.changes = batch.changes.count
        var sha = SHA256()
        bytes.withUnsafeBytes { sha.update($0) }
        return BatchUpload(bytes: bytes, sha256: Hex.encode(sha.finalize()), batch: batch, spans: fast?.spans)
    }

    /// The generic decoder: slower, and the one that says what is wrong and where.
    static func decode(_ bytes: [UInt8]) throws(HubError) -> SyncBatch {
        let json: JSON
        do { json = try JSON.parse(bytes: bytes, maxDepth: 16) } catch {
            throw HubError.badRequest(clipped("malformed JSON: \(error)"))
        }
        do { return try SyncBatch(json: json) } catch { throw HubError.badRequest(clipped("invalid batch: \(error)")) }
    }

    /// A message cut to a sane length: a path can hold a key of any length (a megabyte-long
    /// field name), and the answer must not echo it back.
    static func clipped(_ message: String, max: Int = 300) -> String {
        message.count <= max ? message : message.prefix(max) + "…"
    }
}
