import Foundation
@testable import RegistrySync
import Synchronization
import Testing

// The libcurl transport against a real loopback server (Fixtures/echo_server.py, plain HTTP
// and TLS with a test CA), plus Gzip and RetryPolicy. No mocks: real libcurl, real sockets.

// MARK: - Loopback server

/// The Python server shared by every test in this process. It exits when our end of its
/// stdin closes, i.e. when the test process ends.
struct LoopbackServer: Sendable {
    let httpPort: Int
    let httpsPort: Int

    var http: String { "http://127.0.0.1:\(httpPort)" }
    /// Matches the certificate (SAN DNS:localhost).
    var https: String { "https://localhost:\(httpsPort)" }

    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static var caFile: String { fixtures.appendingPathComponent("test-ca.pem").path }

    static let shared: LoopbackServer = start()

    nonisolated(unsafe) private static var keepAlive: [AnyObject] = []

    private static func start() -> LoopbackServer {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", fixtures.appendingPathComponent("echo_server.py").path,
            "--cert", fixtures.appendingPathComponent("test-server.pem").path,
            "--key", fixtures.appendingPathComponent("test-server.key").path,
        ]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        do { try process.run() } catch { fatalError("cannot start echo_server.py: \(error)") }
        keepAlive = [process, stdin, stdout]
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { fatalError("echo_server.py exited before printing its ports") }
            line.append(chunk)
        }
        let words = String(decoding: line, as: UTF8.self).split(whereSeparator: \.isWhitespace)
        guard words.count == 3, words[0] == "PORTS", let http = Int(words[1]), let https = Int(words[2]) else {
            fatalError("unexpected first line from echo_server.py: \(String(decoding: line, as: UTF8.self))")
        }
        return LoopbackServer(httpPort: http, httpsPort: https)
    }
}

