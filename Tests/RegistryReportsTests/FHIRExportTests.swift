import Foundation
import RegistryCore
import RegistryStore
import Testing

@testable import RegistryReports

/// The FHIR export against a real registry, checked by an independent validator:
/// `scripts/validate_fhir.py` parses the bundle with the `fhir.resources` R4B models and
/// resolves every reference. A missing python3 or fhir.resources fails these tests.
@Suite struct FHIRExportTests {
    @Test func validatesWithFhirResourcesAndCountsMatchTheRegistry() throws {
        let fixture = try FHIRFixture()
        let output = fixture.directory + "/bundle.json"
        var progressed = 0
        let written = try FHIRExport.write(fixture.registry, to: output, options: ExportOptions()) { progressed += $0 }
        #expect(written == 5)
        #expect(progressed == 5)

        let summary = try FHIRValidator.run(output)
        let counts = try fixture.registry.read { try $0.counts() }
        #expect(counts[.patient] == 5 && counts[.clinicalCase] == 5 && counts[.site] == 4)
        #expect(counts[.biopsy] == 4 && counts[.followUp] == 5)
        let expected = try fixture.expectedResources()
        #expect(summary.resources == expected)
        #expect(expected["Patient"] == counts[.patient])
        #expect(expected["BodyStructure"] == counts[.site])
        #expect(expected["Procedure"] == counts[.biopsy] && expected["Specimen"] == counts[.biopsy])
        #expect(expected["Condition"] == counts[.clinicalCase]! + counts[.site]!)
        #expect(summary.references > 50)

        // Spot checks of the mapping.
        let bundle = try FHIRBundle(path: output)
        let ada = try #require(bundle.resource(fixture.ada))
        #expect(ada["birthDate"]?.string == "1956-03-14")
        #expect(ada["gender"]?.string == "female")
        #expect(ada["deceasedBoolean"] == .bool(true))
        #expect(ada["identifier"]?.array?.first?["value"]?.string == "MM00165")
        #expect(ada["identifier"]?.array?.first?["system"]?.string == "urn:emreg:mrn:FHIR-TEST")
        #expect(ada["name"]?.array?.first?["text"]?.string == "Ada Testperson")

        let remote = try #require(bundle.resource(fixture.withoutIdentity))
        #expect(remote["birthDate"]?.string == "1951")
        #expect(remote["identifier"] == nil && remote["name"] == nil)
        #expect(bundle.resource(fixture.otherSex)?["gender"]?.string == "other")
        #expect(bundle.resource(fixture.unknownSex)?["gender"]?.string == "unknown")

        let myeloma = try #require(bundle.resource(fixture.adaCase))
        #expect(myeloma["onsetDateTime"]?.string == "2012-04-16")
        #expect(
            Self.codes(myeloma["code"]) == [
                "http://hl7.org/fhir/sid/icd-10|C90.00", "http://terminology.hl7.org/CodeSystem/icd-o-3|9732/3",
                "urn:emreg:codesystem:diagnosis|multiple-myeloma",
            ])
        // Ada's latest disease status (relapse) is the case's clinical status.
        #expect(
            Self.codes(myeloma["clinicalStatus"]) == [
                "http://terminology.hl7.org/CodeSystem/condition-clinical|relapse"
            ])

        let skin = try #require(bundle.resource(fixture.skinSite))
        #expect(skin["resourceType"]?.string == "BodyStructure")
        #expect(Self.codes(skin["location"]) == ["http://terminology.hl7.org/CodeSystem/icd-o-3|C44.7"])
        #expect(Self.codes(skin["locationQualifier"]?.array?.first) == ["http://snomed.info/sct|7771000"])
        #expect(Self.codes(skin["morphology"]) == ["http://terminology.hl7.org/CodeSystem/icd-o-3|9734/3"])
        let skinEMD = try #require(
            bundle.resources(ofType: "Condition").first { condition in
                condition["bodySite"]?.array?.first?["extension"]?.array?.first?["valueReference"]?["reference"]?.string
                    == "urn:uuid:" + fixture.skinSite
            })
        #expect(Self.codes(skinEMD["code"]) == ["urn:emreg:codesystem:emd-category|extraosseous"])
        #expect(
            Self.codes(skinEMD["bodySite"]?.array?.first) == ["http://terminology.hl7.org/CodeSystem/icd-o-3|C44.7"])
        #expect(skinEMD["onsetDateTime"]?.string == "2012-04-20")
        #expect(
            skinEMD["extension"]?.array?.contains {
                $0["url"]?.string == "urn:emreg:extension:emd-timing"
                    && $0["valueCoding"]?["code"]?.string == "at-diagnosis"
            } == true)
        let spine = try #require(
            bundle.resources(ofType: "Condition").first { condition in
                condition["bodySite"]?.array?.first?["extension"]?.array?.first?["valueReference"]?["reference"]?.string
                    == "urn:uuid:" + fixture.spineSite
            })
        #expect(Self.codes(spine["code"]) == ["urn:emreg:codesystem:emd-category|paraskeletal"])
        #expect(spine["extension"]?.array?.contains { $0["valueCoding"]?["code"]?.string == "during-course" } == true)

        let size = try #require(
            bundle.resources(ofType: "Observation").first {
                Self.codes($0["code"]).first == "http://loinc.org|21889-1" && $0["valueQuantity"]?["value"] == .int(39)
            })
        #expect(size["valueQuantity"]?["code"]?.string == "mm")

        let marrow = try #require(bundle.resource(fixture.marrowBiopsy))
        #expect(marrow["status"]?.string == "completed")
        #expect(marrow["performedDateTime"]?.string == "2012-04-17")
        #expect(Self.codes(marrow["bodySite"]?.array?.first) == ["http://terminology.hl7.org/CodeSystem/icd-o-3|C42.1"])
        #expect(marrow["reasonReference"]?.array == [.object(["reference": .string("urn:uuid:" + fixture.adaCase)])])

        let death = try #require(bundle.resource(fixture.adaDeath))
        #expect(Self.codes(death["code"]) == ["http://loinc.org|75186-7"])
        #expect(Self.codes(death["valueCodeableConcept"]) == ["http://snomed.info/sct|419099009"])
        #expect(death["effectiveDateTime"]?.string == "2014-01-02")
        let alive = try #require(bundle.resource(fixture.adaAlive))
        #expect(Self.codes(alive["valueCodeableConcept"]) == ["http://snomed.info/sct|438949009"])
    }

    @Test func deidentifiedExportHasNoIdentifiersAndKeepsIntervals() throws {
        let fixture = try FHIRFixture()
        let identified = fixture.directory + "/identified.json"
        let output = fixture.directory + "/deidentified.json"
        _ = try FHIRExport.write(fixture.registry, to: identified, options: ExportOptions()) { _ in }
        let written = try FHIRExport.write(fixture.registry, to: output, options: ExportOptions(deidentified: true)) {
            _ in
        }
        #expect(written == 5)
        let summary = try FHIRValidator.run(output)
        #expect(summary.resources == (try fixture.expectedResources()))

        let text = try String(contentsOfFile: output, encoding: .utf8)
        for secret in fixture.identifiers {
            #expect(!text.contains(secret), "de-identified export contains '\(secret)'")
        }
        let originalIds = try fixture.allIds() + FHIRBundle(path: identified).ids
        #expect(originalIds.count > 40)
        let lowered = text.lowercased()
        for id in originalIds {
            #expect(!lowered.contains(id.lowercased()), "de-identified export contains the id \(id)")
        }
        #expect(!text.contains("\"identifier\"") && !text.contains("\"name\""))

        let bundle = try FHIRBundle(path: output)
        let deidentifier = Deidentifier(linkageSecret: try fixture.registry.read { try $0.linkageSecret() })
        for patient in bundle.resources(ofType: "Patient") {
            #expect(patient["birthDate"]?.string?.count == 4)
        }
        #expect(bundle.resource(deidentifier.pseudonym(fixture.ada))?["birthDate"]?.string == "1956")

        // Every date moved, every interval kept: diagnosis → each follow-up, detection, biopsy.
        try fixture.registry.read { reader in
            try reader.forEachPatient { record in
                let shift = deidentifier.dayShift(patientId: record.patient.id)
                #expect(shift != 0)
                for detail in record.cases {
                    let c = detail.clinicalCase
                    let condition = try #require(bundle.resource(deidentifier.pseudonym(c.id)))
                    let onset = try #require(condition["onsetDateTime"]?.string.flatMap(CalendarDay.init))
                    #expect(onset != c.diagnosedOn)
                    #expect(onset == c.diagnosedOn.adding(days: shift))
                    for f in detail.followUps {
                        let observation = try #require(bundle.resource(deidentifier.pseudonym(f.id)))
                        let on = try #require(observation["effectiveDateTime"]?.string.flatMap(CalendarDay.init))
                        #expect(onset.days(to: on) == c.diagnosedOn.days(to: f.on), "diagnosis → follow-up interval")
                    }
                    for b in detail.biopsies {
                        let procedure = try #require(bundle.resource(deidentifier.pseudonym(b.id)))
                        let on = try #require(procedure["performedDateTime"]?.string.flatMap(CalendarDay.init))
                        #expect(onset.days(to: on) == c.diagnosedOn.days(to: b.performedOn))
                    }
                }
            }
        }
        // Stable: the same registry exports the same pseudonymous bundle again.
        let again = fixture.directory + "/deidentified-again.json"
        _ = try FHIRExport.write(fixture.registry, to: again, options: ExportOptions(deidentified: true)) { _ in }
        #expect(try String(contentsOfFile: again, encoding: .utf8) == text)
    }

    @Test func emptyRegistryIsAValidBundle() throws {
        let fixture = try FHIRFixture(seeded: false)
        let output = fixture.directory + "/empty.json"
        let written = try FHIRExport.write(fixture.registry, to: output, options: ExportOptions()) { _ in }
        #expect(written == 0)
        let summary = try FHIRValidator.run(output)
        #expect(summary.entries == 0 && summary.resources.isEmpty)
        #expect(
            try String(contentsOfFile: output, encoding: .utf8)
                == "{\"resourceType\":\"Bundle\",\"type\":\"collection\"}\n")
    }

    @Test func diagnosisFilterKeepsOnlyThoseCasesAndStaysValid() throws {
        let fixture = try FHIRFixture()
        let output = fixture.directory + "/myeloma.json"
        let written = try FHIRExport.write(
            fixture.registry, to: output, options: ExportOptions(diagnosis: .multipleMyeloma)
        ) { _ in }
        #expect(written == 2)
        let summary = try FHIRValidator.run(output)
        #expect(summary.resources["Patient"] == 2)
        let bundle = try FHIRBundle(path: output)
        let diagnoses = bundle.resources(ofType: "Condition").flatMap { Self.codes($0["code"]) }
            .filter { $0.hasPrefix("urn:emreg:codesystem:diagnosis|") }
        #expect(Set(diagnoses) == ["urn:emreg:codesystem:diagnosis|multiple-myeloma"])
    }

    @Test func aFailedExportLeavesNoFile() throws {
        let fixture = try FHIRFixture(seeded: false)
        let output = fixture.directory + "/missing-directory/bundle.json"
        #expect(throws: ReportError.self) {
            try FHIRExport.write(fixture.registry, to: output, options: ExportOptions()) { _ in }
        }
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    /// The validator is not a rubber stamp: each kind of defect makes it exit non-zero.
    @Test func validatorRejectsBrokenBundles() throws {
        let fixture = try FHIRFixture()
        let output = fixture.directory + "/bundle.json"
        _ = try FHIRExport.write(fixture.registry, to: output, options: ExportOptions()) { _ in }
        let text = try String(contentsOfFile: output, encoding: .utf8)
        let subject = "\"subject\":{\"reference\":\"urn:uuid:" + fixture.ada + "\"}"
        let broken = [
            "dangling reference": text.replacingOccurrences(
                of: subject, with: "\"subject\":{\"reference\":\"urn:uuid:00000000-0000-4000-8000-000000000000\"}"),
            "impossible date": text.replacingOccurrences(
                of: "\"onsetDateTime\":\"2012-04-16\"", with: "\"onsetDateTime\":\"2012-13-16\""),
            "unknown element": text.replacingOccurrences(
                of: "\"gender\":\"female\"", with: "\"gender\":\"female\",\"sex\":\"f\""),
            "code outside the binding": text.replacingOccurrences(
                of: "\"gender\":\"other\"", with: "\"gender\":\"diverse\""),
            "missing required status": text.replacingOccurrences(of: "\"status\":\"completed\",", with: ""),
            "empty entry array": "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[]}",
        ]
        for (defect, bundle) in broken {
            #expect(bundle != text, "\(defect): the fixture did not contain what the test replaces")
            let path = fixture.directory + "/broken.json"
            try bundle.write(toFile: path, atomically: true, encoding: .utf8)
            let (status, report) = try FHIRValidator.execute(path)
            #expect(status == 1, "\(defect): validator exited \(status): \(String(decoding: report, as: UTF8.self))")
        }
    }

    /// "system|code" of every coding of a CodeableConcept.
    static func codes(_ concept: JSON?) -> [String] {
        (concept?["coding"]?.array ?? []).map { ($0["system"]?.string ?? "") + "|" + ($0["code"]?.string ?? "") }
    }
}

