//! Every batching rule, checked by running a loop and its batched form.
//!
//! Each case is one primitive applied inside a four-iteration loop over the
//! rows of per-iteration data (a plate-like loop: per-point vectors, a
//! per-point scalar, a per-point index, and loop-invariant parameters), its
//! result stacked and a per-point term summed into a carry. The case's
//! function goes through `transform::vmap::vmap`; the output must verify,
//! must no longer hold a loop (the rule applied rather than the fallback),
//! and, evaluated by the interpreter on seeded random inputs, must give the
//! looped results to 1e-12 relative (integers and booleans exactly).

use ndarray::{ArrayD, IxDyn};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use std::sync::Arc;
use vprog_compiler::ir::{Elem, Function, OpKind, print_function, read_function, verify::verify};
use vprog_compiler::transform::vmap::vmap;
use vprog_runtime::interp::{RunContext, run};
use vprog_runtime::rng::RunKey;
use vprog_runtime::value::{Tensor, Value};

/// Relative tolerance of batched against looped results.
const TOLERANCE: f64 = 1e-12;
/// Random inputs per case.
const TRIALS: u64 = 3;

/// The loop around a case's `body`, which defines `%out` of type `out`
/// from the per-iteration values `%a` (f64), `%x`, `%y` (f64[2]), `%m`
/// (f64[3,2]), `%b` (bool), `%i` (i64 in 0..4) and the invariant `%s`
/// (f64), `%v` (f64[2]), `%w` (f64[3,2]), `%t` (f64[5,2]).
fn case_function(body: &str, out: &str) -> String {
    let stacked = match out.find('[') {
        Some(at) => format!("{}[4,{}", &out[..at], &out[at + 1..]),
        None => format!("{out}[4]"),
    };
    format!(
        "func @case(%as: f64[4], %xs: f64[4,2], %ys: f64[4,2], %s: f64, %v: f64[2], %w: f64[3,2], %ms: f64[4,3,2], %bs: bool[4], %is: i64[4], %t: f64[5,2], %acc0: f64) -> (f64, {stacked}) {{
           %lo = const 0 : i64
           %hi = const 4 : i64
           %acc, %outs = for<stacked=1> %lo, %hi, %acc0 : f64, {stacked} {{
             (%k: i64, %c: f64):
             %a = index %as, %k : f64
             %x = index %xs, %k : f64[2]
             %y = index %ys, %k : f64[2]
             %m = index %ms, %k : f64[3,2]
             %b = index %bs, %k : bool
             %i = index %is, %k : i64
             {body}
             %next = add %c, %a : f64
             yield %next, %out
           }}
           return %acc, %outs
         }}"
    )
}

/// Seeded inputs for `f`'s parameters: reals in [0.5, 2), integers in
/// 0..4, booleans fair.
fn inputs(f: &Function, seed: u64) -> Vec<Value> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    f.param_types()
        .iter()
        .map(|ty| {
            let len: usize = ty.shape.iter().product();
            let shape = IxDyn(&ty.shape);
            match (ty.elem, ty.is_scalar()) {
                (Elem::F64, true) => Value::F(rng.random_range(0.5..2.0)),
                (Elem::I64, true) => Value::I(rng.random_range(0..4)),
                (Elem::Bool, true) => Value::B(rng.random_bool(0.5)),
                (Elem::F64, false) => Value::from_f64_array(
                    ArrayD::from_shape_vec(
                        shape,
                        (0..len).map(|_| rng.random_range(0.5..2.0)).collect(),
                    )
                    .expect("shape"),
                ),
                (Elem::I64, false) => Value::T(Arc::new(Tensor::I(
                    ArrayD::from_shape_vec(
                        shape,
                        (0..len).map(|_| rng.random_range(0..4)).collect(),
                    )
                    .expect("shape"),
                ))),
                (Elem::Bool, false) => Value::T(Arc::new(Tensor::B(
                    ArrayD::from_shape_vec(shape, (0..len).map(|_| rng.random_bool(0.5)).collect())
                        .expect("shape"),
                ))),
            }
        })
        .collect()
}

fn eval(f: &Function, args: &[Value]) -> Vec<Value> {
    let mut ctx = RunContext::new(RunKey::new(0, 0, 0));
    run(f, args, &mut ctx).unwrap_or_else(|e| panic!("running:\n{}\n{e}", print_function(f)))
}

fn assert_close(name: &str, looped: &Value, batched: &Value) {
    assert_eq!(looped.shape(), batched.shape(), "{name}: shapes");
    let real = matches!(looped, Value::F(_))
        || matches!(looped, Value::T(t) if matches!(**t, Tensor::F(_)));
    if !real {
        assert_eq!(looped, batched, "{name}");
        return;
    }
    for (x, y) in looped.f64_elements().iter().zip(batched.f64_elements()) {
        let ok = x == &y || (x - y).abs() <= TOLERANCE * x.abs().max(y.abs());
        assert!(ok, "{name}: looped {looped} but batched {batched}");
    }
}

