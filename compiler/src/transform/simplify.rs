//! Simplification: constant folding, algebraic identities, common
//! subexpression elimination, and dead-code elimination.
//!
//! 1. **Fold and share.** The function is rebuilt op by op. An elementwise
//!    primitive whose operands are all scalar constants is evaluated with its
//!    kernel (`prim/eval.rs`) and replaced by a constant; `x + 0`, `x − 0`,
//!    `x · 1`, `x / 1` and `stop_grad(constant)` become their operand. A pure
//!    primitive identical (same primitive, same operands) to one already
//!    emitted in this region or an enclosing one is replaced by it, and so
//!    is a `subsample` of the same `(n, m)` (every minibatch of one plate
//!    size is the same within a run). A loop
//!    carry that the body yields unchanged is removed: its value is its
//!    initial value throughout.
//! 2. **Remove the dead.** A backward liveness pass keeps the function's
//!    results, every effect (random choices, costs), everything they depend
//!    on, and the region values of a kept structured op; the rest is
//!    dropped. A loop's stacked outputs that nobody reads are dropped with
//!    the body values only they needed (reverse mode stacks every body
//!    value as a residual and relies on this to keep only the used ones).
//!
//! Multiplication by zero is *not* folded: `x · 0` is NaN for an infinite
//! `x`, and hiding that would hide a bug from the NaN check.

use super::{Env, lookup};
use crate::ir::{Builder, Elem, Function, Op, OpKind, Region, ValueId};
use crate::prim::Prim;
use crate::prim::eval::{self, Scalar};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

struct Folder<'s> {
    src: &'s Function,
    consts: HashMap<ValueId, Scalar>,
    /// Scoped tables of emitted pure primitives: key → value.
    shared: Vec<HashMap<(String, Vec<ValueId>), ValueId>>,
    /// The `for` loops of the source by their carried results: value →
    /// (loop, carry position).
    carried: HashMap<ValueId, (crate::ir::OpId, usize)>,
}

fn const_of(prim: &Prim) -> Option<Scalar> {
    match prim {
        Prim::ConstF64(x) => Some(Scalar::F(*x)),
        Prim::ConstI64(x) => Some(Scalar::I(*x)),
        Prim::ConstBool(x) => Some(Scalar::B(*x)),
        _ => None,
    }
}

/// The key under which a pure primitive is shared (with its operands).
/// A tensor constant is keyed by its shared data's address rather than its
/// text: a loaded data set has ~10⁵ elements, and every use of it holds the
/// same allocation (distinct allocations are all alive during the pass, so
/// their addresses differ).
fn cse_key(prim: &Prim) -> String {
    match prim {
        Prim::ConstTensor { shape, data } => {
            format!("const_tensor {shape:?} @{:p}", Arc::as_ptr(data))
        }
        other => format!("{other:?}"),
    }
}

fn prim_of(s: Scalar) -> Prim {
    match s {
        Scalar::F(x) => Prim::ConstF64(x),
        Scalar::I(x) => Prim::ConstI64(x),
        Scalar::B(x) => Prim::ConstBool(x),
    }
}

