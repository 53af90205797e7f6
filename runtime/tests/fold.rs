//! Constant folding by evaluation (`vprog_runtime::fold`): what depends on
//! constants alone becomes a constant, effects and failing operations stay,
//! and the folded function computes what the original does, to the bit.

use expect_test::{Expect, expect};
use vprog_compiler::ir::{print_function, read_function, verify::verify};
use vprog_runtime::fold::fold_constants;
use vprog_runtime::interp::{RunContext, run};
use vprog_runtime::rng::RunKey;
use vprog_runtime::value::Value;

/// Folds the function in `text`, checks that the result verifies and
/// gives the original's results on `args` (bit for bit, or the same
/// error), and compares its printed form with `expected`.
fn check(text: &str, args: &[Value], expected: Expect) {
    let f = read_function(text).expect("reads");
    let folded = fold_constants(&f);
    verify(&folded).unwrap_or_else(|e| panic!("{e}\n{}", print_function(&folded)));
    let key = RunKey::new(11, 2, 3);
    let before = run(&f, args, &mut RunContext::new(key));
    let after = run(&folded, args, &mut RunContext::new(key));
    match (before, after) {
        (Ok(a), Ok(b)) => {
            let bits = |vs: &[Value]| -> Vec<u64> {
                vs.iter()
                    .flat_map(|v| v.f64_elements())
                    .map(f64::to_bits)
                    .collect()
            };
            assert_eq!(bits(&a), bits(&b), "folding changed a result");
        }
        (Err(a), Err(b)) => assert_eq!(a.message, b.message),
        (a, b) => panic!("folding changed success: {a:?} vs {b:?}"),
    }
    expected.assert_eq(&print_function(&folded));
}

#[test]
fn a_loop_over_constants_becomes_a_constant() {
    check(
        "func @f(%x: f64) -> (f64) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %t = for<stacked=1> %lo, %hi : f64[3] {
             (%i: i64):
             %r = int_to_f64 %i : f64
             %s = mul %r, %r : f64
             yield %s
           }
           %n = sum %t : f64
           %y = mul %n, %x : f64
           return %y
         }",
        &[Value::F(1.5)],
        expect![[r#"
            func @f(%0: f64) -> (f64) {
              %1 = const 0 : i64
              %2 = const 3 : i64
              %3 = const_tensor<[3] 0.0, 1.0, 4.0> : f64[3]
              %4 = const 5.0 : f64
              %5 = mul %4, %0 : f64
              return %5
            }
        "#]],
    );
}

#[test]
fn an_invariant_constant_inside_a_loop_is_folded_before_the_loop() {
    // The inner loop reads nothing of the outer one: it is folded inside
    // the outer body, and then the outer loop, which reads only it and
    // its own index, is folded too.
    check(
        "func @f() -> (f64[2]) {
           %lo = const 0 : i64
           %hi = const 2 : i64
           %t = for<stacked=1> %lo, %hi : f64[2] {
             (%i: i64):
             %inner = for<stacked=1> %lo, %hi : f64[2] {
               (%j: i64):
               %r = int_to_f64 %j : f64
               %e = exp %r : f64
               yield %e
             }
             %v = index %inner, %i : f64
             yield %v
           }
           return %t
         }",
        &[],
        expect![[r#"
            func @f() -> (f64[2]) {
              %0 = const 0 : i64
              %1 = const 2 : i64
              %2 = const_tensor<[2] 1.0, 2.718281828459045> : f64[2]
              return %2
            }
        "#]],
    );
}

#[test]
fn effects_arguments_and_failures_stay() {
    // A draw is an effect, `%x` an argument, and the out-of-range index
    // must fail at run time with its origin, as without folding.
    check(
        "func @f(%x: f64, %i: i64) -> (f64, f64, f64) {
           %m = const 0.0 : f64
           %s = const 1.0 : f64
           %d = draw<normal, site=0, stream=0, params=2> %m, %s : f64
           %e = exp %x : f64
           %v = const_tensor<[2] 1.0, 2.0> : f64[2]
           %k = const 5 : i64
           %w = index %v, %k : f64
           return %d, %e, %w
         }",
        &[Value::F(0.5), Value::I(0)],
        expect![[r#"
            func @f(%0: f64, %1: i64) -> (f64, f64, f64) {
              %2 = const 0.0 : f64
              %3 = const 1.0 : f64
              %4 = draw<normal, site=0, stream=0, params=2> %2, %3 : f64
              %5 = exp %0 : f64
              %6 = const_tensor<[2] 1.0, 2.0> : f64[2]
              %7 = const 5 : i64
              %8 = index %6, %7 : f64
              return %4, %5, %8
            }
        "#]],
    );
}

#[test]
fn equal_folded_tensors_share_their_elements() {
    // Two loops computing the same tensor (the model's and the guide's
    // copies of a data set) fold to constants holding one allocation, so
    // that simplification merges them; a different tensor stays apart.
    let f = read_function(
        "func @f() -> (f64[3], f64[3], f64[3]) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %a = for<stacked=1> %lo, %hi : f64[3] {
             (%i: i64):
             %x = int_to_f64 %i : f64
             yield %x
           }
           %b = for<stacked=1> %lo, %hi : f64[3] {
             (%i: i64):
             %x = int_to_f64 %i : f64
             yield %x
           }
           %c = for<stacked=1> %lo, %hi : f64[3] {
             (%i: i64):
             %x = int_to_f64 %i : f64
             %y = neg %x : f64
             yield %y
           }
           return %a, %b, %c
         }",
    )
    .expect("reads");
    let folded = fold_constants(&f);
    let data: Vec<_> = folded
        .body
        .ops
        .iter()
        .filter_map(|&id| match &folded.op(id).kind {
            vprog_compiler::ir::OpKind::Prim(vprog_compiler::prim::Prim::ConstTensor {
                data,
                ..
            }) => Some(data.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(data.len(), 3);
    assert!(std::sync::Arc::ptr_eq(&data[0], &data[1]));
    assert!(!std::sync::Arc::ptr_eq(&data[0], &data[2]));
    let merged = vprog_compiler::transform::simplify::simplify(&folded);
    expect![[r#"
        func @f() -> (f64[3], f64[3], f64[3]) {
          %0 = const_tensor<[3] 0.0, 1.0, 2.0> : f64[3]
          %1 = const_tensor<[3] -0.0, -1.0, -2.0> : f64[3]
          return %0, %0, %1
        }
    "#]]
    .assert_eq(&print_function(&merged));
}
