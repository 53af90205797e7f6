//! Log-space helpers: the log beta function, softplus, log-sum-exp and the
//! logistic sigmoid, each written to avoid overflow and cancellation.

use super::gamma_fn::ln_gamma;

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)` for `a, b > 0`.
///
/// The direct sum of log-gammas; for large `a` and `b` the three terms are
/// large and cancel, so the absolute error grows like `1e-16 · (a + b) ·
/// ln(a + b)` (about 1e-9 at `a = b = 1e6`, still 1e-15 relative).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
}

/// `ln(1 + eˣ)` (softplus), without overflow for large `x` or loss of
/// accuracy for very negative `x`: `max(x, 0) + ln(1 + e^(−|x|))` by the
/// vectorizable `exp` and `ln(1 + y)` of [`super::vector_math`] (the
/// runtime applies the same function to whole tensors with SIMD, to the
/// same bits).
pub fn log1p_exp(x: f64) -> f64 {
    super::vector_math::softplus(x)
}

/// `ln Σᵢ exp(xᵢ)`, computed as `m + ln Σᵢ exp(xᵢ − m)` with `m = maxᵢ xᵢ`
/// so no exponential overflows.
///
/// `−∞` for an empty slice or when every element is `−∞`; `+∞` when some
/// element is `+∞`; NaN when some element is NaN.
pub fn log_sum_exp(values: &[f64]) -> f64 {
    let mut max = f64::NEG_INFINITY;
    for &value in values {
        if value.is_nan() {
            return f64::NAN;
        }
        max = max.max(value);
    }
    if max.is_infinite() {
        // All −∞ (or empty) gives −∞; any +∞ gives +∞.
        return max;
    }
    let sum: f64 = values.iter().map(|&value| (value - max).exp()).sum();
    max + sum.ln()
}

/// The logistic sigmoid `1 / (1 + e⁻ˣ)`, evaluated as `eˣ / (1 + eˣ)` for
/// negative `x` so that neither form overflows and small results keep
/// their relative accuracy (by [`super::vector_math::sigmoid`]).
pub fn sigmoid(x: f64) -> f64 {
    super::vector_math::sigmoid(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::special::test_support::assert_close;

    #[test]
    fn ln_beta_agrees_with_statrs_and_closed_forms() {
        // Both sum log-gammas; 1e-13 relative allows for summation order.
        for (a, b) in [
            (0.5, 0.5),
            (1.0, 3.0),
            (2.5, 7.25),
            (100.0, 0.01),
            (1e4, 3e4),
        ] {
            assert_close(ln_beta(a, b), statrs::function::beta::ln_beta(a, b), 1e-13);
        }
        // B(1, b) = 1/b and B(1/2, 1/2) = π.
        assert_close(ln_beta(1.0, 4.0), -(4.0f64.ln()), 1e-14);
        assert_close(ln_beta(0.5, 0.5), std::f64::consts::PI.ln(), 1e-14);
    }

    #[test]
    fn log1p_exp_is_stable_in_both_tails() {
        // Each region against a direct formula where that formula is
        // exact to rounding; 1e-15 relative.
        assert_close(log1p_exp(0.0), 2f64.ln(), 1e-15);
        assert_close(log1p_exp(-50.0), (-50.0f64).exp(), 1e-15);
        assert_close(log1p_exp(-1000.0), 0.0, 0.0);
        assert_close(log1p_exp(1.5), 1.5f64.exp().ln_1p(), 1e-15);
        assert_close(log1p_exp(25.0), 25.0 + (-25.0f64).exp(), 1e-15);
        assert_eq!(log1p_exp(1000.0), 1000.0);
        // Continuity at the region boundaries: the arguments differ by two
        // ulps (up to 1.4e-14 relative at −37), hence 1e-13.
        for boundary in [-37.0, 18.0, 33.3] {
            let below = log1p_exp(f64::next_down(boundary));
            let above = log1p_exp(f64::next_up(boundary));
            assert_close(above, below, 1e-13);
        }
    }

    #[test]
    fn log_sum_exp_handles_infinities_and_large_values() {
        assert_close(log_sum_exp(&[0.0, 0.0]), 2f64.ln(), 1e-15);
        assert_close(log_sum_exp(&[1000.0, 1000.0]), 1000.0 + 2f64.ln(), 1e-15);
        assert_close(log_sum_exp(&[-1000.0, -1000.0]), -1000.0 + 2f64.ln(), 1e-15);
        assert_close(log_sum_exp(&[3.0, f64::NEG_INFINITY]), 3.0, 0.0);
        assert_eq!(log_sum_exp(&[]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY; 3]), f64::NEG_INFINITY);
        assert_eq!(log_sum_exp(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert!(log_sum_exp(&[1.0, f64::NAN]).is_nan());
    }

    #[test]
    fn sigmoid_is_stable_and_symmetric() {
        assert_eq!(sigmoid(0.0), 0.5);
        assert_close(sigmoid(-800.0), 0.0, 0.0);
        assert_eq!(sigmoid(800.0), 1.0);
        // σ(−x) = e⁻ˣ σ(x) exactly (a form without the cancellation of
        // 1 − σ(x)), and in the far left tail σ(x) ≈ eˣ relatively.
        for x in [0.1, 2.0, 10.0, 30.0] {
            assert_close(sigmoid(-x), (-x).exp() * sigmoid(x), 1e-15);
        }
        assert_close(sigmoid(-40.0), (-40.0f64).exp(), 1e-15);
    }
}
