//! Entry points for the REPL and the embedding API: an expression's type
//! and value, the IR after each pass, and simulating a generative function.
//!
//! A `report` needs only a value's leaves; a prompt wants to print the value
//! with its type, to show what each pass did to it (`:ir`), and an embedder
//! wants to run a generative function forward and read its choices by
//! address. These reuse the pipeline of `objective.rs`: the same lowering,
//! the same passes, with the stages recorded on the way.

use super::Program;
use super::ctx::{GenMode, Handler, LResult, Lower, describe_type};
use super::meta::{Meta, Trace};
use super::objective::{CompiledValue, checked, internal};
use crate::ir::{Function, Type};
use crate::transform::{adev, simplify::simplify};
use std::fmt;
use vprog_lang::Diagnostic;
use vprog_lang::ast::Expr;

/// The IR of a compilation after each named pass, in order.
pub type Stages = Vec<(&'static str, Function)>;

/// The type of a value as users read it (`spec/language.md` §2).
#[derive(Clone, Debug, PartialEq)]
pub enum ValueType {
    /// A number or an array: `real`, `int`, `bool`, `real[3]`.
    Number(Type),
    /// `()`.
    Unit,
    /// `(T, U, ...)`.
    Tuple(Vec<ValueType>),
    /// `{a: T, b: U}`, fields in name order.
    Record(Vec<(String, ValueType)>),
    /// A value that is not made of numbers: `choices`, `gen`, `fn`,
    /// `dist`, `expect`, `target`, `algorithm`, `optimizer`, `string`.
    Kind(&'static str),
}

impl ValueType {
    /// The type of the compile-time value `m`.
    pub(super) fn of(lower: &Lower, m: &Meta) -> ValueType {
        match m {
            Meta::Val(v) => ValueType::Number(lower.ty(*v)),
            Meta::Unit => ValueType::Unit,
            Meta::Tuple(items) => {
                ValueType::Tuple(items.iter().map(|i| ValueType::of(lower, i)).collect())
            }
            Meta::Record(fields) => ValueType::Record(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), ValueType::of(lower, v)))
                    .collect(),
            ),
            Meta::Estimate { .. } => ValueType::Number(Type::f64()),
            Meta::Choices(_) => ValueType::Kind("choices"),
            Meta::Gen(_) | Meta::Marginal { .. } | Meta::Normalized { .. } => {
                ValueType::Kind("gen")
            }
            Meta::Target { .. } => ValueType::Kind("target"),
            Meta::Fn(_) | Meta::Builtin(_) | Meta::Host(_) => ValueType::Kind("fn"),
            Meta::Dist(..) => ValueType::Kind("dist"),
            Meta::Expect(_) => ValueType::Kind("expect"),
            Meta::Alg(_) => ValueType::Kind("algorithm"),
            Meta::Optimizer(_) => ValueType::Kind("optimizer"),
            Meta::Str(_) => ValueType::Kind("string"),
        }
    }

    /// Whether the value is made of numbers only (so it can be printed).
    pub fn is_numeric(&self) -> bool {
        match self {
            ValueType::Number(_) | ValueType::Unit => true,
            ValueType::Tuple(items) => items.iter().all(ValueType::is_numeric),
            ValueType::Record(fields) => fields.iter().all(|(_, t)| t.is_numeric()),
            ValueType::Kind(_) => false,
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Number(t) => f.write_str(&describe_type(t)),
            ValueType::Unit => f.write_str("()"),
            ValueType::Tuple(items) => {
                f.write_str("(")?;
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{t}")?;
                }
                f.write_str(")")
            }
            ValueType::Record(fields) => {
                f.write_str("{")?;
                for (i, (k, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {t}")?;
                }
                f.write_str("}")
            }
            ValueType::Kind(k) => f.write_str(k),
        }
    }
}