/// A port on 127.0.0.1 with nothing listening (bound, then closed).
func closedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(fd >= 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
            bind(fd, p, len) == 0 && getsockname(fd, p, &len) == 0
        }
    }
    precondition(bound)
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A JSON body of about `bytes` bytes that looks like a batch of changes.
func sampleBatch(bytes: Int, seed: UInt64 = 1) -> [UInt8] {
    var rng = seed
    func next() -> UInt64 {
        rng = rng &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return rng >> 33
    }
    var out = Array(#"{"changes":["#.utf8)
    var i = 0
    while out.count < bytes {
        if i > 0 { out.append(UInt8(ascii: ",")) }
        let change = """
            {"changeId":"0190\(String(next(), radix: 16))-\(i)","txId":"tx-\(i / 4)","table":"site","rowId":"\
            \(String(next(), radix: 16))","op":"update","fields":{"sizeMm":{"old":\(next() % 90),"new":\
            \(next() % 90),"rev":\(i)}},"hlc":"\(1_750_000_000_000 + i):0","author":"registrar\(next() % 7)"}
            """
        out.append(contentsOf: change.utf8)
        i += 1
    }
    out.append(contentsOf: "]}".utf8)
    return out
}

extension HTTPTransport.Response {
    func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// A thread-safe list for values recorded inside `@Sendable` closures.
final class Recorder<T: Sendable>: Sendable {
    private let items = Mutex<[T]>([])
    func append(_ item: T) { items.withLock { $0.append(item) } }
    var all: [T] { items.withLock { $0 } }
}

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

func elapsed(_ body: () throws -> Void) rethrows -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    return clock.now - start
}

// MARK: - Transport

@Suite struct TransportTests {
    let server = LoopbackServer.shared
    let fast = HTTPTransport.Timeouts(connect: .seconds(2), total: .seconds(10))

    @Test func postArrivesAsValidGzipWithTheRightHeaders() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "tok-123", timeouts: fast)
        let body = sampleBatch(bytes: 200_000)
        var sent: [HTTPTransport.OutgoingRequest] = []
        transport.onSend = { sent.append($0) }

        let r = try transport.post(path: "/echo", json: body)
        #expect(r.status == 200)
        #expect(r.header("X-Method") == "POST")
        #expect(r.header("X-Req-Content-Encoding") == "gzip")
        #expect(r.header("X-Req-Content-Type") == "application/json")
        #expect(r.header("X-Req-Authorization") == "Bearer tok-123")
        #expect(r.header("X-Req-Expect") == "<absent>", "no 100-continue round trip")
        #expect(r.header("X-Req-Accept-Encoding") != "<absent>", "asks for compressed responses")
        #expect(r.header("X-Gzip-Valid") == "1", "Python's gzip module reads what we sent")
        #expect(r.header("X-Plain-Length") == String(body.count))
        // The echo is the raw request body: exactly the bytes the hook saw as wireBody, and
        // our own decompressor gives the JSON back.
        #expect(sent.count == 1)
        #expect(r.body == sent[0].wireBody)
        #expect(sent[0].body == body)
        #expect(try Gzip.decompress(r.body, limit: 1 << 24) == body)
        #expect(r.body.count < body.count / 3, "JSON compresses")
        // Bytes on the wire, as counted by the server for this fresh connection.
        #expect(r.newConnections == 1)
        #expect(r.header("X-Conn-Bytes-In") == String(r.bytesSent))
        #expect(r.bytesReceived > Int64(r.body.count))

        // Python's inflate of our body equals the original.
        let plain = try transport.post(path: "/echo?plain=1", json: body)
        #expect(plain.body == body)
    }

    /// The server counts the bytes it read from each fresh connection: the transport's
    /// counter must agree on both sides of libcurl's 64 KiB small-body threshold.
    @Test(arguments: [0, 10, 1000, 65_000, 66_000, 70_000, 1_000_000])
    func bytesSentMatchesWhatTheServerRead(size: Int) throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        let r = try transport.post(path: "/echo", json: [UInt8](repeating: 65, count: size), gzip: false)
        #expect(r.newConnections == 1)
        #expect(r.header("X-Conn-Bytes-In") == String(r.bytesSent))
        let before = Int64(r.header("X-Conn-Bytes-In") ?? "") ?? -1
        let g = try transport.get(path: "/echo?since=1")
        #expect(g.header("X-Conn-Bytes-In") == String(before + g.bytesSent))
    }

    @Test func postWithoutGzipSendsPlainJSON() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        let body = Array(#"{"changes":[]}"#.utf8)
        let r = try transport.post(path: "/echo", json: body, gzip: false)
        #expect(r.status == 200)
        #expect(r.body == body)
        #expect(r.header("X-Req-Content-Encoding") == "<absent>")
        #expect(r.header("X-Req-Content-Type") == "application/json")
        // An empty body is fine too (and is not read from stdin).
        let empty = try transport.post(path: "/echo", json: [], gzip: false)
        #expect(empty.status == 200)
        #expect(empty.header("X-Body-Length") == "0")
    }

    @Test func noTokenMeansNoAuthorizationHeader() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: nil, timeouts: fast)
        let r = try transport.get(path: "/echo")
        #expect(r.header("X-Req-Authorization") == "<absent>")
    }

    @Test func requestsReuseOneConnection() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        let body = sampleBatch(bytes: 50_000)
        var connections: Set<String> = []
        var newConnections: [Int] = []
        for i in 1...20 {
            let r = i % 2 == 0 ? try transport.get(path: "/echo?i=\(i)") : try transport.post(path: "/echo", json: body)
            #expect(r.status == 200)
            #expect(r.header("X-Method") == (i % 2 == 0 ? "GET" : "POST"), "a GET after a POST is a GET")
            #expect(r.header("X-Conn-Requests") == String(i), "the server saw request \(i) on one connection")
            connections.insert(r.header("X-Conn-Id") ?? "?")
            newConnections.append(r.newConnections)
        }
        #expect(connections.count == 1, "one TCP connection on the server side")
        #expect(newConnections == [1] + Array(repeating: 0, count: 19))
    }

    @Test func getCarriesThePathAndQuery() throws {
        let transport = try HTTPTransport(baseURL: server.http + "/", token: "t", timeouts: fast)
        let r = try transport.get(path: "/echo?since=42&limit=500")
        #expect(r.status == 200)
        #expect(r.header("X-Method") == "GET")
        #expect(r.header("X-Path") == "/echo?since=42&limit=500")
        #expect(r.header("X-Body-Length") == "0")
        #expect(r.body.isEmpty)
    }

    @Test func baseURLPrefixIsKept() throws {
        // A hub behind a reverse proxy at /registry would see /registry/echo: our server 404s.
        let transport = try HTTPTransport(baseURL: server.http + "/registry", token: "t", timeouts: fast)
        let r = try transport.get(path: "/echo")
        #expect(r.status == 404)
    }

    @Test func gzipResponsesAreDecoded() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        let r = try transport.get(path: "/gzip?size=1000000")
        #expect(r.status == 200)
        #expect(r.body.count == 1_000_000)
        #expect(r.body.allSatisfy { $0 == UInt8(ascii: "a") })
        #expect(r.bytesReceived < 10_000, "counts the compressed bytes on the wire")
    }

    @Test func oversizedResponsesAreRefused() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast, maxResponseBytes: 1 << 20)
        #expect(throws: TransportError.responseTooLarge(limit: 1 << 20)) {
            try transport.get(path: "/gzip?size=8000000")
        }
        // The handle is still usable afterwards.
        #expect(try transport.get(path: "/echo").status == 200)
    }

    @Test func statusErrorsAreResponsesWithRetryability() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        for status in [500, 502, 503, 504, 429] {
            let r = try transport.post(path: "/status/\(status)", json: Array("{}".utf8))
            #expect(r.status == status)
            #expect(r.isRetryable, "\(status) is worth retrying")
            #expect(!r.isSuccess)
        }
        for status in [400, 401, 403, 404, 409, 413, 422] {
            let r = try transport.post(path: "/status/\(status)", json: Array("{}".utf8))
            #expect(r.status == status)
            #expect(!r.isRetryable, "\(status) will not change by asking again")
            #expect(r.text.contains("status \(status)"))
        }
        let ok = try transport.get(path: "/status/200")
        #expect(ok.isSuccess && !ok.isRetryable)

        let limited = try transport.get(path: "/status/429?retry_after=7")
        #expect(limited.retryAfter == .seconds(7))
        let unavailable = try transport.get(path: "/status/503?retry_after=2")
        #expect(unavailable.retryAfter == .seconds(2))
        let failed = try transport.get(path: "/status/500?retry_after=2")
        #expect(failed.retryAfter == nil, "Retry-After counts on 429 and 503 only")
    }

    @Test func aHubThatHangsUpIsARetryableNetworkErrorAndTheNextRequestReconnects() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        #expect(try transport.get(path: "/echo").newConnections == 1)
        do {
            _ = try transport.post(path: "/hangup", json: sampleBatch(bytes: 1000))
            Issue.record("expected a network error")
        } catch {
            guard case .network(let failure) = error else { Issue.record("not a network error: \(error)"); return }
            #expect(failure.code == 52)  // CURLE_GOT_NOTHING
            #expect(error.isRetryable)
        }
        let after = try transport.get(path: "/echo")
        #expect(after.status == 200)
        #expect(after.newConnections == 1)

        // A server that closes after answering: the next request opens a new connection.
        #expect(try transport.get(path: "/close").status == 200)
        let next = try transport.get(path: "/echo")
        #expect(next.status == 200 && next.newConnections == 1 && next.header("X-Conn-Requests") == "1")
    }

    @Test func aGarbledResponseEncodingIsNotRetryable() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        do {
            _ = try transport.get(path: "/badgzip")
            Issue.record("expected a bad-response error")
        } catch {
            guard case .badResponse(let failure) = error else { Issue.record("\(error)"); return }
            #expect(failure.code == 61)  // CURLE_BAD_CONTENT_ENCODING
            #expect(!error.isRetryable)
        }
    }

    @Test func redirectsAreNotFollowed() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        let r = try transport.post(path: "/redirect", json: Array("{}".utf8))
        #expect(r.status == 302)
        #expect(r.header("location") == "/echo")
        #expect(r.header("X-Method") == nil, "the echo route was never reached")
        #expect(!r.isRetryable && !r.isSuccess)
    }

    @Test(arguments: [
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"), ("https://hub.example.org/", "https://hub.example.org"),
        ("HTTPS://[::1]:8443/emreg/", "https://[::1]:8443/emreg"), ("http://[::1]", "http://[::1]"),
        ("http://hub:65535/a", "http://hub:65535/a"),
    ])
    func usableHubURLsAreTaken(_ url: String, _ base: String) throws {
        #expect(try HTTPTransport.validatedBase(url) == base)
    }

    @Test(arguments: [
        "ftp://127.0.0.1/", "file:///etc/passwd", "gopher://127.0.0.1/", "ldap://127.0.0.1/", "127.0.0.1:8080",
        "http//127.0.0.1", "", "https://", "http://user:secret@127.0.0.1/", "http://127.0.0.1/?token=x",
        "http://127.0.0.1 /", "http://127.0.0.1:99999", "http://127.0.0.1:0", "http://127.0.0.1:", "http://:8080",
        "https://[::1", "https://[::1]x", "https://[]:443", "http://127.0.0.1:８０",
    ])
    func onlyHTTPAndHTTPSURLsAreAccepted(url: String) throws {
        #expect(throws: TransportError.self) { try HTTPTransport(baseURL: url, token: "t") }
        do {
            _ = try HTTPTransport(baseURL: url, token: "t")
        } catch {
            guard case .invalidRequest(let why) = error else { Issue.record("\(error)"); return }
            #expect(!why.contains("secret") && !why.contains("token=x"))
            #expect(!error.isRetryable)
        }
    }

    @Test func schemesAreCaseInsensitive() throws {
        let transport = try HTTPTransport(baseURL: "HTTP://127.0.0.1:\(server.httpPort)", token: nil, timeouts: fast)
        #expect(try transport.get(path: "/echo").status == 200)
    }

    @Test func badPathsAndTokensAreRefused() throws {
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        #expect(throws: TransportError.self) { try transport.get(path: "echo") }
        #expect(throws: TransportError.self) { try transport.get(path: "/echo x") }
        #expect(throws: TransportError.self) { try transport.get(path: "/echo\r\nX-Injected: 1") }
        #expect(throws: TransportError.self) { try HTTPTransport(baseURL: server.http, token: "a\r\nX-Injected: 1") }
    }

    @Test func connectionRefusedIsARetryableNetworkError() throws {
        let token = "s3cr3t-token-value"
        let transport = try HTTPTransport(baseURL: "http://127.0.0.1:\(closedPort())", token: token, timeouts: fast)
        do {
            _ = try transport.get(path: "/v1/changes?since=424242&limit=7")
            Issue.record("expected a network error")
        } catch {
            guard case .network(let failure) = error else { Issue.record("not a network error: \(error)"); return }
            #expect(failure.code == 7)  // CURLE_COULDNT_CONNECT
            #expect(error.isRetryable)
            #expect(!error.description.contains(token))
            #expect(!error.description.contains("424242"))
            #expect(error.description.contains("connect"))
        }
    }

    @Test func aStalledServerTimesOut() throws {
        let timeouts = HTTPTransport.Timeouts(connect: .seconds(2), total: .milliseconds(300))
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: timeouts)
        let took = elapsed {
            do throws(TransportError) {
                _ = try transport.get(path: "/stall?ms=3000")
                Issue.record("expected a timeout")
            } catch {
                guard case .timeout(let failure) = error else { Issue.record("not a timeout: \(error)"); return }
                #expect(failure.code == 28)
                #expect(error.isRetryable)
            }
        }
        #expect(took < .seconds(2))
    }

    @Test func aTricklingServerHitsTheLowSpeedLimit() throws {
        // 10 bytes/s against a floor of 1000 bytes/s over 1 s (libcurl's smallest window).
        let timeouts = HTTPTransport.Timeouts(
            connect: .seconds(2), total: .seconds(20), lowSpeedLimit: 1000, lowSpeedTime: .seconds(1))
        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: timeouts)
        let took = elapsed {
            #expect {
                try transport.get(path: "/drip?n=100&ms=100")
            } throws: { error in
                guard let e = error as? TransportError, case .timeout = e else { return false }
                return e.isRetryable
            }
        }
        #expect(took < .seconds(5))
    }

    @Test func httpsToAPlainHTTPServerIsATLSError() throws {
        let transport = try HTTPTransport(baseURL: "https://127.0.0.1:\(server.httpPort)", token: "t", timeouts: fast)
        do {
            _ = try transport.get(path: "/echo")
            Issue.record("expected a TLS error")
        } catch {
            guard case .tls(let failure) = error else { Issue.record("not a TLS error: \(error)"); return }
            #expect(failure.code == 35)  // CURLE_SSL_CONNECT_ERROR
            #expect(!error.isCertificateProblem)
            #expect(!error.isRetryable)
            #expect(error.description.hasPrefix("TLS handshake failed"))
        }
    }

    @Test func anUntrustedCertificateIsRefused() throws {
        let transport = try HTTPTransport(baseURL: server.https, token: "t", timeouts: fast)
        do {
            _ = try transport.get(path: "/echo")
            Issue.record("a certificate from an unknown CA was accepted")
        } catch {
            #expect(error.isCertificateProblem, "\(error)")
            #expect(error.curlFailure?.code == 60)  // CURLE_PEER_FAILED_VERIFICATION
            #expect(error.description.hasPrefix("TLS certificate problem"))
            #expect(!error.isRetryable)
        }
    }

    @Test func theCAFileIsTrustedAndHostNamesAreStillChecked() throws {
        let transport = try HTTPTransport(
            baseURL: server.https, token: "tls-token", caFile: LoopbackServer.caFile, timeouts: fast)
        let body = sampleBatch(bytes: 20_000)
        for _ in 0..<3 {
            let r = try transport.post(path: "/echo?plain=1", json: body)
            #expect(r.status == 200)
            #expect(r.body == body)
            #expect(r.header("X-Req-Authorization") == "Bearer tls-token")
        }
        #expect(try transport.get(path: "/echo").header("X-Conn-Requests") == "4", "TLS connection kept alive")

        // The certificate names localhost, not 127.0.0.1: host verification must refuse it.
        let byIP = try HTTPTransport(
            baseURL: "https://127.0.0.1:\(server.httpsPort)", token: "t", caFile: LoopbackServer.caFile,
            timeouts: fast)
        #expect(throws: TransportError.self) { try byIP.get(path: "/echo") }
        do { _ = try byIP.get(path: "/echo") } catch {
            #expect(error.isCertificateProblem, "\(error)")
            #expect(error.description.contains("127.0.0.1") || error.description.contains("name"))
        }
    }

    @Test func aMissingCAFileIsACertificateProblem() throws {
        let transport = try HTTPTransport(
            baseURL: server.https, token: "t", caFile: "/nonexistent/ca.pem", timeouts: fast)
        #expect {
            try transport.get(path: "/echo")
        } throws: { error in
            (error as? TransportError)?.isCertificateProblem == true
        }
    }

    @Test func theSendHookSeesTheJSONButNotTheToken() throws {
        let token = "hook-token-zzz"
        let transport = try HTTPTransport(baseURL: server.http, token: token, timeouts: fast)
        var seen: [HTTPTransport.OutgoingRequest] = []
        transport.onSend = { seen.append($0) }
        let body = Array(#"{"changes":[{"rowId":"r1"}]}"#.utf8)
        _ = try transport.post(path: "/echo", json: body)
        _ = try transport.get(path: "/echo?since=3")
        #expect(seen.map(\.method) == ["POST", "GET"])
        #expect(seen.map(\.path) == ["/echo", "/echo?since=3"])
        #expect(seen[0].body == body)
        #expect(seen[0].headers.contains("Content-Encoding: gzip"))
        #expect(seen[0].headers.contains("Authorization: Bearer <redacted>"))
        #expect(!"\(seen)".contains(token))
    }
}

