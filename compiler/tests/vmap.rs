//! Snapshots of the vmap (batching) transform on small plate-like loops,
//! in the textual IR: what a batched loop becomes, and which loops stay
//! loops. Refresh with `UPDATE_EXPECT=1 cargo test -p vprog-compiler --test
//! vmap` and review the diff. The numerical agreement of batched and looped
//! programs is checked in `runtime/tests/vmap.rs`.

use expect_test::{Expect, expect};
use vprog_compiler::ir::{Function, print_function, read_function, verify::verify};
use vprog_compiler::transform::{simplify::simplify, vmap::vmap};

fn read(text: &str) -> Function {
    read_function(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// Applies `pass` to the function in `text`; the output must verify and
/// round-trip, and print as `expected`.
fn check_pass(text: &str, pass: impl Fn(&Function) -> Function, expected: Expect) {
    let f = read(text);
    verify(&f).unwrap_or_else(|e| panic!("input: {e}"));
    let out = pass(&f);
    verify(&out).unwrap_or_else(|e| panic!("output: {e}\n{}", print_function(&out)));
    let printed = print_function(&out);
    expected.assert_eq(&printed);
    assert_eq!(print_function(&read(&printed)), printed, "not canonical");
}

/// A plate over a minibatch of 4 of 6 data points: a layer (matvec, add,
/// leaky relu) per point, its sum accumulated into a carry, and the hidden
/// vector stacked.
const PLATE: &str = "func @plate(%w: f64[3,2], %bias: f64[3], %xs: f64[6,2], %sub: i64[4], %acc0: f64) -> (f64, f64[4,3]) {
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
 }";

#[test]
fn plate_loop_is_batched() {
    check_pass(
        PLATE,
        vmap,
        expect![[r#"
            func @plate(%0: f64[3,2], %1: f64[3], %2: f64[6,2], %3: i64[4], %4: f64) -> (f64, f64[4,3]) {
              %5 = const 0 : i64
              %6 = const 4 : i64
              %7 = gather %2, %3 : f64[4,2]
              %8 = matmul_nt %7, %0 : f64[4,3]
              %9 = expand<axis=0, n=4> %1 : f64[4,3]
              %10 = add %8, %9 : f64[4,3]
              %11 = const 0.01 : f64
              %12 = broadcast<3> %11 : f64[3]
              %13 = expand<axis=0, n=4> %12 : f64[4,3]
              %14 = mul %10, %13 : f64[4,3]
              %15 = max %10, %14 : f64[4,3]
              %16 = sum_axis<1> %15 : f64[4]
              %17 = sum_axis<0> %16 : f64
              %18 = add %4, %17 : f64
              return %18, %15
            }
        "#]],
    );
}

#[test]
fn plate_loop_is_batched_and_simplified() {
    check_pass(
        PLATE,
        |f| simplify(&vmap(f)),
        expect![[r#"
            func @plate(%0: f64[3,2], %1: f64[3], %2: f64[6,2], %3: i64[4], %4: f64) -> (f64, f64[4,3]) {
              %5 = gather %2, %3 : f64[4,2]
              %6 = matmul_nt %5, %0 : f64[4,3]
              %7 = expand<axis=0, n=4> %1 : f64[4,3]
              %8 = add %6, %7 : f64[4,3]
              %9 = const 0.01 : f64
              %10 = broadcast<3> %9 : f64[3]
              %11 = expand<axis=0, n=4> %10 : f64[4,3]
              %12 = mul %8, %11 : f64[4,3]
              %13 = max %8, %12 : f64[4,3]
              %14 = sum_axis<1> %13 : f64[4]
              %15 = sum_axis<0> %14 : f64
              %16 = add %4, %15 : f64
              return %16, %13
            }
        "#]],
    );
}

#[test]
fn loop_index_offset_and_pass_through_carry() {
    check_pass(
        "func @f(%xs: f64[5], %c0: f64) -> (f64, f64, f64[3]) {
           %lo = const 2 : i64
           %hi = const 5 : i64
           %s, %c, %ys = for<stacked=1> %lo, %hi, %c0, %c0 : f64, f64, f64[3] {
             (%i: i64, %a: f64, %c: f64):
             %x = index %xs, %i : f64
             %y = mul %x, %c : f64
             %next = add %y, %a : f64
             yield %next, %c, %y
           }
           return %s, %c, %ys
         }",
        vmap,
        expect![[r#"
            func @f(%0: f64[5], %1: f64) -> (f64, f64, f64[3]) {
              %2 = const 2 : i64
              %3 = const 5 : i64
              %4 = const_tensor<[3] 0.0, 1.0, 2.0> : f64[3]
              %5 = f64_to_int %4 : i64[3]
              %6 = broadcast<3> %2 : i64[3]
              %7 = add %5, %6 : i64[3]
              %8 = gather %0, %7 : f64[3]
              %9 = broadcast<3> %1 : f64[3]
              %10 = mul %8, %9 : f64[3]
              %11 = sum_axis<0> %10 : f64
              %12 = add %1, %11 : f64
              return %12, %1, %10
            }
        "#]],
    );
}

#[test]
fn dependent_iterations_stay_a_loop() {
    // The carry is multiplied, not summed: iteration k needs iteration k − 1.
    check_pass(
        "func @f(%xs: f64[3], %p0: f64) -> (f64) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %p = for<stacked=0> %lo, %hi, %p0 : f64 {
             (%i: i64, %a: f64):
             %x = index %xs, %i : f64
             %next = mul %a, %x : f64
             yield %next
           }
           return %p
         }",
        vmap,
        expect![[r#"
            func @f(%0: f64[3], %1: f64) -> (f64) {
              %2 = const 0 : i64
              %3 = const 3 : i64
              %4 = for<stacked=0> %2, %3, %1 : f64 {
                (%5: i64, %6: f64):
                %7 = index %0, %5 : f64
                %8 = mul %6, %7 : f64
                yield %8
              }
              return %4
            }
        "#]],
    );
}

#[test]
fn carry_read_by_the_term_stays_a_loop() {
    check_pass(
        "func @f(%xs: f64[3], %s0: f64) -> (f64) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %s = for<stacked=0> %lo, %hi, %s0 : f64 {
             (%i: i64, %a: f64):
             %x = index %xs, %i : f64
             %t = mul %a, %x : f64
             %next = add %a, %t : f64
             yield %next
           }
           return %s
         }",
        vmap,
        expect![[r#"
            func @f(%0: f64[3], %1: f64) -> (f64) {
              %2 = const 0 : i64
              %3 = const 3 : i64
              %4 = for<stacked=0> %2, %3, %1 : f64 {
                (%5: i64, %6: f64):
                %7 = index %0, %5 : f64
                %8 = mul %6, %7 : f64
                %9 = add %6, %8 : f64
                yield %9
              }
              return %4
            }
        "#]],
    );
}

#[test]
fn primitive_without_rule_stays_a_loop() {
    // `tril` of a batched matrix has no batching rule.
    check_pass(
        "func @f(%ms: f64[2,2,2]) -> (f64[2,2,2]) {
           %lo = const 0 : i64
           %hi = const 2 : i64
           %ts = for<stacked=1> %lo, %hi : f64[2,2,2] {
             (%i: i64):
             %m = index %ms, %i : f64[2,2]
             %t = tril %m : f64[2,2]
             yield %t
           }
           return %ts
         }",
        vmap,
        expect![[r#"
            func @f(%0: f64[2,2,2]) -> (f64[2,2,2]) {
              %1 = const 0 : i64
              %2 = const 2 : i64
              %3 = for<stacked=1> %1, %2 : f64[2,2,2] {
                (%4: i64):
                %5 = index %0, %4 : f64[2,2]
                %6 = tril %5 : f64[2,2]
                yield %6
              }
              return %3
            }
        "#]],
    );
}

#[test]
fn loop_with_a_dependent_inner_loop_stays_a_loop_and_inner_loops_are_found() {
    // The outer loop's body holds a loop that starts from the outer
    // iteration's draw, so the outer loop stays a loop (a nested loop that
    // depends on the index has no batching rule); the inner loop, whose
    // iterations are independent, is batched.
    check_pass(
        "func @f(%xs: f64[3]) -> (f64) {
           %lo = const 0 : i64
           %hi = const 2 : i64
           %z0 = const 0.0 : f64
           %s = for<stacked=0> %lo, %hi, %z0 : f64 {
             (%i: i64, %a: f64):
             %zero = const 0.0 : f64
             %one = const 1.0 : f64
             %e = draw<normal, site=0, stream=0, params=2> %zero, %one, %i : f64
             %three = const 3 : i64
             %inner = for<stacked=0> %lo, %three, %e : f64 {
               (%j: i64, %b: f64):
               %x = index %xs, %j : f64
               %t = exp %x : f64
               %nb = add %b, %t : f64
               yield %nb
             }
             %next = add %a, %inner : f64
             yield %next
           }
           return %s
         }",
        vmap,
        expect![[r#"
            func @f(%0: f64[3]) -> (f64) {
              %1 = const 0 : i64
              %2 = const 2 : i64
              %3 = const 0.0 : f64
              %4 = for<stacked=0> %1, %2, %3 : f64 {
                (%5: i64, %6: f64):
                %7 = const 0.0 : f64
                %8 = const 1.0 : f64
                %9 = draw<normal, site=0, stream=0, params=2> %7, %8, %5 : f64
                %10 = const 3 : i64
                %11 = exp %0 : f64[3]
                %12 = sum_axis<0> %11 : f64
                %13 = add %9, %12 : f64
                %14 = add %6, %13 : f64
                yield %14
              }
              return %4
            }
        "#]],
    );
}

#[test]
fn carries_summing_a_chain_of_terms() {
    // Two carries each add two terms per iteration, sharing the second (as
    // the decoder's plate adds the prior and the likelihood of each point).
    check_pass(
        "func @f(%xs: f64[3], %z: f64) -> (f64, f64) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %s, %t = for<stacked=0> %lo, %hi, %z, %z : f64, f64 {
             (%i: i64, %a: f64, %b: f64):
             %x = index %xs, %i : f64
             %l = log %x : f64
             %a1 = add %a, %l : f64
             %b1 = add %l, %b : f64
             %e = exp %x : f64
             %a2 = add %a1, %e : f64
             %b2 = add %e, %b1 : f64
             yield %a2, %b2
           }
           return %s, %t
         }",
        vmap,
        expect![[r#"
            func @f(%0: f64[3], %1: f64) -> (f64, f64) {
              %2 = const 0 : i64
              %3 = const 3 : i64
              %4 = log %0 : f64[3]
              %5 = exp %0 : f64[3]
              %6 = add %4, %5 : f64[3]
              %7 = sum_axis<0> %6 : f64
              %8 = add %1, %7 : f64
              %9 = add %4, %5 : f64[3]
              %10 = sum_axis<0> %9 : f64
              %11 = add %1, %10 : f64
              return %8, %11
            }
        "#]],
    );
}

#[test]
fn partial_sum_read_elsewhere_stays_a_loop() {
    check_pass(
        "func @f(%xs: f64[3], %z: f64) -> (f64, f64[3]) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %s, %ps = for<stacked=1> %lo, %hi, %z : f64, f64[3] {
             (%i: i64, %a: f64):
             %x = index %xs, %i : f64
             %a1 = add %a, %x : f64
             %a2 = add %a1, %x : f64
             yield %a2, %a1
           }
           return %s, %ps
         }",
        vmap,
        expect![[r#"
            func @f(%0: f64[3], %1: f64) -> (f64, f64[3]) {
              %2 = const 0 : i64
              %3 = const 3 : i64
              %4, %5 = for<stacked=1> %2, %3, %1 : f64, f64[3] {
                (%6: i64, %7: f64):
                %8 = index %0, %6 : f64
                %9 = add %7, %8 : f64
                %10 = add %9, %8 : f64
                yield %10, %9
              }
              return %4, %5
            }
        "#]],
    );
}
