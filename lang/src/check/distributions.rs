//! Distributions and gradient strategies (`spec/strategies.md`).
//!
//! The table restates the spec's for the front end, which knows nothing of
//! the compiler's own table (the lowering checks the same rules when it
//! meets a choice; the checker finds them in code that is never run).

use super::scope::Body;
use super::types::{Elem, Num, Shape, Ty, describe_num};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// The gradient strategies.
pub(crate) const STRATEGIES: &[&str] = &["reparam", "implicit", "reinforce", "enum", "mvd"];

/// What a distribution parameter is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// A real scalar (integers promoted).
    Real,
    /// An integer scalar.
    Int,
    /// A vector of reals.
    Vector,
    /// A matrix of reals.
    Matrix,
    /// A real scalar or array of static shape; the arrays among a
    /// distribution's parameters share one shape, and scalars broadcast.
    Tensor,
    /// A vector (one choice) or a matrix (one choice per row) of reals.
    Logits,
}

/// What a distribution's values are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// Reals.
    Real,
    /// Integers.
    Int,
    /// Booleans.
    Bool,
    /// Vectors of reals, as long as the first parameter.
    Vector,
    /// Reals of the parameters' common shape (a scalar if all are).
    Tensor,
    /// An integer per row of the logits: a scalar for a vector of logits,
    /// a vector for a matrix.
    IntPerRow,
}

/// A distribution's signature and strategies.
#[derive(Debug, PartialEq)]
pub(crate) struct DistInfo {
    /// Its name.
    pub name: &'static str,
    /// Its parameters: names and kinds.
    pub params: &'static [(&'static str, ParamKind)],
    /// Its values.
    pub value: ValueKind,
    /// The strategies that apply, the default first.
    pub strategies: &'static [&'static str],
}

impl DistInfo {
    fn is_discrete(&self) -> bool {
        matches!(
            self.value,
            ValueKind::Int | ValueKind::Bool | ValueKind::IntPerRow
        ) || self.name.starts_with("bernoulli")
    }
}

const PATHWISE: &[&str] = &["reparam", "reinforce"];
const IMPLICIT: &[&str] = &["implicit", "reinforce"];
const FINITE: &[&str] = &["enum", "mvd", "reinforce"];
const COUNTING: &[&str] = &["mvd", "reinforce"];

const fn dist(
    name: &'static str,
    params: &'static [(&'static str, ParamKind)],
    value: ValueKind,
    strategies: &'static [&'static str],
) -> DistInfo {
    DistInfo {
        name,
        params,
        value,
        strategies,
    }
}

/// The distributions of `spec/strategies.md`.
pub(crate) const DISTRIBUTIONS: &[DistInfo] = {
    use ParamKind::{Int, Logits, Matrix, Real, Tensor, Vector};
    use ValueKind as V;
    &[
        dist(
            "normal",
            &[("mean", Tensor), ("scale", Tensor)],
            V::Tensor,
            PATHWISE,
        ),
        dist(
            "lognormal",
            &[("mu", Real), ("sigma", Real)],
            V::Real,
            PATHWISE,
        ),
        dist(
            "uniform",
            &[("low", Real), ("high", Real)],
            V::Real,
            PATHWISE,
        ),
        dist("exponential", &[("rate", Real)], V::Real, PATHWISE),
        dist(
            "gamma",
            &[("shape", Real), ("rate", Real)],
            V::Real,
            IMPLICIT,
        ),
        dist("beta", &[("a", Real), ("b", Real)], V::Real, IMPLICIT),
        dist(
            "laplace",
            &[("loc", Real), ("scale", Real)],
            V::Real,
            PATHWISE,
        ),
        dist(
            "cauchy",
            &[("loc", Real), ("scale", Real)],
            V::Real,
            PATHWISE,
        ),
        dist(
            "student_t",
            &[("df", Real), ("loc", Real), ("scale", Real)],
            V::Real,
            PATHWISE,
        ),
        dist("flip", &[("p", Real)], V::Bool, FINITE),
        dist("categorical", &[("probs", Vector)], V::Int, FINITE),
        dist("geometric", &[("p", Real)], V::Int, COUNTING),
        dist("poisson", &[("rate", Real)], V::Int, COUNTING),
        dist("binomial", &[("n", Int), ("p", Real)], V::Int, FINITE),
        dist(
            "mv_normal_diag",
            &[("mean", Tensor), ("scale", Tensor)],
            V::Tensor,
            PATHWISE,
        ),
        dist(
            "mv_normal",
            &[("mean", Vector), ("scale_tril", Matrix)],
            V::Vector,
            PATHWISE,
        ),
        dist("dirichlet", &[("alpha", Vector)], V::Vector, IMPLICIT),
        dist("bernoulli", &[("probs", Tensor)], V::Tensor, FINITE),
        dist("bernoulli_logits", &[("logits", Tensor)], V::Tensor, FINITE),
        dist(
            "categorical_logits",
            &[("logits", Logits)],
            V::IntPerRow,
            FINITE,
        ),
    ]
};

