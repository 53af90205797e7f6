//! Constant folding by evaluation: operations whose results depend on no
//! argument and no randomness are computed once, when a program is
//! prepared, and replaced by constants.
//!
//! The lowering inlines a top-level `let` at every use, and a
//! comprehension over a data set (`let pixels = [for i in 0..1797 { ... }]`)
//! is pure computation on constants: left alone it would be recomputed by
//! every particle of every step, and inside another loop once per
//! iteration of that loop. Folding makes such a value a `const_tensor`.
//!
//! **The pass.** Regions are visited innermost first, so that a
//! loop-invariant constant inside a loop body (the inlined `pixels` inside
//! `[for i in 0..1500 { pixels[i] }]`) is folded before the loop around
//! it is considered. An operation is *foldable* when
//!
//! * it is pure: a primitive other than a host call, or an `if`/`for` whose
//!   regions hold only pure operations (random choices, draws, costs and
//!   minibatches are effects);
//! * every value it reads from outside itself (operands, and values its
//!   regions read from enclosing regions) is the result of a constant
//!   operation;
//! * every result has a static type whose constant form exists — an `f64`
//!   tensor or scalar, an `i64` or `bool` scalar — of at most
//!   [`MAX_FOLDED_ELEMENTS`] elements in all.
//!
//! A foldable operation is evaluated by the interpreter, in a copy of the
//! function whose body holds just the constants it reads and itself; its
//! results become `const` operations defining the same values, so no use
//! needs rewriting. An evaluation that fails (an index out of range, a
//! failed guard) leaves the operation alone: the error then happens at run
//! time, with its origin, as without folding. Literal constants are left
//! as they are. Both back ends run the folded function, and the
//! interpreter computes what the JIT would to the bit, so folding changes
//! no result.
//!
//! Equal folded tensors share one allocation (the model's and the guide's
//! copies of a data set, each inlined from the same `let`), so that the
//! simplification `backend::Prepared` runs after folding merges them — and
//! with them what reads them, such as the gathers of one minibatch.

use std::collections::{HashMap, HashSet};

use crate::interp::{RunContext, run};
use crate::rng::RunKey;
use crate::value::{Tensor, Value};
use vprog_compiler::ir::{DYNAMIC, Elem, Function, Op, OpId, OpKind, Region, ValueId};
use vprog_compiler::prim::Prim;

/// The most elements the results of one folded operation may hold (8 MB
/// of `f64`): a constant is shared, but a huge one is better computed.
pub const MAX_FOLDED_ELEMENTS: usize = 1 << 20;

/// `f` with its constant computations folded.
pub fn fold_constants(f: &Function) -> Function {
    let mut out = f.clone();
    let mut folder = Folder {
        defs: HashMap::new(),
        tensors: HashMap::new(),
    };
    let body_ops = out.body.ops.clone();
    out.body.ops = folder.region(&mut out, &body_ops);
    out
}

struct Folder {
    /// The constant values and the `const` operations defining them.
    defs: HashMap<ValueId, OpId>,
    /// The elements of the tensors folded so far, by a hash of their bits:
    /// an equal tensor folded again shares the first one's elements (the
    /// model's and the guide's copies of one data set become one constant,
    /// which common-subexpression elimination then merges).
    tensors: HashMap<u64, Vec<std::sync::Arc<[f64]>>>,
}

impl Folder {
    /// The operations of a region, folded (nested regions first).
    fn region(&mut self, f: &mut Function, ops: &[OpId]) -> Vec<OpId> {
        let mut folded = Vec::with_capacity(ops.len());
        for &id in ops {
            for r in 0..f.op(id).regions.len() {
                let inner = f.op(id).regions[r].ops.clone();
                let new_ops = self.region(f, &inner);
                f.op_mut(id).regions[r].ops = new_ops;
            }
            if is_literal(f.op(id)) {
                let result = f.op(id).results[0];
                self.defs.insert(result, id);
                folded.push(id);
                continue;
            }
            match self.fold(f, id) {
                Some(consts) => folded.extend(consts),
                None => folded.push(id),
            }
        }
        folded
    }

