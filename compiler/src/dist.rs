//! The table of built-in distributions: their parameters, supports, and
//! which gradient strategies apply to each.
//!
//! This is the single place that says what a distribution *is* to the
//! compiler. The log density of each distribution is built as IR from
//! elementary primitives in `density.rs`, the estimator forms of each
//! strategy in `adev/`, and the samplers live in the runtime; all of them
//! `match` exhaustively on [`DistKind`], so a new distribution cannot be
//! half-added.

use std::fmt;

/// A built-in distribution family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DistKind {
    /// `normal(mean, scale)`: over a scalar, or elementwise independent
    /// over a tensor (see [`ParamKind::Tensor`]).
    Normal,
    /// `lognormal(mu, sigma)`: `exp` of a normal.
    LogNormal,
    /// `uniform(low, high)`
    Uniform,
    /// `exponential(rate)`
    Exponential,
    /// `gamma(shape, rate)`
    Gamma,
    /// `beta(a, b)`
    Beta,
    /// `laplace(loc, scale)`
    Laplace,
    /// `cauchy(loc, scale)`
    Cauchy,
    /// `student_t(df, loc, scale)`
    StudentT,
    /// `flip(p)`: a Bernoulli distribution over `bool`.
    Flip,
    /// `categorical(probs)`: over `0..len(probs)`.
    Categorical,
    /// `geometric(p)`: the number of failures before the first success.
    Geometric,
    /// `poisson(rate)`
    Poisson,
    /// `binomial(n, p)`
    Binomial,
    /// `mv_normal_diag(mean, scale)`: independent normals over a vector
    /// or a tensor of any static shape (the tensor normal that is never a
    /// scalar).
    MvNormalDiag,
    /// `mv_normal(mean, scale_tril)`: a multivariate normal given the lower
    /// Cholesky factor of its covariance.
    MvNormal,
    /// `dirichlet(alpha)`
    Dirichlet,
    /// `bernoulli(probs)`: reals in {0, 1}, elementwise independent over
    /// the shape of `probs`.
    Bernoulli,
    /// `bernoulli_logits(logits)`: [`DistKind::Bernoulli`] with
    /// `probs = sigmoid(logits)`.
    BernoulliLogits,
    /// `categorical_logits(logits)`: over `0..len(logits)` with
    /// probabilities `softmax(logits)`; for a matrix of logits, one
    /// independent choice per row (an `int` vector).
    CategoricalLogits,
}

/// The kind of one distribution parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamKind {
    /// A real scalar.
    Real,
    /// An integer scalar.
    Int,
    /// A real vector (its length fixes the dimension of the distribution).
    Vector,
    /// A real square matrix matching the vector parameters' length.
    Matrix,
    /// A real scalar or a real tensor of static shape. The tensor
    /// parameters of one choice share one shape, the value's; scalar
    /// parameters are broadcast to it (with every parameter a scalar, the
    /// value is a scalar).
    Tensor,
    /// The logits of `categorical_logits`: a real vector (one choice) or a
    /// real matrix (one choice per row).
    Logits,
}

/// The kind of value a distribution produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// A real scalar.
    Real,
    /// An integer scalar.
    Int,
    /// A boolean.
    Bool,
    /// A real vector.
    Vector,
    /// A real scalar or tensor of the parameters' common shape
    /// ([`ParamKind::Tensor`]).
    Tensor,
    /// An integer per row of the logits: a scalar for a vector of logits,
    /// a vector for a matrix.
    IntPerRow,
}

/// A gradient-estimation strategy for a random choice (the ADEV rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StrategyKind {
    /// Differentiate through `v = T(ε; θ)`.
    Reparam,
    /// Implicit reparameterization: `v' = −∂θF(v; θ) / p(v; θ)`.
    Implicit,
    /// The score-function estimator `l' + (l − b)·∂θ log p(v; θ)`.
    Reinforce,
    /// Exact enumeration of a finite support.
    Enum,
    /// The measure-valued derivative (a coupled difference of continuations).
    Mvd,
}

impl StrategyKind {
    /// The strategy's name as written after `by`.
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Reparam => "reparam",
            StrategyKind::Implicit => "implicit",
            StrategyKind::Reinforce => "reinforce",
            StrategyKind::Enum => "enum",
            StrategyKind::Mvd => "mvd",
        }
    }

    /// The strategy called `name`, if any.
    pub fn from_name(name: &str) -> Option<StrategyKind> {
        Some(match name {
            "reparam" => StrategyKind::Reparam,
            "implicit" => StrategyKind::Implicit,
            "reinforce" => StrategyKind::Reinforce,
            "enum" => StrategyKind::Enum,
            "mvd" => StrategyKind::Mvd,
            _ => return None,
        })
    }

    /// Whether the gradient flows through the sampled value (so the value
    /// must only reach differentiable uses).
    pub fn is_pathwise(self) -> bool {
        matches!(self, StrategyKind::Reparam | StrategyKind::Implicit)
    }
}

