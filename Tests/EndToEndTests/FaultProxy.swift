import Foundation

/// scripts/fault_proxy.py as a test fixture: a loopback proxy between a client and a hub that
/// drops connections, delays, truncates answers and answers 502 after the hub committed, as
/// its plan says, and logs what it did to each request.
final class FaultProxy {
    /// One request the proxy saw, and what it did to it.
    struct Entry {
        var method: String
        var path: String
        var fault: String
        /// The hub's status, nil when the hub was not asked (drop-before) or did not answer.
        var status: Int?
    }

    let process = Process()
    let logFile: String
    private(set) var port = 0
    var url: String { "http://127.0.0.1:\(port)" }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/fault_proxy.py").path

    init(targetPort: Int, directory: String, plan: [String], delayMilliseconds: Int = 1500) throws {
        guard let python = WireCapture.python else {
            throw EmregProcess.Failure(message: "no python3 for scripts/fault_proxy.py")
        }
        logFile = directory + "/fault-proxy.jsonl"
        let banner = directory + "/fault-proxy.banner"
        let errors = directory + "/fault-proxy.err"
        for f in [banner, errors] { FileManager.default.createFile(atPath: f, contents: nil) }
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.script, "--target", "127.0.0.1:\(targetPort)", "--log", logFile, "--plan",
            plan.joined(separator: ","), "--delay-ms", String(delayMilliseconds),
        ]
        process.standardOutput = FileHandle(forWritingAtPath: banner)
        process.standardError = FileHandle(forWritingAtPath: errors)
        try process.run()
        if let p = listeningPort(banner: banner, process: process) {
            port = p
            return
        }
        stop()
        let why = FileManager.default.contents(atPath: errors).map { String(decoding: $0, as: UTF8.self) } ?? ""
        throw EmregProcess.Failure(message: "fault_proxy.py did not start: \(why)")
    }

    deinit { stop() }

    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    func entries() throws -> [Entry] {
        let text = FileManager.default.contents(atPath: logFile).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return try text.split(separator: "\n").map { line in
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw EmregProcess.Failure(message: "fault proxy log line is not an object: \(line.prefix(200))")
            }
            return Entry(
                method: o["method"] as? String ?? "", path: o["path"] as? String ?? "", fault: o["fault"] as? String ?? "",
                status: o["status"] as? Int)
        }
    }
}
