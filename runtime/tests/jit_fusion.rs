//! The JIT's fused elementwise loops against the interpreter, to the bit.
//!
//! A run of elementwise operations on tensors compiles to one loop: short
//! runs element by element, long ones block by block through the vector
//! kernels of `elementwise`. These functions mix what a run can meet —
//! real and boolean operations, scalar operands, uniform constants and
//! broadcasts, `Call` kernels (libm's `exp`, `pow`), results read after the
//! run and intermediates that are not — at sizes that fill several blocks
//! and leave a tail, and at sizes below the blockwise threshold, and check
//! every output against the interpreter's bits. Runs may also read
//! `expand`s and broadcasts they compute in place (repeated rows, uniform
//! tensors) and contain guards, checked block by block: the same errors
//! as the interpreter's, in the same order.

use ndarray::{ArrayD, IxDyn};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use vprog_compiler::ir::read_function;
use vprog_runtime::interp::{RunContext, run};
use vprog_runtime::jit;
use vprog_runtime::rng::RunKey;
use vprog_runtime::value::{Tensor, Value};

/// A chain over `%x`, `%y` (f64 of `shape`) and the scalar `%s`, returning
/// intermediates of each kind: a stored real, a boolean mask, a value
/// computed from a uniform constant and from a broadcast, and the end of
/// the chain.
fn chain(shape: &str, n: usize) -> String {
    let ones = vec!["1.0"; n].join(", ");
    format!(
        "func @chain(%x: f64{shape}, %y: f64{shape}, %s: f64) -> (f64{shape}, bool{shape}, f64{shape}, f64{shape}, f64{shape}) {{
           %one = const_tensor<{shape} {ones}> : f64{shape}
           %half = const 0.5 : f64
           %h = broadcast<{dims}> %half : f64{shape}
           %sb = broadcast<{dims}> %s : f64{shape}
           %a = mul %x, %sb : f64{shape}
           %b = sub %a, %one : f64{shape}
           %c = softplus %b : f64{shape}
           %d = sigmoid %y : f64{shape}
           %gt = gt %x, %y : bool{shape}
           %le = le %c, %h : bool{shape}
           %m = or %gt, %le : bool{shape}
           %nm = not %m : bool{shape}
           %both = and %nm, %gt : bool{shape}
           %e = select %m, %c, %d : f64{shape}
           %f = exp %e : f64{shape}
           %g = pow %d, %h : f64{shape}
           %mx = max %f, %g : f64{shape}
           %mn = min %mx, %x : f64{shape}
           %sg = stop_grad %mn : f64{shape}
           %fb = bool_to_f64 %both : f64{shape}
           %k = add %sg, %fb : f64{shape}
           %q = div %k, %one : f64{shape}
           %r = neg %q : f64{shape}
           %t = abs %r : f64{shape}
           %u = sqrt %t : f64{shape}
           %v = floor %u : f64{shape}
           %w = sign %b : f64{shape}
           %z = add %v, %w : f64{shape}
           return %c, %m, %e, %g, %z
         }}",
        dims = &shape[1..shape.len() - 1],
    )
}

fn tensor(shape: &[usize], rng: &mut Xoshiro256PlusPlus) -> Value {
    let n: usize = shape.iter().product();
    let data: Vec<f64> = (0..n)
        .map(|k| match k % 97 {
            // Zeros of both signs and equal operands, where max / min and
            // the comparisons choose.
            0 => 0.0,
            1 => -0.0,
            _ => 4.0 * rng.random::<f64>() - 2.0,
        })
        .collect();
    Value::from_f64_array(ArrayD::from_shape_vec(IxDyn(shape), data).expect("shape"))
}

fn bits(v: &Value) -> Vec<u64> {
    match v {
        Value::F(x) => vec![x.to_bits()],
        Value::B(b) => vec![u64::from(*b)],
        Value::I(i) => vec![*i as u64],
        Value::T(t) => match &**t {
            Tensor::F(a) => a.iter().map(|x| x.to_bits()).collect(),
            Tensor::B(a) => a.iter().map(|&b| u64::from(b)).collect(),
            Tensor::I(a) => a.iter().map(|&i| i as u64).collect(),
        },
    }
}

