//! Nested expectations must be used linearly.
//!
//! An expectation used as a number inside another one (`E { ... E { g } ...
//! }`) is lowered inline: its value is one sample of its body, an unbiased
//! estimate of its mean, and its random choices become sites of the outer
//! expectation. The outer estimate — and its gradient — stays unbiased only
//! if that sample enters the outer value *linearly*: through sums,
//! differences, negation, products and quotients by values that do not
//! depend on it, selections, and costs. `log(E { ... })` would estimate
//! `E[log ĝ] ≠ log E[ĝ]`, silently biased; this check rejects it instead.

use crate::ir::{Function, OpKind, OriginId, Region, ValueId};
use crate::prim::Prim;
use std::collections::HashSet;

/// The first non-linear use of a tainted value in `region`, if any.
fn scan(f: &Function, region: &Region, tainted: &mut HashSet<ValueId>) -> Option<OriginId> {
    for &id in &region.ops {
        let op = f.op(id);
        let t: Vec<bool> = op.args.iter().map(|a| tainted.contains(a)).collect();
        if !t.iter().any(|&x| x) && !matches!(op.kind, OpKind::If | OpKind::For { .. }) {
            continue;
        }
        match &op.kind {
            OpKind::Prim(p) => {
                let linear = match p {
                    Prim::Add
                    | Prim::Sub
                    | Prim::Neg
                    | Prim::Sum
                    | Prim::Pack
                    | Prim::Index
                    | Prim::IndexAdd
                    | Prim::Broadcast(_)
                    | Prim::StopGrad
                    | Prim::Guard { .. }
                    | Prim::Transpose
                    | Prim::Reshape(_)
                    | Prim::Concat
                    | Prim::Slice { .. }
                    | Prim::Expand { .. }
                    | Prim::Reduce {
                        op: crate::prim::AxisReduction::Sum,
                        ..
                    } => true,
                    Prim::Mul | Prim::MatMul { .. } => !(t[0] && t[1]),
                    Prim::Gather => !t[1],
                    Prim::ScatterAdd => !t[1],
                    Prim::Div => !t[1],
                    Prim::Select => !t[0],
                    _ => false,
                };
                if !linear {
                    return Some(op.origin);
                }
                tainted.insert(op.results[0]);
            }
            OpKind::AddCost => {}
            OpKind::If => {
                if t[0] {
                    return Some(op.origin);
                }
                for r in &op.regions {
                    if let Some(bad) = scan(f, r, tainted) {
                        return Some(bad);
                    }
                }
                for (k, &res) in op.results.iter().enumerate() {
                    if op.regions.iter().any(|r| tainted.contains(&r.results[k])) {
                        tainted.insert(res);
                    }
                }
            }
            OpKind::For { .. } => {
                if t[0] || t[1] {
                    return Some(op.origin);
                }
                let body = &op.regions[0];
                let n_carry = op.args.len() - 2;
                loop {
                    let before = tainted.len();
                    for k in 0..n_carry {
                        if tainted.contains(&op.args[2 + k]) || tainted.contains(&body.results[k]) {
                            tainted.insert(body.params[1 + k]);
                        }
                    }
                    if let Some(bad) = scan(f, body, tainted) {
                        return Some(bad);
                    }
                    if tainted.len() == before {
                        break;
                    }
                }
                for (k, &res) in op.results.iter().enumerate() {
                    if tainted.contains(&body.results[k])
                        || (k < n_carry && tainted.contains(&body.params[1 + k]))
                    {
                        tainted.insert(res);
                    }
                }
            }
            // A nested expectation's value as a distribution parameter.
            _ => return Some(op.origin),
        }
    }
    None
}

/// Checks that each value in `nested` is used linearly in `f`; returns the
/// offending nested value's index and the origin of the first non-linear
/// use.
pub(crate) fn check(f: &Function, nested: &[ValueId]) -> Option<(usize, OriginId)> {
    for (i, &v) in nested.iter().enumerate() {
        let mut tainted = HashSet::from([v]);
        if let Some(bad) = scan(f, &f.body, &mut tainted) {
            return Some((i, bad));
        }
    }
    None
}