/// The distribution called `name`.
pub(crate) fn distribution(name: &str) -> Option<&'static DistInfo> {
    DISTRIBUTIONS.iter().find(|d| d.name == name)
}

/// Why `strategy` does not apply to choices from `dist`, and what to do
/// instead, if it does not.
pub(crate) fn inapplicable_strategy(dist: &DistInfo, strategy: &str) -> Option<(String, String)> {
    if dist.strategies.contains(&strategy) {
        return None;
    }
    let name = dist.name;
    let default = dist.strategies[0];
    Some(match strategy {
        "reparam" if dist.is_discrete() => (
            format!(
                "`by reparam` differentiates through the sampled value, but `{name}` is discrete"
            ),
            "use `by enum`, `by mvd` or `by reinforce` for a discrete choice".to_string(),
        ),
        "reparam" => (
            format!("`{name}` has no explicit reparameterization"),
            "use `by implicit` (implicit reparameterization) or `by reinforce`".to_string(),
        ),
        "enum" if !dist.is_discrete() => (
            format!("`by enum` enumerates a finite support, but `{name}` is continuous"),
            format!("use `by {default}` or `by reinforce` for a continuous choice"),
        ),
        "enum" => (
            format!("`by enum` needs a finite support, but `{name}` has infinitely many values"),
            "use `by mvd` or `by reinforce`".to_string(),
        ),
        "mvd" => (
            format!(
                "`by mvd` (a measure-valued derivative) is defined for discrete choices, not `{name}`"
            ),
            format!("use `by {default}` or `by reinforce`"),
        ),
        _ => (
            format!("`by implicit` applies to gamma, beta and dirichlet choices, not `{name}`"),
            format!("use `by {default}` or `by reinforce`"),
        ),
    })
}

impl Body<'_, '_> {
    /// `d(params)`: a distribution, its parameters checked (E0412, E0413,
    /// E0414), whose values have the distribution's value type.
    pub fn distribution(&mut self, d: &'static DistInfo, pos: &[(Ty, Span)], span: Span) -> Ty {
        let name = d.name;
        if pos.len() != d.params.len() {
            let names: Vec<&str> = d.params.iter().map(|p| p.0).collect();
            self.report(Diagnostic::error(
                "E0412",
                format!(
                    "`{name}` takes {} parameter(s) ({}), but {} were given",
                    d.params.len(),
                    names.join(", "),
                    pos.len()
                ),
                span,
            ));
            return Ty::Dist(Some(name), Box::new(value_type(d, None)));
        }
        let mut shapes = Vec::new();
        for ((ty, s), (pname, kind)) in pos.iter().zip(d.params) {
            let what = format!("the `{pname}` of `{name}`");
            shapes.push(self.distribution_parameter(ty, *s, &what, *kind));
        }
        let length = shapes.first().and_then(Shape::first);
        if d.value == ValueKind::Tensor {
            return self.tensor_distribution(d, pos, &shapes);
        }
        match name {
            "mv_normal" => {
                let want = Shape::Dims(vec![length, length]);
                if let (Some(n), Shape::Dims(_)) = (length, &shapes[1])
                    && shapes[1].agree(&want).is_none()
                {
                    let found = describe_num(&Num {
                        elem: Elem::Real,
                        shape: shapes[1].clone(),
                    });
                    self.report(Diagnostic::error(
                        "E0414",
                        format!(
                            "`{name}`: the mean has length {n} but the {} is {found}",
                            d.params[1].0
                        ),
                        pos[1].1,
                    ));
                }
            }
            "categorical" if length == Some(0) => {
                self.report(Diagnostic::error(
                    "E0414",
                    "`categorical` needs at least one probability",
                    pos[0].1,
                ));
            }
            "categorical_logits" => {
                if let Shape::Dims(dims) = &shapes[0]
                    && dims.last() == Some(&Some(0))
                {
                    self.report(Diagnostic::error(
                        "E0414",
                        "`categorical_logits` needs at least one logit",
                        pos[0].1,
                    ));
                }
                let value = match &shapes[0] {
                    Shape::Dims(dims) if dims.len() == 2 => Ty::Num(Num {
                        elem: Elem::Int,
                        shape: Shape::Dims(vec![dims[0]]),
                    }),
                    Shape::Dims(_) => Ty::int(),
                    Shape::Unknown => Ty::Any,
                };
                return Ty::Dist(Some(name), Box::new(value));
            }
            _ => {}
        }
        Ty::Dist(Some(name), Box::new(value_type(d, length)))
    }

