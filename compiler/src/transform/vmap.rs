//! Batching (vmap): a loop whose iterations are independent becomes one
//! straight-line program over a new leading axis.
//!
//! A `plate` lowers to a `for` loop over the positions `k` of its minibatch;
//! each iteration computes a data point's terms from the parameters and the
//! point's data, adds its log-density terms into loop carries and stacks its
//! per-point values. Run one iteration at a time, the loop does `m`
//! matrix–vector products where one matrix–matrix product would do. [`vmap`]
//! rewrites such loops without the loop, in three steps.
//!
//! 1. **Which loops.** A `for` loop is batched when its bounds are integer
//!    constants with `lo < hi`, its stacked outputs have the static length
//!    `hi − lo`, its body holds only primitives, keyed draws and pure
//!    nested control flow (no enum or mvd sites, whose events the
//!    estimator driver records one by one), and its iterations are
//!    independent. Independence is a property
//!    of the carries: each carry either passes through unchanged or is
//!    updated as `carry' = carry + term₁ + ... + termₖ` — a chain of `add`s
//!    in any association and operand order, as a plate's body adds one
//!    log-density term per random choice — where no term depends on any
//!    carry, and no other operation (and no stacked output) reads a carry
//!    or a partial sum of the chain. A passed-through carry is its initial
//!    value in every iteration.
//!
//! 2. **Batch the body.** The body is re-emitted in order. A value that
//!    depends on the loop index is *batched*: it gains a leading axis of
//!    length `n = hi − lo` whose row `j` is the value iteration `j`
//!    computed. The loop index itself is `0, 1, ..., n − 1` (plus `lo`),
//!    kept symbolic so that `index t, k` with `t` of `n` rows is `t`
//!    itself. An operation none of whose operands is batched is copied
//!    as it is (it computes the same value in every iteration); so is a
//!    nested `for` or `if` that uses no batched value — it runs once
//!    instead of `n` times (a top-level `let` of a comprehension is inlined
//!    at its uses, so data tables often sit in a plate's body this way);
//!    one that does keeps the loop a loop. An operation
//!    with a batched operand is emitted by its primitive's batching rule
//!    (`prim/batch.rs`); a keyed draw — whose indices include the loop
//!    index — becomes one batched draw (`batch::draw`) whose row `j` is
//!    iteration `j`'s draw, from the same stream. If some primitive has no rule for its operands the
//!    emitted operations are abandoned (left unreachable in the arena) and
//!    the loop is copied unchanged: a missing rule costs speed, never
//!    correctness, and never an error.
//!
//! 3. **Results.** An updated carry's final value is `init + Σⱼ termⱼ`, where
//!    row `j` of `term` is the sum of iteration `j`'s terms, and the sum over
//!    the batch axis runs in index order (`sum_axis<0>`); the loop added the
//!    terms one at a time, so the two agree up to the rounding of
//!    reassociation. A stacked output is its batched value (an unbatched
//!    one is repeated `n` times).
//!
//! Loops that are not batched are copied with their bodies transformed, so
//! an independent loop nested in an `if` or in another loop is still found.
//! Each batched loop's body is emitted before the loop's position is left,
//! so the output keeps the source's order of effects outside the loop.

use super::{Env, copy_op, enter_origin, free_vars, lookup};
use crate::ir::{Builder, Function, Op, OpId, OpKind, Region, ValueId};
use crate::prim::Prim;
use crate::prim::batch::{self, Batching, NoRule, Operand};
use std::collections::{HashMap, HashSet};