impl Folder<'_> {
    fn lookup_shared(&self, key: &(String, Vec<ValueId>)) -> Option<ValueId> {
        self.shared.iter().rev().find_map(|t| t.get(key).copied())
    }

    fn emit_prim(&mut self, b: &mut Builder, prim: Prim, args: Vec<ValueId>) -> ValueId {
        let key = (cse_key(&prim), args.clone());
        if let Some(v) = self.lookup_shared(&key) {
            return v;
        }
        let c = const_of(&prim);
        let v = b.prim(prim, &args);
        if let Some(c) = c {
            self.consts.insert(v, c);
        }
        self.shared.last_mut().expect("scope").insert(key, v);
        v
    }

    fn is_const(&self, v: ValueId, x: f64) -> bool {
        matches!(self.consts.get(&v), Some(Scalar::F(c)) if *c == x)
            || matches!(self.consts.get(&v), Some(Scalar::I(c)) if *c as f64 == x)
    }

    /// The simplified value of `prim(args)`, or `None` to emit it as is.
    fn rewrite(&mut self, b: &mut Builder, prim: &Prim, args: &[ValueId]) -> Option<ValueId> {
        if prim.is_elementwise() && !args.is_empty() {
            let scalars: Option<Vec<Scalar>> =
                args.iter().map(|a| self.consts.get(a).copied()).collect();
            if let Some(scalars) = scalars
                && let Ok(r) = eval::scalar(prim, &scalars)
            {
                return Some(self.emit_prim(b, prim_of(r), vec![]));
            }
        }
        let same_type = |b: &Builder, x: ValueId, y: ValueId| b.func.ty(x) == b.func.ty(y);
        match (prim, args) {
            (Prim::Add, [x, y]) if self.is_const(*y, 0.0) && same_type(b, *x, *y) => Some(*x),
            (Prim::Add, [x, y]) if self.is_const(*x, 0.0) && same_type(b, *x, *y) => Some(*y),
            (Prim::Sub, [x, y]) if self.is_const(*y, 0.0) && same_type(b, *x, *y) => Some(*x),
            (Prim::Mul, [x, y]) if self.is_const(*y, 1.0) && same_type(b, *x, *y) => Some(*x),
            (Prim::Mul, [x, y]) if self.is_const(*x, 1.0) && same_type(b, *x, *y) => Some(*y),
            (Prim::Div, [x, y]) if self.is_const(*y, 1.0) && b.func.ty(*x).elem == Elem::F64 => {
                Some(*x)
            }
            (Prim::StopGrad, [x]) if self.consts.contains_key(x) => Some(*x),
            _ => None,
        }
    }

    fn region(&mut self, b: &mut Builder, region: &Region, env: &mut Env) -> Region {
        let types: Vec<_> = region
            .params
            .iter()
            .map(|&p| self.src.ty(p).clone())
            .collect();
        self.shared.push(HashMap::new());
        let r = b.region(&types, |b, params| {
            for (&old, &new) in region.params.iter().zip(params) {
                env.insert(old, new);
            }
            for &id in &region.ops {
                self.op(b, self.src.op(id), env);
            }
            region.results.iter().map(|&r| lookup(env, r)).collect()
        });
        self.shared.pop();
        r
    }

    fn op(&mut self, b: &mut Builder, op: &Op, env: &mut Env) {
        let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
        let saved = super::enter_origin(b, self.src, op);
        if let OpKind::Prim(p) = &op.kind {
            let v = match self.rewrite(b, p, &args) {
                Some(v) => v,
                None => self.emit_prim(b, p.clone(), args),
            };
            env.insert(op.results[0], v);
        } else if let OpKind::Subsample { n, m } = op.kind {
            // Every minibatch of `(n, m)` in a run is the same (the op is
            // keyed by the run and `(n, m)` only): one is shared.
            let key = (format!("subsample {n} {m}"), Vec::new());
            let v = match self.lookup_shared(&key) {
                Some(v) => v,
                None => {
                    let ty = self.src.ty(op.results[0]).clone();
                    let v = b.push(op.kind.clone(), Vec::new(), vec![ty], Vec::new())[0];
                    self.shared.last_mut().expect("scope").insert(key, v);
                    v
                }
            };
            env.insert(op.results[0], v);
        } else if let OpKind::For { stacked } = op.kind
            && let Some(loop_op) = self.without_pass_through_carries(op)
        {
            // A carry the body yields unchanged holds its initial value in
            // every iteration and after the loop: the body's parameter and
            // the loop's result are that value. (The lowering threads the
            // accumulators of random choices through every loop of a
            // generative function, including loops that make none; without
            // them such a loop may be constant.)
            for &(param, result, init) in &loop_op.dropped {
                env.insert(param, args[init]);
                env.insert(result, args[init]);
            }
            let region = self.region(b, &loop_op.body, env);
            let kept_args: Vec<ValueId> = loop_op.args.iter().map(|&k| args[k]).collect();
            let types = loop_op
                .results
                .iter()
                .map(|&r| self.src.ty(r).clone())
                .collect();
            let results = b.push(OpKind::For { stacked }, kept_args, types, vec![region]);
            for (&old, &new) in loop_op.results.iter().zip(&results) {
                env.insert(old, new);
            }
        } else {
            let regions: Vec<Region> = op.regions.iter().map(|r| self.region(b, r, env)).collect();
            let types = op.results.iter().map(|&r| self.src.ty(r).clone()).collect();
            let results = b.push(op.kind.clone(), args, types, regions);
            for (&old, &new) in op.results.iter().zip(&results) {
                env.insert(old, new);
            }
        }
        b.set_origin(saved);
    }
}