    /// The `const` operations replacing `id`, if it is foldable.
    fn fold(&mut self, f: &mut Function, id: OpId) -> Option<Vec<OpId>> {
        let op = f.op(id);
        if !is_pure(f, op) || !results_foldable(f, op) {
            return None;
        }
        let free = free_values(f, op);
        let mut ops = Vec::with_capacity(free.len() + 1);
        for v in &free {
            ops.push(*self.defs.get(v)?);
        }
        ops.push(id);
        let mut scratch = f.clone();
        scratch.body = Region {
            params: Vec::new(),
            ops,
            results: op.results.clone(),
        };
        let mut ctx = RunContext::new(RunKey::new(0, 0, 0));
        let values = run(&scratch, &[], &mut ctx).ok()?;
        let (results, origin) = (op.results.clone(), op.origin);
        let mut consts = Vec::with_capacity(results.len());
        for (result, value) in results.into_iter().zip(values) {
            let prim = self.shared(constant(&value)?);
            let cid = f.push_op(Op {
                kind: OpKind::Prim(prim),
                args: Vec::new(),
                results: vec![result],
                regions: Vec::new(),
                origin,
            });
            self.defs.insert(result, cid);
            consts.push(cid);
        }
        Some(consts)
    }
}

impl Folder {
    /// `prim`, a tensor constant sharing the elements of an equal one
    /// folded before, if any.
    fn shared(&mut self, prim: Prim) -> Prim {
        let Prim::ConstTensor { shape, data } = prim else {
            return prim;
        };
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        for x in data.iter() {
            x.to_bits().hash(&mut hasher);
        }
        let seen = self.tensors.entry(hasher.finish()).or_default();
        let same = |d: &std::sync::Arc<[f64]>| {
            d.len() == data.len()
                && d.iter()
                    .zip(data.iter())
                    .all(|(a, b)| a.to_bits() == b.to_bits())
        };
        let data = match seen.iter().find(|d| same(d)) {
            Some(d) => d.clone(),
            None => {
                seen.push(data.clone());
                data
            }
        };
        Prim::ConstTensor { shape, data }
    }
}

/// A `const` operation: a primitive without operands or regions.
fn is_literal(op: &Op) -> bool {
    matches!(
        op.kind,
        OpKind::Prim(
            Prim::ConstF64(_) | Prim::ConstI64(_) | Prim::ConstBool(_) | Prim::ConstTensor { .. }
        )
    )
}

/// Whether `op` computes without effects.
fn is_pure(f: &Function, op: &Op) -> bool {
    let kind_pure = match &op.kind {
        OpKind::Prim(Prim::Host { .. } | Prim::HostPartial { .. }) => false,
        OpKind::Prim(_) | OpKind::If | OpKind::For { .. } => true,
        OpKind::Sample(_)
        | OpKind::AddCost
        | OpKind::Draw { .. }
        | OpKind::EnumValue { .. }
        | OpKind::MvdValue { .. }
        | OpKind::MvdCotangent { .. }
        | OpKind::Subsample { .. } => false,
    };
    kind_pure
        && op
            .regions
            .iter()
            .all(|r| r.ops.iter().all(|&id| is_pure(f, f.op(id))))
}

/// Whether every result of `op` has a constant form, within the size limit.
fn results_foldable(f: &Function, op: &Op) -> bool {
    let mut elements = 0usize;
    for &r in &op.results {
        let ty = f.ty(r);
        if ty.shape.contains(&DYNAMIC) {
            return false;
        }
        let scalar = ty.shape.is_empty();
        if !(ty.elem == Elem::F64 || scalar) {
            return false;
        }
        elements = elements.saturating_add(ty.shape.iter().product::<usize>());
    }
    elements <= MAX_FOLDED_ELEMENTS
}

/// The values `op` reads that it does not define: its operands and what
/// its regions read from outside them, in first-use order.
fn free_values(f: &Function, op: &Op) -> Vec<ValueId> {
    fn visit(
        f: &Function,
        op: &Op,
        defined: &mut HashSet<ValueId>,
        seen: &mut HashSet<ValueId>,
        free: &mut Vec<ValueId>,
    ) {
        for &a in &op.args {
            if !defined.contains(&a) && seen.insert(a) {
                free.push(a);
            }
        }
        for region in &op.regions {
            defined.extend(region.params.iter().copied());
            for &id in &region.ops {
                let inner = f.op(id);
                visit(f, inner, defined, seen, free);
                defined.extend(inner.results.iter().copied());
            }
            for &r in &region.results {
                if !defined.contains(&r) && seen.insert(r) {
                    free.push(r);
                }
            }
        }
    }
    let mut free = Vec::new();
    visit(f, op, &mut HashSet::new(), &mut HashSet::new(), &mut free);
    free
}

/// The constant primitive whose value is `value`, if there is one.
fn constant(value: &Value) -> Option<Prim> {
    Some(match value {
        Value::F(x) => Prim::ConstF64(*x),
        Value::I(x) => Prim::ConstI64(*x),
        Value::B(x) => Prim::ConstBool(*x),
        Value::T(t) => match t.as_ref() {
            Tensor::F(a) => Prim::ConstTensor {
                shape: a.shape().to_vec(),
                data: a.iter().copied().collect(),
            },
            _ => return None,
        },
    })
}
