import Foundation

/// scripts/wire_capture.py as a test fixture: a loopback proxy between a client and a hub
/// that records every HTTP message (headers and inflated body) and the raw bytes.
final class WireCapture {
    /// One recorded HTTP message.
    struct Message {
        var direction: String
        var startLine: String
        var headers: [(String, String)]
        var contentEncoding: String
        var body: String
        var error: String?
    }

    let process = Process()
    let recordsFile: String
    let rawFile: String
    private(set) var port = 0
    var url: String { "http://127.0.0.1:\(port)" }

    static let script: String = {
        // Tests/EndToEndTests/WireCapture.swift → scripts/wire_capture.py
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
            .appendingPathComponent("scripts/wire_capture.py").path
    }()

    static var python: String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Starts the proxy in front of `targetPort`; it exits on its own after `maxSeconds`.
    init(targetPort: Int, directory: String, maxSeconds: Int = 90) throws {
        guard let python = Self.python else {
            throw EmregProcess.Failure(message: "no python3 for scripts/wire_capture.py")
        }
        recordsFile = directory + "/capture.jsonl"
        rawFile = directory + "/capture.raw"
        let banner = directory + "/capture.banner"
        FileManager.default.createFile(atPath: banner, contents: nil)
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [
            Self.script, "--target", "127.0.0.1:\(targetPort)", "--out", recordsFile, "--raw", rawFile,
            "--max-seconds", String(maxSeconds),
        ]
        process.standardOutput = FileHandle(forWritingAtPath: banner)
        process.standardError = FileHandle(forWritingAtPath: directory + "/capture.log")
        try process.run()
        if let p = listeningPort(banner: banner, process: process) {
            port = p
            return
        }
        stop()
        throw EmregProcess.Failure(message: "wire_capture.py did not start: \(text(directory + "/capture.log"))")
    }

    deinit { stop() }

    /// SIGTERM; the script flushes and exits.
    func stop() {
        guard process.isRunning else { return }
        process.terminate()
        process.waitUntilExit()
    }

    var rawBytes: Data { FileManager.default.contents(atPath: rawFile) ?? Data() }

    func messages() throws -> [Message] {
        let text = self.text(recordsFile)
        return try text.split(separator: "\n").map { line in
            guard let o = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw EmregProcess.Failure(message: "capture line is not an object: \(line.prefix(200))")
            }
            let headers = (o["headers"] as? [[String]] ?? []).map { ($0.first ?? "", $0.dropFirst().first ?? "") }
            return Message(
                direction: o["direction"] as? String ?? "", startLine: o["startLine"] as? String ?? "",
                headers: headers,
                contentEncoding: o["contentEncoding"] as? String ?? "", body: o["body"] as? String ?? "",
                error: (o["error"] as? String) ?? ((o["incomplete"] as? Bool) == true ? "incomplete message" : nil))
        }
    }

    private func text(_ path: String) -> String {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }
}

/// The port a loopback helper script announces with `listening on 127.0.0.1:PORT` in `banner`,
/// waiting up to 15 s; nil if the process ends or stays silent.
func listeningPort(banner: String, process: Process) -> Int? {
    let deadline = Date().addingTimeInterval(15)
    while Date() < deadline {
        let text = (try? String(contentsOfFile: banner, encoding: .utf8)) ?? ""
        if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening on ") }),
            let p = line.split(separator: ":").last.flatMap({ Int($0) })
        {
            return p
        }
        guard process.isRunning else { return nil }
        usleep(20_000)
    }
    return nil
}
