//! Batching rules: each primitive applied to operands that carry a new
//! leading *batch* axis (JAX's `vmap` rules).
//!
//! The vmap transform (`transform/vmap.rs`) turns the body of an
//! independent loop of `n` iterations into one straight-line program in
//! which every value that depends on the loop index gains a leading axis of
//! length `n` (row `j` is the value iteration `j` computed). A value that
//! does not depend on the index stays as it was. [`batch`] emits, for one
//! primitive, the operation(s) computing the batched result from such
//! operands; it is called only when at least one operand is batched, and
//! its result is always batched.
//!
//! The rules, by shape of primitive:
//!
//! | primitive | batched rule |
//! | --- | --- |
//! | elementwise (`add`, `exp`, `select`, `stop_grad`, casts, comparisons, ...) | the same primitive after spreading unbatched operands with `expand<axis=0>` (`broadcast` for scalars) |
//! | `guard<positive \| nonnegative \| unit_interval \| finite>` | the same guard (it checks every element) |
//! | `broadcast<s>` | `expand` the batched scalars along each new axis |
//! | `index t, i` | `gather t, i` for an unbatched `t`; `t` itself when `i` is the loop index `0..n` and `t` has `n` rows; a flat `gather` of `reshape(t)` at `row · len + i` for a batched `t` |
//! | `sum`, `logsumexp`, `reduce_max` | the axis reduction over the (flattened) non-batch axes |
//! | `matvec W, x` (unbatched `W`) | `matmul_nt X, W`; `matvec_t W, x` → `matmul X, W` |
//! | `matvec W, x` (batched `W`, unbatched `x`) | `matvec` of the `[n·r, c]` reshape, reshaped back |
//! | `matmul A, B` (batched `A`, unbatched `B`, `A` not transposed) | `matmul` of the `[n·r, k]` reshape |
//! | `reshape<s>` | `reshape<[n] ++ s>` |
//! | `sum_axis<k>` / `expand<axis=k>` and cousins | the same with `k + 1` |
//! | `gather t, idx` (unbatched `t`) | `gather` of the flattened indices, reshaped |
//! | `pack` of scalars | `pack`, then `transpose` to `[n, k]` |
//! | keyed `draw` (not a primitive; [`draw`]) | a `draw<…, batch=n>` of the parameters with a leading axis, the loop index as `i64[n]` |
//!
//! Every other combination (a batched matrix under `transpose`, `concat`,
//! `slice`, `trisolve`, `tril`, `diagonal`, `diag_matrix`, `outer`,
//! `index_add`, `scatter_add`, structural guards, host functions, ...) has
//! no rule yet: [`batch`] returns [`NoRule`], and the transform leaves the
//! loop as it is. A missing rule never makes compilation fail; it only
//! costs the speed-up.

use super::{AxisReduction, GuardKind, Prim};
use crate::ir::{Builder, OpKind, Type, ValueId};
use std::sync::Arc;

/// An operand of a batched primitive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A value that does not depend on the loop index: the same in every
    /// row.
    Unbatched(ValueId),
    /// A value with a leading batch axis: row `j` is iteration `j`'s value.
    Batched(ValueId),
    /// The loop index itself, `0, 1, ..., n − 1` (kept symbolic so that
    /// `index t, i` can become `t`; materialized on demand).
    Iota,
}

/// A primitive with no batching rule for its operands (the loop stays a
/// loop).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoRule(pub String);

/// The context of one batched loop: its trip count and the loop index,
/// materialized at most once.
pub struct Batching {
    /// The batch size (the loop's trip count).
    pub n: usize,
    iota: Option<ValueId>,
}

impl Batching {
    /// The context of a loop of `n` iterations.
    pub fn new(n: usize) -> Batching {
        Batching { n, iota: None }
    }

    /// The `i64[n]` vector `0, 1, ..., n − 1`, emitted on first use.
    pub fn iota(&mut self, b: &mut Builder) -> ValueId {
        if let Some(v) = self.iota {
            return v;
        }
        // There is no integer tensor constant: an exact f64 one, cast.
        let data: Arc<[f64]> = (0..self.n).map(|k| k as f64).collect();
        let reals = b.prim(
            Prim::ConstTensor {
                shape: vec![self.n],
                data,
            },
            &[],
        );
        let v = b.prim(Prim::F64ToInt, &[reals]);
        self.iota = Some(v);
        v
    }

