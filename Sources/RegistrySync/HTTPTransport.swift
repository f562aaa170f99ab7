import CCurl
import Logging


/// The client side of sync: HTTP(S) requests to the hub over one libcurl easy handle.
///
/// - One handle, reused for every request, so libcurl keeps the connection to the hub alive
///   (one TCP connection and one TLS handshake per sync run, not per batch).
/// - `http://` and `https://` only; redirects are never followed (a 3xx comes back as a
///   response) and no protocol is allowed after one.
/// - TLS peer and host-name verification are always on; there is no switch to turn them off.
///   `caFile` names an extra CA bundle (PEM) for a hub with a private CA; with Debian's
///   libcurl the system CA directory stays trusted as well.
/// - Request bodies are gzip JSON; responses may come gzip-compressed (the only encoding asked
///   for) and arrive decoded, by libdeflate rather than libcurl's zlib: three times as fast
///   on the hub's feed pages, which a pulling clinic reads by the hundred.
/// - The bearer token goes into the `Authorization` header and nowhere else: not in errors,
///   logs or the `onSend` hook.
///
/// Threading: an `HTTPTransport` is not `Sendable`. Use it from one thread or task at a
/// time (one per sync run); `post` and `get` block the calling thread until the response
/// has arrived or a timeout fired. Several transports may run in parallel threads.
public final class HTTPTransport {
    /// Limits that stop a request hanging forever on a dead network or a stalled hub.
    public struct Timeouts: Sendable, Hashable {
        /// Time to establish TCP (and TLS) with the hub.
        public var connect: Duration
        /// The whole request, connect to last byte of the response.
        public var total: Duration
        /// Abort when fewer than `lowSpeedLimit` bytes per second move for `lowSpeedTime`
        /// (libcurl counts whole seconds; shorter times count as one second).
        public var lowSpeedLimit: Int
        public var lowSpeedTime: Duration

        public init(
            connect: Duration = .seconds(10), total: Duration = .seconds(300), lowSpeedLimit: Int = 1024,
            lowSpeedTime: Duration = .seconds(30)
        ) {
            self.connect = connect
            self.total = total
            self.lowSpeedLimit = lowSpeedLimit
            self.lowSpeedTime = lowSpeedTime
        }

        public static let `default` = Timeouts()
    }

    /// An HTTP response of any status.
    public struct Response: Sendable, Hashable, Retryable, CustomStringConvertible {
        public var status: Int
        /// Response headers of the final response, names lowercased; repeated headers are
        /// joined with ", ".
        public var headers: [String: String]
        /// The body after content decoding.
        public var body: [UInt8]
        /// Bytes this request put on the wire above TLS: request line, headers and the
        /// (compressed) body.
        public var bytesSent: Int64
        /// Bytes received on the wire above TLS: status line, headers and the body as
        /// transferred (before content decoding).
        public var bytesReceived: Int64
        /// New connections opened for this request: 0 when a kept-alive one was reused.
        public var newConnections: Int

        public init(
            status: Int, headers: [String: String] = [:], body: [UInt8] = [], bytesSent: Int64 = 0,
            bytesReceived: Int64 = 0, newConnections: Int = 0
        ) {
            self.status = status
            self.headers = headers
            self.body = body
            self.bytesSent = bytesSent
            self.bytesReceived = bytesReceived
            self.newConnections = newConnections
        }

        /// 2xx.
        public var isSuccess: Bool { (200..<300).contains(status) }

        /// 5xx and 429 may succeed later; other statuses will not change by asking again.
        public var isRetryable: Bool { status == 429 || (500..<600).contains(status) }

        /// The hub's `Retry-After` on a 429 or 503, as a delay from now.
        public var retryAfter: Duration? {
            guard status == 429 || status == 503, let value = headers["retry-after"] else { return nil }
            return RetryAfter.parse(value)
        }

        /// The body as UTF-8 text (for error messages from the hub).
        public var text: String { String(decoding: body, as: UTF8.self) }

        /// "HTTP 503": the status only, never the body (it may hold clinical values).
        public var description: String { "HTTP \(status)" }
    }

