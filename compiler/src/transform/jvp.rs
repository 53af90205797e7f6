//! Forward-mode automatic differentiation as an IR → IR transform.
//!
//! [`jvp`] builds `f_jvp(p₁…pₙ, ṗᵢ…) -> (r₁…rₘ, ṙₖ…)`: the original
//! results, then the tangent of every `f64` result, given a tangent for each
//! requested parameter. Each primitive's tangent comes from its jvp rule in
//! `prim/ad.rs`; an `if` yields its results' tangents from both branches; a
//! `for` loop carries the tangents of its active carries beside them and
//! stacks the tangents of its active per-iteration outputs. Symbolic zero
//! tangents (`None`) are materialized only where a region must yield them.

use super::{Env, TransformError, activity, copy_op, lookup};
use crate::ir::{Builder, Function, Op, OpKind, Region, Type, ValueId};
use crate::prim::ad;
use std::collections::{HashMap, HashSet};

struct Jvp<'s> {
    src: &'s Function,
    active: HashSet<ValueId>,
}

type Tangents = HashMap<ValueId, ValueId>;

impl Jvp<'_> {
    fn region(
        &self,
        b: &mut Builder,
        region: &Region,
        env: &mut Env,
        tan: &mut Tangents,
    ) -> Result<(), TransformError> {
        for &id in &region.ops {
            let op = self.src.op(id);
            match &op.kind {
                OpKind::Prim(p) => {
                    let results = copy_op(b, self.src, op, env);
                    let tangents: Vec<Option<ValueId>> =
                        op.args.iter().map(|a| tan.get(a).copied()).collect();
                    if tangents.iter().any(Option::is_some) && self.active.contains(&op.results[0])
                    {
                        let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
                        let t = ad::jvp(b, p, &args, results[0], &tangents).map_err(|e| {
                            TransformError {
                                message: e.to_string(),
                                origin: op.origin,
                            }
                        })?;
                        if let Some(t) = t {
                            tan.insert(op.results[0], t);
                        }
                    }
                }
                OpKind::If => self.if_op(b, op, env, tan)?,
                OpKind::For { stacked } => self.for_op(b, op, *stacked as usize, env, tan)?,
                OpKind::Draw { .. }
                | OpKind::EnumValue { .. }
                | OpKind::MvdValue { .. }
                | OpKind::MvdCotangent { .. }
                | OpKind::Subsample { .. } => {
                    copy_op(b, self.src, op, env);
                }
                OpKind::Sample(_) | OpKind::AddCost => {
                    return Err(TransformError {
                        message: "internal error: forward-mode AD met a random choice before ADEV"
                            .into(),
                        origin: op.origin,
                    });
                }
            }
        }
        Ok(())
    }

    /// The active results of an op, whose tangents the op's regions yield.
    fn active_results(&self, vs: &[ValueId]) -> Vec<usize> {
        (0..vs.len())
            .filter(|&k| self.active.contains(&vs[k]))
            .collect()
    }

    fn if_op(
        &self,
        b: &mut Builder,
        op: &Op,
        env: &mut Env,
        tan: &mut Tangents,
    ) -> Result<(), TransformError> {
        let active = self.active_results(&op.results);
        let mut branches = Vec::new();
        for region in &op.regions {
            let r = b.try_region(&[], |b, _| {
                let mut env = env.clone();
                let mut tan = tan.clone();
                self.region(b, region, &mut env, &mut tan)?;
                let mut ys: Vec<ValueId> =
                    region.results.iter().map(|&r| lookup(&env, r)).collect();
                for &k in &active {
                    let r = region.results[k];
                    let like = lookup(&env, r);
                    ys.push(b.materialize_like(tan.get(&r).copied(), like));
                }
                Ok(ys)
            })?;
            branches.push(r);
        }
        let cond = lookup(env, op.args[0]);
        let else_branch = branches.pop().expect("two branches");
        let then_branch = branches.pop().expect("two branches");
        let outs = b.if_(cond, then_branch, else_branch);
        let n = op.results.len();
        for (k, &r) in op.results.iter().enumerate() {
            env.insert(r, outs[k]);
        }
        for (slot, &k) in active.iter().enumerate() {
            tan.insert(op.results[k], outs[n + slot]);
        }
        Ok(())
    }

    fn for_op(
        &self,
        b: &mut Builder,
        op: &Op,
        stacked: usize,
        env: &mut Env,
        tan: &mut Tangents,
    ) -> Result<(), TransformError> {
        let body = &op.regions[0];
        let n_carry = op.args.len() - 2;
        let active_carries: Vec<usize> = (0..n_carry)
            .filter(|&k| self.active.contains(&body.params[1 + k]))
            .collect();
        let active_stacked: Vec<usize> = (0..stacked)
            .filter(|&s| self.active.contains(&body.results[n_carry + s]))
            .collect();
        let mut inits: Vec<ValueId> = op.args[2..].iter().map(|&a| lookup(env, a)).collect();
        for &k in &active_carries {
            let a = op.args[2 + k];
            let like = lookup(env, a);
            inits.push(b.materialize_like(tan.get(&a).copied(), like));
        }
        let mut param_types = vec![Type::i64()];
        param_types.extend(inits.iter().map(|&v| b.ty(v)));
        let region = b.try_region(&param_types, |b, params| {
            let mut env = env.clone();
            let mut tan = tan.clone();
            env.insert(body.params[0], params[0]);
            for k in 0..n_carry {
                env.insert(body.params[1 + k], params[1 + k]);
            }
            for (slot, &k) in active_carries.iter().enumerate() {
                tan.insert(body.params[1 + k], params[1 + n_carry + slot]);
            }
            self.region(b, body, &mut env, &mut tan)?;
            let mut ys: Vec<ValueId> = body.results[..n_carry]
                .iter()
                .map(|&r| lookup(&env, r))
                .collect();
            for &k in &active_carries {
                let r = body.results[k];
                let like = lookup(&env, r);
                ys.push(b.materialize_like(tan.get(&r).copied(), like));
            }
            for s in 0..stacked {
                ys.push(lookup(&env, body.results[n_carry + s]));
            }
            for &s in &active_stacked {
                let r = body.results[n_carry + s];
                let like = lookup(&env, r);
                ys.push(b.materialize_like(tan.get(&r).copied(), like));
            }
            Ok(ys)
        })?;
        let lo = lookup(env, op.args[0]);
        let hi = lookup(env, op.args[1]);
        let trip = super::vjp::static_trip(self.src, op);
        let outs = b.for_(lo, hi, &inits, region, trip);
        let n_tc = active_carries.len();
        for (&r, &o) in op.results[..n_carry].iter().zip(&outs) {
            env.insert(r, o);
        }
        for (slot, &k) in active_carries.iter().enumerate() {
            tan.insert(op.results[k], outs[n_carry + slot]);
        }
        for s in 0..stacked {
            env.insert(op.results[n_carry + s], outs[n_carry + n_tc + s]);
        }
        for (slot, &s) in active_stacked.iter().enumerate() {
            tan.insert(
                op.results[n_carry + s],
                outs[n_carry + n_tc + stacked + slot],
            );
        }
        Ok(())
    }
}