impl fmt::Display for StrategyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// All distribution families, in a fixed order.
pub const ALL_DISTRIBUTIONS: &[DistKind] = &[
    DistKind::Normal,
    DistKind::LogNormal,
    DistKind::Uniform,
    DistKind::Exponential,
    DistKind::Gamma,
    DistKind::Beta,
    DistKind::Laplace,
    DistKind::Cauchy,
    DistKind::StudentT,
    DistKind::Flip,
    DistKind::Categorical,
    DistKind::Geometric,
    DistKind::Poisson,
    DistKind::Binomial,
    DistKind::MvNormalDiag,
    DistKind::MvNormal,
    DistKind::Dirichlet,
    DistKind::Bernoulli,
    DistKind::BernoulliLogits,
    DistKind::CategoricalLogits,
];

/// The most joint values a tensor choice (`bernoulli` over a tensor,
/// `categorical_logits` over a matrix of logits) may have under `by enum`:
/// each one is a run of the expectation, and a tensor of n independent
/// elements with K values each has Kⁿ of them.
pub const MAX_ENUMERATED_JOINT_VALUES: usize = 256;

impl DistKind {
    /// The name used in programs.
    pub fn name(self) -> &'static str {
        match self {
            DistKind::Normal => "normal",
            DistKind::LogNormal => "lognormal",
            DistKind::Uniform => "uniform",
            DistKind::Exponential => "exponential",
            DistKind::Gamma => "gamma",
            DistKind::Beta => "beta",
            DistKind::Laplace => "laplace",
            DistKind::Cauchy => "cauchy",
            DistKind::StudentT => "student_t",
            DistKind::Flip => "flip",
            DistKind::Categorical => "categorical",
            DistKind::Geometric => "geometric",
            DistKind::Poisson => "poisson",
            DistKind::Binomial => "binomial",
            DistKind::MvNormalDiag => "mv_normal_diag",
            DistKind::MvNormal => "mv_normal",
            DistKind::Dirichlet => "dirichlet",
            DistKind::Bernoulli => "bernoulli",
            DistKind::BernoulliLogits => "bernoulli_logits",
            DistKind::CategoricalLogits => "categorical_logits",
        }
    }

    /// The distribution called `name`, if any.
    pub fn from_name(name: &str) -> Option<DistKind> {
        ALL_DISTRIBUTIONS.iter().copied().find(|d| d.name() == name)
    }

    /// The parameters' names, in order.
    pub fn param_names(self) -> &'static [&'static str] {
        match self {
            DistKind::Normal => &["mean", "scale"],
            DistKind::LogNormal => &["mu", "sigma"],
            DistKind::Uniform => &["low", "high"],
            DistKind::Exponential => &["rate"],
            DistKind::Gamma => &["shape", "rate"],
            DistKind::Beta => &["a", "b"],
            DistKind::Laplace => &["loc", "scale"],
            DistKind::Cauchy => &["loc", "scale"],
            DistKind::StudentT => &["df", "loc", "scale"],
            DistKind::Flip => &["p"],
            DistKind::Categorical => &["probs"],
            DistKind::Geometric => &["p"],
            DistKind::Poisson => &["rate"],
            DistKind::Binomial => &["n", "p"],
            DistKind::MvNormalDiag => &["mean", "scale"],
            DistKind::MvNormal => &["mean", "scale_tril"],
            DistKind::Dirichlet => &["alpha"],
            DistKind::Bernoulli => &["probs"],
            DistKind::BernoulliLogits | DistKind::CategoricalLogits => &["logits"],
        }
    }

    /// The parameters' kinds, in order.
    pub fn param_kinds(self) -> &'static [ParamKind] {
        use ParamKind::*;
        match self {
            DistKind::Normal | DistKind::MvNormalDiag => &[Tensor, Tensor],
            DistKind::LogNormal
            | DistKind::Uniform
            | DistKind::Gamma
            | DistKind::Beta
            | DistKind::Laplace
            | DistKind::Cauchy => &[Real, Real],
            DistKind::Exponential | DistKind::Flip | DistKind::Geometric | DistKind::Poisson => {
                &[Real]
            }
            DistKind::StudentT => &[Real, Real, Real],
            DistKind::Categorical | DistKind::Dirichlet => &[Vector],
            DistKind::Binomial => &[Int, Real],
            DistKind::MvNormal => &[Vector, Matrix],
            DistKind::Bernoulli | DistKind::BernoulliLogits => &[Tensor],
            DistKind::CategoricalLogits => &[Logits],
        }
    }

    /// The kind of value the distribution produces.
    pub fn value_kind(self) -> ValueKind {
        match self {
            DistKind::Normal
            | DistKind::MvNormalDiag
            | DistKind::Bernoulli
            | DistKind::BernoulliLogits => ValueKind::Tensor,
            DistKind::LogNormal
            | DistKind::Uniform
            | DistKind::Exponential
            | DistKind::Gamma
            | DistKind::Beta
            | DistKind::Laplace
            | DistKind::Cauchy
            | DistKind::StudentT => ValueKind::Real,
            DistKind::Flip => ValueKind::Bool,
            DistKind::Categorical
            | DistKind::Geometric
            | DistKind::Poisson
            | DistKind::Binomial => ValueKind::Int,
            DistKind::MvNormal | DistKind::Dirichlet => ValueKind::Vector,
            DistKind::CategoricalLogits => ValueKind::IntPerRow,
        }
    }

    /// Whether the distribution is over a countable set (the Bernoulli
    /// families are, though their values are reals).
    pub fn is_discrete(self) -> bool {
        matches!(
            self.value_kind(),
            ValueKind::Int | ValueKind::Bool | ValueKind::IntPerRow
        ) || self.is_bernoulli()
    }

    /// `bernoulli` or `bernoulli_logits`.
    pub fn is_bernoulli(self) -> bool {
        matches!(self, DistKind::Bernoulli | DistKind::BernoulliLogits)
    }

    /// Whether a tensor-valued choice is made of independent scalar
    /// choices, one per element, of [`DistKind::element_kind`].
    pub fn is_elementwise(self) -> bool {
        self.value_kind() == ValueKind::Tensor
    }

    /// The scalar family of one element of an elementwise choice
    /// (`mv_normal_diag`'s elements are normals; the others are their own
    /// elements).
    pub fn element_kind(self) -> DistKind {
        match self {
            DistKind::MvNormalDiag => DistKind::Normal,
            other => other,
        }
    }

    /// Whether the support is finite (so `enum` applies).
    pub fn has_finite_support(self) -> bool {
        matches!(
            self,
            DistKind::Flip
                | DistKind::Categorical
                | DistKind::Binomial
                | DistKind::Bernoulli
                | DistKind::BernoulliLogits
                | DistKind::CategoricalLogits
        )
    }

    /// The strategies that apply to this distribution.
    pub fn strategies(self) -> &'static [StrategyKind] {
        use StrategyKind::*;
        match self {
            DistKind::Normal
            | DistKind::LogNormal
            | DistKind::Uniform
            | DistKind::Exponential
            | DistKind::Laplace
            | DistKind::Cauchy
            | DistKind::MvNormalDiag
            | DistKind::MvNormal => &[Reparam, Reinforce],
            // Student-t is reparameterized as loc + scale · z · sqrt(df / 2g)
            // with z standard normal and g ~ gamma(df / 2, 1) implicitly
            // reparameterized, so a learned `df` is differentiable too.
            DistKind::StudentT => &[Reparam, Reinforce],
            DistKind::Gamma | DistKind::Beta | DistKind::Dirichlet => &[Implicit, Reinforce],
            DistKind::Flip
            | DistKind::Categorical
            | DistKind::Binomial
            | DistKind::Bernoulli
            | DistKind::BernoulliLogits
            | DistKind::CategoricalLogits => &[Enum, Mvd, Reinforce],
            DistKind::Geometric | DistKind::Poisson => &[Mvd, Reinforce],
        }
    }

    /// The strategy used when a choice has no `by` annotation: pathwise
    /// where the distribution allows it, the score function otherwise. The
    /// compiler falls back to `reinforce` for a pathwise default whose value
    /// reaches a non-differentiable use (see `adev::soundness`).
    pub fn default_strategy(self) -> StrategyKind {
        match self.strategies()[0] {
            StrategyKind::Enum | StrategyKind::Mvd => StrategyKind::Reinforce,
            pathwise => pathwise,
        }
    }
}

impl fmt::Display for DistKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &d in ALL_DISTRIBUTIONS {
            assert_eq!(DistKind::from_name(d.name()), Some(d));
            assert_eq!(d.param_names().len(), d.param_kinds().len());
            assert!(d.strategies().contains(&StrategyKind::Reinforce));
            assert!(d.strategies().contains(&d.default_strategy()));
        }
    }

    #[test]
    fn defaults_are_pathwise_or_score() {
        assert_eq!(DistKind::Normal.default_strategy(), StrategyKind::Reparam);
        assert_eq!(DistKind::Gamma.default_strategy(), StrategyKind::Implicit);
        assert_eq!(DistKind::Flip.default_strategy(), StrategyKind::Reinforce);
        assert_eq!(
            DistKind::Poisson.default_strategy(),
            StrategyKind::Reinforce
        );
    }
}
