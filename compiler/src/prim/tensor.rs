//! Type rules of the shape and linear-algebra primitives: `matmul`,
//! `transpose`, `reshape`, `concat`, `slice`, `gather` / `scatter_add`, the
//! axis reductions and `expand`.
//!
//! They sit apart from the scalar and elementwise rules of `mod.rs` because
//! their interest is all in shapes. `Prim::result_type` sends each of them
//! here; `Prim::name` and the derivative rules (`tensor_ad.rs`) still match
//! exhaustively, so a new primitive cannot be half-added.
//!
//! A dimension may be [`DYNAMIC`] only as the leading dimension of a loop's
//! stacked outputs. The primitives whose derivatives need the exact extent
//! of a dimension at compile time — `reshape`, `concat`, `slice` (their
//! transposes pad or cut with constant bounds), the axis reductions and
//! `expand` (theirs repeat along an axis) — reject dynamic shapes; the
//! lowering reports that to the user before emitting them.

use super::{Prim, PrimTypeError};
use crate::ir::{DYNAMIC, Elem, Type};

/// What a [`Prim::Reduce`] computes along its axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AxisReduction {
    /// The sum (of `f64` or `i64` elements).
    Sum,
    /// `ln Σ eˣ`.
    LogSumExp,
    /// The largest element (NaN if any is NaN).
    Max,
}

impl AxisReduction {
    /// Every reduction, for readers that look one up by name.
    pub const ALL: [AxisReduction; 3] = [
        AxisReduction::Sum,
        AxisReduction::LogSumExp,
        AxisReduction::Max,
    ];