/// Runs `text` on `args` under both back ends: both succeed with the
/// same bits, or both fail with the same message. The compiled function
/// runs twice (the second time in the frame the first left behind, as a
/// fit's steps do).
fn compare(text: &str, args: &[Value], what: &str) {
    let f = read_function(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let compiled = jit::compile(&f).unwrap_or_else(|e| panic!("{}", e.reason));
    let key = RunKey::new(7, 0, 0);
    for call in 0..2 {
        let want = run(&f, args, &mut RunContext::new(key));
        let got = compiled.run(args, &mut RunContext::new(key));
        match (want, got) {
            (Ok(want), Ok(got)) => {
                assert_eq!(want.len(), got.len());
                for (k, (w, g)) in want.iter().zip(&got).enumerate() {
                    assert_eq!(bits(w), bits(g), "{what}, output {k}, call {call}");
                }
            }
            (Err(want), Err(got)) => assert_eq!(want.message, got.message, "{what}"),
            (want, got) => panic!("{what}: the interpreter gave {want:?}, the JIT {got:?}"),
        }
    }
}

fn check(text: &str, shape: &[usize]) {
    for seed in 0..3 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let args = [
            tensor(shape, &mut rng),
            tensor(shape, &mut rng),
            Value::F(1.5),
        ];
        compare(text, &args, &format!("{shape:?}, seed {seed}"));
    }
}

fn vector(xs: Vec<f64>, shape: &[usize]) -> Value {
    Value::from_f64_array(ArrayD::from_shape_vec(IxDyn(shape), xs).expect("shape"))
}

/// A bias along the first axis and a uniform tensor from an `expand` of
/// a broadcast, read in place by a blockwise run (`[3,700]`), and — with
/// `extra` holding an operation without a vector kernel — by a run that
/// goes element by element.
fn expands(extra: &str) -> String {
    format!(
        "func @expands(%x: f64[3,700], %bias: f64[700], %s: f64) -> (f64[3,700], f64[3,700]) {{
           %rows = expand<axis=0, n=3> %bias : f64[3,700]
           %col = broadcast<3> %s : f64[3]
           %u = expand<axis=1, n=700> %col : f64[3,700]
           %a = add %x, %rows : f64[3,700]
           %b = mul %a, %u : f64[3,700]
           %c = sub %b, %rows : f64[3,700]
           {extra}
           return %c, %b
         }}"
    )
}

#[test]
fn runs_read_expanded_rows_and_uniform_tensors_in_place() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
    let x = tensor(&[3, 700], &mut rng);
    let bias = vector((0..700).map(|k| k as f64 * 0.01 - 3.0).collect(), &[700]);
    let args = [x, bias, Value::F(-0.75)];
    compare(&expands(""), &args, "blockwise");
    // `polygamma` keeps the run element by element: the expands are then
    // computed before its loop.
    let scalar = "%p = polygamma<1> %c : f64[3,700]\n %q = add %p, %rows : f64[3,700]";
    compare(&expands(scalar), &args, "element by element");
}

/// Two guards in one run: `%x·%x` must be finite, `%y` positive.
const GUARDS: &str = "func @guards(%x: f64[2100], %y: f64[2100]) -> (f64[2100]) {
       %a = mul %x, %x : f64[2100]
       %ga = guard<finite, \"the first\"> %a : f64[2100]
       %b = add %ga, %y : f64[2100]
       %gb = guard<positive, \"the second\"> %y : f64[2100]
       %c = mul %b, %gb : f64[2100]
       return %c
     }";

