//! Every primitive's derivative rules, checked one primitive at a time.
//!
//! For each [`Prim`] variant the table at the bottom lists one or more
//! *cases*: a tiny IR function applying the primitive (to a scalar and to a
//! tensor where it is elementwise), how to draw its operands, and a
//! reference for its derivative. The table is a macro that also emits an
//! exhaustive `match` over `Prim`, so adding a primitive without a row here
//! fails to compile.
//!
//! Host functions (`host`, `host_partial`) are evaluated through a small
//! registry of test functions with known gradients (`host_functions`).
//!
//! Each case's function is differentiated by the real transforms
//! (`transform::jvp::jvp`, `transform::vjp::vjp`), every transformed
//! function is verified, and all of them are evaluated by the interpreter at
//! seeded random points inside the primitive's domain (away from kinks and
//! ties). With `v` a random tangent and `u` a random cotangent:
//!
//! * **(a) against num-dual.** Where num-dual 0.15 has the function, the
//!   reference is the primitive written over `Dual64` (elementwise functions
//!   directly, tensor primitives as loops over dual elements), evaluated
//!   with `eps = v`; its `re` must match the interpreter's primal and its
//!   `eps` the jvp. num-dual has no `lgamma`, `digamma`, `polygamma` or
//!   incomplete gamma, so for those the reference is a *high-accuracy*
//!   finite difference instead: Richardson extrapolation over three central
//!   differences (`h`, `h/2`, `h/4`), truncation error `O(h⁶)`.
//! * **(b) against finite differences.** For every differentiable case, the
//!   jvp matches the same Richardson difference of the interpreted primal
//!   along `v`.
//! * **(c) transpose.** `⟨J v, u⟩ = ⟨v, Jᵀ u⟩` with the jvp and the vjp.
//!
//! Each check runs with every real operand active and, for primitives with
//! several real operands, with each one alone active, so the symbolic-zero
//! paths of the rules (`None` tangents, `needed = false`) run too.
//! Non-differentiable primitives (comparisons, casts, `sign`, `floor`,
//! `stop_grad`, boolean logic) must give an exactly zero tangent and
//! cotangent; `gamma_p_da` must make both transforms return an error.
//!
//! # Tolerances
//!
//! Errors are measured in the max norm, relative to `max(‖reference‖∞, 1)`
//! (relative for derivatives larger than one, absolute below — the domains
//! keep every derivative within a few orders of magnitude of one).
//!
//! * num-dual: [`DUAL_TOLERANCE`] = 1e-12. The rules and num-dual compute
//!   the same derivative by different but short formulas (`0.5 / √x` vs
//!   `0.5 · x^−½`, `1 − tanh²` vs `1 / cosh²`), a few roundings apart.
//! * Richardson: [`FD_TOLERANCE`] = 1e-8. With `h = 2e-3`, rounding
//!   contributes about `ε |f| / h ≈ 1e-13 |f|` (times the extrapolation
//!   weights, ≈ 3) and truncation `h⁶ |f⁽⁷⁾|`; `ln Γ` (statrs' Lanczos fit,
//!   8e-15 absolute) and `P(a, x)` (a few ulps) are smooth to far better than
//!   this step sees.
//! * transpose: [`TRANSPOSE_TOLERANCE`] = 1e-12 relative to `Σ |terms|` of
//!   both inner products (so cancellation between terms does not inflate
//!   the error); both sides are exact up to a few roundings per term.
//!
//! The worst errors measured over the table (printed by the main test with
//! `--nocapture`) are 4e-16 against num-dual, 1.1e-10 against finite
//! differences and 1.5e-16 for the transpose, so the tolerances leave two
//! orders of magnitude or more for other platforms' `libm`.

use ndarray::{ArrayD, IxDyn};
use num_dual::{Dual64, DualNum};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::sync::{Arc, OnceLock};
use vprog_compiler::ir::{Builder, Elem, Function, Type, ValueId, verify::verify};
use vprog_compiler::prim::{AxisReduction, GuardKind, Prim};
use vprog_compiler::transform::{jvp::jvp, vjp::vjp};
use vprog_runtime::host::{HostFunction, HostRegistry};
use vprog_runtime::interp::{RunContext, run};
use vprog_runtime::rng::RunKey;
use vprog_runtime::value::{Tensor, Value};

/// Tolerance of the jvp against num-dual (see the module docs).
const DUAL_TOLERANCE: f64 = 1e-12;
/// Tolerance of the jvp against Richardson finite differences.
const FD_TOLERANCE: f64 = 1e-8;
/// Tolerance of `⟨J v, u⟩ = ⟨v, Jᵀ u⟩`, relative to the sum of |terms|.
const TRANSPOSE_TOLERANCE: f64 = 1e-12;
/// The largest step of the Richardson difference; the domains below keep a
/// margin of at least `FD_STEP · max |v|` = 2e-3 to their edges, kinks and
/// ties.
const FD_STEP: f64 = 2e-3;
/// Random points per case and mask of active operands.
const TRIALS: usize = 4;

// ---- operands and references ---------------------------------------------

/// How one operand of a case is drawn.
#[derive(Clone, Debug)]
enum Operand {
    /// A differentiable `f64` operand of `shape`, elements uniform in
    /// `[lo, hi)`.
    Real { shape: Vec<usize>, lo: f64, hi: f64 },
    /// A differentiable `n × n` matrix whose lower triangle is well
    /// conditioned (diagonal in [1, 2), below it in [−½, ½)) and whose
    /// strict upper triangle is random too, which `trisolve` must ignore.
    Triangular(usize),
    /// An `i64` uniform in `lo..hi` (not differentiated).
    Int { lo: i64, hi: i64 },
    /// An `i64` vector of `len` indices, each uniform in `lo..hi` (so
    /// repeats happen; not differentiated).
    Ints { len: usize, lo: i64, hi: i64 },
    /// A `bool` tensor of `shape` (not differentiated).
    Bool { shape: Vec<usize> },
}

impl Operand {
    fn is_real(&self) -> bool {
        matches!(self, Operand::Real { .. } | Operand::Triangular(_))
    }

    fn shape(&self) -> Vec<usize> {
        match self {
            Operand::Real { shape, .. } | Operand::Bool { shape } => shape.clone(),
            Operand::Triangular(n) => vec![*n, *n],
            Operand::Int { .. } => vec![],
            Operand::Ints { len, .. } => vec![*len],
        }
    }

    fn ty(&self) -> Type {
        match self {
            Operand::Real { .. } | Operand::Triangular(_) => Type::tensor(Elem::F64, self.shape()),
            Operand::Int { .. } => Type::i64(),
            Operand::Ints { len, .. } => Type::tensor(Elem::I64, vec![*len]),
            Operand::Bool { shape } => Type::tensor(Elem::Bool, shape.clone()),
        }
    }

