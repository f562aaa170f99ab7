import Foundation
import Testing

/// `emreg export` and `emreg import` as a user runs them.
@Suite(.serialized) struct ImportExportTests {
    func bytes(_ e: EmregProcess, _ name: String) -> Data? { FileManager.default.contents(atPath: e.directory + "/" + name) }

    @Test func exportJsonlImportIntoAFreshRegistryAndExportAgain() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let ids = try e.logLegPlasmacytoma()
        _ = try e.logLegPlasmacytoma(mrn: "MM00166")

        let export = try e.run(["export", "--format", "jsonl", "--output", "a.jsonl"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.isEmpty && export.stderr.contains("exported 2 patients to a.jsonl"))
        let a = try #require(bytes(e, "a.jsonl"))
        #expect(a.split(separator: UInt8(ascii: "\n")).count == 2)

        _ = try e.ok(["init", "--clinic", "CLINIC-B", "--db", "b.sqlite"])
        let imported = try e.run(["import", "a.jsonl", "--db", "b.sqlite"])
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(imported.stderr.contains("imported — patient: 2 new, 0 changed, 0 unchanged"), "\(imported.stderr)")
        #expect(imported.stderr.contains("follow-up: 2 new"), "\(imported.stderr)")
        #expect(!imported.stderr.contains("MM00165"))

        _ = try e.ok(["export", "--format", "jsonl", "--output", "b.jsonl", "--db", "b.sqlite"])
        #expect(bytes(e, "b.jsonl") == a)
        #expect(try e.ok(["case", "show", ids.clinicalCase, "--db", "b.sqlite"]) == e.ok(["case", "show", ids.clinicalCase]))
        #expect(try e.ok(["audit", "verify", "--db", "b.sqlite"]).contains("audit trail intact"))

        let again = try e.run(["import", "a.jsonl", "--db", "b.sqlite"])
        #expect(again.status == 0 && again.stderr.contains("patient: 0 new, 0 changed, 2 unchanged"), "\(again.stderr)")

        // De-identified: no MRN, name or birth date, other ids.
        _ = try e.ok(["export", "--format", "jsonl", "--output", "deid.jsonl", "--deidentified"])
        let deid = String(decoding: try #require(bytes(e, "deid.jsonl")), as: UTF8.self)
        for secret in ["MM00165", "MM00166", "Jane Roe", "1963-05-02", ids.patient, ids.clinicalCase, ids.site] {
            #expect(!deid.contains(secret), "\(secret) in the de-identified export")
        }
    }

    @Test func csvDirectoryRoundTripsAndRefusesANonEmptyOutput() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        let ids = try e.logLegPlasmacytoma()
        _ = try e.ok(["export", "--format", "csv", "--output", "out"])
        let files = try FileManager.default.contentsOfDirectory(atPath: e.directory + "/out").sorted()
        #expect(files == ["biopsies.csv", "cases.csv", "data-dictionary.csv", "follow_ups.csv", "patients.csv", "sites.csv"])
        let again = try e.run(["export", "--format", "csv", "--output", "out"])
        #expect(again.status != 0 && again.stderr.contains("not empty"), "\(again.stderr)")

        _ = try e.ok(["init", "--clinic", "CLINIC-C", "--db", "c.sqlite"])
        let imported = try e.run(["import", "out", "--db", "c.sqlite"])
        #expect(imported.status == 0 && imported.stderr.contains("site: 1 new"), "\(imported.stderr)")
        #expect(try e.ok(["case", "show", ids.clinicalCase, "--db", "c.sqlite"]) == e.ok(["case", "show", ids.clinicalCase]))
    }

    @Test func dryRunOfABadFileExitsNonZeroListingProblemsAndWritesNothing() throws {
        let e = try EmregProcess()
        defer { e.cleanUp() }
        _ = try e.ok(["init", "--clinic", "CLINIC-A"])
        _ = try e.logLegPlasmacytoma()
        _ = try e.ok(["export", "--format", "jsonl", "--output", "a.jsonl"])
        var text = String(decoding: try #require(bytes(e, "a.jsonl")), as: UTF8.self)
        text += #"{"patient":{"mrn":"MM00999","name":"Ann Other","sex":"female","birthYear":1970},"cases":[{"diagnosis":"multiple-myeloma","diagnosedOn":"2031-02-30"}]}"# + "\n"
        text += #"{"patient":{"mrn":"MM00998","sex":"female","birthYear":1970,"shoeSize":38}}"# + "\n"
        try text.write(toFile: e.directory + "/bad.jsonl", atomically: true, encoding: .utf8)

        let before = try e.databaseBytes()
        for arguments in [["import", "bad.jsonl", "--dry-run"], ["import", "bad.jsonl"]] {
            let r = try e.run(arguments)
            #expect(r.status != 0, "\(arguments)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.contains("line 2: cases[0].diagnosedOn: '2031-02-30' is not a real date"), "\(r.stderr)")
            #expect(r.stderr.contains("line 3: patient.shoeSize: is not a field of a patient"), "\(r.stderr)")
            #expect(r.stderr.contains("import refused, nothing was written: 2 problems"), "\(r.stderr)")
            for secret in ["MM00999", "MM00998", "Ann Other", "MM00165"] { #expect(!r.stderr.contains(secret), "\(secret) leaked") }
            #expect(try e.databaseBytes() == before, "\(arguments) changed the database")
        }
        let dry = try e.run(["import", "a.jsonl", "--dry-run"])
        #expect(dry.status == 0 && dry.stderr.contains("would import — patient: 0 new, 0 changed, 1 unchanged"), "\(dry.stderr)")
        #expect(try e.databaseBytes() == before)
    }
}
