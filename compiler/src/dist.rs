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
    /// `normal(mean, scale)`
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
    /// `mv_normal_diag(mean, scale)`: independent normals over a vector.
    MvNormalDiag,
    /// `mv_normal(mean, scale_tril)`: a multivariate normal given the lower
    /// Cholesky factor of its covariance.
    MvNormal,
    /// `dirichlet(alpha)`
    Dirichlet,
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
];

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
        }
    }

    /// The parameters' kinds, in order.
    pub fn param_kinds(self) -> &'static [ParamKind] {
        use ParamKind::*;
        match self {
            DistKind::Normal
            | DistKind::LogNormal
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
            DistKind::MvNormalDiag => &[Vector, Vector],
            DistKind::MvNormal => &[Vector, Matrix],
        }
    }

    /// The kind of value the distribution produces.
    pub fn value_kind(self) -> ValueKind {
        match self {
            DistKind::Normal
            | DistKind::LogNormal
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
            DistKind::MvNormalDiag | DistKind::MvNormal | DistKind::Dirichlet => ValueKind::Vector,
        }
    }

    /// Whether the distribution is over a countable set.
    pub fn is_discrete(self) -> bool {
        matches!(self.value_kind(), ValueKind::Int | ValueKind::Bool)
    }

    /// Whether the support is finite (so `enum` applies).
    pub fn has_finite_support(self) -> bool {
        matches!(
            self,
            DistKind::Flip | DistKind::Categorical | DistKind::Binomial
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
            DistKind::Flip | DistKind::Categorical | DistKind::Binomial => &[Enum, Mvd, Reinforce],
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