/// Rewrites every independent `for` loop of `src` (at any depth) without
/// the loop; everything else is copied. Never fails: a loop it cannot batch
/// stays a loop.
pub fn vmap(src: &Function) -> Function {
    let mut ints = HashMap::new();
    src.walk_ops(|_, op| {
        if let OpKind::Prim(Prim::ConstI64(x)) = op.kind {
            ints.insert(op.results[0], x);
        }
    });
    let this = Vmap { src, ints };
    let mut out = Function::new(src.name.clone());
    let mut b = Builder::new(&mut out);
    let mut env = Env::new();
    let mut params = Vec::new();
    for &p in &src.body.params {
        let v = b.fresh(src.ty(p).clone());
        env.insert(p, v);
        params.push(v);
    }
    this.ops(&mut b, &src.body, &mut env);
    let results = src.body.results.iter().map(|&r| lookup(&env, r)).collect();
    b.finish(params, results);
    out
}

struct Vmap<'s> {
    src: &'s Function,
    /// The `i64` constants of the source, by value (the loop bounds).
    ints: HashMap<ValueId, i64>,
}

/// How a batchable loop's carry evolves.
#[derive(Clone)]
enum Carry {
    /// Yielded unchanged: its initial value throughout.
    PassThrough,
    /// `carry' = carry + term₁ + ... + termₖ`, by the chain of body `add`s
    /// `chain` (any association, either operand order).
    Sum {
        /// The `add` operations of the chain, outermost first.
        chain: Vec<OpId>,
        /// The terms, in the order the loop adds them.
        terms: Vec<ValueId>,
    },
}

