//! The runtime functions compiled code calls: transcendental math, keyed
//! draws, the forcing tables of `enum` and `mvd`, checks that fail, and the
//! tensor primitives that are not worth inlining.
//!
//! Every helper that can fail records a [`RunError`] in the run's [`Rt`]
//! and returns a nonzero status; the compiled code then returns that status
//! at once. Helpers evaluate through the interpreter's own kernels
//! (`interp::kernels`, `interp::effects`) wherever the interpreter has one,
//! so both back ends compute the same numbers and raise the same errors.

use super::{Failure, Meta, Rt};
use crate::dist::{Dist, DistArg, DistValue, standard_normal};
use crate::interp::{RunContext, RunError};
use crate::rng::stream_from_base;
use crate::value::{Tensor, Value};
use ndarray::{ArrayD, IxDyn};
use std::sync::Arc;
use vprog_compiler::ir::{Elem, Type};
use vprog_compiler::prim::GuardKind;
use vprog_compiler::special;

/// Records `message` as the run's error, with the origin of failure `fail`.
fn fail(rt: &mut Rt, fail: u32, message: String) -> i32 {
    // SAFETY: `meta` points to the compiled function's metadata, which
    // outlives every call of the function.
    let meta: &Meta = unsafe { &*rt.meta };
    let origin = meta
        .failures
        .get(fail as usize)
        .map(|f| f.origin.clone())
        .unwrap_or_default();
    rt.error = Some(RunError { message, origin });
    1
}

// ---- math ------------------------------------------------------------------

pub(super) extern "C" fn exp(x: f64) -> f64 {
    x.exp()
}
pub(super) extern "C" fn ln(x: f64) -> f64 {
    x.ln()
}
pub(super) extern "C" fn ln_1p(x: f64) -> f64 {
    x.ln_1p()
}
pub(super) extern "C" fn exp_m1(x: f64) -> f64 {
    x.exp_m1()
}
pub(super) extern "C" fn sin(x: f64) -> f64 {
    x.sin()
}
pub(super) extern "C" fn cos(x: f64) -> f64 {
    x.cos()
}
pub(super) extern "C" fn tan(x: f64) -> f64 {
    x.tan()
}
pub(super) extern "C" fn atan(x: f64) -> f64 {
    x.atan()
}
pub(super) extern "C" fn tanh(x: f64) -> f64 {
    x.tanh()
}
pub(super) extern "C" fn sigmoid(x: f64) -> f64 {
    special::sigmoid(x)
}
pub(super) extern "C" fn softplus(x: f64) -> f64 {
    special::log1p_exp(x)
}
pub(super) extern "C" fn lgamma(x: f64) -> f64 {
    special::ln_gamma(x)
}
pub(super) extern "C" fn digamma(x: f64) -> f64 {
    special::digamma(x)
}
pub(super) extern "C" fn polygamma(n: i64, x: f64) -> f64 {
    special::polygamma(n as u32, x)
}
pub(super) extern "C" fn pow(x: f64, y: f64) -> f64 {
    x.powf(y)
}
pub(super) extern "C" fn gamma_p(a: f64, x: f64) -> f64 {
    special::gamma_p(a, x)
}
pub(super) extern "C" fn gamma_p_da(a: f64, x: f64) -> f64 {
    special::gamma_p_da(a, x)
}
pub(super) extern "C" fn sign(x: f64) -> f64 {
    vprog_compiler::prim::eval::sign(x)
}

