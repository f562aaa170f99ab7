import CCurl

/// What libcurl said when a transfer failed: its code, `curl_easy_strerror` for that code,
/// and the detail from its error buffer (e.g. "SSL certificate problem: self-signed
/// certificate"). Neither the URL's path and query nor the bearer token ever appear here:
/// the detail is scrubbed of both before it is stored.
public struct CurlFailure: Sendable, Hashable, CustomStringConvertible {
    /// The `CURLcode` (e.g. 7 couldn't connect, 28 timeout, 60 peer verification).
    public var code: Int
    /// `curl_easy_strerror(code)`.
    public var message: String
    /// libcurl's error buffer for this transfer; may be empty.
    public var detail: String

    public init(code: Int, message: String, detail: String = "") {
        self.code = code
        self.message = message
        self.detail = detail
    }

    public var description: String {
        detail.isEmpty || detail == message ? "\(message) (curl \(code))" : "\(detail) (curl \(code): \(message))"
    }
}

/// Why a request got no HTTP response. An HTTP response of any status is *not* an error:
/// `post`/`get` return it and the caller decides (see `HTTPResponse.isRetryable`).
public enum TransportError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The hub URL or a request path is unusable (wrong scheme, bad characters). Says why,
    /// without echoing a query or a token.
    case invalidRequest(String)
    /// The connection could not be made or broke: refused, unreachable, DNS, reset, empty reply.
    case network(CurlFailure)
    /// Connect, total or low-speed timeout.
    case timeout(CurlFailure)
    /// TLS failed: the handshake (e.g. `https://` to a plain-HTTP server) or, when
    /// `isCertificateProblem`, verifying the hub's certificate or loading the CA file.
    case tls(CurlFailure)
    /// The hub answered with something that is not a readable HTTP response (a garbled
    /// status line, a body that fails its Content-Encoding). Asking again will not help.
    case badResponse(CurlFailure)
    /// The response body (after content decoding) exceeded the transport's limit.
    case responseTooLarge(limit: Int)
    /// libcurl refused a setting or ran out of memory; a bug or a broken installation.
    case internalFailure(CurlFailure)

    /// Network failures and timeouts may heal by themselves; everything else needs a person.
    public var isRetryable: Bool {
        switch self {
        case .network, .timeout: true
        case .invalidRequest, .tls, .badResponse, .responseTooLarge, .internalFailure: false
        }
    }

    /// True for a TLS failure caused by a certificate: untrusted or self-signed peer, host
    /// name mismatch, expired, unreadable CA file.
    public var isCertificateProblem: Bool {
        guard case .tls(let failure) = self else { return false }
        return TransportError.certificateCodes.contains(failure.code)
    }

    /// The curl failure behind this error, if any.
    public var curlFailure: CurlFailure? {
        switch self {
        case .network(let f), .timeout(let f), .tls(let f), .badResponse(let f), .internalFailure(let f): f
        case .invalidRequest, .responseTooLarge: nil
        }
    }

    public var description: String {
        switch self {
        case .invalidRequest(let why): "invalid request: \(why)"
        case .network(let f): "network error: \(f)"
        case .timeout(let f): "timed out: \(f)"
        case .tls(let f):
            isCertificateProblem ? "TLS certificate problem: \(f)" : "TLS handshake failed: \(f)"
        case .badResponse(let f): "unreadable response: \(f)"
        case .responseTooLarge(let limit): "response body larger than \(limit) bytes"
        case .internalFailure(let f): "libcurl failure: \(f)"
        }
    }

    static let certificateCodes: Set<Int> = [
        Int(CURLE_PEER_FAILED_VERIFICATION.rawValue), Int(CURLE_SSL_CACERT_BADFILE.rawValue),
        Int(CURLE_SSL_CERTPROBLEM.rawValue), Int(CURLE_SSL_ISSUER_ERROR.rawValue),
        Int(CURLE_SSL_CRL_BADFILE.rawValue), Int(CURLE_SSL_INVALIDCERTSTATUS.rawValue),
        Int(CURLE_SSL_PINNEDPUBKEYNOTMATCH.rawValue), Int(CURLE_SSL_CLIENTCERT.rawValue),
    ]

    static let tlsCodes: Set<Int> = certificateCodes.union([
        Int(CURLE_SSL_CONNECT_ERROR.rawValue), Int(CURLE_SSL_CIPHER.rawValue),
        Int(CURLE_SSL_ENGINE_NOTFOUND.rawValue), Int(CURLE_SSL_ENGINE_SETFAILED.rawValue),
        Int(CURLE_SSL_ENGINE_INITFAILED.rawValue), Int(CURLE_SSL_SHUTDOWN_FAILED.rawValue),
        Int(CURLE_USE_SSL_FAILED.rawValue),
    ])

    static let internalCodes: Set<Int> = [
        Int(CURLE_FAILED_INIT.rawValue), Int(CURLE_OUT_OF_MEMORY.rawValue),
        Int(CURLE_BAD_FUNCTION_ARGUMENT.rawValue), Int(CURLE_UNKNOWN_OPTION.rawValue),
        Int(CURLE_NOT_BUILT_IN.rawValue), Int(CURLE_ABORTED_BY_CALLBACK.rawValue),
        Int(CURLE_READ_ERROR.rawValue), Int(CURLE_WRITE_ERROR.rawValue),
    ]

    static let badResponseCodes: Set<Int> = [
        Int(CURLE_WEIRD_SERVER_REPLY.rawValue), Int(CURLE_BAD_CONTENT_ENCODING.rawValue),
    ]

    static let invalidCodes: Set<Int> = [
        Int(CURLE_UNSUPPORTED_PROTOCOL.rawValue), Int(CURLE_URL_MALFORMAT.rawValue),
    ]

    /// Sorts a libcurl failure into the cases above.
    static func classify(_ failure: CurlFailure) -> TransportError {
        let code = failure.code
        if code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) { return .timeout(failure) }
        if tlsCodes.contains(code) { return .tls(failure) }
        if invalidCodes.contains(code) { return .invalidRequest(failure.description) }
        if internalCodes.contains(code) { return .internalFailure(failure) }
        if badResponseCodes.contains(code) { return .badResponse(failure) }
        // Couldn't connect/resolve, send/recv errors, empty or partial replies, HTTP/2
        // stream errors, weird server replies: the network or the hub's process.
        return .network(failure)
    }
}
