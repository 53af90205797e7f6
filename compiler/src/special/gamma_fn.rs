//! The logarithm of the gamma function and its derivatives.
//!
//! * `ln_gamma` delegates to `statrs` (a Lanczos approximation).
//! * `polygamma(n, x)` for `n ≥ 1` uses `ψ⁽ⁿ⁾(x) = (−1)ⁿ⁺¹ n! ζ(n + 1, x)`
//!   and evaluates the Hurwitz zeta function by summing the first terms
//!   directly and the tail with the Euler–Maclaurin formula (the method of
//!   Cephes' `zeta`; see also DLMF 25.11.5 and 2.10.1).
//! * `digamma(x)` shifts `x` up with `ψ(x) = ψ(x + 1) − 1/x` and then uses
//!   the asymptotic expansion `ψ(x) ~ ln x − 1/(2x) − Σ B₂ₖ / (2k x²ᵏ)`
//!   (DLMF 5.15.8 / 5.11.2). Near its positive root `x₀ ≈ 1.4616` the
//!   shifted sum cancels to a small number, so there a Taylor series about
//!   the root, with coefficients from `polygamma`, keeps the relative error
//!   small.

use std::f64::consts::PI;
use std::sync::OnceLock;

/// The even Bernoulli numbers `B₂, B₄, …, B₃₀`.
const BERNOULLI_EVEN: [f64; 15] = [
    1.0 / 6.0,
    -1.0 / 30.0,
    1.0 / 42.0,
    -1.0 / 30.0,
    5.0 / 66.0,
    -691.0 / 2730.0,
    7.0 / 6.0,
    -3617.0 / 510.0,
    43867.0 / 798.0,
    -174611.0 / 330.0,
    854513.0 / 138.0,
    -236364091.0 / 2730.0,
    8553103.0 / 6.0,
    -23749461029.0 / 870.0,
    8615841276005.0 / 14322.0,
];

/// `ln Γ(x)` for `x > 0` (and, by reflection, negative non-integers).
///
/// Delegates to `statrs::function::gamma::ln_gamma`, a Lanczos
/// approximation. Measured on 400 log-spaced points of `(1e-3, 1e6)`
/// against 40-digit mpmath values: within `8e-15` absolute (or relative,
/// where `|ln Γ(x)| > 1`);
/// near the roots at 1 and 2 only the absolute error is small, which is what
/// `exp(ln_gamma(x))` needs. At the roots themselves the result is exactly
/// 0 (the Lanczos sum gives `−4.4e-16` at 1), so that e.g. the log of a
/// binomial coefficient `C(n, 0)` is exactly 0 and a point mass has mass 1.
pub fn ln_gamma(x: f64) -> f64 {
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    statrs::function::gamma::ln_gamma(x)
}

/// Below this the digamma asymptotic series is not used; the recurrence
/// shifts the argument up first. At `x = 10` the first omitted term (`B₁₆`)
/// is `4e-17`, below the rounding error of `ln x`.
const DIGAMMA_ASYMPTOTIC_FROM: f64 = 10.0;

/// The positive root of ψ, split as `ROOT_HI + ROOT_LO` (the nearest `f64`
/// plus the remainder), from a 50-digit root-finding in mpmath:
/// `x₀ = 1.46163214496836234126265954232572132846819620400644…`.
const DIGAMMA_ROOT_HI: f64 = 1.4616321449683622;
const DIGAMMA_ROOT_LO: f64 = 9.549995429965697e-17;

/// Within this distance of the root, `digamma` uses the Taylor series.
/// Outside it `|ψ(x)| > 0.03`, and the shifted sum (absolute error about
/// `5e-16`) is accurate to `2e-14` relative.
const DIGAMMA_ROOT_RADIUS: f64 = 1.0 / 32.0;

/// Number of Taylor coefficients about the root. The coefficients behave
/// like `x₀^{-(k+1)}` (the pole at 0 is nearest), so at the radius the
/// `k`-th term is about `0.68 · 0.0214ᵏ`; 13 terms reach `1e-21`.
const DIGAMMA_ROOT_TERMS: usize = 13;

