//! Seeded draws and the goodness-of-fit statistics the sampler tests use.
//!
//! Each test draws `DRAWS` values, draw `i` from its own counter-based
//! stream `RunKey::new(seed, 0, i).site_stream(0, 0, &[])`, exactly as the
//! runtime gives every particle its own stream. With the seed fixed the
//! tests are deterministic; the critical values are at α = 1e-3, so a
//! correct sampler would fail a given test for about one seed in 1000.

use statrs::distribution::{ChiSquared, ContinuousCDF};
use vprog_runtime::dist::{Dist, DistArg, DistKind, DistValue};
use vprog_runtime::rng::{RunKey, SiteRng};

/// Draws per goodness-of-fit test.
pub const DRAWS: usize = 20_000;

/// The significance level of every goodness-of-fit test.
pub const ALPHA: f64 = 1e-3;

/// The stream of draw `index` under `seed`.
pub fn stream(seed: u64, index: usize) -> SiteRng {
    RunKey::new(seed, 0, index as u64).site_stream(0, 0, &[])
}

/// Builds a distribution the test knows to be valid.
pub fn dist<'a>(kind: DistKind, args: &[DistArg<'a>]) -> Dist<'a> {
    match Dist::new(kind, args) {
        Ok(dist) => dist,
        Err(error) => panic!("{kind}: unexpected error: {error}"),
    }
}

/// `DRAWS` seeded draws.
pub fn draws(dist: &Dist<'_>, seed: u64) -> Vec<DistValue> {
    (0..DRAWS)
        .map(|i| dist.sample(&mut stream(seed, i)))
        .collect()
}

/// The real parts of `values`; panics on another kind.
pub fn reals(values: &[DistValue]) -> Vec<f64> {
    values
        .iter()
        .map(|value| match value {
            DistValue::Real(x) => *x,
            other => panic!("expected a real draw, got {other:?}"),
        })
        .collect()
}

/// The Kolmogorov–Smirnov statistic `sup |F_n(x) − F(x)|` of `samples`.
pub fn ks_statistic(mut samples: Vec<f64>, cdf: impl Fn(f64) -> f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let n = samples.len() as f64;
    samples
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max)
}

/// The KS critical value at level `ALPHA` for `n` draws: the Kolmogorov
/// distribution's `P(K > 1.9495) = 2 Σₖ (−1)ᵏ⁻¹ e^{−2k²t²} = 1e-3`, with
/// Stephens' finite-sample correction `√n + 0.12 + 0.11/√n` (Stephens,
/// "EDF statistics for goodness of fit", JASA 1974).
pub fn ks_critical(n: usize) -> f64 {
    let root_n = (n as f64).sqrt();
    1.9495 / (root_n + 0.12 + 0.11 / root_n)
}

/// Asserts that `samples` pass the KS test against `cdf` at level ALPHA.
#[track_caller]
pub fn assert_ks(label: &str, samples: Vec<f64>, cdf: impl Fn(f64) -> f64) {
    let n = samples.len();
    let statistic = ks_statistic(samples, cdf);
    let critical = ks_critical(n);
    assert!(
        statistic < critical,
        "{label}: KS statistic {statistic:.5} ≥ critical {critical:.5} (α = {ALPHA})"
    );
}

