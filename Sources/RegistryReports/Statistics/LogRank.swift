/// Two-group log-rank (Mantel–Cox) test, the comparison behind "median survival with vs without EMD".
public enum LogRank {
    /// The chi-square statistic (1 df) and its two-sided p-value, as `scipy.stats.logrank`
    /// (whose `statistic` is the signed square root of `chiSquare`).
    ///
    /// Returns nil when the test is undefined: its variance is zero, which happens exactly when no
    /// death occurred while both groups had someone at risk (a group is empty, nobody died, ...).
    public static func test(groupA: [SurvivalObservation], groupB: [SurvivalObservation])
        -> (chiSquare: Double, pValue: Double)?
    {
        // The pooled curve supplies, per distinct death time, the total at risk and deaths;
        // group A's curve supplies its own number at risk there.
        let pooled = KaplanMeier(groupA + groupB)
        let curveA = KaplanMeier(groupA)
        var expectedA = 0.0, variance = 0.0
        for step in pooled.steps where step.events > 0 {
            let n = Double(step.atRisk), d = Double(step.events)
            let nA = Double(curveA.atRisk(at: step.time))
            expectedA += nA * (d / n)
            // Hypergeometric variance; its n - 1 denominator vanishes only when the term itself is 0.
            if step.atRisk > 1 { variance += nA * (n - nA) * d * (n - d) / (n * n * (n - 1)) }
        }
        guard variance > 0 else { return nil }
        let observedA = Double(groupA.count { $0.event })
        let chiSquare = (observedA - expectedA) * (observedA - expectedA) / variance
        return (chiSquare, chiSquareOneDFUpperTail(chiSquare))
    }
}
