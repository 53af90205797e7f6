//! Derivative rules of the shape and linear-algebra primitives (the
//! counterpart of `tensor.rs` to `ad.rs`, which calls these).
//!
//! All of them but the nonlinear reductions are linear in their `f64`
//! operands (`matmul` in each one separately), so the jvp applies the
//! primitive to the tangents and the vjp applies its transpose, which is
//! another primitive of this family:
//!
//! | primitive | transpose |
//! | --- | --- |
//! | `matmul` (flags `ta`, `tb`) | `matmul` with the flags rearranged |
//! | `transpose` | `transpose` |
//! | `reshape<s>` | `reshape` back to the operand's shape |
//! | `concat` | one `slice` per operand |
//! | `slice` | `concat` of zeros, the cotangent, zeros |
//! | `gather` | `scatter_add` into zeros |
//! | `scatter_add` | itself in the tensor, `gather` in the rows |
//! | `sum_axis<k>` | `expand<axis=k>` |
//! | `expand<axis=k>` | `sum_axis<k>` |
//!
//! `logsumexp_axis` and `max_axis` weigh the tangent by the softmax of each
//! slice and by its normalized argmax indicator, as their full-reduction
//! cousins do in `ad.rs`.

use super::{AxisReduction, Prim};
use crate::ir::{Builder, ValueId};

/// The tangent of the shape primitive `prim`'s result (see `ad::jvp`).
pub(super) fn jvp(
    b: &mut Builder,
    prim: &Prim,
    args: &[ValueId],
    z: ValueId,
    tangents: &[Option<ValueId>],
) -> Option<ValueId> {
    let t = |i: usize| tangents.get(i).copied().flatten();
    match prim {
        Prim::MatMul { .. } => {
            let (x, y) = (args[0], args[1]);
            let l = t(0).map(|dx| b.prim(prim.clone(), &[dx, y]));
            let r = t(1).map(|dy| b.prim(prim.clone(), &[x, dy]));
            b.add_opt(l, r)
        }
        Prim::Transpose
        | Prim::Reshape(_)
        | Prim::Slice { .. }
        | Prim::Expand { .. }
        | Prim::Reduce {
            op: AxisReduction::Sum,
            ..
        } => t(0).map(|d| b.un(prim.clone(), d)),
        Prim::Concat => {
            let ds: Vec<ValueId> = (0..args.len())
                .map(|i| b.materialize_like(t(i), args[i]))
                .collect();
            Some(b.prim(Prim::Concat, &ds))
        }
        Prim::Gather => t(0).map(|d| b.prim(Prim::Gather, &[d, args[1]])),
        Prim::ScatterAdd => {
            let dt = b.materialize_like(t(0), args[0]);
            let dv = b.materialize_like(t(2), args[2]);
            Some(b.prim(Prim::ScatterAdd, &[dt, args[1], dv]))
        }
        Prim::Reduce { op, axis } => t(0).map(|d| {
            let w = reduction_weights(b, *op, *axis, args[0], z);
            let wd = b.mul(w, d);
            b.un(sum_axis(*axis), wd)
        }),
        other => unreachable!("{} is not a shape primitive", other.name()),
    }
}

