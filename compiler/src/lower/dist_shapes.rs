//! Shape rules of the tensor distributions (`normal` and `mv_normal_diag`
//! over tensors, `bernoulli`, `bernoulli_logits`, `categorical_logits`),
//! checked where a distribution is applied and where a strategy is chosen
//! for one of its choices.
//!
//! * The tensor parameters of an elementwise distribution
//!   ([`ParamKind::Tensor`](crate::dist::ParamKind::Tensor)) share one
//!   shape, the value's; scalar parameters are broadcast to it (E0414
//!   names both shapes otherwise). `mv_normal_diag` needs a tensor value.
//! * `categorical_logits` needs at least one logit per choice.
//! * `by enum` runs the expectation once per joint value of the choice: a
//!   tensor choice may have at most [`MAX_ENUMERATED_JOINT_VALUES`] of
//!   them (E0301, suggesting `reinforce` or `mvd`).

use super::ctx::{LResult, Lower, describe_type};
use crate::density::elementwise_shape;
use crate::dist::{DistKind, MAX_ENUMERATED_JOINT_VALUES, StrategyKind};
use crate::ir::{Type, ValueId};
use vprog_lang::{Diagnostic, Span};

impl Lower<'_, '_> {
    /// The shape errors of `kind` applied to `params` (values and spans), if
    /// any.
    pub(super) fn tensor_distribution_shapes(
        &self,
        kind: DistKind,
        params: &[(ValueId, Span)],
    ) -> Option<Diagnostic> {
        let types: Vec<Type> = params.iter().map(|&(v, _)| self.ty(v)).collect();
        let names = kind.param_names();
        if kind.is_elementwise() {
            if let Err((first, other)) = elementwise_shape(&types) {
                let at = |shape: &Vec<usize>| {
                    types
                        .iter()
                        .position(|t| t.shape == *shape)
                        .unwrap_or_default()
                };
                let (i, j) = (at(&first), at(&other));
                return Some(
                    Diagnostic::error(
                        "E0414",
                        format!(
                            "`{kind}`: the {} is {} but the {} is {}",
                            names[i],
                            describe_type(&types[i]),
                            names[j],
                            describe_type(&types[j])
                        ),
                        params[j].1,
                    )
                    .with_label(params[i].1, format!("the {} is {}", names[i], describe_type(&types[i])))
                    .with_help(
                        "the parameters must have one shape, the value's; a scalar parameter is broadcast to it",
                    ),
                );
            }
            if kind == DistKind::MvNormalDiag && types.iter().all(Type::is_scalar) {
                return Some(
                    Diagnostic::error(
                        "E0413",
                        "`mv_normal_diag` draws a vector or a tensor, but its mean and scale are both scalars",
                        params[0].1,
                    )
                    .with_help("use `normal(mean, scale)` for a scalar, or give a mean of the value's shape"),
                );
            }
        }
        if kind == DistKind::CategoricalLogits && types[0].shape.last() == Some(&0) {
            return Some(Diagnostic::error(
                "E0414",
                "`categorical_logits` needs at least one logit",
                params[0].1,
            ));
        }
        None
    }

    /// Rejects `by enum` for a tensor choice with more joint values than an
    /// enumeration visits.
    pub(super) fn check_strategy_shape(
        &self,
        kind: DistKind,
        strategy: StrategyKind,
        params: &[ValueId],
        strategy_span: Span,
        dist_span: Span,
    ) -> LResult<()> {
        if strategy != StrategyKind::Enum {
            return Ok(());
        }
        let types: Vec<Type> = params.iter().map(|&v| self.ty(v)).collect();
        let Some((elements, per_element)) = enumerated_elements(kind, &types) else {
            return Ok(());
        };
        if elements == 0 || joint_values(elements, per_element).is_some() {
            return Ok(());
        }
        Err(Diagnostic::error(
            "E0301",
            format!(
                "`by enum` would run the expectation once for each of the {per_element}^{elements} joint values of this `{kind}` choice of {elements} elements (at most {MAX_ENUMERATED_JOINT_VALUES} are enumerated)"
            ),
            strategy_span,
        )
        .with_label(dist_span, format!("a `{kind}` choice of {elements} elements"))
        .with_help(
            "use `by reinforce`, or `by mvd` (one extra run per element and alternative value)",
        ))
    }
}

/// For a choice of `kind` whose value is a tensor, the number of its
/// elements and of the values each one takes; `None` for a scalar choice
/// (whose support is enumerated as it is).
fn enumerated_elements(kind: DistKind, types: &[Type]) -> Option<(usize, usize)> {
    match kind {
        DistKind::Bernoulli | DistKind::BernoulliLogits => {
            let shape = &types[0].shape;
            (!shape.is_empty()).then(|| (shape.iter().product(), 2))
        }
        DistKind::CategoricalLogits => match types[0].shape.as_slice() {
            [rows, classes] => Some((*rows, *classes)),
            _ => None,
        },
        _ => None,
    }
}

/// `per_element^elements`, if at most [`MAX_ENUMERATED_JOINT_VALUES`].
fn joint_values(elements: usize, per_element: usize) -> Option<usize> {
    let mut total = 1usize;
    for _ in 0..elements {
        total = total.checked_mul(per_element)?;
        if total > MAX_ENUMERATED_JOINT_VALUES {
            return None;
        }
    }
    Some(total)
}