    fn draw(&self, rng: &mut Xoshiro256PlusPlus) -> Arg {
        let count: usize = self.shape().iter().product();
        match self {
            Operand::Real { lo, hi, .. } => {
                Arg::Real((0..count).map(|_| rng.random_range(*lo..*hi)).collect())
            }
            Operand::Triangular(n) => Arg::Real(
                (0..n * n)
                    .map(|k| {
                        if k / n == k % n {
                            rng.random_range(1.0..2.0)
                        } else {
                            rng.random_range(-0.5..0.5)
                        }
                    })
                    .collect(),
            ),
            Operand::Int { lo, hi } => Arg::Int(rng.random_range(*lo..*hi)),
            Operand::Ints { len, lo, hi } => {
                Arg::Ints((0..*len).map(|_| rng.random_range(*lo..*hi)).collect())
            }
            Operand::Bool { .. } => Arg::Bool((0..count).map(|_| rng.random_bool(0.5)).collect()),
        }
    }
}

/// A drawn operand, flattened row-major.
#[derive(Clone, Debug)]
enum Arg {
    Real(Vec<f64>),
    Int(i64),
    Ints(Vec<i64>),
    Bool(Vec<bool>),
}

impl Arg {
    fn reals(&self) -> &[f64] {
        match self {
            Arg::Real(xs) => xs,
            _ => panic!("not a real operand"),
        }
    }

    fn value(&self, shape: &[usize]) -> Value {
        match self {
            Arg::Real(xs) => f64_value(shape, xs.clone()),
            Arg::Int(i) => Value::I(*i),
            Arg::Ints(is) => Value::T(Arc::new(Tensor::I(
                ArrayD::from_shape_vec(IxDyn(shape), is.clone()).expect("i64 shape"),
            ))),
            Arg::Bool(bs) if shape.is_empty() => Value::B(bs[0]),
            Arg::Bool(bs) => Value::T(Arc::new(Tensor::B(
                ArrayD::from_shape_vec(IxDyn(shape), bs.clone()).expect("bool shape"),
            ))),
        }
    }
}

fn f64_value(shape: &[usize], xs: Vec<f64>) -> Value {
    if shape.is_empty() {
        Value::F(xs[0])
    } else {
        Value::from_f64_array(ArrayD::from_shape_vec(IxDyn(shape), xs).expect("f64 shape"))
    }
}

/// An operand as the num-dual reference sees it: reals carry the tangent in
/// `eps`.
enum DualArg {
    Real(Vec<Dual64>),
    Int(i64),
    Ints(Vec<i64>),
    Bool(Vec<bool>),
}

impl DualArg {
    fn d(&self) -> &[Dual64] {
        match self {
            DualArg::Real(xs) => xs,
            _ => panic!("not a real operand"),
        }
    }

    fn i(&self) -> i64 {
        match self {
            DualArg::Int(i) => *i,
            _ => panic!("not an integer operand"),
        }
    }

    fn indices(&self) -> Vec<usize> {
        match self {
            DualArg::Ints(is) => is.iter().map(|&i| i as usize).collect(),
            _ => panic!("not an index-vector operand"),
        }
    }

    fn b(&self) -> &[bool] {
        match self {
            DualArg::Bool(bs) => bs,
            _ => panic!("not a boolean operand"),
        }
    }
}

type DualFn = Box<dyn Fn(&[DualArg]) -> Vec<Dual64>>;

/// Emits a case's function body from its parameters, returning the result.
type BodyFn = Box<dyn Fn(&mut Builder, &[ValueId]) -> ValueId>;

/// What a case's derivative is checked against.
enum Reference {
    /// The function written over num-dual's `Dual64`, returning the result's
    /// elements row-major.
    Dual(DualFn),
    /// num-dual lacks the function: a three-level Richardson difference.
    Richardson,
    /// The derivative is zero everywhere the function is evaluated.
    Zero,
    /// Differentiating must be a transform error (naming the primitive).
    Error,
}

/// A tiny function exercising one primitive.
struct Case {
    /// The primitive under test (also checked against its table row).
    prim: Prim,
    operands: Vec<Operand>,
    /// Emits the function body from its parameters; by default the
    /// primitive applied to them.
    body: BodyFn,
    /// Rejects draws too near a kink, tie or discontinuity.
    accept: fn(&[Arg]) -> bool,
    reference: Reference,
    /// Whether the derivative is that of the primal (false where
    /// `stop_grad` cuts a path that finite differences still see).
    matches_finite_differences: bool,
}

impl Case {
    fn new(prim: Prim, operands: Vec<Operand>, reference: Reference) -> Case {
        let applied = prim.clone();
        Case {
            prim,
            operands,
            body: Box::new(move |b, params| b.prim(applied.clone(), params)),
            accept: |_| true,
            reference,
            matches_finite_differences: true,
        }
    }

    fn not_the_primal_derivative(mut self) -> Case {
        self.matches_finite_differences = false;
        self
    }

    fn body(mut self, body: impl Fn(&mut Builder, &[ValueId]) -> ValueId + 'static) -> Case {
        self.body = Box::new(body);
        self
    }

    fn accept(mut self, accept: fn(&[Arg]) -> bool) -> Case {
        self.accept = accept;
        self
    }

    fn label(&self) -> String {
        let types: Vec<String> = self.operands.iter().map(|o| o.ty().to_string()).collect();
        format!("{}({})", self.prim.name(), types.join(", "))
    }

    fn function(&self) -> Function {
        let mut f = Function::new(self.prim.name());
        let mut b = Builder::new(&mut f);
        let params: Vec<ValueId> = self.operands.iter().map(|o| b.fresh(o.ty())).collect();
        let result = (self.body)(&mut b, &params);
        assert!(
            b.ty(result).is_differentiable(),
            "{}: case functions return f64 (wrap other results in a cast)",
            self.label()
        );
        b.finish(params, vec![result]);
        f
    }
}

fn real(shape: &[usize], lo: f64, hi: f64) -> Operand {
    Operand::Real {
        shape: shape.to_vec(),
        lo,
        hi,
    }
}

fn dual(f: impl Fn(&[DualArg]) -> Vec<Dual64> + 'static) -> Reference {
    Reference::Dual(Box::new(f))
}

/// An elementwise unary primitive on a scalar and on a 3-vector, with
/// operands in `[lo, hi)` and reference `f` (`None`: Richardson).
fn unary(prim: Prim, lo: f64, hi: f64, f: Option<fn(Dual64) -> Dual64>) -> Vec<Case> {
    [vec![], vec![3]]
        .into_iter()
        .map(|shape| {
            let reference = match f {
                Some(f) => dual(move |a| a[0].d().iter().map(|&x| f(x)).collect()),
                None => Reference::Richardson,
            };
            Case::new(prim.clone(), vec![real(&shape, lo, hi)], reference)
        })
        .collect()
}

/// An elementwise binary primitive on scalars and on 2×2 matrices.
fn binary(
    prim: Prim,
    a: (f64, f64),
    b: (f64, f64),
    f: Option<fn(Dual64, Dual64) -> Dual64>,
) -> Vec<Case> {
    [vec![], vec![2, 2]]
        .into_iter()
        .map(|shape| {
            let reference = match f {
                Some(f) => dual(move |args| {
                    let (x, y) = (args[0].d(), args[1].d());
                    x.iter().zip(y).map(|(&x, &y)| f(x, y)).collect()
                }),
                None => Reference::Richardson,
            };
            Case::new(
                prim.clone(),
                vec![real(&shape, a.0, a.1), real(&shape, b.0, b.1)],
                reference,
            )
        })
        .collect()
}

