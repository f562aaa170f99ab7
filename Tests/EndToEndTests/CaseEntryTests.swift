import Foundation
import Testing

@Suite(.serialized) struct CaseEntryTests {
    @Test func theLegPlasmacytomaIsLoggedShownAndParses() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let ids = try e.logLegPlasmacytoma()
        let text = try e.ok(["case", "show", ids.clinicalCase])
        #expect(text.contains("extramedullary plasmacytoma (C90.2, 9734/3), diagnosed 2024-03-05"))
        #expect(text.contains("lower limb, left, extraosseous, C49.2, 42 mm, MRI"))
        #expect(text.contains("detected 2024-03-05, at diagnosis"))
        #expect(text.contains("core needle of the lower limb site, 9734/3"))
        #expect(text.contains("alive, remission"))
        #expect(!text.contains("MM00165") && !text.contains("Jane Roe") && !text.contains("1963-05-02"))

        let json = try #require(try JSONSerialization.jsonObject(with: Data(try e.ok(["case", "show", ids.clinicalCase, "--json"]).utf8)) as? [String: Any])
        #expect(json["id"] as? String == ids.clinicalCase)
        #expect(json["diagnosis"] as? String == "extramedullary-plasmacytoma")
        let site = try #require((json["sites"] as? [[String: Any]])?.first)
        #expect(site["sizeMm"] as? Int == 42 && site["timing"] as? String == "at-diagnosis" && site["caseId"] as? String == ids.clinicalCase)
        #expect((json["biopsies"] as? [[String: Any]])?.first?["siteId"] as? String == ids.site)
        #expect((json["followUps"] as? [[String: Any]])?.first?["vitalStatus"] as? String == "alive")
        #expect((json["patient"] as? [String: Any])?["mrn"] == nil)

