//! Reverse-mode automatic differentiation as an IR → IR transform.
//!
//! Given a function `f(p₁…pₙ) -> (r₁…rₘ)`, [`vjp`] builds
//! `f_vjp(p₁…pₙ, r̄ₖ…) -> (r₁…rₘ, p̄ᵢ…)`: the original results, then the
//! cotangent of each requested parameter, given a cotangent parameter for
//! each requested result. The output is ordinary IR, so it can be
//! differentiated again.
//!
//! **Straight-line code.** The forward ops are copied; then the ops are
//! visited in reverse, and each primitive's vjp rule (`prim/ad.rs`) turns the
//! cotangent of its result into contributions to its operands' cotangents,
//! which are summed. Only *active* values — `f64` values that depend
//! differentiably on a requested parameter (see [`super::activity`]) — get
//! cotangents; symbolic zeros are never materialized unless a region must
//! yield them.
//!
//! **Control flow.** A structured region's intermediate values are not
//! visible after it, so the backward sweep must get them back.
//!
//! * `if c { A } else { B }` becomes, in the backward sweep,
//!   `if c { fwd(A); bwd(A) } else { fwd(B); bwd(B) }`: the branch is
//!   recomputed, each branch yielding the cotangents of the values the `if`
//!   uses from outside.
//! * A `for` loop's forward copy additionally *stacks its residuals*: per
//!   iteration, every value its body defines at top level (the index, the
//!   entry carries, each operation's results) and, recursively, the stacks
//!   of the loops nested in it. The backward loop runs the iterations in
//!   reverse; iteration `i` reads its residuals at row `i` and sweeps back
//!   over the body, carrying the carries' cotangents and accumulating those
//!   of the loop's free variables. Residuals the backward sweep does not
//!   read are removed by dead-code elimination (`simplify.rs` drops unused
//!   stacked loop outputs), so the tape holds what the derivative rules
//!   need and nothing else.
//! * When a residual's length varies between iterations (an inner loop
//!   whose trip count depends on the outer index), the rows cannot be
//!   stacked into one array: that loop stacks only its index and entry
//!   carries and the backward sweep recomputes each iteration's forward
//!   ops from them — memory traded for one extra forward evaluation.

use super::{Env, TransformError, activity, copy_op, free_vars, lookup};
use crate::ir::{Builder, Function, Op, OpKind, Region, Type, ValueId};
use crate::prim::{Prim, ad};
use std::collections::{HashMap, HashSet};

/// Cotangents accumulated so far, keyed by source values.
type Cotangents = HashMap<ValueId, ValueId>;

/// The tapes of a region's active loops, by the loop's position.
type Tapes = HashMap<usize, Tape>;

/// What an active loop's forward copy stored for its backward sweep: per
/// source value defined at the top level of its body, the value's stack
/// over iterations; and the tapes of the loops nested in the body, stacked
/// likewise. When some residual's length varies between iterations (a
/// loop nested with a trip count that depends on the outer index), only
/// the body's parameters are stacked and the backward sweep recomputes each
/// iteration from them.
#[derive(Clone, Debug)]
struct Tape {
    values: Vec<(ValueId, ValueId)>,
    nested: Tapes,
    /// Whether `values` holds only the body's parameters (the index and
    /// the entry carries), the rest to be recomputed per iteration.
    recompute: bool,
}

impl Tape {
    /// The stacks, in a fixed order (to stack them again in an outer loop).
    fn flatten(&self) -> Vec<ValueId> {
        let mut out: Vec<ValueId> = self.values.iter().map(|&(_, s)| s).collect();
        let mut positions: Vec<&usize> = self.nested.keys().collect();
        positions.sort();
        for pos in positions {
            out.extend(self.nested[pos].flatten());
        }
        out
    }