/// A primitive with no derivative, reached from two real scalars in
/// `[-2, 2)`; `body` emits the function (ending in a cast to `f64` where
/// the primitive's result is not `f64`).
fn zero(prim: Prim, body: fn(&mut Builder, &[ValueId]) -> ValueId) -> Case {
    Case::new(
        prim,
        vec![real(&[], -2.0, 2.0), real(&[], -2.0, 2.0)],
        Reference::Zero,
    )
    .body(body)
}

/// Elements of every real operand differ by at least 0.1 (max/min and
/// reduce_max away from ties).
fn no_ties(args: &[Arg]) -> bool {
    let reals: Vec<&[f64]> = args
        .iter()
        .filter_map(|a| match a {
            Arg::Real(xs) => Some(xs.as_slice()),
            _ => None,
        })
        .collect();
    match reals.as_slice() {
        [xs] => xs
            .iter()
            .enumerate()
            .all(|(i, x)| xs[i + 1..].iter().all(|y| (x - y).abs() > 0.1)),
        [xs, ys] => xs.iter().zip(ys.iter()).all(|(x, y)| (x - y).abs() > 0.1),
        _ => true,
    }
}

fn away_from_zero(args: &[Arg]) -> bool {
    args.iter().all(|a| match a {
        Arg::Real(xs) => xs.iter().all(|x| x.abs() > 0.1),
        _ => true,
    })
}

fn re(x: f64) -> Dual64 {
    Dual64::from_re(x)
}

fn dual_sum(xs: &[Dual64]) -> Dual64 {
    xs.iter().copied().fold(re(0.0), |s, x| s + x)
}

fn dual_abs(x: Dual64) -> Dual64 {
    if x.re < 0.0 { -x } else { x }
}

// ---- the checks -----------------------------------------------------------

fn run_fn(f: &Function, args: &[Value]) -> Vec<Value> {
    let mut ctx = RunContext::new(RunKey::new(0, 0, 0));
    ctx.host = Some(host_functions());
    run(f, args, &mut ctx).unwrap_or_else(|e| panic!("running {}: {e}", f.name))
}

/// The host functions the `host` rows call: #0 is `x·sin y + x²/2`, #1 is
/// `x³ − 2x`, each registered with its gradient.
fn host_functions() -> Arc<HostRegistry> {
    static REGISTRY: OnceLock<Arc<HostRegistry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            let mut registry = HostRegistry::new();
            registry.register(HostFunction {
                name: "wave".into(),
                arity: 2,
                value: Arc::new(|a: &[f64]| a[0] * a[1].sin() + 0.5 * a[0] * a[0]),
                gradient: Arc::new(|a: &[f64]| vec![a[1].sin() + a[0], a[0] * a[1].cos()]),
            });
            registry.register(HostFunction {
                name: "cubic".into(),
                arity: 1,
                value: Arc::new(|a: &[f64]| a[0].powi(3) - 2.0 * a[0]),
                gradient: Arc::new(|a: &[f64]| vec![3.0 * a[0] * a[0] - 2.0]),
            });
            Arc::new(registry)
        })
        .clone()
}

fn max_abs(xs: &[f64]) -> f64 {
    xs.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// `‖got − want‖∞ / max(‖want‖∞, 1)`.
fn error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let diff: Vec<f64> = got.iter().zip(want).map(|(g, w)| g - w).collect();
    let e = max_abs(&diff) / max_abs(want).max(1.0);
    if e.is_nan() { f64::INFINITY } else { e }
}

/// `d/dt f(t)` at 0 by Richardson extrapolation of central differences with
/// steps `h`, `h/2`, `h/4`: error `O(h⁶)`.
fn richardson(f: impl Fn(f64) -> Vec<f64>, h: f64) -> Vec<f64> {
    let central = |s: f64| -> Vec<f64> {
        let (p, m) = (f(s), f(-s));
        p.iter().zip(&m).map(|(p, m)| (p - m) / (2.0 * s)).collect()
    };
    let (d1, d2, d4) = (central(h), central(h / 2.0), central(h / 4.0));
    (0..d1.len())
        .map(|k| {
            let r1 = (4.0 * d2[k] - d1[k]) / 3.0;
            let r2 = (4.0 * d4[k] - d2[k]) / 3.0;
            (16.0 * r2 - r1) / 15.0
        })
        .collect()
}

/// The worst errors seen, printed with `--nocapture` to justify the
/// tolerances.
#[derive(Default)]
struct Worst {
    dual: f64,
    fd: f64,
    transpose: f64,
}

