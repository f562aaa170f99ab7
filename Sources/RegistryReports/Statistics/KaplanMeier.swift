import Foundation

/// One patient's follow-up as survival analysis sees it.
public struct SurvivalObservation: Sendable, Hashable {
    /// Months from the start event to death or last contact (the caller converts days / 30.4375).
    public var time: Double
    /// `true` when follow-up ended in death, `false` when the patient was censored alive.
    public var event: Bool

    public init(time: Double, event: Bool) {
        self.time = time
        self.event = event
    }
}

/// Kaplan–Meier survival estimate with Greenwood variance and the log-log 95 % band.
///
/// Conventions follow `scipy.stats.ecdf` so every reported number can be reproduced there:
/// the step function is right-continuous (S at a step time already includes that time's
/// deaths), deaths at a tied time count before censorings at that time, and the band is
/// undefined (nil) where S is 1 or 0 because log(-log S) is.
public struct KaplanMeier: Sendable {
    /// The estimate at one distinct observed time, whether a death or only a censoring happened there.
    public struct Step: Sendable, Hashable {
        public let time: Double
        /// Patients whose follow-up lasted at least `time`.
        public let atRisk: Int
        public let events: Int
        public let censored: Int
        public let survival: Double
        /// Greenwood variance of `survival`; nil once everyone at risk has died (0 · ∞).
        public let variance: Double?
        /// Pointwise 95 % band, log(-log S) transform with Greenwood ("exponential Greenwood").
        public let lower: Double?
        public let upper: Double?
    }

    /// Survival at a chosen time, shaped as a row of a report table.
    public struct Estimate: Sendable, Hashable {
        public let time: Double
        public let survival: Double
        public let lower: Double?
        public let upper: Double?
        /// Patients still followed at `time`, the "number at risk" printed under survival curves.
        public let atRisk: Int
    }

    /// 1, 3 and 5 years, the conventional survival landmarks in haematological oncology.
    public static let landmarkMonths: [Double] = [12, 36, 60]

    public let steps: [Step]
    /// Smallest time where S(t) <= 0.5 (within √ε); nil if survival never falls that far. Where S is
    /// exactly ½ over an interval this is its start (R's `survfit` prints the midpoint to the next death).
    public let median: Double?
    /// Where the band crosses 0.5 (Brookmeyer–Crowley style): the lower limit is the first time the
    /// *lower* band is <= 0.5, the upper limit the first time the *upper* band is, since the lower band
    /// falls first. A limit is nil if its band never gets there, common for the upper one.
    public let medianCI95: (lower: Double?, upper: Double?)

    /// - Precondition: every time is finite and non-negative; a negative follow-up is a data error
    ///   that must be caught before it can silently distort a curve.
    public init(_ observations: [SurvivalObservation]) {
        precondition(observations.allSatisfy { $0.time.isFinite && $0.time >= 0 },
                     "survival times must be finite and non-negative")
        // Each observation as one integer, ordered as (time, event): a non-negative double's bit
        // pattern orders as the number does (+ 0.0 turns -0 into +0), with the event in the
        // lowest bit. Plain integers sort by radix (see radixSorted), many times faster than
        // structs through a closure, and a cohort report sorts a million observations per curve.
        let sorted = radixSorted(observations.map { ($0.time + 0.0).bitPattern << 1 | ($0.event ? 1 : 0) })
        var steps: [Step] = []
        var atRisk = sorted.count
        var survival = 1.0
        var greenwoodSum = 0.0
        var start = sorted.startIndex
        while start < sorted.endIndex {
            let key = sorted[start] >> 1
            let time = Double(bitPattern: key)
            var end = start + 1
            while end < sorted.endIndex, sorted[end] >> 1 == key { end += 1 }
            let events = sorted[start..<end].count { $0 & 1 == 1 }
            // Same operations as scipy's cumprod((n - d) / n), so S matches its censored-data path
            // bit for bit (its uncensored path, 1 - k/n, can differ by an ulp; see halfTolerance).
            survival *= Double(atRisk - events) / Double(atRisk)
            // +∞ when everyone at risk dies, which can only happen at the last step.
            greenwoodSum += Double(events) / Double(atRisk * (atRisk - events))
            steps.append(Step(time: time, atRisk: atRisk, events: events, censored: end - start - events,
                              survival: survival, greenwoodSum: greenwoodSum))
            atRisk -= end - start
            start = end
        }
        self.steps = steps
        median = Self.firstTimeAtOrBelowHalf(steps) { $0.survival }
        medianCI95 = (Self.firstTimeAtOrBelowHalf(steps) { $0.lower },
                      Self.firstTimeAtOrBelowHalf(steps) { $0.upper })
    }