    /// The name of the reducing primitive in printed IR
    /// (`sum_axis<1>`).
    pub fn prim_name(self) -> &'static str {
        match self {
            AxisReduction::Sum => "sum_axis",
            AxisReduction::LogSumExp => "logsumexp_axis",
            AxisReduction::Max => "max_axis",
        }
    }

    /// The reduction whose primitive is printed as `name`.
    pub fn from_prim_name(name: &str) -> Option<AxisReduction> {
        AxisReduction::ALL
            .into_iter()
            .find(|r| r.prim_name() == name)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, PrimTypeError> {
    Err(PrimTypeError(msg.into()))
}

/// Whether every dimension of `t` is known at compile time.
fn is_static(t: &Type) -> bool {
    !t.shape.contains(&DYNAMIC)
}

/// The result type of the shape or linear-algebra primitive `prim` applied
/// to operands of types `args`.
pub(super) fn result_type(prim: &Prim, args: &[Type]) -> Result<Type, PrimTypeError> {
    let name = prim.name();
    let arity = |n: usize| -> Result<(), PrimTypeError> {
        if args.len() == n {
            Ok(())
        } else {
            err(format!("{name} takes {n} operand(s), got {}", args.len()))
        }
    };
    let static_shape = |t: &Type| -> Result<(), PrimTypeError> {
        if is_static(t) {
            Ok(())
        } else {
            err(format!("{name} needs a static shape, got {t}"))
        }
    };
    match prim {
        Prim::MatMul {
            transpose_a,
            transpose_b,
        } => {
            arity(2)?;
            let (a, b) = (&args[0], &args[1]);
            if a.elem != Elem::F64
                || b.elem != Elem::F64
                || a.shape.len() != 2
                || b.shape.len() != 2
            {
                return err(format!("{name} needs two f64 matrices, got {a} and {b}"));
            }
            let (n, k) = oriented(&a.shape, *transpose_a);
            let (k2, m) = oriented(&b.shape, *transpose_b);
            if k != k2 {
                return err(format!("{name} of {a} and {b} does not fit"));
            }
            Ok(Type::tensor(Elem::F64, vec![n, m]))
        }
        Prim::Transpose => {
            arity(1)?;
            let a = &args[0];
            if a.shape.len() != 2 {
                return err(format!("transpose needs a matrix, got {a}"));
            }
            Ok(Type::tensor(a.elem, vec![a.shape[1], a.shape[0]]))
        }
        Prim::Reshape(shape) => {
            arity(1)?;
            let a = &args[0];
            static_shape(a)?;
            if shape.contains(&DYNAMIC) {
                return err("reshape to a dynamic shape");
            }
            let want = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
            if want.is_none() || a.num_elements() != want {
                return err(format!("reshape of {a} to {shape:?} changes its size"));
            }
            Ok(Type::tensor(a.elem, shape.clone()))
        }
        Prim::Concat => {
            let Some(first) = args.first() else {
                return err("concat needs at least one operand");
            };
            let mut total = 0;
            for a in args {
                static_shape(a)?;
                // `first` is checked first, so its rank is ≥ 1 below.
                if a.elem != first.elem || a.shape.is_empty() || a.shape[1..] != first.shape[1..] {
                    return err(format!("concat of {first} and {a} does not fit"));
                }
                total += a.shape[0];
            }
            let mut shape = first.shape.clone();
            shape[0] = total;
            Ok(Type::tensor(first.elem, shape))
        }
        Prim::Slice { start, len } => {
            arity(1)?;
            let a = &args[0];
            static_shape(a)?;
            match a.shape.first() {
                Some(&n) if start.checked_add(*len).is_some_and(|end| end <= n) => {
                    let mut shape = a.shape.clone();
                    shape[0] = *len;
                    Ok(Type::tensor(a.elem, shape))
                }
                _ => err(format!(
                    "slice<start={start}, len={len}> of {a} is out of range"
                )),
            }
        }
        Prim::Gather => {
            arity(2)?;
            let (t, idx) = (&args[0], &args[1]);
            if idx.elem != Elem::I64 || idx.shape.len() != 1 {
                return err(format!("gather needs an i64 index vector, got {idx}"));
            }
            match t.unstacked() {
                Some(row) => Ok(row.stacked(idx.shape[0])),
                None => err("gather from a scalar"),
            }
        }
        Prim::ScatterAdd => {
            arity(3)?;
            let (t, idx, v) = (&args[0], &args[1], &args[2]);
            if idx.elem != Elem::I64 || idx.shape.len() != 1 {
                return err(format!("scatter_add needs an i64 index vector, got {idx}"));
            }
            match t.unstacked() {
                Some(row) if t.elem == Elem::F64 && row.stacked(idx.shape[0]) == *v => {
                    Ok(t.clone())
                }
                _ => err(format!("scatter_add of {v} into {t} does not fit")),
            }
        }
        Prim::Reduce { op, axis } => {
            arity(1)?;
            let a = &args[0];
            static_shape(a)?;
            let elem_ok = match op {
                AxisReduction::Sum => a.elem != Elem::Bool,
                AxisReduction::LogSumExp | AxisReduction::Max => a.elem == Elem::F64,
            };
            if !elem_ok || *axis >= a.shape.len() {
                return err(format!("{name}<{axis}> does not apply to {a}"));
            }
            let mut shape = a.shape.clone();
            shape.remove(*axis);
            Ok(Type::tensor(a.elem, shape))
        }
        Prim::Expand { axis, n } => {
            arity(1)?;
            let a = &args[0];
            static_shape(a)?;
            if *axis > a.shape.len() || *n == DYNAMIC {
                return err(format!("expand<axis={axis}, n={n}> does not apply to {a}"));
            }
            let mut shape = a.shape.clone();
            shape.insert(*axis, *n);
            Ok(Type::tensor(a.elem, shape))
        }
        other => err(format!(
            "internal error: {} is not a shape primitive",
            other.name()
        )),
    }
}

/// A matrix shape `[r, c]` as `(rows, columns)` of itself or, when
/// `transposed`, of its transpose.
fn oriented(shape: &[usize], transposed: bool) -> (usize, usize) {
    if transposed {
        (shape[1], shape[0])
    } else {
        (shape[0], shape[1])
    }
}