        let shown = try e.ok(["patient", "show", ids.patient])
        #expect(shown.contains("MM00165") && shown.contains("Jane Roe"))
        #expect(try e.ok(["audit", "verify"]).contains("audit trail intact"))
    }

    /// Start-up cost: libcurl and its ~27 libraries are loaded by `emreg sync` only (SyncTests
    /// prove that it works there), not by every command.
    @Test func aCaseAddDoesNotLoadLibcurl() throws {
        var e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let patient = try e.ok(["patient", "add", "--mrn", "M1", "--sex", "female", "--birth-year", "1960"])
        e.environment["LD_DEBUG"] = "libs"
        let r = try e.run(["case", "add", "--patient", patient, "--diagnosis", "multiple-myeloma", "--diagnosed", "2020-01-01"])
        #expect(r.status == 0)
        #expect(r.stderr.contains("libsqlite3"), "LD_DEBUG=libs lists the libraries the process loads")
        #expect(!r.stderr.contains("libcurl"))
    }

    /// A command is parsed on its own (`Emreg.parseLeaf`) only when that succeeds; help and
    /// mistakes go through the whole tree, so they name the full command path as always.
    @Test func helpAndMistakesNameTheFullCommandPath() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        #expect(try e.ok(["case", "add", "--help"]).contains("USAGE: emreg case add "))
        #expect(try e.ok(["site", "add", "-h"]).contains("USAGE: emreg site add "))
        let unknown = try e.run(["case", "add", "--patient", "X", "--diagnosis", "multiple-myeloma", "--bogus"])
        #expect(unknown.status != 0 && unknown.stderr.contains("--bogus") && unknown.stderr.hasPrefix("emreg: "))
        let missing = try e.run(["history"])
        #expect(missing.status != 0 && missing.stderr.contains("<id>"))
        #expect(try e.ok(["--version"]).contains("0.1.0"))
        // The leaf path runs the same commands: a case listed after being added.
        let patient = try e.ok(["patient", "add", "--mrn", "M1", "--sex", "female", "--birth-year", "1960"])
        let id = try e.ok(["case", "add", "--patient", patient, "--diagnosis", "multiple-myeloma", "--diagnosed", "2020-01-01"])
        #expect(try e.ok(["case", "list"]).contains(id))
        // The command closed the registry before exiting: its closing checkpoint left the main
        // file complete and the WAL empty.
        let wal = try FileManager.default.attributesOfItem(atPath: e.db + "-wal")[.size] as? Int
        #expect(wal == 0)
    }

    @Test func badInputExitsNonZeroWithOneLineAndLeavesTheDatabaseUntouched() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let ids = try e.logLegPlasmacytoma()
        let before = try e.databaseBytes()
        let cases: [([String], String)] = [
            (["case", "add", "--patient", ids.patient, "--diagnosis", "myeloma", "--diagnosed", "2024-01-01"], "--diagnosis"),
            (["case", "add", "--patient", ids.patient, "--diagnosis", "multiple-myeloma", "--diagnosed", "2031-02-30"], "not a real date"),
            (["case", "add", "--patient", ids.patient, "--diagnosis", "multiple-myeloma", "--diagnosed", "2099-01-01"], "in the future"),
            (["site", "add", "--case", ids.clinicalCase, "--detected", "2024-03-05", "--category", "extraosseous", "--region", "thorax", "--topography", "C41.2"], "--topography"),
            (["biopsy", "add", "--case", ids.clinicalCase, "--site", ids.site, "--date", "2024-03-09", "--procedure", "excisional", "--morphology", "9731/3"], "--morphology"),
            (["site", "add", "--case", ids.clinicalCase, "--detected", "2024-03-05", "--category", "extraosseous", "--region", "thorax", "--size-mm", "-4"], "--size-mm"),
            (["site", "add", "--case", "01a00000-0000-7000-8000-000000000000", "--detected", "2024-03-05", "--category", "paraskeletal", "--region", "thorax"], "--case"),
            (["case", "add", "--patient", ids.patient, "--diagnosed", "2024-01-01"], "--diagnosis"),
            (["followup", "add", "--case", ids.clinicalCase, "--vital-status", "alive"], "--date"),
            (["patient", "add", "--mrn", "MM00165", "--sex", "female", "--birth-year", "1963"], "--mrn"),
        ]
        for (arguments, expected) in cases {
            let r = try e.run(arguments)
            #expect(r.status != 0, "\(arguments)")
            #expect(r.stdout.isEmpty, "\(arguments)")
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(expected), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains("MM00165"), "an identifier leaked: \(r.stderr)")
            #expect(try e.databaseBytes() == before, "\(arguments) changed the database")
        }
    }

    @Test func tamperingWithTheSqliteShellIsCaughtByAuditVerify() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        _ = try e.logLegPlasmacytoma()
        #expect(try e.run(["audit", "verify"]).status == 0)
        let sqlite = try e.run(["-cmd", ".timeout 5000", e.db, "UPDATE sites SET size_mm = 24;"], executable: "/usr/bin/sqlite3")
        #expect(sqlite.status == 0, "\(sqlite.stderr)")
        let r = try e.run(["audit", "verify"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("sites row") && r.stderr.contains("sizeMm"), "\(r.stderr)")
    }

    @Test func updatesDeletesAndHistory() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let ids = try e.logLegPlasmacytoma()
        #expect(try e.ok(["site", "update", ids.site, "--size-mm", "30", "--detected", "2024-06-01"]) == ids.site)
        let site = try e.ok(["case", "show", ids.clinicalCase])
        #expect(site.contains("30 mm") && site.contains("detected 2024-06-01, during course"))
        _ = try e.ok(["patient", "update", ids.patient, "--mrn", "MM00999"])
        let history = try e.ok(["history", ids.site])
        #expect(history.contains("sizeMm: 42 → 30"))
        #expect(history.contains("timing: at-diagnosis → during-course"))
        let identityHistory = try e.ok(["history", ids.patient])
        #expect(identityHistory.contains("mrn: (hidden) → (hidden)") && !identityHistory.contains("MM00"))
        _ = try e.ok(["case", "delete", ids.clinicalCase, "--reason", "entered for the wrong patient"])
        let gone = try e.run(["case", "show", ids.clinicalCase])
        #expect(gone.status != 0 && gone.stderr.contains("was deleted"))
        #expect(try e.ok(["history", ids.site]).contains("deleteReason: — → entered for the wrong patient"))
        #expect(try e.run(["audit", "verify"]).status == 0)
    }

    @Test func configurationFollowsFlagsThenEnvironmentThenFile() throws {
        var e = try EmregProcess()
        defer { e.cleanUp() }
        try "# clinic settings\ndb = from-file.sqlite\nauthor = \"file author\"\n".write(
            toFile: e.directory + "/emreg.conf", atomically: true, encoding: .utf8)
        _ = try e.ok(["init", "--clinic", "C1"])
        #expect(FileManager.default.fileExists(atPath: e.directory + "/from-file.sqlite"))
        e.environment["EMREG_DB"] = "from-env.sqlite"
        _ = try e.ok(["init", "--clinic", "C2"])
        #expect(FileManager.default.fileExists(atPath: e.directory + "/from-env.sqlite"))
        _ = try e.ok(["init", "--clinic", "C3", "--db", "from-flag.sqlite"])
        #expect(FileManager.default.fileExists(atPath: e.directory + "/from-flag.sqlite"))
        let again = try e.run(["init", "--clinic", "C3", "--db", "from-flag.sqlite"])
        #expect(again.status != 0 && again.stderr.contains("refusing to overwrite"))
        let p = try e.ok(["patient", "add", "--mrn", "A1", "--sex", "male", "--birth-year", "1950"])
        #expect(try e.ok(["history", p]).contains("e2e at C2"))
        try "colour = blue\n".write(toFile: e.directory + "/bad.conf", atomically: true, encoding: .utf8)
        let bad = try e.run(["case", "list", "--config", "bad.conf"])
        #expect(bad.status != 0 && bad.stderr.contains("unknown key 'colour'"))
        let missing = try e.run(["case", "list", "--db", "nowhere.sqlite"])
        #expect(missing.status != 0 && missing.stderr.contains("no registry at nowhere.sqlite"))
    }
}
