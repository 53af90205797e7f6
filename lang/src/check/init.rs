//! Random initializers of learnable parameters: `glorot()`, `he()` and
//! `normal(σ)` as the initial value of a `param`.
//!
//! A network's weights cannot start at a constant (every unit would learn
//! the same thing), so a `param` may be initialized by a draw instead:
//!
//! * `glorot()` — uniform on `(−a, a)` with `a = √(6 / (fan_in + fan_out))`
//!   (Glorot and Bengio, 2010);
//! * `he()` — normal with mean 0 and variance `2 / fan_in` (He et al., 2015);
//! * `normal(σ)` — normal with mean 0 and standard deviation `σ`, a
//!   constant.
//!
//! For a parameter of shape `[d₀, d₁, ...]`, used as `matvec(W, x)`,
//! `fan_out = d₀` and `fan_in = d₁ · d₂ · …`; a vector has `fan_in =
//! fan_out = d₀`, a scalar 1. The draw is made by the runtime from the
//! run's seed and the parameter's qualified name, so adding a parameter does
//! not change how the others start. These forms are recognized only as the
//! whole initializer of a `param` whose constraint is `real` (E0111
//! otherwise); anywhere else `normal` is the distribution.

use crate::ast::{Expr, ExprKind};
use crate::span::Span;

/// A random initializer, as written.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RandomInit<'a> {
    /// `glorot()`.
    Glorot,
    /// `he()`.
    He,
    /// `normal(σ)`: the standard deviation's expression.
    Normal(&'a Expr),
}

impl RandomInit<'_> {
    /// The initializer's name.
    pub fn name(&self) -> &'static str {
        match self {
            RandomInit::Glorot => "glorot",
            RandomInit::He => "he",
            RandomInit::Normal(_) => "normal",
        }
    }
}

/// The random initializer `init` is, with the span of its name, if it is
/// one: a call of `glorot` or `he` without arguments, or of `normal` with
/// one positional argument.
pub fn random_initializer(init: &Expr) -> Option<(RandomInit<'_>, Span)> {
    let ExprKind::Call { callee, args } = &init.kind else {
        return None;
    };
    let ExprKind::Var(name) = &callee.kind else {
        return None;
    };
    let form = match (name.name.as_str(), args.as_slice()) {
        ("glorot", []) => RandomInit::Glorot,
        ("he", []) => RandomInit::He,
        ("normal", [arg]) if arg.name.is_none() => RandomInit::Normal(&arg.value),
        _ => return None,
    };
    Some((form, name.span))
}

/// `(fan_in, fan_out)` of a parameter of shape `shape`.
pub fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, rest @ ..] => (rest.iter().product(), *out),
    }
}