#[test]
fn guards_in_runs_fail_as_the_interpreter_fails() {
    let ok = |k: usize| 1.0 + k as f64;
    let with = |f: &dyn Fn(usize) -> f64| vector((0..2100).map(f).collect(), &[2100]);
    compare(GUARDS, &[with(&ok), with(&ok)], "both hold");
    // The first fails in the last block and the second in the first: the
    // interpreter checks the first guard over every element first.
    let late_inf = |k: usize| if k == 2090 { f64::INFINITY } else { ok(k) };
    let early_neg = |k: usize| if k == 3 { -1.0 } else { ok(k) };
    compare(GUARDS, &[with(&late_inf), with(&early_neg)], "both fail");
    compare(GUARDS, &[with(&ok), with(&early_neg)], "the second fails");
}

#[test]
fn blockwise_runs_give_the_interpreters_bits() {
    // 2100 elements: four blocks of 512 and a tail of 52.
    check(&chain("[3,700]", 2100), &[3, 700]);
    // Exactly one block, and one block and one element.
    check(&chain("[512]", 512), &[512]);
    check(&chain("[513]", 513), &[513]);
}

#[test]
fn short_runs_give_the_interpreters_bits() {
    // Below the blockwise threshold: one scalar loop (unrolled at 8).
    check(&chain("[2,4]", 8), &[2, 4]);
    check(&chain("[31]", 31), &[31]);
}

/// A run that stays open past operations it can be reordered with: a
/// reduction of the run (postponed after its loop) and what reads it, a
/// scalar and a broadcast that read nothing of it (emitted ahead), and an
/// index that may fail (ahead of the loop only while the run holds no
/// guard, so errors keep their order).
const REORDERED: &str = "func @reordered(%x: f64[2100], %y: f64[2100], %s: f64, %v: f64[3], %k: i64) -> (f64, f64[2100], f64) {
       %a = mul %x, %y : f64[2100]
       %t = sum %a : f64
       %u = mul %s, %s : f64
       %ub = broadcast<2100> %u : f64[2100]
       %b = add %a, %ub : f64[2100]
       %g = guard<finite, \"the sum\"> %b : f64[2100]
       %w = mul %t, %s : f64
       %e = index %v, %k : f64
       %c = mul %g, %x : f64[2100]
       return %w, %c, %e
     }";

#[test]
fn runs_stay_open_past_what_they_can_be_reordered_with() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
    let (x, y) = (tensor(&[2100], &mut rng), tensor(&[2100], &mut rng));
    let v = vector(vec![1.0, 2.0, 3.0], &[3]);
    let args = |x: &Value, k: i64| [x.clone(), y.clone(), Value::F(0.5), v.clone(), Value::I(k)];
    compare(REORDERED, &args(&x, 2), "all hold");
    compare(REORDERED, &args(&x, 5), "the index fails");
    // The guard fails too, and comes first.
    let mut xs = vec![1.0; 2100];
    xs[1999] = f64::INFINITY;
    let inf = vector(xs, &[2100]);
    compare(REORDERED, &args(&inf, 5), "the guard and the index fail");
}

/// Sums along each axis of values a run computes, which join the run
/// (added block by block in `sum_axis`'s order) — and, with `extra`
/// holding an operation without a vector kernel, follow its loop.
fn sums(extra: &str) -> String {
    format!(
        "func @sums(%x: f64[3,700], %y: f64[3,700]) -> (f64[700], f64[3], f64[3,700]) {{
           %a = mul %x, %y : f64[3,700]
           %b = softplus %a : f64[3,700]
           %c = sub %b, %x : f64[3,700]
           %cols = sum_axis<0> %c : f64[700]
           %rows = sum_axis<1> %b : f64[3]
           %d = mul %c, %y : f64[3,700]
           %cs = neg %cols : f64[700]
           %rs = neg %rows : f64[3]
           {extra}
           return %cs, %rs, %d
         }}"
    )
}

#[test]
fn sums_of_a_runs_values_give_the_interpreters_bits() {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
    let args = [tensor(&[3, 700], &mut rng), tensor(&[3, 700], &mut rng)];
    compare(&sums(""), &args, "blockwise");
    let scalar = "%p = polygamma<1> %d : f64[3,700]";
    compare(&sums(scalar), &args, "element by element");
}