/// A primitive evaluated through the interpreter's scalar kernel; used for
/// the integer operations that can fail (division by zero, conversions).
/// `args` holds two words (f64 bits or i64); the result word goes to `out`.
pub(super) extern "C" fn scalar_checked(
    rt: *mut Rt,
    fail_index: u32,
    prim_index: u32,
    a: u64,
    b: u64,
    out: *mut u64,
) -> i32 {
    // SAFETY: compiled code passes its own runtime state and a valid slot.
    let rt = unsafe { &mut *rt };
    let meta: &Meta = unsafe { &*rt.meta };
    let (prim, elems) = &meta.checked_prims[prim_index as usize];
    use vprog_compiler::prim::eval::{Scalar, scalar};
    let word = |w: u64, e: Elem| match e {
        Elem::F64 => Scalar::F(f64::from_bits(w)),
        Elem::I64 => Scalar::I(w as i64),
        Elem::Bool => Scalar::B(w != 0),
    };
    let args: Vec<Scalar> = [a, b]
        .iter()
        .zip(elems)
        .map(|(&w, &e)| word(w, e))
        .collect();
    match scalar(prim, &args) {
        Ok(r) => {
            let w = match r {
                Scalar::F(x) => x.to_bits(),
                Scalar::I(x) => x as u64,
                Scalar::B(x) => u64::from(x),
            };
            // SAFETY: `out` is a stack slot of the calling function.
            unsafe { *out = w };
            0
        }
        Err(e) => fail(rt, fail_index, e.0),
    }
}

// ---- checks ------------------------------------------------------------------

/// A guard failed on a scalar (the check itself is inline): build the
/// interpreter's message for it.
pub(super) extern "C" fn guard_failed(rt: *mut Rt, fail_index: u32, word: u64) -> i32 {
    // SAFETY: see `scalar_checked`.
    let rt = unsafe { &mut *rt };
    let meta: &Meta = unsafe { &*rt.meta };
    let Failure { guard, elem, .. } = &meta.failures[fail_index as usize];
    let value = match elem {
        Elem::F64 => Value::F(f64::from_bits(word)),
        Elem::I64 => Value::I(word as i64),
        Elem::Bool => Value::B(word != 0),
    };
    let message = match guard {
        Some((kind, what)) => crate::interp::check_guard(*kind, what, &value)
            .err()
            .unwrap_or_default(),
        None => String::new(),
    };
    fail(rt, fail_index, message)
}

/// A guard on a tensor: checked here, with the interpreter's kernel.
pub(super) extern "C" fn guard_tensor(rt: *mut Rt, fail_index: u32, ptr: *const u8) -> i32 {
    // SAFETY: see `scalar_checked`.
    let rt = unsafe { &mut *rt };
    let meta: &Meta = unsafe { &*rt.meta };
    let f = &meta.failures[fail_index as usize];
    let Some((kind, what)) = &f.guard else {
        return 0;
    };
    let checked = match kind {
        // The elementwise guards read the tensor in place.
        GuardKind::Positive
        | GuardKind::NonNegative
        | GuardKind::UnitInterval
        | GuardKind::Finite
            if f.ty.elem == Elem::F64 =>
        {
            let n = f.ty.num_elements().unwrap_or(0);
            // SAFETY: compiled code passes the guarded tensor's data, `n`
            // reals.
            let xs = unsafe { std::slice::from_raw_parts(ptr as *const f64, n) };
            return check_reals(rt, fail_index, xs);
        }
        _ => crate::interp::check_guard(*kind, what, &unsafe { read_tensor(ptr, &f.ty) }),
    };
    match checked {
        Ok(()) => 0,
        Err(m) => fail(rt, fail_index, m),
    }
}

/// An elementwise guard on `n` reals of a tensor (a block of a fused
/// run): the interpreter's check, whose message names the first failing
/// element's value — the same whichever block holds it.
pub(super) extern "C" fn guard_block(rt: *mut Rt, fail_index: u32, xs: *const f64, n: u64) -> i32 {
    // SAFETY: see `scalar_checked`; compiled code passes `n` reals.
    let (rt, xs) = unsafe { (&mut *rt, std::slice::from_raw_parts(xs, n as usize)) };
    check_reals(rt, fail_index, xs)
}

/// The elementwise guard of failure `fail_index` on the reals `xs`, with
/// the interpreter's check and message.
fn check_reals(rt: &mut Rt, fail_index: u32, xs: &[f64]) -> i32 {
    // SAFETY: see `fail`.
    let meta: &Meta = unsafe { &*rt.meta };
    let Some((kind, what)) = &meta.failures[fail_index as usize].guard else {
        return 0;
    };
    match crate::interp::check_elements(*kind, what, xs) {
        Ok(()) => 0,
        Err(m) => fail(rt, fail_index, m),
    }
}

