//! ADEV: from a stochastic program to an unbiased gradient-estimator
//! program (Lew, Huot, Staton, Mansinghka, POPL 2023; the programmable-VI
//! formulation of Becker et al., PLDI 2024).
//!
//! The input is the body of an expectation `E { ... }` after lowering: a
//! function of the learnable parameters whose single result is the body's
//! return value, with `sample` and `add_cost` operations. The output is a
//! function of the same parameters returning `(value, surrogate, total,
//! log_weight)`:
//!
//! * `value` is an unbiased estimate of the expectation for this run;
//! * `surrogate` has the same value, and its reverse-mode gradient (with the
//!   `mvd` cotangents and `enum` forcing the driver supplies) is an unbiased
//!   estimate of the expectation's gradient;
//! * `total` and `log_weight` are the run's unweighted objective and the log
//!   of its enumeration weight, which the driver needs to combine runs.
//!
//! **The surrogate.** Let `total = ret + Σ costs` be the run's objective.
//! The transform threads five accumulators through the program, through
//! `if` branches and `for` carries:
//!
//! * `cost` — the costs added so far;
//! * `score` — `A = Σₛ δₛ` over `reinforce` sites, with `δₛ = log p(vₛ; θ) −
//!   stop(log p(vₛ; θ))` (value 0, gradient ∇ log p);
//! * `baseline` — `B = Σₛ stop(costₛ + bₛ)·δₛ`, where `costₛ` is the cost
//!   accumulated before site `s` and `bₛ` its baseline;
//! * `log_weight` — `log W = Σ log p(vₑ; θ)` over `enum` sites, whose values
//!   the driver forces (each complete assignment is one run);
//! * `mvd` — `M = Σₘ ⟨stop(δₘ), Pₘ − stop(Pₘ)⟩` over `mvd` sites, where `Pₘ`
//!   is the site's differentiated parameter and `δₘ` the coupled difference
//!   of continuations the driver computes from branch runs.
//!
//! and returns `value = W·total` and `surrogate = W·(total + stop(total)·A −
//! B + M)`. Its gradient is `∇W·total + W·(∇total + Σₛ (total − costₛ −
//! bₛ)·∇log pₛ + Σₘ δₘ·∇Pₘ)`: the pathwise terms of `reparam` and `implicit`
//! sites inside `∇total`, the score-function rule with the continuation
//! `total − costₛ` (the costs added before a site do not depend on it, and
//! dropping them only removes variance) for `reinforce`, the product rule of
//! the enumerated sum for `enum`, and the measure-valued derivative for
//! `mvd`. Every accumulated term has value zero, so `surrogate = value`.
//!
//! The per-strategy code (reparameterizations, implicit gradients, keyed
//! draws) is in `strategies.rs`; the check that pathwise sites only reach
//! differentiable uses is in `soundness.rs`.

mod soundness;
mod strategies;

pub use soundness::{MovingSupport, Unsound, check_moving_supports, check_soundness};

use super::{Env, TransformError, copy_op, lookup};
use crate::ir::{Builder, Function, Op, OpKind, Region, Type, ValueId};

/// The accumulators threaded through the program (see the module docs).
#[derive(Clone, Copy, Debug)]
struct State {
    cost: ValueId,
    score: ValueId,
    baseline: ValueId,
    log_weight: ValueId,
    mvd: ValueId,
}

const STATE_LEN: usize = 5;

impl State {
    fn to_vec(self) -> Vec<ValueId> {
        vec![
            self.cost,
            self.score,
            self.baseline,
            self.log_weight,
            self.mvd,
        ]
    }

    fn from_slice(v: &[ValueId]) -> State {
        State {
            cost: v[0],
            score: v[1],
            baseline: v[2],
            log_weight: v[3],
            mvd: v[4],
        }
    }
}

struct Adev<'s> {
    src: &'s Function,
    /// The index values of the enclosing `for` loops, outermost first.
    loop_indices: Vec<ValueId>,
}

/// Whether `op` or anything inside it is a random choice or a cost.
fn is_stochastic(f: &Function, op: &Op) -> bool {
    matches!(op.kind, OpKind::Sample(_) | OpKind::AddCost)
        || op
            .regions
            .iter()
            .any(|r| r.ops.iter().any(|&id| is_stochastic(f, f.op(id))))
}

