import Foundation

/// A real `emreg hub serve` process on 127.0.0.1, with its SQLite store in a temp directory or,
/// given `postgresURL`, its store in that PostgreSQL database.
final class HubProcess {
    let directory: String
    let port: Int
    let process = Process()
    let log = Pipe()
    var hubDB: String { directory + "/hub.sqlite" }
    var url: String { "http://127.0.0.1:\(port)" }
    /// The options that name the hub's database, for `emreg hub` commands.
    let storeArguments: [String]

    init(directory: String, arguments: [String] = [], postgresURL: String? = nil) throws {
        self.directory = directory
        storeArguments = postgresURL.map { ["--postgres", $0] } ?? ["--hub-db", directory + "/hub.sqlite"]
        port = try HubProcess.freePort()
        process.executableURL = URL(fileURLWithPath: EmregProcess.binary)
        process.arguments = ["hub", "serve"] + storeArguments + ["--port", String(port), "--bind", "127.0.0.1"] + arguments
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        try waitUntilHealthy()
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    /// SIGKILL, as a crash would.
    func kill() {
        if process.isRunning {
            Foundation.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func waitUntilHealthy(timeout: Double = 20) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if HubProcess.get(port: port, path: "/health").contains("\"ok\"") { return }
            guard process.isRunning else { throw EmregProcess.Failure(message: "hub exited with \(process.terminationStatus)") }
            usleep(50_000)
        }
        throw EmregProcess.Failure(message: "hub did not become healthy on port \(port)")
    }

    /// Registers a clinic and returns its token file.
    func addClinic(_ code: String, runner: EmregProcess) throws -> String {
        let token = try runner.ok(["hub", "clinic", "add", code] + storeArguments)
        let file = directory + "/\(code).token"
        try token.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }

    /// A plain HTTP/1.0 GET over a socket: enough to ask /health without any client library.
    static func get(port: Int, path: String) -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { return "" }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
        var response = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            response += buffer[0..<n]
        }
        return String(decoding: response, as: UTF8.self)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard bound else { throw EmregProcess.Failure(message: "no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
