import RegistryCore
import RegistryStore

/// A cohort report as published: the figures of ``CohortStatistics`` with small cells
/// suppressed. Its JSON form is a contract (camelCase keys, percents 0–100).
public struct CohortReport: Sendable, Encodable {
    public var patients: Cell
    public var cases: Cell
    public var emd: EMD
    public var sites: Sites
    public var survival: SurvivalSection
    /// The suppression threshold in force, or nil when every count is shown.
    public var minCell: Int?

    /// A count as shown: the number, "<N" for a small cell, or "suppressed" for a cell
    /// hidden so that a small one cannot be recovered by subtraction.
    public enum Cell: Sendable, Hashable, Encodable, CustomStringConvertible {
        case count(Int)
        case small(Int)
        case complementary

        public var value: Int? { if case .count(let n) = self { n } else { nil } }

        public var description: String {
            switch self {
            case .count(let n): String(n)
            case .small(let n): "<\(n)"
            case .complementary: "suppressed"
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            if let v = value { try c.encode(v) } else { try c.encode(description) }
        }
    }

    public struct Share: Sendable, Encodable {
        public var count: Cell
        public var percent: Double?
        public var ci95: [Double]?

        enum CodingKeys: CodingKey { case count, percent, ci95 }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(count, forKey: .count)
            try c.encode(percent, forKey: .percent)
            if ci95 != nil { try c.encode(ci95, forKey: .ci95) }
        }
    }

    public struct EMD: Sendable, Encodable {
        public var total: Share
        public var atDiagnosis: Share
        public var duringCourse: Share
        public var timeToEmdMonths: Range
    }

    public struct Range: Sendable, Encodable {
        public var median: Double?
        public var min: Double?
        public var max: Double?

