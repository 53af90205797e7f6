//! Interpreter kernels of the shape and linear-algebra primitives:
//! `matmul` (ndarray's `dot`, a matrixmultiply GEMM), `transpose`,
//! `reshape`, `concat`, `slice`, `gather`, `scatter_add`, the axis
//! reductions and `expand`.
//!
//! The layout primitives (everything but `matmul`, `scatter_add` and the
//! reductions) move elements without looking at them, so they are written
//! once over an [`Element`] type and apply to `f64`, `i64` and `bool`
//! tensors alike. Every result is in standard (row-major) layout — other
//! kernels and the JIT read tensors as flat row-major slices — and a rank-0
//! result is a scalar value, as everywhere in the interpreter.
//!
//! The JIT calls these same kernels (through its `tensor_prim` helper), so
//! both back ends compute the same bits and raise the same errors (an
//! out-of-range `gather` index, a `matmul` of a dynamic inner dimension
//! that does not fit).

use super::kernels::{max_in_order, sum_in_order};
use crate::value::{Tensor, Value};
use ndarray::{ArrayD, ArrayView2, Axis, Ix2, IxDyn, Slice};
use std::borrow::Cow;
use std::sync::Arc;
use vprog_compiler::prim::{AxisReduction, Prim};
use vprog_compiler::special;

type KResult = Result<Value, String>;

/// An element type of tensors: how to find its arrays among values and how
/// to make a value of one.
trait Element: Copy + 'static {
    /// The array of a tensor of this element type.
    fn array_of(t: &Tensor) -> Option<&ArrayD<Self>>;
    /// The scalar, if `v` is a scalar of this element type.
    fn scalar_of(v: &Value) -> Option<Self>;
    /// The value of `a`: a scalar for rank 0, else a tensor.
    fn value(a: ArrayD<Self>) -> Value;
}

impl Element for f64 {
    fn array_of(t: &Tensor) -> Option<&ArrayD<f64>> {
        match t {
            Tensor::F(a) => Some(a),
            _ => None,
        }
    }
    fn scalar_of(v: &Value) -> Option<f64> {
        v.as_f64()
    }
    fn value(a: ArrayD<f64>) -> Value {
        match a.ndim() {
            0 => Value::F(a.iter().copied().next().unwrap_or(0.0)),
            _ => Value::T(Arc::new(Tensor::F(standard(a)))),
        }
    }
}

impl Element for i64 {
    fn array_of(t: &Tensor) -> Option<&ArrayD<i64>> {
        match t {
            Tensor::I(a) => Some(a),
            _ => None,
        }
    }
    fn scalar_of(v: &Value) -> Option<i64> {
        v.as_i64()
    }
    fn value(a: ArrayD<i64>) -> Value {
        match a.ndim() {
            0 => Value::I(a.iter().copied().next().unwrap_or(0)),
            _ => Value::T(Arc::new(Tensor::I(standard(a)))),
        }
    }
}

impl Element for bool {
    fn array_of(t: &Tensor) -> Option<&ArrayD<bool>> {
        match t {
            Tensor::B(a) => Some(a),
            _ => None,
        }
    }
    fn scalar_of(v: &Value) -> Option<bool> {
        v.as_bool()
    }
    fn value(a: ArrayD<bool>) -> Value {
        match a.ndim() {
            0 => Value::B(a.iter().copied().next().unwrap_or(false)),
            _ => Value::T(Arc::new(Tensor::B(standard(a)))),
        }
    }
}

/// `a` in standard (row-major, contiguous) layout.
fn standard<T: Copy>(a: ArrayD<T>) -> ArrayD<T> {
    if a.is_standard_layout() {
        a
    } else {
        a.as_standard_layout().into_owned()
    }
}

/// The elements of `v` as an array of element type `T` (a rank-0 array
/// for a scalar).
fn array<T: Element>(v: &Value) -> Result<Cow<'_, ArrayD<T>>, String> {
    match v {
        Value::T(t) => T::array_of(t)
            .map(Cow::Borrowed)
            .ok_or_else(|| "operands of mixed element types".to_string()),
        scalar => T::scalar_of(scalar)
            .map(|x| Cow::Owned(ArrayD::from_elem(IxDyn(&[]), x)))
            .ok_or_else(|| "operands of mixed element types".to_string()),
    }
}

