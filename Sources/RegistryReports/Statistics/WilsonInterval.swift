/// Wilson score interval for a proportion, used for cohort percentages ("13 % developed EMD").
///
/// Chosen over the Wald interval because registry subgroups are small and proportions often
/// near 0 or 1, where Wald collapses to zero width or leaves [0, 1].
public enum WilsonInterval {
    /// 95 % interval as proportions in [0, 1]; nil for `total == 0`, because a proportion of
    /// nobody is unknown rather than 0 % and a report should print it as "n/a".
    /// - Precondition: `0 <= successes <= total`.
    public static func ci95(successes: Int, total: Int) -> (low: Double, high: Double)? {
        precondition(successes >= 0 && successes <= total, "need 0 <= successes <= total")
        guard total > 0 else { return nil }
        // The upper limit is the mirrored lower limit of the failures, so k/n and (n-k)/n
        // get mirror-image intervals and n/n ends exactly at 1.
        return (lowerLimit(successes, total), 1 - lowerLimit(total - successes, total))
    }

    private static func lowerLimit(_ successes: Int, _ total: Int) -> Double {
        // Exact at 0; the formula would leave rounding noise around it.
        guard successes > 0 else { return 0 }
        let n = Double(total), p = Double(successes) / n
        let z = normalQuantile975, zz = z * z
        let denominator = 1 + zz / n
        let centre = (p + zz / (2 * n)) / denominator
        return centre - z / denominator * (p * (1 - p) / n + zz / (4 * n * n)).squareRoot()
    }
}
