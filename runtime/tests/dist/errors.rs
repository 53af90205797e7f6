//! Parameter validation: each rule has a case with the broken arguments
//! and the exact message; and no argument list, however wrong, panics.

use proptest::prelude::*;
use vprog_compiler::dist::ALL_DISTRIBUTIONS;
use vprog_runtime::dist::{Dist, DistArg, DistKind};

use DistArg::{Int, Matrix, Real, Vector};

/// Asserts `Dist::new(kind, args)` fails with exactly `expected`.
#[track_caller]
fn check_error(kind: DistKind, args: &[DistArg<'_>], expected: &str) {
    match Dist::new(kind, args) {
        Ok(_) => panic!("{kind}{args:?}: expected the error {expected:?}, got a distribution"),
        Err(error) => assert_eq!(error.to_string(), expected),
    }
}

#[test]
fn invalid_parameters_are_reported_with_name_and_value() {
    let cases: &[(DistKind, &[DistArg<'_>], &str)] = &[
        (
            DistKind::Normal,
            &[Real(0.0), Real(-1.0)],
            "normal: scale must be positive and finite, got -1",
        ),
        (
            DistKind::Normal,
            &[Real(f64::NAN), Real(1.0)],
            "normal: mean must be finite, got NaN",
        ),
        (
            DistKind::Normal,
            &[Real(0.0)],
            "normal: expected 2 arguments (mean, scale), got 1",
        ),
        (
            DistKind::Normal,
            &[Real(0.0), Vector(&[1.0])],
            "normal: scale must be a real number, got a vector of length 1",
        ),
        (
            DistKind::LogNormal,
            &[Real(0.0), Real(0.0)],
            "lognormal: sigma must be positive and finite, got 0",
        ),
        (
            DistKind::Uniform,
            &[Real(2.0), Real(1.0)],
            "uniform: low must be less than high, got low = 2 and high = 1",
        ),
        (
            DistKind::Uniform,
            &[Real(f64::NEG_INFINITY), Real(1.0)],
            "uniform: low must be finite, got -inf",
        ),
        (
            DistKind::Exponential,
            &[Real(f64::INFINITY)],
            "exponential: rate must be positive and finite, got inf",
        ),
        (
            DistKind::Exponential,
            &[],
            "exponential: expected 1 argument (rate), got 0",
        ),
        (
            DistKind::Gamma,
            &[Real(0.0), Real(1.0)],
            "gamma: shape must be positive and finite, got 0",
        ),
        (
            DistKind::Gamma,
            &[Real(1.0), Real(-2.5)],
            "gamma: rate must be positive and finite, got -2.5",
        ),
        (
            DistKind::Beta,
            &[Real(1.0), Real(f64::NAN)],
            "beta: b must be positive and finite, got NaN",
        ),
        (
            DistKind::Laplace,
            &[Real(0.0), Real(-0.1)],
            "laplace: scale must be positive and finite, got -0.1",
        ),
        (
            DistKind::Cauchy,
            &[Real(0.0), Real(0.0)],
            "cauchy: scale must be positive and finite, got 0",
        ),
        (
            DistKind::StudentT,
            &[Real(-3.0), Real(0.0), Real(1.0)],
            "student_t: df must be positive and finite, got -3",
        ),
        (
            DistKind::Flip,
            &[Real(1.5)],
            "flip: p must be in [0, 1], got 1.5",
        ),
        (
            DistKind::Flip,
            &[Real(f64::NAN)],
            "flip: p must be in [0, 1], got NaN",
        ),
        (
            DistKind::Categorical,
            &[Vector(&[0.5, -0.1, 0.6])],
            "categorical: probs[1] must be non-negative and finite, got -0.1",
        ),
        (
            DistKind::Categorical,
            &[Vector(&[0.5, 0.4])],
            "categorical: probs must sum to 1 (within 1e-6), got a sum of 0.9",
        ),
        (
            DistKind::Categorical,
            &[Vector(&[])],
            "categorical: probs must not be empty",
        ),
        (
            DistKind::Categorical,
            &[Real(1.0)],
            "categorical: probs must be a vector, got the real number 1",
        ),
        (
            DistKind::Geometric,
            &[Real(0.0)],
            "geometric: p must be in (0, 1], got 0",
        ),
        (
            DistKind::Poisson,
            &[Real(-1.0)],
            "poisson: rate must be positive and finite, got -1",
        ),
        (
            DistKind::Poisson,
            &[Real(1e20)],
            "poisson: rate must be at most 1.844e19 (the sampler's limit), got 1e20",
        ),
        (
            DistKind::Binomial,
            &[Int(-1), Real(0.5)],
            "binomial: n must be non-negative, got -1",
        ),
        (
            DistKind::Binomial,
            &[Real(2.5), Real(0.5)],
            "binomial: n must be an integer, got the real number 2.5",
        ),
        (
            DistKind::Binomial,
            &[Int(3), Real(-0.5)],
            "binomial: p must be in [0, 1], got -0.5",
        ),
        (
            DistKind::MvNormalDiag,
            &[Vector(&[0.0, 1.0]), Vector(&[1.0])],
            "mv_normal_diag: scale must have the length of mean (2), got length 1",
        ),
        (
            DistKind::MvNormalDiag,
            &[Vector(&[0.0]), Vector(&[-1.0])],
            "mv_normal_diag: scale[0] must be positive and finite, got -1",
        ),
        (
            DistKind::MvNormalDiag,
            &[Vector(&[]), Vector(&[])],
            "mv_normal_diag: mean must not be empty",
        ),
        (
            DistKind::MvNormal,
            &[
                Vector(&[0.0, 0.0]),
                Matrix {
                    data: &[1.0, 0.0, 0.0],
                    rows: 2,
                    cols: 2,
                },
            ],
            "mv_normal: scale_tril has 3 entries, which does not fit its shape 2×2",
        ),
        (
            DistKind::MvNormal,
            &[
                Vector(&[0.0, 0.0]),
                Matrix {
                    data: &[1.0],
                    rows: 1,
                    cols: 1,
                },
            ],
            "mv_normal: scale_tril must be 2×2 to match mean (length 2), got 1×1",
        ),
        (
            DistKind::MvNormal,
            &[
                Vector(&[0.0, 0.0]),
                Matrix {
                    data: &[1.0, 0.5, 0.0, 1.0],
                    rows: 2,
                    cols: 2,
                },
            ],
            "mv_normal: scale_tril[0, 1] must be 0 (the matrix must be lower-triangular), got 0.5",
        ),
        (
            DistKind::MvNormal,
            &[
                Vector(&[0.0, 0.0]),
                Matrix {
                    data: &[1.0, 0.0, 0.3, 0.0],
                    rows: 2,
                    cols: 2,
                },
            ],
            "mv_normal: scale_tril[1, 1] (a diagonal entry) must be positive and finite, got 0",
        ),
        (
            DistKind::MvNormal,
            &[
                Vector(&[0.0, 0.0]),
                Matrix {
                    data: &[1.0, 0.0, f64::NAN, 1.0],
                    rows: 2,
                    cols: 2,
                },
            ],
            "mv_normal: scale_tril[1, 0] must be finite, got NaN",
        ),
        (
            DistKind::MvNormal,
            &[Vector(&[0.0]), Vector(&[1.0])],
            "mv_normal: scale_tril must be a matrix, got a vector of length 1",
        ),
        (
            DistKind::Dirichlet,
            &[Vector(&[1.0, 0.0])],
            "dirichlet: alpha[1] must be positive and finite, got 0",
        ),
        (
            DistKind::Dirichlet,
            &[Vector(&[1.0, 1e-310])],
            "dirichlet: alpha[1] must be at least 2.2250738585072014e-308, got 1e-310",
        ),
    ];
    for &(kind, args, expected) in cases {
        check_error(kind, args, expected);
    }
}

/// Any argument: every kind, with awkward values.
fn any_arg() -> impl Strategy<Value = (u8, f64, i64, Vec<f64>, usize, usize)> {
    let awkward = prop_oneof![
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(1e-310),
        Just(1e300),
        -10.0..10.0f64,
        0.0..1.0f64,
    ];
    (
        0u8..4,
        awkward.clone(),
        prop_oneof![Just(i64::MIN), Just(i64::MAX), -5i64..50],
        prop::collection::vec(awkward, 0..5),
        0usize..4,
        0usize..4,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever the arguments, `Dist::new` returns, and a distribution it
    /// accepts can be sampled, scored and asked for its CDF and support.
    #[test]
    fn nothing_panics(
        which in 0..ALL_DISTRIBUTIONS.len(),
        raw in prop::collection::vec(any_arg(), 0..4),
        probe in prop_oneof![Just(f64::NAN), -3.0..3.0f64],
        seed in any::<u64>(),
    ) {
        let kind = ALL_DISTRIBUTIONS[which];
        let args: Vec<DistArg<'_>> = raw
            .iter()
            .map(|(tag, real, int, vector, rows, cols)| match tag {
                0 => Real(*real),
                1 => Int(*int),
                2 => Vector(vector),
                _ => Matrix { data: vector, rows: *rows, cols: *cols },
            })
            .collect();
        if let Ok(d) = Dist::new(kind, &args) {
            let mut rng = vprog_runtime::rng::SiteRng::from_state(seed);
            let value = d.sample(&mut rng);
            let _ = d.log_density(&value);
            let _ = d.cdf(probe);
            let _ = d.support();
        }
    }
}
