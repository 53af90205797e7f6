//! Interpreter kernels of the primitives.
//!
//! Elementwise primitives map the scalar kernel of `prim/eval.rs` (the one
//! definition of their meaning) over their operands; common `f64` cases go
//! through ndarray directly. Every other primitive has its tensor kernel
//! here, reached by an exhaustive `match` (the shape and linear-algebra
//! primitives' in `tensor.rs`).

use super::Interp;
use crate::value::{Tensor, Value};
use ndarray::{ArrayD, Axis, IxDyn};
use std::sync::Arc;
use vprog_compiler::ir::{Elem, Type, ValueId};
use vprog_compiler::prim::eval::{self, Scalar};
use vprog_compiler::prim::{GuardKind, Prim};
use vprog_compiler::special;

type KResult = Result<Value, String>;

fn f64_array(v: &Value) -> Result<ArrayD<f64>, String> {
    match v {
        Value::F(x) => Ok(ArrayD::from_elem(IxDyn(&[]), *x)),
        Value::T(t) => match &**t {
            Tensor::F(a) => Ok(a.clone()),
            _ => Err("expected an f64 tensor".into()),
        },
        _ => Err("expected an f64 value".into()),
    }
}

fn f64_ref(v: &Value) -> Result<&ArrayD<f64>, String> {
    v.as_f64_array()
        .ok_or_else(|| "expected an f64 tensor".to_string())
}

/// Every element of `v` as scalars, row-major (one element for a scalar).
fn flat_scalars(v: &Value) -> Vec<Scalar> {
    match v {
        Value::T(t) => match &**t {
            Tensor::F(a) => a.iter().map(|&x| Scalar::F(x)).collect(),
            Tensor::I(a) => a.iter().map(|&x| Scalar::I(x)).collect(),
            Tensor::B(a) => a.iter().map(|&x| Scalar::B(x)).collect(),
        },
        other => vec![other.as_scalar().expect("scalar")],
    }
}

fn from_scalars(shape: &[usize], out: Vec<Scalar>) -> KResult {
    let shape = IxDyn(shape);
    let t = match out.first() {
        Some(Scalar::I(_)) => Tensor::I(
            ArrayD::from_shape_vec(
                shape,
                out.into_iter()
                    .map(|s| if let Scalar::I(x) = s { x } else { 0 })
                    .collect(),
            )
            .map_err(|e| e.to_string())?,
        ),
        Some(Scalar::B(_)) => Tensor::B(
            ArrayD::from_shape_vec(
                shape,
                out.into_iter()
                    .map(|s| matches!(s, Scalar::B(true)))
                    .collect(),
            )
            .map_err(|e| e.to_string())?,
        ),
        _ => Tensor::F(
            ArrayD::from_shape_vec(shape, out.into_iter().map(Scalar::as_f64).collect())
                .map_err(|e| e.to_string())?,
        ),
    };
    Ok(Value::T(Arc::new(t)))
}

fn elementwise(prim: &Prim, vals: &[&Value]) -> KResult {
    if let Some(scalars) = vals
        .iter()
        .map(|v| v.as_scalar())
        .collect::<Option<Vec<_>>>()
    {
        return eval::scalar(prim, &scalars)
            .map(Value::from_scalar)
            .map_err(|e| e.0);
    }
    // Fast paths for f64 tensors of one shape.
    if let [Value::T(a), Value::T(b)] = vals
        && let (Tensor::F(a), Tensor::F(b)) = (&**a, &**b)
        && a.shape() == b.shape()
    {
        let r = match prim {
            Prim::Add => Some(a + b),
            Prim::Sub => Some(a - b),
            Prim::Mul => Some(a * b),
            Prim::Div => Some(a / b),
            _ => None,
        };
        if let Some(r) = r {
            return Ok(Value::from_f64_array(r));
        }
    }
    if let [Value::T(a)] = vals
        && let Tensor::F(a) = &**a
    {
        let f: Option<fn(f64) -> f64> = match prim {
            Prim::Exp => Some(f64::exp),
            Prim::Log => Some(f64::ln),
            Prim::Neg => Some(|x| -x),
            Prim::StopGrad => Some(|x| x),
            _ => None,
        };
        if let Some(f) = f {
            return Ok(Value::from_f64_array(a.mapv(f)));
        }
    }
    let shape: Vec<usize> = vals
        .iter()
        .find(|v| !v.shape().is_empty())
        .map(|v| v.shape().to_vec())
        .unwrap_or_default();
    let n: usize = shape.iter().product();
    let flats: Vec<Vec<Scalar>> = vals.iter().map(|v| flat_scalars(v)).collect();
    let mut out = Vec::with_capacity(n);
    let mut args = Vec::with_capacity(vals.len());
    for i in 0..n {
        args.clear();
        for f in &flats {
            args.push(if f.len() == 1 { f[0] } else { f[i] });
        }
        out.push(eval::scalar(prim, &args).map_err(|e| e.0)?);
    }
    from_scalars(&shape, out)
}