// MARK: - Gzip

@Suite struct TransportGzipTests {
    @Test(arguments: [0, 1, 100, 65_536, 3_000_000])
    func roundTrip(size: Int) throws {
        let body = size == 0 ? [] : Array(sampleBatch(bytes: size).prefix(size))
        let packed = Gzip.compress(body)
        #expect(packed.starts(with: [0x1f, 0x8b, 0x08]))
        #expect(try Gzip.decompress(packed, limit: size) == body)
    }

    @Test func incompressibleBytesAndEveryLevel() throws {
        var rng = SystemRandomNumberGenerator()
        let noise = (0..<300_000).map { _ in UInt8.random(in: 0...255, using: &rng) }
        for level: Int32 in [0, 1, 6, 9] {
            #expect(try Gzip.decompress(Gzip.compress(noise, level: level), limit: noise.count) == noise)
        }
    }

    @Test func decodesGzipFromOtherTools() throws {
        // `gzip -9 interop.json`: a header with FNAME and mtime.
        let fromGzip: [UInt8] = [
            0x1f, 0x8b, 0x08, 0x08, 0xd7, 0x98, 0x08, 0x6b, 0x02, 0x03, 0x69, 0x6e, 0x74, 0x65, 0x72, 0x6f, 0x70, 0x2e,
            0x6a, 0x73, 0x6f, 0x6e, 0x00, 0x4b, 0xcd, 0x2d, 0x4a, 0x4d, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0x50, 0xc8, 0xcc,
            0x2b, 0x49, 0x2d, 0xca, 0x2f, 0xb0, 0x52, 0xa8, 0x56, 0x4a, 0xce, 0x48, 0xcc, 0x4b, 0x4f, 0x2d, 0x56, 0xb2,
            0x8a, 0x8e, 0xad, 0xe5, 0x02, 0x00, 0x68, 0x21, 0x68, 0x74, 0x23, 0x00, 0x00, 0x00,
        ]
        let text = String(decoding: try Gzip.decompress(fromGzip, limit: 1000), as: UTF8.self)
        #expect(text == "emreg gzip interop: {\"changes\":[]}\n")
    }