/// An index out of range.
pub(super) extern "C" fn index_failed(rt: *mut Rt, fail_index: u32, index: i64, len: i64) -> i32 {
    // SAFETY: see `scalar_checked`.
    let rt = unsafe { &mut *rt };
    fail(
        rt,
        fail_index,
        format!("index {index} is out of range for length {len}"),
    )
}

// ---- tensors ---------------------------------------------------------------------

/// Reads a tensor of type `ty` stored at `ptr` into a value.
///
/// # Safety
/// `ptr` must point to `ty`'s elements in the JIT's layout.
pub(super) unsafe fn read_tensor(ptr: *const u8, ty: &Type) -> Value {
    let n = ty.num_elements().unwrap_or(0);
    let shape = IxDyn(&ty.shape);
    unsafe {
        match ty.elem {
            Elem::F64 => {
                let data = std::slice::from_raw_parts(ptr as *const f64, n).to_vec();
                if ty.is_scalar() {
                    Value::F(data[0])
                } else {
                    Value::from_f64_array(ArrayD::from_shape_vec(shape, data).expect("shape"))
                }
            }
            Elem::I64 => {
                let data = std::slice::from_raw_parts(ptr as *const i64, n).to_vec();
                if ty.is_scalar() {
                    Value::I(data[0])
                } else {
                    Value::T(Arc::new(Tensor::I(
                        ArrayD::from_shape_vec(shape, data).expect("shape"),
                    )))
                }
            }
            Elem::Bool => {
                let data: Vec<bool> = std::slice::from_raw_parts(ptr, n)
                    .iter()
                    .map(|&b| b != 0)
                    .collect();
                if ty.is_scalar() {
                    Value::B(data[0])
                } else {
                    Value::T(Arc::new(Tensor::B(
                        ArrayD::from_shape_vec(shape, data).expect("shape"),
                    )))
                }
            }
        }
    }
}

/// Writes a value into the JIT's layout at `out` (a tensor slot, or a
/// scalar word).
///
/// # Safety
/// `out` must have room for the value in the JIT's layout.
pub(super) unsafe fn write_value(v: &Value, out: *mut u8) {
    unsafe {
        match v {
            Value::F(x) => *(out as *mut f64) = *x,
            Value::I(x) => *(out as *mut i64) = *x,
            Value::B(x) => *(out as *mut u64) = u64::from(*x),
            Value::T(t) => match &**t {
                // A row-major array is one copy; another layout is read
                // in logical order.
                Tensor::F(a) => match a.as_slice() {
                    Some(xs) => {
                        std::ptr::copy_nonoverlapping(xs.as_ptr(), out as *mut f64, xs.len())
                    }
                    None => {
                        for (k, x) in a.iter().enumerate() {
                            *(out as *mut f64).add(k) = *x;
                        }
                    }
                },
                Tensor::I(a) => match a.as_slice() {
                    Some(xs) => {
                        std::ptr::copy_nonoverlapping(xs.as_ptr(), out as *mut i64, xs.len())
                    }
                    None => {
                        for (k, x) in a.iter().enumerate() {
                            *(out as *mut i64).add(k) = *x;
                        }
                    }
                },
                Tensor::B(a) => {
                    for (k, x) in a.iter().enumerate() {
                        *out.add(k) = u8::from(*x);
                    }
                }
            },
        }
    }
}

/// Reads an argument word: a scalar's bits, or a tensor's address.
unsafe fn read_arg(word: u64, ty: &Type) -> Value {
    if ty.is_scalar() {
        match ty.elem {
            Elem::F64 => Value::F(f64::from_bits(word)),
            Elem::I64 => Value::I(word as i64),
            Elem::Bool => Value::B(word != 0),
        }
    } else {
        unsafe { read_tensor(word as *const u8, ty) }
    }
}

/// `ln Σ eˣ` over `len` elements at `ptr` (the interpreter's kernel).
pub(super) extern "C" fn logsumexp(ptr: *const f64, len: i64) -> f64 {
    // SAFETY: compiled code passes a tensor slot of `len` elements.
    let xs = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
    special::log_sum_exp(xs)
}

