//! Soundness of pathwise strategies.
//!
//! A `reparam` or `implicit` site is differentiated *through its value*.
//! That derivative is an unbiased estimate of the expectation's gradient only
//! if everything downstream of the value is differentiable in it; a
//! comparison, a rounding or a conversion to an integer makes the
//! continuation jump, and the pathwise estimate then misses the jump's
//! contribution — silently biased. This pass follows each pathwise site's
//! value through the program (through arithmetic, branches, loop carries and
//! the parameters of further pathwise sites) and finds the first
//! non-differentiable use.
//!
//! A site whose strategy was the distribution's default falls back to
//! `reinforce`, which is unbiased whatever the continuation; a site whose
//! strategy the user wrote is reported, so the user decides.

use crate::dist::StrategyKind;
use crate::ir::{Function, OpId, OpKind, OriginId, Region, ValueId};
use std::collections::HashSet;

/// A pathwise site whose value reaches a non-differentiable use.
#[derive(Clone, Debug, PartialEq)]
pub struct Unsound {
    /// The origin of the random choice.
    pub site: OriginId,
    /// The origin of the non-differentiable use.
    pub use_origin: OriginId,
    /// What the use is ("a comparison", "a conversion to an integer", ...).
    pub use_kind: &'static str,
    /// The site's strategy.
    pub strategy: StrategyKind,
}

fn describe(op: &crate::ir::Op) -> &'static str {
    match &op.kind {
        OpKind::Prim(p) => match p.name() {
            "f64_to_int" => "a conversion to an integer",
            "floor" => "a rounding",
            "sign" => "a sign test",
            _ => "a comparison",
        },
        _ => "a non-differentiable use",
    }
}

/// Propagates taint from `seeds` through `region`; returns the first bad
/// use found (its op id).
fn propagate(f: &Function, region: &Region, tainted: &mut HashSet<ValueId>) -> Option<OpId> {
    propagate_with(f, region, tainted, true)
}

/// [`propagate`]; with `stop` false, the whole region is followed and no
/// use is reported.
fn propagate_with(
    f: &Function,
    region: &Region,
    tainted: &mut HashSet<ValueId>,
    stop: bool,
) -> Option<OpId> {
    for &id in &region.ops {
        let op = f.op(id);
        let hit = op.args.iter().any(|a| tainted.contains(a));
        match &op.kind {
            OpKind::Prim(p) => {
                if stop
                    && hit
                    && p.is_non_differentiable_use()
                    && !f.origin(op.origin).support_check
                {
                    return Some(id);
                }
                if hit && f.ty(op.results[0]).is_differentiable() && p.name() != "stop_grad" {
                    tainted.insert(op.results[0]);
                }
            }
            OpKind::Sample(s) if hit && s.strategy.is_pathwise() && !s.detached => {
                tainted.insert(op.results[0]);
            }
            OpKind::If => {
                for r in &op.regions {
                    if let Some(bad) = propagate_with(f, r, tainted, stop) {
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
                let body = &op.regions[0];
                let n_carry = op.args.len() - 2;
                loop {
                    let before = tainted.len();
                    for k in 0..n_carry {
                        if tainted.contains(&op.args[2 + k]) || tainted.contains(&body.results[k]) {
                            tainted.insert(body.params[1 + k]);
                        }
                    }
                    if let Some(bad) = propagate_with(f, body, tainted, stop) {
                        return Some(bad);
                    }
                    if tainted.len() == before {
                        break;
                    }
                }
                for (k, &res) in op.results.iter().enumerate() {
                    let src = if k < n_carry {
                        body.params[1 + k]
                    } else {
                        body.results[k]
                    };
                    if tainted.contains(&src) || tainted.contains(&body.results[k]) {
                        tainted.insert(res);
                    }
                }
            }
            _ => {}
        }
    }
    None
}

/// Checks every pathwise site of `f` (before ADEV). Sites with a default
/// strategy whose value reaches a non-differentiable use are switched to
/// `reinforce` in place; sites with an explicit strategy are returned.
pub fn check_soundness(f: &mut Function) -> Vec<Unsound> {
    let mut problems = Vec::new();
    let mut reported = HashSet::new();
    loop {
        let mut changed = false;
        let mut sites = Vec::new();
        f.walk_ops(|id, op| {
            if let OpKind::Sample(s) = &op.kind
                && s.strategy.is_pathwise()
                && !s.detached
                && !reported.contains(&id)
            {
                sites.push((id, op.results[0], s.explicit_strategy, s.strategy));
            }
        });
        for (id, value, explicit, strategy) in sites {
            let mut tainted = HashSet::from([value]);
            let Some(bad) = propagate(f, &f.body.clone(), &mut tainted) else {
                continue;
            };
            if explicit {
                reported.insert(id);
                problems.push(Unsound {
                    site: f.op(id).origin,
                    use_origin: f.op(bad).origin,
                    use_kind: describe(f.op(bad)),
                    strategy,
                });
            } else if let OpKind::Sample(s) = &mut f.op_mut(id).kind {
                s.strategy = StrategyKind::Reinforce;
                changed = true;
            }
        }
        if !changed {
            return problems;
        }
    }
}

/// A `reinforce` choice from `uniform(a, b)` whose bounds depend on the
/// parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct MovingSupport {
    /// The origin of the random choice.
    pub site: OriginId,
    /// Whether the user wrote `by reinforce` (rather than it being a
    /// fallback from the default `reparam`).
    pub explicit: bool,
}

/// Finds `reinforce` choices whose distribution's support moves with the
/// parameters. The score-function estimator differentiates the density
/// inside the support only; when the support itself moves (`uniform(a, b)`
/// with learned bounds) the boundary terms `l(b)·∂b − l(a)·∂a` over `b − a`
/// are missing, so the estimate is biased.
pub fn check_moving_supports(f: &Function) -> Vec<MovingSupport> {
    let mut tainted: HashSet<ValueId> = f.body.params.iter().copied().collect();
    loop {
        let before = tainted.len();
        propagate_with(f, &f.body.clone(), &mut tainted, false);
        if tainted.len() == before {
            break;
        }
    }
    let mut out = Vec::new();
    f.walk_ops(|_, op| {
        if let OpKind::Sample(s) = &op.kind {
            let moves = s.dist == crate::dist::DistKind::Uniform
                && op.args[..2].iter().any(|a| tainted.contains(a));
            if moves && s.strategy == StrategyKind::Reinforce && !s.detached {
                out.push(MovingSupport {
                    site: op.origin,
                    explicit: s.explicit_strategy,
                });
            }
        }
    });
    out
}