/// Stacks per-iteration values into one value of type `ty` (whose leading
/// dimension may be dynamic).
pub(crate) fn stack(items: &[Value], ty: &Type) -> KResult {
    let elem_shape: Vec<usize> = ty.shape[1..].to_vec();
    let mut shape = vec![items.len()];
    shape.extend_from_slice(&elem_shape);
    let t = match ty.elem {
        Elem::F64 => {
            let mut data = Vec::new();
            for it in items {
                match it {
                    Value::F(x) => data.push(*x),
                    Value::T(t) => match &**t {
                        Tensor::F(a) => data.extend(a.iter().copied()),
                        _ => return Err("stacking mixed element types".into()),
                    },
                    _ => return Err("stacking mixed element types".into()),
                }
            }
            Tensor::F(ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| e.to_string())?)
        }
        Elem::I64 => {
            let mut data = Vec::new();
            for it in items {
                match it {
                    Value::I(x) => data.push(*x),
                    Value::T(t) => match &**t {
                        Tensor::I(a) => data.extend(a.iter().copied()),
                        _ => return Err("stacking mixed element types".into()),
                    },
                    _ => return Err("stacking mixed element types".into()),
                }
            }
            Tensor::I(ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| e.to_string())?)
        }
        Elem::Bool => {
            let mut data = Vec::new();
            for it in items {
                match it {
                    Value::B(x) => data.push(*x),
                    Value::T(t) => match &**t {
                        Tensor::B(a) => data.extend(a.iter().copied()),
                        _ => return Err("stacking mixed element types".into()),
                    },
                    _ => return Err("stacking mixed element types".into()),
                }
            }
            Tensor::B(ArrayD::from_shape_vec(IxDyn(&shape), data).map_err(|e| e.to_string())?)
        }
    };
    Ok(Value::T(Arc::new(t)))
}

/// A scalar value or a tensor from an ndarray (rank 0 becomes a scalar).
fn value_of_f64(a: ArrayD<f64>) -> Value {
    if a.ndim() == 0 {
        Value::F(a.iter().next().copied().unwrap_or(0.0))
    } else {
        Value::from_f64_array(a)
    }
}

pub(crate) fn index(t: &Value, i: i64) -> KResult {
    let Value::T(t) = t else {
        return Err("index of a scalar".into());
    };
    let n = t.shape()[0];
    if i < 0 || i as usize >= n {
        return Err(format!("index {i} is out of range for length {n}"));
    }
    let i = i as usize;
    Ok(match &**t {
        Tensor::F(a) => {
            let s = a.index_axis(Axis(0), i).to_owned();
            value_of_f64(s)
        }
        Tensor::I(a) => {
            let s = a.index_axis(Axis(0), i).to_owned();
            if s.ndim() == 0 {
                Value::I(s.iter().next().copied().unwrap_or(0))
            } else {
                Value::T(Arc::new(Tensor::I(s)))
            }
        }
        Tensor::B(a) => {
            let s = a.index_axis(Axis(0), i).to_owned();
            if s.ndim() == 0 {
                Value::B(s.iter().next().copied().unwrap_or(false))
            } else {
                Value::T(Arc::new(Tensor::B(s)))
            }
        }
    })
}

