//! Compile-time values of the lowering.
//!
//! Lowering is a staged evaluator: it runs the program's structure at
//! compile time and emits IR only for numeric computation. A [`Meta`] is
//! what an expression evaluates to at compile time: an IR value, or a
//! structure the IR never sees — tuples and records (flattened to their IR
//! leaves), choice maps, generative functions (applied or not), functions,
//! distributions, expectations (closures over their environment),
//! marginals, algorithms, optimizers and strings.

use crate::dist::DistKind;
use crate::ir::ValueId;
use std::collections::BTreeMap;
use std::rc::Rc;
use vprog_lang::Span;
use vprog_lang::ast::{Block, FunctionDecl};

/// A reference to a `gen` or `fn` declaration.
#[derive(Clone, Debug)]
pub struct FnRef {
    /// The declaration.
    pub decl: Rc<FunctionDecl>,
    /// The module it belongs to (for resolving its global names).
    pub module: usize,
}

/// A generative function value, applied to arguments or not.
#[derive(Clone, Debug)]
pub struct GenValue {
    /// The `gen` declaration.
    pub func: FnRef,
    /// The arguments, once applied (`ring(5.0)`).
    pub args: Option<Vec<Meta>>,
    /// Whether its parameters are held fixed (`stop_params(g)`): read with
    /// their derivatives cut.
    pub stop_params: bool,
}

/// One random choice in a choice map.
#[derive(Clone, Debug)]
pub struct Choice {
    /// The value (stacked along the loops the choice was made in).
    pub value: ValueId,
    /// Its log density, when a generative function sampled or scored it
    /// (stacked likewise).
    pub score: Option<ValueId>,
    /// Whether it is present, for a choice made under an `if` (stacked
    /// likewise); `None` means always present.
    pub present: Option<ValueId>,
    /// Where the choice was made.
    pub span: Option<Span>,
}

/// A choice map with a static set of addresses. An address is a path:
/// `["a", "x"]` for the choice `x` of the traced call `a ~ g(...)`.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    /// The choices by address.
    pub choices: BTreeMap<Vec<String>, Choice>,
}

impl Trace {
    /// The address as written in messages: `a/x`.
    pub fn show(path: &[String]) -> String {
        path.join("/")
    }
}

/// An inference algorithm for `marginal` / `normalize`.
#[derive(Clone, Debug)]
pub enum Alg {
    /// Sampling importance resampling with this many particles (including
    /// the retained one, in the reciprocal direction).
    Sir {
        /// The number of particles, ≥ 1.
        particles: usize,
        /// The proposal (`sir(m, proposal = q)`); `normalize` needs one,
        /// `marginal` uses the function's own prior.
        proposal: Option<Box<GenValue>>,
    },
}

/// An optimizer and its settings.
#[derive(Clone, Debug, PartialEq)]
pub enum Optimizer {
    /// Plain gradient ascent.
    Sgd {
        /// The learning rate.
        lr: f64,
    },
    /// Gradient ascent with heavy-ball momentum.
    Momentum {
        /// The learning rate.
        lr: f64,
        /// The momentum coefficient.
        beta: f64,
    },
    /// Adam (Kingma and Ba, 2015).
    Adam {
        /// The learning rate.
        lr: f64,
        /// The first-moment decay.
        beta1: f64,
        /// The second-moment decay.
        beta2: f64,
        /// The denominator's offset.
        eps: f64,
    },
}

/// A builtin function (math, distributions, library operations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Builtin(pub &'static str);

/// An expectation: its body and the environment it closes over.
#[derive(Clone, Debug)]
pub struct Closure {
    /// The body of `E { ... }`.
    pub body: Rc<Block>,
    /// The module of the code that wrote it.
    pub module: usize,
    /// The captured local variables, innermost last.
    pub captured: Vec<(String, Meta)>,
    /// Where the expectation was written.
    pub span: Span,
}