impl Vmap<'_> {
    fn ops(&self, b: &mut Builder, region: &Region, env: &mut Env) {
        for &id in &region.ops {
            let op = self.src.op(id);
            match &op.kind {
                OpKind::For { stacked } => {
                    if !self.batch_loop(b, op, *stacked as usize, env) {
                        self.copy_structured(b, op, env);
                    }
                }
                OpKind::If => self.copy_structured(b, op, env),
                _ => {
                    copy_op(b, self.src, op, env);
                }
            }
        }
    }

    /// Copies an `if` or `for` with its regions transformed.
    fn copy_structured(&self, b: &mut Builder, op: &Op, env: &mut Env) {
        let args: Vec<ValueId> = op.args.iter().map(|&a| lookup(env, a)).collect();
        let regions: Vec<Region> = op
            .regions
            .iter()
            .map(|r| {
                let types: Vec<_> = r.params.iter().map(|&p| self.src.ty(p).clone()).collect();
                b.region(&types, |b, params| {
                    for (&old, &new) in r.params.iter().zip(params) {
                        env.insert(old, new);
                    }
                    self.ops(b, r, env);
                    r.results.iter().map(|&v| lookup(env, v)).collect()
                })
            })
            .collect();
        let types = op.results.iter().map(|&r| self.src.ty(r).clone()).collect();
        let saved = enter_origin(b, self.src, op);
        let results = b.push(op.kind.clone(), args, types, regions);
        b.set_origin(saved);
        for (&old, &new) in op.results.iter().zip(&results) {
            env.insert(old, new);
        }
    }

    /// The trip count and carries of `op` if it is a loop this pass
    /// batches (step 1 of the module docs).
    fn batchable(&self, op: &Op, stacked: usize) -> Option<(usize, Vec<Carry>)> {
        let lo = *self.ints.get(&op.args[0])?;
        let hi = *self.ints.get(&op.args[1])?;
        let n = usize::try_from(hi.checked_sub(lo)?)
            .ok()
            .filter(|&n| n > 0)?;
        let body = &op.regions[0];
        let n_carry = op.args.len() - 2;
        for &r in &op.results[n_carry..n_carry + stacked] {
            if self.src.ty(r).shape.first() != Some(&n) {
                return None;
            }
        }
        let mut defined_by = HashMap::new();
        for &id in &body.ops {
            let op = self.src.op(id);
            let allowed = match op.kind {
                OpKind::Prim(_) | OpKind::Draw { batch: 0, .. } => true,
                OpKind::For { .. } | OpKind::If => self.is_pure(op),
                _ => false,
            };
            if !allowed {
                return None;
            }
            for &r in &op.results {
                defined_by.insert(r, id);
            }
        }
        // Classify the carries: follow each yield back through `add`s to
        // its carry param; the other operands met on the way are its terms.
        let mut carries = Vec::with_capacity(n_carry);
        let mut chain_ops = HashMap::new();
        for k in 0..n_carry {
            let param = body.params[1 + k];
            let yielded = body.results[k];
            if yielded == param {
                carries.push(Carry::PassThrough);
                continue;
            }
            let depends = self.dependents(body, param);
            let (mut terms, mut chain) = (Vec::new(), Vec::new());
            let mut cur = yielded;
            while cur != param {
                let &id = defined_by.get(&cur)?;
                let u = self.src.op(id);
                if u.kind != OpKind::Prim(Prim::Add) {
                    return None;
                }
                let (next, term) =
                    match (depends.contains(&u.args[0]), depends.contains(&u.args[1])) {
                        (true, false) => (u.args[0], u.args[1]),
                        (false, true) => (u.args[1], u.args[0]),
                        _ => return None,
                    };
                if chain_ops.insert(id, next).is_some() {
                    return None;
                }
                chain.push(id);
                terms.push(term);
                cur = next;
            }
            // Terms in the order the loop adds them (innermost first).
            terms.reverse();
            carries.push(Carry::Sum { chain, terms });
        }
        // No value depending on an updated carry reaches anything but the
        // next step of its chain, and no term depends on a carry.
        let mut tainted: HashSet<ValueId> = carries
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, Carry::Sum { .. }))
            .map(|(k, _)| body.params[1 + k])
            .collect();
        for &id in &body.ops {
            let op = self.src.op(id);
            if let Some(&through) = chain_ops.get(&id) {
                if op
                    .args
                    .iter()
                    .any(|&a| a != through && tainted.contains(&a))
                {
                    return None;
                }
                tainted.insert(op.results[0]);
            } else if self.inputs(op).iter().any(|a| tainted.contains(a)) {
                return None;
            }
        }
        if body.results[n_carry..].iter().any(|r| tainted.contains(r)) {
            return None;
        }
        Some((n, carries))
    }

    /// The values of `body` that depend on `param` (itself included).
    fn dependents(&self, body: &Region, param: ValueId) -> HashSet<ValueId> {
        let mut depends = HashSet::from([param]);
        for &id in &body.ops {
            let op = self.src.op(id);
            if self.inputs(op).iter().any(|a| depends.contains(a)) {
                depends.extend(op.results.iter().copied());
            }
        }
        depends
    }

    /// The values `op` reads: its operands and, for an `if` or `for`, the
    /// values its regions use from outside it.
    fn inputs(&self, op: &Op) -> Vec<ValueId> {
        let mut inputs = op.args.clone();
        if !op.regions.is_empty() {
            inputs.extend(free_vars(self.src, op));
        }
        inputs
    }

    /// Whether `op`'s regions hold only primitives and pure control flow
    /// (no draws or other effects), so that an `if` or `for` inside a
    /// batched body which does not depend on the loop index may run once
    /// instead of once per iteration.
    fn is_pure(&self, op: &Op) -> bool {
        op.regions.iter().all(|r| {
            r.ops.iter().all(|&id| {
                let inner = self.src.op(id);
                match inner.kind {
                    OpKind::Prim(_) => true,
                    OpKind::For { .. } | OpKind::If => self.is_pure(inner),
                    _ => false,
                }
            })
        })
    }

    /// Emits `op` without its loop if it is batchable and every primitive
    /// in it has a batching rule; returns whether it did.
    fn batch_loop(&self, b: &mut Builder, op: &Op, stacked: usize, env: &mut Env) -> bool {
        let Some((n, carries)) = self.batchable(op, stacked) else {
            return false;
        };
        let emitted = b.try_region(&[], |b, _| self.emit_batched(b, op, n, &carries, env));
        let Ok(region) = emitted else {
            return false;
        };
        for &id in &region.ops {
            b.append_existing(id);
        }
        for (&old, &new) in op.results.iter().zip(&region.results) {
            env.insert(old, new);
        }
        true
    }

    /// Step 2 and 3: the batched body and the loop's results.
    fn emit_batched(
        &self,
        b: &mut Builder,
        op: &Op,
        n: usize,
        carries: &[Carry],
        env: &Env,
    ) -> Result<Vec<ValueId>, NoRule> {
        let body = &op.regions[0];
        let n_carry = carries.len();
        let mut ctx = Batching::new(n);
        let mut env = env.clone();
        let mut operands: HashMap<ValueId, Operand> = HashMap::new();
        let operand = |operands: &HashMap<ValueId, Operand>, env: &Env, v: ValueId| {
            operands
                .get(&v)
                .copied()
                .unwrap_or_else(|| Operand::Unbatched(lookup(env, v)))
        };
        // The loop index: 0..n, shifted by a non-zero `lo`.
        let index = body.params[0];
        if self.ints.get(&op.args[0]) == Some(&0) {
            operands.insert(index, Operand::Iota);
        } else {
            let iota = ctx.iota(b);
            let lo = b.prim(Prim::Broadcast(vec![n]), &[lookup(&env, op.args[0])]);
            operands.insert(index, Operand::Batched(b.add(iota, lo)));
        }
        let mut updates = HashSet::new();
        for (k, carry) in carries.iter().enumerate() {
            match carry {
                Carry::PassThrough => {
                    let init = lookup(&env, op.args[2 + k]);
                    env.insert(body.params[1 + k], init);
                }
                Carry::Sum { chain, .. } => updates.extend(chain.iter().copied()),
            }
        }
        for &id in &body.ops {
            if updates.contains(&id) {
                continue;
            }
            let inner = self.src.op(id);
            let invariant = self
                .inputs(inner)
                .iter()
                .all(|&a| matches!(operand(&operands, &env, a), Operand::Unbatched(_)));
            if invariant {
                copy_op(b, self.src, inner, &mut env);
                continue;
            }
            if !inner.regions.is_empty() {
                return Err(NoRule(
                    "a nested loop or branch depends on the loop index".into(),
                ));
            }
            let args: Vec<Operand> = inner
                .args
                .iter()
                .map(|&a| operand(&operands, &env, a))
                .collect();
            let types: Vec<_> = inner.args.iter().map(|&a| self.src.ty(a).clone()).collect();
            let result = self.src.ty(inner.results[0]).clone();
            let saved = enter_origin(b, self.src, inner);
            let v = match &inner.kind {
                OpKind::Prim(prim) => batch::batch(b, &mut ctx, prim, &args, &types, &result),
                draw => batch::draw(b, &mut ctx, draw, &args, &types, &result),
            };
            b.set_origin(saved);
            operands.insert(inner.results[0], Operand::Batched(v?));
        }
        let mut results = Vec::with_capacity(op.results.len());
        for (k, carry) in carries.iter().enumerate() {
            let init = lookup(&env, op.args[2 + k]);
            match carry {
                Carry::PassThrough => results.push(init),
                Carry::Sum { terms, .. } => {
                    let ty = self.src.ty(op.args[2 + k]).clone();
                    let mut rows = None;
                    for &term in terms {
                        let row = ctx.materialize(b, operand(&operands, &env, term), &ty);
                        rows = Some(match rows {
                            None => row,
                            Some(sum) => b.add(sum, row),
                        });
                    }
                    let rows = rows.expect("a summed carry has a term");
                    let total = b.prim(
                        Prim::Reduce {
                            op: crate::prim::AxisReduction::Sum,
                            axis: 0,
                        },
                        &[rows],
                    );
                    results.push(b.add(init, total));
                }
            }
        }
        for &r in &body.results[n_carry..] {
            let ty = self.src.ty(r).clone();
            results.push(ctx.materialize(b, operand(&operands, &env, r), &ty));
        }
        Ok(results)
    }
}
