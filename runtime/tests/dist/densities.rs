//! Reference log densities against statrs (every family statrs has) and
//! against hand computations (mv_normal, dirichlet); CDFs against statrs;
//! supports; and `−∞` for values outside the support or of the wrong kind.
//!
//! Tolerance: 1e-12, relative where the log density exceeds 1 in magnitude
//! and absolute otherwise. Both sides evaluate the same formulas in a
//! different order, with different `ln Γ` and `ln B` implementations
//! (errors near 1e-14); 1e-12 leaves room for cancellation in `ln C(n, k)`
//! at n = 200.

use crate::fit::dist;
use statrs::distribution::{
    Bernoulli, Beta, Binomial, Categorical, Cauchy, Continuous, ContinuousCDF, Discrete, Exp,
    Gamma, Geometric, Laplace, LogNormal, Normal, Poisson, StudentsT, Uniform,
};
use vprog_runtime::dist::{Dist, DistArg, DistKind, DistValue};

use DistArg::{Int, Real, Vector};

#[track_caller]
fn assert_log_close(got: f64, expected: f64, what: &str) {
    if expected.is_infinite() {
        assert_eq!(got, expected, "{what}");
        return;
    }
    let scale = expected.abs().max(1.0);
    assert!(
        (got - expected).abs() <= 1e-12 * scale,
        "{what}: got {got}, expected {expected}"
    );
}