    /// What the transport is about to send, for tests that must see exactly what leaves the
    /// clinic. The token is shown as `Bearer <redacted>`.
    public struct OutgoingRequest: Sendable, Hashable {
        public var method: String
        /// Path and query as sent.
        public var path: String
        /// Header lines this transport adds (libcurl adds Host and Content-Length).
        public var headers: [String]
        /// The body before compression (JSON).
        public var body: [UInt8]
        /// The body exactly as it goes on the wire (gzip when compressed).
        public var wireBody: [UInt8]
    }

    /// Called with every request just before it is sent (tests capture what the client sends).
    public var onSend: ((OutgoingRequest) -> Void)?

    /// The hub's base URL without a trailing slash, e.g. `https://hub.example.org`.
    public let baseURL: String
    public let timeouts: Timeouts
    /// The largest response body accepted (after decoding); larger ones fail with
    /// `.responseTooLarge` instead of filling memory.
    public let maxResponseBytes: Int

    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>
    private let sink: ResponseSink
    private let token: String?
    private let logger: Logger
    /// Prebuilt header lists (libcurl keeps pointers to them until they are replaced).
    private let getHeaders: UnsafeMutablePointer<curl_slist>?
    private let postGzipHeaders: UnsafeMutablePointer<curl_slist>?
    private let postPlainHeaders: UnsafeMutablePointer<curl_slist>?
    private let getHeaderLines: [String]
    private let postGzipHeaderLines: [String]
    private let postPlainHeaderLines: [String]

    /// - Parameters:
    ///   - baseURL: `http://host[:port][/prefix]` or `https://...`; anything else is refused.
    ///   - token: the clinic's bearer token, or nil for unauthenticated routes (`/health`).
    ///   - caFile: a PEM CA bundle to trust for the hub's certificate.
    ///   - maxResponseBytes: the largest decoded response body accepted (default 256 MiB).
    public init(
        baseURL: String, token: String?, caFile: String? = nil, timeouts: Timeouts = .default,
        maxResponseBytes: Int = 256 << 20, logger: Logger = Logger(label: "emreg.sync.transport")
    ) throws(TransportError) {
        self.baseURL = try Self.validatedBase(baseURL)
        if let token, !Self.isSendable(token: token) {
            throw .invalidRequest("the token contains spaces, control characters or characters outside ASCII")
        }
        if let caFile, caFile.utf8.contains(0) { throw .invalidRequest("the CA file name contains a NUL byte") }
        self.token = token.flatMap { $0.isEmpty ? nil : $0 }
        self.timeouts = timeouts
        self.maxResponseBytes = maxResponseBytes
        self.logger = logger

        // libcurl is loaded (and its global state set up) on the first transport, not at start-up.
        if let failure = emreg_curl_load() {
            throw .internalFailure(CurlFailure(code: Int(CURLE_FAILED_INIT.rawValue), message: String(cString: failure)))
        }
        guard let handle = emreg_curl_easy_init() else {
            throw .internalFailure(CurlFailure(code: Int(CURLE_FAILED_INIT.rawValue), message: "curl_easy_init failed"))
        }
        self.handle = handle
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        sink = ResponseSink(limit: maxResponseBytes)

        // No 100-continue round trip before each body; gzip answers, decoded here (``decoded(_:)``).
        var common = ["Expect:", "Accept-Encoding: gzip"]
        if let token = self.token { common.append("Authorization: Bearer \(token)") }
        let json = "Accept: application/json"
        getHeaderLines = common + [json]
        postPlainHeaderLines = common + [json, "Content-Type: application/json"]
        postGzipHeaderLines = postPlainHeaderLines + ["Content-Encoding: gzip"]
        getHeaders = Self.slist(getHeaderLines)
        postPlainHeaders = Self.slist(postPlainHeaderLines)
        postGzipHeaders = Self.slist(postGzipHeaderLines)

        // Every stored property is set: if this throws, deinit releases the handle and lists.
        try configure(caFile: caFile)
    }

    deinit {
        emreg_curl_easy_cleanup(handle)
        emreg_curl_slist_free_all(getHeaders)
        emreg_curl_slist_free_all(postPlainHeaders)
        emreg_curl_slist_free_all(postGzipHeaders)
        errorBuffer.deallocate()
    }

