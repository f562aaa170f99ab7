import Hummingbird
import RegistryCore
import RegistrySync

/// JSON answers: canonical text from RegistryCore's writer, so the same value has the same bytes.
enum JSONResponse {
    static func make(bytes: some Collection<UInt8>, status: HTTPResponse.Status = .ok) -> Response {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        return Response(
            status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: buffer))
    }

    static func make(json: JSON, status: HTTPResponse.Status = .ok) -> Response {
        var bytes = [UInt8]()
        json.write(to: &bytes)
        return make(bytes: bytes, status: status)
    }

    /// Bodies smaller than this go uncompressed: gzip would not pay for itself.
    static let compressionThreshold = 1024

    /// A JSON answer, gzip-compressed (level 1: cheap on the hub's CPU, JSON still shrinks
    /// about tenfold) when the client accepts gzip and the body is worth it. The same bytes
    /// compress to the same bytes, so a replayed receipt stays identical either way. `gzip`,
    /// when given, is `bytes` compressed so already (a stored receipt).
    static func make(bytes: [UInt8], for request: Request, gzip: [UInt8]? = nil) -> Response {
        guard compresses(bytes.count, for: request) else {
            var response = make(bytes: bytes)
            response.headers[.vary] = "Accept-Encoding"
            return response
        }
        return make(gzip: gzip ?? compress(bytes))
    }

    /// True when an answer of `size` bytes goes gzip-compressed to the client of `request`.
    static func compresses(_ size: Int, for request: Request) -> Bool {
        size >= compressionThreshold && acceptsGzip(request.headers[.acceptEncoding])
    }

    /// A JSON answer already gzip-compressed, for a client that accepts gzip.
    static func make(gzip: [UInt8]) -> Response {
        var response = make(bytes: gzip)
        response.headers[.contentEncoding] = "gzip"
        response.headers[.vary] = "Accept-Encoding"
        return response
    }

    /// A JSON answer's gzip: level 1, the level stored receipts are compressed with.
    static func compress(_ bytes: [UInt8]) -> [UInt8] { Gzip.compress(bytes, level: 1) }

    /// True when an Accept-Encoding header lists gzip without refusing it (`q=0`).
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.filter { $0 != " " && $0 != "\t" }.lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "x-gzip" else { continue }
            guard let q = parts.dropFirst().first(where: { $0.hasPrefix("q=") }) else { return true }
            return (Double(q.dropFirst(2)) ?? 0) > 0
        }
        return false
    }

    /// `{"error": message}`, the shape of every failure the hub answers.
    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        make(json: .object(["error": .string(message)]), status: status)
    }
}
