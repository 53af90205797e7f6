//! The IR interpreter: the reference semantics of vprog programs.
//!
//! [`run`] evaluates a function on argument values within a [`RunContext`]
//! that supplies the run's randomness key and the forcing tables of the
//! `enum` and `mvd` strategies, and collects what the run observed about
//! those sites. Values live in a slot per IR value; structured control flow
//! is evaluated recursively. Primitive kernels are in `kernels.rs` (those of
//! the shape and linear-algebra primitives in `tensor.rs`); keyed draws and
//! forcing-table reads in `effects.rs`.

mod effects;
mod kernels;
mod tensor;

pub(crate) use effects::eval_effect;
pub use effects::{EnumEvent, MvdEvent, RunContext, SiteKey};
pub(crate) use kernels::{apply_values, check_elements, check_guard, max_in_order};

/// The error of a host call in a run without host functions (both back
/// ends say the same).
pub(crate) const NO_HOST_REGISTRY: &str =
    "this program calls a host function, but the run has no host registry";

use crate::value::Value;
use std::collections::HashMap;
use std::fmt;
use vprog_compiler::ir::{Function, OpId, OpKind, Origin, Region, ValueId};
use vprog_compiler::prim::Prim;

/// A run-time error, with the origin of the operation that raised it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunError {
    /// What went wrong, as a sentence.
    pub message: String,
    /// Where (source span and site address), when known.
    pub origin: Origin,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin.site {
            Some(site) => write!(f, "{} (at site `{site}`)", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for RunError {}

pub(crate) struct Interp<'f, 'c> {
    pub(crate) func: &'f Function,
    pub(crate) slots: Vec<Option<Value>>,
    pub(crate) ctx: &'c mut RunContext,
    /// Whether to stop at the first operation producing NaN or ±∞.
    check_finite: bool,
    /// The values of the `const_tensor` operations evaluated so far.
    const_tensors: HashMap<OpId, Value>,
}

impl Interp<'_, '_> {
    #[inline]
    pub(crate) fn get(&self, v: ValueId) -> &Value {
        match &self.slots[v.0 as usize] {
            Some(v) => v,
            None => panic!("internal error: value #{} read before it was computed", v.0),
        }
    }

    #[inline]
    fn set(&mut self, v: ValueId, value: Value) {
        self.slots[v.0 as usize] = Some(value);
    }

    fn region(&mut self, region: &Region) -> Result<(), RunError> {
        for &id in &region.ops {
            let op = self.func.op(id);
            let fail = |message: String| RunError {
                message,
                origin: self.func.origin(op.origin).clone(),
            };
            match &op.kind {
                OpKind::Prim(Prim::ConstTensor { .. }) => {
                    // A constant tensor can be a whole data set, and a
                    // top-level `let` is inlined at each use, often inside
                    // loops: it is built once per run and shared.
                    let value = match self.const_tensors.get(&id) {
                        Some(v) => v.clone(),
                        None => {
                            let OpKind::Prim(p) = &op.kind else {
                                unreachable!("matched a primitive")
                            };
                            let v = kernels::apply(p, &op.args, self).map_err(fail)?;
                            self.const_tensors.insert(id, v.clone());
                            v
                        }
                    };
                    self.set(op.results[0], value);
                }
                OpKind::Prim(p) => {
                    let value = kernels::apply(p, &op.args, self).map_err(fail)?;
                    if self.check_finite && !value.is_finite() {
                        let inputs_finite = op.args.iter().all(|&a| self.get(a).is_finite());
                        if inputs_finite {
                            return Err(fail(format!(
                                "`{}` produced {} from finite operands",
                                p.name(),
                                value
                            )));
                        }
                    }
                    self.set(op.results[0], value);
                }
                OpKind::If => {
                    let cond = self
                        .get(op.args[0])
                        .as_bool()
                        .ok_or_else(|| fail("if condition is not a bool".into()))?;
                    let branch = &op.regions[if cond { 0 } else { 1 }];
                    self.region(branch)?;
                    for (k, &r) in op.results.iter().enumerate() {
                        let v = self.get(branch.results[k]).clone();
                        self.set(r, v);
                    }
                }
                OpKind::For { stacked } => self.for_loop(op, *stacked as usize)?,
                OpKind::Sample(_) | OpKind::AddCost => {
                    return Err(fail(
                        "internal error: a random choice reached the interpreter before ADEV"
                            .into(),
                    ));
                }
                OpKind::Draw { .. }
                | OpKind::EnumValue { .. }
                | OpKind::MvdValue { .. }
                | OpKind::MvdCotangent { .. }
                | OpKind::Subsample { .. } => {
                    let value = effects::apply(op, self).map_err(fail)?;
                    self.set(op.results[0], value);
                }
            }
        }
        Ok(())
    }

    fn for_loop(&mut self, op: &vprog_compiler::ir::Op, stacked: usize) -> Result<(), RunError> {
        let fail = |message: String| RunError {
            message,
            origin: self.func.origin(op.origin).clone(),
        };
        let lo = self
            .get(op.args[0])
            .as_i64()
            .ok_or_else(|| fail("loop bound is not an integer".into()))?;
        let hi = self
            .get(op.args[1])
            .as_i64()
            .ok_or_else(|| fail("loop bound is not an integer".into()))?;
        let body = &op.regions[0];
        let n_carry = op.args.len() - 2;
        let mut carries: Vec<Value> = op.args[2..].iter().map(|&a| self.get(a).clone()).collect();
        let trip = (hi - lo).max(0) as usize;
        let mut stacks: Vec<Vec<Value>> = vec![Vec::with_capacity(trip); stacked];
        for i in lo..hi {
            self.set(body.params[0], Value::I(i));
            for (k, c) in carries.drain(..).enumerate() {
                self.set(body.params[1 + k], c);
            }
            self.region(body)?;
            carries = body.results[..n_carry]
                .iter()
                .map(|&r| self.get(r).clone())
                .collect();
            for (s, stack) in stacks.iter_mut().enumerate() {
                stack.push(self.get(body.results[n_carry + s]).clone());
            }
        }
        for (k, c) in carries.into_iter().enumerate() {
            self.set(op.results[k], c);
        }
        for (s, stack) in stacks.into_iter().enumerate() {
            let ty = self.func.ty(op.results[n_carry + s]).clone();
            let v = kernels::stack(&stack, &ty).map_err(fail)?;
            self.set(op.results[n_carry + s], v);
        }
        Ok(())
    }
}

/// Evaluates `func` on `args` within `ctx` and returns its results.
pub fn run(func: &Function, args: &[Value], ctx: &mut RunContext) -> Result<Vec<Value>, RunError> {
    run_with(func, args, ctx, false)
}

/// [`run`], stopping with an error at the first primitive that produces a
/// NaN or an infinity from finite operands (to find where a non-finite
/// objective comes from).
pub fn run_checked(
    func: &Function,
    args: &[Value],
    ctx: &mut RunContext,
) -> Result<Vec<Value>, RunError> {
    run_with(func, args, ctx, true)
}

fn run_with(
    func: &Function,
    args: &[Value],
    ctx: &mut RunContext,
    check_finite: bool,
) -> Result<Vec<Value>, RunError> {
    if args.len() != func.body.params.len() {
        return Err(RunError {
            message: format!(
                "internal error: {} takes {} arguments, got {}",
                func.name,
                func.body.params.len(),
                args.len()
            ),
            origin: Origin::default(),
        });
    }
    let mut interp = Interp {
        func,
        slots: vec![None; func.values.len()],
        ctx,
        check_finite,
        const_tensors: HashMap::new(),
    };
    for (&p, a) in func.body.params.iter().zip(args) {
        interp.set(p, a.clone());
    }
    interp.region(&func.body)?;
    Ok(func
        .body
        .results
        .iter()
        .map(|&r| interp.get(r).clone())
        .collect())
}