/// A row-major array of `shape` from elements in row-major order.
fn from_elements<T: Element>(
    shape: &[usize],
    elements: impl Iterator<Item = T>,
) -> Result<ArrayD<T>, String> {
    ArrayD::from_shape_vec(IxDyn(shape), elements.collect()).map_err(|e| e.to_string())
}

/// Evaluates the shape or linear-algebra primitive `prim` on `vals`.
pub(super) fn apply(prim: &Prim, vals: &[&Value]) -> KResult {
    match prim {
        Prim::MatMul {
            transpose_a,
            transpose_b,
        } => matmul(vals[0], vals[1], *transpose_a, *transpose_b),
        Prim::ScatterAdd => scatter_add(vals[0], vals[1], vals[2]),
        Prim::Reduce { op, axis } => reduce(*op, *axis, vals[0]),
        _ => match vals.first() {
            Some(Value::F(_)) => layout::<f64>(prim, vals),
            Some(Value::I(_)) => layout::<i64>(prim, vals),
            Some(Value::B(_)) => layout::<bool>(prim, vals),
            Some(Value::T(t)) => match &**t {
                Tensor::F(_) => layout::<f64>(prim, vals),
                Tensor::I(_) => layout::<i64>(prim, vals),
                Tensor::B(_) => layout::<bool>(prim, vals),
            },
            None => Err(format!("{} without operands", prim.name())),
        },
    }
}

/// A primitive that only moves elements, on tensors of element type `T`.
fn layout<T: Element>(prim: &Prim, vals: &[&Value]) -> KResult {
    let a = array::<T>(vals[0])?;
    let out = match prim {
        Prim::Transpose => a.t().as_standard_layout().into_owned(),
        Prim::Reshape(shape) => from_elements(shape, a.iter().copied())?,
        Prim::Concat => {
            let arrays = vals
                .iter()
                .map(|v| array::<T>(v))
                .collect::<Result<Vec<_>, _>>()?;
            let views: Vec<_> = arrays.iter().map(|a| a.view()).collect();
            ndarray::concatenate(Axis(0), &views).map_err(|e| e.to_string())?
        }
        Prim::Slice { start, len } => {
            let n = a.shape().first().copied().unwrap_or(0);
            if start + len > n {
                return Err(format!(
                    "rows {start}..{} are out of range for length {n}",
                    start + len
                ));
            }
            a.slice_axis(Axis(0), Slice::from(*start..start + len))
                .to_owned()
        }
        Prim::Gather => {
            let idx = array::<i64>(vals[1])?;
            let n = a.shape().first().copied().unwrap_or(0);
            let rows = row_indices(&idx, n)?;
            a.select(Axis(0), &rows)
        }
        Prim::Expand { axis, n } => {
            if *axis > a.ndim() {
                return Err(format!("axis {axis} of a rank-{} tensor", a.ndim()));
            }
            let mut shape = a.shape().to_vec();
            shape.insert(*axis, *n);
            let spread = a.view().insert_axis(Axis(*axis));
            let spread = spread
                .broadcast(IxDyn(&shape))
                .ok_or_else(|| format!("cannot expand {:?} to {shape:?}", a.shape()))?;
            from_elements(&shape, spread.iter().copied())?
        }
        other => return Err(format!("{} is not a shape primitive", other.name())),
    };
    Ok(T::value(out))
}

/// The indices of `idx` as row numbers, each checked against `n` rows (the
/// message of `index`'s check).
fn row_indices(idx: &ArrayD<i64>, n: usize) -> Result<Vec<usize>, String> {
    idx.iter()
        .map(|&i| {
            if i < 0 || i as usize >= n {
                Err(format!("index {i} is out of range for length {n}"))
            } else {
                Ok(i as usize)
            }
        })
        .collect()
}