    /// The batched value of `operand`, whose unbatched type is `ty`: an
    /// unbatched operand is repeated along a new leading axis.
    pub fn materialize(&mut self, b: &mut Builder, operand: Operand, ty: &Type) -> ValueId {
        match operand {
            Operand::Batched(v) => v,
            Operand::Iota => self.iota(b),
            Operand::Unbatched(v) if ty.is_scalar() => b.prim(Prim::Broadcast(vec![self.n]), &[v]),
            Operand::Unbatched(v) => b.prim(Prim::Expand { axis: 0, n: self.n }, &[v]),
        }
    }
}

fn no_rule<T>(prim: &Prim, why: &str) -> Result<T, NoRule> {
    Err(NoRule(format!("{} {why}", prim.name())))
}

/// Emits the batched form of `prim` applied to `args`, whose unbatched
/// types are `types`, and returns the batched result (unbatched type
/// `result`, plus the leading batch axis). At least one operand is batched.
pub fn batch(
    b: &mut Builder,
    ctx: &mut Batching,
    prim: &Prim,
    args: &[Operand],
    types: &[Type],
    result: &Type,
) -> Result<ValueId, NoRule> {
    let n = ctx.n;
    let is_batched = |k: usize| !matches!(args[k], Operand::Unbatched(_));
    let unbatched = |k: usize| match args[k] {
        Operand::Unbatched(v) => Some(v),
        _ => None,
    };
    match prim {
        // Constants have no operands, so they are never batched.
        Prim::ConstF64(_) | Prim::ConstI64(_) | Prim::ConstBool(_) | Prim::ConstTensor { .. } => {
            no_rule(prim, "has no operands")
        }
        Prim::Select => {
            // A scalar condition selects whole values: spread it over the
            // non-batch axes once it is batched.
            let a = ctx.materialize(b, args[1], &types[1]);
            let c = match args[0] {
                Operand::Unbatched(c) if types[0].is_scalar() => c,
                other => {
                    let mut c = ctx.materialize(b, other, &types[0]);
                    if types[0].is_scalar() {
                        for (axis, &d) in types[1].shape.iter().enumerate() {
                            c = b.prim(
                                Prim::Expand {
                                    axis: axis + 1,
                                    n: d,
                                },
                                &[c],
                            );
                        }
                    }
                    c
                }
            };
            let z = ctx.materialize(b, args[2], &types[2]);
            Ok(b.prim(Prim::Select, &[c, a, z]))
        }
        Prim::Neg
        | Prim::Exp
        | Prim::Log
        | Prim::Log1p
        | Prim::Expm1
        | Prim::Sqrt
        | Prim::Sin
        | Prim::Cos
        | Prim::Tan
        | Prim::Atan
        | Prim::Tanh
        | Prim::Sigmoid
        | Prim::Softplus
        | Prim::Abs
        | Prim::Sign
        | Prim::Floor
        | Prim::Lgamma
        | Prim::Digamma
        | Prim::Polygamma(_)
        | Prim::Add
        | Prim::Sub
        | Prim::Mul
        | Prim::Div
        | Prim::Rem
        | Prim::Pow
        | Prim::Max
        | Prim::Min
        | Prim::GammaP
        | Prim::GammaPDa
        | Prim::Lt
        | Prim::Le
        | Prim::Gt
        | Prim::Ge
        | Prim::Eq
        | Prim::Ne
        | Prim::And
        | Prim::Or
        | Prim::Not
        | Prim::IntToF64
        | Prim::BoolToF64
        | Prim::F64ToInt
        | Prim::StopGrad => elementwise(b, ctx, prim, args, types),
        Prim::Guard { kind, .. } => match kind {
            GuardKind::Positive
            | GuardKind::NonNegative
            | GuardKind::UnitInterval
            | GuardKind::Finite => elementwise(b, ctx, prim, args, types),
            // These check a whole vector or matrix, or a scalar only.
            GuardKind::Probabilities
            | GuardKind::LowerTriangularPositiveDiagonal
            | GuardKind::NonNegativeInt
            | GuardKind::Present => no_rule(prim, "checks a whole value"),
        },
        Prim::Broadcast(shape) => {
            let mut x = ctx.materialize(b, args[0], &types[0]);
            for (axis, &d) in shape.iter().enumerate() {
                x = b.prim(
                    Prim::Expand {
                        axis: axis + 1,
                        n: d,
                    },
                    &[x],
                );
            }
            Ok(x)
        }
        Prim::BroadcastLike => {
            if result.shape.contains(&crate::ir::DYNAMIC) {
                return no_rule(prim, "of a dynamic shape");
            }
            let mut x = ctx.materialize(b, args[0], &types[0]);
            for (axis, &d) in result.shape.iter().enumerate() {
                x = b.prim(
                    Prim::Expand {
                        axis: axis + 1,
                        n: d,
                    },
                    &[x],
                );
            }
            Ok(x)
        }
        Prim::Pack => {
            if !types[0].is_scalar() {
                return no_rule(prim, "of tensors");
            }
            let rows: Vec<ValueId> = (0..args.len())
                .map(|k| ctx.materialize(b, args[k], &types[k]))
                .collect();
            let packed = b.prim(Prim::Pack, &rows);
            Ok(b.prim(Prim::Transpose, &[packed]))
        }
        Prim::Index => index(b, ctx, args, types),
        Prim::Sum | Prim::LogSumExp | Prim::ReduceMax => {
            let op = match prim {
                Prim::Sum => AxisReduction::Sum,
                Prim::LogSumExp => AxisReduction::LogSumExp,
                _ => AxisReduction::Max,
            };
            let x = ctx.materialize(b, args[0], &types[0]);
            if types[0].is_scalar() {
                // The sum of one element is itself; logsumexp and max too.
                return Ok(x);
            }
            let Some(len) = types[0].num_elements() else {
                return no_rule(prim, "of a dynamic shape");
            };
            let flat = if types[0].shape.len() == 1 {
                x
            } else {
                b.prim(Prim::Reshape(vec![n, len]), &[x])
            };
            Ok(b.prim(Prim::Reduce { op, axis: 1 }, &[flat]))
        }
        Prim::MatVec { transpose } => match (unbatched(0), unbatched(1)) {
            (Some(w), None) => {
                let x = ctx.materialize(b, args[1], &types[1]);
                Ok(b.prim(
                    Prim::MatMul {
                        transpose_a: false,
                        transpose_b: !transpose,
                    },
                    &[x, w],
                ))
            }
            (None, Some(x)) if !transpose => {
                let w = ctx.materialize(b, args[0], &types[0]);
                let (r, c) = (types[0].shape[0], types[0].shape[1]);
                let flat = b.prim(Prim::Reshape(vec![n * r, c]), &[w]);
                let y = b.prim(Prim::MatVec { transpose: false }, &[flat, x]);
                Ok(b.prim(Prim::Reshape(vec![n, r]), &[y]))
            }
            _ => no_rule(prim, "of a batched matrix"),
        },
        Prim::MatMul {
            transpose_a: false,
            transpose_b,
        } if is_batched(0) && !is_batched(1) => {
            let a = ctx.materialize(b, args[0], &types[0]);
            let (r, k) = (types[0].shape[0], types[0].shape[1]);
            let flat = b.prim(Prim::Reshape(vec![n * r, k]), &[a]);
            let y = b.prim(
                Prim::MatMul {
                    transpose_a: false,
                    transpose_b: *transpose_b,
                },
                &[flat, unbatched(1).expect("checked unbatched")],
            );
            Ok(b.prim(Prim::Reshape(vec![n, r, result.shape[1]]), &[y]))
        }
        Prim::Reshape(shape) => {
            let x = ctx.materialize(b, args[0], &types[0]);
            Ok(b.prim(Prim::Reshape(leading(n, shape)), &[x]))
        }
        Prim::Reduce { op, axis } => {
            let x = ctx.materialize(b, args[0], &types[0]);
            Ok(b.prim(
                Prim::Reduce {
                    op: *op,
                    axis: axis + 1,
                },
                &[x],
            ))
        }
        Prim::Expand { axis, n: len } => {
            let x = ctx.materialize(b, args[0], &types[0]);
            Ok(b.prim(
                Prim::Expand {
                    axis: axis + 1,
                    n: *len,
                },
                &[x],
            ))
        }
        Prim::Gather => match unbatched(0) {
            Some(t) => {
                let idx = ctx.materialize(b, args[1], &types[1]);
                let k = types[1].shape[0];
                let flat = b.prim(Prim::Reshape(vec![n * k]), &[idx]);
                let rows = b.prim(Prim::Gather, &[t, flat]);
                Ok(b.prim(Prim::Reshape(leading(n, &result.shape)), &[rows]))
            }
            None => no_rule(prim, "from a batched tensor"),
        },
        Prim::MatMul { .. }
        | Prim::IndexAdd
        | Prim::Outer
        | Prim::TriSolve { .. }
        | Prim::Tril
        | Prim::Diagonal
        | Prim::DiagMatrix
        | Prim::Transpose
        | Prim::Concat
        | Prim::Slice { .. }
        | Prim::ScatterAdd
        | Prim::Host { .. }
        | Prim::HostPartial { .. } => no_rule(prim, "has no batching rule yet"),
    }
}