/// The largest of `len` elements at `ptr`, NaN if any is NaN.
pub(super) extern "C" fn reduce_max(ptr: *const f64, len: i64) -> f64 {
    // SAFETY: as `logsumexp`.
    let xs = unsafe { std::slice::from_raw_parts(ptr, len as usize) };
    crate::interp::max_in_order(xs.iter().copied())
}

/// `out = m · v` (`m` of shape `[rows, cols]`) by the kernel the
/// interpreter uses.
pub(super) extern "C" fn matvec(m: *const f64, v: *const f64, out: *mut f64, rows: u64, cols: u64) {
    let (rows, cols) = (rows as usize, cols as usize);
    // SAFETY: the compiled code passes the operands' and the result's data,
    // of the static sizes given; the result's slot is its own.
    let (m, v, out) = unsafe {
        (
            std::slice::from_raw_parts(m, rows * cols),
            std::slice::from_raw_parts(v, cols),
            std::slice::from_raw_parts_mut(out, rows),
        )
    };
    crate::linalg::matvec(m, v, out, rows, cols);
}

/// `out = mᵀ · v` (`m` of shape `[rows, cols]`).
pub(super) extern "C" fn matvec_t(
    m: *const f64,
    v: *const f64,
    out: *mut f64,
    rows: u64,
    cols: u64,
) {
    let (rows, cols) = (rows as usize, cols as usize);
    // SAFETY: as for `matvec`.
    let (m, v, out) = unsafe {
        (
            std::slice::from_raw_parts(m, rows * cols),
            std::slice::from_raw_parts(v, rows),
            std::slice::from_raw_parts_mut(out, cols),
        )
    };
    crate::linalg::matvec_t(m, v, out, rows, cols);
}

/// `out = a bᵀ` for vectors of `n` and `m` elements.
pub(super) extern "C" fn outer(a: *const f64, b: *const f64, out: *mut f64, n: u64, m: u64) {
    let (n, m) = (n as usize, m as usize);
    // SAFETY: as for `matvec`.
    let (a, b, out) = unsafe {
        (
            std::slice::from_raw_parts(a, n),
            std::slice::from_raw_parts(b, m),
            std::slice::from_raw_parts_mut(out, n * m),
        )
    };
    crate::linalg::outer(a, b, out);
}

/// `out = op(a) · op(b)` of shape `[m, n]` by the interpreter's GEMM
/// (`linalg::matmul`); bit 0 of `flags` transposes `a`, bit 1 `b`.
pub(super) extern "C" fn matmul(
    a: *const f64,
    b: *const f64,
    out: *mut f64,
    m: u64,
    k: u64,
    n: u64,
    flags: u32,
) {
    let (m, k, n) = (m as usize, k as usize, n as usize);
    // SAFETY: as for `matvec`: the operands hold `m·k` and `k·n` elements,
    // the result's slot `m·n`.
    let (a, b, out) = unsafe {
        (
            std::slice::from_raw_parts(a, m * k),
            std::slice::from_raw_parts(b, k * n),
            std::slice::from_raw_parts_mut(out, m * n),
        )
    };
    crate::linalg::matmul(a, b, out, (m, k, n), (flags & 1 != 0, flags & 2 != 0));
}

/// The sum of `a` (`[outer, len, inner]`) along its middle axis into `out`
/// (`linalg::sum_axis`).
pub(super) extern "C" fn sum_axis(a: *const f64, out: *mut f64, outer: u64, len: u64, inner: u64) {
    let (outer, len, inner) = (outer as usize, len as usize, inner as usize);
    // SAFETY: as for `matvec`.
    let (a, out) = unsafe {
        (
            std::slice::from_raw_parts(a, outer * len * inner),
            std::slice::from_raw_parts_mut(out, outer * inner),
        )
    };
    crate::linalg::sum_axis(a, out, (outer, len, inner));
}