/// Builds the Jacobian-vector product of `src` with respect to the
/// parameters marked in `wrt`.
pub fn jvp(src: &Function, wrt: &[bool]) -> Result<Function, TransformError> {
    let this = Jvp {
        src,
        active: activity(src, wrt),
    };
    let mut out = Function::new(format!("{}_jvp", src.name));
    let mut b = Builder::new(&mut out);
    let mut env = Env::new();
    let mut tan = Tangents::new();
    let mut params = Vec::new();
    for &p in &src.body.params {
        let v = b.fresh(src.ty(p).clone());
        env.insert(p, v);
        params.push(v);
    }
    for (&p, &w) in src.body.params.iter().zip(wrt) {
        if w {
            let t = b.fresh(src.ty(p).clone());
            params.push(t);
            if src.ty(p).is_differentiable() {
                tan.insert(p, t);
            }
        }
    }
    this.region(&mut b, &src.body, &mut env, &mut tan)?;
    let mut results: Vec<ValueId> = src.body.results.iter().map(|&r| lookup(&env, r)).collect();
    for &r in &src.body.results {
        if src.ty(r).is_differentiable() {
            let like = lookup(&env, r);
            results.push(b.materialize_like(tan.get(&r).copied(), like));
        }
    }
    b.finish(params, results);
    Ok(out)
}
