import Foundation
import RegistryCore
import RegistryStore
import Testing

@testable import RegistryReports

@Suite struct InterchangeExportTests {
    /// The issue's example line, built through the registry and exported.
    static func exampleRegistry() throws -> (InterchangeRegistry, [String: String]) {
        let r = try InterchangeRegistry()
        var ids = [String: String]()
        try r.registry.write { tx in
            let p = try tx.addPatient(
                Patient(sex: .female, birthYear: 1956),
                identity: PatientIdentity(patientId: "", mrn: "MM00165", name: "Ada Testperson", birthDate: CalendarDay("1956-03-14")))
            let c = try tx.addCase(
                ClinicalCase(patientId: p.id, diagnosis: .multipleMyeloma, diagnosedOn: CalendarDay("2012-04-16")!, icd10: "C90.00", morphology: "9732/3"))
            let s = try tx.addSite(
                ExtramedullarySite(
                    caseId: c.id, detectedOn: CalendarDay("2012-04-16")!, timing: .atDiagnosis, category: .extraosseous, region: .skin,
                    topography: "C44.7", laterality: .left, sizeMm: 39, imaging: .mri))
            let b = try tx.addBiopsy(
                Biopsy(caseId: c.id, siteId: s.id, performedOn: CalendarDay("2012-04-19")!, procedure: .coreNeedle, morphology: "9734/3",
                       finding: "sheets of \"plasma\" cells"))
            let f = try tx.addFollowUp(FollowUp(caseId: c.id, on: CalendarDay("2014-01-02")!, vitalStatus: .dead, diseaseStatus: .relapse))
            let bare = try tx.addFollowUp(FollowUp(caseId: c.id, on: CalendarDay("2013-01-02")!, vitalStatus: .alive))
            ids = ["p": p.id, "c": c.id, "s": s.id, "b": b.id, "f": f.id, "bare": bare.id]
        }
        return (r, ids)
    }

    @Test func jsonlLineHasTheIssuesShapeAndKeyOrder() throws {
        let (r, ids) = try Self.exampleRegistry()
        let text = String(decoding: try r.exportJSONL(), as: UTF8.self)
        let expected =
            #"{"patient":{"id":"\#(ids["p"]!)","mrn":"MM00165","name":"Ada Testperson","birthDate":"1956-03-14","sex":"female","birthYear":1956},"#
            + #""cases":[{"id":"\#(ids["c"]!)","diagnosis":"multiple-myeloma","diagnosedOn":"2012-04-16","icd10":"C90.00","morphology":"9732/3","#
            + #""sites":[{"id":"\#(ids["s"]!)","detectedOn":"2012-04-16","timing":"at-diagnosis","category":"extraosseous","region":"skin","topography":"C44.7","laterality":"left","sizeMm":39,"imaging":"mri"}],"#
            + #""biopsies":[{"id":"\#(ids["b"]!)","siteId":"\#(ids["s"]!)","performedOn":"2012-04-19","procedure":"core-needle","morphology":"9734/3","finding":"sheets of \"plasma\" cells"}],"#
            + #""followUps":[{"id":"\#(ids["f"]!)","on":"2014-01-02","vitalStatus":"dead","diseaseStatus":"relapse"},"#
            + #"{"id":"\#(ids["bare"]!)","on":"2013-01-02","vitalStatus":"alive"}]}]}"# + "\n"
        #expect(text == expected)
        // It is JSON the strict parser reads back.
        #expect(try JSON.parse(String(text.dropLast()))["cases"]?.array?.count == 1)
    }

    @Test func exportIsDeterministicStreamsAndReportsProgress() throws {
        let r = try InterchangeRegistry()
        try InterchangeCohort.populate(r.registry, patients: 120)
        var progressed = 0
        let count = try JSONLinesExport.write(r.registry, to: r.file("a.jsonl"), options: ExportOptions()) { progressed += $0 }
        #expect(count == 120 && progressed == 120)
        let a = try Data(contentsOf: URL(fileURLWithPath: r.file("a.jsonl")))
        #expect(try r.exportJSONL("b.jsonl") == a)
        #expect(a.split(separator: UInt8(ascii: "\n")).count == 120)
        #expect(!FileManager.default.fileExists(atPath: r.file("a.jsonl.partial")))
        // Patients in id order, one per line.
        let ids = a.split(separator: UInt8(ascii: "\n")).map { try! JSON.parse(bytes: Array($0))["patient"]!["id"]!.string! }
        #expect(ids == ids.sorted())
    }

