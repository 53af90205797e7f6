//! Reference log densities and masses, CDFs and finite supports, in `f64`.
//!
//! These are the textbook formulas (e.g. the `log_prob` of any statistics
//! library), written in log space with the special functions of
//! `vprog_compiler::special`. Terms of the form `c · ln x` use the
//! convention `0 · ln 0 = 0` (see [`xlogy`]), so a density is evaluated at
//! the edge of its support as its limit, and a degenerate case such as
//! `binomial(n, 0)` has log mass 0 at 0 rather than NaN.

use super::{DistValue, Family, MAX_ENUMERATED_SUPPORT};
use std::f64::consts::{LN_2, PI};
use vprog_compiler::special::{gamma_p, gamma_q, ln_beta, ln_gamma, log1p_exp};

/// `½ ln(2π)`.
const HALF_LN_TWO_PI: f64 = 0.918_938_533_204_672_8;

/// A Dirichlet value's components must sum to 1 within this much: values
/// come from arithmetic on `f64` (a softmax, a normalization), which is
/// off by a few ulps per component.
const SIMPLEX_SUM_TOLERANCE: f64 = 1e-9;

/// `c · ln x`, taken as 0 when `c = 0` (even at `x = 0`).
fn xlogy(c: f64, x: f64) -> f64 {
    if c == 0.0 { 0.0 } else { c * x.ln() }
}

/// `c · ln(1 − x)`, taken as 0 when `c = 0`.
fn xlog1my(c: f64, x: f64) -> f64 {
    if c == 0.0 { 0.0 } else { c * (-x).ln_1p() }
}

/// The log density of a normal with standard deviation `scale` at a
/// standardized distance `z`.
fn normal_log_density(z: f64, scale: f64) -> f64 {
    -0.5 * z * z - scale.ln() - HALF_LN_TWO_PI
}

/// The standard normal CDF, `Φ(z) = ½ Q(½, z²/2)` for `z < 0` (DLMF 7.11.2
/// with `erfc(t) = Q(½, t²)`), which keeps the lower tail's relative
/// accuracy.
fn standard_normal_cdf(z: f64) -> f64 {
    if z.is_nan() {
        return f64::NAN;
    }
    let half_square = 0.5 * z * z;
    if z < 0.0 {
        0.5 * gamma_q(0.5, half_square)
    } else {
        0.5 + 0.5 * gamma_p(0.5, half_square)
    }
}

