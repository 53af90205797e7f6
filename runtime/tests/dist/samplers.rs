//! Samplers against their own CDFs (Kolmogorov–Smirnov), mass functions
//! (chi-square) and moments; see `fit.rs` for the statistics and the
//! seeding. Every scalar continuous family is KS-tested at parameters that
//! exercise each branch of its sampler (e.g. gamma shapes below and above
//! 1); every discrete family is chi-square-tested against its own
//! `log_density`, which `densities.rs` checks against statrs.

use crate::fit::{DRAWS, assert_chi_square, assert_ks, assert_moments, dist, draws, reals, stream};
use vprog_runtime::dist::{DistArg, DistKind, DistValue, sample_binomial_split};

use DistArg::{Int, Real, Vector};

/// KS-tests `DRAWS` draws of `kind(args)` against its `cdf`.
fn check_continuous(kind: DistKind, args: &[DistArg<'_>], seed: u64) {
    let d = dist(kind, args);
    let samples = reals(&draws(&d, seed));
    let label = format!("{kind}{args:?}");
    assert_ks(&label, samples, |x| {
        d.cdf(x).expect("scalar continuous family")
    });
}

#[test]
fn continuous_samplers_match_their_cdfs() {
    let cases: &[(DistKind, &[DistArg<'_>])] = &[
        (DistKind::Normal, &[Real(1.5), Real(2.0)]),
        (DistKind::LogNormal, &[Real(-0.5), Real(0.8)]),
        (DistKind::Uniform, &[Real(-3.0), Real(5.0)]),
        (DistKind::Exponential, &[Real(2.5)]),
        (DistKind::Gamma, &[Real(0.3), Real(2.0)]),
        (DistKind::Gamma, &[Real(1.0), Real(0.5)]),
        (DistKind::Gamma, &[Real(7.5), Real(3.0)]),
        (DistKind::Beta, &[Real(0.5), Real(0.5)]),
        (DistKind::Beta, &[Real(2.0), Real(5.0)]),
        (DistKind::Beta, &[Real(0.2), Real(3.0)]),
        (DistKind::Laplace, &[Real(-1.0), Real(0.7)]),
        (DistKind::Cauchy, &[Real(2.0), Real(0.5)]),
        (DistKind::StudentT, &[Real(3.0), Real(1.0), Real(2.0)]),
        (DistKind::StudentT, &[Real(0.7), Real(0.0), Real(1.0)]),
        (DistKind::StudentT, &[Real(30.0), Real(-2.0), Real(0.1)]),
        // Integers are accepted for real parameters.
        (DistKind::Normal, &[Int(0), Int(1)]),
    ];
    for (seed, &(kind, args)) in cases.iter().enumerate() {
        check_continuous(kind, args, seed as u64 + 100);
    }
}

/// The integer draws of `values`.
fn ints(values: &[DistValue]) -> Vec<i64> {
    values
        .iter()
        .map(|value| match value {
            DistValue::Int(k) => *k,
            other => panic!("expected an integer draw, got {other:?}"),
        })
        .collect()
}

/// Chi-square-tests draws of `kind(args)` over `lowest..=highest` (the
/// rest pooled) against `exp(log_density)`.
fn check_discrete(kind: DistKind, args: &[DistArg<'_>], highest: i64, seed: u64) {
    let d = dist(kind, args);
    let samples = ints(&draws(&d, seed));
    let label = format!("{kind}{args:?}");
    let pmf = |k| d.log_density(&DistValue::Int(k)).exp();
    if let Some(certain) = (0..=highest).find(|&k| (pmf(k) - 1.0).abs() < 1e-12) {
        // A point mass has nothing to test but that every draw is it.
        assert!(samples.iter().all(|&k| k == certain), "{label}");
        return;
    }
    assert_chi_square(&label, &samples, 0, highest, |k| {
        d.log_density(&DistValue::Int(k)).exp()
    });
}

#[test]
fn discrete_samplers_match_their_mass_functions() {
    let probs = [0.2, 0.0, 0.5, 0.3];
    // Sums to 1 − 5e-7: accepted and renormalized.
    let nearly = [0.25, 0.25, 0.4999995];
    let cases: &[(DistKind, &[DistArg<'_>], i64)] = &[
        (DistKind::Categorical, &[Vector(&probs)], 3),
        (DistKind::Categorical, &[Vector(&nearly)], 2),
        (DistKind::Geometric, &[Real(0.3)], 40),
        // p ≥ 2/3 takes rand_distr's other branch.
        (DistKind::Geometric, &[Real(0.9)], 10),
        (DistKind::Geometric, &[Real(1.0)], 3),
        (DistKind::Poisson, &[Real(3.5)], 30),
        // λ ≥ 12 takes the rejection branch.
        (DistKind::Poisson, &[Real(40.0)], 100),
        (DistKind::Binomial, &[Int(10), Real(0.3)], 10),
        // n·p large takes BTPE, and p > 1/2 the reflected branch.
        (DistKind::Binomial, &[Int(200), Real(0.7)], 200),
        (DistKind::Binomial, &[Int(5), Real(0.0)], 5),
    ];
    for (seed, &(kind, args, highest)) in cases.iter().enumerate() {
        check_discrete(kind, args, highest, seed as u64 + 200);
    }
}

#[test]
fn flip_matches_its_mass_function() {
    for (seed, p) in [0.3, 0.95].into_iter().enumerate() {
        let d = dist(DistKind::Flip, &[Real(p)]);
        let as_ints: Vec<i64> = draws(&d, 300 + seed as u64)
            .iter()
            .map(|value| match value {
                DistValue::Bool(b) => i64::from(*b),
                other => panic!("expected a bool draw, got {other:?}"),
            })
            .collect();
        assert_chi_square(&format!("flip({p})"), &as_ints, 0, 1, |k| {
            d.log_density(&DistValue::Bool(k == 1)).exp()
        });
    }
}

/// The vector draws of `values`.
fn vectors(values: Vec<DistValue>) -> Vec<Vec<f64>> {
    values
        .into_iter()
        .map(|value| match value {
            DistValue::Vector(x) => x,
            other => panic!("expected a vector draw, got {other:?}"),
        })
        .collect()
}

#[test]
fn mv_normal_diag_has_the_right_moments_and_marginals() {
    let mean = [1.0, -2.0, 0.0];
    let scale = [0.5, 2.0, 1.0];
    let d = dist(DistKind::MvNormalDiag, &[Vector(&mean), Vector(&scale)]);
    let samples = vectors(draws(&d, 400));
    let covariance: Vec<Vec<f64>> = (0..3)
        .map(|i| {
            (0..3)
                .map(|j| if i == j { scale[i] * scale[i] } else { 0.0 })
                .collect()
        })
        .collect();
    assert_moments("mv_normal_diag", &samples, &mean, &covariance);
    for i in 0..3 {
        let marginal = dist(DistKind::Normal, &[Real(mean[i]), Real(scale[i])]);
        let component: Vec<f64> = samples.iter().map(|x| x[i]).collect();
        assert_ks("mv_normal_diag marginal", component, |x| {
            marginal.cdf(x).unwrap_or(f64::NAN)
        });
    }
}

#[test]
fn mv_normal_has_the_right_moments_and_marginals() {
    let mean = [1.0, -1.0, 0.5];
    #[rustfmt::skip]
    let scale_tril = [
        2.0, 0.0, 0.0,
        1.0, 3.0, 0.0,
        -0.5, 0.25, 0.7,
    ];
    let d = dist(
        DistKind::MvNormal,
        &[
            Vector(&mean),
            DistArg::Matrix {
                data: &scale_tril,
                rows: 3,
                cols: 3,
            },
        ],
    );
    let samples = vectors(draws(&d, 401));
    // Σ = L Lᵀ.
    let covariance: Vec<Vec<f64>> = (0..3)
        .map(|i| {
            (0..3)
                .map(|j| {
                    (0..3)
                        .map(|k| scale_tril[i * 3 + k] * scale_tril[j * 3 + k])
                        .sum()
                })
                .collect()
        })
        .collect();
    assert_moments("mv_normal", &samples, &mean, &covariance);
    for i in 0..3 {
        let sd = covariance[i][i].sqrt();
        let marginal = dist(DistKind::Normal, &[Real(mean[i]), Real(sd)]);
        let component: Vec<f64> = samples.iter().map(|x| x[i]).collect();
        assert_ks("mv_normal marginal", component, |x| {
            marginal.cdf(x).unwrap_or(f64::NAN)
        });
    }
}

#[test]
fn dirichlet_has_the_right_moments_and_beta_marginals() {
    // Both of rand_distr's methods: gamma normalization, and (all α ≤ 0.1)
    // stick-breaking with betas.
    let cases: [&[f64]; 2] = [&[0.5, 2.0, 4.0], &[0.05, 0.1, 0.08]];
    for (seed, alpha) in cases.into_iter().enumerate() {
        let d = dist(DistKind::Dirichlet, &[Vector(alpha)]);
        let samples = vectors(draws(&d, 500 + seed as u64));
        let total: f64 = alpha.iter().sum();
        let mean: Vec<f64> = alpha.iter().map(|a| a / total).collect();
        // Cov(xᵢ, xⱼ) = (δᵢⱼ mᵢ − mᵢ mⱼ) / (α₀ + 1).
        let covariance: Vec<Vec<f64>> = (0..alpha.len())
            .map(|i| {
                (0..alpha.len())
                    .map(|j| {
                        let diagonal = if i == j { mean[i] } else { 0.0 };
                        (diagonal - mean[i] * mean[j]) / (total + 1.0)
                    })
                    .collect()
            })
            .collect();
        assert_moments("dirichlet", &samples, &mean, &covariance);
        for (i, &a) in alpha.iter().enumerate() {
            // xᵢ ~ Beta(αᵢ, α₀ − αᵢ).
            let marginal = dist(DistKind::Beta, &[Real(a), Real(total - a)]);
            let component: Vec<f64> = samples.iter().map(|x| x[i]).collect();
            let label = format!("dirichlet{alpha:?} marginal {i}");
            assert_ks(&label, component, |x| marginal.cdf(x).unwrap_or(f64::NAN));
        }
        for x in &samples {
            assert!(d.log_density(&DistValue::Vector(x.clone())).is_finite());
        }
    }
}

#[test]
fn binomial_split_adds_up_to_a_binomial() {
    // y ~ Binomial(n − 1, p) and b ~ Bernoulli(p) independent, so y + b ~
    // Binomial(n, p): chi-square against the Binomial(n, p) mass function,
    // plus the frequency of b alone within 5 standard errors of p.
    for (seed, (n, p)) in [(1, 0.4), (12, 0.35), (150, 0.8)].into_iter().enumerate() {
        let seed = 600 + seed as u64;
        let mut sums = Vec::with_capacity(DRAWS);
        let mut successes = 0.0;
        for i in 0..DRAWS {
            let (y, b) = sample_binomial_split(n, p, &mut stream(seed, i)).expect("valid");
            assert!((0..n).contains(&y));
            sums.push(y + i64::from(b));
            successes += f64::from(u8::from(b));
        }
        let target = dist(DistKind::Binomial, &[Int(n), Real(p)]);
        assert_chi_square(&format!("split({n}, {p})"), &sums, 0, n, |k| {
            target.log_density(&DistValue::Int(k)).exp()
        });
        let standard_error = (p * (1.0 - p) / DRAWS as f64).sqrt();
        assert!((successes / DRAWS as f64 - p).abs() < 5.0 * standard_error);
    }
    assert!(sample_binomial_split(0, 0.5, &mut stream(0, 0)).is_err());
    assert!(sample_binomial_split(3, 1.5, &mut stream(0, 0)).is_err());
}

#[test]
fn draws_that_would_round_to_the_edge_stay_inside_the_support() {
    // gamma(0.01) is below 1e-308 with probability about 1e-3, beta(1,
    // 0.01) rounds to 1 most of the time: the clamped draws keep a finite
    // log density.
    let cases: &[(DistKind, &[DistArg<'_>])] = &[
        (DistKind::Gamma, &[Real(0.01), Real(1.0)]),
        (DistKind::Gamma, &[Real(0.02), Real(1e300)]),
        (DistKind::Beta, &[Real(1.0), Real(0.01)]),
        (DistKind::Beta, &[Real(0.01), Real(0.01)]),
    ];
    for &(kind, args) in cases {
        let d = dist(kind, args);
        for value in draws(&d, 700) {
            let log_density = d.log_density(&value);
            assert!(
                log_density.is_finite(),
                "{kind}{args:?}: {value:?} has log density {log_density}"
            );
        }
    }
}

#[test]
fn draws_are_deterministic_in_the_key() {
    let d = dist(DistKind::Gamma, &[Real(2.0), Real(1.0)]);
    assert_eq!(d.sample(&mut stream(9, 3)), d.sample(&mut stream(9, 3)));
    assert_ne!(d.sample(&mut stream(9, 3)), d.sample(&mut stream(9, 4)));
}

#[test]
fn the_tests_reject_a_slightly_wrong_distribution() {
    // The statistics have power: draws of normal(0, 1) fail the KS test
    // against normal(0, 1.05), and draws of poisson(3.5) fail the
    // chi-square test against poisson(3.7).
    let normal = dist(DistKind::Normal, &[Real(0.0), Real(1.0)]);
    let wider = dist(DistKind::Normal, &[Real(0.0), Real(1.05)]);
    let statistic = crate::fit::ks_statistic(reals(&draws(&normal, 800)), |x| {
        wider.cdf(x).unwrap_or(f64::NAN)
    });
    assert!(statistic > crate::fit::ks_critical(DRAWS));
    let poisson = dist(DistKind::Poisson, &[Real(3.5)]);
    let other = dist(DistKind::Poisson, &[Real(3.7)]);
    let samples = ints(&draws(&poisson, 801));
    let rejected = std::panic::catch_unwind(|| {
        assert_chi_square("poisson", &samples, 0, 30, |k| {
            other.log_density(&DistValue::Int(k)).exp()
        })
    });
    assert!(rejected.is_err());
}