    @Test func concatenatedMembersAreOneBody() throws {
        let a = Array("first half,".utf8)
        let b = Array("second half".utf8)
        #expect(try Gzip.decompress(Gzip.compress(a) + Gzip.compress(b), limit: 100) == a + b)
    }

    /// The whole-body inflater sizes its buffer from the last member's trailer: a small last
    /// member after a large one, or a trailer that understates the length, makes it grow the
    /// buffer; it gives what zlib's streaming inflater gives.
    @Test func aBufferSizedTooSmallGrowsAndMatchesStreaming() throws {
        let big = sampleBatch(bytes: 300_000)
        let tail = Array("tail".utf8)
        let body = Gzip.compress(big) + Gzip.compress(tail)
        #expect(try Gzip.decompress(body, limit: 1 << 20) == big + tail)
        #expect(try Gzip.inflateStreaming(body, limit: 1 << 20) == big + tail)
        // A trailer stating 10 bytes for 300,000: the CRC still checks the data, so libdeflate
        // refuses it and zlib names the fault.
        var understated = Gzip.compress(big)
        understated.replaceSubrange((understated.count - 4)..., with: [10, 0, 0, 0])
        #expect(throws: GzipError.self) { try Gzip.decompress(understated, limit: 1 << 20) }
        let limit = big.count + tail.count
        #expect(try Gzip.decompress(body, limit: limit) == big + tail)
        #expect(throws: GzipError.tooLarge(limit: limit - 1)) { try Gzip.decompress(body, limit: limit - 1) }
    }