/// The cotangents of the shape primitive `prim`'s operands (see
/// `ad::vjp`), written into `out` for the operands that are `needed`.
pub(super) fn vjp(
    b: &mut Builder,
    prim: &Prim,
    args: &[ValueId],
    z: ValueId,
    ct: ValueId,
    needed: &[bool],
    out: &mut [Option<ValueId>],
) {
    let need = |i: usize| needed.get(i).copied().unwrap_or(false);
    match prim {
        Prim::MatMul {
            transpose_a,
            transpose_b,
        } => {
            // z = A B with A = op(a), B = op(b): Ā = z̄ Bᵀ, B̄ = Aᵀ z̄, and
            // ā = Ā (or Āᵀ when a is transposed), likewise b̄.
            let (ta, tb) = (*transpose_a, *transpose_b);
            let (a, bm) = (args[0], args[1]);
            if need(0) {
                out[0] = Some(if ta {
                    // ā = (z̄ Bᵀ)ᵀ = B z̄ᵀ.
                    b.prim(matmul(tb, true), &[bm, ct])
                } else {
                    b.prim(matmul(false, !tb), &[ct, bm])
                });
            }
            if need(1) {
                out[1] = Some(if tb {
                    // b̄ = (Aᵀ z̄)ᵀ = z̄ᵀ A.
                    b.prim(matmul(true, ta), &[ct, a])
                } else {
                    b.prim(matmul(!ta, false), &[a, ct])
                });
            }
        }
        Prim::Transpose => {
            if need(0) {
                out[0] = Some(b.un(Prim::Transpose, ct));
            }
        }
        Prim::Reshape(_) => {
            if need(0) {
                let shape = b.ty(args[0]).shape;
                out[0] = Some(b.un(Prim::Reshape(shape), ct));
            }
        }
        Prim::Concat => {
            let mut start = 0;
            for (i, slot) in out.iter_mut().enumerate() {
                let len = b.ty(args[i]).shape[0];
                if need(i) {
                    *slot = Some(b.un(Prim::Slice { start, len }, ct));
                }
                start += len;
            }
        }
        Prim::Slice { start, len } => {
            if need(0) {
                out[0] = Some(pad_rows(b, args[0], ct, *start, *len));
            }
        }
        Prim::Gather => {
            if need(0) {
                let zeros = b.zeros_like(args[0]);
                out[0] = Some(b.prim(Prim::ScatterAdd, &[zeros, args[1], ct]));
            }
        }
        Prim::ScatterAdd => {
            out[0] = need(0).then_some(ct);
            if need(2) {
                out[2] = Some(b.prim(Prim::Gather, &[ct, args[1]]));
            }
        }
        Prim::Reduce { op, axis } => {
            if need(0) {
                let n = b.ty(args[0]).shape[*axis];
                let spread = b.un(Prim::Expand { axis: *axis, n }, ct);
                out[0] = Some(match op {
                    AxisReduction::Sum => spread,
                    _ => {
                        let w = reduction_weights(b, *op, *axis, args[0], z);
                        b.mul(spread, w)
                    }
                });
            }
        }
        Prim::Expand { axis, .. } => {
            if need(0) {
                out[0] = Some(b.un(sum_axis(*axis), ct));
            }
        }
        other => unreachable!("{} is not a shape primitive", other.name()),
    }
}

fn matmul(transpose_a: bool, transpose_b: bool) -> Prim {
    Prim::MatMul {
        transpose_a,
        transpose_b,
    }
}

fn sum_axis(axis: usize) -> Prim {
    Prim::Reduce {
        op: AxisReduction::Sum,
        axis,
    }
}

/// `rows` placed at rows `start .. start + len` of zeros shaped like `x`
/// (the transpose of `slice`): the concatenation of the zero rows before,
/// `rows`, and the zero rows after, leaving out empty parts.
fn pad_rows(b: &mut Builder, x: ValueId, rows: ValueId, start: usize, len: usize) -> ValueId {
    let ty = b.ty(x);
    let after = ty.shape[0] - start - len;
    let zero_rows = |b: &mut Builder, n: usize| {
        let mut shape = ty.shape.clone();
        shape[0] = n;
        b.zeros(&crate::ir::Type::tensor(ty.elem, shape))
    };
    let mut parts = Vec::with_capacity(3);
    if start > 0 {
        parts.push(zero_rows(b, start));
    }
    if len > 0 {
        parts.push(rows);
    }
    if after > 0 {
        parts.push(zero_rows(b, after));
    }
    match parts.as_slice() {
        [] => b.zeros_like(x),
        [only] => *only,
        _ => b.prim(Prim::Concat, &parts),
    }
}

/// The weights of a nonlinear axis reduction's derivative, shaped like `x`:
/// `exp(x − expand(z))` (the softmax of each slice) for `logsumexp_axis`,
/// and for `max_axis` the indicator of each slice's maximal elements divided
/// by their number (ties split evenly).
fn reduction_weights(
    b: &mut Builder,
    op: AxisReduction,
    axis: usize,
    x: ValueId,
    z: ValueId,
) -> ValueId {
    let n = b.ty(x).shape[axis];
    let spread = b.un(Prim::Expand { axis, n }, z);
    match op {
        AxisReduction::LogSumExp => {
            let d = b.sub(x, spread);
            b.un(Prim::Exp, d)
        }
        AxisReduction::Max => {
            let is_max = b.prim(Prim::Eq, &[x, spread]);
            let w = b.un(Prim::BoolToF64, is_max);
            let count = b.un(sum_axis(axis), w);
            let count = b.un(Prim::Expand { axis, n }, count);
            b.div(w, count)
        }
        AxisReduction::Sum => unreachable!("a sum has no weights"),
    }
}
