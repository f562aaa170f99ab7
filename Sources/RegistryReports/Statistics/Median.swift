/// Median of plain values such as ages or tumour sizes (for survival use `KaplanMeier.median`,
/// which accounts for censoring).
public enum Median {
    /// The middle value, or the mean of the two middle values for an even count; nil when empty.
    /// - Precondition: no NaN, which has no place in an ordering.
    public static func of(_ values: [Double]) -> Double? {
        precondition(!values.contains { $0.isNaN }, "median of NaN is undefined")
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }
}