    @Test func aGzipBombStopsAtTheLimit() throws {
        let zeros = [UInt8](repeating: 0, count: 64 << 20)
        let bomb = Gzip.compress(zeros, level: 9)
        #expect(bomb.count < 100_000, "64 MiB of zeros packs into \(bomb.count) bytes")
        let took = elapsed {
            #expect(throws: GzipError.tooLarge(limit: 1 << 20)) { try Gzip.decompress(bomb, limit: 1 << 20) }
        }
        #expect(took < .seconds(1), "stops early instead of inflating everything")

        let exact = [UInt8](repeating: 7, count: 100_000)
        let packed = Gzip.compress(exact)
        #expect(try Gzip.decompress(packed, limit: 100_000) == exact)
        #expect(throws: GzipError.tooLarge(limit: 99_999)) { try Gzip.decompress(packed, limit: 99_999) }
        #expect(throws: GzipError.tooLarge(limit: 0)) { try Gzip.decompress(packed, limit: 0) }
    }

    @Test func damagedInputIsRefused() throws {
        let body = sampleBatch(bytes: 10_000)
        let packed = Gzip.compress(body)
        #expect(throws: GzipError.notGzip) { try Gzip.decompress(Array(#"{"changes":[]}"#.utf8), limit: 1000) }
        #expect(throws: GzipError.notGzip) { try Gzip.decompress([], limit: 1000) }
        #expect(throws: GzipError.notGzip) { try Gzip.decompress([0x1f], limit: 1000) }
        #expect(throws: GzipError.truncated) { try Gzip.decompress(Array(packed.dropLast(4)), limit: 1 << 20) }
        #expect(throws: GzipError.truncated) {
            try Gzip.decompress(Array(packed.prefix(packed.count / 2)), limit: 1 << 20)
        }
        #expect(throws: GzipError.truncated) { try Gzip.decompress(Array(packed.prefix(5)), limit: 1 << 20) }
        #expect(throws: GzipError.trailingData(bytes: 3)) { try Gzip.decompress(packed + [1, 2, 3], limit: 1 << 20) }

