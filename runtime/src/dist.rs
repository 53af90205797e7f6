//! The runtime side of each built-in distribution: validated instances,
//! samplers, and reference log densities, CDFs and finite supports.
//!
//! A [`Dist`] is built from a [`DistKind`] (the compiler's table) and the
//! evaluated arguments of a random choice; [`Dist::new`] checks arity,
//! argument kinds and parameter validity and reports the first violation
//! as a [`DistError`] naming the distribution, the parameter and the bad
//! value. Once built, nothing panics:
//!
//! * [`Dist::sample`] draws from a [`SiteRng`] (`rand_distr` samplers where
//!   `rand_distr` has the family, inverse CDFs of `open01()` otherwise);
//! * [`Dist::log_density`] is the reference log density (continuous) or log
//!   mass (discrete) in `f64`, used by the interpreter and as the oracle the
//!   compiled densities are tested against;
//! * [`Dist::cdf`] and [`Dist::support`] serve the goodness-of-fit tests and
//!   the `enum` strategy.
//!
//! The module is split along those seams: `validate` (construction),
//! `sample`, and `density` (log density, CDF, support). A [`Dist`] is one
//! scalar or vector choice; [`Independent`] (`independent`) is a tensor
//! choice made of independent scalar ones — `normal`, `mv_normal_diag`,
//! `bernoulli` and `bernoulli_logits` over a tensor, `categorical_logits`
//! over the rows of a matrix.
//!
//! This module knows nothing of the IR or of gradient estimators; the
//! measure-valued derivative of the binomial only borrows
//! [`sample_binomial_split`] from here.

mod density;
mod independent;
mod sample;
mod validate;

pub use independent::{Independent, TensorArg};
pub use sample::{sample_binomial_split, standard_normal};

use crate::rng::SiteRng;
use std::fmt;
pub use vprog_compiler::dist::DistKind;

/// One evaluated argument of a distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DistArg<'a> {
    /// A real scalar.
    Real(f64),
    /// An integer scalar (also accepted where a real is expected).
    Int(i64),
    /// A real vector.
    Vector(&'a [f64]),
    /// A real matrix, stored row-major: entry `(i, j)` is
    /// `data[i * cols + j]`.
    Matrix {
        /// The entries, row by row.
        data: &'a [f64],
        /// The number of rows.
        rows: usize,
        /// The number of columns.
        cols: usize,
    },
}

/// A value drawn from, or scored under, a distribution.
#[derive(Clone, Debug, PartialEq)]
pub enum DistValue {
    /// A real scalar (`normal`, `gamma`, …; 0 or 1 for `bernoulli` and
    /// `bernoulli_logits`).
    Real(f64),
    /// An integer (`categorical`, `geometric`, `poisson`, `binomial`).
    Int(i64),
    /// A boolean (`flip`).
    Bool(bool),
    /// A real vector (`mv_normal_diag`, `mv_normal`, `dirichlet`).
    Vector(Vec<f64>),
}

/// Why a distribution could not be built from its arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistError {
    /// A message naming the distribution and the parameter and showing the
    /// bad value, e.g. `normal: scale must be positive and finite, got -1`.
    pub message: String,
}

impl fmt::Display for DistError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DistError {}

/// A validated instance of a built-in distribution. Vector and matrix
/// parameters are borrowed from the caller.
#[derive(Clone, Debug)]
pub struct Dist<'a> {
    family: Family<'a>,
}

/// The validated parameters of each family, plus the prepared `rand_distr`
/// sampler where one is used (building it is part of validation, so
/// sampling cannot fail).
#[derive(Clone, Debug)]
enum Family<'a> {
    Normal {
        mean: f64,
        scale: f64,
    },
    LogNormal {
        mu: f64,
        sigma: f64,
    },
    Uniform {
        low: f64,
        high: f64,
    },
    Exponential {
        rate: f64,
    },
    Gamma {
        shape: f64,
        rate: f64,
        /// Gamma(shape, scale 1); the draw is divided by `rate`.
        unit_rate: rand_distr::Gamma<f64>,
    },
    Beta {
        a: f64,
        b: f64,
        sampler: rand_distr::Beta<f64>,
    },
    Laplace {
        loc: f64,
        scale: f64,
    },
    Cauchy {
        loc: f64,
        scale: f64,
        sampler: rand_distr::Cauchy<f64>,
    },
    StudentT {
        df: f64,
        loc: f64,
        scale: f64,
        /// The standard t with `df` degrees of freedom.
        standard: rand_distr::StudentT<f64>,
    },
    Flip {
        p: f64,
    },
    Categorical {
        /// Non-negative weights summing to `total`, which is within 1e-6
        /// of 1; probabilities are `probs[k] / total`.
        probs: &'a [f64],
        total: f64,
    },
    Geometric {
        p: f64,
        sampler: rand_distr::Geometric,
    },
    Poisson {
        rate: f64,
        sampler: rand_distr::Poisson<f64>,
    },
    Binomial {
        n: i64,
        p: f64,
        sampler: rand_distr::Binomial,
    },
    MvNormalDiag {
        mean: &'a [f64],
        scale: &'a [f64],
    },
    MvNormal {
        mean: &'a [f64],
        /// Row-major, `mean.len()` square, lower-triangular with a positive
        /// diagonal.
        scale_tril: &'a [f64],
    },
    Dirichlet {
        alpha: &'a [f64],
        /// Gamma(αᵢ, 1) samplers, or Gamma(αᵢ + 1, 1) where αᵢ < 1 (see
        /// `sample::sample_dirichlet`).
        unit_gammas: Vec<rand_distr::Gamma<f64>>,
    },
    Bernoulli {
        p: f64,
    },
    BernoulliLogits {
        logit: f64,
        /// `sigmoid(logit)`.
        p: f64,
    },
    CategoricalLogits {
        /// `log softmax(logits)`.
        log_probs: Vec<f64>,
        /// `softmax(logits)`, summing to `total` (1 up to rounding).
        probs: Vec<f64>,
        total: f64,
    },
}

