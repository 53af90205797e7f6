//! Samplers.
//!
//! Families `rand_distr` has are drawn with it: the normal family, the
//! lognormal and exponential as transforms of `StandardNormal` and `Exp1`;
//! gamma (Marsaglia–Tsang, with `rand_distr`'s shape < 1 boost), beta
//! (Cheng), Cauchy, Student-t, Poisson, binomial (BTPE) and geometric with
//! `rand_distr`'s own samplers. The dirichlet normalizes `rand_distr`
//! gammas in log space (see `sample_dirichlet` for why not `rand_distr`'s
//! `Dirichlet`). Note the
//! parameterizations: vprog's gamma has a *rate*, `rand_distr`'s a scale,
//! so a unit-scale draw is divided by the rate; vprog's geometric counts
//! failures before the first success, as `rand_distr`'s does.
//!
//! Uniform, Laplace, categorical (also from logits, through their softmax),
//! flip and the Bernoulli families are inverse CDFs of one `open01()` draw,
//! which is never 0 or 1, so no logarithm is infinite.
//!
//! A few draws can round onto the edge of the support even though the
//! distribution puts no mass there: a gamma or beta with a small shape
//! (gamma(0.01) is below 1e-308 with probability about 1e-3), beta with a
//! small `b` rounding to 1, a dirichlet component underflowing. Such a draw
//! would have log density `±∞`, so it is clamped to the nearest
//! representable interior point (`f64::MIN_POSITIVE`, or `1 − 2⁻⁵³`).
//! Integer draws beyond `i64::MAX` (a geometric with `p < 1e-16`) saturate.

use super::{DistValue, Family};
use crate::rng::SiteRng;
use rand_distr::{Distribution, Exp1, StandardNormal};
use vprog_compiler::special::log_sum_exp;

use super::DistError;

/// The largest `f64` below 1.
const BELOW_ONE: f64 = 1.0 - f64::EPSILON / 2.0;

pub(super) fn sample(family: &Family<'_>, rng: &mut SiteRng) -> DistValue {
    match family {
        &Family::Normal { mean, scale } => DistValue::Real(mean + scale * standard_normal(rng)),
        &Family::LogNormal { mu, sigma } => {
            DistValue::Real((mu + sigma * standard_normal(rng)).exp())
        }
        &Family::Uniform { low, high } => {
            // low·(1 − u) + high·u cannot overflow for finite bounds; the
            // clamp undoes rounding past either end.
            let u = rng.open01();
            DistValue::Real((low * (1.0 - u) + high * u).clamp(low, high))
        }
        &Family::Exponential { rate } => {
            let unit: f64 = Exp1.sample(rng);
            DistValue::Real(unit / rate)
        }
        Family::Gamma {
            rate, unit_rate, ..
        } => {
            let unit = unit_rate.sample(rng);
            DistValue::Real((unit / rate).clamp(f64::MIN_POSITIVE, f64::MAX))
        }
        Family::Beta { sampler, .. } => {
            DistValue::Real(sampler.sample(rng).clamp(f64::MIN_POSITIVE, BELOW_ONE))
        }
        &Family::Laplace { loc, scale } => {
            // Inverse CDF. For u ≥ 1/2, 1 − u is exact (Sterbenz), so both
            // tails keep their resolution.
            let u = rng.open01();
            let x = if u < 0.5 {
                loc + scale * (2.0 * u).ln()
            } else {
                loc - scale * (2.0 * (1.0 - u)).ln()
            };
            DistValue::Real(x)
        }
        Family::Cauchy { sampler, .. } => DistValue::Real(sampler.sample(rng)),
        &Family::StudentT {
            loc,
            scale,
            standard,
            ..
        } => {
            // With a tiny df the chi-square draw can underflow to 0 and the
            // t draw overflow; keep it finite.
            let x = loc + scale * standard.sample(rng);
            DistValue::Real(x.clamp(-f64::MAX, f64::MAX))
        }
        &Family::Flip { p } => DistValue::Bool(rng.open01() < p),
        &Family::Categorical { probs, total } => {
            DistValue::Int(sample_categorical(probs, total, rng))
        }
        Family::Geometric { sampler, .. } => {
            DistValue::Int(i64::try_from(sampler.sample(rng)).unwrap_or(i64::MAX))
        }
        // `as` saturates (and the draw is a non-negative whole number).
        Family::Poisson { sampler, .. } => DistValue::Int(sampler.sample(rng) as i64),
        Family::Binomial { sampler, .. } => {
            // At most n, which is an i64.
            DistValue::Int(i64::try_from(sampler.sample(rng)).unwrap_or(i64::MAX))
        }
        &Family::MvNormalDiag { mean, scale } => DistValue::Vector(
            mean.iter()
                .zip(scale)
                .map(|(m, s)| m + s * standard_normal(rng))
                .collect(),
        ),
        &Family::MvNormal { mean, scale_tril } => {
            // x = μ + L z with z standard normal, so Cov x = L Lᵀ.
            let dimension = mean.len();
            let z: Vec<f64> = (0..dimension).map(|_| standard_normal(rng)).collect();
            let x = (0..dimension)
                .map(|row| {
                    let l_row = &scale_tril[row * dimension..row * dimension + row + 1];
                    mean[row] + l_row.iter().zip(&z).map(|(l, z)| l * z).sum::<f64>()
                })
                .collect();
            DistValue::Vector(x)
        }
        Family::Dirichlet { alpha, unit_gammas } => {
            DistValue::Vector(sample_dirichlet(alpha, unit_gammas, rng))
        }
        // As flip: 1 with probability p.
        &Family::Bernoulli { p } | &Family::BernoulliLogits { p, .. } => {
            DistValue::Real(if rng.open01() < p { 1.0 } else { 0.0 })
        }
        Family::CategoricalLogits { probs, total, .. } => {
            DistValue::Int(sample_categorical(probs, *total, rng))
        }
    }
}