pub(super) fn log_density(family: &Family<'_>, value: &DistValue) -> f64 {
    use DistValue::{Bool, Int, Real, Vector};
    const OUTSIDE: f64 = f64::NEG_INFINITY;
    match (family, value) {
        (&Family::Normal { mean, scale }, &Real(x)) => {
            normal_log_density((x - mean) / scale, scale)
        }
        (&Family::LogNormal { mu, sigma }, &Real(x)) => {
            if x > 0.0 {
                normal_log_density((x.ln() - mu) / sigma, sigma) - x.ln()
            } else {
                OUTSIDE
            }
        }
        (&Family::Uniform { low, high }, &Real(x)) => {
            if (low..=high).contains(&x) {
                // high − low can overflow when the bounds are huge.
                let width = high - low;
                if width.is_finite() {
                    -width.ln()
                } else {
                    -((0.5 * high - 0.5 * low).ln() + LN_2)
                }
            } else {
                OUTSIDE
            }
        }
        (&Family::Exponential { rate }, &Real(x)) => {
            if x >= 0.0 {
                rate.ln() - rate * x
            } else {
                OUTSIDE
            }
        }
        (&Family::Gamma { shape, rate, .. }, &Real(x)) => {
            if x >= 0.0 {
                shape * rate.ln() - ln_gamma(shape) + xlogy(shape - 1.0, x) - rate * x
            } else {
                OUTSIDE
            }
        }
        (&Family::Beta { a, b, .. }, &Real(x)) => {
            if (0.0..=1.0).contains(&x) {
                xlogy(a - 1.0, x) + xlog1my(b - 1.0, x) - ln_beta(a, b)
            } else {
                OUTSIDE
            }
        }
        (&Family::Laplace { loc, scale }, &Real(x)) => {
            -(x - loc).abs() / scale - (2.0 * scale).ln()
        }
        (&Family::Cauchy { loc, scale, .. }, &Real(x)) => {
            let z = (x - loc) / scale;
            // ln(1 + z²), without overflowing z² for huge z.
            let log1p_z2 = if z.abs() > 1e150 {
                2.0 * z.abs().ln()
            } else {
                (z * z).ln_1p()
            };
            -(PI * scale).ln() - log1p_z2
        }
        (&Family::StudentT { df, loc, scale, .. }, &Real(x)) => {
            let z = (x - loc) / scale;
            let log1p_z2_over_df = if z.abs() > 1e150 {
                2.0 * z.abs().ln() - df.ln()
            } else {
                (z * z / df).ln_1p()
            };
            ln_gamma(0.5 * (df + 1.0))
                - ln_gamma(0.5 * df)
                - 0.5 * (df * PI).ln()
                - scale.ln()
                - 0.5 * (df + 1.0) * log1p_z2_over_df
        }
        (&Family::Flip { p }, &Bool(b)) => {
            if b {
                p.ln()
            } else {
                (-p).ln_1p()
            }
        }
        (&Family::Categorical { probs, total }, &Int(k)) => match usize::try_from(k) {
            Ok(index) if index < probs.len() => (probs[index] / total).ln(),
            _ => OUTSIDE,
        },
        (&Family::Geometric { p, .. }, &Int(k)) => {
            if k >= 0 {
                xlog1my(k as f64, p) + p.ln()
            } else {
                OUTSIDE
            }
        }
        (&Family::Poisson { rate, .. }, &Int(k)) => {
            if k >= 0 {
                let k = k as f64;
                k * rate.ln() - rate - ln_gamma(k + 1.0)
            } else {
                OUTSIDE
            }
        }
        (&Family::Binomial { n, p, .. }, &Int(k)) => {
            if (0..=n).contains(&k) {
                let (n, k) = (n as f64, k as f64);
                ln_gamma(n + 1.0) - ln_gamma(k + 1.0) - ln_gamma(n - k + 1.0)
                    + xlogy(k, p)
                    + xlog1my(n - k, p)
            } else {
                OUTSIDE
            }
        }
        (&Family::MvNormalDiag { mean, scale }, Vector(x)) => {
            if x.len() != mean.len() {
                return OUTSIDE;
            }
            x.iter()
                .zip(mean)
                .zip(scale)
                .map(|((x, m), s)| normal_log_density((x - m) / s, *s))
                .sum()
        }
        (&Family::MvNormal { mean, scale_tril }, Vector(x)) => {
            mv_normal_log_density(mean, scale_tril, x)
        }
        (&Family::Dirichlet { alpha, .. }, Vector(x)) => dirichlet_log_density(alpha, x),
        (&Family::Bernoulli { p }, &Real(x)) => {
            if x == 1.0 {
                p.ln()
            } else if x == 0.0 {
                (-p).ln_1p()
            } else {
                OUTSIDE
            }
        }
        // ln σ(l) = −ln(1 + e^{−l}) and ln(1 − σ(l)) = −ln(1 + e^{l}).
        (&Family::BernoulliLogits { logit, .. }, &Real(x)) => {
            if x == 1.0 {
                -log1p_exp(-logit)
            } else if x == 0.0 {
                -log1p_exp(logit)
            } else {
                OUTSIDE
            }
        }
        (Family::CategoricalLogits { log_probs, .. }, &Int(k)) => match usize::try_from(k) {
            Ok(index) if index < log_probs.len() => log_probs[index],
            _ => OUTSIDE,
        },
        // A value of the wrong kind for the family.
        _ => OUTSIDE,
    }
}

/// `−½ |z|² − Σᵢ ln Lᵢᵢ − (d/2) ln 2π` with `L z = x − μ` solved by
/// forward substitution.
fn mv_normal_log_density(mean: &[f64], scale_tril: &[f64], x: &[f64]) -> f64 {
    let dimension = mean.len();
    if x.len() != dimension {
        return f64::NEG_INFINITY;
    }
    let mut z = vec![0.0; dimension];
    let mut log_determinant = 0.0;
    for row in 0..dimension {
        let l_row = &scale_tril[row * dimension..(row + 1) * dimension];
        let known: f64 = l_row[..row].iter().zip(&z).map(|(l, z)| l * z).sum();
        z[row] = (x[row] - mean[row] - known) / l_row[row];
        log_determinant += l_row[row].ln();
    }
    let squared_norm: f64 = z.iter().map(|z| z * z).sum();
    -0.5 * squared_norm - log_determinant - dimension as f64 * HALF_LN_TWO_PI
}

