import Foundation

/// Φ⁻¹(0.975), the value scipy's `special.ndtri(0.975)` returns, so bands and intervals match it.
let normalQuantile975 = 1.959963984540054

/// Upper tail of the chi-square distribution with one degree of freedom, P(X >= x).
///
/// Equals erfc(√(x/2)) = Q(½, x/2), the regularized upper incomplete gamma function, evaluated
/// with the series for P below a + 1 and the continued fraction for Q above it (Numerical Recipes
/// §6.2), both of which converge to full double precision there. Relative error stays below 1e-13
/// even for tiny p, where 1 - Φ would lose everything to cancellation.
func chiSquareOneDFUpperTail(_ x: Double) -> Double {
    precondition(x >= 0, "chi-square statistic must be non-negative")
    let a = 0.5, half = x / 2
    let logGammaA = 0.5 * log(Double.pi)
    let prefactor = exp(-half + a * log(half) - logGammaA)
    if half < a + 1 {
        var term = 1 / a, sum = term, denominator = a
        while abs(term) > abs(sum) * Double.ulpOfOne {
            denominator += 1
            term *= half / denominator
            sum += term
        }
        return 1 - prefactor * sum
    }
    // Modified Lentz; `tiny` keeps a vanishing denominator from dividing by zero.
    let tiny = Double.leastNormalMagnitude / Double.ulpOfOne
    var b = half + 1 - a, c = 1 / tiny, d = 1 / b, fraction = d
    for i in 1...1_000 {
        let an = -Double(i) * (Double(i) - a)
        b += 2
        d = an * d + b
        if abs(d) < tiny { d = tiny }
        c = b + an / c
        if abs(c) < tiny { c = tiny }
        d = 1 / d
        let delta = d * c
        fraction *= delta
        if abs(delta - 1) <= Double.ulpOfOne { break }
    }
    return prefactor * fraction
}