    // MARK: Requests

    /// POSTs a JSON body, gzip-compressed unless `gzip` is false (`compressed`: that gzip, made
    /// before), with `headers` (`Name: value` lines) besides the usual ones. Any HTTP status is a
    /// response; only a failure to get one throws.
    public func post(
        path: String, json body: [UInt8], gzip: Bool = true, compressed: [UInt8]? = nil, headers: [String] = []
    ) throws(TransportError) -> Response {
        let url = try url(for: path)
        if headers.contains(where: { $0.utf8.contains(where: { $0 < 0x20 }) }) {
            throw .invalidRequest("a request header holds a control character")
        }
        let wire = gzip ? compressed ?? Gzip.compress(body) : body
        let lines = (gzip ? postGzipHeaderLines : postPlainHeaderLines) + headers
        if let onSend {
            onSend(OutgoingRequest(method: "POST", path: path, headers: redacted(lines), body: body, wireBody: wire))
        }
        try set(CURLOPT_URL, url)
        // A request's own headers go in a list of their own, freed once it is answered.
        let own = headers.isEmpty ? nil : Self.slist(lines)
        defer {
            if let own {
                _ = emreg_curl_setopt_pointer(handle, CURLOPT_HTTPHEADER, nil)
                emreg_curl_slist_free_all(own)
            }
        }
        try set(CURLOPT_HTTPHEADER, pointer: UnsafeMutableRawPointer(own ?? (gzip ? postGzipHeaders : postPlainHeaders)))
        try set(CURLOPT_POST, 1)
        try set(CURLOPT_POSTFIELDSIZE_LARGE, offset: curl_off_t(wire.count))
        // libcurl reads the body straight from our buffer (no copy), so it must stay alive
        // and pinned for the whole transfer: perform inside the buffer's scope.
        let result: Result<Response, TransportError> = wire.withUnsafeBufferPointer { buffer in
            let emptyBody: StaticString = ""
            let start =
                buffer.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
                ?? UnsafeMutableRawPointer(mutating: emptyBody.utf8Start)
            let code = emreg_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, start)
            guard code == CURLE_OK else { return .failure(.internalFailure(failure(code, path: path))) }
            defer { _ = emreg_curl_setopt_pointer(handle, CURLOPT_POSTFIELDS, nil) }
            return Result { () throws(TransportError) -> Response in try perform(method: "POST", path: path) }
        }
        return try result.get()
    }

    /// GETs `path` (which may carry a query, e.g. `/v1/changes?since=0&limit=500`).
    public func get(path: String) throws(TransportError) -> Response {
        let url = try url(for: path)
        if let onSend {
            onSend(
                OutgoingRequest(method: "GET", path: path, headers: redacted(getHeaderLines), body: [], wireBody: []))
        }
        try set(CURLOPT_URL, url)
        try set(CURLOPT_HTTPHEADER, pointer: UnsafeMutableRawPointer(getHeaders))
        try set(CURLOPT_HTTPGET, 1)
        return try perform(method: "GET", path: path)
    }

    // MARK: Internals

    private func perform(method: String, path: String) throws(TransportError) -> Response {
        errorBuffer[0] = 0
        sink.reset()
        let code = emreg_curl_easy_perform(handle)
        if code != CURLE_OK {
            if code == CURLE_WRITE_ERROR && sink.overflow { throw .responseTooLarge(limit: maxResponseBytes) }
            let error = TransportError.classify(failure(code, path: path))
            logger.debug("\(method) \(Self.pathOnly(path)) failed: \(error)")
            throw error
        }
        var status = 0
        var headerSize = 0
        var requestSize = 0
        var connects = 0
        var uploaded: curl_off_t = 0
        var downloaded: curl_off_t = 0
        _ = emreg_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        _ = emreg_curl_getinfo_long(handle, CURLINFO_HEADER_SIZE, &headerSize)
        _ = emreg_curl_getinfo_long(handle, CURLINFO_REQUEST_SIZE, &requestSize)
        _ = emreg_curl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        _ = emreg_curl_getinfo_offset(handle, CURLINFO_SIZE_UPLOAD_T, &uploaded)
        _ = emreg_curl_getinfo_offset(handle, CURLINFO_SIZE_DOWNLOAD_T, &downloaded)
        let response = Response(
            status: status, headers: sink.headers, body: try decoded(sink.takeBody()),
            bytesSent: Self.bytesSent(requestSize: Int64(requestSize), uploaded: Int64(uploaded)),
            bytesReceived: Int64(headerSize) + Int64(downloaded),
            newConnections: connects)
        let sizes = "sent \(response.bytesSent) B, received \(response.bytesReceived) B"
        logger.debug("\(method) \(Self.pathOnly(path)) -> \(status), \(sizes)")
        return response
    }

    /// `body` as sent, decoded when the response says it is gzip. Refused, as libcurl refuses
    /// a body it cannot decode (CURLE_BAD_CONTENT_ENCODING), when it is not readable gzip or
    /// comes in an encoding not asked for; ``TransportError/responseTooLarge(limit:)`` past
    /// ``maxResponseBytes`` decoded.
    private func decoded(_ body: [UInt8]) throws(TransportError) -> [UInt8] {
        guard let encoding = sink.headers["content-encoding"]?.lowercased(), encoding != "identity", !body.isEmpty else {
            return body
        }
        func refused(_ why: String) -> TransportError {
            .badResponse(
                CurlFailure(
                    code: Int(CURLE_BAD_CONTENT_ENCODING.rawValue),
                    message: String(cString: emreg_curl_easy_strerror(CURLE_BAD_CONTENT_ENCODING)), detail: why))
        }
        guard encoding == "gzip" || encoding == "x-gzip" else { throw refused("the response is in an encoding not asked for") }
        do {
            return try Gzip.decompress(body, limit: maxResponseBytes)
        } catch {
            if case .tooLarge = error { throw .responseTooLarge(limit: maxResponseBytes) }
            throw refused("the gzip response body is unreadable: \(error)")
        }
    }

    private func configure(caFile: String?) throws(TransportError) {
        try set(CURLOPT_NOSIGNAL, 1)
        try set(CURLOPT_ERRORBUFFER, pointer: UnsafeMutableRawPointer(errorBuffer))
        try set(CURLOPT_PROTOCOLS_STR, "http,https")
        let code = emreg_curl_allow_no_redirect_protocols(handle)
        guard code == CURLE_OK else { throw .internalFailure(failure(code, path: "")) }
        try set(CURLOPT_FOLLOWLOCATION, 0)
        try set(CURLOPT_SSL_VERIFYPEER, 1)
        try set(CURLOPT_SSL_VERIFYHOST, 2)
        if let caFile { try set(CURLOPT_CAINFO, caFile) }
        try set(CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(timeouts.connect))
        try set(CURLOPT_TIMEOUT_MS, Self.milliseconds(timeouts.total))
        if timeouts.lowSpeedLimit > 0 {
            try set(CURLOPT_LOW_SPEED_LIMIT, timeouts.lowSpeedLimit)
            try set(CURLOPT_LOW_SPEED_TIME, max(1, (Self.milliseconds(timeouts.lowSpeedTime) + 999) / 1000))
        }
        try set(CURLOPT_TCP_KEEPALIVE, 1)
        try set(CURLOPT_TCP_KEEPIDLE, 60)
        try set(CURLOPT_TCP_KEEPINTVL, 30)
        try set(CURLOPT_TCP_NODELAY, 1)
        // Loopback never goes through a proxy; other hosts follow the usual proxy variables.
        try set(CURLOPT_NOPROXY, "localhost,127.0.0.1,::1")
        try set(CURLOPT_USERAGENT, "emreg-sync/1")
        // Bigger buffers: fewer syscalls for megabyte batches and feed pages.
        try set(CURLOPT_UPLOAD_BUFFERSIZE, 512 * 1024)
        try set(CURLOPT_BUFFERSIZE, 256 * 1024)

        let context = Unmanaged.passUnretained(sink).toOpaque()
        try set(CURLOPT_WRITEDATA, pointer: context)
        try set(CURLOPT_HEADERDATA, pointer: context)
        var code2 = emreg_curl_setopt_callback(handle, CURLOPT_WRITEFUNCTION) { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            return sink.appendBody(UnsafeRawBufferPointer(start: data, count: size * count)) ? size * count : 0
        }
        guard code2 == CURLE_OK else { throw .internalFailure(failure(code2, path: "")) }
        code2 = emreg_curl_setopt_callback(handle, CURLOPT_HEADERFUNCTION) { data, size, count, context in
            let sink = Unmanaged<ResponseSink>.fromOpaque(context!).takeUnretainedValue()
            sink.headerLine(UnsafeRawBufferPointer(start: data, count: size * count))
            return size * count
        }
        guard code2 == CURLE_OK else { throw .internalFailure(failure(code2, path: "")) }
    }

    private func set(_ option: CURLoption, _ value: Int) throws(TransportError) {
        let code = emreg_curl_setopt_long(handle, option, value)
        guard code == CURLE_OK else { throw .internalFailure(failure(code, path: "")) }
    }

    private func set(_ option: CURLoption, offset value: curl_off_t) throws(TransportError) {
        let code = emreg_curl_setopt_offset(handle, option, value)
        guard code == CURLE_OK else { throw .internalFailure(failure(code, path: "")) }
    }

    /// libcurl copies string options, so the C string need only live for the call.
    private func set(_ option: CURLoption, _ value: String) throws(TransportError) {
        let code = emreg_curl_setopt_string(handle, option, value)
        guard code == CURLE_OK else { throw .internalFailure(failure(code, path: "")) }
    }

    private func set(_ option: CURLoption, pointer value: UnsafeMutableRawPointer?) throws(TransportError) {
        let code = emreg_curl_setopt_pointer(handle, option, value)
        guard code == CURLE_OK else { throw .internalFailure(failure(code, path: "")) }
    }

    /// The failure for `code`, its error-buffer detail scrubbed of the path, query and token.
    private func failure(_ code: CURLcode, path: String) -> CurlFailure {
        let message = String(cString: emreg_curl_easy_strerror(code))
        var detail = String(cString: errorBuffer)
        for secret in [token, path.isEmpty ? nil : path, Self.queryOf(path)] {
            if let secret, !secret.isEmpty, detail.contains(secret) {
                detail = detail.replacing(secret, with: "<redacted>")
            }
        }
        return CurlFailure(code: Int(code.rawValue), message: message, detail: detail)
    }

    private func url(for path: String) throws(TransportError) -> String {
        guard path.hasPrefix("/") else { throw .invalidRequest("a request path must start with /") }
        guard !path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f || $0 == UInt8(ascii: "#") }) else {
            throw .invalidRequest("a request path must not contain spaces, control characters or #")
        }
        return baseURL + path
    }

    private func redacted(_ lines: [String]) -> [String] {
        lines.map { $0.hasPrefix("Authorization:") ? "Authorization: Bearer <redacted>" : $0 }
    }

    private static func slist(_ lines: [String]) -> UnsafeMutablePointer<curl_slist>? {
        var list: UnsafeMutablePointer<curl_slist>?
        for line in lines {
            guard let grown = emreg_curl_slist_append(list, line) else { fatalError("curl_slist_append: out of memory") }
            list = grown
        }
        return list
    }

    /// A token this transport sends as `Authorization: Bearer TOKEN`: visible ASCII characters
    /// only (`emreg hub clinic add` prints hex), or none at all.
    public static func isSendable(token: String) -> Bool { token.utf8.allSatisfy { (0x21...0x7e).contains($0) } }

    /// Checks the scheme (http/https only), the host and port, refuses user info, fragments,
    /// queries and whitespace, and drops a trailing slash.
    public static func validatedBase(_ raw: String) throws(TransportError) -> String {
        let lower = raw.lowercased()
        let scheme: String
        if lower.hasPrefix("https://") {
            scheme = "https://"
        } else if lower.hasPrefix("http://") {
            scheme = "http://"
        } else {
            let given = raw.split(separator: ":", maxSplits: 1).first.map(String.init) ?? ""
            let named = given.count < 20 && given.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" })
            throw .invalidRequest(
                "the hub URL must start with http:// or https://"
                    + (named && raw.contains("://") ? " (got \(given.lowercased())://)" : ""))
        }
        var rest = Substring(raw.dropFirst(scheme.count))
        guard !rest.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7f }) else {
            throw .invalidRequest("the hub URL must not contain spaces or control characters")
        }
        guard !rest.contains("?"), !rest.contains("#") else {
            throw .invalidRequest("the hub URL must not have a query or fragment")
        }
        let authority = rest.prefix(while: { $0 != "/" })
        guard !authority.isEmpty else { throw .invalidRequest("the hub URL has no host") }
        guard !authority.contains("@") else {
            throw .invalidRequest("the hub URL must not carry a user name or password; use the token")
        }
        // HOST[:PORT], the host possibly a bracketed IPv6 address.
        var host = authority
        var port: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                throw .invalidRequest("the hub URL's IPv6 address has no closing ]")
            }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidRequest("the hub URL has text after its IPv6 address") }
                port = after.dropFirst()
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        }
        guard !host.isEmpty, host != "[]" else { throw .invalidRequest("the hub URL has no host") }
        if let port, !(port.allSatisfy(\.isASCII) && Int(port).map { (1...65535).contains($0) } == true) {
            throw .invalidRequest("the hub URL's port must be a number from 1 to 65535")
        }
        while rest.hasSuffix("/") { rest = rest.dropLast() }
        return scheme + rest
    }

    static func milliseconds(_ d: Duration) -> Int {
        let (seconds, attoseconds) = d.components
        let ms = seconds.multipliedReportingOverflow(by: 1000)
        if ms.overflow || seconds < 0 { return seconds < 0 ? 0 : Int.max }
        return Int(ms.partialValue) + Int(attoseconds / 1_000_000_000_000_000)
    }

    /// libcurl's CURLINFO_REQUEST_SIZE counts the body too when a small body (below 64 KiB
    /// in 7.88) went out in the same buffer as the headers, and only the headers otherwise;
    /// CURLINFO_SIZE_UPLOAD_T always counts the body. Headers are far smaller than 64 KiB,
    /// so a request size at least as large as the upload means the body is already in it.
    static func bytesSent(requestSize: Int64, uploaded: Int64) -> Int64 {
        requestSize >= uploaded ? requestSize : requestSize + uploaded
    }

    static func pathOnly(_ path: String) -> Substring { path.prefix(while: { $0 != "?" }) }

    static func queryOf(_ path: String) -> String? {
        guard let q = path.firstIndex(of: "?") else { return nil }
        return String(path[path.index(after: q)...])
    }
}

