import Foundation
import RegistryCore
import RegistryStore
import Testing

@testable import RegistryReports

/// A generated myeloma cohort with known truth, logged through the store like case entry.
struct GeneratedCohort {
    var directory: String
    var registry: Registry
    /// Survival truth computed from the generated values, independently of the report code.
    var emd: [SurvivalObservation] = []
    var noEmd: [SurvivalObservation] = []
    var fromEmd: [SurvivalObservation] = []
    var emdAtDiagnosis = 0
    var emdDuringCourse = 0
    var patients = 0

    init(patients count: Int, seed: UInt64) throws {
        directory = NSTemporaryDirectory() + "emreg-cohort-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        registry = try Registry.create(at: directory + "/r.sqlite", clinic: "GEN", author: "test")
        var rng = SplitMix64(seed: seed)
        let today = CalendarDay("2026-01-01")!
        let regions = BodyRegion.allCases
        var truth = self
        try registry.write { tx in
            for i in 0..<count {
                let birth = 1935 + Int(rng.next() % 35)
                let p = try tx.addPatient(
                    Patient(sex: i % 2 == 0 ? .female : .male, birthYear: birth), identity: PatientIdentity(patientId: "", mrn: "G\(i)"))
                let dx = CalendarDay("2005-01-01")!.adding(days: Int(rng.next() % 5000))
                let c = try tx.addCase(ClinicalCase(patientId: p.id, diagnosis: .multipleMyeloma, diagnosedOn: dx, icd10: "C90.0"))
                truth.patients += 1
                let roll = rng.next() % 100
                var siteDay: Int?
                if roll < 8 {
                    siteDay = Int(rng.next() % 25)
                    truth.emdAtDiagnosis += 1
                } else if roll < 16 {
                    siteDay = 60 + Int(rng.next() % 1500)
                    truth.emdDuringCourse += 1
                }
                // EMD shortens survival in this generator, so the log-rank test has something to find.
                let horizon = dx.days(to: today)
                var endDay = Int(rng.next() % UInt64(siteDay == nil ? 4000 : 2200)) + (siteDay ?? 0) + 1
                let died = rng.next() % 100 < (siteDay == nil ? 45 : 70) && endDay < horizon
                endDay = min(endDay, horizon)
                if let d = siteDay, d > endDay { endDay = d }
                if let d = siteDay {
                    let region = regions[Int(rng.next() % UInt64(regions.count))]
                    let s = try tx.addSite(
                        ExtramedullarySite(
                            caseId: c.id, detectedOn: dx.adding(days: d), timing: .atDiagnosis,
                            category: rng.next() % 3 == 0 ? .paraskeletal : .extraosseous, region: region),
                        deriveTiming: true)
                    if rng.next() % 2 == 0 {
                        try tx.addBiopsy(Biopsy(caseId: c.id, siteId: s.id, performedOn: dx.adding(days: d), procedure: .coreNeedle))
                    }
                }
                // A few follow-ups; only the last one (or the death) matters for survival.
                let visits = 1 + Int(rng.next() % 3)
                for v in 1...visits {
                    let day = v == visits ? endDay : endDay * v / (visits + 1)
                    try tx.addFollowUp(
                        FollowUp(caseId: c.id, on: dx.adding(days: day), vitalStatus: v == visits && died ? .dead : .alive))
                }
                let months = Double(endDay) / 30.4375
                let o = SurvivalObservation(time: months, event: died)
                if let d = siteDay {
                    truth.emd.append(o)
                    truth.fromEmd.append(SurvivalObservation(time: Double(endDay - d) / 30.4375, event: died))
                } else {
                    truth.noEmd.append(o)
                }
            }
        }
        self = truth
    }

    func cleanUp() { try? FileManager.default.removeItem(atPath: directory) }
}


/// Runs a Python snippet with scipy; a missing interpreter or scipy fails the test.
func python(_ script: String, input: Data) throws -> [String: Any] {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["python3", "-c", script]
    let inPipe = Pipe(), outPipe = Pipe(), errPipe = Pipe()
    p.standardInput = inPipe
    p.standardOutput = outPipe
    p.standardError = errPipe
    try p.run()
    inPipe.fileHandleForWriting.write(input)
    try inPipe.fileHandleForWriting.close()
    let out = outPipe.fileHandleForReading.readDataToEndOfFile()
    let err = errPipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    #expect(p.terminationStatus == 0, "python failed: \(String(decoding: err, as: UTF8.self))")
    return try #require(try JSONSerialization.jsonObject(with: out) as? [String: Any])
}

