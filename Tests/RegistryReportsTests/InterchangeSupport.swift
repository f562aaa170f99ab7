import Foundation
import RegistryCore
import RegistryStore
import Testing

@testable import RegistryReports

/// A registry in a fresh temporary directory for the interchange tests, removed at the end.
final class InterchangeRegistry {
    let directory: String
    let path: String
    let registry: Registry
    static let secret: [UInt8] = Array(repeating: 7, count: 32)

    init(clinic: String = "EXCHANGE-A", secret: [UInt8] = InterchangeRegistry.secret) throws {
        directory = NSTemporaryDirectory() + "emreg-interchange-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        path = directory + "/registry.sqlite"
        registry = try Registry.create(at: path, clinic: clinic, author: "interchange-test", linkageSecret: secret)
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func file(_ name: String) -> String { directory + "/" + name }

    /// The main database file and its WAL: what "the database is unchanged" compares.
    func databaseBytes() throws -> (main: Data, wal: Data?) {
        (try Data(contentsOf: URL(fileURLWithPath: path)), FileManager.default.contents(atPath: path + "-wal"))
    }

    func changeCount() throws -> Int { try registry.read { try $0.changeCount() } }

    func counts() throws -> [Entity: Int] { try registry.read { try $0.counts() } }

    /// Every live case as `case show` sees it, by id, plus each patient's identity.
    func snapshot() throws -> (cases: [String: CaseDetail], identities: [String: PatientIdentity]) {
        try registry.read { r in
            var cases = [String: CaseDetail]()
            for c in try r.cases() { cases[c.id] = try r.caseDetail(id: c.id) }
            var identities = [String: PatientIdentity]()
            try r.forEachPatient { b in identities[b.patient.id] = b.identity }
            return (cases, identities)
        }
    }

    func exportJSONL(_ name: String = "out.jsonl", options: ExportOptions = ExportOptions()) throws -> Data {
        let output = file(name)
        try? FileManager.default.removeItem(atPath: output)
        _ = try JSONLinesExport.write(registry, to: output, options: options) { _ in }
        return try Data(contentsOf: URL(fileURLWithPath: output))
    }

    @discardableResult
    func importFile(_ path: String, format: Importer.Format = .jsonl, dryRun: Bool = false) throws -> ImportSummary {
        try Importer.run(registry, path: path, format: format, dryRun: dryRun) { _, _ in }
    }

    /// Writes `lines` as a jsonl file and imports it.
    @discardableResult
    func importLines(_ lines: [String], name: String = "in.jsonl", dryRun: Bool = false) throws -> ImportSummary {
        let p = file(name)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: p))
        return try importFile(p, dryRun: dryRun)
    }
}

/// Runs `body` and returns the import problems it was refused with (recording an issue if it was not).
func importProblems(
    sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void
) -> (problems: [ImportProblem], total: Int) {
    do {
        try body()
        Issue.record("the import was not refused", sourceLocation: sourceLocation)
    } catch ReportError.invalidImport(let problems, let total) {
        return (problems, total)
    } catch {
        Issue.record("refused with \(error), not a list of problems", sourceLocation: sourceLocation)
    }
    return ([], 0)
}