        var flipped = packed
        flipped[flipped.count - 6] ^= 0xff  // inside the CRC-32 trailer
        #expect(throws: GzipError.self) { try Gzip.decompress(flipped, limit: 1 << 20) }
        var broken = packed
        broken[3] = 0xe0  // reserved header flag bits
        #expect(throws: GzipError.self) { try Gzip.decompress(broken, limit: 1 << 20) }
        for i in stride(from: 10, to: packed.count - 8, by: 97) {
            var damaged = packed
            damaged[i] ^= 0x55
            // Either zlib notices or the CRC does; never a crash, never wrong data.
            if let out = try? Gzip.decompress(damaged, limit: 1 << 20) { #expect(out == body) }
        }
    }
}

// MARK: - Retry policy

@Suite struct TransportRetryPolicyTests {
    @Test func ceilingsDoubleUpToTheCap() {
        let policy = RetryPolicy(baseDelay: .milliseconds(200), maxDelay: .seconds(30))
        let ceilings = (1...10).map { seconds(policy.ceiling(forRetry: $0)) }
        let expected = [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30, 30]
        for (c, e) in zip(ceilings, expected) { #expect(abs(c - e) < 1e-6, "\(ceilings)") }
        #expect(policy.ceiling(forRetry: 10_000) == .seconds(30), "no overflow for huge attempt numbers")
    }

    @Test func fullJitterStaysWithinBounds() {
        let policy = RetryPolicy(baseDelay: .milliseconds(200), maxDelay: .seconds(30))
        for retry in 1...12 {
            let ceiling = policy.ceiling(forRetry: retry)
            var samples: [Duration] = []
            for _ in 0..<200 { samples.append(policy.delay(forRetry: retry)) }
            #expect(samples.allSatisfy { $0 >= .zero && $0 <= ceiling })
            // Jitter: not all the same, and spread over the range.
            #expect(Set(samples).count > 150)
            #expect(samples.contains { $0 < ceiling / 4 } && samples.contains { $0 > ceiling * 3 / 4 })
        }
        let low = RetryPolicy(random: { 0 })
        let high = RetryPolicy(random: { 0.999_999 })
        #expect(low.delay(forRetry: 3) == .zero)
        #expect(high.delay(forRetry: 3) <= high.ceiling(forRetry: 3))
        #expect(high.delay(forRetry: 3) > high.ceiling(forRetry: 3) * 0.99)
    }

    @Test func givesUpAfterMaxAttemptsWithTheLastError() {
        let slept = Recorder<Duration>()
        let policy = RetryPolicy(
            maxAttempts: 4,
            sleep: {
                slept.append($0); return true
            })
        var attempts: [Int] = []
        var events: [RetryEvent] = []
        #expect(throws: TransportError.network(CurlFailure(code: 7, message: "attempt 4"))) {
            try policy.run(onRetry: { events.append($0) }) { (n: Int) throws(TransportError) -> Int in
                attempts.append(n)
                throw .network(CurlFailure(code: 7, message: "attempt \(n)"))
            }
        }
        #expect(attempts == [1, 2, 3, 4])
        #expect(slept.all.count == 3)
        for (i, d) in slept.all.enumerated() { #expect(d >= .zero && d <= policy.ceiling(forRetry: i + 1)) }
        #expect(events.map(\.failedAttempt) == [1, 2, 3])
        #expect(events.map(\.delay) == slept.all)
        #expect(events[0].description.contains("attempt 1 of 4"))
    }

    @Test func nonRetryableErrorsStopAtOnce() {
        let slept = Recorder<Duration>()
        let policy = RetryPolicy(
            maxAttempts: 5,
            sleep: {
                slept.append($0); return true
            })
        var attempts = 0
        #expect(throws: TransportError.self) {
            try policy.run { (_: Int) throws(TransportError) -> Int in
                attempts += 1
                throw .tls(CurlFailure(code: 60, message: "bad certificate"))
            }
        }
        #expect(attempts == 1)
        #expect(slept.all.isEmpty)
    }