struct CohortReportTests {
    static let scipy = """
        import json, sys, numpy as np, warnings
        from scipy import stats
        warnings.simplefilter("ignore", RuntimeWarning)
        spec = json.load(sys.stdin)
        def cd(g):
            t = np.asarray(g["t"], float); e = np.asarray(g["e"], bool)
            return stats.CensoredData(uncensored=t[e], right=t[~e])
        def first_half(times, values):
            hits = np.flatnonzero(values <= 0.5 + 1.5e-8)
            return float(times[hits[0]]) if hits.size else None
        def describe(g):
            sf = stats.ecdf(cd(g)).sf
            band = sf.confidence_interval(method="log-log")
            return {"median": first_half(sf.quantiles, sf.probabilities),
                    "lower": first_half(band.low.quantiles, band.low.probabilities),
                    "upper": first_half(band.high.quantiles, band.high.probabilities),
                    "at": [float(v) * 100 for v in sf.evaluate([12, 36, 60])]}
        out = {k: describe(spec[k]) for k in ("emd", "noEmd", "fromEmd")}
        out["p"] = float(stats.logrank(x=cd(spec["emd"]), y=cd(spec["noEmd"])).pvalue)
        ci = stats.binomtest(spec["k"], spec["n"]).proportion_ci(method="wilson")
        out["wilson"] = [ci.low * 100, ci.high * 100]
        print(json.dumps(out))
        """