/// Five patients covering what the mapping has to carry: myeloma with EMD at diagnosis and
/// later, extraosseous and paraskeletal sites, biopsies with and without a site, alive and dead
/// follow-ups, a patient whose identity is not held here, and every kind of sex.
final class FHIRFixture {
    let directory: String
    let registry: Registry
    var ada = "", adaCase = "", skinSite = "", spineSite = "", marrowBiopsy = "", adaAlive = "", adaDeath = ""
    var withoutIdentity = "", otherSex = "", unknownSex = ""
    /// MRNs, names and full birth dates that a de-identified export must not contain.
    let identifiers = [
        "MM00165", "MM00166", "MM00167", "MM00168", "MM00169", "Ada Testperson", "Bert Example",
        "1956-03-14", "1948-11-02",
    ]

    init(seeded: Bool = true) throws {
        directory = NSTemporaryDirectory() + "emreg-fhir-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        registry = try Registry.create(at: directory + "/registry.sqlite", clinic: "FHIR-TEST", author: "fhir-test")
        if seeded { try seed() }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func seed() throws {
        func day(_ text: String) -> CalendarDay { CalendarDay(text)! }
        let ids = self
        try registry.write { tx in
            // Myeloma with an extraosseous skin site at diagnosis and a paraskeletal spine site later.
            let ada = try tx.addPatient(
                Patient(sex: .female, birthYear: 1956),
                identity: PatientIdentity(
                    patientId: "", mrn: "MM00165", name: "Ada Testperson", birthDate: day("1956-03-14")))
            let mm = try tx.addCase(
                ClinicalCase(
                    patientId: ada.id, diagnosis: .multipleMyeloma, diagnosedOn: day("2012-04-16"), icd10: "C90.00",
                    morphology: "9732/3"))
            let skin = try tx.addSite(
                ExtramedullarySite(
                    caseId: mm.id, detectedOn: day("2012-04-20"), timing: .atDiagnosis, category: .extraosseous,
                    region: .skin, topography: "C44.7", laterality: .left, sizeMm: 39, imaging: .mri),
                deriveTiming: true)
            let spine = try tx.addSite(
                ExtramedullarySite(
                    caseId: mm.id, detectedOn: day("2013-02-01"), timing: .duringCourse, category: .paraskeletal,
                    region: .paravertebral, topography: "C41.2", laterality: .midline, imaging: .petCt),
                deriveTiming: true)
            try tx.addBiopsy(
                Biopsy(
                    caseId: mm.id, siteId: skin.id, performedOn: day("2012-04-19"), procedure: .coreNeedle,
                    morphology: "9734/3", finding: "CD138-positive plasma cell infiltrate"))
            let marrow = try tx.addBiopsy(
                Biopsy(
                    caseId: mm.id, performedOn: day("2012-04-17"), procedure: .boneMarrow,
                    morphology: "9732/3", finding: "40 % clonal plasma cells"))
            let alive = try tx.addFollowUp(
                FollowUp(caseId: mm.id, on: day("2013-01-10"), vitalStatus: .alive, diseaseStatus: .stable))
            let dead = try tx.addFollowUp(
                FollowUp(caseId: mm.id, on: day("2014-01-02"), vitalStatus: .dead, diseaseStatus: .relapse))
            ids.ada = ada.id; ids.adaCase = mm.id; ids.skinSite = skin.id; ids.spineSite = spine.id
            ids.marrowBiopsy = marrow.id; ids.adaAlive = alive.id; ids.adaDeath = dead.id

            // Myeloma without EMD, alive in remission.
            let bert = try tx.addPatient(
                Patient(sex: .male, birthYear: 1948),
                identity: PatientIdentity(
                    patientId: "", mrn: "MM00166", name: "Bert Example", birthDate: day("1948-11-02")))
            let bertCase = try tx.addCase(
                ClinicalCase(
                    patientId: bert.id, diagnosis: .multipleMyeloma, diagnosedOn: day("2015-09-01"),
                    icd10: "C90.0", morphology: "9732/3"))
            try tx.addFollowUp(
                FollowUp(caseId: bertCase.id, on: day("2018-09-03"), vitalStatus: .alive, diseaseStatus: .remission))

            // Extramedullary plasmacytoma of the parotid; the identity is not held in this registry.
            let remote = try tx.addPatient(
                Patient(sex: .female, birthYear: 1951), identity: PatientIdentity(patientId: "", mrn: "MM00167"))
            let emp = try tx.addCase(
                ClinicalCase(
                    patientId: remote.id, diagnosis: .extramedullaryPlasmacytoma,
                    diagnosedOn: day("2019-06-03"), icd10: "C90.2", morphology: "9734/3"))
            let parotid = try tx.addSite(
                ExtramedullarySite(
                    caseId: emp.id, detectedOn: day("2019-06-03"), timing: .atDiagnosis, category: .extraosseous,
                    region: .headNeck, topography: "C07.9", laterality: .right, sizeMm: 22, imaging: .ct))
            try tx.addBiopsy(
                Biopsy(
                    caseId: emp.id, siteId: parotid.id, performedOn: day("2019-06-10"), procedure: .excisional,
                    morphology: "9734/3", finding: "Extramedullary plasmacytoma, margins clear"))
            try tx.addFollowUp(FollowUp(caseId: emp.id, on: day("2021-02-14"), vitalStatus: .dead))
            try tx.delete(.identity, id: remote.id, reason: "identity held by the referring clinic")

            // Other sex, no birth date, diagnosis "other" without codes, an EMD site without
            // topography, an unsited biopsy without morphology, no follow-up.
            let other = try tx.addPatient(
                Patient(sex: .other, birthYear: 1970), identity: PatientIdentity(patientId: "", mrn: "MM00168"))
            let otherCase = try tx.addCase(
                ClinicalCase(patientId: other.id, diagnosis: .other, diagnosedOn: day("2020-01-15")))
            try tx.addSite(
                ExtramedullarySite(
                    caseId: otherCase.id, detectedOn: day("2020-08-01"), timing: .duringCourse,
                    category: .extraosseous, region: .liver))
            try tx.addBiopsy(
                Biopsy(caseId: otherCase.id, performedOn: day("2020-08-05"), procedure: .fineNeedleAspiration))

            // Unknown sex, myelofibrosis, alive.
            let unknown = try tx.addPatient(
                Patient(sex: .unknown, birthYear: 1944), identity: PatientIdentity(patientId: "", mrn: "MM00169"))
            let pmf = try tx.addCase(
                ClinicalCase(
                    patientId: unknown.id, diagnosis: .primaryMyelofibrosis, diagnosedOn: day("2016-03-01"),
                    icd10: "D47.4", morphology: "9961/3"))
            try tx.addFollowUp(FollowUp(caseId: pmf.id, on: day("2017-03-01"), vitalStatus: .alive))

            ids.withoutIdentity = remote.id; ids.otherSex = other.id; ids.unknownSex = unknown.id
        }
    }

    /// Resources by type, computed from the registry: what the mapping promises.
    func expectedResources() throws -> [String: Int] {
        var out = [String: Int]()
        try registry.read { reader in
            try reader.forEachPatient { record in
                out["Patient", default: 0] += 1
                for d in record.cases {
                    out["Condition", default: 0] += 1 + d.sites.count
                    out["BodyStructure", default: 0] += d.sites.count
                    out["Procedure", default: 0] += d.biopsies.count
                    out["Specimen", default: 0] += d.biopsies.count
                    out["Observation", default: 0] +=
                        d.followUps.count + d.followUps.filter { $0.diseaseStatus != nil }.count
                        + d.sites.filter { $0.sizeMm != nil }.count + d.biopsies.filter { $0.morphology != nil }.count
                }
            }
        }
        return out.filter { $0.value > 0 }
    }

    /// Every registry id: patients, cases, sites, biopsies, follow-ups.
    func allIds() throws -> [String] {
        var out = [String]()
        try registry.read { reader in
            try reader.forEachPatient { record in
                out.append(record.patient.id)
                for d in record.cases {
                    out.append(d.clinicalCase.id)
                    out += d.sites.map(\.id) + d.biopsies.map(\.id) + d.followUps.map(\.id)
                }
            }
        }
        return out
    }
}

/// A bundle file read back for assertions, resources by id.
struct FHIRBundle {
    let byId: [String: JSON]
    let ids: [String]
    let all: [JSON]