    @Test func succeedsAfterTransientFailures() throws {
        let slept = Recorder<Duration>()
        let policy = RetryPolicy(
            maxAttempts: 5,
            sleep: {
                slept.append($0); return true
            })
        let value = try policy.run { (n: Int) throws(TransportError) -> String in
            if n < 3 { throw .timeout(CurlFailure(code: 28, message: "timeout")) }
            return "done at \(n)"
        }
        #expect(value == "done at 3")
        #expect(slept.all.count == 2)
    }

    @Test func responsesAreJudgedAndRetryAfterIsHonoured() throws {
        let slept = Recorder<Duration>()
        let policy = RetryPolicy(
            maxAttempts: 5, maxRetryAfter: .seconds(60),
            sleep: {
                slept.append($0); return true
            })
        let statuses = [503, 429, 200]
        let headers: [[String: String]] = [["retry-after": "3"], ["retry-after": "600"], [:]]
        let r = try policy.run { (n: Int) throws(TransportError) -> HTTPTransport.Response in
            HTTPTransport.Response(status: statuses[n - 1], headers: headers[n - 1])
        }
        #expect(r.status == 200)
        #expect(slept.all == [.seconds(3), .seconds(60)], "Retry-After, capped at maxRetryAfter")

        // 4xx is final at once; a retryable status that never clears is returned at the end.
        var calls = 0
        let bad = try policy.run { (_: Int) throws(TransportError) -> HTTPTransport.Response in
            calls += 1
            return HTTPTransport.Response(status: 400)
        }
        #expect(bad.status == 400 && calls == 1)
        calls = 0
        let down = try policy.run { (_: Int) throws(TransportError) -> HTTPTransport.Response in
            calls += 1
            return HTTPTransport.Response(status: 500)
        }
        #expect(down.status == 500 && calls == 5)
    }

