import Foundation
import RegistryCore
import RegistryStore
import Testing

@testable import RegistryReports

@Suite struct InterchangeImportTests {
    /// export → import into an empty registry → export gives identical bytes, and every case
    /// (with sites, biopsies, follow-ups, patient and identity) is equal value for value.
    @Test func jsonlRoundTripReproducesTheExportAndEveryValue() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 200, seed: 11)
        let first = try a.exportJSONL()
        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        var calls = 0
        var last = (0, 0)
        let summary = try Importer.run(b.registry, path: a.file("out.jsonl"), format: .jsonl, dryRun: false) {
            calls += 1
            last = ($0, $1)
        }
        let counts = try a.counts()
        for e in Interchange.entities {
            #expect(summary.inserted[e, default: 0] == counts[e], "\(e)")
            #expect(summary.updated[e, default: 0] == 0 && summary.unchanged[e, default: 0] == 0)
        }
        #expect(calls > 0 && last.0 == last.1 && last.1 == first.count, "progress ends at the file size: one pass")
        #expect(try b.exportJSONL() == first)

        let (casesA, identitiesA) = try a.snapshot()
        let (casesB, identitiesB) = try b.snapshot()
        #expect(casesA == casesB)
        #expect(identitiesA == identitiesB)
        #expect(try b.counts() == counts)
        // Every imported record is in the change log, chained and verifiable.
        #expect(try b.changeCount() == counts.filter { $0.key != .identity }.values.reduce(0, +) + counts[.identity]!)
        #expect(try b.registry.verifyAudit().problem == nil)
    }

    @Test func csvRoundTripReproducesTheFilesAndEveryValue() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 150, seed: 12)
        let dirA = a.file("csv")
        _ = try CSVExport.write(a.registry, to: dirA, options: ExportOptions()) { _ in }
        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        let summary = try b.importFile(dirA, format: .csv)
        #expect(summary.inserted[.patient] == 150)
        let dirB = b.file("csv")
        _ = try CSVExport.write(b.registry, to: dirB, options: ExportOptions()) { _ in }
        for name in try FileManager.default.contentsOfDirectory(atPath: dirA) {
            #expect(FileManager.default.contents(atPath: dirA + "/" + name) == FileManager.default.contents(atPath: dirB + "/" + name), "\(name)")
        }
        #expect(try a.snapshot().cases == b.snapshot().cases)
        #expect(try a.snapshot().identities == b.snapshot().identities)
        #expect(try a.exportJSONL() == b.exportJSONL())
        // And again: nothing changes.
        let before = try b.changeCount()
        let again = try b.importFile(dirA, format: .csv)
        #expect(again.inserted.isEmpty && again.updated.isEmpty)
        #expect(again.unchanged[.followUp] == summary.inserted[.followUp])
        #expect(try b.changeCount() == before)
    }

    @Test func importingTheSameFileTwiceChangesNothingTheSecondTime() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 60, seed: 13)
        _ = try a.exportJSONL()
        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        try b.importFile(a.file("out.jsonl"))
        let changes = try b.changeCount()
        let bytes = try b.exportJSONL("b.jsonl")
        let again = try b.importFile(a.file("out.jsonl"))
        #expect(again.inserted.isEmpty && again.updated.isEmpty)
        let counts = try a.counts()
        for e in Interchange.entities { #expect(again.unchanged[e, default: 0] == counts[e], "\(e)") }
        #expect(try b.changeCount() == changes)
        #expect(try b.exportJSONL("b2.jsonl") == bytes)
        // Importing into the registry it came from is also a no-op.
        let own = try a.changeCount()
        let back = try a.importFile(a.file("out.jsonl"))
        #expect(back.inserted.isEmpty && back.updated.isEmpty)
        #expect(try a.changeCount() == own)
    }

    /// Without ids, records are matched by natural key: the second import changes nothing.
    @Test func importWithoutIdsTwiceMatchesByNaturalKey() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 50, seed: 14)
        let data = try a.exportJSONL()
        // Drop every id (biopsies lose their site link: an id is the only way to name a site).
        let lines = try data.split(separator: UInt8(ascii: "\n")).map { line -> String in
            func strip(_ v: JSON) -> JSON {
                switch v {
                case .object(let o):
                    var out = [String: JSON]()
                    for (k, x) in o where k != "id" && k != "siteId" { out[k] = strip(x) }
                    return .object(out)
                case .array(let a): return .array(a.map(strip))
                default: return v
                }
            }
            var json = strip(try JSON.parse(bytes: Array(line)))
            // Patients without an MRN need their id.
            if case .object(var top) = json, case .object(var p)? = top["patient"], p["mrn"] == nil {
                p["id"] = try JSON.parse(bytes: Array(line))["patient"]!["id"]!
                top["patient"] = .object(p)
                json = .object(top)
            }
            return json.text
        }
        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        let first = try b.importLines(lines)
        #expect(first.inserted[.clinicalCase] == (try a.counts()[.clinicalCase]))
        let changes = try b.changeCount()
        let second = try b.importLines(lines, name: "again.jsonl")
        #expect(second.inserted.isEmpty && second.updated.isEmpty, "\(second)")
        #expect(second.unchanged[.followUp] == first.inserted[.followUp])
        #expect(try b.changeCount() == changes)
    }

    @Test func dryRunWritesNothingAndSaysWhatWouldHappen() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 40, seed: 15)
        _ = try a.exportJSONL()
        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        try InterchangeCohort.populate(b.registry, patients: 5, seed: 99)
        let before = try b.databaseBytes()
        var total = 0
        let summary = try Importer.run(b.registry, path: a.file("out.jsonl"), format: .jsonl, dryRun: true) { _, t in total = t }
        #expect(summary.inserted[.patient] == 40)
        #expect(total == (try Data(contentsOf: URL(fileURLWithPath: a.file("out.jsonl"))).count))
        let after = try b.databaseBytes()
        #expect(after.main == before.main && after.wal == before.wal)
        #expect(try b.counts()[.patient] == 5)
        // What the dry run announced is what the import does.
        #expect(try b.importFile(a.file("out.jsonl")) == summary)
    }

    // MARK: All or nothing

    static let good = InterchangeCohort.self

    /// One bad record among many valid ones: refused, every problem listed with line and
    /// field, the database byte for byte unchanged.
    @Test func oneBadRecordAmongManyRefusesTheWholeFile() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 80, seed: 16)
        var lines = String(decoding: try a.exportJSONL(), as: UTF8.self).split(separator: "\n").map(String.init)
        func edit(_ i: Int, _ change: (inout [String: JSON]) -> Void) {
            guard case .object(var o) = try! JSON.parse(lines[i]) else { return }
            change(&o)
            lines[i] = JSON.object(o).text
        }
        func editCase(_ i: Int, _ change: (inout [String: JSON]) -> Void) {
            edit(i) { top in
                guard case .array(var cases)? = top["cases"], case .object(var c) = cases[0] else { return }
                change(&c)
                cases[0] = .object(c)
                top["cases"] = .array(cases)
            }
        }
        editCase(6) { $0["diagnosedOn"] = .string("2031-02-30") }  // line 7
        edit(11) { top in  // line 12
            guard case .object(var p)? = top["patient"] else { return }
            p["favouriteColour"] = .string("blue")
            top["patient"] = .object(p)
        }
        editCase(19) { $0["followUps"] = .array([.object(["on": .string("1990-01-01"), "vitalStatus": .string("alive")])]) }  // line 20
        lines[29] = lines[29].replacingOccurrences(of: "\"cases\":[", with: "\"cases\":[,")  // line 30: malformed JSON
        lines[40] = lines[3]  // line 41 repeats line 4
        editCase(50) { $0["sites"] = .array([.object(["detectedOn": .string("2015-01-01"), "category": .string("extraosseous"), "region": .string("thorax"), "sizeMm": .int(-4)])]) }  // line 51

        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        try InterchangeCohort.populate(b.registry, patients: 10, seed: 98)
        let before = try b.databaseBytes()
        let changes = try b.changeCount()
        let (problems, total) = importProblems { try b.importLines(lines) }
        let text = problems.map(\.description)
        #expect(total == problems.count)
        #expect(text.contains { $0.hasPrefix("line 7: cases[0].diagnosedOn: '2031-02-30' is not a real date") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 12: patient.favouriteColour: is not a field of a patient") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 20: cases[0].followUps[0].on: 1990-01-01 is before the diagnosis") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 30: json: is not valid JSON") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 41: patient.id: is the same patient") && $0.contains("as line 4 (patient.id)") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 41: patient.mrn: is the same MRN as line 4") || !lines[3].contains("\"mrn\"") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 51: cases[0].sites[0].sizeMm: -4 is not a positive size") }, "\(text)")
        // In input order.
        let lineNumbers = problems.map { Int($0.location.dropFirst(5))! }
        #expect(lineNumbers == lineNumbers.sorted())
        let after = try b.databaseBytes()
        #expect(after.main == before.main, "the database file changed")
        #expect(after.wal == before.wal, "the WAL changed")
        #expect(try b.changeCount() == changes)
    }

    @Test func problemsAreCappedAtFiftyButAllCounted() throws {
        let r = try InterchangeRegistry()
        let lines = (0..<70).map { i in #"{"patient":{"mrn":"X\#(i)","sex":"female","birthYear":1850}}"# }
        let (problems, total) = importProblems { try r.importLines(lines) }
        #expect(problems.count == 50 && total == 70)
        #expect(problems.first?.description.hasPrefix("line 1: patient.birthYear: 1850 is out of range") == true)
        #expect(ReportError.invalidImport(problems, total: total).description.contains("70 problems (first 50 listed)"))
    }

    @Test func problemsNeverContainIdentifyingValues() throws {
        let r = try InterchangeRegistry()
        try r.registry.write { tx in
            _ = try tx.addPatient(Patient(sex: .male, birthYear: 1950), identity: PatientIdentity(patientId: "", mrn: "SECRET-MRN-1"))
        }
        let lines = [
            #"{"patient":{"mrn":"SECRET-MRN-2","name":"Secret Name","birthDate":"1961-02-30","sex":"female","birthYear":1961}}"#,
            #"{"patient":{"mrn":"SECRET-MRN-3","name":"Secret Name","birthDate":"1962-07-01","sex":"female","birthYear":1961}}"#,
            #"{"patient":{"mrn":12345,"name":["Secret Name"],"sex":"female","birthYear":1961}}"#,
            #"{"patient":{"mrn":"SECRET-MRN-4","sex":"female","birthYear":1961}}"#,
            #"{"patient":{"mrn":"SECRET-MRN-4","sex":"male","birthYear":1961}}"#,
            #"{"patient":{"id":"01900000-0000-7000-8000-0000000000aa","mrn":"SECRET-MRN-1","sex":"male","birthYear":1950}}"#,
            #"{"patient":{"mrn":"   ","name":"Secret Name","sex":"male","birthYear":1950}}"#,
            #"{"patient":{"id":"SECRET-MRN-9","sex":"male","birthYear":1950}}"#,
        ]
        let (problems, total) = importProblems { try r.importLines(lines) }
        #expect(total >= 8, "\(problems)")
        for p in problems {
            for secret in ["SECRET", "Secret Name", "1961-02-30", "1962-07-01", "12345"] {
                #expect(!p.description.contains(secret), "\(p) shows an identifier")
            }
        }
        #expect(problems.contains { $0.location == "line 5" && $0.field == "patient.mrn" && $0.reason.contains("line 4") })
        #expect(problems.contains { $0.location == "line 6" && $0.field == "patient.mrn" && $0.reason.contains("already registered") })
    }

    @Test func unknownKeysAreRefusedByName() throws {
        let r = try InterchangeRegistry()
        let lines = [
            #"{"patient":{"mrn":"A1","sex":"female","birthYear":1960},"extra":1}"#,
            #"{"patient":{"mrn":"A2","sex":"female","birthYear":1960},"cases":[{"diagnosis":"other","diagnosedOn":"2020-01-01","stage":"III","sites":[{"detectedOn":"2020-01-01","category":"extraosseous","region":"skin","colour":"red"}]}]}"#,
            #"{"patient":{"mrn":"A3","sex":"female","birthYear":1960,"linkageKey":"x"}}"#,
        ]
        let (problems, _) = importProblems { try r.importLines(lines) }
        let text = problems.map(\.description)
        #expect(text.contains { $0.hasPrefix("line 1: extra: is not a field of a line") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 2: cases[0].stage: is not a field of a case") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 2: cases[0].sites[0].colour: is not a field of a site") }, "\(text)")
        #expect(text.contains { $0.hasPrefix("line 3: patient.linkageKey: is not a field of a patient") }, "\(text)")
        #expect(try r.counts()[.patient] == 0)
    }

    @Test func wrongTypesMissingFieldsAndCrossRecordRulesAreReported() throws {
        let r = try InterchangeRegistry()
        let other = "01900000-0000-7000-8000-0000000000bb"
        let lines = [
            #"{"patient":{"mrn":"B1","sex":"female","birthYear":"1960"}}"#,
            #"{"patient":{"mrn":"B2","sex":"female"},"cases":{}}"#,
            #"{"patient":{"mrn":"B3","sex":"female","birthYear":1960},"cases":[{"diagnosis":"multiple-myeloma","diagnosedOn":"2020-01-01","icd10":"C92.1"}]}"#,
            #"{"patient":{"mrn":"B4","sex":"female","birthYear":1960},"cases":[{"diagnosis":"multiple-myeloma","diagnosedOn":"2020-01-01","biopsies":[{"siteId":"\#(other)","performedOn":"2020-01-02","procedure":"excisional"}]}]}"#,
            #"{"patient":{"mrn":"B5","sex":"female","birthYear":1960},"cases":[{"id":"\#(other)","diagnosis":"other","diagnosedOn":"2020-01-01","sites":[{"id":"01900000-0000-7000-8000-0000000000cc","detectedOn":"2020-01-01","category":"extraosseous","region":"thorax"}]},{"diagnosis":"other","diagnosedOn":"2021-01-01","biopsies":[{"siteId":"01900000-0000-7000-8000-0000000000cc","performedOn":"2021-01-02","procedure":"excisional"}]}]}"#,
            #"{"patient":{"mrn":"B6","sex":"female","birthYear":1960},"cases":[{"diagnosis":"other","diagnosedOn":"2020-01-01","sites":[{"detectedOn":"2020-01-01","category":"extraosseous","region":"thorax","topography":"C41.2"}]}]}"#,
            #"{"patient":{"mrn":"B7","sex":"female","birthYear":1960},"cases":[{"diagnosis":"other","diagnosedOn":"2099-01-01"}]}"#,
            #"{"patient":{"id":"not-a-uuid","sex":"female","birthYear":1960}}"#,
            #"{"patient":{"sex":"female","birthYear":1960}}"#,
            #"[1,2]"#,
        ]
        let (problems, _) = importProblems { try r.importLines(lines) }
        let text = problems.map(\.description)
        func has(_ prefix: String) { #expect(text.contains { $0.hasPrefix(prefix) }, "\(prefix) not in \(text)") }
        has("line 1: patient.birthYear: must be a number")
        has("line 2: patient.birthYear: is missing")
        has("line 2: cases: must be a list")
        has("line 3: cases[0].icd10: C92.1 does not match diagnosis multiple-myeloma")
        has("line 4: cases[0].biopsies[0].siteId: there is no site \(other) in the input or the registry")
        has("line 5: cases[1].biopsies[0].siteId: site 01900000-0000-7000-8000-0000000000cc belongs to another case")
        has("line 6: cases[0].sites[0].topography: C41.2 is bone")
        has("line 7: cases[0].diagnosedOn: 2099-01-01 is in the future")
        has("line 8: patient.id: is not an id; accepted: a UUID")
        has("line 9: patient.id: is missing; a patient needs an id or an mrn")
        has("line 10: json: a line must be one JSON object")
    }

    @Test func theIssuesExampleLineImports() throws {
        let r = try InterchangeRegistry()
        let (p, c, s, b, f) = (
            "01900000-0000-7000-8000-000000000001", "01900000-0000-7000-8000-000000000002",
            "01900000-0000-7000-8000-000000000003", "01900000-0000-7000-8000-000000000004",
            "01900000-0000-7000-8000-000000000005"
        )
        let line =
            #"{"patient":{"id":"\#(p)","mrn":"MM00165","name":"…","sex":"female","birthYear":1956},"cases":[{"id":"\#(c)","diagnosis":"multiple-myeloma","diagnosedOn":"2012-04-16","icd10":"C90.00","morphology":"9732/3","sites":[{"id":"\#(s)","detectedOn":"2012-04-16","timing":"at-diagnosis","category":"extraosseous","region":"skin","topography":"C44.7","laterality":"left","sizeMm":39,"imaging":"mri"}],"biopsies":[{"id":"\#(b)","siteId":"\#(s)","performedOn":"2012-04-19","procedure":"core-needle","morphology":"9734/3","finding":"…"}],"followUps":[{"id":"\#(f)","on":"2014-01-02","vitalStatus":"dead","diseaseStatus":"relapse"}]}]}"#
        let summary = try r.importLines([line])
        for e in Interchange.entities { #expect(summary.inserted[e] == 1, "\(e)") }
        let detail = try r.registry.read { try $0.caseDetail(id: c) }
        #expect(detail.clinicalCase.icd10 == "C90.00" && detail.sites.first?.sizeMm == 39)
        #expect(detail.biopsies.first?.siteId == s && detail.followUps.first?.vitalStatus == .dead)
        let identity = try r.registry.read { try $0.patientIdentity(id: p) }
        #expect(identity?.mrn == "MM00165" && identity?.name == "…")
        #expect(try r.registry.read { try $0.require(Patient.self, id: p) }.linkageKey == r.registry.linkageKey(mrn: "MM00165"))
        // The id-less form of the same line (ids are optional) matches everything by natural key.
        let bare = line.replacingOccurrences(of: #""id":"[^"]*","#, with: "", options: .regularExpression)
            .replacingOccurrences(of: #""siteId":"[^"]*","#, with: "", options: .regularExpression)
        let again = try r.importLines([bare], name: "bare.jsonl")
        #expect(again.inserted.isEmpty, "\(again)")
        // Without its site link the biopsy differs from the stored one: updated, not duplicated.
        #expect(again.updated[.biopsy] == 1 && again.unchanged[.site] == 1 && again.unchanged[.patient] == 1)
    }

    @Test func changedValuesAreUpdatedAndLoggedOptionalFieldsCleared() throws {
        let (a, ids) = try InterchangeExportTests.exampleRegistry()
        let original = String(decoding: try a.exportJSONL(), as: UTF8.self)
        let changes = try a.changeCount()
        let edited = original
            .replacingOccurrences(of: #""sizeMm":39,"#, with: #""sizeMm":41,"#)
            .replacingOccurrences(of: #","diseaseStatus":"relapse""#, with: "")
            .replacingOccurrences(of: #""name":"Ada Testperson""#, with: #""name":"Ada T. Testperson""#)
        let summary = try a.importLines([String(edited.dropLast())])
        #expect(summary.updated[.site] == 1 && summary.updated[.followUp] == 1 && summary.updated[.patient] == 1)
        #expect(summary.unchanged[.clinicalCase] == 1 && summary.unchanged[.biopsy] == 1)
        #expect(try a.changeCount() == changes + 3)
        let detail = try a.registry.read { try $0.caseDetail(id: ids["c"]!) }
        #expect(detail.sites[0].sizeMm == 41)
        #expect(detail.followUps.first { $0.id == ids["f"] }?.diseaseStatus == nil)
        let history = try a.registry.read { try $0.history(id: ids["s"]!) }
        #expect(history.last?.op == .update && history.last?.fields.contains("sizeMm") == true)
        #expect(try a.registry.read { try $0.patientIdentity(id: ids["p"]!) }?.name == "Ada T. Testperson")
    }

    @Test func deidentifiedExportImportsAsPseudonymousPatients() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 60, seed: 17)
        let data = try a.exportJSONL("deid.jsonl", options: ExportOptions(deidentified: true))
        let b = try InterchangeRegistry(clinic: "RESEARCH")
        try b.importFile(a.file("deid.jsonl"))
        #expect(try b.counts()[.identity] == 0)
        #expect(try b.counts()[.patient] == 60)
        // Pseudonymous ids import as ids: exporting again gives the same records (in the
        // order of the pseudonyms rather than of the original ids).
        #expect(try Self.normalised(b.exportJSONL()) == Self.normalised(data))
        #expect(try b.exportJSONL().count == data.count)
    }

    /// The lines of a jsonl export in id order, nested lists too.
    static func normalised(_ data: Data) throws -> [String] {
        func sort(_ v: JSON) -> JSON {
            switch v {
            case .object(let o): return .object(o.mapValues(sort))
            case .array(let a): return .array(a.map(sort).sorted { ($0["id"]?.string ?? "") < ($1["id"]?.string ?? "") })
            default: return v
            }
        }
        return try data.split(separator: UInt8(ascii: "\n")).map { sort(try JSON.parse(bytes: Array($0))).text }.sorted()
    }

    @Test func csvProblemsNameFileRowAndField() throws {
        let (a, ids) = try InterchangeExportTests.exampleRegistry()
        let dir = a.file("csv")
        _ = try CSVExport.write(a.registry, to: dir, options: ExportOptions()) { _ in }
        var cases = try String(contentsOfFile: dir + "/cases.csv", encoding: .utf8)
        cases += "01900000-0000-7000-8000-0000000000dd,\(ids["p"]!),multiple-myeloma,2012-13-01,,\r\n"
        cases += "01900000-0000-7000-8000-0000000000ee,01900000-0000-7000-8000-0000000000ff,other,2012-01-01,,\r\n"
        try Data(cases.utf8).write(to: URL(fileURLWithPath: dir + "/cases.csv"))
        var sites = try String(contentsOfFile: dir + "/sites.csv", encoding: .utf8)
        sites += ",01900000-0000-7000-8000-0000000000dd,2012-05-01,,extraosseous,thorax,,,,\r\n"
        sites += ",\(ids["c"]!),2012-05-01,,extraosseous,thorax,,,abc,\r\n"
        sites += ",\(ids["c"]!),2012-05-01,,extraosseous,thorax,,\r\n"
        try Data(sites.utf8).write(to: URL(fileURLWithPath: dir + "/sites.csv"))
        try Data("id,caseId,on,vitalStatus,diseaseStatus,colour\r\n".utf8).write(to: URL(fileURLWithPath: dir + "/follow_ups.csv"))
        try Data("x\r\n".utf8).write(to: URL(fileURLWithPath: dir + "/site.csv"))
        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        let (problems, _) = importProblems { try b.importFile(dir, format: .csv) }
        let text = problems.map(\.description)
        func has(_ prefix: String) { #expect(text.contains { $0.hasPrefix(prefix) }, "\(prefix) not in \(text)") }
        has("site.csv: file: is not a file of the csv layout")
        has("cases.csv row 3: diagnosedOn: '2012-13-01' is not a real date")
        has("cases.csv row 4: patientId: there is no record 01900000-0000-7000-8000-0000000000ff in patients.csv or the registry")
        has("sites.csv row 4: sizeMm: 'abc' is not a whole number")
        has("sites.csv row 5: row: has 8 fields; the header has 10")
        has("follow_ups.csv row 1: colour: is not a column of follow_ups.csv")
        // A site of the unreadable case (row 3) is not reported a second time as an orphan.
        #expect(!text.contains { $0.hasPrefix("sites.csv row 3") }, "\(text)")
        #expect(text.count == 6, "\(text)")
        #expect(try b.counts()[.patient] == 0)
    }

    @Test func csvWithoutIdsMatchesByNaturalKeyAndAddsFollowUpsToRegisteredCases() throws {
        let (a, ids) = try InterchangeExportTests.exampleRegistry()
        let dir = a.file("add")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data(
            ("caseId,on,vitalStatus,diseaseStatus\r\n\(ids["c"]!),2014-01-02,dead,relapse\r\n"
                + "\(ids["c"]!),2013-06-01,alive,stable\r\n").utf8
        ).write(to: URL(fileURLWithPath: dir + "/follow_ups.csv"))
        let changes = try a.changeCount()
        let summary = try a.importFile(dir, format: .csv)
        #expect(summary.unchanged[.followUp] == 1 && summary.inserted[.followUp] == 1, "\(summary)")
        #expect(try a.changeCount() == changes + 1)
        let again = try a.importFile(dir, format: .csv)
        #expect(again.unchanged[.followUp] == 2 && again.inserted.isEmpty)
        #expect(try a.changeCount() == changes + 1)
    }

    @Test func importIntoARegistryWithDeletedRecordsRefusesToResurrectThem() throws {
        let (a, ids) = try InterchangeExportTests.exampleRegistry()
        _ = try a.exportJSONL()
        try a.registry.write { tx in _ = try tx.delete(.site, id: ids["s"]!, reason: "entered twice") }
        let (problems, _) = importProblems { try a.importFile(a.file("out.jsonl")) }
        #expect(problems.contains { $0.field == "cases[0].sites[0].id" && $0.reason.contains("was deleted") }, "\(problems)")
    }

    @Test func recordsAreNotMovedBetweenParents() throws {
        let (a, ids) = try InterchangeExportTests.exampleRegistry()
        let line = #"{"patient":{"mrn":"OTHER-1","sex":"male","birthYear":1950},"cases":[{"id":"\#(ids["c"]!)","diagnosis":"multiple-myeloma","diagnosedOn":"2012-04-16"}]}"#
        let (problems, _) = importProblems { try a.importLines([line]) }
        let text = problems.map(\.description)
        #expect(text.count == 1, "\(text)")
        let prefix = "line 1: cases[0].id: case \(ids["c"]!) belongs to patient \(ids["p"]!) in this registry, not to patient "
        #expect(text.first?.hasPrefix(prefix) == true, "\(text)")
        #expect(text.first?.hasSuffix("; import does not move records between patients") == true, "\(text)")
    }

    @Test func csvDuplicateIdsAreFoundAndDryRunWritesNothing() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 30, seed: 18)
        let dir = a.file("csv")
        _ = try CSVExport.write(a.registry, to: dir, options: ExportOptions()) { _ in }
        let b = try InterchangeRegistry(clinic: "EXCHANGE-B")
        let before = try b.databaseBytes()
        let planned = try b.importFile(dir, format: .csv, dryRun: true)
        #expect(planned.inserted[.patient] == 30)
        let after = try b.databaseBytes()
        #expect(after.main == before.main && after.wal == before.wal)

        // Repeat the second follow-up row: both places are named.
        let path = dir + "/follow_ups.csv"
        var rows = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\r\n")
        rows.insert(rows[2], at: rows.count - 1)
        try Data(rows.joined(separator: "\r\n").utf8).write(to: URL(fileURLWithPath: path))
        let (problems, total) = importProblems { try b.importFile(dir, format: .csv) }
        #expect(total == 1, "\(problems)")
        #expect(problems.first?.location == "follow_ups.csv row \(rows.count - 1)", "\(problems)")
        #expect(problems.first?.reason.contains("as follow_ups.csv row 3 (id)") == true, "\(problems)")
        #expect(try b.counts()[.patient] == 0)
    }

    @Test func deidentifiedCSVImportsIntoAnEmptyRegistry() throws {
        let a = try InterchangeRegistry()
        try InterchangeCohort.populate(a.registry, patients: 40, seed: 19)
        let dir = a.file("deid")
        _ = try CSVExport.write(a.registry, to: dir, options: ExportOptions(deidentified: true)) { _ in }
        let b = try InterchangeRegistry(clinic: "RESEARCH")
        let summary = try b.importFile(dir, format: .csv)
        #expect(summary.inserted[.patient] == 40)
        #expect(try b.counts()[.identity] == 0)
        #expect(try b.counts()[.followUp] == a.counts()[.followUp])
        #expect(
            try Self.normalised(b.exportJSONL())
                == Self.normalised(a.exportJSONL("deid.jsonl", options: ExportOptions(deidentified: true))))
    }

    @Test func anMRNChangeMovesTheLinkageKeyAndAPseudonymousPatientGetsNoIdentity() throws {
        let (a, ids) = try InterchangeExportTests.exampleRegistry()
        let line = #"{"patient":{"id":"\#(ids["p"]!)","mrn":"MM00777","sex":"female","birthYear":1956}}"#
        let summary = try a.importLines([line])
        #expect(summary.updated[.patient] == 1)
        #expect(try a.registry.read { try $0.patientIdentity(id: ids["p"]!) }?.mrn == "MM00777")
        #expect(try a.registry.read { try $0.require(Patient.self, id: ids["p"]!) }.linkageKey == a.registry.linkageKey(mrn: "MM00777"))

        // A patient whose identity is not held here cannot be given one by import.
        let remote = "01900000-0000-7000-8000-0000000000ab"
        try a.importLines([#"{"patient":{"id":"\#(remote)","sex":"male","birthYear":1950}}"#], name: "remote.jsonl")
        #expect(try a.registry.read { try $0.patientIdentity(id: remote) } == nil)
        #expect(try a.registry.read { try $0.require(Patient.self, id: remote) }.linkageKey == nil)
        let (problems, _) = importProblems {
            try a.importLines([#"{"patient":{"id":"\#(remote)","mrn":"MM00778","sex":"male","birthYear":1950}}"#], name: "r2.jsonl")
        }
        #expect(problems.first?.field == "patient.mrn" && problems.first?.reason.contains("registered at another clinic") == true, "\(problems)")
    }

    @Test func csvPatientsWithoutIdsAreMatchedByMRN() throws {
        let (a, ids) = try InterchangeExportTests.exampleRegistry()
        let dir = a.file("mrn")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try Data("mrn,sex,birthYear\r\nMM00165,female,1956\r\nMM00900,male,1949\r\n".utf8)
            .write(to: URL(fileURLWithPath: dir + "/patients.csv"))
        let summary = try a.importFile(dir, format: .csv)
        // The stored patient also has a name and birth date: given without them, they are cleared.
        #expect(summary.updated[.patient] == 1 && summary.inserted[.patient] == 1, "\(summary)")
        #expect(try a.registry.read { try $0.patientIdentity(id: ids["p"]!) }?.name == nil)
        let again = try a.importFile(dir, format: .csv)
        #expect(again.unchanged[.patient] == 2 && again.inserted.isEmpty && again.updated.isEmpty)
    }
}