pub(crate) fn check_guard(kind: GuardKind, what: &str, v: &Value) -> Result<(), String> {
    let bad = |shown: String| {
        Err(format!(
            "{what} must be {}, got {shown}",
            kind.requirement()
        ))
    };
    match kind {
        GuardKind::Present => match v {
            Value::B(true) => Ok(()),
            other => bad(other.to_string()),
        },
        GuardKind::NonNegativeInt => match v {
            Value::I(i) if *i >= 0 => Ok(()),
            other => bad(other.to_string()),
        },
        GuardKind::Probabilities => {
            let xs = v.f64_elements();
            let sum: f64 = xs.iter().sum();
            if xs.iter().all(|x| x.is_finite() && *x >= 0.0)
                && (sum - 1.0).abs() <= 1e-6 * (xs.len().max(1) as f64)
            {
                Ok(())
            } else {
                bad(format!("{v} (sum {sum})"))
            }
        }
        GuardKind::LowerTriangularPositiveDiagonal => {
            let a = f64_ref(v)?;
            let n = a.shape()[0];
            for r in 0..n {
                for c in 0..n {
                    let x = a[[r, c]];
                    let ok = if c > r {
                        x == 0.0
                    } else if c == r {
                        x > 0.0 && x.is_finite()
                    } else {
                        x.is_finite()
                    };
                    if !ok {
                        return bad(format!("{v}"));
                    }
                }
            }
            Ok(())
        }
        GuardKind::Positive
        | GuardKind::NonNegative
        | GuardKind::UnitInterval
        | GuardKind::Finite => match v {
            Value::T(t) => match &**t {
                Tensor::F(a) => match a.as_slice() {
                    Some(xs) => check_elements(kind, what, xs),
                    None => check_elements(kind, what, &a.iter().copied().collect::<Vec<_>>()),
                },
                _ => check_elements(kind, what, &v.f64_elements()),
            },
            scalar => check_elements(kind, what, &scalar.f64_elements()),
        },
    }
}

/// The elementwise guards (`positive`, `non_negative`, `unit_interval`,
/// `finite`) on the elements `xs`, failing at the first element that does
/// not hold; shared with the JIT, which checks its tensors in place.
pub(crate) fn check_elements(kind: GuardKind, what: &str, xs: &[f64]) -> Result<(), String> {
    let holds = |x: f64| match kind {
        GuardKind::Positive => x.is_finite() && x > 0.0,
        GuardKind::NonNegative => x.is_finite() && x >= 0.0,
        GuardKind::UnitInterval => (0.0..=1.0).contains(&x),
        _ => x.is_finite(),
    };
    // One branch-free pass (it vectorizes), then the first failure for the
    // message.
    if xs.iter().fold(true, |all, &x| all & holds(x)) {
        return Ok(());
    }
    match xs.iter().find(|&&x| !holds(x)) {
        Some(x) => Err(format!("{what} must be {}, got {x}", kind.requirement())),
        None => Ok(()),
    }
}

/// A host function (`wrt = None`) or one of its partial derivatives, through
/// the run's host registry.
fn host_call(it: &Interp, id: u32, vals: &[&Value], wrt: Option<u32>) -> KResult {
    let registry = it.ctx.host.as_ref().ok_or(super::NO_HOST_REGISTRY)?;
    let args: Vec<f64> = vals
        .iter()
        .map(|v| v.as_f64().ok_or("a host function's argument is not a real"))
        .collect::<Result<_, _>>()?;
    registry.call(id, &args, wrt).map(Value::F)
}

/// `scalar` repeated into `shape`.
fn apply_broadcast(scalar: &Value, shape: &[usize]) -> KResult {
    Ok(match scalar {
        Value::F(x) => Value::from_f64_array(ArrayD::from_elem(IxDyn(shape), *x)),
        Value::I(x) => Value::T(Arc::new(Tensor::I(ArrayD::from_elem(IxDyn(shape), *x)))),
        Value::B(x) => Value::T(Arc::new(Tensor::B(ArrayD::from_elem(IxDyn(shape), *x)))),
        Value::T(_) => return Err("broadcast of a tensor".into()),
    })
}