    /// This tape's structure over new stacks (in `flatten` order).
    fn rebuild(&self, stacks: &mut impl Iterator<Item = ValueId>) -> Tape {
        let values = self
            .values
            .iter()
            .map(|&(v, _)| (v, stacks.next().expect("stack")))
            .collect();
        let mut positions: Vec<usize> = self.nested.keys().copied().collect();
        positions.sort();
        let nested = positions
            .into_iter()
            .map(|pos| (pos, self.nested[&pos].rebuild(stacks)))
            .collect();
        Tape {
            values,
            nested,
            recompute: self.recompute,
        }
    }

    /// The tape of one iteration of the enclosing loop: every stack indexed
    /// at `rel` (for a tape stacked by an outer loop).
    fn at(&self, b: &mut Builder, rel: ValueId) -> Tape {
        let flat: Vec<ValueId> = self
            .flatten()
            .into_iter()
            .map(|s| b.prim(Prim::Index, &[s, rel]))
            .collect();
        self.rebuild(&mut flat.into_iter())
    }
}

struct Vjp<'s> {
    src: &'s Function,
    active: HashSet<ValueId>,
}

fn add_ct(b: &mut Builder, cts: &mut Cotangents, v: ValueId, ct: ValueId) {
    let sum = match cts.get(&v) {
        Some(&prev) => b.add(prev, ct),
        None => ct,
    };
    cts.insert(v, sum);
}

