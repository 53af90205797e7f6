//! SIMD kernels of the elementwise primitives over contiguous runs of
//! elements: what the JIT's fused loops call, block by block.
//!
//! A kernel computes one primitive's scalar rule — the interpreter's, from
//! `prim::eval` and `special` (the softplus and the sigmoid from
//! `special::vector_math`, which the interpreter's scalar functions
//! delegate to) — for `n` elements at once, so a fused loop gives the same
//! bits as the interpreter while each operation runs as a vector loop. The
//! loops are compiled for AVX-512 or AVX2 when the machine has them
//! (detected per call, a cached flag), else for the baseline target.
//!
//! Every kernel has one signature: `n`, the output and up to three
//! operands, as raw addresses of `n` contiguous elements (reals 8 bytes,
//! booleans one byte holding 0 or 1); `Call1` and `Call2` apply a scalar
//! function passed as the last operand, for the primitives without a
//! vector rule of their own (libm's `exp`, `ln`, `sin`, the gamma family).

use vprog_compiler::prim::eval;
use vprog_compiler::special::vector_math;

/// A kernel, by the operation it computes; the comment gives the operand
/// and result types (`f` real, `b` boolean).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Kernel {
    /// f → f
    Copy,
    /// f → f
    Neg,
    /// f → f
    Abs,
    /// f → f
    Sqrt,
    /// f → f
    Floor,
    /// f → f
    Sign,
    /// f → f, `ln(1 + eˣ)`.
    Softplus,
    /// f → f, `1 / (1 + e⁻ˣ)`.
    Sigmoid,
    /// f → f, `c(a)` for `c: extern "C" fn(f64) -> f64`.
    Call1,
    /// f × f → f
    Add,
    /// f × f → f
    Sub,
    /// f × f → f
    Mul,
    /// f × f → f
    Div,
    /// f × f → f
    Max,
    /// f × f → f
    Min,
    /// f × f → f, `c(a, b)` for `c: extern "C" fn(f64, f64) -> f64`.
    Call2,
    /// f × f → b
    Lt,
    /// f × f → b
    Le,
    /// f × f → b
    Gt,
    /// f × f → b
    Ge,
    /// f × f → b
    Eq,
    /// f × f → b
    Ne,
    /// b × b → b
    EqB,
    /// b × b → b
    NeB,
    /// b × b → b
    And,
    /// b × b → b
    Or,
    /// b → b
    Not,
    /// b → f
    BoolToF64,
    /// b × f × f → f, `if a { b } else { c }`.
    Select,
    /// b × b × b → b, `if a { b } else { c }`.
    SelectB,
    /// Every element of the real output the real at `a`.
    Fill64,
    /// Every element of the boolean output the byte at `a`.
    Fill8,
}

impl Kernel {
    const ALL: [Kernel; 32] = [
        Kernel::Copy,
        Kernel::Neg,
        Kernel::Abs,
        Kernel::Sqrt,
        Kernel::Floor,
        Kernel::Sign,
        Kernel::Softplus,
        Kernel::Sigmoid,
        Kernel::Call1,
        Kernel::Add,
        Kernel::Sub,
        Kernel::Mul,
        Kernel::Div,
        Kernel::Max,
        Kernel::Min,
        Kernel::Call2,
        Kernel::Lt,
        Kernel::Le,
        Kernel::Gt,
        Kernel::Ge,
        Kernel::Eq,
        Kernel::Ne,
        Kernel::EqB,
        Kernel::NeB,
        Kernel::And,
        Kernel::Or,
        Kernel::Not,
        Kernel::BoolToF64,
        Kernel::Select,
        Kernel::SelectB,
        Kernel::Fill64,
        Kernel::Fill8,
    ];

    /// The kernel with code `code` (`Kernel as u32`).
    pub fn from_code(code: u32) -> Option<Kernel> {
        Kernel::ALL
            .get(code as usize)
            .copied()
            .filter(|k| *k as u32 == code)
    }
}

/// A kernel entry point: `(code, n, out, a, b, c)` runs the kernel with
/// code `code` (`Kernel as u32`; an unknown code does nothing) on `n`
/// elements.
pub type EntryFn = unsafe extern "C" fn(
    code: u32,
    n: usize,
    out: *mut u8,
    a: *const u8,
    b: *const u8,
    c: *const u8,
);

/// The entry point compiled for the widest vectors this machine has.
pub fn entry() -> EntryFn {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return run_avx512;
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            return run_avx2;
        }
    }
    run_baseline
}