/// Elements `k0 .. k0 + n` of a tensor of shape `[_, len, inner]`, at
/// `xs`, added into its sum along the middle axis at `out`
/// (`linalg::sum_axis_part`; `out` holds `outer · inner` reals).
pub(super) extern "C" fn sum_block(
    xs: *const f64,
    out: *mut f64,
    k0: u64,
    n: u64,
    len: u64,
    inner: u64,
    outer: u64,
) {
    let (len, inner) = (len as usize, inner as usize);
    // SAFETY: compiled code passes `n` reals of the tensor and its sums.
    let (xs, out) = unsafe {
        (
            std::slice::from_raw_parts(xs, n as usize),
            std::slice::from_raw_parts_mut(out, outer as usize * inner),
        )
    };
    crate::linalg::sum_axis_part(xs, out, k0 as usize, (len, inner));
}

/// `expand`: each of the `outer` blocks of `block` bytes of `a` repeated
/// `n` times into `out` (`linalg::expand`).
pub(super) extern "C" fn expand(a: *const u8, out: *mut u8, outer: u64, n: u64, block: u64) {
    let (outer, n, block) = (outer as usize, n as usize, block as usize);
    // SAFETY: as for `matvec`, in bytes.
    let (a, out) = unsafe {
        (
            std::slice::from_raw_parts(a, outer * block),
            std::slice::from_raw_parts_mut(out, outer * n * block),
        )
    };
    crate::linalg::expand(a, out, (outer, n, block));
}

/// `gather`: rows `idx[0..n_idx]` (of `row` bytes) of the `t_bytes` bytes
/// at `t` into `out`; an index out of range fails with `index`'s message.
#[allow(clippy::too_many_arguments)]
pub(super) extern "C" fn gather(
    rt: *mut Rt,
    fail_index: u32,
    t: *const u8,
    t_bytes: u64,
    idx: *const i64,
    n_idx: u64,
    out: *mut u8,
    row: u64,
) -> i32 {
    let (row, n_idx) = (row as usize, n_idx as usize);
    // SAFETY: as for `matvec`; `rt` as in `scalar_checked`.
    let (t, idx, out) = unsafe {
        (
            std::slice::from_raw_parts(t, t_bytes as usize),
            std::slice::from_raw_parts(idx, n_idx),
            std::slice::from_raw_parts_mut(out, n_idx * row),
        )
    };
    match crate::linalg::gather(t, idx, out, row) {
        Ok(()) => 0,
        Err(i) => {
            let len = t.len().checked_div(row).unwrap_or(0);
            let rt = unsafe { &mut *rt };
            fail(
                rt,
                fail_index,
                format!("index {i} is out of range for length {len}"),
            )
        }
    }
}

/// A tensor primitive evaluated by the interpreter's kernel: `args` holds
/// one word per operand, the result is written to `out`.
pub(super) extern "C" fn tensor_prim(
    rt: *mut Rt,
    index: u32,
    args: *const u64,
    out: *mut u8,
) -> i32 {
    // SAFETY: see `scalar_checked`; `args` has one word per operand.
    let rt = unsafe { &mut *rt };
    let meta: &Meta = unsafe { &*rt.meta };
    let call = &meta.tensor_calls[index as usize];
    let vals: Vec<Value> = call
        .arg_types
        .iter()
        .enumerate()
        .map(|(k, ty)| unsafe { read_arg(*args.add(k), ty) })
        .collect();
    let refs: Vec<&Value> = vals.iter().collect();
    match crate::interp::apply_values(&call.prim, &refs) {
        Ok(v) => {
            unsafe { write_value(&v, out) };
            0
        }
        Err(m) => fail(rt, call.fail, m),
    }
}

/// A host function (`wrt < 0`) or one of its partial derivatives, called
/// through the run's registry with `n` real arguments at `args`.
pub(super) extern "C" fn host(
    rt: *mut Rt,
    fail_index: u32,
    id: u32,
    wrt: i32,
    args: *const f64,
    n: u32,
    out: *mut f64,
) -> i32 {
    // SAFETY: see `scalar_checked`; `args` holds `n` reals, `out` one, and
    // `ctx` points to the run's context for the whole call.
    let rt = unsafe { &mut *rt };
    let args = unsafe { std::slice::from_raw_parts(args, n as usize) };
    let ctx: &RunContext = unsafe { &*rt.ctx };
    let result = match &ctx.host {
        Some(registry) => registry.call(id, args, u32::try_from(wrt).ok()),
        None => Err(crate::interp::NO_HOST_REGISTRY.to_string()),
    };
    match result {
        Ok(v) => {
            unsafe { *out = v };
            0
        }
        Err(m) => fail(rt, fail_index, m),
    }
}