/// An `f64` matrix operand.
fn matrix(v: &Value) -> Result<ArrayView2<'_, f64>, String> {
    v.as_f64_array()
        .ok_or("expected an f64 matrix")?
        .view()
        .into_dimensionality::<Ix2>()
        .map_err(|e| e.to_string())
}

/// An array's row-major elements: its own when it is stored so, else
/// gathered.
fn row_major<'a>(own: Option<&'a [f64]>, gather: impl FnOnce() -> Vec<f64>) -> Cow<'a, [f64]> {
    own.map_or_else(|| Cow::Owned(gather()), Cow::Borrowed)
}

/// `op(a) · op(b)` by the GEMM the JIT calls too (`linalg::matmul`).
fn matmul(a: &Value, b: &Value, transpose_a: bool, transpose_b: bool) -> KResult {
    let (a, b) = (matrix(a)?, matrix(b)?);
    let (ta, tb) = (
        if transpose_a { a.t() } else { a.view() },
        if transpose_b { b.t() } else { b.view() },
    );
    let (m, k, n) = (ta.nrows(), ta.ncols(), tb.ncols());
    if k != tb.nrows() {
        return Err(format!(
            "matmul of a {m}×{k} and a {}×{n} matrix does not fit",
            tb.nrows(),
        ));
    }
    // The operands' row-major elements as stored (the kernel applies the
    // transposes).
    let a_data = row_major(a.as_slice(), || a.iter().copied().collect());
    let b_data = row_major(b.as_slice(), || b.iter().copied().collect());
    let mut out = vec![0.0; m * n];
    crate::linalg::matmul(
        &a_data,
        &b_data,
        &mut out,
        (m, k, n),
        (transpose_a, transpose_b),
    );
    Ok(f64::value(from_elements(&[m, n], out.into_iter())?))
}

/// `t` with `v[j]` added to row `idx[j]`, in order of `j`.
fn scatter_add(t: &Value, idx: &Value, v: &Value) -> KResult {
    let mut out = array::<f64>(t)?.into_owned();
    let idx = array::<i64>(idx)?;
    let v = array::<f64>(v)?;
    let n = out.shape().first().copied().unwrap_or(0);
    let rows = row_indices(&idx, n)?;
    for (j, &i) in rows.iter().enumerate() {
        let mut row = out.index_axis_mut(Axis(0), i);
        row += &v.index_axis(Axis(0), j);
    }
    Ok(f64::value(out))
}

/// A reduction along `axis`, each lane in order (the sum as
/// `sum_in_order`, so it rounds as the full `sum` does).
fn reduce(op: AxisReduction, axis: usize, v: &Value) -> KResult {
    if axis >= v.shape().len() {
        return Err(format!("axis {axis} of a rank-{} tensor", v.shape().len()));
    }
    if let (AxisReduction::Sum, Value::T(t)) = (op, v)
        && let Tensor::I(a) = &**t
    {
        let out = a.map_axis(Axis(axis), |lane| lane.iter().sum::<i64>());
        return Ok(i64::value(out));
    }
    let a = array::<f64>(v)?;
    if op == AxisReduction::Sum {
        // The kernel the JIT calls, on the row-major elements.
        let shape = a.shape();
        let outer: usize = shape[..axis].iter().product();
        let inner: usize = shape[axis + 1..].iter().product();
        let data = row_major(a.as_slice(), || a.iter().copied().collect());
        let mut out = vec![0.0; outer * inner];
        crate::linalg::sum_axis(&data, &mut out, (outer, shape[axis], inner));
        let mut out_shape = shape.to_vec();
        out_shape.remove(axis);
        return Ok(f64::value(from_elements(&out_shape, out.into_iter())?));
    }
    let out = a.map_axis(Axis(axis), |lane| match op {
        AxisReduction::Sum => sum_in_order(lane.iter().copied()),
        AxisReduction::LogSumExp => special::log_sum_exp(&lane.to_vec()),
        AxisReduction::Max => max_in_order(lane.iter().copied()),
    });
    Ok(f64::value(out))
}