/// The digamma function `ψ(x) = d/dx ln Γ(x)`.
///
/// For `x > 0`: shift `x` up to at least 10 with `ψ(x) = ψ(x + 1) − 1/x`,
/// then apply the asymptotic series with Bernoulli numbers up to `B₁₄`.
/// Within `1/32` of the positive root `x₀`, use instead the Taylor series
/// `ψ(x) = Σₖ ψ⁽ᵏ⁾(x₀)/k! · (x − x₀)ᵏ`, whose coefficients are computed
/// once with [`polygamma`]; this keeps the *relative* error small where ψ
/// crosses zero. For `x < 0`, the reflection formula
/// `ψ(x) = ψ(1 − x) − π / tan(πx)` (DLMF 5.5.4), whose accuracy is limited
/// by the argument reduction of `tan`.
///
/// Returns NaN at the poles `0, −1, −2, …` and for NaN, `+∞` at `+∞`.
/// Measured on 400 log-spaced points of `(1e-3, 1e6)` and points next to
/// the root against 40-digit mpmath values: relative error below `3e-14`
/// (the worst just outside the Taylor neighbourhood, where `|ψ| ≈ 0.05`
/// carries the shifted sum's `1e-15` absolute error).
pub fn digamma(x: f64) -> f64 {
    if x.is_nan() || x == f64::NEG_INFINITY {
        return f64::NAN;
    }
    if x == f64::INFINITY {
        return f64::INFINITY;
    }
    if x <= 0.0 {
        if x == x.floor() {
            return f64::NAN;
        }
        // Reduce πx modulo π before taking the tangent, so that large
        // negative arguments keep their fractional part exactly.
        let fraction = x - x.round();
        return digamma(1.0 - x) - PI / (PI * fraction).tan();
    }
    if (x - DIGAMMA_ROOT_HI).abs() < DIGAMMA_ROOT_RADIUS {
        return digamma_near_root(x);
    }
    let mut shifted = x;
    let mut reciprocal_sum = 0.0;
    while shifted < DIGAMMA_ASYMPTOTIC_FROM {
        reciprocal_sum += 1.0 / shifted;
        shifted += 1.0;
    }
    digamma_asymptotic(shifted) - reciprocal_sum
}

/// `ψ(x) ~ ln x − 1/(2x) − Σₖ₌₁⁷ B₂ₖ / (2k x²ᵏ)` for `x ≥ 10`.
fn digamma_asymptotic(x: f64) -> f64 {
    let inv_x2 = 1.0 / (x * x);
    // Horner in 1/x², from the smallest term up.
    let mut series = 0.0;
    for k in (1..=7).rev() {
        series = series * inv_x2 + BERNOULLI_EVEN[k - 1] / (2 * k) as f64;
    }
    x.ln() - 0.5 / x - series * inv_x2
}

/// The Taylor series of ψ about its positive root. `x − ROOT_HI` is exact
/// (Sterbenz), and the constant term `ψ(ROOT_HI) = −ROOT_LO · ψ'(x₀)` to
/// first order (the second-order term is `1e-33`).
fn digamma_near_root(x: f64) -> f64 {
    static COEFFICIENTS: OnceLock<[f64; DIGAMMA_ROOT_TERMS]> = OnceLock::new();
    let coefficients = COEFFICIENTS.get_or_init(|| {
        let mut c = [0.0; DIGAMMA_ROOT_TERMS];
        let mut factorial = 1.0;
        for (k, coefficient) in c.iter_mut().enumerate() {
            let order = k as u32 + 1;
            factorial *= order as f64;
            *coefficient = polygamma(order, DIGAMMA_ROOT_HI) / factorial;
        }
        c
    });
    let offset = x - DIGAMMA_ROOT_HI;
    let mut series = 0.0;
    for &coefficient in coefficients.iter().rev() {
        series = series * offset + coefficient;
    }
    series * offset - DIGAMMA_ROOT_LO * coefficients[0]
}

/// The polygamma function `ψ⁽ⁿ⁾(x) = dⁿ/dxⁿ ψ(x)`; `polygamma(0, x)` is
/// [`digamma`] and `polygamma(1, x)` the trigamma function.
///
/// For `n ≥ 1` it computes `(−1)ⁿ⁺¹ n! ζ(n + 1, x)` with the Hurwitz zeta
/// function summed as in `hurwitz_zeta`. Valid for real `x` other than the
/// poles `0, −1, −2, …` (where it returns NaN) and `n` small enough that the
/// result is representable; the tests cover `n ≤ 6`. Measured for
/// `n ≤ 4` on 400 log-spaced points of `(1e-3, 1e6)` against 40-digit
/// mpmath values: relative error below `5e-16`.
pub fn polygamma(n: u32, x: f64) -> f64 {
    if n == 0 {
        return digamma(x);
    }
    if x.is_nan() || x == f64::NEG_INFINITY || (x <= 0.0 && x == x.floor()) {
        return f64::NAN;
    }
    let sign = if n % 2 == 1 { 1.0 } else { -1.0 };
    if x == f64::INFINITY {
        return sign * 0.0;
    }
    let mut factorial = 1.0;
    for k in 2..=n {
        factorial *= k as f64;
    }
    sign * factorial * hurwitz_zeta(n + 1, x)
}