// ---- randomness and forcing tables ------------------------------------------------

/// A standard normal draw at `(site, stream, indices)` of the current run.
pub(super) extern "C" fn draw_std_normal(
    rt: *mut Rt,
    site: u32,
    stream: u32,
    indices: *const i64,
    n: u32,
) -> f64 {
    // SAFETY: see `scalar_checked`; `indices` has `n` entries.
    let rt = unsafe { &mut *rt };
    let idx = unsafe { std::slice::from_raw_parts(indices, n as usize) };
    let mut rng = stream_from_base(rt.base, site, stream, idx);
    standard_normal(&mut rng)
}

/// A keyed draw with scalar parameters and a scalar value: the parameters
/// are words (f64 bits or i64), the value word goes to `out`. Validates the
/// parameters and samples exactly as the interpreter's draw does.
pub(super) extern "C" fn draw_scalar(
    rt: *mut Rt,
    index: u32,
    params: *const u64,
    indices: *const i64,
    n: u32,
    out: *mut u64,
) -> i32 {
    // SAFETY: see `scalar_checked`; `params` has one word per parameter and
    // `indices` `n` entries.
    let rt = unsafe { &mut *rt };
    let meta: &Meta = unsafe { &*rt.meta };
    let d = &meta.scalar_draws[index as usize];
    let word = |k: usize| unsafe { *params.add(k) };
    let args: [DistArg; 3] = std::array::from_fn(|k| match d.params.get(k) {
        Some(Elem::I64) => DistArg::Int(word(k) as i64),
        Some(_) => DistArg::Real(f64::from_bits(word(k))),
        None => DistArg::Real(0.0),
    });
    let dist = match Dist::new(d.dist, &args[..d.params.len()]) {
        Ok(dist) => dist,
        Err(e) => return fail(rt, d.fail, e.to_string()),
    };
    let idx = unsafe { std::slice::from_raw_parts(indices, n as usize) };
    let mut rng = stream_from_base(rt.base, d.site, d.stream, idx);
    let w = match dist.sample(&mut rng) {
        DistValue::Real(x) => x.to_bits(),
        DistValue::Int(x) => x as u64,
        DistValue::Bool(x) => u64::from(x),
        DistValue::Vector(_) => {
            return fail(
                rt,
                d.fail,
                "internal error: a vector from a scalar draw".into(),
            );
        }
    };
    unsafe { *out = w };
    0
}

/// A keyed draw, an `enum` or `mvd` value, or an `mvd` cotangent, through
/// the interpreter's implementation (so forcing and recording are shared).
pub(super) extern "C" fn effect(rt: *mut Rt, index: u32, args: *const u64, out: *mut u8) -> i32 {
    // SAFETY: see `tensor_prim`; `ctx` is the run's context.
    let rt = unsafe { &mut *rt };
    let meta: &Meta = unsafe { &*rt.meta };
    let call = &meta.effects[index as usize];
    let vals: Vec<Value> = call
        .arg_types
        .iter()
        .enumerate()
        .map(|(k, ty)| unsafe { read_arg(*args.add(k), ty) })
        .collect();
    let ctx: &mut RunContext = unsafe { &mut *rt.ctx };
    match crate::interp::eval_effect(&call.kind, &vals, &call.result, ctx) {
        Ok(v) => {
            unsafe { write_value(&v, out) };
            0
        }
        Err(m) => fail(rt, call.fail, m),
    }
}

/// Sets the current particle of a batch run.
pub(super) extern "C" fn set_particle(rt: *mut Rt, particle: i64) {
    // SAFETY: see `scalar_checked`.
    let rt = unsafe { &mut *rt };
    rt.key.particle = particle as u64;
    rt.base = rt.key.base();
    let ctx: &mut RunContext = unsafe { &mut *rt.ctx };
    ctx.key = Some(rt.key);
}