/// Normalized gammas, `xᵢ = gᵢ / Σⱼ gⱼ` with `gᵢ ~ Gamma(αᵢ, 1)`, computed
/// in log space: for `αᵢ < 1`, `ln gᵢ = ln g'ᵢ + ln(u)/αᵢ` with
/// `g'ᵢ ~ Gamma(αᵢ + 1, 1)` and `u` uniform (Marsaglia and Tsang's shape
/// boost, "A simple method for generating gamma variables", 2000), and
/// `xᵢ = exp(ln gᵢ − ln Σⱼ gⱼ)`.
///
/// `rand_distr`'s `Dirichlet` is not used: with all `αᵢ ≤ 0.1` it breaks a
/// stick with betas, and `1 − b` for a beta draw `b` that rounds to 1
/// loses every small value of the last component (at α = (0.05, 0.1, 0.08)
/// about 3% of them, which a KS test of the marginal detects).
fn sample_dirichlet(
    alpha: &[f64],
    unit_gammas: &[rand_distr::Gamma<f64>],
    rng: &mut SiteRng,
) -> Vec<f64> {
    let log_gammas: Vec<f64> = alpha
        .iter()
        .zip(unit_gammas)
        .map(|(&a, gamma)| {
            let draw: f64 = gamma.sample(rng);
            if a < 1.0 {
                draw.ln() + rng.open01().ln() / a
            } else {
                draw.ln()
            }
        })
        .collect();
    let log_total = log_sum_exp(&log_gammas);
    log_gammas
        .iter()
        .map(|log_gamma| (log_gamma - log_total).exp().max(f64::MIN_POSITIVE))
        .collect()
}

/// A standard normal draw (the draw every normal sample scales).
pub fn standard_normal(rng: &mut SiteRng) -> f64 {
    StandardNormal.sample(rng)
}

/// Inverse CDF over the weights: the first index whose cumulative weight
/// exceeds `u · total`. A zero weight never adds to the cumulative sum, so
/// it is never chosen; if rounding leaves the target beyond the last
/// cumulative sum, the last index with positive weight is returned.
fn sample_categorical(probs: &[f64], total: f64, rng: &mut SiteRng) -> i64 {
    let target = rng.open01() * total;
    let mut cumulative = 0.0;
    for (index, &weight) in probs.iter().enumerate() {
        cumulative += weight;
        if cumulative > target {
            return index as i64;
        }
    }
    probs.iter().rposition(|&weight| weight > 0.0).unwrap_or(0) as i64
}

/// Splits one binomial draw into `(y, b)` with `y ~ Binomial(n − 1, p)` and
/// `b ~ Bernoulli(p)` independent, so `y + b ~ Binomial(n, p)`: one trial is
/// set apart. The measure-valued derivative of the binomial uses the split
/// to couple the two branches `y + 1` and `y`.
///
/// `y` is drawn first (with `rand_distr`'s binomial), then `b` from one
/// `open01()` draw. Errors unless `n ≥ 1` and `p ∈ [0, 1]`.
pub fn sample_binomial_split(n: i64, p: f64, rng: &mut SiteRng) -> Result<(i64, bool), DistError> {
    if n < 1 {
        return Err(DistError {
            message: format!("binomial: n must be at least 1 to split off a trial, got {n}"),
        });
    }
    let rest = rand_distr::Binomial::new((n - 1) as u64, p).map_err(|_| DistError {
        message: format!("binomial: p must be in [0, 1], got {p}"),
    })?;
    let y = i64::try_from(rest.sample(rng)).unwrap_or(i64::MAX);
    let b = rng.open01() < p;
    Ok((y, b))
}
