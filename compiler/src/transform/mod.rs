//! IR → IR transforms, one per file, and the small utilities they share
//! (copying regions with renaming, free variables, activity analysis).

pub mod adev;
pub mod jvp;
pub mod simplify;
pub mod vjp;
pub mod vmap;

use crate::ir::{Builder, Function, Op, OpId, OpKind, Region, ValueId};
use crate::prim::Prim;
use std::collections::{HashMap, HashSet};
use std::fmt;

/// An error from a transform: something the program asks for that the
/// transform cannot do (not a compiler bug).
#[derive(Clone, Debug, PartialEq)]
pub struct TransformError {
    /// What went wrong, as a sentence.
    pub message: String,
    /// The origin of the operation at fault, if known.
    pub origin: crate::ir::OriginId,
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A renaming from values of a source function to values of the function
/// being built.
pub type Env = HashMap<ValueId, ValueId>;

/// Looks `v` up in `env`.
///
/// # Panics
/// If `v` is unmapped: the source IR used a value outside its scope, which
/// the verifier rejects.
pub fn lookup(env: &Env, v: ValueId) -> ValueId {
    match env.get(&v) {
        Some(&n) => n,
        None => panic!("internal error: value #{} used outside its scope", v.0),
    }
}

/// Emits a copy of `op` from `src` into `b`, renaming operands through
/// `env` and binding the copy's results (and its regions' values) in `env`.
pub fn copy_op(b: &mut Builder, src: &Function, op: &Op, env: &mut Env) -> Vec<ValueId> {
    let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
    let regions: Vec<Region> = op
        .regions
        .iter()
        .map(|r| copy_region(b, src, r, env))
        .collect();
    let types = op.results.iter().map(|&r| src.ty(r).clone()).collect();
    let saved = enter_origin(b, src, op);
    let results = b.push(op.kind.clone(), args, types, regions);
    b.set_origin(saved);
    for (&old, &new) in op.results.iter().zip(&results) {
        env.insert(old, new);
    }
    results
}

/// Makes `op`'s origin (from `src`) the builder's current origin and
/// returns the previous one, to restore with [`Builder::set_origin`].
pub fn enter_origin(b: &mut Builder, src: &Function, op: &Op) -> crate::ir::OriginId {
    let origin = src.origin(op.origin).clone();
    let id = b.func.add_origin(origin);
    b.set_origin(id)
}

/// Copies a region (params, ops, results) with fresh values.
pub fn copy_region(b: &mut Builder, src: &Function, region: &Region, env: &mut Env) -> Region {
    let types: Vec<_> = region.params.iter().map(|&p| src.ty(p).clone()).collect();
    b.region(&types, |b, params| {
        for (&old, &new) in region.params.iter().zip(params) {
            env.insert(old, new);
        }
        for &id in &region.ops {
            copy_op(b, src, src.op(id), env);
        }
        region.results.iter().map(|&r| lookup(env, r)).collect()
    })
}

/// The values used inside `op`'s regions (at any depth) that are defined
/// outside `op`, in first-use order.
pub fn free_vars(src: &Function, op: &Op) -> Vec<ValueId> {
    let mut defined = HashSet::new();
    let mut used = Vec::new();
    let mut seen = HashSet::new();
    fn walk(
        src: &Function,
        region: &Region,
        defined: &mut HashSet<ValueId>,
        used: &mut Vec<ValueId>,
        seen: &mut HashSet<ValueId>,
    ) {
        defined.extend(region.params.iter().copied());
        for &id in &region.ops {
            let op = src.op(id);
            for &a in &op.args {
                if !defined.contains(&a) && seen.insert(a) {
                    used.push(a);
                }
            }
            for r in &op.regions {
                walk(src, r, defined, used, seen);
            }
            defined.extend(op.results.iter().copied());
        }
        for &r in &region.results {
            if !defined.contains(&r) && seen.insert(r) {
                used.push(r);
            }
        }
    }
    for r in &op.regions {
        walk(src, r, &mut defined, &mut used, &mut seen);
    }
    used.retain(|v| !defined.contains(v));
    used
}

/// Which values of `src` depend differentiably on the parameters marked in
/// `wrt` (by position). Only `f64` values are active; loop carries are
/// solved to a fixed point.
pub fn activity(src: &Function, wrt: &[bool]) -> HashSet<ValueId> {
    let mut active = HashSet::new();
    for (&p, &w) in src.body.params.iter().zip(wrt) {
        if w && src.ty(p).is_differentiable() {
            active.insert(p);
        }
    }
    loop {
        let before = active.len();
        region_activity(src, &src.body, &mut active);
        if active.len() == before {
            return active;
        }
    }
}

fn region_activity(src: &Function, region: &Region, active: &mut HashSet<ValueId>) {
    for &id in &region.ops {
        op_activity(src, id, active);
    }
}

fn op_activity(src: &Function, id: OpId, active: &mut HashSet<ValueId>) {
    let op = src.op(id);
    let any_arg = op.args.iter().any(|a| active.contains(a));
    match &op.kind {
        OpKind::Prim(p) => {
            let passes = !matches!(p, Prim::StopGrad) && !p.is_non_differentiable_use();
            if any_arg && passes && src.ty(op.results[0]).is_differentiable() {
                active.insert(op.results[0]);
            }
        }
        OpKind::If => {
            for r in &op.regions {
                region_activity(src, r, active);
            }
            for (k, &res) in op.results.iter().enumerate() {
                let from_branch = op.regions.iter().any(|r| active.contains(&r.results[k]));
                if from_branch && src.ty(res).is_differentiable() {
                    active.insert(res);
                }
            }
        }
        OpKind::For { .. } => {
            let body = &op.regions[0];
            let n_carry = op.args.len() - 2;
            // Iterate the body until the carried activity is stable.
            loop {
                let before = active.len();
                for k in 0..n_carry {
                    let init_active = active.contains(&op.args[2 + k]);
                    let yield_active = active.contains(&body.results[k]);
                    if (init_active || yield_active)
                        && src.ty(body.params[1 + k]).is_differentiable()
                    {
                        active.insert(body.params[1 + k]);
                    }
                }
                region_activity(src, body, active);
                if active.len() == before {
                    break;
                }
            }
            for (k, &res) in op.results.iter().enumerate() {
                let carried = k < n_carry
                    && (active.contains(&op.args[2 + k]) || active.contains(&body.results[k]));
                let stacked = k >= n_carry && active.contains(&body.results[k]);
                if (carried || stacked) && src.ty(res).is_differentiable() {
                    active.insert(res);
                }
            }
        }
        // Random draws, forcing-table reads and effects carry no derivative.
        OpKind::Sample(_)
        | OpKind::AddCost
        | OpKind::Draw { .. }
        | OpKind::EnumValue { .. }
        | OpKind::MvdValue { .. }
        | OpKind::MvdCotangent { .. }
        | OpKind::Subsample { .. } => {}
    }
}