/// A deterministic cohort covering what the interchange must carry: identities with commas,
/// quotes and non-ASCII, patients without identity, every optional field present and absent,
/// sites of both categories, biopsies with and without a site, findings with line breaks.
enum InterchangeCohort {
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
        mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }
    }

    static let diagnoses: [Diagnosis] = [
        .multipleMyeloma, .multipleMyeloma, .multipleMyeloma, .extramedullaryPlasmacytoma, .solitaryPlasmacytomaOfBone,
        .plasmaCellLeukemia, .primaryMyelofibrosis, .other,
    ]

    static let softTissue = ["C49.2", "C44.7", "C07.9", "C77.0", "C49.0", "C22.0"]

    /// MRNs, names and birth dates of the cohort: what de-identified output must not contain.
    struct Identifiers {
        var mrns = [String]()
        var names = [String]()
        var birthDates = [String]()
        var ids = [String]()
    }

    @discardableResult
    static func populate(_ registry: Registry, patients: Int, seed: UInt64 = 1) throws -> Identifiers {
        var random = Random(state: seed)
        var out = Identifiers()
        try registry.write { tx in
            for n in 0..<patients {
                let birthYear = 1930 + random.below(60)
                var p = Patient(sex: random.pick([Sex.female, .male, .male, .other, .unknown]), birthYear: birthYear)
                if n % 7 == 3 {
                    p = try tx.addPseudonymousPatient(p)
                } else {
                    let mrn = "MRN-\(seed)-\(100_000 + n)"
                    let name: String? =
                        n % 5 == 0 ? nil : random.pick(["Doe, Jane", "O'Brien \"Ob\" Smith", "Zoë Müller", "Li Wei"]) + " \(n)"
                    let birthDate = n % 4 == 0 ? nil : CalendarDay("\(birthYear)-0\(1 + random.below(9))-1\(random.below(9))")!
                    p = try tx.addPatient(p, identity: PatientIdentity(patientId: "", mrn: mrn, name: name, birthDate: birthDate))
                    out.mrns.append(mrn)
                    if let name { out.names.append(name) }
                    if let birthDate { out.birthDates.append(birthDate.description) }
                }
                out.ids.append(p.id)
                for _ in 0..<(1 + (random.chance(15) ? 1 : 0)) {
                    let diagnosis = random.pick(diagnoses)
                    let diagnosedOn = CalendarDay("2006-01-01")!.adding(days: random.below(6500))
                    let c = try tx.addCase(
                        ClinicalCase(
                            patientId: p.id, diagnosis: diagnosis, diagnosedOn: diagnosedOn,
                            icd10: random.chance(80) ? ICD10Code.defaultCode(for: diagnosis) : nil,
                            morphology: random.chance(70) ? Morphology.expected(for: diagnosis).first : nil))
                    out.ids.append(c.id)
                    var siteIds = [(String, SiteCategory)]()
                    if random.chance(35) {
                        for _ in 0..<(1 + random.below(2)) {
                            let paraskeletal = random.chance(30)
                            let s = try tx.addSite(
                                ExtramedullarySite(
                                    caseId: c.id, detectedOn: diagnosedOn.adding(days: random.chance(50) ? random.below(20) : random.below(900)),
                                    timing: .atDiagnosis, category: paraskeletal ? .paraskeletal : .extraosseous,
                                    region: random.pick(BodyRegion.allCases),
                                    topography: random.chance(80) ? (paraskeletal ? "C41.2" : random.pick(softTissue)) : nil,
                                    laterality: random.chance(60) ? random.pick(Laterality.allCases) : nil,
                                    sizeMm: random.chance(70) ? 5 + random.below(120) : nil,
                                    imaging: random.chance(75) ? random.pick(Imaging.allCases) : nil),
                                deriveTiming: true)
                            siteIds.append((s.id, s.category))
                            out.ids.append(s.id)
                        }
                    }
                    if let (site, category) = siteIds.first, random.chance(70) {
                        let b = try tx.addBiopsy(
                            Biopsy(
                                caseId: c.id, siteId: site, performedOn: diagnosedOn.adding(days: 3 + random.below(30)),
                                procedure: random.pick([.coreNeedle, .excisional, .fineNeedleAspiration]),
                                morphology: category == .extraosseous ? "9734/3" : nil,
                                finding: random.chance(50) ? "CD138+, lambda-restricted;\nsheets of \"plasma\" cells, 40 %" : nil))
                        out.ids.append(b.id)
                    }
                    if random.chance(40) {
                        let b = try tx.addBiopsy(
                            Biopsy(caseId: c.id, performedOn: diagnosedOn.adding(days: random.below(10)), procedure: .boneMarrow,
                                   morphology: diagnosis == .multipleMyeloma ? "9732/3" : nil, finding: random.chance(30) ? "hypercellular" : nil))
                        out.ids.append(b.id)
                    }
                    var on = diagnosedOn
                    for k in 0..<random.below(4) {
                        on = on.adding(days: 30 + random.below(400))
                        if on > CalendarDay("2025-12-31")! { break }
                        let f = try tx.addFollowUp(
                            FollowUp(
                                caseId: c.id, on: on, vitalStatus: k == 2 && random.chance(50) ? .dead : .alive,
                                diseaseStatus: random.chance(80) ? random.pick(DiseaseStatus.allCases) : nil))
                        out.ids.append(f.id)
                    }
                }
            }
        }
        return out
    }
}

extension Data {
    func contains(text: String) -> Bool { range(of: Data(text.utf8)) != nil }
}