/// A `for` loop without its pass-through carries.
struct LoopWithoutPassThrough {
    /// The operand positions kept: the bounds and the other carries.
    args: Vec<usize>,
    /// The body with the dropped carries' parameters and results removed.
    body: Region,
    /// The loop's results kept.
    results: Vec<ValueId>,
    /// Per dropped carry: its body parameter, the loop's result, and the
    /// operand position of its initial value.
    dropped: Vec<(ValueId, ValueId, usize)>,
}

impl Folder<'_> {
    /// `v` seen through the loops that pass it through: the final carry of
    /// a loop whose body yields that carry unchanged (at any depth — the
    /// lowering threads accumulators through nested loops, so an outer
    /// loop passes a carry through only because its inner loops do) is the
    /// carry's initial value.
    fn passed_through(&self, mut v: ValueId) -> ValueId {
        while let Some(&(id, k)) = self.carried.get(&v) {
            let op = self.src.op(id);
            let body = &op.regions[0];
            if self.passed_through(body.results[k]) != body.params[1 + k] {
                break;
            }
            v = op.args[2 + k];
        }
        v
    }

    /// `op`, a `for` loop, without the carries its body yields unchanged
    /// (directly or through inner loops), if it has any.
    fn without_pass_through_carries(&self, op: &Op) -> Option<LoopWithoutPassThrough> {
        let body = &op.regions[0];
        let pass = |k: usize| self.passed_through(body.results[k]) == body.params[1 + k];
        without_carries(op, pass)
    }
}

/// `op`, a `for` loop, without the carries `pass` selects, if it selects
/// any.
fn without_carries(op: &Op, pass: impl Fn(usize) -> bool) -> Option<LoopWithoutPassThrough> {
    let body = &op.regions[0];
    let n_carry = op.args.len() - 2;
    if !(0..n_carry).any(&pass) {
        return None;
    }
    let mut out = LoopWithoutPassThrough {
        args: vec![0, 1],
        body: Region {
            params: vec![body.params[0]],
            ops: body.ops.clone(),
            results: Vec::new(),
        },
        results: Vec::new(),
        dropped: Vec::new(),
    };
    for k in 0..n_carry {
        if pass(k) {
            out.dropped.push((body.params[1 + k], op.results[k], 2 + k));
        } else {
            out.args.push(2 + k);
            out.body.params.push(body.params[1 + k]);
            out.body.results.push(body.results[k]);
            out.results.push(op.results[k]);
        }
    }
    out.body.results.extend_from_slice(&body.results[n_carry..]);
    out.results.extend_from_slice(&op.results[n_carry..]);
    Some(out)
}

/// Whether `op` (or anything in its regions) has an effect that must be
/// kept even if its results are unused.
fn has_effect(f: &Function, op: &Op) -> bool {
    match op.kind {
        // Guards are checks: they stay even when their result is unused.
        OpKind::Sample(_) | OpKind::AddCost | OpKind::Prim(Prim::Guard { .. }) => true,
        _ => op
            .regions
            .iter()
            .any(|r| r.ops.iter().any(|&id| has_effect(f, f.op(id)))),
    }
}

fn mark_live(f: &Function, region: &Region, live: &mut HashSet<ValueId>, keep: &mut HashSet<u32>) {
    live.extend(region.results.iter().copied());
    mark_ops(f, region, live, keep);
}

/// The body results of a loop that are still needed: every carried value
/// and the stacked values whose stacks are used.
fn live_loop_results(op: &Op, live: &HashSet<ValueId>) -> Vec<bool> {
    let n_carry = op.args.len() - 2;
    (0..op.regions[0].results.len())
        .map(|k| k < n_carry || live.contains(&op.results[k]))
        .collect()
}

fn mark_ops(f: &Function, region: &Region, live: &mut HashSet<ValueId>, keep: &mut HashSet<u32>) {
    for &id in region.ops.iter().rev() {
        let op = f.op(id);
        let needed = has_effect(f, op) || op.results.iter().any(|r| live.contains(r));
        if !needed {
            continue;
        }
        keep.insert(id.0);
        live.extend(op.args.iter().copied());
        if let OpKind::For { .. } = op.kind {
            let body = &op.regions[0];
            let wanted = live_loop_results(op, live);
            for (&r, w) in body.results.iter().zip(wanted) {
                if w {
                    live.insert(r);
                }
            }
            mark_ops(f, body, live, keep);
        } else {
            for r in &op.regions {
                mark_live(f, r, live, keep);
            }
        }
    }
}