/// Compares `log_density` at real points with `reference`.
fn check_real(
    kind: DistKind,
    args: &[DistArg<'_>],
    points: &[f64],
    reference: impl Fn(f64) -> f64,
) {
    let d = dist(kind, args);
    for &x in points {
        let what = format!("{kind}{args:?} at {x}");
        assert_log_close(d.log_density(&DistValue::Real(x)), reference(x), &what);
    }
}

/// Compares `log_density` at integer points with `reference`.
fn check_int(kind: DistKind, args: &[DistArg<'_>], points: &[i64], reference: impl Fn(i64) -> f64) {
    let d = dist(kind, args);
    for &k in points {
        let what = format!("{kind}{args:?} at {k}");
        assert_log_close(d.log_density(&DistValue::Int(k)), reference(k), &what);
    }
}

const REAL_POINTS: &[f64] = &[
    -7.5, -1.0, -1e-3, 0.0, 1e-6, 0.3, 0.5, 0.999, 1.0, 2.0, 13.0, 1e3,
];

#[test]
fn continuous_log_densities_match_statrs() {
    let normal = Normal::new(1.5, 2.0).unwrap();
    check_real(
        DistKind::Normal,
        &[Real(1.5), Real(2.0)],
        REAL_POINTS,
        |x| normal.ln_pdf(x),
    );
    let lognormal = LogNormal::new(-0.5, 0.8).unwrap();
    // statrs' lognormal is −∞ at 0 as ours (both outside the open support).
    check_real(
        DistKind::LogNormal,
        &[Real(-0.5), Real(0.8)],
        REAL_POINTS,
        |x| lognormal.ln_pdf(x),
    );
    let uniform = Uniform::new(-1.0, 2.0).unwrap();
    check_real(
        DistKind::Uniform,
        &[Real(-1.0), Real(2.0)],
        REAL_POINTS,
        |x| uniform.ln_pdf(x),
    );
    let exponential = Exp::new(2.5).unwrap();
    check_real(DistKind::Exponential, &[Real(2.5)], REAL_POINTS, |x| {
        exponential.ln_pdf(x)
    });
    for (shape, rate) in [(0.3, 2.0), (1.0, 0.5), (7.5, 3.0)] {
        let gamma = Gamma::new(shape, rate).unwrap();
        // At 0 the density's limit: +∞, the rate, or −∞; statrs agrees for
        // shape = 1 only, so 0 is checked separately below.
        let points: Vec<f64> = REAL_POINTS.iter().copied().filter(|&x| x != 0.0).collect();
        check_real(DistKind::Gamma, &[Real(shape), Real(rate)], &points, |x| {
            gamma.ln_pdf(x)
        });
    }
    for (a, b) in [(0.5, 0.5), (2.0, 5.0), (1.0, 1.0), (0.2, 3.0)] {
        let beta = Beta::new(a, b).unwrap();
        let points: Vec<f64> = REAL_POINTS
            .iter()
            .copied()
            .filter(|&x| x != 0.0 && x != 1.0)
            .collect();
        check_real(DistKind::Beta, &[Real(a), Real(b)], &points, |x| {
            beta.ln_pdf(x)
        });
    }
    let laplace = Laplace::new(-1.0, 0.7).unwrap();
    // statrs takes the log of an underflowed pdf at 1000 (−∞); ours is
    // −1001/0.7 − ln 1.4 there.
    check_real(
        DistKind::Laplace,
        &[Real(-1.0), Real(0.7)],
        REAL_POINTS,
        |x| {
            if x == 1e3 {
                -1001.0 / 0.7 - 1.4f64.ln()
            } else {
                laplace.ln_pdf(x)
            }
        },
    );
    let cauchy = Cauchy::new(2.0, 0.5).unwrap();
    check_real(
        DistKind::Cauchy,
        &[Real(2.0), Real(0.5)],
        REAL_POINTS,
        |x| cauchy.ln_pdf(x),
    );
    for (df, loc, scale) in [(3.0, 1.0, 2.0), (0.7, 0.0, 1.0), (30.0, -2.0, 0.1)] {
        let t = StudentsT::new(loc, scale, df).unwrap();
        check_real(
            DistKind::StudentT,
            &[Real(df), Real(loc), Real(scale)],
            REAL_POINTS,
            |x| t.ln_pdf(x),
        );
    }
}

#[test]
fn densities_at_the_edge_of_the_support_are_their_limits() {
    let at_zero = |kind, args: &[DistArg<'_>]| dist(kind, args).log_density(&DistValue::Real(0.0));
    assert_eq!(
        at_zero(DistKind::Gamma, &[Real(0.5), Real(2.0)]),
        f64::INFINITY
    );
    assert_log_close(
        at_zero(DistKind::Gamma, &[Real(1.0), Real(2.0)]),
        2f64.ln(),
        "gamma(1, 2) at 0",
    );
    assert_eq!(
        at_zero(DistKind::Gamma, &[Real(2.0), Real(2.0)]),
        f64::NEG_INFINITY
    );
    assert_log_close(
        at_zero(DistKind::Beta, &[Real(1.0), Real(3.0)]),
        3f64.ln(),
        "beta(1, 3) at 0",
    );
    let beta = dist(DistKind::Beta, &[Real(2.0), Real(1.0)]);
    assert_log_close(
        beta.log_density(&DistValue::Real(1.0)),
        2f64.ln(),
        "beta(2, 1) at 1",
    );
    assert_log_close(
        at_zero(DistKind::Exponential, &[Real(3.0)]),
        3f64.ln(),
        "exponential at 0",
    );
}

#[test]
fn discrete_log_masses_match_statrs() {
    let points: Vec<i64> = vec![-3, -1, 0, 1, 2, 3, 4, 7, 10, 25, 150, 200, 201];
    let bernoulli = Bernoulli::new(0.3).unwrap();
    let flip = dist(DistKind::Flip, &[Real(0.3)]);
    for b in [false, true] {
        assert_log_close(
            flip.log_density(&DistValue::Bool(b)),
            bernoulli.ln_pmf(u64::from(b)),
            "flip(0.3)",
        );
    }
    let probs = [0.2, 0.0, 0.5, 0.3];
    let categorical = Categorical::new(&probs).unwrap();
    check_int(
        DistKind::Categorical,
        &[Vector(&probs)],
        &points,
        |k| match u64::try_from(k) {
            Ok(k) if k < 4 => categorical.ln_pmf(k),
            _ => f64::NEG_INFINITY,
        },
    );
    // statrs counts trials (support 1, 2, …), vprog failures (0, 1, …).
    for p in [0.3, 1.0] {
        let geometric = Geometric::new(p).unwrap();
        check_int(
            DistKind::Geometric,
            &[Real(p)],
            &points,
            |k| match u64::try_from(k) {
                Ok(k) => geometric.ln_pmf(k + 1),
                Err(_) => f64::NEG_INFINITY,
            },
        );
    }
    for rate in [3.5, 40.0] {
        let poisson = Poisson::new(rate).unwrap();
        check_int(
            DistKind::Poisson,
            &[Real(rate)],
            &points,
            |k| match u64::try_from(k) {
                Ok(k) => poisson.ln_pmf(k),
                Err(_) => f64::NEG_INFINITY,
            },
        );
    }
    for (n, p) in [(10, 0.3), (200, 0.7), (5, 0.0), (5, 1.0)] {
        let binomial = Binomial::new(p, n as u64).unwrap();
        check_int(
            DistKind::Binomial,
            &[Int(n), Real(p)],
            &points,
            |k| match u64::try_from(k) {
                Ok(k) => binomial.ln_pmf(k),
                Err(_) => f64::NEG_INFINITY,
            },
        );
    }
}

#[test]
fn categorical_probabilities_are_renormalized() {
    // Sums to 1 + 4e-7: accepted, and scored as the normalized weights.
    let probs = [0.5000002, 0.5000002];
    let d = dist(DistKind::Categorical, &[Vector(&probs)]);
    assert_log_close(
        d.log_density(&DistValue::Int(0)),
        0.5f64.ln(),
        "renormalized",
    );
}

#[test]
fn mv_normal_matches_a_hand_computation() {
    // L = [[2, 0], [1, 3]], so Σ = L Lᵀ = [[4, 2], [2, 10]], det Σ = 36 and
    // Σ⁻¹ = [[10, −2], [−2, 4]] / 36. At x − μ = (1, 1.5) the quadratic form
    // is (10 − 2·2·1.5 + 4·2.25) / 36 = 13/36, so
    // log p = −13/72 − ½ ln 36 − ln 2π.
    let mean = [1.0, -1.0];
    let scale_tril = [2.0, 0.0, 1.0, 3.0];
    let d = dist(
        DistKind::MvNormal,
        &[
            Vector(&mean),
            DistArg::Matrix {
                data: &scale_tril,
                rows: 2,
                cols: 2,
            },
        ],
    );
    let expected = -13.0 / 72.0 - 0.5 * 36f64.ln() - (2.0 * std::f64::consts::PI).ln();
    assert_log_close(
        d.log_density(&DistValue::Vector(vec![2.0, 0.5])),
        expected,
        "mv_normal",
    );
    // A vector of the wrong length is outside the support.
    assert_eq!(
        d.log_density(&DistValue::Vector(vec![2.0])),
        f64::NEG_INFINITY
    );
}

#[test]
fn mv_normal_diag_is_a_sum_of_normals() {
    let mean = [1.0, -2.0, 0.0];
    let scale = [0.5, 2.0, 1.0];
    let x = [0.3, 1.0, -4.0];
    let d = dist(DistKind::MvNormalDiag, &[Vector(&mean), Vector(&scale)]);
    let expected: f64 = (0..3)
        .map(|i| Normal::new(mean[i], scale[i]).unwrap().ln_pdf(x[i]))
        .sum();
    assert_log_close(
        d.log_density(&DistValue::Vector(x.to_vec())),
        expected,
        "mv_normal_diag",
    );
}

#[test]
fn dirichlet_matches_its_formula_and_the_beta() {
    // ln Γ(Σα) − Σ ln Γ(αᵢ) + Σ (αᵢ − 1) ln xᵢ, with ln Γ from statrs.
    let alpha = [0.5, 2.0, 4.0];
    let x = [0.1, 0.3, 0.6];
    let ln_gamma = statrs::function::gamma::ln_gamma;
    let expected = ln_gamma(6.5) - alpha.iter().map(|&a| ln_gamma(a)).sum::<f64>()
        + alpha
            .iter()
            .zip(&x)
            .map(|(a, x)| (a - 1.0) * f64::ln(*x))
            .sum::<f64>();
    let d = dist(DistKind::Dirichlet, &[Vector(&alpha)]);
    assert_log_close(
        d.log_density(&DistValue::Vector(x.to_vec())),
        expected,
        "dirichlet",
    );
    // With two components it is the beta density of the first.
    let beta = Beta::new(0.7, 3.0).unwrap();
    let two = dist(DistKind::Dirichlet, &[Vector(&[0.7, 3.0])]);
    assert_log_close(
        two.log_density(&DistValue::Vector(vec![0.25, 0.75])),
        beta.ln_pdf(0.25),
        "dirichlet as beta",
    );
    // Off the simplex.
    for off in [vec![0.2, 0.3, 0.6], vec![-0.1, 0.5, 0.6], vec![0.5, 0.5]] {
        assert_eq!(d.log_density(&DistValue::Vector(off)), f64::NEG_INFINITY);
    }
    // One component: the point mass at [1].
    let single = dist(DistKind::Dirichlet, &[Vector(&[2.5])]);
    assert_eq!(single.log_density(&DistValue::Vector(vec![1.0])), 0.0);
}

#[test]
fn values_of_the_wrong_kind_are_outside_the_support() {
    let normal = dist(DistKind::Normal, &[Real(0.0), Real(1.0)]);
    assert_eq!(
        normal.log_density(&DistValue::Bool(true)),
        f64::NEG_INFINITY
    );
    assert_eq!(normal.log_density(&DistValue::Int(0)), f64::NEG_INFINITY);
    assert_eq!(
        normal.log_density(&DistValue::Vector(vec![0.0])),
        f64::NEG_INFINITY
    );
    let poisson = dist(DistKind::Poisson, &[Real(1.0)]);
    assert_eq!(
        poisson.log_density(&DistValue::Real(1.0)),
        f64::NEG_INFINITY
    );
    let flip = dist(DistKind::Flip, &[Real(0.5)]);
    assert_eq!(flip.log_density(&DistValue::Int(1)), f64::NEG_INFINITY);
}

#[test]
fn cdfs_match_statrs() {
    // statrs' CDFs come from its own erf and incomplete beta/gamma; 1e-9
    // absolute allows for their accuracy (statrs' erf is off by up to
    // about 1e-10 in places).
    let points = [
        -20.0, -3.0, -0.5, 0.0, 1e-8, 0.25, 0.9, 1.0, 2.5, 10.0, 60.0,
    ];
    type Reference = Box<dyn Fn(f64) -> f64>;
    let cases: Vec<(Dist<'static>, Reference)> = vec![
        (dist(DistKind::Normal, &[Real(1.0), Real(2.0)]), {
            let d = Normal::new(1.0, 2.0).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (dist(DistKind::LogNormal, &[Real(0.2), Real(0.8)]), {
            let d = LogNormal::new(0.2, 0.8).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (dist(DistKind::Uniform, &[Real(-1.0), Real(2.0)]), {
            let d = Uniform::new(-1.0, 2.0).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (dist(DistKind::Exponential, &[Real(0.7)]), {
            let d = Exp::new(0.7).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (dist(DistKind::Gamma, &[Real(2.5), Real(1.5)]), {
            let d = Gamma::new(2.5, 1.5).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (dist(DistKind::Beta, &[Real(2.0), Real(0.5)]), {
            let d = Beta::new(2.0, 0.5).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (dist(DistKind::Laplace, &[Real(0.5), Real(1.5)]), {
            let d = Laplace::new(0.5, 1.5).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (dist(DistKind::Cauchy, &[Real(-1.0), Real(0.3)]), {
            let d = Cauchy::new(-1.0, 0.3).unwrap();
            Box::new(move |x| d.cdf(x))
        }),
        (
            dist(DistKind::StudentT, &[Real(4.0), Real(1.0), Real(2.0)]),
            {
                let d = StudentsT::new(1.0, 2.0, 4.0).unwrap();
                Box::new(move |x| d.cdf(x))
            },
        ),
    ];
    for (d, reference) in &cases {
        for &x in &points {
            let got = d.cdf(x).expect("scalar continuous");
            let expected = reference(x);
            assert!(
                (got - expected).abs() < 1e-9,
                "{} cdf at {x}: {got} vs {expected}",
                d.kind()
            );
        }
        assert!(d.cdf(f64::NAN).is_some_and(f64::is_nan));
    }
    // The normal's lower tail keeps its relative accuracy: Φ(−20) =
    // 2.7536241186062337e-89 (mpmath).
    let standard = dist(DistKind::Normal, &[Real(0.0), Real(1.0)]);
    let tail = standard.cdf(-20.0).unwrap();
    assert!(
        (tail / 2.7536241186062337e-89 - 1.0).abs() < 1e-13,
        "Φ(−20) = {tail}"
    );
    for (kind, args) in [
        (DistKind::Poisson, vec![Real(1.0)]),
        (DistKind::Flip, vec![Real(0.5)]),
        (DistKind::Dirichlet, vec![Vector(&[1.0, 2.0])]),
    ] {
        assert_eq!(dist(kind, &args).cdf(0.5), None);
    }
}

#[test]
fn finite_supports_are_listed() {
    let flip = dist(DistKind::Flip, &[Real(0.5)]);
    assert_eq!(
        flip.support(),
        Some(vec![DistValue::Bool(false), DistValue::Bool(true)])
    );
    let categorical = dist(DistKind::Categorical, &[Vector(&[0.5, 0.25, 0.25])]);
    assert_eq!(
        categorical.support(),
        Some(vec![
            DistValue::Int(0),
            DistValue::Int(1),
            DistValue::Int(2)
        ])
    );
    let binomial = dist(DistKind::Binomial, &[Int(2), Real(0.5)]);
    assert_eq!(
        binomial.support(),
        Some(vec![
            DistValue::Int(0),
            DistValue::Int(1),
            DistValue::Int(2)
        ])
    );
    // Too large to enumerate, and infinite supports.
    assert_eq!(
        dist(DistKind::Binomial, &[Int(1 << 40), Real(0.5)]).support(),
        None
    );
    assert_eq!(dist(DistKind::Poisson, &[Real(1.0)]).support(), None);
    assert_eq!(
        dist(DistKind::Normal, &[Real(0.0), Real(1.0)]).support(),
        None
    );
    // Each finite support carries total mass 1.
    for d in [flip, categorical, binomial] {
        let support = d.support().unwrap_or_default();
        let total: f64 = support.iter().map(|v| d.log_density(v).exp()).sum();
        assert!(
            (total - 1.0).abs() < 1e-14,
            "{}: total mass {total}",
            d.kind()
        );
    }
}