impl Vjp<'_> {
    fn is_active(&self, v: ValueId) -> bool {
        self.active.contains(&v)
    }

    /// Copies `region`'s ops forward, binding values in `env`; active
    /// loops also stack their residuals. Returns the tape of each active
    /// `for` op, by its position in the region.
    fn forward(&self, b: &mut Builder, region: &Region, env: &mut Env) -> Tapes {
        let mut tapes = HashMap::new();
        for (pos, &id) in region.ops.iter().enumerate() {
            let op = self.src.op(id);
            let loop_active = matches!(op.kind, OpKind::For { .. })
                && (op.results.iter().any(|r| self.is_active(*r))
                    || free_vars(self.src, op).iter().any(|v| self.is_active(*v)));
            if loop_active {
                tapes.insert(pos, self.forward_loop(b, op, env));
            } else {
                copy_op(b, self.src, op, env);
            }
        }
        tapes
    }

    /// The forward copy of an active `for` loop, which also stacks, per
    /// iteration, every value its body defines at top level (its parameters
    /// and its operations' results) and the tapes of the loops nested in
    /// it: the residuals the backward sweep reads instead of recomputing.
    fn forward_loop(&self, b: &mut Builder, op: &Op, env: &mut Env) -> Tape {
        let OpKind::For { stacked } = op.kind else {
            unreachable!()
        };
        let body = &op.regions[0];
        let n_carry = op.args.len() - 2;
        let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
        let trip = static_trip(self.src, op);
        let types: Vec<Type> = body
            .params
            .iter()
            .map(|&p| self.src.ty(p).clone())
            .collect();
        let mut residual_src: Vec<ValueId> = Vec::new();
        let mut nested_shape: Tapes = HashMap::new();
        let mut recompute = false;
        let region = b.region(&types, |b, params| {
            let mut inner = env.clone();
            for (&old, &new) in body.params.iter().zip(params) {
                inner.insert(old, new);
            }
            let nested = self.forward(b, body, &mut inner);
            let mut yields: Vec<ValueId> =
                body.results.iter().map(|&r| lookup(&inner, r)).collect();
            residual_src.extend(body.params.iter().copied());
            for &id in &body.ops {
                residual_src.extend(self.src.op(id).results.iter().copied());
            }
            let mut positions: Vec<&usize> = nested.keys().collect();
            positions.sort();
            let nested_stacks: Vec<ValueId> =
                positions.iter().flat_map(|p| nested[p].flatten()).collect();
            // A residual whose length varies from iteration to iteration (a
            // dynamic dimension) cannot be stacked: keep only the entry
            // values and recompute the iteration in the backward sweep.
            let dynamic = |t: &Type| t.shape.contains(&crate::ir::DYNAMIC);
            recompute = residual_src.iter().any(|&v| dynamic(self.src.ty(v)))
                || nested_stacks.iter().any(|&v| dynamic(&b.ty(v)));
            if recompute {
                residual_src.truncate(body.params.len());
            }
            yields.extend(residual_src.iter().map(|&v| lookup(&inner, v)));
            if !recompute {
                yields.extend(nested_stacks);
                nested_shape = nested;
            }
            yields
        });
        let results = b.for_(args[0], args[1], &args[2..], region, trip);
        let original = n_carry + stacked as usize;
        for (&old, &new) in op.results.iter().zip(&results[..original]) {
            env.insert(old, new);
        }
        let mut stacks = results[original..].iter().copied();
        let values = residual_src
            .iter()
            .map(|&v| (v, stacks.next().expect("residual")))
            .collect();
        let mut positions: Vec<usize> = nested_shape.keys().copied().collect();
        positions.sort();
        let nested = positions
            .into_iter()
            .map(|pos| (pos, nested_shape[&pos].rebuild(&mut stacks)))
            .collect();
        Tape {
            values,
            nested,
            recompute,
        }
    }

    /// The backward sweep over `region`, whose forward ops were emitted
    /// with `env` and produced `tapes`. `cts` holds the cotangents of the
    /// region's results on entry and of everything the region uses on exit.
    fn backward(
        &self,
        b: &mut Builder,
        region: &Region,
        env: &Env,
        tapes: &Tapes,
        cts: &mut Cotangents,
    ) -> Result<(), TransformError> {
        for (pos, &id) in region.ops.iter().enumerate().rev() {
            let op = self.src.op(id);
            let saved = super::enter_origin(b, self.src, op);
            let result = match &op.kind {
                OpKind::Prim(p) => self.backward_prim(b, p, op, env, cts),
                OpKind::If => self.backward_if(b, op, env, cts),
                OpKind::For { .. } => match tapes.get(&pos) {
                    Some(tape) => self.backward_loop(b, op, env, tape, cts),
                    None => Ok(()),
                },
                OpKind::Draw { .. }
                | OpKind::EnumValue { .. }
                | OpKind::MvdValue { .. }
                | OpKind::MvdCotangent { .. }
                | OpKind::Subsample { .. } => Ok(()),
                OpKind::Sample(_) | OpKind::AddCost => Err(TransformError {
                    message: "internal error: reverse-mode AD met a random choice before ADEV"
                        .into(),
                    origin: op.origin,
                }),
            };
            b.set_origin(saved);
            result?;
        }
        Ok(())
    }

    fn backward_prim(
        &self,
        b: &mut Builder,
        p: &Prim,
        op: &Op,
        env: &Env,
        cts: &mut Cotangents,
    ) -> Result<(), TransformError> {
        let z = op.results[0];
        let Some(&ct) = cts.get(&z) else {
            return Ok(());
        };
        let needed: Vec<bool> = op.args.iter().map(|&a| self.is_active(a)).collect();
        if !needed.iter().any(|&n| n) {
            return Ok(());
        }
        let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
        let contributions =
            ad::vjp(b, p, &args, lookup(env, z), ct, &needed).map_err(|e| TransformError {
                message: e.to_string(),
                origin: op.origin,
            })?;
        for ((&a, c), need) in op.args.iter().zip(contributions).zip(needed) {
            if let (Some(c), true) = (c, need) {
                add_ct(b, cts, a, c);
            }
        }
        Ok(())
    }

    /// The active free variables of `op` (those that receive cotangents).
    fn active_free(&self, op: &Op) -> Vec<ValueId> {
        free_vars(self.src, op)
            .into_iter()
            .filter(|v| self.is_active(*v))
            .collect()
    }

    fn backward_if(
        &self,
        b: &mut Builder,
        op: &Op,
        env: &Env,
        cts: &mut Cotangents,
    ) -> Result<(), TransformError> {
        let result_cts: Vec<Option<ValueId>> =
            op.results.iter().map(|r| cts.get(r).copied()).collect();
        if result_cts.iter().all(Option::is_none) {
            return Ok(());
        }
        let free = self.active_free(op);
        if free.is_empty() {
            return Ok(());
        }
        let mut branches = Vec::new();
        for region in &op.regions {
            let branch = b.try_region(&[], |b, _| {
                let mut env = env.clone();
                let tapes = self.forward(b, region, &mut env);
                let mut inner: Cotangents = HashMap::new();
                for (&r, ct) in region.results.iter().zip(&result_cts) {
                    if let Some(ct) = ct
                        && self.is_active(r)
                    {
                        add_ct(b, &mut inner, r, *ct);
                    }
                }
                self.backward(b, region, &env, &tapes, &mut inner)?;
                Ok(free
                    .iter()
                    .map(|v| b.materialize_like(inner.get(v).copied(), lookup(&env, *v)))
                    .collect())
            })?;
            branches.push(branch);
        }
        let cond = lookup(env, op.args[0]);
        let else_branch = branches.pop().expect("two branches");
        let then_branch = branches.pop().expect("two branches");
        let outs = b.if_(cond, then_branch, else_branch);
        for (&v, ct) in free.iter().zip(outs) {
            add_ct(b, cts, v, ct);
        }
        Ok(())
    }

    fn backward_loop(
        &self,
        b: &mut Builder,
        op: &Op,
        env: &Env,
        tape: &Tape,
        cts: &mut Cotangents,
    ) -> Result<(), TransformError> {
        let body = &op.regions[0];
        let n_carry = op.args.len() - 2;
        let lo = lookup(env, op.args[0]);
        let hi = lookup(env, op.args[1]);
        // The carries that receive cotangents: active f64 carries.
        let carried: Vec<usize> = (0..n_carry)
            .filter(|&k| self.is_active(body.params[1 + k]))
            .collect();
        let free = self.active_free(op);
        let mut inits = Vec::new();
        for &k in &carried {
            let like = lookup(env, op.results[k]);
            inits.push(b.materialize_like(cts.get(&op.results[k]).copied(), like));
        }
        for &v in &free {
            inits.push(b.zeros_like(lookup(env, v)));
        }
        let stacked_cts: Vec<Option<ValueId>> = op.results[n_carry..]
            .iter()
            .map(|r| cts.get(r).copied())
            .collect();
        let mut param_types = vec![Type::i64()];
        param_types.extend(inits.iter().map(|&v| b.ty(v)));
        let region = b.try_region(&param_types, |b, params| {
            let j = params[0];
            // i = hi − 1 − j runs hi−1 down to lo; rel = i − lo.
            let one = b.i64(1);
            let top = b.sub(hi, one);
            let i = b.sub(top, j);
            let rel = b.sub(i, lo);
            // The iteration's residuals, read from the tape.
            let mut inner_env = env.clone();
            for &(v, stack) in &tape.values {
                let x = b.prim(Prim::Index, &[stack, rel]);
                inner_env.insert(v, x);
            }
            let tapes: Tapes = if tape.recompute {
                self.forward(b, body, &mut inner_env)
            } else {
                tape.nested
                    .iter()
                    .map(|(&pos, t)| (pos, t.at(b, rel)))
                    .collect()
            };
            let mut inner: Cotangents = HashMap::new();
            for (slot, &k) in carried.iter().enumerate() {
                let r = body.results[k];
                if self.is_active(r) {
                    add_ct(b, &mut inner, r, params[1 + slot]);
                }
            }
            for (s, ct) in stacked_cts.iter().enumerate() {
                let r = body.results[n_carry + s];
                if let (Some(ct), true) = (ct, self.is_active(r)) {
                    let ct_i = b.prim(Prim::Index, &[*ct, rel]);
                    add_ct(b, &mut inner, r, ct_i);
                }
            }
            self.backward(b, body, &inner_env, &tapes, &mut inner)?;
            let mut yields = Vec::new();
            for &k in &carried {
                let p = body.params[1 + k];
                let like = lookup(&inner_env, p);
                yields.push(b.materialize_like(inner.get(&p).copied(), like));
            }
            for (m, &v) in free.iter().enumerate() {
                let acc = params[1 + carried.len() + m];
                yields.push(match inner.get(&v) {
                    Some(&c) => b.add(acc, c),
                    None => acc,
                });
            }
            Ok(yields)
        })?;
        let zero = b.i64(0);
        // A static trip count stays static, so that differentiating this
        // program again stacks its residuals with a known length. An empty
        // range (hi ≤ lo) runs no iterations either way.
        let trip = static_trip(self.src, op);
        let n = match trip {
            Some(t) => b.i64(t as i64),
            None => b.sub(hi, lo),
        };
        let outs = b.for_(zero, n, &inits, region, trip);
        for (slot, &k) in carried.iter().enumerate() {
            add_ct(b, cts, op.args[2 + k], outs[slot]);
        }
        for (m, &v) in free.iter().enumerate() {
            add_ct(b, cts, v, outs[carried.len() + m]);
        }
        Ok(())
    }
}

