import Foundation
import RegistryCore
import Testing

import RegistryReports

/// Randomized cohorts checked against scipy (scripts/survival_reference.py), so the survival
/// numbers in reports are the ones a statistician reproducing them in Python would get.
///
/// One documented convention difference is asserted rather than compared: before a group's first
/// observed time scipy's band evaluates to 1, while `KaplanMeier` reports it undefined (nil), as
/// scipy itself does at every later time where S = 1.
@Suite struct SurvivalVsScipyTests {
    static let tolerance = 1e-6

    @Test func matchesScipy() throws {
        let cases = (1...60).map(Self.makeCase) + [Self.exactHalf]
        let results = try Self.reference(for: cases)
        try #require(results.count == cases.count)
        var tally = Tally()
        for (index, (spec, reference)) in zip(cases, results).enumerated() {
            for (name, group, expected) in [("A", spec.a, reference.a), ("B", spec.b, reference.b)] {
                tally.compare(group: group, with: expected, label: "case \(index + 1) group \(name)")
            }
            let logRank = LogRank.test(groupA: spec.a, groupB: spec.b)
            let statistic = reference.logrank.statistic
            tally.check(logRank?.chiSquare, statistic.map { $0 * $0 }, "case \(index + 1) log-rank chi-square")
            tally.check(logRank?.pValue, reference.logrank.pvalue, "case \(index + 1) log-rank p")
        }
        #expect(tally.comparisons > 1_500)
        print("""
            scipy comparisons: \(tally.comparisons) (\(tally.conventionDifferences) band checks before the first time), \
            max relative difference \(tally.maxRelative) at \(tally.worst)
            """)
    }

    // MARK: Cohorts

    /// Cycles deterministically through sizes, tie granularity and censoring patterns so every
    /// combination that matters appears; the seed drives only the continuous draws.
    static func makeCase(seed: UInt64) -> Case {
        let sizes = [1, 2, 3, 5, 8, 20, 60, 200, 700, 2_000]
        let grains: [Double] = [0, 0.1, 1, 3, 12]  // months; 12 puts ties exactly on the landmarks
        var random = SplitMix64(seed: seed)
        let i = Int(seed)
        let medianA = 6 + 60 * random.unit()
        let hazardRatio = [1, 0.5, 2, 1.2][i % 4]
        func group(size: Int, median: Double, allCensored: Bool) -> [SurvivalObservation] {
            let grain = grains[(i + i / sizes.count) % grains.count]  // shifts each decade: every size meets every grain
            let followUp = [Double.infinity, 24, 72, 150][(i / 5) % 4]
            return (0..<size).map { _ in
                let death = -median * log(random.unit()) / log(2.0)
                let censoring = followUp * random.unit()
                let time = min(death, censoring)
                let rounded = grain > 0 ? (time / grain).rounded() * grain : time
                return SurvivalObservation(time: rounded, event: !allCensored && death <= censoring)
            }
        }
        return Case(a: group(size: sizes[i % sizes.count], median: medianA, allCensored: i % 11 == 0),
                    b: group(size: sizes[(3 * i + 1) % sizes.count], median: medianA / hazardRatio,
                             allCensored: i % 7 == 0))
    }

    /// 12 of 24 dead is exactly ½. scipy computes A by its uncensored branch (1 - 12/24 = 0.5) and
    /// B, with one early censoring, by the Kaplan–Meier product, which rounds above ½ there.
    static let exactHalf: Case = {
        let deaths = (1...24).map { SurvivalObservation(time: Double($0), event: true) }
        return Case(a: deaths, b: deaths + [SurvivalObservation(time: 0.5, event: false)])
    }()

    struct Case {
        let a: [SurvivalObservation]
        let b: [SurvivalObservation]
    }

    // MARK: scipy

    struct Request: Encodable {
        struct Group: Encodable {
            let times: [Double]
            let events: [Bool]
        }

        let landmarks: [Double]
        let cases: [[String: Group]]

        init(_ cases: [Case]) {
            landmarks = KaplanMeier.landmarkMonths
            self.cases = cases.map { spec in
                ["a": spec.a, "b": spec.b].mapValues { Group(times: $0.map(\.time), events: $0.map(\.event)) }
            }
        }
    }

    struct Response: Decodable {
        let results: [Result]
    }

    struct Result: Decodable {
        let a: GroupReference
        let b: GroupReference
        let logrank: LogRankReference
    }

    struct GroupReference: Decodable {
        let survival: [Double]
        let lower: [Double?]
        let upper: [Double?]
        let median: Double?
        let medianLower: Double?
        let medianUpper: Double?
    }

    struct LogRankReference: Decodable {
        let statistic: Double?
        let pvalue: Double?
    }

    static func reference(for cases: [Case]) throws -> [Result] {
        let script = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
            .deletingLastPathComponent()
            .appendingPathComponent("../../scripts/survival_reference.py").standardized
        let input = FileManager.default.temporaryDirectory
            .appendingPathComponent("emreg-survival-\(UUID().uuidString).json")
        try JSONEncoder().encode(Request(cases)).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, input.path]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        // A missing python3 or scipy must fail the suite, never silently skip the comparison.
        try #require(process.terminationStatus == 0, "\(script.path) failed; python3 with scipy is required")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(Response.self, from: data).results
    }

    // MARK: Comparison

    struct Tally {
        var comparisons = 0
        var conventionDifferences = 0
        var maxRelative = 0.0
        var worst = "-"

        mutating func compare(group: [SurvivalObservation], with expected: GroupReference, label: String) {
            let km = KaplanMeier(group)
            for (index, t) in KaplanMeier.landmarkMonths.enumerated() {
                check(km.survival(at: t), expected.survival[index], "\(label) S(\(t))")
                guard let first = km.steps.first, t >= first.time else {
                    #expect(km.at(t)?.lower == nil && km.at(t)?.upper == nil, "\(label) band before first time")
                    #expect(expected.lower[index] == 1 && expected.upper[index] == 1, "\(label) scipy band")
                    conventionDifferences += 1
                    continue
                }
                // Past censored follow-up `at` declines to answer; scipy carries the last step forward.
                let band = km.at(t).map { ($0.lower, $0.upper) } ?? (km.steps.last?.lower, km.steps.last?.upper)
                check(band.0, expected.lower[index], "\(label) lower(\(t))")
                check(band.1, expected.upper[index], "\(label) upper(\(t))")
            }
            check(km.median, expected.median, "\(label) median")
            check(km.medianCI95.lower, expected.medianLower, "\(label) median lower")
            check(km.medianCI95.upper, expected.medianUpper, "\(label) median upper")
        }

        mutating func check(_ actual: Double?, _ expected: Double?, _ label: String) {
            comparisons += 1
            guard let actual, let expected else {
                #expect(actual == nil && expected == nil, "\(label): \(String(describing: actual)) vs scipy \(String(describing: expected))")
                return
            }
            let scale = max(abs(actual), abs(expected))
            let relative = scale == 0 ? 0 : abs(actual - expected) / scale
            #expect(relative <= SurvivalVsScipyTests.tolerance, "\(label): \(actual) vs scipy \(expected)")
            if relative > maxRelative { (maxRelative, worst) = (relative, label) }
        }
    }
}

/// Seeded draws from RegistryCore's SplitMix64: identical on every platform and Swift
/// release, which `SystemRandomNumberGenerator` and `Double.random(in:using:)` do not promise.
extension SplitMix64 {
    /// Uniform on (0, 1]: never 0, so log(unit()) is finite.
    mutating func unit() -> Double {
        Double((next() >> 11) + 1) * 0x1p-53
    }
}