/// Checks one case (see the module docs).
fn check(name: &str, body: &str, out: &str) {
    check_function(name, &case_function(body, out));
}

/// Checks the function `text`: its vmap verifies, holds no loop, and
/// computes what it computes.
fn check_function(name: &str, text: &str) {
    let f = read_function(text).unwrap_or_else(|e| panic!("{name}: {e}\n{text}"));
    verify(&f).unwrap_or_else(|e| panic!("{name}: input: {e}"));
    let g = vmap(&f);
    verify(&g).unwrap_or_else(|e| panic!("{name}: output: {e}\n{}", print_function(&g)));
    assert!(
        !g.any_op(|op| matches!(op.kind, OpKind::For { .. })),
        "{name}: not batched:\n{}",
        print_function(&g)
    );
    for seed in 0..TRIALS {
        let args = inputs(&f, seed);
        let looped = eval(&f, &args);
        let batched = eval(&g, &args);
        for (l, b) in looped.iter().zip(&batched) {
            assert_close(name, l, b);
        }
    }
}

#[test]
fn elementwise_unary() {
    for op in [
        "neg",
        "exp",
        "log",
        "log1p",
        "expm1",
        "sqrt",
        "sin",
        "cos",
        "tan",
        "atan",
        "tanh",
        "sigmoid",
        "softplus",
        "abs",
        "sign",
        "floor",
        "lgamma",
        "digamma",
        "polygamma<1>",
        "stop_grad",
    ] {
        check(op, &format!("%out = {op} %x : f64[2]"), "f64[2]");
        check(op, &format!("%out = {op} %a : f64"), "f64");
    }
    check("neg i64", "%out = neg %i : i64", "i64");
    check("abs i64", "%out = abs %i : i64", "i64");
}

#[test]
fn elementwise_binary() {
    for op in [
        "add",
        "sub",
        "mul",
        "div",
        "pow",
        "max",
        "min",
        "gamma_p",
        "gamma_p_da",
    ] {
        // Batched with unbatched (tensor and scalar, both orders) and batched.
        check(op, &format!("%out = {op} %x, %v : f64[2]"), "f64[2]");
        check(op, &format!("%out = {op} %v, %x : f64[2]"), "f64[2]");
        check(op, &format!("%out = {op} %a, %s : f64"), "f64");
        check(op, &format!("%out = {op} %x, %y : f64[2]"), "f64[2]");
    }
    check(
        "rem",
        "%three = const 3 : i64\n%out = rem %i, %three : i64",
        "i64",
    );
    check("add i64", "%out = add %i, %i : i64", "i64");
}

#[test]
fn comparisons_logic_and_casts() {
    for op in ["lt", "le", "gt", "ge", "eq", "ne"] {
        check(op, &format!("%out = {op} %x, %v : bool[2]"), "bool[2]");
        check(op, &format!("%out = {op} %a, %s : bool"), "bool");
    }
    for op in ["and", "or"] {
        check(
            op,
            &format!(
                "%p = lt %x, %v : bool[2]\n%q = gt %y, %v : bool[2]\n%out = {op} %p, %q : bool[2]"
            ),
            "bool[2]",
        );
    }
    check("not", "%out = not %b : bool", "bool");
    check("int_to_f64", "%out = int_to_f64 %i : f64", "f64");
    check("bool_to_f64", "%out = bool_to_f64 %b : f64", "f64");
    check("f64_to_int", "%out = f64_to_int %x : i64[2]", "i64[2]");
}

#[test]
fn select() {
    // A batched scalar condition over tensors, a batched tensor condition,
    // and an unbatched scalar condition.
    check(
        "select scalar",
        "%out = select %b, %x, %v : f64[2]",
        "f64[2]",
    );
    check(
        "select tensor",
        "%p = lt %x, %y : bool[2]\n%out = select %p, %x, %v : f64[2]",
        "f64[2]",
    );
    check(
        "select unbatched",
        "%one = const 1.0 : f64\n%p = gt %s, %one : bool\n%out = select %p, %v, %x : f64[2]",
        "f64[2]",
    );
}

#[test]
fn guards_broadcasts_and_pack() {
    check(
        "guard",
        "%out = guard<positive, \"test: x\"> %x : f64[2]",
        "f64[2]",
    );
    check(
        "guard finite",
        "%out = guard<finite, \"test: a\"> %a : f64",
        "f64",
    );
    check(
        "broadcast",
        "%out = broadcast<2,3> %a : f64[2,3]",
        "f64[2,3]",
    );
    check(
        "broadcast_like",
        "%out = broadcast_like %a, %v : f64[2]",
        "f64[2]",
    );
    check("pack", "%out = pack %a, %s, %a : f64[3]", "f64[3]");
}

