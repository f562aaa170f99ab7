import Foundation
import RegistryCore
import Testing

@testable import RegistryReports

/// Hand-checkable cases; the randomized comparison with scipy lives in SurvivalVsScipyTests.
@Suite struct StatisticsTests {
    /// Freireich et al. (1963) 6-MP arm, the textbook Kaplan–Meier example
    /// (Kleinbaum & Klein, Survival Analysis, ch. 2; R's `survfit(conf.type = "log-log")`).
    static let sixMP = zip([6, 6, 6, 6, 7, 9, 10, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 32, 34, 35],
                           [1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0])
        .map { SurvivalObservation(time: Double($0), event: $1 == 1) }
    static let placebo = [1, 1, 2, 2, 3, 4, 4, 5, 5, 8, 8, 8, 8, 11, 11, 12, 12, 15, 17, 22, 23]
        .map { SurvivalObservation(time: Double($0), event: true) }

    static func observations(_ pairs: [(Double, Bool)]) -> [SurvivalObservation] {
        pairs.map { SurvivalObservation(time: $0.0, event: $0.1) }
    }

    @Test func textbookKaplanMeier() throws {
        let km = KaplanMeier(Self.sixMP)
        #expect(km.steps.map(\.time) == [6, 7, 9, 10, 11, 13, 16, 17, 19, 20, 22, 23, 25, 32, 34, 35])
        let six = try #require(km.steps.first)
        #expect((six.atRisk, six.events, six.censored) == (21, 3, 1))
        // Products of (n - d)/n by hand: 18/21, ·16/17, ·14/15, ·11/12, ·10/11, ·6/7, ·5/6.
        let expected: [(Double, Double)] = [(6, 18.0 / 21), (7, 96.0 / 119), (10, 0.752941), (13, 0.690196),
                                            (16, 0.627451), (22, 0.537815), (23, 0.448179), (35, 0.448179)]
        for (t, s) in expected { #expect(abs(km.survival(at: t) - s) < 1e-6) }
        #expect(km.survival(at: 5.999) == 1)
        // Greenwood SE at 6: (6/7)·sqrt(3/(21·18)) = 0.0764 (Kleinbaum table 2.2).
        #expect(abs(try #require(six.variance).squareRoot() - 0.0764) < 1e-4)
        // R prints 0.620–0.952 for the log-log band at t = 6.
        #expect(abs(try #require(six.lower) - 0.620) < 5e-4)
        #expect(abs(try #require(six.upper) - 0.952) < 5e-4)
        // R: median 23, 0.95LCL 13, 0.95UCL NA.
        #expect(km.median == 23)
        #expect(km.medianCI95.lower == 13)
        #expect(km.medianCI95.upper == nil)
    }

    @Test func textbookLogRank() throws {
        // R: survdiff gives Chisq = 16.8 on 1 df, p = 4.17e-05.
        let result = try #require(LogRank.test(groupA: Self.sixMP, groupB: Self.placebo))
        #expect(abs(result.chiSquare - 16.7929) < 1e-4)
        #expect(abs(result.pValue - 4.1688e-5) < 1e-8)
        let swapped = try #require(LogRank.test(groupA: Self.placebo, groupB: Self.sixMP))
        #expect(abs(swapped.pValue - result.pValue) < 1e-15)
    }

    @Test func logRankOfIdenticalGroupsIsOne() throws {
        let result = try #require(LogRank.test(groupA: Self.sixMP, groupB: Self.sixMP))
        #expect(abs(result.chiSquare) < 1e-12)
        #expect(abs(result.pValue - 1) < 1e-12)
    }

    @Test func logRankIsUndefinedWithoutInformativeDeaths() {
        let censoredOnly = Self.observations([(1, false), (2, false)])
        #expect(LogRank.test(groupA: censoredOnly, groupB: Self.observations([(3, false)])) == nil)
        #expect(LogRank.test(groupA: [], groupB: Self.sixMP) == nil)
        // Both die at the same instant: nobody survives to carry information.
        #expect(LogRank.test(groupA: Self.observations([(1, true)]), groupB: Self.observations([(1, true)])) == nil)
    }

    @Test func deathsCountBeforeCensoringsAtTiedTimes() throws {
        let km = KaplanMeier(Self.observations([(2, true), (1, false), (1, true), (1, true)]))
        let first = try #require(km.steps.first)
        #expect((first.time, first.atRisk, first.events, first.censored) == (1, 4, 2, 1))
        #expect(first.survival == 0.5)
        let last = try #require(km.steps.last)
        #expect((last.atRisk, last.survival, last.variance, last.lower, last.upper) == (1, 0, nil, nil, nil))
        // S reaches exactly 0.5 at t = 1: the median is that time (R would average to 1.5).
        #expect(km.median == 1)
    }

    @Test func medianAtAnExactHalfSurvivesRounding() throws {
        let km = KaplanMeier((1...24).map { SurvivalObservation(time: Double($0), event: true) })
        // 12 of 24 dead is exactly ½, but the running product rounds to 0.5000000000000001.
        #expect(try #require(km.steps.first { $0.time == 12 }).survival > 0.5)
        #expect(km.median == 12)
    }

    @Test func allCensoredNeverReachesTheMedian() {
        let km = KaplanMeier(Self.observations([(3, false), (5, false), (5, false)]))
        #expect(km.steps.allSatisfy { $0.survival == 1 && $0.lower == nil && $0.upper == nil })
        #expect(km.steps.map(\.variance) == [0, 0])
        #expect(km.median == nil)
        #expect(km.medianCI95 == (nil, nil))
        #expect(km.at(12) == nil)
        #expect(km.at(4) == KaplanMeier.Estimate(time: 4, survival: 1, lower: nil, upper: nil, atRisk: 2))
    }

    @Test func emptyAndSingletonCohorts() {
        let empty = KaplanMeier([])
        #expect(empty.steps.isEmpty)
        #expect(empty.survival(at: 12) == 1)
        #expect(empty.at(12) == nil)
        #expect(empty.median == nil)

        let one = KaplanMeier(Self.observations([(7, true)]))
        #expect(one.median == 7)
        #expect(one.medianCI95 == (nil, nil))
        // Everyone has died, so survival stays known (0) past the last time.
        #expect(one.at(60) == KaplanMeier.Estimate(time: 60, survival: 0, lower: nil, upper: nil, atRisk: 0))
    }

    @Test func landmarksAndNumbersAtRisk() throws {
        let km = KaplanMeier(Self.sixMP)
        #expect(KaplanMeier.landmarkMonths == [12, 36, 60])
        let year = try #require(km.at(12))
        #expect(year.survival == km.survival(at: 12))
        #expect(year.atRisk == 12)  // follow-up of at least 12: 13, 16, ..., 35
        #expect(year.lower == km.steps[4].lower)  // the step at 11
        #expect(km.at(35)?.atRisk == 1)
        // Last patient censored at 35: 3- and 5-year survival are not estimable.
        #expect(km.at(36) == nil)
        #expect(km.at(0)?.atRisk == 21)
    }

    @Test func wilsonInterval() throws {
        // By hand: z² = 3.8415, centre = (0.13 + 0.019207) / 1.038415, half-width 0.066116.
        let ci = try #require(WilsonInterval.ci95(successes: 13, total: 100))
        #expect(abs(ci.low - 0.077572) < 1e-6)
        #expect(abs(ci.high - 0.209804) < 1e-6)
        #expect(WilsonInterval.ci95(successes: 0, total: 10)?.low == 0)
        #expect(WilsonInterval.ci95(successes: 10, total: 10)?.high == 1)
        #expect(WilsonInterval.ci95(successes: 0, total: 0) == nil)
    }

    @Test func medianOfValues() {
        #expect(Median.of([]) == nil)
        #expect(Median.of([5]) == 5)
        #expect(Median.of([3, 1, 2]) == 2)
        #expect(Median.of([4, 1, 3, 2]) == 2.5)
    }

    @Test func chiSquareTailMatchesLibmErfc() {
        #expect(chiSquareOneDFUpperTail(0) == 1)
        #expect(abs(chiSquareOneDFUpperTail(3.841458820694124) - 0.05) < 1e-15)
        // Both branches, the switch at x = 3, and deep into the tail where p ~ 1e-300.
        var x = 1e-8
        while x < 1_380 {
            let expected = erfc((x / 2).squareRoot())
            #expect(abs(chiSquareOneDFUpperTail(x) - expected) <= 1e-12 * expected, "x = \(x)")
            x *= 1.07
        }
    }

    /// The radix sort behind Kaplan–Meier against the standard library's sort: full-width keys,
    /// keys sharing most bytes (as packed survival times do), many duplicates, tiny arrays.
    @Test func radixSortMatchesTheStandardSort() {
        var random = SplitMix64(seed: 7)
        let months = (0..<20_000).map { _ in Double(random.next() % 4_000) / 30.4375 }
        let shapes: [[UInt64]] = [
            [], [42], [3, 1, 2], [UInt64.max, 0, UInt64.max, 1],
            (0..<50_000).map { _ in random.next() },
            (0..<50_000).map { _ in random.next() % 7 },
            months.map { $0.bitPattern << 1 | (random.next() & 1) },
        ]
        for keys in shapes { #expect(radixSorted(keys) == keys.sorted(), "\(keys.count) keys") }
    }
}