/// `[n] ++ shape`.
fn leading(n: usize, shape: &[usize]) -> Vec<usize> {
    let mut s = Vec::with_capacity(shape.len() + 1);
    s.push(n);
    s.extend_from_slice(shape);
    s
}

/// The batching rule of a keyed `draw` (not a primitive, but batched the
/// same way): a draw with `batch = n` whose parameters are materialized
/// with a leading axis and whose loop indices stay scalars or become
/// `i64[n]` — row `j` is then exactly iteration `j`'s draw, on the same
/// stream. `kind` is an unbatched draw with operands `args` of unbatched
/// types `types` and result type `result`.
pub fn draw(
    b: &mut Builder,
    ctx: &mut Batching,
    kind: &OpKind,
    args: &[Operand],
    types: &[Type],
    result: &Type,
) -> Result<ValueId, NoRule> {
    let &OpKind::Draw {
        dist,
        site,
        stream,
        num_params,
        batch: 0,
    } = kind
    else {
        return Err(NoRule("only unbatched draws are batched".into()));
    };
    let np = num_params as usize;
    let mut operands = Vec::with_capacity(args.len());
    for (k, (&arg, ty)) in args.iter().zip(types).enumerate() {
        operands.push(match arg {
            Operand::Unbatched(v) if k >= np => v,
            other => ctx.materialize(b, other, ty),
        });
    }
    let n = ctx.n;
    let mut shape = vec![n];
    shape.extend_from_slice(&result.shape);
    let batched = OpKind::Draw {
        dist,
        site,
        stream,
        num_params,
        batch: u32::try_from(n).map_err(|_| NoRule(format!("a batch of {n} draws")))?,
    };
    Ok(b.push(
        batched,
        operands,
        vec![Type::tensor(result.elem, shape)],
        vec![],
    )[0])
}

