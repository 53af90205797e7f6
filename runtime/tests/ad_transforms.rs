//! The AD transforms on whole programs: straight-line code, `if`, `for`
//! loops with carries and stacked outputs, nested loops, loops indexing an
//! outer vector, dynamic trip counts, keyed draws inside loops, and second
//! derivatives.
//!
//! Each program is written in the textual IR (so the test shows exactly
//! what is differentiated) and checked at seeded random points by
//! [`check_first_order`]:
//!
//! * the Jacobian built column by column with `jvp` equals the one built row
//!   by row with `vjp` (tolerance [`AGREEMENT_TOLERANCE`] = 1e-12 relative
//!   to `max(|entry|, 1)`: both are exact up to a few roundings);
//! * `⟨J v, u⟩ = ⟨v, Jᵀ u⟩` for random `v`, `u`
//!   ([`TRANSPOSE_TOLERANCE`] = 1e-12 relative to the sum of |terms|);
//! * `J v` matches a Richardson difference of the interpreted program along
//!   `v` ([`FD_TOLERANCE`] = 1e-8; three central differences at steps
//!   2e-3, 1e-3, 5e-4, truncation `O(h⁶)`, rounding ≈ 1e-13 · |f|);
//! * the verifier accepts the transformed functions, and `simplify`
//!   preserves every result exactly (it only folds, shares and deletes).
//!
//! [`check_second_order`] differentiates the derivative programs again —
//! forward over reverse, reverse over reverse, reverse over forward and
//! forward over forward — and checks the Hessian-vector products against each
//! other and against a Richardson difference of the gradient program
//! (tolerance [`FD_TOLERANCE`] again; the gradient is evaluated to rounding
//! error, so the difference is as accurate as for first derivatives).
//!
//! Points keep away from the branch boundary of `if` conditions by more
//! than the finite-difference step.

use ndarray::{ArrayD, IxDyn};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use vprog_compiler::ir::{Function, read_function, verify::verify};
use vprog_compiler::transform::{jvp::jvp, simplify::simplify, vjp::vjp};
use vprog_runtime::interp::{RunContext, run};
use vprog_runtime::rng::RunKey;
use vprog_runtime::value::Value;

/// Jacobian from `jvp` columns vs from `vjp` rows.
const AGREEMENT_TOLERANCE: f64 = 1e-12;
/// `⟨J v, u⟩ = ⟨v, Jᵀ u⟩`, relative to the sum of |terms|.
const TRANSPOSE_TOLERANCE: f64 = 1e-12;
/// Derivatives against Richardson differences.
const FD_TOLERANCE: f64 = 1e-8;
/// The largest Richardson step.
const FD_STEP: f64 = 2e-3;

type Rng = Xoshiro256PlusPlus;

// ---- values -----------------------------------------------------------------

fn f64_value(shape: &[usize], xs: Vec<f64>) -> Value {
    if shape.is_empty() {
        Value::F(xs[0])
    } else {
        Value::from_f64_array(ArrayD::from_shape_vec(IxDyn(shape), xs).expect("shape"))
    }
}

fn uniform(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Value {
    let n = shape.iter().product();
    f64_value(shape, (0..n).map(|_| rng.random_range(lo..hi)).collect())
}

/// Random values shaped like `like`, uniform in [−1, 1).
fn direction(rng: &mut Rng, like: &Value) -> Value {
    uniform(rng, like.shape(), -1.0, 1.0)
}

/// `x + t · d`, elementwise.
fn moved(x: &Value, d: &Value, t: f64) -> Value {
    let xs = x.f64_elements();
    let ds = d.f64_elements();
    f64_value(
        x.shape(),
        xs.iter().zip(&ds).map(|(x, d)| x + t * d).collect(),
    )
}

fn dot(a: &[Value], b: &[Value]) -> (f64, f64) {
    let mut sum = 0.0;
    let mut scale = 0.0;
    for (a, b) in a.iter().zip(b) {
        for (x, y) in a.f64_elements().iter().zip(b.f64_elements()) {
            sum += x * y;
            scale += (x * y).abs();
        }
    }
    (sum, scale)
}

fn flat(vs: &[Value]) -> Vec<f64> {
    vs.iter().flat_map(Value::f64_elements).collect()
}

/// `‖got − want‖∞ / max(‖want‖∞, 1)`.
fn error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let max = |xs: &mut dyn Iterator<Item = f64>| xs.fold(0.0f64, |m, x| m.max(x.abs()));
    let e = max(&mut got.iter().zip(want).map(|(g, w)| g - w))
        / max(&mut want.iter().copied()).max(1.0);
    if e.is_nan() { f64::INFINITY } else { e }
}

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