#[test]
fn index() {
    // Unbatched tensor at a batched index (a gather); the loop index into a
    // tensor of trip-count rows (the tensor itself, checked by every case);
    // a batched tensor at an unbatched index; both batched.
    check("index gather", "%out = index %t, %i : f64[2]", "f64[2]");
    check(
        "index row",
        "%one = const 1 : i64\n%out = index %x, %one : f64",
        "f64",
    );
    check(
        "index both",
        "%two = const 2 : i64\n%j = rem %i, %two : i64\n%out = index %m, %j : f64[2]",
        "f64[2]",
    );
}

#[test]
fn reductions() {
    for op in ["sum", "logsumexp", "reduce_max"] {
        check(op, &format!("%out = {op} %x : f64"), "f64");
        check(op, &format!("%out = {op} %m : f64"), "f64");
        check(op, &format!("%out = {op} %a : f64"), "f64");
    }
    check("sum i64", "%out = sum %i : i64", "i64");
    for op in ["sum_axis", "logsumexp_axis", "max_axis"] {
        check(op, &format!("%out = {op}<0> %m : f64[2]"), "f64[2]");
        check(op, &format!("%out = {op}<1> %m : f64[3]"), "f64[3]");
    }
}

#[test]
fn linear_algebra() {
    check("matvec", "%out = matvec %w, %x : f64[3]", "f64[3]");
    check(
        "matvec_t",
        "%z = matvec %w, %x : f64[3]\n%out = matvec_t %w, %z : f64[2]",
        "f64[2]",
    );
    check(
        "matvec batched matrix",
        "%out = matvec %m, %v : f64[3]",
        "f64[3]",
    );
    check(
        "matmul_nt",
        "%out = matmul_nt %m, %w : f64[3,3]",
        "f64[3,3]",
    );
    check(
        "matmul",
        "%wt = transpose %w : f64[2,3]\n%out = matmul %m, %wt : f64[3,3]",
        "f64[3,3]",
    );
}

#[test]
fn shapes() {
    check("reshape", "%out = reshape<6> %m : f64[6]", "f64[6]");
    check("reshape 2", "%out = reshape<2,3> %m : f64[2,3]", "f64[2,3]");
    check(
        "expand",
        "%out = expand<axis=1, n=3> %x : f64[2,3]",
        "f64[2,3]",
    );
    check(
        "expand 0",
        "%out = expand<axis=0, n=3> %a : f64[3]",
        "f64[3]",
    );
    check(
        "gather",
        "%idx = pack %i, %i, %i : i64[3]\n%out = gather %t, %idx : f64[3,2]",
        "f64[3,2]",
    );
}

#[test]
fn whole_plate_loops() {
    // A layer per point of a minibatch (matvec, bias, leaky relu), its sum
    // accumulated, the hidden vectors stacked.
    check_function(
        "plate",
        "func @plate(%w: f64[3,2], %bias: f64[3], %xs: f64[6,2], %sub: i64[4], %acc0: f64) -> (f64, f64[4,3]) {
           %lo = const 0 : i64
           %hi = const 4 : i64
           %acc, %hs = for<stacked=1> %lo, %hi, %acc0 : f64, f64[4,3] {
             (%k: i64, %a: f64):
             %idx = index %sub, %k : i64
             %x = index %xs, %idx : f64[2]
             %wx = matvec %w, %x : f64[3]
             %pre = add %wx, %bias : f64[3]
             %slope = const 0.01 : f64
             %slopes = broadcast<3> %slope : f64[3]
             %leak = mul %pre, %slopes : f64[3]
             %h = max %pre, %leak : f64[3]
             %t = sum %h : f64
             %next = add %a, %t : f64
             yield %next, %h
           }
           return %acc, %hs
         }",
    );
    // Two carries, each adding a chain of two terms per iteration, one
    // passing through, and a loop starting at 2.
    check_function(
        "chains",
        "func @f(%xs: f64[5], %z: f64, %c0: f64) -> (f64, f64, f64) {
           %lo = const 2 : i64
           %hi = const 5 : i64
           %s, %t, %c = for<stacked=0> %lo, %hi, %z, %z, %c0 : f64, f64, f64 {
             (%i: i64, %a: f64, %b: f64, %c: f64):
             %x = index %xs, %i : f64
             %l = log %x : f64
             %a1 = add %a, %l : f64
             %b1 = add %l, %b : f64
             %e = mul %x, %c : f64
             %a2 = add %a1, %e : f64
             %b2 = add %e, %b1 : f64
             yield %a2, %b2, %c
           }
           return %s, %t, %c
         }",
    );
}