/// A compile-time value.
#[derive(Clone, Debug)]
pub enum Meta {
    /// An IR value (a real, integer, boolean, or tensor).
    Val(ValueId),
    /// `()`.
    Unit,
    /// `(a, b, ...)`.
    Tuple(Vec<Meta>),
    /// `{ a: ..., b: ... }`.
    Record(BTreeMap<String, Meta>),
    /// A choice map produced by a generative function or `merge`.
    Choices(Trace),
    /// A generative function.
    Gen(GenValue),
    /// A deterministic function.
    Fn(FnRef),
    /// A builtin function.
    Builtin(Builtin),
    /// A host function (its index in the program's host table).
    Host(u32),
    /// A distribution with its parameters (IR values).
    Dist(DistKind, Vec<ValueId>),
    /// An expectation.
    Expect(Rc<Closure>),
    /// `marginal(g, keep = [...], via = alg)`.
    Marginal {
        /// The generative function (applied).
        model: Box<GenValue>,
        /// The kept addresses.
        keep: Vec<String>,
        /// The density estimator.
        alg: Alg,
    },
    /// `target(model, data)`: the unnormalized posterior of `model` given
    /// the choice map `data`.
    Target {
        /// The model (applied).
        model: Box<GenValue>,
        /// The observed choices.
        data: Trace,
    },
    /// `normalize(target, via = sir(m, proposal = q))`: a generative
    /// function whose samples approximate the target's posterior, with a
    /// density estimated by SIR.
    Normalized {
        /// The model (applied).
        model: Box<GenValue>,
        /// The observed choices.
        data: Trace,
        /// The number of particles.
        particles: usize,
        /// The proposal (applied).
        proposal: Box<GenValue>,
    },
    /// An inference algorithm.
    Alg(Alg),
    /// An optimizer.
    Optimizer(Optimizer),
    /// A string (an address or a name).
    Str(String),
    /// An estimate request `estimate(objective, samples = n)`.
    Estimate {
        /// The expectation to estimate.
        objective: Box<Meta>,
        /// The number of samples.
        samples: usize,
    },
}

impl Meta {
    /// A short description of the value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Meta::Val(_) => "a number",
            Meta::Unit => "`()`",
            Meta::Tuple(_) => "a tuple",
            Meta::Record(_) => "a record",
            Meta::Choices(_) => "a choice map",
            Meta::Gen(_) => "a generative function",
            Meta::Fn(_) => "a function",
            Meta::Builtin(_) => "a builtin function",
            Meta::Host(_) => "a host function",
            Meta::Dist(..) => "a distribution",
            Meta::Expect(_) => "an expectation",
            Meta::Marginal { .. } => "a marginal",
            Meta::Alg(_) => "an inference algorithm",
            Meta::Target { .. } => "a target",
            Meta::Normalized { .. } => "a normalized target",
            Meta::Optimizer(_) => "an optimizer",
            Meta::Str(_) => "a string",
            Meta::Estimate { .. } => "an estimate",
        }
    }

    /// The IR leaves of a value made only of IR values, tuples, records
    /// and `()` (the values that can be loop carries and branch results),
    /// in a canonical order; `None` for anything else.
    pub fn leaves(&self) -> Option<Vec<ValueId>> {
        let mut out = Vec::new();
        fn walk(m: &Meta, out: &mut Vec<ValueId>) -> bool {
            match m {
                Meta::Val(v) => {
                    out.push(*v);
                    true
                }
                Meta::Unit => true,
                Meta::Tuple(items) => items.iter().all(|i| walk(i, out)),
                Meta::Record(fields) => fields.values().all(|f| walk(f, out)),
                _ => false,
            }
        }
        walk(self, &mut out).then_some(out)
    }

    /// Rebuilds a value of this one's shape from new leaves (as returned by
    /// [`Meta::leaves`]).
    pub fn with_leaves(&self, leaves: &mut impl Iterator<Item = ValueId>) -> Meta {
        match self {
            Meta::Val(_) => Meta::Val(leaves.next().expect("enough leaves")),
            Meta::Unit => Meta::Unit,
            Meta::Tuple(items) => {
                Meta::Tuple(items.iter().map(|i| i.with_leaves(leaves)).collect())
            }
            Meta::Record(fields) => Meta::Record(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.with_leaves(leaves)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    /// Whether two values have the same structure (same tree of tuples and
    /// records; leaves not compared).
    pub fn same_shape(&self, other: &Meta) -> bool {
        match (self, other) {
            (Meta::Val(_), Meta::Val(_)) | (Meta::Unit, Meta::Unit) => true,
            (Meta::Tuple(a), Meta::Tuple(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_shape(y))
            }
            (Meta::Record(a), Meta::Record(b)) => {
                a.len() == b.len()
                    && a.iter()
                        .zip(b)
                        .all(|((ka, va), (kb, vb))| ka == kb && va.same_shape(vb))
            }
            _ => false,
        }
    }
}