fn rebuild(
    f: &Function,
    region: &Region,
    keep: &HashSet<u32>,
    live: &HashSet<ValueId>,
    b: &mut Builder,
    env: &mut Env,
) -> Region {
    rebuild_with(f, region, None, keep, live, b, env)
}

/// Rebuilds `region` keeping the ops in `keep`; `results`, if given, says
/// which of the region's results to keep.
fn rebuild_with(
    f: &Function,
    region: &Region,
    results: Option<&[bool]>,
    keep: &HashSet<u32>,
    live: &HashSet<ValueId>,
    b: &mut Builder,
    env: &mut Env,
) -> Region {
    let types: Vec<_> = region.params.iter().map(|&p| f.ty(p).clone()).collect();
    b.region(&types, |b, params| {
        for (&old, &new) in region.params.iter().zip(params) {
            env.insert(old, new);
        }
        for &id in &region.ops {
            if keep.contains(&id.0) {
                rebuild_op(f, f.op(id), keep, live, b, env);
            }
        }
        region
            .results
            .iter()
            .enumerate()
            .filter(|(k, _)| results.is_none_or(|w| w[*k]))
            .map(|(_, &r)| lookup(env, r))
            .collect()
    })
}

fn rebuild_op(
    f: &Function,
    op: &Op,
    keep: &HashSet<u32>,
    live: &HashSet<ValueId>,
    b: &mut Builder,
    env: &mut Env,
) {
    let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
    let saved = super::enter_origin(b, f, op);
    // A loop drops the stacked results nobody reads.
    let (kind, wanted) = match op.kind {
        OpKind::For { .. } => {
            let wanted = live_loop_results(op, live);
            let n_carry = op.args.len() - 2;
            let stacked = wanted[n_carry..].iter().filter(|&&w| w).count() as u32;
            (OpKind::For { stacked }, Some(wanted))
        }
        _ => (op.kind.clone(), None),
    };
    let regions: Vec<Region> = op
        .regions
        .iter()
        .map(|r| rebuild_with(f, r, wanted.as_deref(), keep, live, b, env))
        .collect();
    let kept: Vec<ValueId> = op
        .results
        .iter()
        .enumerate()
        .filter(|(k, _)| wanted.as_ref().is_none_or(|w| w[*k]))
        .map(|(_, &r)| r)
        .collect();
    let types = kept.iter().map(|&r| f.ty(r).clone()).collect();
    let results = b.push(kind, args, types, regions);
    b.set_origin(saved);
    for (&old, &new) in kept.iter().zip(&results) {
        env.insert(old, new);
    }
}

/// Removes the operations that neither reach a result nor have an effect.
pub fn eliminate_dead_code(f: &Function) -> Function {
    let mut live = HashSet::new();
    let mut keep = HashSet::new();
    mark_live(f, &f.body, &mut live, &mut keep);
    let mut out = Function::new(f.name.clone());
    let mut b = Builder::new(&mut out);
    let mut env = Env::new();
    let body = rebuild(f, &f.body, &keep, &live, &mut b, &mut env);
    b.finish(body.params.clone(), body.results.clone());
    // The rebuilt body region's ops are in `body`; install them.
    out.body = body;
    out
}

/// Folds constants, applies identities and shares common subexpressions.
pub fn fold(f: &Function) -> Function {
    let mut out = Function::new(f.name.clone());
    let mut b = Builder::new(&mut out);
    let mut carried = HashMap::new();
    f.walk_ops(|id, op| {
        if let OpKind::For { .. } = op.kind {
            for k in 0..op.args.len() - 2 {
                carried.insert(op.results[k], (id, k));
            }
        }
    });
    let mut folder = Folder {
        src: f,
        consts: HashMap::new(),
        shared: Vec::new(),
        carried,
    };
    let mut env = Env::new();
    let body = folder.region(&mut b, &f.body, &mut env);
    b.finish(Vec::new(), Vec::new());
    out.body = body;
    out
}

/// [`fold`] then [`eliminate_dead_code`].
pub fn simplify(f: &Function) -> Function {
    eliminate_dead_code(&fold(f))
}