        enum CodingKeys: CodingKey { case median, min, max }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(median, forKey: .median)
            try c.encode(min, forKey: .min)
            try c.encode(max, forKey: .max)
        }
    }

    public struct Sites: Sendable, Encodable {
        public var byCategory: [String: Cell]
        public var byRegion: [String: Cell]
        public var axialPatients: Share
        public var biopsyConfirmed: Share
    }

    public struct SurvivalSection: Sendable, Encodable {
        public var overall: SurvivalSummary
        public var emd: SurvivalSummary
        public var noEmd: SurvivalSummary
        public var fromEmd: SurvivalSummary
        public var logRankP: Double?

        enum CodingKeys: CodingKey { case overall, emd, noEmd, fromEmd, logRankP }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(overall, forKey: .overall)
            try c.encode(emd, forKey: .emd)
            try c.encode(noEmd, forKey: .noEmd)
            try c.encode(fromEmd, forKey: .fromEmd)
            try c.encode(logRankP, forKey: .logRankP)
        }
    }

    public struct SurvivalSummary: Sendable, Encodable {
        public var n: Cell
        public var events: Cell
        public var medianMonths: Double?
        /// [lower, upper] of the median (log-log); either may be null when the band never crosses 0.5.
        public var ci95: [Double?]?
        public var at1y: Double?
        public var at3y: Double?
        public var at5y: Double?
        /// The Kaplan–Meier curve for charts; not part of the JSON contract.
        public var curve: KaplanMeier?

        enum CodingKeys: String, CodingKey { case n, events, medianMonths, ci95, at1y, at3y, at5y }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(n, forKey: .n)
            try c.encode(events, forKey: .events)
            try c.encode(medianMonths, forKey: .medianMonths)
            try c.encode(ci95, forKey: .ci95)
            try c.encode(at1y, forKey: .at1y)
            try c.encode(at3y, forKey: .at3y)
            try c.encode(at5y, forKey: .at5y)
        }
    }

    /// Builds the published report, suppressing counts from 1 to `minCell` − 1 (and enough
    /// neighbours that none can be recovered by subtraction) when `minCell` is set.
    public init(_ s: CohortStatistics, minCell: Int?) {
        let threshold = (minCell ?? 0) > 1 ? minCell : nil
        self.minCell = threshold
        var counts: [String: Int] = [
            "patients": s.patients, "cases": s.cases, "emd.total": s.emdTotal, "emd.atDiagnosis": s.emdAtDiagnosis,
            "emd.duringCourse": s.emdDuringCourse, "axial": s.axialPatients, "biopsy": s.biopsyConfirmedPatients,
        ]
        for c in SiteCategory.allCases { counts["category." + c.rawValue] = s.sitesByCategory[c, default: 0] }
        for r in BodyRegion.allCases { counts["region." + r.rawValue] = s.sitesByRegion[r, default: 0] }
        let groups: [(String, [SurvivalObservation])] = [
            ("overall", s.survival.overall), ("emd", s.survival.emd), ("noEmd", s.survival.noEmd),
            ("fromEmd", s.survival.fromEmd),
        ]
        for (name, obs) in groups {
            counts["\(name).n"] = obs.count
            counts["\(name).events"] = obs.filter(\.event).count
        }
        // Totals and their parts: one hidden part alone could be recovered by subtraction.
        let relations: [[String]] = [
            ["emd.total", "emd.atDiagnosis", "emd.duringCourse"],
            SiteCategory.allCases.map { "category." + $0.rawValue } + BodyRegion.allCases.map { "region." + $0.rawValue },
            ["overall.n", "emd.n", "noEmd.n"],
            ["overall.events", "emd.events", "noEmd.events"],
        ]
        let cells = SmallCells.suppress(counts, relations: relations, minCell: threshold)
        func share(_ key: String, of total: String, ci: Bool = false) -> Share {
            let count = cells[key]!
            guard let n = count.value, let d = cells[total]!.value, d > 0 else { return Share(count: count) }
            let interval = ci ? WilsonInterval.ci95(successes: n, total: d).map { [rounded($0.low * 100), rounded($0.high * 100)] } : nil
            return Share(count: count, percent: rounded(Double(n) / Double(d) * 100), ci95: interval)
        }
        patients = cells["patients"]!
        cases = cells["cases"]!
        let later = cells["emd.duringCourse"]!.value != nil
        emd = EMD(
            total: share("emd.total", of: "patients", ci: true), atDiagnosis: share("emd.atDiagnosis", of: "patients"),
            duringCourse: share("emd.duringCourse", of: "patients"),
            timeToEmdMonths: later
                ? Range(
                    median: Median.of(s.monthsToEmd).map(rounded), min: s.monthsToEmd.min().map(rounded),
                    max: s.monthsToEmd.max().map(rounded))
                : Range())
        sites = Sites(
            byCategory: Dictionary(uniqueKeysWithValues: SiteCategory.allCases.map { ($0.rawValue, cells["category." + $0.rawValue]!) }),
            byRegion: Dictionary(uniqueKeysWithValues: BodyRegion.allCases.map { ($0.rawValue, cells["region." + $0.rawValue]!) }),
            axialPatients: share("axial", of: "emd.total"), biopsyConfirmed: share("biopsy", of: "emd.total"))
        func summary(_ name: String, _ obs: [SurvivalObservation]) -> SurvivalSummary {
            let n = cells["\(name).n"]!
            let events = cells["\(name).events"]!
            guard n.value != nil, !obs.isEmpty else { return SurvivalSummary(n: n, events: events) }
            let km = KaplanMeier(obs)
            func at(_ months: Double) -> Double? { km.at(months).map { rounded($0.survival * 100) } }
            return SurvivalSummary(
                n: n, events: events, medianMonths: km.median.map(rounded),
                ci95: km.median == nil ? nil : [km.medianCI95.lower.map(rounded), km.medianCI95.upper.map(rounded)],
                at1y: at(12), at3y: at(36), at5y: at(60), curve: km)
        }
        let emdSummary = summary("emd", s.survival.emd)
        let noEmdSummary = summary("noEmd", s.survival.noEmd)
        let p =
            emdSummary.n.value != nil && noEmdSummary.n.value != nil
            ? LogRank.test(groupA: s.survival.emd, groupB: s.survival.noEmd)?.pValue : nil
        survival = SurvivalSection(
            overall: summary("overall", s.survival.overall), emd: emdSummary, noEmd: noEmdSummary,
            fromEmd: summary("fromEmd", s.survival.fromEmd), logRankP: p.map { ($0 * 1e6).rounded() / 1e6 })
    }
}

/// Rounds to 4 decimals: enough for any published figure, stable in JSON.
func rounded(_ x: Double) -> Double { (x * 10_000).rounded() / 10_000 }

/// Small-cell suppression: primary (1 … N−1 shown as "<N") and complementary (within every
/// relation of a total and its parts, never exactly one hidden cell).
enum SmallCells {
    static func suppress(_ counts: [String: Int], relations: [[String]], minCell: Int?) -> [String: CohortReport.Cell] {
        guard let n = minCell else { return counts.mapValues { .count($0) } }
        var cells = counts.mapValues { (1..<n).contains($0) ? CohortReport.Cell.small(n) : .count($0) }
        var changed = true
        while changed {
            changed = false
            for relation in relations {
                let hidden = relation.filter { cells[$0]!.value == nil }
                guard hidden.count == 1 else { continue }
                // Hide the smallest visible neighbour: the least information lost.
                let visible = relation.filter { cells[$0]!.value != nil }
                guard let pick = visible.min(by: { (counts[$0]! == 0 ? 1 : 0, counts[$0]!) < (counts[$1]! == 0 ? 1 : 0, counts[$1]!) })
                else { continue }
                cells[pick] = .complementary
                changed = true
            }
        }
        return cells
    }
}