/// An expression compiled for a prompt: its type, and what evaluating it
/// runs (nothing for a value that is not made of numbers, such as a
/// generative function or an expectation).
#[derive(Clone, Debug)]
pub struct CompiledEntry {
    /// The value's type.
    pub ty: ValueType,
    /// What evaluating the value runs, as for a `report`.
    pub value: Option<CompiledValue>,
}

/// One random choice of a simulation's results.
#[derive(Clone, Debug, PartialEq)]
pub struct SimulatedChoice {
    /// The address, `a/x` for the choice `x` of the traced call `a`.
    pub address: String,
    /// The value's type (an array for a choice made in a loop).
    pub ty: Type,
    /// Whether a presence flag follows the value (a choice made under an
    /// `if`; the flag is stacked like the value).
    pub has_presence: bool,
}

/// A generative function compiled to run forward.
#[derive(Clone, Debug)]
pub struct CompiledSimulation {
    /// `(params) -> (per choice: value [, presence]; log density; the
    /// return value's leaves)`, with keyed draws (run it with a key).
    pub function: Function,
    /// The choices, in the order of the results.
    pub choices: Vec<SimulatedChoice>,
    /// The return value's type; its leaves are the last results when it is
    /// made of numbers.
    pub return_type: ValueType,
}

impl Program {
    /// Compiles the expression `expr` seen from top-level item `item` of
    /// the main module (as a `report` there would see it) for a prompt.
    pub fn compile_entry(&self, item: usize, name: &str, expr: &Expr) -> LResult<CompiledEntry> {
        let (ty, value) = self.lower_value(item, name, expr, None)?;
        Ok(CompiledEntry {
            ty,
            value: value.ok(),
        })
    }

    /// The IR of `expr` after each named pass: for an expectation (or an
    /// `estimate` of one) `lower`, `soundness`, `adev`, `simplify`, `vjp`,
    /// `simplify` (the last two are the gradient program); for a number,
    /// `lower` and `simplify`.
    pub fn compile_stages(&self, item: usize, name: &str, expr: &Expr) -> LResult<Stages> {
        let mut stages = Stages::new();
        let (ty, value) = self.lower_value(item, name, expr, Some(&mut stages))?;
        if ty == ValueType::Kind("expect") {
            stages.clear();
            self.compile_objective_staged(item, name, expr, Some(&mut stages))?;
        } else {
            value?;
        }
        Ok(stages)
    }

    /// Compiles a simulation of the applied generative function `expr`
    /// (`model(1.0, 3)`), seen after every item of the main module: every
    /// choice is drawn from its distribution, whatever its strategy.
    pub fn compile_simulation(&self, expr: &Expr) -> LResult<CompiledSimulation> {
        let span = expr.span;
        let mut func = Function::new("simulate");
        let (mut lower, params) = self.new_lower(&mut func, self.modules[0].ast.items.len());
        let g = match lower.expr(expr)? {
            Meta::Gen(g) => g,
            other => {
                return Err(Diagnostic::error(
                    "E0313",
                    format!(
                        "only a generative function can be simulated, found {}",
                        other.kind_name()
                    ),
                    span,
                ));
            }
        };
        lower.handlers.push(Handler::Expect);
        let run = lower.run_gen(&g, GenMode::Simulate, span);
        lower.handlers.pop();
        let run = run?;
        let mut results = Vec::new();
        let mut choices = Vec::new();
        for (path, choice) in &run.trace.choices {
            results.push(choice.value);
            results.extend(choice.present);
            choices.push(SimulatedChoice {
                address: Trace::show(path),
                ty: lower.ty(choice.value),
                has_presence: choice.present.is_some(),
            });
        }
        results.push(run.score);
        let return_type = ValueType::of(&lower, &run.ret);
        if return_type.is_numeric() {
            results.extend(run.ret.leaves().unwrap_or_default());
        }
        lower.b.finish(params, results);
        let body = checked(func, span)?;
        let forward = adev::simulation(&body).map_err(|e| internal(e.message, span))?;
        let function = checked(simplify(&checked(forward, span)?), span)?;
        Ok(CompiledSimulation {
            function,
            choices,
            return_type,
        })
    }
}