/// Evaluates primitive `prim` on the values of `args`.
pub(crate) fn apply(prim: &Prim, args: &[ValueId], it: &Interp) -> KResult {
    // Scalars, the common case, without allocating.
    if prim.is_elementwise() {
        let s = |i: usize| it.get(args[i]).as_scalar();
        let r = match args.len() {
            1 => s(0).map(|a| eval::scalar(prim, &[a])),
            2 => match (s(0), s(1)) {
                (Some(a), Some(b)) => Some(eval::scalar(prim, &[a, b])),
                _ => None,
            },
            3 => match (s(0), s(1), s(2)) {
                (Some(a), Some(b), Some(c)) => Some(eval::scalar(prim, &[a, b, c])),
                _ => None,
            },
            _ => None,
        };
        if let Some(r) = r {
            return r.map(Value::from_scalar).map_err(|e| e.0);
        }
    }
    match prim {
        Prim::ConstF64(x) => return Ok(Value::F(*x)),
        Prim::ConstI64(x) => return Ok(Value::I(*x)),
        Prim::ConstBool(x) => return Ok(Value::B(*x)),
        _ => {}
    }
    let vals: Vec<&Value> = args.iter().map(|&a| it.get(a)).collect();
    match prim {
        Prim::Host { id, .. } => host_call(it, *id, &vals, None),
        Prim::HostPartial { id, wrt, .. } => host_call(it, *id, &vals, Some(*wrt)),
        _ => apply_values(prim, &vals),
    }
}

/// The sum of `xs` in order (one definition, shared with the JIT so both
/// back ends round alike).
pub(crate) fn sum_in_order(xs: impl Iterator<Item = f64>) -> f64 {
    xs.fold(0.0, |acc, x| acc + x)
}

/// The largest of `xs`, NaN if any is NaN (shared with the JIT).
pub(crate) fn max_in_order(xs: impl Iterator<Item = f64>) -> f64 {
    xs.fold(f64::NEG_INFINITY, |m, x| {
        if x.is_nan() || m.is_nan() {
            f64::NAN
        } else {
            m.max(x)
        }
    })
}