/// Collects one response: body bytes up to a limit, and header lines.
private final class ResponseSink {
    let limit: Int
    private(set) var body: [UInt8] = []
    private(set) var headers: [String: String] = [:]
    private(set) var overflow = false

    init(limit: Int) { self.limit = limit }

    func reset() {
        body = []
        headers = [:]
        overflow = false
    }

    func takeBody() -> [UInt8] {
        defer { body = [] }
        return body
    }

    /// False (abort the transfer) past the limit.
    func appendBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= limit - body.count else {
            overflow = true
            return false
        }
        body.append(contentsOf: bytes)
        return true
    }

    func headerLine(_ bytes: UnsafeRawBufferPointer) {
        // Work on bytes: "\r\n" is one Character in Swift, so trimming by Character misses it.
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0d || b == 0x0a }
        var end = bytes.count
        while end > 0 && isSpace(bytes[end - 1]) { end -= 1 }
        let line = UnsafeRawBufferPointer(rebasing: bytes[..<end])
        if line.starts(with: "HTTP/".utf8) {
            // A new status line (after a 1xx, or a new response): forget earlier headers.
            headers = [:]
            return
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return }
        var valueStart = colon + 1
        while valueStart < end && isSpace(line[valueStart]) { valueStart += 1 }
        let name = String(decoding: line[..<colon], as: UTF8.self).lowercased()
        let value = String(decoding: line[valueStart...], as: UTF8.self)
        if let existing = headers[name] {
            headers[name] = existing + ", " + value
        } else {
            headers[name] = value
        }
    }
}