/// Runs every check of `case`.
fn check_case(case: &Case, rng: &mut Xoshiro256PlusPlus, worst: &mut Worst) {
    let label = case.label();
    let f = case.function();
    verify(&f).unwrap_or_else(|e| panic!("{label}: {e}"));
    let real_ops: Vec<usize> = (0..case.operands.len())
        .filter(|&i| case.operands[i].is_real())
        .collect();
    let mut masks = vec![real_ops.clone()];
    if real_ops.len() > 1 {
        masks.extend(real_ops.iter().map(|&i| vec![i]));
    }
    for active in masks {
        let wrt: Vec<bool> = (0..case.operands.len())
            .map(|i| active.contains(&i))
            .collect();
        let label = format!("{label} wrt operands {active:?}");
        if let Reference::Error = case.reference {
            let name = case.prim.name();
            let forward = jvp(&f, &wrt).expect_err(&label);
            assert!(forward.message.contains(name), "{label}: {forward}");
            let reverse = vjp(&f, &wrt, &[true]).expect_err(&label);
            assert!(reverse.message.contains(name), "{label}: {reverse}");
            continue;
        }
        let f_jvp = jvp(&f, &wrt).unwrap_or_else(|e| panic!("{label}: jvp: {e}"));
        let f_vjp = vjp(&f, &wrt, &[true]).unwrap_or_else(|e| panic!("{label}: vjp: {e}"));
        verify(&f_jvp).unwrap_or_else(|e| panic!("{label}: jvp: {e}"));
        verify(&f_vjp).unwrap_or_else(|e| panic!("{label}: vjp: {e}"));
        for _ in 0..TRIALS {
            check_point(case, &label, &f, &f_jvp, &f_vjp, &active, rng, worst);
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn check_point(
    case: &Case,
    label: &str,
    f: &Function,
    f_jvp: &Function,
    f_vjp: &Function,
    active: &[usize],
    rng: &mut Xoshiro256PlusPlus,
    worst: &mut Worst,
) {
    let args = loop {
        let args: Vec<Arg> = case.operands.iter().map(|o| o.draw(rng)).collect();
        if (case.accept)(&args) {
            break args;
        }
    };
    let shapes: Vec<Vec<usize>> = case.operands.iter().map(Operand::shape).collect();
    let values: Vec<Value> = args.iter().zip(&shapes).map(|(a, s)| a.value(s)).collect();
    let primal = run_fn(f, &values)[0].f64_elements();
    // Tangents of the active operands, uniform in [−1, 1).
    let tangents: Vec<Vec<f64>> = active
        .iter()
        .map(|&i| {
            (0..args[i].reals().len())
                .map(|_| rng.random_range(-1.0..1.0))
                .collect()
        })
        .collect();
    let mut jvp_args = values.clone();
    for (&i, v) in active.iter().zip(&tangents) {
        jvp_args.push(f64_value(&shapes[i], v.clone()));
    }
    let jvp_out = run_fn(f_jvp, &jvp_args);
    assert_eq!(jvp_out.len(), 2, "{label}: jvp results");
    assert_eq!(jvp_out[0].f64_elements(), primal, "{label}: jvp primal");
    let jv = jvp_out[1].f64_elements();
    let result_shape = jvp_out[0].shape().to_vec();
    let u: Vec<f64> = (0..primal.len())
        .map(|_| rng.random_range(-1.0..1.0))
        .collect();
    let mut vjp_args = values.clone();
    vjp_args.push(f64_value(&result_shape, u.clone()));
    let vjp_out = run_fn(f_vjp, &vjp_args);
    assert_eq!(vjp_out.len(), 1 + active.len(), "{label}: vjp results");
    assert_eq!(vjp_out[0].f64_elements(), primal, "{label}: vjp primal");
    let cotangents: Vec<Vec<f64>> = vjp_out[1..].iter().map(Value::f64_elements).collect();

    let at = || format!("{label} at {args:?}, tangent {tangents:?}");
    match &case.reference {
        Reference::Zero => {
            assert!(jv.iter().all(|&t| t == 0.0), "{}: jvp {jv:?}", at());
            for ct in &cotangents {
                assert!(ct.iter().all(|&c| c == 0.0), "{}: vjp {ct:?}", at());
            }
            return;
        }
        Reference::Dual(reference) => {
            let dual_args: Vec<DualArg> = args
                .iter()
                .enumerate()
                .map(|(i, a)| match a {
                    Arg::Real(xs) => {
                        let v = active.iter().position(|&k| k == i);
                        DualArg::Real(
                            xs.iter()
                                .enumerate()
                                .map(|(j, &x)| Dual64::new(x, v.map_or(0.0, |s| tangents[s][j])))
                                .collect(),
                        )
                    }
                    Arg::Int(i) => DualArg::Int(*i),
                    Arg::Ints(is) => DualArg::Ints(is.clone()),
                    Arg::Bool(bs) => DualArg::Bool(bs.clone()),
                })
                .collect();
            let want = reference(&dual_args);
            let want_re: Vec<f64> = want.iter().map(|d| d.re).collect();
            let want_eps: Vec<f64> = want.iter().map(|d| d.eps).collect();
            let e = error(&primal, &want_re);
            assert!(
                e <= DUAL_TOLERANCE,
                "{}: primal {primal:?} vs num-dual {want_re:?}",
                at()
            );
            let e = error(&jv, &want_eps);
            worst.dual = worst.dual.max(e);
            assert!(
                e <= DUAL_TOLERANCE,
                "{}: jvp {jv:?} vs num-dual {want_eps:?} (error {e:e})",
                at()
            );
        }
        Reference::Richardson => {}
        Reference::Error => unreachable!("handled before evaluation"),
    }

    // (b) Richardson along the tangent.
    if !case.matches_finite_differences {
        return;
    }
    let along = |t: f64| -> Vec<f64> {
        let mut moved = values.clone();
        for (&i, v) in active.iter().zip(&tangents) {
            let xs: Vec<f64> = args[i]
                .reals()
                .iter()
                .zip(v)
                .map(|(x, d)| x + t * d)
                .collect();
            moved[i] = f64_value(&shapes[i], xs);
        }
        run_fn(f, &moved)[0].f64_elements()
    };
    let fd = richardson(along, FD_STEP);
    let e = error(&jv, &fd);
    worst.fd = worst.fd.max(e);
    assert!(
        e <= FD_TOLERANCE,
        "{}: jvp {jv:?} vs finite differences {fd:?} (error {e:e})",
        at()
    );

    // (c) ⟨J v, u⟩ = ⟨v, Jᵀ u⟩.
    let mut scale = 0.0;
    let mut lhs = 0.0;
    for (a, b) in jv.iter().zip(&u) {
        lhs += a * b;
        scale += (a * b).abs();
    }
    let mut rhs = 0.0;
    for (v, ct) in tangents.iter().zip(&cotangents) {
        assert_eq!(v.len(), ct.len(), "{label}: cotangent shape");
        for (a, b) in v.iter().zip(ct) {
            rhs += a * b;
            scale += (a * b).abs();
        }
    }
    let e = (lhs - rhs).abs() / scale.max(f64::MIN_POSITIVE);
    worst.transpose = worst.transpose.max(e);
    assert!(
        e <= TRANSPOSE_TOLERANCE,
        "{}: <Jv, u> = {lhs} but <v, J^T u> = {rhs} (cotangents {cotangents:?})",
        at()
    );
}

// ---- the table ------------------------------------------------------------

/// Rows `pattern => cases`: emits `table()` (every row's cases) and
/// `row_of(prim)`, an exhaustive `match` over `Prim` with no wildcard, which
/// stops compiling when a primitive is added without a row.
macro_rules! rule_table {
    ($($pattern:pat => $cases:expr,)*) => {
        fn table() -> Vec<(&'static str, Vec<Case>)> {
            vec![$((stringify!($pattern), $cases),)*]
        }

        fn row_of(prim: &Prim) -> &'static str {
            match prim {
                $($pattern => stringify!($pattern),)*
            }
        }
    };
}

rule_table! {
    Prim::ConstF64(_) => vec![Case::new(
        Prim::ConstF64(2.5),
        vec![real(&[], -2.0, 2.0)],
        dual(|a| vec![a[0].d()[0] * 2.5]),
    )
    .body(|b, p| {
        let c = b.prim(Prim::ConstF64(2.5), &[]);
        b.mul(p[0], c)
    })],
    Prim::ConstI64(_) => vec![Case::new(
        Prim::ConstI64(3),
        vec![real(&[], -2.0, 2.0)],
        dual(|a| vec![a[0].d()[0] * 3.0]),
    )
    .body(|b, p| {
        let c = b.prim(Prim::ConstI64(3), &[]);
        let c = b.un(Prim::IntToF64, c);
        b.mul(p[0], c)
    })],
    Prim::ConstBool(_) => vec![Case::new(
        Prim::ConstBool(false),
        vec![real(&[], -2.0, 2.0), real(&[], -2.0, 2.0)],
        dual(|a| vec![a[1].d()[0]]),
    )
    .body(|b, p| {
        let c = b.prim(Prim::ConstBool(false), &[]);
        b.prim(Prim::Select, &[c, p[0], p[1]])
    })],
    Prim::ConstTensor { .. } => vec![Case::new(
        Prim::ConstTensor { shape: vec![2], data: vec![0.5, -1.5].into() },
        vec![real(&[2], -2.0, 2.0)],
        dual(|a| vec![a[0].d()[0] * 0.5, a[0].d()[1] * -1.5]),
    )
    .body(|b, p| {
        let c = b.prim(Prim::ConstTensor { shape: vec![2], data: vec![0.5, -1.5].into() }, &[]);
        b.mul(p[0], c)
    })],

    Prim::Neg => unary(Prim::Neg, -3.0, 3.0, Some(|x| -x)),
    Prim::Exp => unary(Prim::Exp, -3.0, 3.0, Some(|x| x.exp())),
    Prim::Log => unary(Prim::Log, 0.1, 5.0, Some(|x| x.ln())),
    Prim::Log1p => unary(Prim::Log1p, -0.9, 5.0, Some(|x| x.ln_1p())),
    Prim::Expm1 => unary(Prim::Expm1, -3.0, 3.0, Some(|x| x.exp_m1())),
    Prim::Sqrt => unary(Prim::Sqrt, 0.1, 5.0, Some(|x| x.sqrt())),
    Prim::Sin => unary(Prim::Sin, -4.0, 4.0, Some(|x| x.sin())),
    Prim::Cos => unary(Prim::Cos, -4.0, 4.0, Some(|x| x.cos())),
    Prim::Tan => unary(Prim::Tan, -1.2, 1.2, Some(|x| x.tan())),
    Prim::Atan => unary(Prim::Atan, -3.0, 3.0, Some(|x| x.atan())),
    Prim::Tanh => unary(Prim::Tanh, -3.0, 3.0, Some(|x| x.tanh())),
    Prim::Sigmoid => unary(Prim::Sigmoid, -5.0, 5.0, Some(|x| (re(1.0) + (-x).exp()).recip())),
    Prim::Softplus => unary(Prim::Softplus, -5.0, 5.0, Some(|x| x.exp().ln_1p())),
    Prim::Abs => unary(Prim::Abs, -3.0, 3.0, Some(dual_abs))
        .into_iter()
        .map(|c| c.accept(away_from_zero))
        .collect(),
    Prim::Sign => vec![zero(Prim::Sign, |b, p| b.un(Prim::Sign, p[0]))],
    Prim::Floor => vec![zero(Prim::Floor, |b, p| b.un(Prim::Floor, p[0]))
        .accept(|a| a[0].reals().iter().all(|x| (x - x.round()).abs() > 0.01))],
    // num-dual has none of the gamma family: Richardson references.
    Prim::Lgamma => unary(Prim::Lgamma, 0.2, 8.0, None),
    Prim::Digamma => unary(Prim::Digamma, 0.3, 8.0, None),
    Prim::Polygamma(_) => (1..=3)
        .flat_map(|n| unary(Prim::Polygamma(n), 1.0, 6.0, None))
        .collect(),

    Prim::Add => binary(Prim::Add, (-3.0, 3.0), (-3.0, 3.0), Some(|x, y| x + y)),
    Prim::Sub => binary(Prim::Sub, (-3.0, 3.0), (-3.0, 3.0), Some(|x, y| x - y)),
    Prim::Mul => binary(Prim::Mul, (-3.0, 3.0), (-3.0, 3.0), Some(|x, y| x * y)),
    Prim::Div => binary(Prim::Div, (-3.0, 3.0), (-3.0, 3.0), Some(|x, y| x / y))
        .into_iter()
        .map(|c| c.accept(|a| a[1].reals().iter().all(|y| y.abs() > 0.3)))
        .collect(),
    // i64 only: reached through casts, derivative zero.
    Prim::Rem => vec![zero(Prim::Rem, |b, p| {
        let i = b.un(Prim::F64ToInt, p[0]);
        let three = b.i64(3);
        let r = b.prim(Prim::Rem, &[i, three]);
        b.un(Prim::IntToF64, r)
    })],
    Prim::Pow => binary(Prim::Pow, (0.2, 3.0), (-2.0, 2.5), Some(|x, y| x.powd(y))),
    Prim::Max => binary(Prim::Max, (-2.0, 2.0), (-2.0, 2.0), Some(|x, y| if x.re >= y.re { x } else { y }))
        .into_iter()
        .map(|c| c.accept(no_ties))
        .collect(),
    Prim::Min => binary(Prim::Min, (-2.0, 2.0), (-2.0, 2.0), Some(|x, y| if x.re <= y.re { x } else { y }))
        .into_iter()
        .map(|c| c.accept(no_ties))
        .collect(),
    // Both arguments, by Richardson (num-dual has no incomplete gamma).
    Prim::GammaP => binary(Prim::GammaP, (0.5, 5.0), (0.2, 6.0), None),
    Prim::GammaPDa => vec![Case::new(
        Prim::GammaPDa,
        vec![real(&[], 0.5, 5.0), real(&[], 0.2, 6.0)],
        Reference::Error,
    )],

    Prim::Lt => vec![zero(Prim::Lt, |b, p| {
        let c = b.prim(Prim::Lt, &[p[0], p[1]]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Le => vec![zero(Prim::Le, |b, p| {
        let c = b.prim(Prim::Le, &[p[0], p[1]]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Gt => vec![zero(Prim::Gt, |b, p| {
        let c = b.prim(Prim::Gt, &[p[0], p[1]]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Ge => vec![zero(Prim::Ge, |b, p| {
        let c = b.prim(Prim::Ge, &[p[0], p[1]]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Eq => vec![zero(Prim::Eq, |b, p| {
        let c = b.prim(Prim::Eq, &[p[0], p[1]]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Ne => vec![zero(Prim::Ne, |b, p| {
        let c = b.prim(Prim::Ne, &[p[0], p[1]]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::And => vec![zero(Prim::And, |b, p| {
        let zero = b.f64(0.0);
        let x = b.prim(Prim::Gt, &[p[0], zero]);
        let y = b.prim(Prim::Gt, &[p[1], zero]);
        let c = b.prim(Prim::And, &[x, y]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Or => vec![zero(Prim::Or, |b, p| {
        let zero = b.f64(0.0);
        let x = b.prim(Prim::Gt, &[p[0], zero]);
        let y = b.prim(Prim::Gt, &[p[1], zero]);
        let c = b.prim(Prim::Or, &[x, y]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Not => vec![zero(Prim::Not, |b, p| {
        let c = b.prim(Prim::Lt, &[p[0], p[1]]);
        let c = b.un(Prim::Not, c);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::Select => vec![
        Case::new(
            Prim::Select,
            vec![Operand::Bool { shape: vec![] }, real(&[3], -2.0, 2.0), real(&[3], -2.0, 2.0)],
            dual(|a| if a[0].b()[0] { a[1].d().to_vec() } else { a[2].d().to_vec() }),
        ),
        Case::new(
            Prim::Select,
            vec![Operand::Bool { shape: vec![3] }, real(&[3], -2.0, 2.0), real(&[3], -2.0, 2.0)],
            dual(|a| {
                (0..3)
                    .map(|k| if a[0].b()[k] { a[1].d()[k] } else { a[2].d()[k] })
                    .collect()
            }),
        ),
    ],

    Prim::IntToF64 => vec![zero(Prim::IntToF64, |b, p| {
        let i = b.un(Prim::F64ToInt, p[0]);
        b.un(Prim::IntToF64, i)
    })
    .accept(|a| a[0].reals().iter().all(|x| (x - x.round()).abs() > 0.01))],
    Prim::BoolToF64 => vec![zero(Prim::BoolToF64, |b, p| {
        let c = b.prim(Prim::Gt, &[p[0], p[1]]);
        b.un(Prim::BoolToF64, c)
    })],
    Prim::F64ToInt => vec![zero(Prim::F64ToInt, |b, p| {
        let s = b.add(p[0], p[1]);
        let i = b.un(Prim::F64ToInt, s);
        b.un(Prim::IntToF64, i)
    })],

    Prim::Broadcast(_) => vec![Case::new(
        Prim::Broadcast(vec![2, 3]),
        vec![real(&[], -2.0, 2.0)],
        dual(|a| vec![a[0].d()[0]; 6]),
    )],
    // The shape comes from the second operand; its value has no derivative.
    Prim::BroadcastLike => vec![Case::new(
        Prim::BroadcastLike,
        vec![real(&[], -2.0, 2.0), real(&[2, 3], -2.0, 2.0)],
        dual(|a| vec![a[0].d()[0]; 6]),
    )],
    Prim::Pack => vec![
        Case::new(
            Prim::Pack,
            vec![real(&[2], -2.0, 2.0), real(&[2], -2.0, 2.0), real(&[2], -2.0, 2.0)],
            dual(|a| a.iter().flat_map(|x| x.d().to_vec()).collect()),
        ),
        Case::new(
            Prim::Pack,
            vec![real(&[], -2.0, 2.0), real(&[], -2.0, 2.0)],
            dual(|a| a.iter().flat_map(|x| x.d().to_vec()).collect()),
        ),
    ],
    Prim::Index => vec![
        Case::new(
            Prim::Index,
            vec![real(&[4, 2], -2.0, 2.0), Operand::Int { lo: 0, hi: 4 }],
            dual(|a| {
                let i = a[1].i() as usize;
                a[0].d()[2 * i..2 * i + 2].to_vec()
            }),
        ),
        Case::new(
            Prim::Index,
            vec![real(&[3], -2.0, 2.0), Operand::Int { lo: 0, hi: 3 }],
            dual(|a| vec![a[0].d()[a[1].i() as usize]]),
        ),
    ],
    Prim::IndexAdd => vec![
        Case::new(
            Prim::IndexAdd,
            vec![real(&[4, 2], -2.0, 2.0), Operand::Int { lo: 0, hi: 4 }, real(&[2], -2.0, 2.0)],
            dual(|a| {
                let i = a[1].i() as usize;
                let mut t = a[0].d().to_vec();
                t[2 * i] += a[2].d()[0];
                t[2 * i + 1] += a[2].d()[1];
                t
            }),
        ),
        Case::new(
            Prim::IndexAdd,
            vec![real(&[3], -2.0, 2.0), Operand::Int { lo: 0, hi: 3 }, real(&[], -2.0, 2.0)],
            dual(|a| {
                let mut t = a[0].d().to_vec();
                t[a[1].i() as usize] += a[2].d()[0];
                t
            }),
        ),
    ],
    Prim::Sum => vec![Case::new(
        Prim::Sum,
        vec![real(&[2, 3], -2.0, 2.0)],
        dual(|a| vec![dual_sum(a[0].d())]),
    )],
    Prim::LogSumExp => vec![Case::new(
        Prim::LogSumExp,
        vec![real(&[5], -3.0, 3.0)],
        dual(|a| {
            let exps: Vec<Dual64> = a[0].d().iter().map(|x| x.exp()).collect();
            vec![dual_sum(&exps).ln()]
        }),
    )],
    Prim::ReduceMax => vec![Case::new(
        Prim::ReduceMax,
        vec![real(&[5], -3.0, 3.0)],
        dual(|a| {
            let xs = a[0].d();
            vec![xs.iter().copied().fold(xs[0], |m, x| if x.re > m.re { x } else { m })]
        }),
    )
    .accept(no_ties)],
    Prim::MatVec { transpose: false } => vec![Case::new(
        Prim::MatVec { transpose: false },
        vec![real(&[3, 2], -2.0, 2.0), real(&[2], -2.0, 2.0)],
        dual(|a| {
            let (m, v) = (a[0].d(), a[1].d());
            (0..3).map(|r| m[2 * r] * v[0] + m[2 * r + 1] * v[1]).collect()
        }),
    )],
    Prim::MatVec { transpose: true } => vec![Case::new(
        Prim::MatVec { transpose: true },
        vec![real(&[3, 2], -2.0, 2.0), real(&[3], -2.0, 2.0)],
        dual(|a| {
            let (m, v) = (a[0].d(), a[1].d());
            (0..2).map(|c| m[c] * v[0] + m[2 + c] * v[1] + m[4 + c] * v[2]).collect()
        }),
    )],
    Prim::Outer => vec![Case::new(
        Prim::Outer,
        vec![real(&[3], -2.0, 2.0), real(&[2], -2.0, 2.0)],
        dual(|a| {
            let (x, y) = (a[0].d(), a[1].d());
            x.iter().flat_map(|&xi| y.iter().map(move |&yj| xi * yj)).collect()
        }),
    )],
    Prim::TriSolve { transpose: false } => vec![Case::new(
        Prim::TriSolve { transpose: false },
        vec![Operand::Triangular(3), real(&[3], -2.0, 2.0)],
        dual(|a| forward_substitution(a[0].d(), a[1].d(), 3)),
    )],
    Prim::TriSolve { transpose: true } => vec![Case::new(
        Prim::TriSolve { transpose: true },
        vec![Operand::Triangular(3), real(&[3], -2.0, 2.0)],
        dual(|a| back_substitution_transposed(a[0].d(), a[1].d(), 3)),
    )],
    Prim::Tril => vec![Case::new(
        Prim::Tril,
        vec![real(&[3, 3], -2.0, 2.0)],
        dual(|a| {
            (0..9)
                .map(|k| if k % 3 <= k / 3 { a[0].d()[k] } else { re(0.0) })
                .collect()
        }),
    )],
    Prim::Diagonal => vec![Case::new(
        Prim::Diagonal,
        vec![real(&[3, 3], -2.0, 2.0)],
        dual(|a| (0..3).map(|i| a[0].d()[4 * i]).collect()),
    )],
    Prim::DiagMatrix => vec![Case::new(
        Prim::DiagMatrix,
        vec![real(&[3], -2.0, 2.0)],
        dual(|a| {
            (0..9)
                .map(|k| if k / 3 == k % 3 { a[0].d()[k / 3] } else { re(0.0) })
                .collect()
        }),
    )],
    Prim::MatMul { .. } => [(false, false), (true, false), (false, true), (true, true)]
        .into_iter()
        .map(|(ta, tb)| matmul_case(ta, tb))
        .collect(),
    Prim::Transpose => vec![Case::new(
        Prim::Transpose,
        vec![real(&[2, 3], -2.0, 2.0)],
        dual(|a| (0..6).map(|k| a[0].d()[(k % 2) * 3 + k / 2]).collect()),
    )],
    Prim::Reshape(_) => vec![
        Case::new(
            Prim::Reshape(vec![3, 2]),
            vec![real(&[2, 3], -2.0, 2.0)],
            dual(|a| a[0].d().to_vec()),
        ),
        // A scalar into a 1×1 matrix, and a one-element vector into a scalar.
        Case::new(
            Prim::Reshape(vec![1, 1]),
            vec![real(&[], -2.0, 2.0)],
            dual(|a| a[0].d().to_vec()),
        ),
        Case::new(
            Prim::Reshape(vec![]),
            vec![real(&[1], -2.0, 2.0)],
            dual(|a| a[0].d().to_vec()),
        ),
    ],
    Prim::Concat => vec![
        Case::new(
            Prim::Concat,
            vec![real(&[2, 2], -2.0, 2.0), real(&[1, 2], -2.0, 2.0), real(&[3, 2], -2.0, 2.0)],
            dual(|a| a.iter().flat_map(|x| x.d().to_vec()).collect()),
        ),
        Case::new(
            Prim::Concat,
            vec![real(&[3], -2.0, 2.0), real(&[2], -2.0, 2.0)],
            dual(|a| a.iter().flat_map(|x| x.d().to_vec()).collect()),
        ),
    ],
    // Rows in the middle, at the start, and all of them (the transpose pads
    // with zeros on both sides, one side, or not at all).
    Prim::Slice { .. } => vec![
        Case::new(
            Prim::Slice { start: 1, len: 2 },
            vec![real(&[4, 2], -2.0, 2.0)],
            dual(|a| a[0].d()[2..6].to_vec()),
        ),
        Case::new(
            Prim::Slice { start: 0, len: 2 },
            vec![real(&[3], -2.0, 2.0)],
            dual(|a| a[0].d()[..2].to_vec()),
        ),
        Case::new(
            Prim::Slice { start: 0, len: 3 },
            vec![real(&[3], -2.0, 2.0)],
            dual(|a| a[0].d().to_vec()),
        ),
    ],
    // Five indices into four rows: some rows are picked twice, so the
    // transpose (a scatter-add) accumulates.
    Prim::Gather => vec![
        Case::new(
            Prim::Gather,
            vec![real(&[4, 2], -2.0, 2.0), Operand::Ints { len: 5, lo: 0, hi: 4 }],
            dual(|a| {
                let x = a[0].d();
                a[1].indices().iter().flat_map(|&i| x[2 * i..2 * i + 2].to_vec()).collect()
            }),
        ),
        Case::new(
            Prim::Gather,
            vec![real(&[3], -2.0, 2.0), Operand::Ints { len: 4, lo: 0, hi: 3 }],
            dual(|a| a[1].indices().iter().map(|&i| a[0].d()[i]).collect()),
        ),
    ],
    Prim::ScatterAdd => vec![Case::new(
        Prim::ScatterAdd,
        vec![
            real(&[4, 2], -2.0, 2.0),
            Operand::Ints { len: 5, lo: 0, hi: 4 },
            real(&[5, 2], -2.0, 2.0),
        ],
        dual(|a| {
            let mut t = a[0].d().to_vec();
            for (j, i) in a[1].indices().into_iter().enumerate() {
                t[2 * i] += a[2].d()[2 * j];
                t[2 * i + 1] += a[2].d()[2 * j + 1];
            }
            t
        }),
    )],
    Prim::Reduce { .. } => vec![
        reduce_case(AxisReduction::Sum, 0, &[2, 3]),
        reduce_case(AxisReduction::Sum, 1, &[2, 3]),
        reduce_case(AxisReduction::Sum, 0, &[4]),
        reduce_case(AxisReduction::LogSumExp, 1, &[2, 3]),
        reduce_case(AxisReduction::LogSumExp, 0, &[2, 3]),
        reduce_case(AxisReduction::LogSumExp, 0, &[4]),
        reduce_case(AxisReduction::Max, 0, &[3, 2]).accept(no_ties),
        reduce_case(AxisReduction::Max, 1, &[3, 2]).accept(no_ties),
    ],
    Prim::Expand { .. } => vec![
        Case::new(
            Prim::Expand { axis: 1, n: 3 },
            vec![real(&[2], -2.0, 2.0)],
            dual(|a| (0..6).map(|k| a[0].d()[k / 3]).collect()),
        ),
        Case::new(
            Prim::Expand { axis: 0, n: 2 },
            vec![real(&[3], -2.0, 2.0)],
            dual(|a| (0..6).map(|k| a[0].d()[k % 3]).collect()),
        ),
        Case::new(
            Prim::Expand { axis: 0, n: 3 },
            vec![real(&[], -2.0, 2.0)],
            dual(|a| vec![a[0].d()[0]; 3]),
        ),
    ],

    Prim::StopGrad => vec![
        zero(Prim::StopGrad, |b, p| b.un(Prim::StopGrad, p[0])),
        // Stop-grad on one factor: only the other contributes.
        Case::new(
            Prim::StopGrad,
            vec![real(&[], -2.0, 2.0), real(&[], -2.0, 2.0)],
            dual(|a| vec![re(a[0].d()[0].re) * a[1].d()[0]]),
        )
        .body(|b, p| {
            let s = b.un(Prim::StopGrad, p[0]);
            b.mul(s, p[1])
        })
        .not_the_primal_derivative(),
    ],
    Prim::Guard { .. } => vec![
        Case::new(
            Prim::Guard { kind: GuardKind::Positive, what: "x".into() },
            vec![real(&[3], 0.1, 3.0)],
            dual(|a| a[0].d().to_vec()),
        ),
        Case::new(
            Prim::Guard { kind: GuardKind::UnitInterval, what: "p".into() },
            vec![real(&[], 0.1, 0.9)],
            dual(|a| a[0].d().to_vec()),
        ),
        Case::new(
            Prim::Guard { kind: GuardKind::Finite, what: "x".into() },
            vec![real(&[2, 2], -3.0, 3.0)],
            dual(|a| a[0].d().iter().map(|&x| x * x).collect()),
        )
        .body(|b, p| {
            let g = b.prim(Prim::Guard { kind: GuardKind::Finite, what: "x".into() }, &[p[0]]);
            b.mul(g, p[0])
        }),
        // Guards on integers carry no derivative.
        zero(
            Prim::Guard { kind: GuardKind::NonNegativeInt, what: "n".into() },
            |b, p| {
                let s = b.mul(p[0], p[0]);
                let i = b.un(Prim::F64ToInt, s);
                let g = b.prim(Prim::Guard { kind: GuardKind::NonNegativeInt, what: "n".into() }, &[i]);
                b.un(Prim::IntToF64, g)
            },
        ),
    ],

    // Host functions, through the test registry (`host_functions`): the
    // rules sum the host's partial derivatives, which are not themselves
    // differentiable.
    Prim::Host { .. } => vec![
        Case::new(
            Prim::Host { id: 0, arity: 2 },
            vec![real(&[], -2.0, 2.0), real(&[], -3.0, 3.0)],
            dual(|a| {
                let (x, y) = (a[0].d()[0], a[1].d()[0]);
                vec![x * y.sin() + x * x * 0.5]
            }),
        ),
        Case::new(
            Prim::Host { id: 1, arity: 1 },
            vec![real(&[], -2.0, 2.0)],
            dual(|a| {
                let x = a[0].d()[0];
                vec![x * x * x - x * 2.0]
            }),
        ),
    ],
    Prim::HostPartial { .. } => vec![Case::new(
        Prim::HostPartial { id: 0, arity: 2, wrt: 1 },
        vec![real(&[], -2.0, 2.0), real(&[], -3.0, 3.0)],
        Reference::Error,
    )],
}

/// `matmul` with the transpose flags `ta`, `tb`, of operands whose
/// oriented shapes are 2×3 and 3×4.
fn matmul_case(ta: bool, tb: bool) -> Case {
    let a_shape: &[usize] = if ta { &[3, 2] } else { &[2, 3] };
    let b_shape: &[usize] = if tb { &[4, 3] } else { &[3, 4] };
    Case::new(
        Prim::MatMul {
            transpose_a: ta,
            transpose_b: tb,
        },
        vec![real(a_shape, -2.0, 2.0), real(b_shape, -2.0, 2.0)],
        dual(move |args| {
            let (a, b) = (args[0].d(), args[1].d());
            let at = |i: usize, k: usize| if ta { a[k * 2 + i] } else { a[i * 3 + k] };
            let bt = |k: usize, j: usize| if tb { b[j * 3 + k] } else { b[k * 4 + j] };
            (0..8)
                .map(|e| {
                    let (i, j) = (e / 4, e % 4);
                    (0..3).fold(re(0.0), |s, k| s + at(i, k) * bt(k, j))
                })
                .collect()
        }),
    )
}

/// An axis reduction of a real operand of `shape` (rank ≤ 2), against the
/// same reduction written over num-dual lanes.
fn reduce_case(op: AxisReduction, axis: usize, shape: &[usize]) -> Case {
    let shape = shape.to_vec();
    let dims = shape.clone();
    Case::new(
        Prim::Reduce { op, axis },
        vec![real(&shape, -3.0, 3.0)],
        dual(move |a| {
            let x = a[0].d();
            // Rows × columns, with a vector as one row.
            let (rows, cols) = if dims.len() == 2 {
                (dims[0], dims[1])
            } else {
                (1, dims[0])
            };
            let lanes: Vec<Vec<Dual64>> = if dims.len() == 2 && axis == 0 {
                (0..cols)
                    .map(|c| (0..rows).map(|r| x[r * cols + c]).collect())
                    .collect()
            } else {
                (0..rows)
                    .map(|r| x[r * cols..(r + 1) * cols].to_vec())
                    .collect()
            };
            lanes
                .iter()
                .map(|lane| match op {
                    AxisReduction::Sum => dual_sum(lane),
                    AxisReduction::LogSumExp => {
                        let exps: Vec<Dual64> = lane.iter().map(|x| x.exp()).collect();
                        dual_sum(&exps).ln()
                    }
                    AxisReduction::Max => lane
                        .iter()
                        .copied()
                        .fold(lane[0], |m, x| if x.re > m.re { x } else { m }),
                })
                .collect()
        }),
    )
}

/// `L⁻¹ b` reading only the lower triangle of the row-major `n × n` `l`.
fn forward_substitution(l: &[Dual64], rhs: &[Dual64], n: usize) -> Vec<Dual64> {
    let mut z: Vec<Dual64> = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = rhs[i];
        for (j, zj) in z.iter().enumerate() {
            s -= l[i * n + j] * *zj;
        }
        z.push(s / l[i * n + i]);
    }
    z
}

/// `L⁻ᵀ b` reading only the lower triangle of the row-major `n × n` `l`.
fn back_substitution_transposed(l: &[Dual64], rhs: &[Dual64], n: usize) -> Vec<Dual64> {
    let mut z = vec![re(0.0); n];
    for i in (0..n).rev() {
        let mut s = rhs[i];
        for j in i + 1..n {
            s -= l[j * n + i] * z[j];
        }
        z[i] = s / l[i * n + i];
    }
    z
}

// ---- tests ----------------------------------------------------------------

#[test]
fn every_primitive_has_a_row_and_its_cases_use_it() {
    for (row, cases) in table() {
        assert!(!cases.is_empty(), "row `{row}` has no cases");
        for case in &cases {
            assert_eq!(
                row_of(&case.prim),
                row,
                "{} is listed under `{row}`",
                case.label()
            );
        }
    }
}

#[test]
fn derivative_rules_match_num_dual_finite_differences_and_their_transposes() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(0x5eed_0001);
    let mut worst = Worst::default();
    let mut count = 0;
    for (_, cases) in table() {
        for case in &cases {
            check_case(case, &mut rng, &mut worst);
            count += 1;
        }
    }
    println!(
        "{count} cases; worst errors: num-dual {:e}, finite differences {:e}, transpose {:e}",
        worst.dual, worst.fd, worst.transpose
    );
}

/// `gamma_p`'s derivative in `a` is `gamma_p_da`, which has no derivative:
/// differentiating `gamma_p` twice in `a` is a transform error (naming the
/// primitive), not a panic; twice in `x` is fine.
#[test]
fn second_derivative_of_gamma_p_in_its_shape_is_an_error() {
    let case = Case::new(
        Prim::GammaP,
        vec![real(&[], 0.5, 5.0), real(&[], 0.2, 6.0)],
        Reference::Richardson,
    );
    let f = case.function();
    let grad_a = vjp(&f, &[true, false], &[true]).expect("first derivative in a");
    verify(&grad_a).expect("verifies");
    // grad_a(a, x, seed) -> (P, ∂P/∂a · seed)
    let err = vjp(&grad_a, &[true, false, false], &[false, true]).expect_err("second in a");
    assert!(err.message.contains("gamma_p_da"), "{err}");
    let err = jvp(&grad_a, &[true, true, false]).expect_err("forward over reverse");
    assert!(err.message.contains("gamma_p_da"), "{err}");

    let grad_x = vjp(&f, &[false, true], &[true]).expect("first derivative in x");
    let hess_x = vjp(&grad_x, &[false, true, false], &[false, true]).expect("second in x");
    verify(&hess_x).expect("verifies");
    // ∂²P/∂x² = ∂/∂x [x^(a−1) e^(−x) / Γ(a)] = P_x · ((a − 1)/x − 1).
    let (a, x) = (2.5, 1.7);
    let out = run_fn(
        &hess_x,
        &[Value::F(a), Value::F(x), Value::F(1.0), Value::F(1.0)],
    );
    let p_x = ((a - 1.0) * f64::ln(x) - x - vprog_compiler::special::ln_gamma(a)).exp();
    let want = p_x * ((a - 1.0) / x - 1.0);
    let got = out[2].as_f64().expect("scalar");
    assert!(
        (got - want).abs() <= 1e-13 * want.abs().max(1.0),
        "{got} vs {want}"
    );
}