    @Test func diagnosisFilterKeepsOnlyThoseCases() throws {
        let r = try InterchangeRegistry()
        try InterchangeCohort.populate(r.registry, patients: 80)
        let data = try r.exportJSONL(options: ExportOptions(diagnosis: .extramedullaryPlasmacytoma))
        let lines = data.split(separator: UInt8(ascii: "\n")).map { try! JSON.parse(bytes: Array($0)) }
        let expected = try r.registry.read { try $0.patientCount(diagnosis: .extramedullaryPlasmacytoma) }
        #expect(lines.count == expected && expected > 0)
        for line in lines {
            for c in line["cases"]!.array! { #expect(c["diagnosis"]?.string == "extramedullary-plasmacytoma") }
        }
    }

    /// De-identified: no MRN, name, birth date or original id anywhere in the bytes; every
    /// interval from diagnosis (to follow-ups, sites, biopsies) exactly preserved.
    @Test func deidentifiedJSONLHidesIdentifiersAndPreservesIntervals() throws {
        let r = try InterchangeRegistry()
        let known = try InterchangeCohort.populate(r.registry, patients: 150)
        let data = try r.exportJSONL(options: ExportOptions(deidentified: true))
        for value in known.mrns + known.names + known.birthDates + known.ids {
            #expect(!data.contains(text: value), "\(value) leaked")
        }
        #expect(!data.contains(text: "\"mrn\"") && !data.contains(text: "\"name\"") && !data.contains(text: "birthDate"))

        let d = Deidentifier(linkageSecret: InterchangeRegistry.secret)
        let exported = try Self.casesByID(data)
        let original = try r.snapshot().cases
        #expect(exported.count == original.count)
        var intervals = 0
        var shifted = 0
        for (id, detail) in original {
            let c = try #require(exported[d.pseudonym(id)], "case \(id) missing")
            let diagnosedOn = CalendarDay(c["diagnosedOn"]!.string!)!
            if diagnosedOn != detail.clinicalCase.diagnosedOn { shifted += 1 }
            #expect(
                diagnosedOn.days(to: detail.clinicalCase.diagnosedOn)
                    == -d.dayShift(patientId: detail.patient.id))
            func days(_ list: String, _ key: String) -> [String: Int] {
                var out = [String: Int]()
                for item in c[list]?.array ?? [] {
                    out[item["id"]!.string!] = diagnosedOn.days(to: CalendarDay(item[key]!.string!)!)
                }
                return out
            }
            let follow = days("followUps", "on")
            for f in detail.followUps {
                #expect(follow[d.pseudonym(f.id)] == detail.clinicalCase.diagnosedOn.days(to: f.on))
                intervals += 1
            }
            let sites = days("sites", "detectedOn")
            for s in detail.sites {
                #expect(sites[d.pseudonym(s.id)] == detail.clinicalCase.diagnosedOn.days(to: s.detectedOn))
                intervals += 1
            }
            let biopsies = days("biopsies", "performedOn")
            for b in detail.biopsies {
                #expect(biopsies[d.pseudonym(b.id)] == detail.clinicalCase.diagnosedOn.days(to: b.performedOn))
            }
            // Biopsies still point at their (pseudonymous) site.
            for b in detail.biopsies where b.siteId != nil {
                let exportedBiopsy = c["biopsies"]!.array!.first { $0["id"]?.string == d.pseudonym(b.id) }
                #expect(exportedBiopsy?["siteId"]?.string == d.pseudonym(b.siteId!))
            }
        }
        #expect(intervals > 100)
        #expect(shifted == original.count, "every patient's dates are shifted")
        // Stable: the same registry gives the same pseudonyms and shifts.
        #expect(try r.exportJSONL("again.jsonl", options: ExportOptions(deidentified: true)) == data)
    }

    static func casesByID(_ data: Data) throws -> [String: JSON] {
        var out = [String: JSON]()
        for line in data.split(separator: UInt8(ascii: "\n")) {
            for c in try JSON.parse(bytes: Array(line))["cases"]?.array ?? [] { out[c["id"]!.string!] = c }
        }
        return out
    }

    // MARK: CSV