/// `ln Γ(Σα) − Σ ln Γ(αᵢ) + Σ (αᵢ − 1) ln xᵢ` on the simplex (density with
/// respect to Lebesgue measure on the first `K − 1` coordinates).
fn dirichlet_log_density(alpha: &[f64], x: &[f64]) -> f64 {
    let on_simplex = x.len() == alpha.len()
        && x.iter().all(|&x| (0.0..=1.0).contains(&x))
        && (x.iter().sum::<f64>() - 1.0).abs() <= SIMPLEX_SUM_TOLERANCE;
    if !on_simplex {
        return f64::NEG_INFINITY;
    }
    let alpha_sum: f64 = alpha.iter().sum();
    let normalizer = ln_gamma(alpha_sum) - alpha.iter().map(|&a| ln_gamma(a)).sum::<f64>();
    normalizer
        + alpha
            .iter()
            .zip(x)
            .map(|(&a, &x)| xlogy(a - 1.0, x))
            .sum::<f64>()
}

pub(super) fn cdf(family: &Family<'_>, x: f64) -> Option<f64> {
    if x.is_nan() {
        // NaN for the families that have a CDF, None for the others.
        return cdf(family, 0.0).map(|_| f64::NAN);
    }
    let value = match *family {
        Family::Normal { mean, scale } => standard_normal_cdf((x - mean) / scale),
        Family::LogNormal { mu, sigma } => {
            if x > 0.0 {
                standard_normal_cdf((x.ln() - mu) / sigma)
            } else {
                0.0
            }
        }
        Family::Uniform { low, high } => {
            if x <= low {
                0.0
            } else if x >= high {
                1.0
            } else {
                (x - low) / (high - low)
            }
        }
        Family::Exponential { rate } => {
            if x > 0.0 {
                -(-rate * x).exp_m1()
            } else {
                0.0
            }
        }
        Family::Gamma { shape, rate, .. } => {
            if x > 0.0 {
                gamma_p(shape, rate * x)
            } else {
                0.0
            }
        }
        Family::Beta { a, b, .. } => {
            if x <= 0.0 {
                0.0
            } else if x >= 1.0 {
                1.0
            } else {
                statrs::function::beta::beta_reg(a, b, x)
            }
        }
        Family::Laplace { loc, scale } => {
            let z = (x - loc) / scale;
            if z < 0.0 {
                0.5 * z.exp()
            } else {
                1.0 - 0.5 * (-z).exp()
            }
        }
        Family::Cauchy { loc, scale, .. } => 0.5 + ((x - loc) / scale).atan() / PI,
        Family::StudentT { df, loc, scale, .. } => {
            // P(T ≤ t) = 1 − ½ I_{df/(df+t²)}(df/2, ½) for t ≥ 0, and
            // symmetric (DLMF 8.17 with the t-distribution's tail).
            let t = (x - loc) / scale;
            let tail = 0.5 * statrs::function::beta::beta_reg(0.5 * df, 0.5, df / (df + t * t));
            if t < 0.0 { tail } else { 1.0 - tail }
        }
        Family::Flip { .. }
        | Family::Categorical { .. }
        | Family::Geometric { .. }
        | Family::Poisson { .. }
        | Family::Binomial { .. }
        | Family::MvNormalDiag { .. }
        | Family::MvNormal { .. }
        | Family::Dirichlet { .. }
        | Family::Bernoulli { .. }
        | Family::BernoulliLogits { .. }
        | Family::CategoricalLogits { .. } => return None,
    };
    Some(value)
}

pub(super) fn support(family: &Family<'_>) -> Option<Vec<DistValue>> {
    match *family {
        Family::Flip { .. } => Some(vec![DistValue::Bool(false), DistValue::Bool(true)]),
        Family::Bernoulli { .. } | Family::BernoulliLogits { .. } => {
            Some(vec![DistValue::Real(0.0), DistValue::Real(1.0)])
        }
        Family::Categorical { probs, .. } => {
            Some((0..probs.len() as i64).map(DistValue::Int).collect())
        }
        Family::CategoricalLogits { ref probs, .. } => {
            Some((0..probs.len() as i64).map(DistValue::Int).collect())
        }
        Family::Binomial { n, .. } => {
            // n ≥ 0 by validation; n + 1 values.
            if n as u64 >= MAX_ENUMERATED_SUPPORT as u64 {
                None
            } else {
                Some((0..=n).map(DistValue::Int).collect())
            }
        }
        Family::Normal { .. }
        | Family::LogNormal { .. }
        | Family::Uniform { .. }
        | Family::Exponential { .. }
        | Family::Gamma { .. }
        | Family::Beta { .. }
        | Family::Laplace { .. }
        | Family::Cauchy { .. }
        | Family::StudentT { .. }
        | Family::Geometric { .. }
        | Family::Poisson { .. }
        | Family::MvNormalDiag { .. }
        | Family::MvNormal { .. }
        | Family::Dirichlet { .. } => None,
    }
}