#[test]
fn keyed_draws() {
    // A draw keyed by the loop index becomes one batched draw whose rows
    // are the iterations' draws from the same streams: batched == looped
    // (the draws to the bit; `assert_close` compares reals exactly first).
    check(
        "normal with per-point parameters",
        "%z = draw<normal, site=0, stream=0, params=2> %a, %s, %k : f64
         %out = mul %z, %a : f64",
        "f64",
    );
    check(
        "standard normal noise, reparameterized",
        "%zero = const 0.0 : f64
         %one = const 1.0 : f64
         %zeros = broadcast<2> %zero : f64[2]
         %ones = broadcast<2> %one : f64[2]
         %e = draw<mv_normal_diag, site=1, stream=0, params=2> %zeros, %ones, %k : f64[2]
         %se = mul %y, %e : f64[2]
         %out = add %x, %se : f64[2]",
        "f64[2]",
    );
    check(
        "elementwise tensor normal and a second stream",
        "%e = draw<normal, site=2, stream=0, params=2> %x, %y, %k : f64[2]
         %f = draw<normal, site=2, stream=1, params=2> %x, %y, %k : f64[2]
         %out = sub %e, %f : f64[2]",
        "f64[2]",
    );
    check(
        "bernoulli on per-point probabilities",
        "%half = const 0.5 : f64
         %p = mul %a, %half : f64
         %q = min %p, %half : f64
         %b2 = draw<bernoulli, site=3, stream=0, params=1> %q, %k : f64
         %out = mul %b2, %a : f64",
        "f64",
    );
}

#[test]
fn draws_in_inner_loops_keep_the_outer_index() {
    // The inner loop of a nest is batched inside the outer one; its draws
    // keep the outer index as a scalar and take the inner one per row.
    let text = "func @f(%xs: f64[3,4]) -> (f64[3,4]) {
       %lo = const 0 : i64
       %n = const 3 : i64
       %m = const 4 : i64
       %one = const 1.0 : f64
       %outs = for<stacked=1> %lo, %n : f64[3,4] {
         (%i: i64):
         %row = index %xs, %i : f64[4]
         %zs = for<stacked=1> %lo, %m : f64[4] {
           (%j: i64):
           %x = index %row, %j : f64
           %z = draw<normal, site=0, stream=0, params=2> %x, %one, %i, %j : f64
           yield %z
         }
         yield %zs
       }
       return %outs
     }";
    let f = read_function(text).expect("reads");
    verify(&f).expect("verifies");
    let g = vmap(&f);
    verify(&g).unwrap_or_else(|e| panic!("{e}\n{}", print_function(&g)));
    let printed = print_function(&g);
    assert!(printed.contains("batch=4"), "{printed}");
    for seed in 0..TRIALS {
        let args = inputs(&f, seed);
        assert_eq!(eval(&f, &args), eval(&g, &args), "{printed}");
    }
}

#[test]
fn invariant_nested_loops_run_once() {
    // A loop that does not use the batched loop's index — a data table
    // computed inside a plate's body, as an inlined top-level `let` puts it
    // there — no longer stops the batching: it is computed once.
    let text = "func @f(%sub: i64[4], %w: f64, %acc0: f64) -> (f64, f64[4]) {
           %lo = const 0 : i64
           %hi = const 4 : i64
           %six = const 6 : i64
           %acc, %ys = for<stacked=1> %lo, %hi, %acc0 : f64, f64[4] {
             (%k: i64, %a: f64):
             %table = for<stacked=1> %lo, %six : f64[6] {
               (%j: i64):
               %jf = int_to_f64 %j : f64
               %t = mul %jf, %w : f64
               yield %t
             }
             %idx = index %sub, %k : i64
             %y = index %table, %idx : f64
             %next = add %a, %y : f64
             yield %next, %y
           }
           return %acc, %ys
         }";
    let f = read_function(text).expect("reads");
    let g = vmap(&f);
    verify(&g).unwrap_or_else(|e| panic!("{e}\n{}", print_function(&g)));
    let mut loops = 0;
    g.walk_ops(|_, op| loops += usize::from(matches!(op.kind, OpKind::For { .. })));
    assert_eq!(
        loops,
        1,
        "only the table's loop is left:\n{}",
        print_function(&g)
    );
    for seed in 0..TRIALS {
        let args = inputs(&f, seed);
        for (l, b) in eval(&f, &args).iter().zip(&eval(&g, &args)) {
            assert_close("table", l, b);
        }
    }
}