    /// An elementwise distribution over a tensor (`normal`,
    /// `mv_normal_diag`, `bernoulli`, `bernoulli_logits`): the array
    /// parameters share one shape, the value's, and scalars broadcast
    /// (E0414 names both shapes); `mv_normal_diag` needs an array (E0413).
    fn tensor_distribution(
        &mut self,
        d: &'static DistInfo,
        pos: &[(Ty, Span)],
        shapes: &[Shape],
    ) -> Ty {
        let name = d.name;
        let mut value = Shape::scalar();
        let mut first: Option<usize> = None;
        for (i, shape) in shapes.iter().enumerate() {
            match value.broadcast(shape) {
                Some(joined) => {
                    if !shape.is_scalar() && first.is_none() {
                        first = Some(i);
                    }
                    value = joined;
                }
                None => {
                    let j = first.unwrap_or(0);
                    let describe = |shape: &Shape| {
                        describe_num(&Num {
                            elem: Elem::Real,
                            shape: shape.clone(),
                        })
                    };
                    self.report(
                        Diagnostic::error(
                            "E0414",
                            format!(
                                "`{name}`: the {} is {} but the {} is {}",
                                d.params[j].0,
                                describe(&shapes[j]),
                                d.params[i].0,
                                describe(shape)
                            ),
                            pos[i].1,
                        )
                        .with_label(pos[j].1, format!("the {} is {}", d.params[j].0, describe(&shapes[j])))
                        .with_help(
                            "the parameters must have one shape, the value's; a scalar parameter is broadcast to it",
                        ),
                    );
                    value = Shape::Unknown;
                    break;
                }
            }
        }
        if name == "mv_normal_diag" && shapes.iter().all(Shape::is_scalar) {
            self.report(
                Diagnostic::error(
                    "E0413",
                    "`mv_normal_diag` draws a vector or a tensor, but its mean and scale are both scalars",
                    pos[0].1,
                )
                .with_help("use `normal(mean, scale)` for a scalar, or give a mean of the value's shape"),
            );
        }
        Ty::Dist(
            Some(name),
            Box::new(Ty::Num(Num {
                elem: Elem::Real,
                shape: value,
            })),
        )
    }

    /// Checks one distribution parameter against its kind (E0413) and
    /// returns its shape.
    fn distribution_parameter(
        &mut self,
        ty: &Ty,
        span: Span,
        what: &str,
        kind: ParamKind,
    ) -> Shape {
        let n = match kind {
            ParamKind::Int => self.number(ty, span, what),
            _ => self.real_value(ty, span, what),
        };
        let Some(n) = n else {
            return Shape::Unknown;
        };
        let rank = n.shape.rank();
        let needs = match kind {
            ParamKind::Real if rank.is_some_and(|r| r > 0) => Some("a scalar"),
            ParamKind::Int
                if matches!(n.elem, Elem::Real | Elem::Bool) || rank.is_some_and(|r| r > 0) =>
            {
                Some("an integer")
            }
            ParamKind::Vector if rank.is_some_and(|r| r != 1) => Some("a vector of static size"),
            ParamKind::Matrix if rank.is_some_and(|r| r != 2) => Some("a matrix of static size"),
            ParamKind::Logits if rank.is_some_and(|r| r != 1 && r != 2) => {
                Some("a vector (one choice) or a matrix (one choice per row) of static size")
            }
            _ => None,
        };
        if let Some(needs) = needs {
            self.report(Diagnostic::error(
                "E0413",
                format!("{what} must be {needs}, found {}", describe_num(&n)),
                span,
            ));
        }
        n.shape
    }
}

/// The type of a value of `d`, whose vectors have length `length`.
fn value_type(d: &DistInfo, length: Option<u64>) -> Ty {
    match d.value {
        ValueKind::Real => Ty::real(),
        ValueKind::Int => Ty::int(),
        ValueKind::Bool => Ty::bool(),
        ValueKind::Vector => Ty::Num(Num {
            elem: Elem::Real,
            shape: Shape::Dims(vec![length]),
        }),
        // Found by `tensor_distribution` and the `categorical_logits` case.
        ValueKind::Tensor | ValueKind::IntPerRow => Ty::Any,
    }
}

/// The most joint values a tensor choice may have under `by enum` (the
/// compiler's `MAX_ENUMERATED_JOINT_VALUES`).
const MAX_ENUMERATED_JOINT_VALUES: u64 = 256;

/// Why `by enum` cannot be used for a `bernoulli` choice with value type
/// `value`, if it cannot: each of its 2ⁿ joint values is a run.
pub(crate) fn enum_too_large(dist: &DistInfo, value: &Ty) -> Option<(String, String)> {
    if !dist.name.starts_with("bernoulli") {
        return None;
    }
    let Ty::Num(Num {
        shape: Shape::Dims(dims),
        ..
    }) = value
    else {
        return None;
    };
    let elements = dims
        .iter()
        .try_fold(1u64, |acc, d| d.and_then(|d| acc.checked_mul(d)))?;
    if dims.is_empty()
        || elements == 0
        || elements < 64 && (1u64 << elements) <= MAX_ENUMERATED_JOINT_VALUES
    {
        return None;
    }
    let name = dist.name;
    Some((
        format!(
            "`by enum` would run the expectation once for each of the 2^{elements} joint values of this `{name}` choice of {elements} elements (at most {MAX_ENUMERATED_JOINT_VALUES} are enumerated)"
        ),
        "use `by reinforce`, or `by mvd` (one extra run per element and alternative value)"
            .to_string(),
    ))
}
