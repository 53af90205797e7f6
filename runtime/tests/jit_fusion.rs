//! The JIT's fused elementwise loops against the interpreter, to the bit.
//!
//! A run of elementwise operations on tensors compiles to one loop: short
//! runs element by element, long ones block by block through the vector
//! kernels of `elementwise`. These functions mix what a run can meet —
//! real and boolean operations, scalar operands, uniform constants and
//! broadcasts, `Call` kernels (libm's `exp`, `pow`), results read after the
//! run and intermediates that are not — at sizes that fill several blocks
//! and leave a tail, and at sizes below the blockwise threshold, and check
//! every output against the interpreter's bits.

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

fn check(text: &str, shape: &[usize]) {
    let f = read_function(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let compiled = jit::compile(&f).unwrap_or_else(|e| panic!("{}", e.reason));
    for seed in 0..3 {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        let args = [
            tensor(shape, &mut rng),
            tensor(shape, &mut rng),
            Value::F(1.5),
        ];
        let key = RunKey::new(seed, 0, 0);
        let want = run(&f, &args, &mut RunContext::new(key)).expect("the interpreter runs");
        let got = compiled
            .run(&args, &mut RunContext::new(key))
            .expect("the JIT runs");
        assert_eq!(want.len(), got.len());
        for (k, (w, g)) in want.iter().zip(&got).enumerate() {
            assert_eq!(bits(w), bits(g), "{shape:?}, output {k}, seed {seed}");
        }
    }
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