    init(path: String) throws {
        let json = try JSON.parse(String(contentsOfFile: path, encoding: .utf8))
        all = (json["entry"]?.array ?? []).compactMap { $0["resource"] }
        ids = all.compactMap { $0["id"]?.string }
        byId = Dictionary(all.map { ($0["id"]?.string ?? "", $0) }, uniquingKeysWith: { first, _ in first })
    }

    func resource(_ id: String) -> JSON? { byId[id] }
    func resources(ofType type: String) -> [JSON] { all.filter { $0["resourceType"]?.string == type } }
}

/// Runs scripts/validate_fhir.py (fhir.resources R4B); a non-zero exit fails the test.
enum FHIRValidator {
    struct Summary: Decodable {
        let valid: Bool
        let entries: Int
        let resources: [String: Int]
        let references: Int
        let errors: [String]
    }

    static func run(_ bundle: String) throws -> Summary {
        let (status, data) = try execute(bundle)
        // A missing python3 or fhir.resources must fail the suite, never silently skip validation.
        try #require(
            status == 0,
            "validate_fhir.py exited \(status) (python3 with fhir.resources R4B is required): \(String(decoding: data, as: UTF8.self))"
        )
        return try JSONDecoder().decode(Summary.self, from: data)
    }

    /// Runs the validator; returns its exit status and standard output.
    static func execute(_ bundle: String) throws -> (Int32, Data) {
        let script = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent()
            .appendingPathComponent("../../scripts/validate_fhir.py").standardized
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, bundle]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, data)
    }
}