/// The static trip count of a `for` op whose bounds are constants.
pub(crate) fn static_trip(src: &Function, op: &Op) -> Option<usize> {
    let stacked_ty = op
        .results
        .get(op.args.len() - 2)
        .map(|&r| src.ty(r).clone());
    match stacked_ty {
        Some(t) if !t.shape.is_empty() && t.shape[0] != crate::ir::DYNAMIC => Some(t.shape[0]),
        _ => {
            let lo = const_i64(src, op.args[0])?;
            let hi = const_i64(src, op.args[1])?;
            Some((hi - lo).max(0) as usize)
        }
    }
}

/// The value of `v` if a constant `i64` primitive defines it.
pub(crate) fn const_i64(src: &Function, v: ValueId) -> Option<i64> {
    let mut found = None;
    src.walk_ops(|_, op| {
        if op.results.first() == Some(&v)
            && let OpKind::Prim(Prim::ConstI64(x)) = op.kind
        {
            found = Some(x);
        }
    });
    found
}

/// Builds the vector-Jacobian product of `src`.
///
/// `wrt[i]` marks the parameters to differentiate with respect to;
/// `seed[k]` marks the results that receive a cotangent parameter. The new
/// function's parameters are `src`'s, then one cotangent per seeded result;
/// its results are `src`'s, then one cotangent per `wrt` parameter (zeros
/// when a parameter does not reach a seeded result).
pub fn vjp(src: &Function, wrt: &[bool], seed: &[bool]) -> Result<Function, TransformError> {
    let this = Vjp {
        src,
        active: activity(src, wrt),
    };
    let mut out = Function::new(format!("{}_vjp", src.name));
    let mut b = Builder::new(&mut out);
    let mut env = Env::new();
    let mut params = Vec::new();
    for &p in &src.body.params {
        let v = b.fresh(src.ty(p).clone());
        env.insert(p, v);
        params.push(v);
    }
    let mut seeds = Vec::new();
    for (&r, &s) in src.body.results.iter().zip(seed) {
        if s {
            let v = b.fresh(src.ty(r).clone());
            params.push(v);
            seeds.push((r, v));
        }
    }
    let tapes = this.forward(&mut b, &src.body, &mut env);
    let mut cts: Cotangents = HashMap::new();
    for (r, v) in seeds {
        if this.is_active(r) {
            add_ct(&mut b, &mut cts, r, v);
        }
    }
    this.backward(&mut b, &src.body, &env, &tapes, &mut cts)?;
    let mut results: Vec<ValueId> = src.body.results.iter().map(|&r| lookup(&env, r)).collect();
    for (&p, &w) in src.body.params.iter().zip(wrt) {
        if w {
            let like = lookup(&env, p);
            results.push(b.materialize_like(cts.get(&p).copied(), like));
        }
    }
    b.finish(params, results);
    Ok(out)
}