/// Runs kernel `k` on `n` elements, through [`entry`].
///
/// # Safety
///
/// `out` must be valid for writing, and each operand the kernel reads
/// valid for reading, `n` elements of the kernel's types (for `Fill64` /
/// `Fill8`, `a` one element; for `Call1` / `Call2`, the last operand a
/// function of the stated type); `out` must not overlap an operand.
pub unsafe fn run(k: Kernel, n: usize, out: *mut u8, a: *const u8, b: *const u8, c: *const u8) {
    // SAFETY: the caller's promise.
    unsafe { entry()(k as u32, n, out, a, b, c) }
}

/// An entry point: `run_portable` compiled with the given attributes
/// (a target's instructions), behind the `EntryFn` signature.
macro_rules! entry_point {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        unsafe extern "C" fn $name(
            code: u32,
            n: usize,
            out: *mut u8,
            a: *const u8,
            b: *const u8,
            c: *const u8,
        ) {
            if let Some(k) = Kernel::from_code(code) {
                // SAFETY: passed on from `run`.
                unsafe { run_portable(k, n, out, a, b, c) }
            }
        }
    };
}

entry_point!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    run_avx512
);
entry_point!(
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    run_avx2
);
entry_point!(run_baseline);

/// The loops, inlined into each target's copy. Each indexes slices of
/// length `n` in `0..n`, so the bounds checks fold away and the loop
/// vectorizes.
#[inline(always)]
unsafe fn run_portable(
    k: Kernel,
    n: usize,
    out: *mut u8,
    a: *const u8,
    b: *const u8,
    c: *const u8,
) {
    use std::slice::{from_raw_parts, from_raw_parts_mut};
    // SAFETY (all of the closures and blocks below): the caller's promise
    // in `run` — each operand the kernel reads holds `n` elements of its
    // type and `out` is writable and separate.
    let reals = |p: *const u8| unsafe { from_raw_parts(p as *const f64, n) };
    let bools = |p: *const u8| unsafe { from_raw_parts(p, n) };
    let out_reals = || unsafe { from_raw_parts_mut(out as *mut f64, n) };
    let out_bools = || unsafe { from_raw_parts_mut(out, n) };
    macro_rules! map1 {
        ($x:ident => $e:expr) => {{
            let (xs, o) = (reals(a), out_reals());
            for i in 0..n {
                let $x = xs[i];
                o[i] = $e;
            }
        }};
    }
    macro_rules! map2 {
        ($x:ident, $y:ident => $e:expr) => {{
            let (xs, ys, o) = (reals(a), reals(b), out_reals());
            for i in 0..n {
                let ($x, $y) = (xs[i], ys[i]);
                o[i] = $e;
            }
        }};
    }
    macro_rules! cmp {
        ($x:ident, $y:ident => $e:expr) => {{
            let (xs, ys, o) = (reals(a), reals(b), out_bools());
            for i in 0..n {
                let ($x, $y) = (xs[i], ys[i]);
                o[i] = u8::from($e);
            }
        }};
    }
    macro_rules! logic {
        ($x:ident, $y:ident => $e:expr) => {{
            let (xs, ys, o) = (bools(a), bools(b), out_bools());
            for i in 0..n {
                let ($x, $y) = (xs[i] != 0, ys[i] != 0);
                o[i] = u8::from($e);
            }
        }};
    }
    match k {
        Kernel::Copy => map1!(x => x),
        Kernel::Neg => map1!(x => -x),
        Kernel::Abs => map1!(x => x.abs()),
        Kernel::Sqrt => map1!(x => x.sqrt()),
        Kernel::Floor => map1!(x => x.floor()),
        Kernel::Sign => map1!(x => eval::sign(x)),
        Kernel::Softplus => map1!(x => vector_math::softplus(x)),
        Kernel::Sigmoid => map1!(x => vector_math::sigmoid(x)),
        Kernel::Call1 => {
            // SAFETY: the caller passes a function of this type as `c`.
            let f: extern "C" fn(f64) -> f64 = unsafe { std::mem::transmute(c) };
            map1!(x => f(x))
        }
        Kernel::Add => map2!(x, y => x + y),
        Kernel::Sub => map2!(x, y => x - y),
        Kernel::Mul => map2!(x, y => x * y),
        Kernel::Div => map2!(x, y => x / y),
        Kernel::Max => map2!(x, y => eval::maximum(x, y)),
        Kernel::Min => map2!(x, y => eval::minimum(x, y)),
        Kernel::Call2 => {
            // SAFETY: as for `Call1`.
            let f: extern "C" fn(f64, f64) -> f64 = unsafe { std::mem::transmute(c) };
            map2!(x, y => f(x, y))
        }
        Kernel::Lt => cmp!(x, y => x < y),
        Kernel::Le => cmp!(x, y => x <= y),
        Kernel::Gt => cmp!(x, y => x > y),
        Kernel::Ge => cmp!(x, y => x >= y),
        Kernel::Eq => cmp!(x, y => x == y),
        Kernel::Ne => cmp!(x, y => x != y),
        Kernel::EqB => logic!(x, y => x == y),
        Kernel::NeB => logic!(x, y => x != y),
        Kernel::And => logic!(x, y => x && y),
        Kernel::Or => logic!(x, y => x || y),
        Kernel::Not => {
            let (xs, o) = (bools(a), out_bools());
            for i in 0..n {
                o[i] = u8::from(xs[i] == 0);
            }
        }
        Kernel::BoolToF64 => {
            let (xs, o) = (bools(a), out_reals());
            for i in 0..n {
                o[i] = f64::from(u8::from(xs[i] != 0));
            }
        }
        Kernel::Select => {
            let (cs, xs, ys, o) = (bools(a), reals(b), reals(c), out_reals());
            for i in 0..n {
                o[i] = if cs[i] != 0 { xs[i] } else { ys[i] };
            }
        }
        Kernel::SelectB => {
            let (cs, xs, ys, o) = (bools(a), bools(b), bools(c), out_bools());
            for i in 0..n {
                o[i] = if cs[i] != 0 { xs[i] } else { ys[i] };
            }
        }
        Kernel::Fill64 => {
            // SAFETY: `a` holds one real.
            let x = unsafe { *(a as *const f64) };
            out_reals().fill(x);
        }
        Kernel::Fill8 => {
            // SAFETY: `a` holds one byte.
            let x = unsafe { *a };
            out_bools().fill(x);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vprog_compiler::prim::Prim;
    use vprog_compiler::prim::eval::{Scalar, scalar};

    /// Reals that exercise every branch: both zeros, tiny and huge
    /// magnitudes, the infinities, NaN, and a sweep through the range
    /// where softplus and the sigmoid change method.
    fn reals() -> Vec<f64> {
        let mut xs: Vec<f64> = (0..801).map(|k| -800.0 + 2.0 * f64::from(k)).collect();
        xs.extend((0..400).map(|k| -40.0 + 0.2 * f64::from(k)));
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            -1e-300,
            5e-324,
            f64::MAX,
            f64::MIN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            0.5,
            1.0,
            -1.0,
        ]);
        xs
    }

    fn same(a: f64, b: f64) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    extern "C" fn exp(x: f64) -> f64 {
        x.exp()
    }
    extern "C" fn pow(x: f64, y: f64) -> f64 {
        x.powf(y)
    }

    /// Runs `k` on `n` elements of the operands through the selected
    /// entry point and through the baseline copy, and checks every output
    /// element against `want` (reals to the bit; NaN matches any NaN).
    fn check(
        k: Kernel,
        ops: [*const u8; 3],
        n: usize,
        real_out: bool,
        want: &dyn Fn(usize) -> Scalar,
    ) {
        for entry in [entry(), run_baseline as EntryFn] {
            let mut out = vec![0u8; n * if real_out { 8 } else { 1 }];
            // SAFETY: each operand the kernel reads holds `n` elements of
            // its type (the last operand of `Call` kernels is a function).
            unsafe { entry(k as u32, n, out.as_mut_ptr(), ops[0], ops[1], ops[2]) };
            for i in 0..n {
                let got = if real_out {
                    Scalar::F(f64::from_le_bytes(
                        out[8 * i..8 * i + 8].try_into().unwrap(),
                    ))
                } else {
                    Scalar::B(out[i] != 0)
                };
                let ok = match (got, want(i)) {
                    (Scalar::F(a), Scalar::F(b)) => same(a, b),
                    (a, b) => a == b,
                };
                assert!(ok, "{k:?} element {i}: got {got:?}, want {:?}", want(i));
            }
        }
    }

    #[test]
    fn every_kernel_computes_the_interpreters_scalar_rule_to_the_bit() {
        let xs = reals();
        // Every pair of the specials and a stretch of the sweep.
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for &x in xs.iter().skip(780) {
            for &y in xs.iter().skip(780).step_by(7) {
                a.push(x);
                b.push(y);
            }
        }
        let n = a.len();
        let c: Vec<u8> = (0..n).map(|i| u8::from(i % 3 == 0)).collect();
        let d: Vec<u8> = (0..n).map(|i| u8::from(i % 5 < 2)).collect();
        let (pa, pb) = (a.as_ptr() as *const u8, b.as_ptr() as *const u8);
        let (pc, pd) = (c.as_ptr(), d.as_ptr());
        let none = std::ptr::null();
        let (fa, fb) = (|i: usize| Scalar::F(a[i]), |i: usize| Scalar::F(b[i]));
        let (bc, bd) = (
            |i: usize| Scalar::B(c[i] != 0),
            |i: usize| Scalar::B(d[i] != 0),
        );
        let unary = [
            (Kernel::Copy, Prim::StopGrad),
            (Kernel::Neg, Prim::Neg),
            (Kernel::Abs, Prim::Abs),
            (Kernel::Sqrt, Prim::Sqrt),
            (Kernel::Floor, Prim::Floor),
            (Kernel::Sign, Prim::Sign),
            (Kernel::Softplus, Prim::Softplus),
            (Kernel::Sigmoid, Prim::Sigmoid),
        ];
        for (k, p) in unary {
            check(k, [pa, none, none], n, true, &|i| {
                scalar(&p, &[fa(i)]).unwrap()
            });
        }
        let binary = [
            (Kernel::Add, Prim::Add, true),
            (Kernel::Sub, Prim::Sub, true),
            (Kernel::Mul, Prim::Mul, true),
            (Kernel::Div, Prim::Div, true),
            (Kernel::Max, Prim::Max, true),
            (Kernel::Min, Prim::Min, true),
            (Kernel::Lt, Prim::Lt, false),
            (Kernel::Le, Prim::Le, false),
            (Kernel::Gt, Prim::Gt, false),
            (Kernel::Ge, Prim::Ge, false),
            (Kernel::Eq, Prim::Eq, false),
            (Kernel::Ne, Prim::Ne, false),
        ];
        for (k, p, real) in binary {
            check(k, [pa, pb, none], n, real, &|i| {
                scalar(&p, &[fa(i), fb(i)]).unwrap()
            });
        }
        let logic = [
            (Kernel::EqB, Prim::Eq),
            (Kernel::NeB, Prim::Ne),
            (Kernel::And, Prim::And),
            (Kernel::Or, Prim::Or),
        ];
        for (k, p) in logic {
            check(k, [pc, pd, none], n, false, &|i| {
                scalar(&p, &[bc(i), bd(i)]).unwrap()
            });
        }
        let rule = |p: Prim, args: &[Scalar]| scalar(&p, args).unwrap();
        check(Kernel::Not, [pc, none, none], n, false, &|i| {
            rule(Prim::Not, &[bc(i)])
        });
        check(Kernel::BoolToF64, [pc, none, none], n, true, &|i| {
            rule(Prim::BoolToF64, &[bc(i)])
        });
        check(Kernel::Select, [pc, pa, pb], n, true, &|i| {
            rule(Prim::Select, &[bc(i), fa(i), fb(i)])
        });
        check(Kernel::SelectB, [pc, pd, pc], n, false, &|i| {
            rule(Prim::Select, &[bc(i), bd(i), bc(i)])
        });
        // The `Call` kernels apply the function they are given.
        let exp = exp as extern "C" fn(f64) -> f64 as *const u8;
        check(Kernel::Call1, [pa, none, exp], n, true, &|i| {
            rule(Prim::Exp, &[fa(i)])
        });
        let pow = pow as extern "C" fn(f64, f64) -> f64 as *const u8;
        check(Kernel::Call2, [pa, pb, pow], n, true, &|i| {
            rule(Prim::Pow, &[fa(i), fb(i)])
        });
        // The fills copy one element everywhere.
        let x = -2.5f64;
        check(
            Kernel::Fill64,
            [(&raw const x).cast(), none, none],
            n,
            true,
            &|_| Scalar::F(x),
        );
        check(
            Kernel::Fill8,
            [pc.wrapping_add(0), none, none],
            n,
            false,
            &|_| bc(0),
        );
    }

    #[test]
    fn codes_name_their_kernels() {
        for k in Kernel::ALL {
            assert_eq!(Kernel::from_code(k as u32), Some(k));
        }
        assert_eq!(Kernel::from_code(Kernel::ALL.len() as u32), None);
    }

    #[test]
    fn maximum_and_minimum_order_signed_zeros_and_propagate_nan() {
        use vprog_compiler::prim::eval::{maximum, minimum};
        assert_eq!(maximum(-0.0, 0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(maximum(0.0, -0.0).to_bits(), 0.0f64.to_bits());
        assert_eq!(minimum(0.0, -0.0).to_bits(), (-0.0f64).to_bits());
        assert!(maximum(f64::NAN, 1.0).is_nan() && minimum(1.0, f64::NAN).is_nan());
        assert_eq!(maximum(1.0, 2.0), 2.0);
        assert_eq!(minimum(1.0, 2.0), 1.0);
    }
}
