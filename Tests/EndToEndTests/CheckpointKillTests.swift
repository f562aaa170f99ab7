import Foundation
import Testing

/// `kill -9` of `emreg` while its WAL is being copied into the main file (`WALCheckpointer`, on a
/// connection and thread beside the writer): the committed import is all there afterwards, and
/// the audit trail verifies.
@Suite(.serialized) struct CheckpointKillTests {
    static let patients = 3_000

    func size(_ path: String) -> Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0 }

    @Test func killingAnImportWhileItsWALIsCopiedLosesNothing() throws {
        var text = ""
        for i in 0..<Self.patients { text += SyncFaultTests.bulkLine(i) + "\n" }
        var landed = 0
        var tries = [String]()
        // A kill must land during the copy; the copy of this import's WAL takes tens to hundreds of
        // milliseconds, so a few attempts are allowed for a machine where the poll misses it.
        for attempt in 0..<5 where landed == 0 {
            let runner = try EmregProcess()
            defer { runner.cleanUp() }
            _ = try runner.ok(["init", "--clinic", "KILL"])
            try text.write(toFile: runner.directory + "/bulk.jsonl", atomically: true, encoding: .utf8)
            let before = size(runner.db)
            let p = runner.process(["import", "bulk.jsonl"])
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            // The main file grows only once the import has committed and its WAL is copied.
            while p.isRunning && size(runner.db) < before + 1_000_000 { usleep(500) }
            let killed = p.isRunning
            if killed { kill(p.processIdentifier, SIGKILL) }
            p.waitUntilExit()
            tries.append("attempt \(attempt): \(killed ? "killed at \(size(runner.db)) bytes" : "exited \(p.terminationStatus)")")
            landed += killed ? 1 : 0

            // Committed before the kill: every record is there, once, and the trail verifies.
            let verify = try runner.run(["audit", "verify"])
            #expect(verify.status == 0, "\(tries): \(verify.stderr)")
            let again = try runner.run(["import", "bulk.jsonl"])
            #expect(
                again.status == 0 && again.stderr.contains("patient: 0 new, 0 changed, \(Self.patients) unchanged"),
                "\(tries): \(again.stderr)")
            let cases = try runner.ok(["case", "list", "--json"])
            let listed = try JSONSerialization.jsonObject(with: Data(cases.utf8)) as? [Any]
            #expect(listed?.count == Self.patients, "\(tries)")
        }
        #expect(landed > 0, "no kill landed during the copy: \(tries)")
    }
}