    static func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    @Test func csvDirectoryHasOneRFC4180FilePerEntityAndADictionary() throws {
        let (r, ids) = try Self.exampleRegistry()
        let out = r.file("csv")
        let written = try CSVExport.write(r.registry, to: out, options: ExportOptions()) { _ in }
        #expect(written == 1)
        let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
        #expect(names == ["biopsies.csv", "cases.csv", "data-dictionary.csv", "follow_ups.csv", "patients.csv", "sites.csv"])
        #expect(!FileManager.default.fileExists(atPath: out + ".partial"))
        #expect(
            try Self.read(out + "/patients.csv")
                == "id,mrn,name,birthDate,sex,birthYear\r\n\(ids["p"]!),MM00165,Ada Testperson,1956-03-14,female,1956\r\n")
        #expect(
            try Self.read(out + "/cases.csv")
                == "id,patientId,diagnosis,diagnosedOn,icd10,morphology\r\n\(ids["c"]!),\(ids["p"]!),multiple-myeloma,2012-04-16,C90.00,9732/3\r\n")
        #expect(
            try Self.read(out + "/sites.csv")
                == "id,caseId,detectedOn,timing,category,region,topography,laterality,sizeMm,imaging\r\n"
                + "\(ids["s"]!),\(ids["c"]!),2012-04-16,at-diagnosis,extraosseous,skin,C44.7,left,39,mri\r\n")
        #expect(
            try Self.read(out + "/biopsies.csv")
                == "id,caseId,siteId,performedOn,procedure,morphology,finding\r\n"
                + "\(ids["b"]!),\(ids["c"]!),\(ids["s"]!),2012-04-19,core-needle,9734/3,\"sheets of \"\"plasma\"\" cells\"\r\n")
        #expect(
            try Self.read(out + "/follow_ups.csv")
                == "id,caseId,on,vitalStatus,diseaseStatus\r\n\(ids["f"]!),\(ids["c"]!),2014-01-02,dead,relapse\r\n"
                + "\(ids["bare"]!),\(ids["c"]!),2013-01-02,alive,\r\n")
    }

    @Test func csvQuotingFollowsRFC4180() {
        var out = [UInt8]()
        CSVEncoding.appendRow(["plain", "a,b", "say \"hi\"", "two\nlines", "cr\r", "", "Zoë"], to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",,Zoë\r\n")
    }

    @Test func dataDictionaryCoversEveryColumnFromTheVocabularies() throws {
        let (r, _) = try Self.exampleRegistry()
        let out = r.file("csv")
        _ = try CSVExport.write(r.registry, to: out, options: ExportOptions()) { _ in }
        let rows = DataDictionary.rows(deidentified: false)
        for entity in Interchange.entities {
            let fields = rows.filter { $0.file == Interchange.fileName(entity) }.map(\.field)
            #expect(fields == Interchange.columns(entity))
        }
        for row in rows {
            #expect(!row.meaning.isEmpty, "\(row.file) \(row.field) has no meaning")
            #expect(!row.allowed.isEmpty, "\(row.file) \(row.field) has no allowed values")
        }
        #expect(rows.first { $0.field == "region" }?.allowed == BodyRegion.acceptedList)
        #expect(rows.first { $0.field == "procedure" }?.allowed == BiopsyProcedure.acceptedList)
        #expect(rows.first { $0.field == "diagnosis" }?.type == "code, required")
        // The file is those rows, quoted where needed, and parses back.
        let reader = try CSVReader(path: out + "/data-dictionary.csv")
        guard case .fields(let header) = try reader.next() else { Issue.record("no header"); return }
        #expect(header == DataDictionary.header)
        var parsed = [[String]]()
        while case .fields(let f) = try reader.next() { parsed.append(f) }
        #expect(parsed == rows.map(\.cells))
        #expect(!DataDictionary.rows(deidentified: true).contains { $0.field == "mrn" || $0.field == "name" || $0.field == "birthDate" })
    }

    @Test func csvRefusesANonEmptyDirectoryAndWritesIntoAnEmptyOne() throws {
        let (r, _) = try Self.exampleRegistry()
        let out = r.file("taken")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
        do {
            _ = try CSVExport.write(r.registry, to: out, options: ExportOptions()) { _ in }
            Issue.record("a non-empty directory was written into")
        } catch let e as ReportError {
            #expect(e.description.contains("not empty"), "\(e)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["notes.txt"])
        #expect(!FileManager.default.fileExists(atPath: out + ".partial"))

        let empty = r.file("empty")
        try FileManager.default.createDirectory(atPath: empty, withIntermediateDirectories: true)
        #expect(try CSVExport.write(r.registry, to: empty + "/", options: ExportOptions()) { _ in } == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: empty).count == 6)
    }

    @Test func deidentifiedCSVHasNoIdentifierColumnsOrValues() throws {
        let r = try InterchangeRegistry()
        let known = try InterchangeCohort.populate(r.registry, patients: 60)
        let out = r.file("deid")
        _ = try CSVExport.write(r.registry, to: out, options: ExportOptions(deidentified: true)) { _ in }
        #expect(try Self.read(out + "/patients.csv").hasPrefix("id,sex,birthYear\r\n"))
        for name in try FileManager.default.contentsOfDirectory(atPath: out) {
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/" + name))
            for value in known.mrns + known.names + known.birthDates + known.ids {
                #expect(!data.contains(text: value), "\(value) leaked into \(name)")
            }
        }
    }
}