/// The chi-square goodness-of-fit test of integer draws against `pmf`.
///
/// Values `lowest, lowest + 1, …` with expected count at least 5 get a bin
/// each, starting from `lowest` and scanning up to `highest`; everything
/// else (the tails, and values with small expected counts) is pooled into
/// one bin whose probability is the remainder `1 − Σ binned pmf`, which is
/// kept only if its expected count is at least 5 too (otherwise it is
/// merged into the last bin). Degrees of freedom: bins − 1.
#[track_caller]
pub fn assert_chi_square(
    label: &str,
    draws: &[i64],
    lowest: i64,
    highest: i64,
    pmf: impl Fn(i64) -> f64,
) {
    let n = draws.len() as f64;
    let mut bins: Vec<(Vec<i64>, f64)> = Vec::new();
    for k in lowest..=highest {
        let probability = pmf(k);
        if probability * n >= 5.0 {
            bins.push((vec![k], probability));
        }
    }
    let binned: f64 = bins.iter().map(|(_, p)| p).sum();
    let rest = (1.0 - binned).max(0.0);
    let mut observed: Vec<f64> = bins
        .iter()
        .map(|(values, _)| draws.iter().filter(|d| values.contains(d)).count() as f64)
        .collect();
    let mut expected: Vec<f64> = bins.iter().map(|(_, p)| p * n).collect();
    let rest_observed = n - observed.iter().sum::<f64>();
    if rest * n >= 5.0 {
        observed.push(rest_observed);
        expected.push(rest * n);
    } else if let (Some(last_observed), Some(last_expected)) =
        (observed.last_mut(), expected.last_mut())
    {
        *last_observed += rest_observed;
        *last_expected += rest * n;
    }
    let statistic: f64 = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| (o - e) * (o - e) / e)
        .sum();
    let degrees = expected.len() - 1;
    assert!(degrees >= 1, "{label}: too few bins for a chi-square test");
    let critical = ChiSquared::new(degrees as f64)
        .expect("degrees of freedom are positive")
        .inverse_cdf(1.0 - ALPHA);
    assert!(
        statistic < critical,
        "{label}: chi-square {statistic:.2} ≥ critical {critical:.2} with {degrees} degrees of freedom (α = {ALPHA})"
    );
}

/// The mean and covariance of vectors, and the standard error of each:
/// for the mean, `sd/√n`; for covariance entry `(i, j)`, the sample
/// standard deviation of the products `(xᵢ − x̄ᵢ)(xⱼ − x̄ⱼ)` over `√n`.
pub struct Moments {
    pub mean: Vec<f64>,
    pub mean_error: Vec<f64>,
    pub covariance: Vec<Vec<f64>>,
    pub covariance_error: Vec<Vec<f64>>,
}

pub fn moments(samples: &[Vec<f64>]) -> Moments {
    let n = samples.len() as f64;
    let dimension = samples[0].len();
    let mean: Vec<f64> = (0..dimension)
        .map(|i| samples.iter().map(|x| x[i]).sum::<f64>() / n)
        .collect();
    let mut covariance = vec![vec![0.0; dimension]; dimension];
    let mut covariance_error = vec![vec![0.0; dimension]; dimension];
    for i in 0..dimension {
        for j in 0..dimension {
            let products: Vec<f64> = samples
                .iter()
                .map(|x| (x[i] - mean[i]) * (x[j] - mean[j]))
                .collect();
            let average = products.iter().sum::<f64>() / n;
            let spread = products.iter().map(|p| (p - average).powi(2)).sum::<f64>() / (n - 1.0);
            covariance[i][j] = average;
            covariance_error[i][j] = (spread / n).sqrt();
        }
    }
    let mean_error = (0..dimension)
        .map(|i| (covariance[i][i] / n).sqrt())
        .collect();
    Moments {
        mean,
        mean_error,
        covariance,
        covariance_error,
    }
}

/// Asserts every mean and covariance entry is within 5 standard errors of
/// the truth. For a roughly normal estimate, 5 standard errors are
/// exceeded with probability 6e-7 per entry.
#[track_caller]
pub fn assert_moments(label: &str, samples: &[Vec<f64>], mean: &[f64], covariance: &[Vec<f64>]) {
    let m = moments(samples);
    for i in 0..mean.len() {
        let error = (m.mean[i] - mean[i]).abs();
        assert!(
            error < 5.0 * m.mean_error[i],
            "{label}: mean[{i}] = {} vs {}, {:.1} standard errors",
            m.mean[i],
            mean[i],
            error / m.mean_error[i]
        );
        for (j, &expected) in covariance[i].iter().enumerate() {
            let error = (m.covariance[i][j] - expected).abs();
            assert!(
                error < 5.0 * m.covariance_error[i][j],
                "{label}: covariance[{i}][{j}] = {} vs {expected}, {:.1} standard errors",
                m.covariance[i][j],
                error / m.covariance_error[i][j]
            );
        }
    }
}