fn run_fn(f: &Function, args: &[Value]) -> Vec<Value> {
    run(f, args, &mut RunContext::new(RunKey::new(7, 0, 0)))
        .unwrap_or_else(|e| panic!("running {}: {e}", f.name))
}

fn read(text: &str) -> Function {
    let f = read_function(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    verify(&f).unwrap_or_else(|e| panic!("{e}\n{text}"));
    f
}

/// Verifies `f`, checks that `simplify` preserves its results on `args`
/// exactly, and returns its results.
fn run_checked(f: &Function, args: &[Value]) -> Vec<Value> {
    verify(f).unwrap_or_else(|e| panic!("{}: {e}", f.name));
    let out = run_fn(f, args);
    let simple = simplify(f);
    verify(&simple).unwrap_or_else(|e| panic!("{} simplified: {e}", f.name));
    assert_eq!(
        flat(&run_fn(&simple, args)),
        flat(&out),
        "{}: simplify changed the results",
        f.name
    );
    out
}

// ---- the harness ---------------------------------------------------------------

/// Which parameters are `f64` (differentiated) and which results are.
fn differentiable(f: &Function) -> (Vec<bool>, usize) {
    let wrt: Vec<bool> = f
        .param_types()
        .iter()
        .map(|t| t.is_differentiable())
        .collect();
    let results = f.result_types();
    assert!(
        results.iter().all(|t| t.is_differentiable()),
        "{}: the harness seeds every result",
        f.name
    );
    (wrt, results.len())
}

/// First-order checks of `f` at `args` (see the module docs).
fn check_first_order(f: &Function, args: &[Value], rng: &mut Rng) {
    let (wrt, n_out) = differentiable(f);
    let active: Vec<usize> = (0..wrt.len()).filter(|&i| wrt[i]).collect();
    let f_jvp = jvp(f, &wrt).unwrap_or_else(|e| panic!("{}: jvp: {e}", f.name));
    let f_vjp = vjp(f, &wrt, &vec![true; n_out]).unwrap_or_else(|e| panic!("{}: vjp: {e}", f.name));
    let out = run_checked(f, args);
    let at = format!("{} at {args:?}", f.name);

    let tangent_of = |v: &[Value]| -> Vec<Value> {
        let mut a = args.to_vec();
        a.extend_from_slice(v);
        let r = run_checked(&f_jvp, &a);
        assert_eq!(flat(&r[..n_out]), flat(&out), "{at}: jvp primal");
        r[n_out..].to_vec()
    };
    let cotangent_of = |u: &[Value]| -> Vec<Value> {
        let mut a = args.to_vec();
        a.extend_from_slice(u);
        let r = run_checked(&f_vjp, &a);
        assert_eq!(flat(&r[..n_out]), flat(&out), "{at}: vjp primal");
        r[n_out..].to_vec()
    };

    // The Jacobian by columns (jvp of basis tangents) and by rows (vjp of
    // basis cotangents).
    let in_sizes: Vec<usize> = active
        .iter()
        .map(|&i| args[i].f64_elements().len())
        .collect();
    let out_sizes: Vec<usize> = out.iter().map(|v| v.f64_elements().len()).collect();
    let (n_in, n_res): (usize, usize) = (in_sizes.iter().sum(), out_sizes.iter().sum());
    let basis = |k: usize, like: &[&Value]| -> Vec<Value> {
        let mut offset = 0;
        like.iter()
            .map(|v| {
                let n = v.f64_elements().len();
                let xs = (0..n)
                    .map(|j| f64::from(u8::from(offset + j == k)))
                    .collect();
                offset += n;
                f64_value(v.shape(), xs)
            })
            .collect()
    };
    let inputs: Vec<&Value> = active.iter().map(|&i| &args[i]).collect();
    let outputs: Vec<&Value> = out.iter().collect();
    let by_columns: Vec<Vec<f64>> = (0..n_in)
        .map(|k| flat(&tangent_of(&basis(k, &inputs))))
        .collect();
    let by_rows: Vec<Vec<f64>> = (0..n_res)
        .map(|r| flat(&cotangent_of(&basis(r, &outputs))))
        .collect();
    for r in 0..n_res {
        let column_entries: Vec<f64> = (0..n_in).map(|k| by_columns[k][r]).collect();
        let e = error(&by_rows[r], &column_entries);
        assert!(
            e <= AGREEMENT_TOLERANCE,
            "{at}: Jacobian row {r}: vjp {:?} vs jvp {column_entries:?}",
            by_rows[r]
        );
    }

    // Random directions: transpose identity and finite differences.
    let v: Vec<Value> = inputs.iter().map(|x| direction(rng, x)).collect();
    let u: Vec<Value> = out.iter().map(|y| direction(rng, y)).collect();
    let jv = tangent_of(&v);
    let jtu = cotangent_of(&u);
    let (lhs, s1) = dot(&jv, &u);
    let (rhs, s2) = dot(&v, &jtu);
    let e = (lhs - rhs).abs() / (s1 + s2).max(f64::MIN_POSITIVE);
    assert!(
        e <= TRANSPOSE_TOLERANCE,
        "{at}: <Jv,u> = {lhs}, <v,J^T u> = {rhs}"
    );
    let along = |t: f64| -> Vec<f64> {
        let mut a = args.to_vec();
        for (&i, d) in active.iter().zip(&v) {
            a[i] = moved(&args[i], d, t);
        }
        flat(&run_fn(f, &a))
    };
    let fd = richardson(along, FD_STEP);
    let e = error(&flat(&jv), &fd);
    assert!(
        e <= FD_TOLERANCE,
        "{at}: jvp {:?} vs finite differences {fd:?} ({e:e})",
        flat(&jv)
    );
}

/// Second-order checks of a one-result `f` at `args`: four ways of
/// computing Hessian-vector products, against each other and against
/// finite differences of the gradient.
fn check_second_order(f: &Function, args: &[Value], rng: &mut Rng) {
    let (wrt, n_out) = differentiable(f);
    assert_eq!(n_out, 1, "{}: second-order checks need one result", f.name);
    let active: Vec<usize> = (0..wrt.len()).filter(|&i| wrt[i]).collect();
    let k = active.len();
    let at = format!("{} at {args:?}", f.name);
    let v: Vec<Value> = active.iter().map(|&i| direction(rng, &args[i])).collect();
    let w: Vec<Value> = active.iter().map(|&i| direction(rng, &args[i])).collect();
    let one = Value::F(1.0);
    let with = |extra: &[&[Value]]| -> Vec<Value> {
        let mut a = args.to_vec();
        for e in extra {
            a.extend_from_slice(e);
        }
        a
    };

    // g(p, u) = (f, ∇f · u): the gradient program.
    let grad = vjp(f, &wrt, &[true]).expect("vjp");
    let mut wrt_grad = wrt.clone();
    wrt_grad.push(false);
    // Forward over reverse: the tangent of ∇f along v is H v.
    let fwd_rev = jvp(&grad, &wrt_grad).expect("jvp of vjp");
    let out = run_checked(&fwd_rev, &with(&[std::slice::from_ref(&one), &v]));
    let hv = out[2 + k..].to_vec();
    assert_eq!(hv.len(), k);
    // Reverse over reverse: the cotangent of ⟨∇f, w⟩ is H w.
    let mut seed = vec![false];
    seed.extend(vec![true; k]);
    let rev_rev = vjp(&grad, &wrt_grad, &seed).expect("vjp of vjp");
    let hw = run_checked(&rev_rev, &with(&[std::slice::from_ref(&one), &w]))[1 + k..].to_vec();
    // j(p, v) = (f, ∇f · v): the tangent program.
    let tangent = jvp(f, &wrt).expect("jvp");
    let mut wrt_tangent = wrt.clone();
    wrt_tangent.extend(vec![false; k]);
    // Reverse over forward: the cotangent of ∇f · v is H v.
    let rev_fwd = vjp(&tangent, &wrt_tangent, &[false, true]).expect("vjp of jvp");
    let hv_rf = run_checked(&rev_fwd, &with(&[&v, std::slice::from_ref(&one)]))[2..].to_vec();
    // Forward over forward, along v twice: vᵀ H v.
    let fwd_fwd = jvp(&tangent, &wrt_tangent).expect("jvp of jvp");
    let vhv = run_checked(&fwd_fwd, &with(&[&v, &v]))[3]
        .as_f64()
        .expect("scalar");

    let e = error(&flat(&hv_rf), &flat(&hv));
    assert!(
        e <= AGREEMENT_TOLERANCE,
        "{at}: reverse-over-forward {hv_rf:?} vs forward-over-reverse {hv:?}"
    );
    let (a, s1) = dot(&w, &hv);
    let (b, s2) = dot(&v, &hw);
    assert!(
        (a - b).abs() <= 1e-11 * (s1 + s2),
        "{at}: <w, Hv> = {a} but <v, Hw> = {b}"
    );
    let (c, s3) = dot(&v, &hv);
    assert!(
        (c - vhv).abs() <= 1e-11 * s3.max(f64::MIN_POSITIVE),
        "{at}: <v, Hv> = {c}, forward over forward {vhv}"
    );

    let gradient_along = |t: f64| -> Vec<f64> {
        let mut a = args.to_vec();
        for (&i, d) in active.iter().zip(&v) {
            a[i] = moved(&args[i], d, t);
        }
        a.push(one.clone());
        flat(&run_fn(&grad, &a)[1..])
    };
    let fd = richardson(gradient_along, FD_STEP);
    let e = error(&flat(&hv), &fd);
    assert!(
        e <= FD_TOLERANCE,
        "{at}: Hv {:?} vs finite differences of the gradient {fd:?} ({e:e})",
        flat(&hv)
    );
}

// ---- programs ----------------------------------------------------------------

/// Two results from straight-line scalar code.
const STRAIGHT_LINE: &str = "
func @straight_line(%x: f64, %y: f64) -> (f64, f64) {
  %xy = mul %x, %y : f64
  %s = sin %xy : f64
  %ex = exp %x : f64
  %q = div %ex, %y : f64
  %r1 = add %s, %q : f64
  %xx = mul %x, %x : f64
  %yy = mul %y, %y : f64
  %n = add %xx, %yy : f64
  %l = log %n : f64
  %t = tanh %y : f64
  %r2 = mul %l, %t : f64
  return %r1, %r2
}";

/// Straight-line tensor code: a softmax regression loss.
const TENSORS: &str = "
func @tensors(%w: f64[3,2], %x: f64[2], %b: f64[3]) -> (f64) {
  %wx = matvec %w, %x : f64[3]
  %z = add %wx, %b : f64[3]
  %lse = logsumexp %z : f64
  %zero = const 0 : i64
  %z0 = index %z, %zero : f64
  %nll = sub %lse, %z0 : f64
  %ww = mul %w, %w : f64[3,2]
  %reg = sum %ww : f64
  %c = const 0.1 : f64
  %creg = mul %c, %reg : f64
  %loss = add %nll, %creg : f64
  return %loss
}";

/// A parameter that does not reach the result gets a zero cotangent.
const UNUSED_PARAMETER: &str = "
func @unused_parameter(%x: f64, %y: f64) -> (f64) {
  %xx = mul %x, %x : f64
  return %xx
}";

/// Both branches of an `if`, using values from outside it.
const BRANCH: &str = "
func @branch(%x: f64, %y: f64) -> (f64) {
  %c = gt %x, %y : bool
  %r = if %c : f64 {
    %xx = mul %x, %x : f64
    %a = mul %xx, %y : f64
    yield %a
  } else {
    %s = sin %y : f64
    %e = exp %y : f64
    %xe = mul %x, %e : f64
    %b = sub %s, %xe : f64
    yield %b
  }
  %out = mul %r, %x : f64
  return %out
}";

/// x⁵ by repeated multiplication in a loop carry.
const POWER: &str = "
func @power(%x: f64) -> (f64) {
  %lo = const 0 : i64
  %hi = const 5 : i64
  %one = const 1.0 : f64
  %p = for<stacked=0> %lo, %hi, %one : f64 {
    (%i: i64, %acc: f64):
    %next = mul %acc, %x : f64
    yield %next
  }
  return %p
}";

/// A running logsumexp over an outer vector scaled by θ.
const RUNNING_LOGSUMEXP: &str = "
func @running_logsumexp(%theta: f64, %v: f64[6]) -> (f64) {
  %lo = const 0 : i64
  %hi = const 6 : i64
  %zero = const 0.0 : f64
  %r = for<stacked=0> %lo, %hi, %zero : f64 {
    (%i: i64, %acc: f64):
    %vi = index %v, %i : f64
    %t = mul %theta, %vi : f64
    %pair = pack %acc, %t : f64[2]
    %next = logsumexp %pair : f64
    yield %next
  }
  return %r
}";

/// A comprehension: a stacked per-iteration output, returned and reduced.
const COMPREHENSION: &str = "
func @comprehension(%x: f64, %v: f64[4]) -> (f64[4], f64) {
  %lo = const 0 : i64
  %hi = const 4 : i64
  %ys = for<stacked=1> %lo, %hi : f64[4] {
    (%i: i64):
    %vi = index %v, %i : f64
    %xv = mul %x, %vi : f64
    %s = sin %xv : f64
    %fi = int_to_f64 %i : f64
    %y = add %s, %fi : f64
    yield %y
  }
  %sq = mul %ys, %ys : f64[4]
  %total = sum %sq : f64
  return %ys, %total
}";

/// Nested loops: the inner loop's carry starts from the outer carry and
/// reads values of both loops and the parameters.
const NESTED: &str = "
func @nested(%w: f64[3], %x: f64[2]) -> (f64) {
  %lo = const 0 : i64
  %n = const 3 : i64
  %m = const 2 : i64
  %one = const 1.0 : f64
  %r = for<stacked=0> %lo, %n, %one : f64 {
    (%i: i64, %a: f64):
    %wi = index %w, %i : f64
    %inner = for<stacked=0> %lo, %m, %a : f64 {
      (%j: i64, %b: f64):
      %xj = index %x, %j : f64
      %s = add %wi, %xj : f64
      %t = tanh %s : f64
      %bt = mul %b, %t : f64
      %next = add %bt, %xj : f64
      yield %next
    }
    yield %inner
  }
  return %r
}";

/// Nested comprehensions: a matrix M[i][j] = w[i] · x[j]², then
/// logsumexp(M).
const NESTED_COMPREHENSION: &str = "
func @nested_comprehension(%w: f64[3], %x: f64[2]) -> (f64) {
  %lo = const 0 : i64
  %n = const 3 : i64
  %m = const 2 : i64
  %rows = for<stacked=1> %lo, %n : f64[3,2] {
    (%i: i64):
    %wi = index %w, %i : f64
    %row = for<stacked=1> %lo, %m : f64[2] {
      (%j: i64):
      %xj = index %x, %j : f64
      %xx = mul %xj, %xj : f64
      %e = mul %wi, %xx : f64
      yield %e
    }
    yield %row
  }
  %r = logsumexp %rows : f64
  return %r
}";

/// An `if` inside a loop, choosing per element of an outer vector.
const LOOP_WITH_BRANCH: &str = "
func @loop_with_branch(%x: f64, %v: f64[5]) -> (f64) {
  %lo = const 0 : i64
  %hi = const 5 : i64
  %one = const 1.0 : f64
  %zero = const 0.0 : f64
  %r = for<stacked=0> %lo, %hi, %one : f64 {
    (%i: i64, %acc: f64):
    %vi = index %v, %i : f64
    %c = gt %vi, %zero : bool
    %next = if %c : f64 {
      %t = mul %acc, %x : f64
      %u = mul %t, %vi : f64
      yield %u
    } else {
      %t = mul %vi, %x : f64
      %s = sin %t : f64
      %u = add %acc, %s : f64
      yield %u
    }
    yield %next
  }
  return %r
}";

/// Trip counts known only at run time (`lo`, `hi` parameters), two carries
/// and a dynamically sized stacked output. (The sum of the cosines is
/// carried rather than taken with `sum` of the stacked output: see
/// [`derivatives_that_broadcast_over_dynamic_sizes`].)
const DYNAMIC: &str = "
func @dynamic(%x: f64, %lo: i64, %hi: i64) -> (f64, f64[?], f64) {
  %one = const 1.0 : f64
  %zero = const 0.0 : f64
  %p, %s, %ys = for<stacked=1> %lo, %hi, %one, %zero : f64, f64, f64[?] {
    (%i: i64, %acc: f64, %sum: f64):
    %fi = int_to_f64 %i : f64
    %t = add %x, %fi : f64
    %next = mul %acc, %t : f64
    %c = cos %t : f64
    %more = add %sum, %c : f64
    yield %next, %more, %c
  }
  return %p, %ys, %s
}";

/// A triangular double loop: the inner trip count is the outer index, so
/// the inner loop's residuals have a different length in every outer
/// iteration (they cannot be stacked into one rectangular array).
const TRIANGULAR: &str = "
func @triangular(%x: f64, %w: f64[4]) -> (f64) {
  %lo = const 0 : i64
  %n = const 4 : i64
  %zero = const 0.0 : f64
  %r = for<stacked=0> %lo, %n, %zero : f64 {
    (%i: i64, %acc: f64):
    %wi = index %w, %i : f64
    %inner = for<stacked=0> %lo, %i, %acc : f64 {
      (%j: i64, %b: f64):
      %wj = index %w, %j : f64
      %p = mul %wi, %wj : f64
      %s = add %p, %x : f64
      %t = tanh %s : f64
      %next = add %b, %t : f64
      yield %next
    }
    yield %inner
  }
  return %r
}";

/// The scalar part of `DYNAMIC`, for second derivatives.
const DYNAMIC_SCALAR: &str = "
func @dynamic_scalar(%x: f64, %n: i64) -> (f64) {
  %lo = const 0 : i64
  %one = const 1.0 : f64
  %zero = const 0.0 : f64
  %p, %s = for<stacked=0> %lo, %n, %one, %zero : f64, f64 {
    (%i: i64, %acc: f64, %sum: f64):
    %fi = int_to_f64 %i : f64
    %t = add %x, %fi : f64
    %next = mul %acc, %t : f64
    %c = cos %t : f64
    %more = add %sum, %c : f64
    yield %next, %more
  }
  %r = add %p, %s : f64
  return %r
}";

/// `%ys = [x, x + 1, …, x + n − 1]`, stacked by a loop with a run-time
/// trip count (type `f64[?]`), then `{op}`.
fn dynamic_then(op: &str, result: &str) -> String {
    format!(
        "
func @dynamic_then(%x: f64, %n: i64) -> ({result}) {{
  %lo = const 0 : i64
  %ys = for<stacked=1> %lo, %n : f64[?] {{
    (%i: i64):
    %fi = int_to_f64 %i : f64
    %t = add %x, %fi : f64
    yield %t
  }}
  %r = {op} : {result}
  return %r
}}"
    )
}

/// Keyed draws inside a loop: the reverse sweep recomputes the body, and
/// must see the same draws (keyed by site and loop index).
const DRAWS_IN_LOOP: &str = "
func @draws_in_loop(%mu: f64, %sigma: f64) -> (f64) {
  %lo = const 0 : i64
  %hi = const 3 : i64
  %zero = const 0.0 : f64
  %one = const 1.0 : f64
  %r = for<stacked=0> %lo, %hi, %zero : f64 {
    (%i: i64, %acc: f64):
    %z = draw<normal, site=0, stream=0, params=2> %zero, %one, %i : f64
    %sz = mul %sigma, %z : f64
    %x = add %mu, %sz : f64
    %xx = mul %x, %x : f64
    %next = add %acc, %xx : f64
    yield %next
  }
  return %r
}";

// ---- tests -----------------------------------------------------------------------

fn rng(seed: u64) -> Rng {
    Rng::seed_from_u64(seed)
}

#[test]
fn straight_line_code() {
    let f = read(STRAIGHT_LINE);
    let mut rng = rng(1);
    for _ in 0..5 {
        let args = vec![
            uniform(&mut rng, &[], -1.5, 1.5),
            uniform(&mut rng, &[], 0.5, 2.0),
        ];
        check_first_order(&f, &args, &mut rng);
    }
}

#[test]
fn straight_line_tensor_code() {
    let f = read(TENSORS);
    let mut rng = rng(2);
    for _ in 0..3 {
        let args = vec![
            uniform(&mut rng, &[3, 2], -1.0, 1.0),
            uniform(&mut rng, &[2], -1.0, 1.0),
            uniform(&mut rng, &[3], -1.0, 1.0),
        ];
        check_first_order(&f, &args, &mut rng);
        check_second_order(&f, &args, &mut rng);
    }
}

#[test]
fn unused_parameter_gets_a_zero_cotangent() {
    let f = read(UNUSED_PARAMETER);
    let mut rng = rng(3);
    let args = vec![Value::F(0.7), Value::F(-1.3)];
    check_first_order(&f, &args, &mut rng);
    let g = vjp(&f, &[true, true], &[true]).expect("vjp");
    let out = run_fn(&g, &[Value::F(0.7), Value::F(-1.3), Value::F(1.0)]);
    assert_eq!(out[2], Value::F(0.0));
}

#[test]
fn both_branches_of_an_if() {
    let f = read(BRANCH);
    let mut rng = rng(4);
    for k in 0..6 {
        let y = rng.random_range(-1.0..1.0);
        let gap = rng.random_range(0.1..1.0);
        // Alternate branches: x > y (then) and x < y (else).
        let x = if k % 2 == 0 { y + gap } else { y - gap };
        let args = vec![Value::F(x), Value::F(y)];
        check_first_order(&f, &args, &mut rng);
        check_second_order(&f, &args, &mut rng);
    }
}

#[test]
fn loop_carry_repeated_multiplication() {
    let f = read(POWER);
    let mut rng = rng(5);
    for _ in 0..4 {
        let x = rng.random_range(-1.5..1.5);
        check_first_order(&f, &[Value::F(x)], &mut rng);
        check_second_order(&f, &[Value::F(x)], &mut rng);
        // Against the closed forms 5x⁴ and 20x³.
        let g = vjp(&f, &[true], &[true]).expect("vjp");
        let d = run_fn(&g, &[Value::F(x), Value::F(1.0)])[1]
            .as_f64()
            .expect("scalar");
        assert!((d - 5.0 * x.powi(4)).abs() <= 1e-13 * (5.0 * x.powi(4)).max(1.0));
        let h = vjp(&g, &[true, false], &[false, true]).expect("vjp of vjp");
        let dd = run_fn(&h, &[Value::F(x), Value::F(1.0), Value::F(1.0)])[2]
            .as_f64()
            .expect("scalar");
        assert!((dd - 20.0 * x.powi(3)).abs() <= 1e-13 * (20.0 * x.powi(3)).abs().max(1.0));
    }
}

#[test]
fn loop_carry_running_logsumexp_over_an_outer_vector() {
    let f = read(RUNNING_LOGSUMEXP);
    let mut rng = rng(6);
    for _ in 0..3 {
        let args = vec![
            uniform(&mut rng, &[], 0.5, 2.0),
            uniform(&mut rng, &[6], -2.0, 2.0),
        ];
        check_first_order(&f, &args, &mut rng);
        check_second_order(&f, &args, &mut rng);
    }
}

#[test]
fn stacked_outputs_of_a_comprehension() {
    let f = read(COMPREHENSION);
    let mut rng = rng(7);
    for _ in 0..3 {
        let args = vec![
            uniform(&mut rng, &[], -1.0, 1.0),
            uniform(&mut rng, &[4], -2.0, 2.0),
        ];
        check_first_order(&f, &args, &mut rng);
    }
}

#[test]
fn nested_loops() {
    let mut rng = rng(8);
    for text in [NESTED, NESTED_COMPREHENSION] {
        let f = read(text);
        for _ in 0..3 {
            let args = vec![
                uniform(&mut rng, &[3], -1.0, 1.0),
                uniform(&mut rng, &[2], -1.0, 1.0),
            ];
            check_first_order(&f, &args, &mut rng);
            check_second_order(&f, &args, &mut rng);
        }
    }
}

#[test]
fn branch_inside_a_loop() {
    let f = read(LOOP_WITH_BRANCH);
    let mut rng = rng(9);
    for _ in 0..4 {
        let args = vec![
            uniform(&mut rng, &[], -1.0, 1.0),
            uniform(&mut rng, &[5], -2.0, 2.0),
        ];
        check_first_order(&f, &args, &mut rng);
        check_second_order(&f, &args, &mut rng);
    }
}

#[test]
fn triangular_loops() {
    let f = read(TRIANGULAR);
    let mut rng = rng(14);
    for _ in 0..3 {
        let args = vec![
            uniform(&mut rng, &[], -1.0, 1.0),
            uniform(&mut rng, &[4], -1.0, 1.0),
        ];
        check_first_order(&f, &args, &mut rng);
        check_second_order(&f, &args, &mut rng);
    }
}

#[test]
fn dynamic_trip_counts_including_empty_loops() {
    let f = read(DYNAMIC);
    let scalar = read(DYNAMIC_SCALAR);
    let mut rng = rng(10);
    // Derivatives that do not build a constant of the dynamic type work.
    for (op, result) in [("mul %ys, %ys", "f64[?]"), ("exp %ys", "f64[?]")] {
        let g = read(&dynamic_then(op, result));
        check_first_order(&g, &[Value::F(0.3), Value::I(3)], &mut rng);
    }
    // Empty ranges: hi = lo and hi < lo. (Non-empty ranges with lo ≠ 0
    // are in `loops_that_do_not_start_at_zero`.)
    for (lo, hi) in [(0, 0), (0, 1), (0, 4), (3, 3), (3, 1)] {
        let x = rng.random_range(-1.0..1.0);
        check_first_order(&f, &[Value::F(x), Value::I(lo), Value::I(hi)], &mut rng);
    }
    for n in [0, 1, 4] {
        let x = rng.random_range(-1.0..1.0);
        check_first_order(&scalar, &[Value::F(x), Value::I(n)], &mut rng);
    }
    // Second derivatives: in `derivatives_that_broadcast_over_dynamic_sizes`.
}

/// BUG (transform rules in `prim/ad.rs` with `Builder::full`/`zeros`/
/// `broadcast_like`): a derivative rule that needs a constant or broadcast
/// tensor shaped like a value whose leading dimension is dynamic (`f64[?]`,
/// the stacked output of a loop with run-time bounds) emits
/// `broadcast<18446744073709551615>` — `DYNAMIC` used as an extent. The
/// verifier accepts it; the interpreter panics inside ndarray ("Shape too
/// large") instead of returning an error. Affected at `x = 0.3, n = 3`:
/// the vjp of `sum` (broadcast of the cotangent), of `index` (zeros to
/// `index_add` into), of `logsumexp`/`reduce_max` (both rules), and both
/// rules of elementwise primitives whose derivative uses `ones_like`
/// (`log`, `sqrt`, `tanh`, ...). Expected: the derivatives of
/// `sum ys = Σ (x + i)` → 3, `ys[0]` → 1, `Σ log(x + i)` → Σ 1/(x + i).
/// Reverse over reverse of *any* loop with run-time bounds fails the same
/// way, since the vjp's tape of entry carries is `f64[?]` and the second vjp
/// differentiates `index tape, i` (zeros of the tape's type).
#[test]
fn derivatives_that_broadcast_over_dynamic_sizes() {
    let mut rng = rng(13);
    let scalar = read(DYNAMIC_SCALAR);
    check_second_order(&scalar, &[Value::F(0.3), Value::I(3)], &mut rng);
    for (op, result) in [
        ("sum %ys", "f64"),
        ("index %ys, %lo", "f64"),
        ("logsumexp %ys", "f64"),
        ("reduce_max %ys", "f64"),
        ("log %ys", "f64[?]"),
        ("sqrt %ys", "f64[?]"),
    ] {
        let f = read(&dynamic_then(op, result));
        check_first_order(&f, &[Value::F(0.3), Value::I(3)], &mut rng);
    }
}

/// BUG (`transform/vjp.rs`, `backward_loop`): the reverse loop runs
/// `j = 0 .. hi − lo` but recovers the forward index as
/// `i = lo + hi − 1 − j` (the formula for `j` running `lo .. hi`), so for
/// `lo ≠ 0` it visits `i = 2·lo + (hi − lo) − 1` down to `2·lo`, and the
/// tape index `i − lo` runs past the stacked carries: at `lo = 2, hi = 5`
/// the vjp fails with "index 4 is out of range for length 3" (expected:
/// the gradient of `Π (x + i)` over `i = 2, 3, 4`). The forward index should
/// be `hi − 1 − j`. Loops with a constant non-zero lower bound (e.g.
/// `for i in 1..6` outside a generative function) fail the same way.
#[test]
fn loops_that_do_not_start_at_zero() {
    let mut rng = rng(14);
    let f = read(DYNAMIC);
    check_first_order(&f, &[Value::F(0.3), Value::I(2), Value::I(5)], &mut rng);
    let g = read(&POWER.replace("%lo = const 0 : i64", "%lo = const 1 : i64"));
    check_first_order(&g, &[Value::F(0.7)], &mut rng);
}

#[test]
fn keyed_draws_are_replayed_by_the_reverse_sweep() {
    let f = read(DRAWS_IN_LOOP);
    let mut rng = rng(11);
    for _ in 0..3 {
        let args = vec![
            uniform(&mut rng, &[], -1.0, 1.0),
            uniform(&mut rng, &[], 0.5, 2.0),
        ];
        check_first_order(&f, &args, &mut rng);
        check_second_order(&f, &args, &mut rng);
    }
}

#[test]
fn straight_line_second_derivatives() {
    // One result of STRAIGHT_LINE, for the Hessian checks.
    let text = STRAIGHT_LINE
        .replace("-> (f64, f64)", "-> (f64)")
        .replace("return %r1, %r2", "%r = add %r1, %r2 : f64\n  return %r");
    let f = read(&text);
    let mut rng = rng(12);
    for _ in 0..4 {
        let args = vec![
            uniform(&mut rng, &[], -1.5, 1.5),
            uniform(&mut rng, &[], 0.5, 2.0),
        ];
        check_second_order(&f, &args, &mut rng);
    }
}