impl Adev<'_> {
    fn region_ops(
        &mut self,
        b: &mut Builder,
        region: &Region,
        env: &mut Env,
        mut st: State,
    ) -> Result<State, TransformError> {
        for &id in &region.ops {
            let op = self.src.op(id);
            if !is_stochastic(self.src, op) {
                copy_op(b, self.src, op, env);
                continue;
            }
            let saved = super::enter_origin(b, self.src, op);
            st = match &op.kind {
                OpKind::AddCost => {
                    let w = lookup(env, op.args[0]);
                    State {
                        cost: b.add(st.cost, w),
                        ..st
                    }
                }
                OpKind::Sample(site) => {
                    let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
                    let (value, st) =
                        strategies::emit_site(b, site, &args, &self.loop_indices, st)?;
                    env.insert(op.results[0], value);
                    st
                }
                OpKind::If => self.if_op(b, op, env, st)?,
                OpKind::For { stacked } => self.for_op(b, op, *stacked as usize, env, st)?,
                _ => {
                    copy_op(b, self.src, op, env);
                    st
                }
            };
            b.set_origin(saved);
        }
        Ok(st)
    }

    fn if_op(
        &mut self,
        b: &mut Builder,
        op: &Op,
        env: &mut Env,
        st: State,
    ) -> Result<State, TransformError> {
        let mut branches = Vec::new();
        for region in &op.regions {
            let r = b.try_region(&[], |b, _| {
                let mut env = env.clone();
                let st = self.region_ops(b, region, &mut env, st)?;
                let mut ys: Vec<ValueId> =
                    region.results.iter().map(|&r| lookup(&env, r)).collect();
                ys.extend(st.to_vec());
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
        Ok(State::from_slice(&outs[n..]))
    }

    fn for_op(
        &mut self,
        b: &mut Builder,
        op: &Op,
        stacked: usize,
        env: &mut Env,
        st: State,
    ) -> Result<State, TransformError> {
        let body = &op.regions[0];
        let n_carry = op.args.len() - 2;
        let mut inits: Vec<ValueId> = op.args[2..].iter().map(|&a| lookup(env, a)).collect();
        inits.extend(st.to_vec());
        let mut param_types = vec![Type::i64()];
        param_types.extend(inits.iter().map(|&v| b.ty(v)));
        let region = b.try_region(&param_types, |b, params| {
            let mut env = env.clone();
            env.insert(body.params[0], params[0]);
            for k in 0..n_carry {
                env.insert(body.params[1 + k], params[1 + k]);
            }
            let inner = State::from_slice(&params[1 + n_carry..]);
            self.loop_indices.push(params[0]);
            let out = self.region_ops(b, body, &mut env, inner);
            self.loop_indices.pop();
            let out = out?;
            let mut ys: Vec<ValueId> = body.results[..n_carry]
                .iter()
                .map(|&r| lookup(&env, r))
                .collect();
            ys.extend(out.to_vec());
            for s in 0..stacked {
                ys.push(lookup(&env, body.results[n_carry + s]));
            }
            Ok(ys)
        })?;
        let lo = lookup(env, op.args[0]);
        let hi = lookup(env, op.args[1]);
        let trip = super::vjp::static_trip(self.src, op);
        let outs = b.for_(lo, hi, &inits, region, trip);
        for (&r, &o) in op.results[..n_carry].iter().zip(&outs) {
            env.insert(r, o);
        }
        for s in 0..stacked {
            env.insert(op.results[n_carry + s], outs[n_carry + STATE_LEN + s]);
        }
        Ok(State::from_slice(&outs[n_carry..n_carry + STATE_LEN]))
    }
}

/// Transforms an expectation body `f(params) -> (ret)` into its estimator
/// `f_adev(params) -> (value, surrogate, total, log_weight)` (see the module
/// docs).
pub fn adev(src: &Function) -> Result<Function, TransformError> {
    if src.body.results.len() != 1 || *src.ty(src.body.results[0]) != Type::f64() {
        return Err(TransformError {
            message: "internal error: an expectation body must return one real".into(),
            origin: Default::default(),
        });
    }
    let mut out = Function::new(format!("{}_adev", src.name));
    let mut b = Builder::new(&mut out);
    let mut env = Env::new();
    let mut params = Vec::new();
    for &p in &src.body.params {
        let v = b.fresh(src.ty(p).clone());
        env.insert(p, v);
        params.push(v);
    }
    let zero = b.f64(0.0);
    let st = State {
        cost: zero,
        score: zero,
        baseline: zero,
        log_weight: zero,
        mvd: zero,
    };
    let mut this = Adev {
        src,
        loop_indices: Vec::new(),
    };
    let st = this.region_ops(&mut b, &src.body, &mut env, st)?;
    let ret = lookup(&env, src.body.results[0]);
    let total = b.add(ret, st.cost);
    let weight = b.un(crate::prim::Prim::Exp, st.log_weight);
    let value = b.mul(weight, total);
    // surrogate = W · (total + stop(total)·A − B + M)
    let stop_total = b.stop(total);
    let score_term = b.mul(stop_total, st.score);
    let s = b.add(total, score_term);
    let s = b.sub(s, st.baseline);
    let s = b.add(s, st.mvd);
    let surrogate = b.mul(weight, s);
    b.finish(params, vec![value, surrogate, total, st.log_weight]);
    Ok(out)
}

/// Turns a stochastic program `f(params) -> (results...)` into one that
/// simply runs it forward: every random choice becomes a keyed draw from
/// its distribution, whatever its strategy, and the results are returned
/// as they are (no estimator, no accumulators). This is what simulating a
/// generative function from the embedding API runs.
///
/// Strategies matter only for gradients, and `enum` or `mvd` sites would
/// otherwise take the value the driver forces; rewriting every site to
/// `reinforce` — whose value is a plain keyed draw — gives a sample from the
/// program's distribution. The `reinforce` terms it also emits are dead and
/// disappear with dead-code elimination.
pub fn simulation(src: &Function) -> Result<Function, TransformError> {
    let mut forward = src.clone();
    for op in &mut forward.ops {
        if let OpKind::Sample(site) = &mut op.kind {
            site.strategy = crate::dist::StrategyKind::Reinforce;
        }
    }
    let mut out = Function::new(format!("{}_simulate", src.name));
    let mut b = Builder::new(&mut out);
    let mut env = Env::new();
    let mut params = Vec::new();
    for &p in &forward.body.params {
        let v = b.fresh(forward.ty(p).clone());
        env.insert(p, v);
        params.push(v);
    }
    let zero = b.f64(0.0);
    let st = State {
        cost: zero,
        score: zero,
        baseline: zero,
        log_weight: zero,
        mvd: zero,
    };
    let mut this = Adev {
        src: &forward,
        loop_indices: Vec::new(),
    };
    this.region_ops(&mut b, &forward.body, &mut env, st)?;
    let results = forward
        .body
        .results
        .iter()
        .map(|&r| lookup(&env, r))
        .collect();
    b.finish(params, results);
    Ok(out)
}
