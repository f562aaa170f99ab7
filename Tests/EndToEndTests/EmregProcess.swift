import Foundation

/// Runs the built `emreg` binary, as a user or a script would.
struct EmregProcess {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
        var out: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// The binary next to the test bundle (`swift build` puts both in one folder), or $EMREG_BIN.
    static let binary: String = {
        if let b = ProcessInfo.processInfo.environment["EMREG_BIN"] { return b }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("emreg").path
    }()

    let directory: String
    var environment: [String: String] = [:]

    /// A fresh temporary directory to run in; removed by `cleanUp()`.
    init() throws {
        directory = NSTemporaryDirectory() + "emreg-e2e-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }

    var db: String { directory + "/emreg.sqlite" }

    /// `emreg ARGS` (or `executable`), set up to run in this directory with this environment
    /// (EMREG_ variables of the test process left out), not yet started.
    func process(_ arguments: [String], executable: String = EmregProcess.binary) -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("EMREG_") }
        env["EMREG_AUTHOR"] = "e2e"
        env.merge(environment) { $1 }
        p.environment = env
        return p
    }

    @discardableResult
    func run(_ arguments: [String], stdin: String? = nil, executable: String = EmregProcess.binary) throws -> Result {
        let p = process(arguments, executable: executable)
        let out = Pipe()
        let err = Pipe()
        let input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self), stderr: String(decoding: e, as: UTF8.self))
    }

    /// Runs and requires success, returning trimmed stdout.
    func ok(_ arguments: [String], stdin: String? = nil) throws -> String {
        let r = try run(arguments, stdin: stdin)
        guard r.status == 0 else { throw Failure(message: "emreg \(arguments.joined(separator: " ")) exited \(r.status): \(r.stderr)") }
        return r.out
    }

    struct Failure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }

    /// Logs DESIGN.md's case: a 61-year-old woman with a subcutaneous fascia-based
    /// extraosseous plasmacytoma of the left leg, core-needle biopsy 9734/3, followed to remission.
    func logLegPlasmacytoma(mrn: String = "MM00165") throws -> (patient: String, clinicalCase: String, site: String) {
        let p = try ok(["patient", "add", "--mrn", mrn, "--sex", "female", "--birth-year", "1963", "--name", "Jane Roe", "--birth-date", "1963-05-02"])
        let c = try ok(["case", "add", "--patient", p, "--diagnosis", "extramedullary-plasmacytoma", "--diagnosed", "2024-03-05", "--icd10", "C90.2", "--morphology", "9734/3"])
        let s = try ok([
            "site", "add", "--case", c, "--detected", "2024-03-05", "--category", "extraosseous", "--region", "lower-limb",
            "--topography", "C49.2", "--laterality", "left", "--size-mm", "42", "--imaging", "mri",
        ])
        _ = try ok([
            "biopsy", "add", "--case", c, "--site", s, "--date", "2024-03-08", "--procedure", "core-needle", "--morphology", "9734/3",
            "--finding", "sheets of lambda-restricted CD138+ plasma cells in subcutaneous fascia",
        ])
        _ = try ok(["followup", "add", "--case", c, "--date", "2024-09-01", "--vital-status", "alive", "--disease-status", "remission"])
        return (p, c, s)
    }

    /// The bytes of the database and its WAL: what "byte-for-byte unchanged" compares.
    func databaseBytes() throws -> Data {
        var d = try Data(contentsOf: URL(fileURLWithPath: db))
        if let wal = FileManager.default.contents(atPath: db + "-wal") { d.append(wal) }
        return d
    }
}