    @Test(arguments: [UInt64(1), 2, 3])
    func reportMatchesScipyOnAGeneratedCohort(seed: UInt64) throws {
        let g = try GeneratedCohort(patients: 600, seed: seed)
        defer { g.cleanUp() }
        let report = CohortReport(try CohortStatistics.compute(g.registry, selection: CohortSelection()), minCell: nil)
        #expect(report.patients == .count(g.patients))
        #expect(report.emd.atDiagnosis.count == .count(g.emdAtDiagnosis))
        #expect(report.emd.duringCourse.count == .count(g.emdDuringCourse))
        func group(_ o: [SurvivalObservation]) -> [String: Any] { ["t": o.map(\.time), "e": o.map(\.event)] }
        let spec: [String: Any] = [
            "emd": group(g.emd), "noEmd": group(g.noEmd), "fromEmd": group(g.fromEmd),
            "k": g.emdAtDiagnosis + g.emdDuringCourse, "n": g.patients,
        ]
        let ref = try python(Self.scipy, input: try JSONSerialization.data(withJSONObject: spec))
        func close(_ a: Double?, _ b: Any?, _ label: String) {
            let expected = b as? Double
            #expect((a == nil) == (expected == nil), "\(label): \(String(describing: a)) vs \(String(describing: expected))")
            if let a, let expected { #expect(abs(a - expected) < 1e-3, "\(label): \(a) vs \(expected)") }
        }
        for (name, summary) in [("emd", report.survival.emd), ("noEmd", report.survival.noEmd), ("fromEmd", report.survival.fromEmd)] {
            let r = try #require(ref[name] as? [String: Any])
            close(summary.medianMonths, r["median"], "\(name) median")
            close(summary.ci95?[0], r["lower"], "\(name) median lower")
            close(summary.ci95?[1], r["upper"], "\(name) median upper")
            let at = try #require(r["at"] as? [Double])
            close(summary.at1y, at[0], "\(name) 1y")
            close(summary.at3y, at[1], "\(name) 3y")
            close(summary.at5y, at[2], "\(name) 5y")
        }
        let p = try #require(report.survival.logRankP)
        let expectedP = try #require(ref["p"] as? Double)
        #expect(abs(p - expectedP) <= max(1e-6, expectedP * 1e-6), "log-rank p \(p) vs \(expectedP)")
        let wilson = try #require(ref["wilson"] as? [Double])
        let ci = try #require(report.emd.total.ci95)
        #expect(abs(ci[0] - wilson[0]) < 1e-3 && abs(ci[1] - wilson[1]) < 1e-3, "\(ci) vs \(wilson)")
    }

    @Test func aHiddenCountCannotBeRecoveredBySubtraction() throws {
        var s = CohortStatistics()
        s.patients = 200
        s.cases = 210
        s.emdAtDiagnosis = 3
        s.emdDuringCourse = 20
        s.sitesByCategory = [.extraosseous: 25, .paraskeletal: 4]
        s.sitesByRegion = [.thorax: 14, .skin: 12, .liver: 3]
        s.axialPatients = 12
        s.biopsyConfirmedPatients = 15
        s.survival.emd = (0..<23).map { SurvivalObservation(time: Double($0 * 3), event: $0 % 2 == 0) }
        s.survival.noEmd = (0..<170).map { SurvivalObservation(time: Double($0), event: $0 % 3 == 0) }
        s.survival.overall = s.survival.emd + s.survival.noEmd
        s.survival.fromEmd = (0..<7).map { SurvivalObservation(time: Double($0 * 4), event: true) }
        let r = CohortReport(s, minCell: 11)
        #expect(r.emd.atDiagnosis.count == .small(11))
        #expect(r.emd.atDiagnosis.percent == nil)
        // total = atDiagnosis + duringCourse: a second one of them must be hidden too.
        let hiddenEMD = [r.emd.total.count, r.emd.atDiagnosis.count, r.emd.duringCourse.count].filter { $0.value == nil }
        #expect(hiddenEMD.count >= 2)
        // categories and regions sum to the same total: no lone hidden cell among them.
        let siteCells = Array(r.sites.byCategory.values) + Array(r.sites.byRegion.values)
        #expect(siteCells.filter { $0.value == nil }.count >= 2)
        #expect(r.sites.byCategory["paraskeletal"] == .small(11) && r.sites.byRegion["liver"] == .small(11))
        #expect(r.survival.fromEmd.n == .small(11) && r.survival.fromEmd.medianMonths == nil && r.survival.fromEmd.curve == nil)
        // 0 is shown as 0, not hidden
        #expect(r.sites.byRegion["pleura"] == .count(0))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = String(decoding: try encoder.encode(r), as: UTF8.self)
        #expect(json.contains(#""atDiagnosis":{"count":"<11","percent":null}"#))
        #expect(json.contains("suppressed"))
        // Without a threshold every count is shown.
        let open = CohortReport(s, minCell: nil)
        #expect(open.emd.atDiagnosis.count == .count(3) && open.emd.total.count == .count(23))
    }

    @Test func renderingsFitTheirMedium() throws {
        let g = try GeneratedCohort(patients: 150, seed: 9)
        defer { g.cleanUp() }
        let stats = try CohortStatistics.compute(g.registry, selection: CohortSelection())
        for minCell in [nil, 11] {
            let r = CohortReport(stats, minCell: minCell)
            let table = CohortText.table(r, title: "EMD cohort report — all diagnoses")
            for line in table.split(separator: "\n") { #expect(line.count <= 80, "too wide: \(line)") }
            let html = CohortHTML.render(r, title: "report <test>")
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("<svg") && html.contains("<style>"))
            #expect(!html.contains("<script") && !html.contains("<link") && !html.contains("src="))
            #expect(html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("http") == false)
            #expect(html.contains("report &lt;test&gt;") && html.contains("at risk"))
            let csv = CohortText.csv(r)
            #expect(csv.hasPrefix("section,item,count,percent,detail\r\n"))
            let md = CohortText.markdown(r, title: "t")
            #expect(md.contains("| --- | --- | ---: | ---: | --- |"))
        }
    }

    @Test func selectionFiltersByDiagnosisAndDate() throws {
        let g = try GeneratedCohort(patients: 80, seed: 4)
        defer { g.cleanUp() }
        let all = try CohortStatistics.compute(g.registry, selection: CohortSelection())
        #expect(all.patients == 80)
        let none = try CohortStatistics.compute(g.registry, selection: CohortSelection(diagnosis: .polycythemiaVera))
        #expect(none.patients == 0 && none.survival.overall.isEmpty)
        let early = try CohortStatistics.compute(
            g.registry, selection: CohortSelection(diagnosedTo: CalendarDay("2010-12-31")!))
        let late = try CohortStatistics.compute(
            g.registry, selection: CohortSelection(diagnosedFrom: CalendarDay("2011-01-01")!))
        #expect(early.patients + late.patients == 80 && early.patients > 0 && late.patients > 0)
    }
}