/// Evaluates primitive `prim` on argument values.
pub(crate) fn apply_values(prim: &Prim, vals: &[&Value]) -> KResult {
    if prim.is_elementwise() {
        return elementwise(prim, vals);
    }
    match prim {
        Prim::ConstF64(x) => Ok(Value::F(*x)),
        Prim::ConstI64(x) => Ok(Value::I(*x)),
        Prim::ConstBool(x) => Ok(Value::B(*x)),
        Prim::ConstTensor { shape, data } => Ok(Value::from_f64_array(
            ArrayD::from_shape_vec(IxDyn(shape), data.to_vec()).map_err(|e| e.to_string())?,
        )),
        Prim::BroadcastLike => {
            let shape = vals[1].shape().to_vec();
            apply_broadcast(vals[0], &shape)
        }
        Prim::Broadcast(shape) => apply_broadcast(vals[0], shape),
        Prim::Pack => {
            let ty = match vals[0] {
                Value::F(_) => Type::f64(),
                Value::I(_) => Type::i64(),
                Value::B(_) => Type::bool(),
                Value::T(t) => Type::tensor(
                    match &**t {
                        Tensor::F(_) => Elem::F64,
                        Tensor::I(_) => Elem::I64,
                        Tensor::B(_) => Elem::Bool,
                    },
                    t.shape().to_vec(),
                ),
            };
            let items: Vec<Value> = vals.iter().map(|v| (*v).clone()).collect();
            stack(&items, &ty.stacked(items.len()))
        }
        Prim::Index => {
            let i = vals[1].as_i64().ok_or("index is not an integer")?;
            index(vals[0], i)
        }
        Prim::IndexAdd => {
            let i = vals[1].as_i64().ok_or("index is not an integer")?;
            let mut t = f64_array(vals[0])?;
            let n = t.shape()[0];
            if i < 0 || i as usize >= n {
                return Err(format!("index {i} is out of range for length {n}"));
            }
            let add = f64_array(vals[2])?;
            let mut slot = t.index_axis_mut(Axis(0), i as usize);
            slot += &add;
            Ok(Value::from_f64_array(t))
        }
        Prim::Sum => Ok(match vals[0] {
            Value::T(t) => match &**t {
                Tensor::F(a) => Value::F(sum_in_order(a.iter().copied())),
                Tensor::I(a) => Value::I(a.iter().sum()),
                Tensor::B(_) => return Err("sum of booleans".into()),
            },
            other => other.clone(),
        }),
        Prim::LogSumExp => {
            let xs = vals[0].f64_elements();
            Ok(Value::F(special::log_sum_exp(&xs)))
        }
        Prim::ReduceMax => Ok(Value::F(max_in_order(vals[0].f64_elements().into_iter()))),
        Prim::MatVec { transpose } => {
            let m = f64_ref(vals[0])?;
            let (rows, cols) = match m.shape() {
                [r, c] => (*r, *c),
                other => return Err(format!("matvec of a tensor of shape {other:?}")),
            };
            let m = m.as_standard_layout();
            let m = m.as_slice().expect("standard layout");
            let v = vals[1].f64_elements();
            let out = if *transpose {
                let mut out = vec![0.0; cols];
                crate::linalg::matvec_t(m, &v, &mut out, rows, cols);
                out
            } else {
                let mut out = vec![0.0; rows];
                crate::linalg::matvec(m, &v, &mut out, rows, cols);
                out
            };
            Ok(Value::vector(out))
        }
        Prim::Outer => {
            let a = vals[0].f64_elements();
            let b = vals[1].f64_elements();
            let mut out = vec![0.0; a.len() * b.len()];
            crate::linalg::outer(&a, &b, &mut out);
            Ok(Value::from_f64_array(
                ArrayD::from_shape_vec(IxDyn(&[a.len(), b.len()]), out)
                    .map_err(|e| e.to_string())?,
            ))
        }
        Prim::TriSolve { transpose } => {
            let l = f64_ref(vals[0])?;
            let rhs = vals[1].f64_elements();
            let n = rhs.len();
            let mut z = vec![0.0; n];
            if !transpose {
                for i in 0..n {
                    let mut s = rhs[i];
                    for j in 0..i {
                        s -= l[[i, j]] * z[j];
                    }
                    z[i] = s / l[[i, i]];
                }
            } else {
                for i in (0..n).rev() {
                    let mut s = rhs[i];
                    for j in i + 1..n {
                        s -= l[[j, i]] * z[j];
                    }
                    z[i] = s / l[[i, i]];
                }
            }
            Ok(Value::vector(z))
        }
        Prim::Tril => {
            let mut a = f64_array(vals[0])?;
            let n = a.shape()[0];
            let m = a.shape()[1];
            for r in 0..n {
                for c in (r + 1)..m {
                    a[[r, c]] = 0.0;
                }
            }
            Ok(Value::from_f64_array(a))
        }
        Prim::Diagonal => {
            let a = f64_ref(vals[0])?;
            let n = a.shape()[0];
            Ok(Value::vector((0..n).map(|i| a[[i, i]]).collect()))
        }
        Prim::DiagMatrix => {
            let v = vals[0].f64_elements();
            let n = v.len();
            let mut out = ArrayD::zeros(IxDyn(&[n, n]));
            for (i, x) in v.iter().enumerate() {
                out[[i, i]] = *x;
            }
            Ok(Value::from_f64_array(out))
        }
        Prim::MatMul { .. }
        | Prim::Transpose
        | Prim::Reshape(_)
        | Prim::Concat
        | Prim::Slice { .. }
        | Prim::Gather
        | Prim::ScatterAdd
        | Prim::Reduce { .. }
        | Prim::Expand { .. } => super::tensor::apply(prim, vals),
        Prim::Guard { kind, what } => {
            check_guard(*kind, what, vals[0])?;
            Ok(vals[0].clone())
        }
        // Host functions need the run's registry: `apply` handles them.
        Prim::Host { .. } | Prim::HostPartial { .. } => {
            Err("internal error: a host call outside a run".into())
        }
        // Elementwise primitives were handled above.
        _ => elementwise(prim, vals),
    }
}