impl<'a> Dist<'a> {
    /// The distribution's family.
    pub fn kind(&self) -> DistKind {
        match self.family {
            Family::Normal { .. } => DistKind::Normal,
            Family::LogNormal { .. } => DistKind::LogNormal,
            Family::Uniform { .. } => DistKind::Uniform,
            Family::Exponential { .. } => DistKind::Exponential,
            Family::Gamma { .. } => DistKind::Gamma,
            Family::Beta { .. } => DistKind::Beta,
            Family::Laplace { .. } => DistKind::Laplace,
            Family::Cauchy { .. } => DistKind::Cauchy,
            Family::StudentT { .. } => DistKind::StudentT,
            Family::Flip { .. } => DistKind::Flip,
            Family::Categorical { .. } => DistKind::Categorical,
            Family::Geometric { .. } => DistKind::Geometric,
            Family::Poisson { .. } => DistKind::Poisson,
            Family::Binomial { .. } => DistKind::Binomial,
            Family::MvNormalDiag { .. } => DistKind::MvNormalDiag,
            Family::MvNormal { .. } => DistKind::MvNormal,
            Family::Dirichlet { .. } => DistKind::Dirichlet,
            Family::Bernoulli { .. } => DistKind::Bernoulli,
            Family::BernoulliLogits { .. } => DistKind::BernoulliLogits,
            Family::CategoricalLogits { .. } => DistKind::CategoricalLogits,
        }
    }

    /// Draws one value from the stream `rng`.
    ///
    /// Flip returns [`DistValue::Bool`]; categorical, categorical_logits,
    /// geometric, poisson and binomial [`DistValue::Int`]; the multivariate
    /// families and dirichlet [`DistValue::Vector`]; the rest
    /// [`DistValue::Real`] (0 or 1 for the Bernoulli families). See the
    /// `sample` module for the algorithm of each family and the clamping of
    /// draws that would round onto the edge of the support.
    pub fn sample(&self, rng: &mut SiteRng) -> DistValue {
        sample::sample(&self.family, rng)
    }

    /// The log density (continuous families) or log mass (discrete
    /// families) of `value`.
    ///
    /// Returns `−∞` for a value outside the support, and also for a value
    /// of the wrong kind (a `Bool` scored under `normal`, an `Int` under a
    /// real family, a vector of the wrong length): the compiler's type
    /// checker rules those out, and `−∞` keeps the interpreter panic-free if
    /// one slips through. On the boundary of a support, the density's limit
    /// (which may be `+∞`, e.g. gamma with shape < 1 at 0).
    pub fn log_density(&self, value: &DistValue) -> f64 {
        density::log_density(&self.family, value)
    }

    /// The CDF `P(X ≤ x)` of a scalar continuous family; `None` for the
    /// discrete and vector families.
    pub fn cdf(&self, x: f64) -> Option<f64> {
        density::cdf(&self.family, x)
    }

    /// Every value of a finite support, in increasing order (flip:
    /// `[false, true]`; bernoulli: `[0, 1]`; categorical: `0..K`;
    /// binomial: `0..=n`). `None` for
    /// infinite supports, and for a binomial with more than
    /// [`MAX_ENUMERATED_SUPPORT`] values, which no enumeration could visit.
    pub fn support(&self) -> Option<Vec<DistValue>> {
        density::support(&self.family)
    }
}

/// The largest finite support [`Dist::support`] lists.
pub const MAX_ENUMERATED_SUPPORT: usize = 1 << 20;