/// An elementwise primitive: every operand spread to the batched shape.
fn elementwise(
    b: &mut Builder,
    ctx: &mut Batching,
    prim: &Prim,
    args: &[Operand],
    types: &[Type],
) -> Result<ValueId, NoRule> {
    let xs: Vec<ValueId> = args
        .iter()
        .zip(types)
        .map(|(&a, t)| ctx.materialize(b, a, t))
        .collect();
    Ok(b.prim(prim.clone(), &xs))
}

/// `index t, i`: row `i` of `t`, per batch row.
fn index(
    b: &mut Builder,
    ctx: &mut Batching,
    args: &[Operand],
    types: &[Type],
) -> Result<ValueId, NoRule> {
    let n = ctx.n;
    match (args[0], args[1]) {
        // Row k of t for k = 0..n is t itself when t has n rows.
        (Operand::Unbatched(t), Operand::Iota) if types[0].shape.first() == Some(&n) => Ok(t),
        (Operand::Unbatched(t), i) => {
            let i = ctx.materialize(b, i, &types[1]);
            Ok(b.prim(Prim::Gather, &[t, i]))
        }
        (t, i) => {
            // Row j of the result is t[j, i_j]: a gather from the flattened
            // [n · len, ...] tensor at rows j · len + i_j.
            let Some(&len) = types[0].shape.first() else {
                return Err(NoRule("index of a scalar".into()));
            };
            if types[0].shape.contains(&crate::ir::DYNAMIC) {
                return Err(NoRule("index of a dynamic shape".into()));
            }
            let t = ctx.materialize(b, t, &types[0]);
            let flat_shape = {
                let mut s = types[0].shape.clone();
                s[0] = n * len;
                s
            };
            let flat = b.prim(Prim::Reshape(flat_shape), &[t]);
            let i = ctx.materialize(b, i, &types[1]);
            let rows = ctx.iota(b);
            let len_v = b.i64(len as i64);
            let len_vs = b.prim(Prim::Broadcast(vec![n]), &[len_v]);
            let starts = b.mul(rows, len_vs);
            let at = b.add(starts, i);
            Ok(b.prim(Prim::Gather, &[flat, at]))
        }
    }
}
