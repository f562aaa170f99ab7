import Foundation
import Testing

@Suite(.serialized) struct ConcurrencyTests {
    /// 8 processes adding 100 cases each to one registry at once: all 800 land, none is "locked".
    @Test func eightProcessesAddingCasesAtOnceAllLand() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let p = try e.ok(["patient", "add", "--mrn", "MM1", "--sex", "male", "--birth-year", "1950"])
        let script = """
            fail=0
            for i in $(seq 1 100); do
              "$EMREG" case add --patient \(p) --diagnosis multiple-myeloma --diagnosed 2020-01-01 >/dev/null || fail=$((fail+1))
            done
            exit $fail
            """
        var processes = [Process]()
        var errors = [Pipe]()
        for _ in 0..<8 {
            let proc = Process()
            proc.executableURL = URL(fileURLWithPath: "/bin/bash")
            proc.arguments = ["-c", script]
            proc.currentDirectoryURL = URL(fileURLWithPath: e.directory)
            proc.environment = ProcessInfo.processInfo.environment.merging(["EMREG": EmregProcess.binary, "EMREG_AUTHOR": "load"]) { $1 }
            let err = Pipe()
            proc.standardError = err
            errors.append(err)
            try proc.run()
            processes.append(proc)
        }
        var stderr = ""
        for (proc, err) in zip(processes, errors) {
            stderr += String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            proc.waitUntilExit()
            #expect(proc.terminationStatus == 0)
        }
        #expect(!stderr.contains("locked"), "\(stderr)")
        let list = try e.run(["case", "list"])
        #expect(list.stdout.split(separator: "\n").count == 800)
        #expect(try e.ok(["audit", "verify"]).contains("802 records"))
    }
}