/// The Hurwitz zeta function `ζ(s, x) = Σₖ≥₀ (x + k)⁻ˢ` for integer `s ≥ 2`
/// and real `x` that is not a non-positive integer.
///
/// The first `N` terms are summed directly, `N` chosen so that
/// `w = x + N ≥ s + 12`; the tail is the Euler–Maclaurin formula
///
/// `Σₖ≥₀ (w + k)⁻ˢ = w¹⁻ˢ/(s − 1) + w⁻ˢ/2
///     + Σⱼ B₂ⱼ/(2j)! · s(s+1)…(s+2j−2) · w^{−s−2j+1}`.
///
/// Relative to the leading term, the `j`-th correction is about
/// `2(s − 1)(s)₂ⱼ₋₁ / (2πw)²ʲ`, which at `w ≥ s + 12` falls below `1e-17`
/// well within the 15 Bernoulli numbers tabulated; the loop stops at the
/// first term below `1e-18` of the sum.
fn hurwitz_zeta(s: u32, x: f64) -> f64 {
    let exponent = s as f64;
    let shift_to = exponent + 12.0;
    let mut direct_terms = Vec::new();
    let mut w = x;
    while w < shift_to {
        direct_terms.push(w.powf(-exponent));
        w += 1.0;
    }
    let w_pow = w.powf(-exponent);
    let mut tail = w * w_pow / (exponent - 1.0) + 0.5 * w_pow;
    // term_j = B₂ⱼ/(2j)! · s(s+1)…(s+2j−2) · w^{−s−2j+1}, built up from
    // j = 1: B₂/2! · s · w^{−s−1}.
    let inv_w = 1.0 / w;
    let mut rising = exponent * w_pow * inv_w; // s · w^{−s−1}
    let mut factorial = 2.0; // (2j)!
    for (j, bernoulli) in BERNOULLI_EVEN.iter().enumerate() {
        let j = j as f64 + 1.0;
        if j > 1.0 {
            // From j − 1 to j: multiply by (s + 2j − 3)(s + 2j − 2) / w²
            // and divide the factorial by (2j − 1)(2j).
            rising *= (exponent + 2.0 * j - 3.0) * (exponent + 2.0 * j - 2.0) * inv_w * inv_w;
            factorial *= (2.0 * j - 1.0) * (2.0 * j);
        }
        let term = bernoulli / factorial * rising;
        tail += term;
        if term.abs() < 1e-18 * tail.abs() {
            break;
        }
    }
    // Add the direct terms from the smallest up.
    direct_terms.iter().rev().fold(tail, |sum, term| sum + term)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::test_support::{assert_close, richardson_derivative};

    /// `(x, ln Γ(x), ψ(x), ψ'(x), ψ''(x), ψ⁽³⁾(x))` from mpmath.
    const REFERENCE: &[(f64, f64, f64, f64, f64, f64)] =
        &crate::special::test_support::GAMMA_REFERENCE;

    #[test]
    fn ln_gamma_matches_references() {
        // Tolerance: 2e-14, relative where |ln Γ| > 1 and absolute
        // otherwise (the Lanczos sum has about 1e-15 relative error; its
        // logarithm loses relative accuracy near the roots 1 and 2).
        for &(x, expected, ..) in REFERENCE {
            let got = ln_gamma(x);
            let scale = expected.abs().max(1.0);
            assert!(
                (got - expected).abs() <= 2e-14 * scale,
                "ln_gamma({x}) = {got}, expected {expected}"
            );
        }
        assert_eq!(ln_gamma(1.0), 0.0);
        assert_eq!(ln_gamma(2.0), 0.0);
        assert_close(ln_gamma(0.5), 0.5 * PI.ln(), 1e-15);
        assert_close(ln_gamma(11.0), 3628800.0f64.ln(), 1e-15);
    }

    #[test]
    fn digamma_matches_references() {
        // Tolerance 1e-14 relative: the shifted sum loses at most a few ulps
        // of ln(10), and the root neighbourhood is handled by the Taylor
        // series.
        for &(x, _, expected, ..) in REFERENCE {
            assert_close(digamma(x), expected, 1e-14);
        }
        assert_close(digamma(1.0), -0.577_215_664_901_532_9, 1e-15);
        assert_close(
            digamma(0.5),
            -0.577_215_664_901_532_9 - 2.0 * 2f64.ln(),
            1e-15,
        );
    }

    #[test]
    fn digamma_is_relatively_accurate_next_to_its_root() {
        // ψ(x₀ + d) = c₁d + c₂d² + c₃d³ + O(d⁴) with cₖ = ψ⁽ᵏ⁾(x₀)/k! from
        // mpmath (40 digits). For |d| ≤ 1e-6 the omitted term is below
        // 1e-18 relative, so the cubic is a reference to rounding; the
        // tolerance 1e-13 is what the near-root Taylor series achieves.
        let c1 = 0.9676722454476212;
        let c2 = -0.8855263379671842 / 2.0;
        let c3 = 1.550998565733906 / 6.0;
        for d in [1e-12, -1e-10, 1e-8, -1e-6, 1e-4] {
            let x = DIGAMMA_ROOT_HI + d;
            // The offset from the true root, including the part of x₀ that
            // does not fit in an f64.
            let offset = (x - DIGAMMA_ROOT_HI) - DIGAMMA_ROOT_LO;
            let expected = offset * (c1 + offset * (c2 + offset * c3));
            let tolerance = if d.abs() <= 1e-6 { 1e-13 } else { 1e-11 };
            assert_close(digamma(x), expected, tolerance);
        }
        assert!(digamma(DIGAMMA_ROOT_HI).abs() < 1e-16);
    }

    #[test]
    fn digamma_reflects_to_negative_arguments() {
        // ψ(−1/2) = ψ(1/2) + 2 (the recurrence run backwards), reached by
        // reflection with tan(−π/2) finite in floating point. Tolerance
        // 1e-13 for the argument reduction of tan.
        assert_close(
            digamma(-0.5),
            -0.577_215_664_901_532_9 - 2.0 * 2f64.ln() + 2.0,
            1e-13,
        );
        assert!(digamma(0.0).is_nan());
        assert!(digamma(-3.0).is_nan());
        assert!(digamma(f64::NAN).is_nan());
    }

    #[test]
    fn polygamma_matches_references() {
        // Tolerance 1e-14 relative: all Hurwitz-zeta terms are positive,
        // so there is no cancellation, only summation rounding.
        for &(x, _, _, trigamma, tetragamma, pentagamma) in REFERENCE {
            assert_close(polygamma(1, x), trigamma, 1e-14);
            assert_close(polygamma(2, x), tetragamma, 1e-14);
            assert_close(polygamma(3, x), pentagamma, 1e-14);
        }
        // ψ'(1) = π²/6, ψ''(1) = −2ζ(3), ψ'(1/2) = π²/2.
        assert_close(polygamma(1, 1.0), PI * PI / 6.0, 1e-15);
        assert_close(polygamma(2, 1.0), -2.0 * 1.202_056_903_159_594_2, 1e-15);
        assert_close(polygamma(1, 0.5), PI * PI / 2.0, 1e-15);
    }

    #[test]
    fn derivatives_match_finite_differences() {
        // Richardson-extrapolated central differences of f ≈ x⁻ᵐ (the pole
        // at 0 dominates for small x) have relative truncation error about
        // (h/x)⁴ (m+1)(m+2)(m+3)(m+4)/480, at most 1.5e-10 for m ≤ 6 and
        // h = x/512, and relative rounding error about 1e-15 · 512/m.
        // Tolerance 1e-9.
        for x in [0.01, 0.3, 1.0, 2.5, 7.0, 40.0, 1000.0] {
            let h = x / 512.0;
            assert_close(digamma(x), richardson_derivative(ln_gamma, x, h), 1e-9);
            for n in 1..=6 {
                let previous = |t: f64| polygamma(n - 1, t);
                assert_close(polygamma(n, x), richardson_derivative(previous, x, h), 1e-9);
            }
        }
    }

    #[test]
    fn polygamma_satisfies_the_recurrence() {
        // ψ⁽ⁿ⁾(x + 1) = ψ⁽ⁿ⁾(x) + (−1)ⁿ n! / xⁿ⁺¹ (DLMF 5.15.5), an exact
        // identity. Its two right-hand terms nearly cancel for small x, so
        // the error is measured against their magnitudes: 1e-15 of them.
        for x in [0.2f64, 1.7, 9.5, 9.99, 10.5, 123.0] {
            for n in 1..=4u32 {
                let factorial: f64 = (1..=n).map(f64::from).product();
                let sign = if n % 2 == 0 { 1.0 } else { -1.0 };
                let step = sign * factorial / x.powi(n as i32 + 1);
                let error = polygamma(n, x + 1.0) - (polygamma(n, x) + step);
                let magnitude = polygamma(n, x).abs() + step.abs();
                assert!(
                    error.abs() <= 1e-15 * magnitude,
                    "n = {n}, x = {x}: error {error:e}"
                );
            }
        }
    }

    #[test]
    fn digamma_agrees_with_statrs() {
        // statrs' digamma is an independent implementation; 1e-12 relative
        // away from the root, where either may lose relative accuracy.
        for x in [1e-3, 0.05, 0.7, 3.3, 12.0, 55.5, 1e4, 1e6] {
            assert_close(digamma(x), statrs::function::gamma::digamma(x), 1e-12);
        }
    }
}