    /// A running product drifts by a few ulps, so a curve that is exactly ½ in exact arithmetic can
    /// land just above it (24 deaths, no censoring: 0.5000000000000001 at the 12th) and push the
    /// median one step late; R's `quantile.survfit` absorbs this with the same √ε tolerance.
    private static let halfTolerance = Double.ulpOfOne.squareRoot()

    /// An undefined band (S = 1 or S = 0) never counts as reaching ½, as scipy's NaN compares false.
    private static func firstTimeAtOrBelowHalf(_ steps: [Step], _ value: (Step) -> Double?) -> Double? {
        steps.first { value($0).map { $0 <= 0.5 + halfTolerance } ?? false }?.time
    }

    /// The step function itself, as `scipy`'s `sf.evaluate`: 1 before the first time (and for no data),
    /// the last value carried forward beyond the last time.
    public func survival(at t: Double) -> Double {
        step(atOrBefore: t)?.survival ?? 1
    }

    /// Survival, band and number at risk at `t` months; nil when follow-up ended (censored) before `t`,
    /// because carrying the last value forward would report a 5-year survival nobody was followed to.
    public func at(_ t: Double) -> Estimate? {
        guard let last = steps.last, t <= last.time || last.survival == 0 else { return nil }
        let step = step(atOrBefore: t)
        return Estimate(time: t, survival: step?.survival ?? 1, lower: step?.lower, upper: step?.upper,
                        atRisk: atRisk(at: t))
    }

    /// Number with follow-up of at least `t`: the at-risk count of the first step at or after `t`.
    func atRisk(at t: Double) -> Int {
        let index = firstIndex { $0.time >= t }
        return index < steps.endIndex ? steps[index].atRisk : 0
    }

    private func step(atOrBefore t: Double) -> Step? {
        let index = firstIndex { $0.time > t }
        return index > steps.startIndex ? steps[index - 1] : nil
    }

    /// Binary search for the first step satisfying a predicate that is monotone in time.
    private func firstIndex(where predicate: (Step) -> Bool) -> Int {
        var low = steps.startIndex, high = steps.endIndex
        while low < high {
            let mid = (low + high) / 2
            if predicate(steps[mid]) { high = mid } else { low = mid + 1 }
        }
        return low
    }
}

extension KaplanMeier.Step {
    init(time: Double, atRisk: Int, events: Int, censored: Int, survival: Double, greenwoodSum: Double) {
        self.time = time
        self.atRisk = atRisk
        self.events = events
        self.censored = censored
        self.survival = survival
        variance = greenwoodSum.isFinite ? survival * survival * greenwoodSum : nil
        guard survival > 0, survival < 1 else {
            (lower, upper) = (nil, nil)
            return
        }
        // Var(log(-log S)) = Σ d/(n(n-d)) / (log S)²; the transform keeps the band inside (0, 1).
        let logS = log(survival)
        let halfWidth = normalQuantile975 * (greenwoodSum / (logS * logS)).squareRoot()
        let centre = log(-logS)
        lower = exp(-exp(centre + halfWidth))
        upper = exp(-exp(centre - halfWidth))
    }
}