    @Test func aSleepThatSaysStopEndsTheRetries() {
        let policy = RetryPolicy(maxAttempts: 10, sleep: { _ in false })
        var attempts = 0
        #expect(throws: TransportError.self) {
            try policy.run { (_: Int) throws(TransportError) -> Int in
                attempts += 1
                throw .network(CurlFailure(code: 56, message: "reset"))
            }
        }
        #expect(attempts == 1)
    }

    @Test func retriesRealRequestsAgainstTheLoopbackServer() throws {
        let server = LoopbackServer.shared
        let slept = Recorder<Duration>()
        let policy = RetryPolicy(
            maxAttempts: 3, baseDelay: .milliseconds(1),
            sleep: {
                slept.append($0); return true
            })
        let fast = HTTPTransport.Timeouts(connect: .seconds(2), total: .seconds(5))

        let transport = try HTTPTransport(baseURL: server.http, token: "t", timeouts: fast)
        let unavailable = try policy.run { (_: Int) throws(TransportError) -> HTTPTransport.Response in
            try transport.post(path: "/status/503?retry_after=0", json: Array("{}".utf8))
        }
        #expect(unavailable.status == 503)
        #expect(slept.all == [.zero, .zero])

        let refused = try HTTPTransport(baseURL: "http://127.0.0.1:\(closedPort())", token: "t", timeouts: fast)
        var attempts = 0
        #expect(throws: TransportError.self) {
            try policy.run { (_: Int) throws(TransportError) -> HTTPTransport.Response in
                attempts += 1
                return try refused.get(path: "/health")
            }
        }
        #expect(attempts == 3)
    }

    @Test func retryAfterParsing() {
        #expect(RetryAfter.parse("120") == .seconds(120))
        #expect(RetryAfter.parse(" 0 ") == .zero)
        #expect(RetryAfter.parse("-5") == nil)
        #expect(RetryAfter.parse("soon") == nil)
        #expect(RetryAfter.parse("") == nil)
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 (RFC 9110's example).
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: 784_111_777 - 90) == .seconds(90))
        #expect(RetryAfter.parse("Sun, 06 Nov 1994 08:49:37 GMT", now: 784_111_777 + 90) == .zero, "past dates: now")
        #expect(RetryAfter.parse("Thu, 29 Feb 2024 23:59:59 GMT", now: 1_709_251_199 - 1) == .seconds(1))
        #expect(RetryAfter.parse("Sunday, 06-Nov-94 08:49:37 GMT") == nil, "obsolete formats are ignored")
    }
}

// MARK: - Benchmark (scripts/bench-transport; skipped unless EMREG_BENCH_URL is set)

@Suite(.enabled(if: ProcessInfo.processInfo.environment["EMREG_BENCH_URL"] != nil))
struct TransportBenchmark {
    @Test func postOneMegabyteBodies() throws {
        let env = ProcessInfo.processInfo.environment
        let url = env["EMREG_BENCH_URL"]!
        let requests = Int(env["EMREG_BENCH_REQUESTS"] ?? "") ?? 1000
        let body: [UInt8]
        if let path = env["EMREG_BENCH_BODY"], let data = FileManager.default.contents(atPath: path) {
            body = [UInt8](data)
        } else {
            body = sampleBatch(bytes: 1_000_000)
        }
        let transport = try HTTPTransport(baseURL: url, token: "bench-token")
        func run(_ label: String, gzip: Bool, requests: Int) throws {
            _ = try transport.post(path: "/sink", json: body, gzip: gzip)  // warm up: connect once
            var sent: Int64 = 0
            var received: Int64 = 0
            var connections = 0
            let took = try elapsed {
                for _ in 0..<requests {
                    let r = try transport.post(path: "/sink", json: body, gzip: gzip)
                    precondition(r.status == 200, "sink answered \(r.status)")
                    sent += r.bytesSent
                    received += r.bytesReceived
                    connections += r.newConnections
                }
            }
            let s = seconds(took)
            let perSecond = Double(requests) / s
            let megabytes = Double(body.count) * perSecond / 1e6
            let line =
                "swift transport, \(label): \(requests) POSTs of \(body.count) B JSON in \(fmt(s)) s = "
                + "\(fmt(perSecond)) req/s, \(fmt(megabytes)) MB/s of JSON; on the wire "
                + "\(sent / Int64(requests)) B sent + \(received / Int64(requests)) B received per request; "
                + "new connections: \(connections)"
            print("BENCH \(line)")
        }
        try run("identity", gzip: false, requests: requests)
        // Compression costs more than the transfer: fewer requests keep the run short.
        try run("gzip level \(Gzip.defaultLevel)", gzip: true, requests: max(requests / 5, 20))

        // Compression alone, for the record (once per benchmark run).
        guard env["EMREG_BENCH_ZLIB"] != "0" else { return }
        for level: Int32 in [1, 6] {
            var packed = 0
            let n = max(requests / 4, 20)
            let took = elapsed { for _ in 0..<n { packed = Gzip.compress(body, level: level).count } }
            let unpackTook = try elapsed {
                let p = Gzip.compress(body, level: level)
                for _ in 0..<n { _ = try Gzip.decompress(p, limit: 1 << 24) }
            }
            let ratio = Double(body.count) / Double(packed)
            print(
                "BENCH zlib level \(level): \(body.count) B -> \(packed) B (\(fmt(ratio))x), "
                    + "compress \(fmt(Double(body.count) * Double(n) / seconds(took) / 1e6)) MB/s, "
                    + "decompress \(fmt(Double(body.count) * Double(n) / seconds(unpackTook) / 1e6)) MB/s")
        }
    }

    func fmt(_ x: Double) -> String {
        let r = (x * 10).rounded() / 10
        return r >= 100 ? String(Int(r)) : String(r)
    }
}
