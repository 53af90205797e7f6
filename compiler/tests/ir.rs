//! Data-driven tests of the textual IR and the verifier, and snapshots of
//! what the AD and simplification passes produce.
//!
//! Every test is one call of a `check_*` helper with a small IR text and an
//! `expect![[...]]` snapshot. Refresh the snapshots after an intended change
//! with `UPDATE_EXPECT=1 cargo test -p vprog-compiler --test ir` and review
//! the diff.
//!
//! * [`check_round_trip`]: reading then printing gives the snapshot, and the
//!   snapshot is canonical: reading and printing it gives it back exactly.
//! * [`check_read_error`]: the reader's error, with its line number.
//! * [`check_verify_error`]: the verifier's error, naming the op at fault.
//! * [`check_pass`]: a pass's output (which must verify and round-trip).

use expect_test::{Expect, expect};
use vprog_compiler::ir::{Function, print_function, read_function, verify::verify};
use vprog_compiler::transform::{jvp::jvp, simplify::simplify, vjp::vjp};

fn read(text: &str) -> Function {
    read_function(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

/// `print(read(text))` matches `expected`, verifies, and is a fixed point
/// of print ∘ read.
fn check_round_trip(text: &str, expected: Expect) {
    let f = read(text);
    verify(&f).unwrap_or_else(|e| panic!("{e}"));
    let printed = print_function(&f);
    expected.assert_eq(&printed);
    assert_eq!(print_function(&read(&printed)), printed, "not canonical");
}

fn check_read_error(text: &str, expected: Expect) {
    match read_function(text) {
        Ok(f) => panic!("read:\n{}", print_function(&f)),
        Err(e) => expected.assert_eq(&e.to_string()),
    }
}

fn check_verify_error(text: &str, expected: Expect) {
    check_verify_error_of(&read(text), expected);
}

fn check_verify_error_of(f: &Function, expected: Expect) {
    match verify(f) {
        Ok(()) => panic!("verified:\n{}", print_function(f)),
        Err(e) => expected.assert_eq(&e.message),
    }
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

// ---- round trips --------------------------------------------------------------

#[test]
fn round_trip_straight_line() {
    check_round_trip(
        "func @square_plus_one(%x: f64) -> (f64) {
           %sq = mul %x, %x : f64
           %one = const 1.0 : f64
           %r = add %sq, %one : f64
           return %r
         }",
        expect![[r#"
            func @square_plus_one(%0: f64) -> (f64) {
              %1 = mul %0, %0 : f64
              %2 = const 1.0 : f64
              %3 = add %1, %2 : f64
              return %3
            }
        "#]],
    );
}

#[test]
fn round_trip_attributes_and_constants() {
    check_round_trip(
        r#"func @attributes(%v: f64[3], %l: f64[2,2], %i: i64, %b: bool) -> (f64[2,3], f64[3], f64[2], f64, i64) {
             %c = const -2.5e-7 : f64
             %n = const 42 : i64
             %t = const true : bool
             %k = const_tensor<[2] 0.5, -1.5> : f64[2]
             %bc = broadcast<2,3> %c : f64[2,3]
             %g = guard<positive, "normal: scale"> %v : f64[3]
             %e = index %v, %i : f64
             %p = polygamma<2> %e : f64
             %m = matvec_t %bc, %k : f64[3]
             %tri = trisolve_t %l, %k : f64[2]
             %s = select %b, %g, %m : f64[3]
             %q = rem %i, %n : i64
             return %bc, %s, %tri, %p, %q
           }"#,
        expect![[r#"
            func @attributes(%0: f64[3], %1: f64[2,2], %2: i64, %3: bool) -> (f64[2,3], f64[3], f64[2], f64, i64) {
              %4 = const -2.5e-7 : f64
              %5 = const 42 : i64
              %6 = const true : bool
              %7 = const_tensor<[2] 0.5, -1.5> : f64[2]
              %8 = broadcast<2,3> %4 : f64[2,3]
              %9 = guard<positive, "normal: scale"> %0 : f64[3]
              %10 = index %0, %2 : f64
              %11 = polygamma<2> %10 : f64
              %12 = matvec_t %8, %7 : f64[3]
              %13 = trisolve_t %1, %7 : f64[2]
              %14 = select %3, %9, %12 : f64[3]
              %15 = rem %2, %5 : i64
              return %8, %14, %13, %11, %15
            }
        "#]],
    );
}

/// The shape and linear-algebra primitives, with their attributes.
#[test]
fn round_trip_tensor_primitives() {
    check_round_trip(
        r#"func @tensors(%a: f64[2,3], %b: f64[2,4], %idx: i64[5]) -> (f64[3,4], f64[4,3], f64[2], f64[5,3], f64[2,3]) {
             %ab = matmul_tn %a, %b : f64[3,4]
             %t = transpose %ab : f64[4,3]
             %r = reshape<6,2> %ab : f64[6,2]
             %c = concat %r, %r : f64[12,2]
             %s = slice<start=3, len=5> %c : f64[5,2]
             %g = gather %a, %idx : f64[5,3]
             %z = const_tensor<[2,3] 0.0, 0.0, 0.0, 0.0, 0.0, 0.0> : f64[2,3]
             %sa = scatter_add %z, %idx, %g : f64[2,3]
             %l = logsumexp_axis<1> %sa : f64[2]
             %m = max_axis<0> %s : f64[2]
             %sum = sum_axis<0> %m : f64
             %e = expand<axis=0, n=2> %sum : f64[2]
             %y = add %l, %e : f64[2]
             return %ab, %t, %y, %g, %sa
           }"#,
        expect![[r#"
            func @tensors(%0: f64[2,3], %1: f64[2,4], %2: i64[5]) -> (f64[3,4], f64[4,3], f64[2], f64[5,3], f64[2,3]) {
              %3 = matmul_tn %0, %1 : f64[3,4]
              %4 = transpose %3 : f64[4,3]
              %5 = reshape<6,2> %3 : f64[6,2]
              %6 = concat %5, %5 : f64[12,2]
              %7 = slice<start=3, len=5> %6 : f64[5,2]
              %8 = gather %0, %2 : f64[5,3]
              %9 = const_tensor<[2,3] 0.0, 0.0, 0.0, 0.0, 0.0, 0.0> : f64[2,3]
              %10 = scatter_add %9, %2, %8 : f64[2,3]
              %11 = logsumexp_axis<1> %10 : f64[2]
              %12 = max_axis<0> %7 : f64[2]
              %13 = sum_axis<0> %12 : f64
              %14 = expand<axis=0, n=2> %13 : f64[2]
              %15 = add %11, %14 : f64[2]
              return %3, %4, %15, %8, %10
            }
        "#]],
    );
}

#[test]
fn round_trip_if_and_for() {
    check_round_trip(
        "func @control(%x: f64, %n: i64) -> (f64, f64[?]) {
           %zero = const 0.0 : f64
           %c = gt %x, %zero : bool
           %y = if %c : f64 {
             %e = exp %x : f64
             yield %e
           } else {
             yield %x
           }
           %lo = const 0 : i64
           %acc, %ys = for<stacked=1> %lo, %n, %y : f64, f64[?] {
             (%i: i64, %a: f64):
             %fi = int_to_f64 %i : f64
             %next = mul %a, %fi : f64
             yield %next, %a
           }
           return %acc, %ys
         }",
        expect![[r#"
            func @control(%0: f64, %1: i64) -> (f64, f64[?]) {
              %2 = const 0.0 : f64
              %3 = gt %0, %2 : bool
              %4 = if %3 : f64 {
                %5 = exp %0 : f64
                yield %5
              } else {
                yield %0
              }
              %6 = const 0 : i64
              %7, %8 = for<stacked=1> %6, %1, %4 : f64, f64[?] {
                (%9: i64, %10: f64):
                %11 = int_to_f64 %9 : f64
                %12 = mul %10, %11 : f64
                yield %12, %10
              }
              return %7, %8
            }
        "#]],
    );
}

#[test]
fn round_trip_random_choices_and_effects() {
    check_round_trip(
        "func @effects(%mu: f64, %sigma: f64, %i: i64) -> (f64, f64, i64, f64, f64) {
           %x = sample<normal, site=0, reparam> %mu, %sigma : f64
           %b = const 0.0 : f64
           %y = sample<normal, site=1, reinforce, explicit, baseline> %mu, %sigma, %b : f64
           %z = sample<normal, site=2, reparam, detached> %mu, %sigma : f64
           add_cost %x
           %d = draw<normal, site=3, stream=1, params=2> %mu, %sigma, %i : f64
           %k = const 3 : i64
           %e = enum_value<site=4> %k, %i : i64
           %f = enum_value<site=5, bool> %k : bool
           %v = mvd_value<normal, site=6, params=2> %mu, %sigma, %i : f64
           %ct = mvd_cotangent<site=6> %i : f64
           return %y, %d, %e, %v, %ct
         }",
        expect![[r#"
            func @effects(%0: f64, %1: f64, %2: i64) -> (f64, f64, i64, f64, f64) {
              %3 = sample<normal, site=0, reparam> %0, %1 : f64
              %4 = const 0.0 : f64
              %5 = sample<normal, site=1, reinforce, explicit, baseline> %0, %1, %4 : f64
              %6 = sample<normal, site=2, reparam, detached> %0, %1 : f64
              add_cost %3
              %7 = draw<normal, site=3, stream=1, params=2> %0, %1, %2 : f64
              %8 = const 3 : i64
              %9 = enum_value<site=4> %8, %2 : i64
              %10 = enum_value<site=5, bool> %8 : bool
              %11 = mvd_value<normal, site=6, params=2> %0, %1, %2 : f64
              %12 = mvd_cotangent<site=6> %2 : f64
              return %5, %7, %9, %11, %12
            }
        "#]],
    );
}

// ---- reader errors ----------------------------------------------------------

#[test]
fn read_error_unknown_operation() {
    check_read_error(
        "func @f(%x: f64) -> (f64) {
           %y = frobnicate %x : f64
           return %y
         }",
        expect!["line 2: unknown operation `frobnicate`"],
    );
}

#[test]
fn read_error_undefined_value() {
    check_read_error(
        "func @f(%x: f64) -> (f64) {
           %y = exp %x : f64
           %z = add %y, %w : f64
           return %z
         }",
        expect!["line 3: use of undefined value %w"],
    );
}

#[test]
fn read_error_bad_literal() {
    check_read_error(
        "func @f() -> (i64) {
           %n = const 1.5 : i64
           return %n
         }",
        expect!["line 2: bad i64 literal `1.5`"],
    );
}

#[test]
fn read_error_unknown_element_type() {
    check_read_error(
        "func @f(%x: f32) -> (f64) {
           return %x
         }",
        expect!["line 1: unknown element type `f32`"],
    );
}

#[test]
fn read_error_result_count() {
    check_read_error(
        "func @f(%x: f64) -> (f64) {
           %a, %b = exp %x : f64
           return %a
         }",
        expect!["line 2: 2 result name(s) but 1 type(s)"],
    );
}

#[test]
fn read_error_unterminated_string() {
    check_read_error(
        "func @f(%x: f64) -> (f64) {
           %g = guard<positive, \"scale> %x : f64
           return %g
         }",
        expect!["line 2: unterminated string"],
    );
}

#[test]
fn read_error_missing_else() {
    check_read_error(
        "func @f(%c: bool, %x: f64) -> (f64) {
           %y = if %c : f64 {
             yield %x
           }
           return %y
         }",
        expect!["line 5: expected `else`, found `return`"],
    );
}

#[test]
fn read_error_trailing_text() {
    check_read_error(
        "func @f(%x: f64) -> (f64) {
           return %x
         }
         func @g() -> () {
           return
         }",
        expect!["line 4: text after the end of the function"],
    );
}

// ---- verifier errors ----------------------------------------------------------

#[test]
fn verify_error_use_before_definition() {
    // The reader binds names in order, so build the bad order by swapping
    // the two operations of a valid function.
    let mut f = read(
        "func @f(%x: f64) -> (f64) {
           %y = exp %x : f64
           %z = log %y : f64
           return %z
         }",
    );
    f.body.ops.swap(0, 1);
    check_verify_error_of(
        &f,
        expect!["op #1 `log`: uses value #1 before or outside its definition"],
    );
}

#[test]
fn verify_error_value_used_outside_its_region() {
    check_verify_error(
        "func @f(%x: f64, %c: bool) -> (f64) {
           %y = if %c : f64 {
             %e = exp %x : f64
             yield %e
           } else {
             yield %x
           }
           %z = add %y, %e : f64
           return %z
         }",
        expect!["op #2 `add`: uses value #2 before or outside its definition"],
    );
}

#[test]
fn verify_error_loop_value_yielded_outside_its_loop() {
    check_verify_error(
        "func @f(%x: f64) -> (f64) {
           %lo = const 0 : i64
           %hi = const 2 : i64
           %r = for<stacked=0> %lo, %hi, %x : f64 {
             (%i: i64, %a: f64):
             %b = mul %a, %x : f64
             yield %b
           }
           return %b
         }",
        expect!["region yields value #5 which is not visible"],
    );
}

#[test]
fn verify_error_operand_types_of_a_primitive() {
    check_verify_error(
        "func @f(%x: f64, %n: i64) -> (f64) {
           %y = add %x, %n : f64
           return %y
         }",
        expect!["op #0 `add`: add needs operands of one type, got f64 and i64"],
    );
}

#[test]
fn verify_error_declared_result_type_of_a_primitive() {
    check_verify_error(
        "func @f(%x: f64) -> (f64[2]) {
           %y = exp %x : f64[2]
           return %y
         }",
        expect!["op #0 `exp`: result types [f64[2]], expected [f64]"],
    );
}

#[test]
fn verify_error_matvec_shapes() {
    check_verify_error(
        "func @f(%m: f64[3,2], %v: f64[3]) -> (f64[3]) {
           %y = matvec %m, %v : f64[3]
           return %y
         }",
        expect!["op #0 `matvec`: matvec of f64[3,2] and f64[3] does not fit"],
    );
}

#[test]
fn verify_error_matmul_shapes() {
    check_verify_error(
        "func @f(%a: f64[2,3], %b: f64[2,4]) -> (f64[2,4]) {
           %y = matmul %a, %b : f64[2,4]
           return %y
         }",
        expect!["op #0 `matmul`: matmul of f64[2,3] and f64[2,4] does not fit"],
    );
}

#[test]
fn verify_error_reshape_changes_size() {
    check_verify_error(
        "func @f(%a: f64[2,3]) -> (f64[4]) {
           %y = reshape<4> %a : f64[4]
           return %y
         }",
        expect!["op #0 `reshape<4>`: reshape of f64[2,3] to [4] changes its size"],
    );
}

#[test]
fn verify_errors_of_batched_draws() {
    // The parameters need the leading axis of the batch...
    check_verify_error(
        "func @f(%m: f64[3], %s: f64, %k: i64[3]) -> (f64[3]) {
           %z = draw<normal, site=0, stream=0, params=2, batch=3> %m, %s, %k : f64[3]
           return %z
         }",
        expect![
            "op #0 `draw<normal, site=0, stream=0, params=2, batch=3>`: the parameters and the result of a draw batched 3 times need a leading axis of 3"
        ],
    );
    // ...an index is a scalar or one per row...
    check_verify_error(
        "func @f(%m: f64[3], %s: f64[3], %k: i64[2]) -> (f64[3]) {
           %z = draw<normal, site=0, stream=0, params=2, batch=3> %m, %s, %k : f64[3]
           return %z
         }",
        expect![
            "op #0 `draw<normal, site=0, stream=0, params=2, batch=3>`: the indices of a batched draw must be i64 or i64[3]"
        ],
    );
    // ...and each row's value is the distribution's.
    check_verify_error(
        "func @f(%m: f64[3,2], %s: f64[3,2], %k: i64[3]) -> (f64[3]) {
           %z = draw<mv_normal_diag, site=0, stream=0, params=2, batch=3> %m, %s, %k : f64[3]
           return %z
         }",
        expect![
            "op #0 `draw<mv_normal_diag, site=0, stream=0, params=2, batch=3>`: result types [f64], expected [f64[2]]"
        ],
    );
    // A well-formed one verifies and round-trips through the printer.
    let ok = read(
        "func @f(%m: f64[3,2], %s: f64[3,2], %i: i64, %k: i64[3]) -> (f64[3,2]) {
           %z = draw<mv_normal_diag, site=0, stream=1, params=2, batch=3> %m, %s, %i, %k : f64[3,2]
           return %z
         }",
    );
    verify(&ok).expect("verifies");
    assert_eq!(read(&print_function(&ok)), ok);
}

#[test]
fn verify_error_for_carry_changes_type() {
    check_verify_error(
        "func @f(%x: f64) -> (f64) {
           %lo = const 0 : i64
           %hi = const 2 : i64
           %r = for<stacked=0> %lo, %hi, %x : f64 {
             (%i: i64, %a: f64):
             yield %i
           }
           return %r
         }",
        expect!["op #2 `for<stacked=0>`: carried types change across iterations"],
    );
}

#[test]
fn verify_error_for_body_params_do_not_match_carries() {
    check_verify_error(
        "func @f(%x: f64) -> (f64) {
           %lo = const 0 : i64
           %hi = const 2 : i64
           %r = for<stacked=0> %lo, %hi, %x : f64 {
             (%i: i64, %a: f64[2]):
             yield %x
           }
           return %r
         }",
        expect![
            "op #2 `for<stacked=0>`: body params [i64, f64[2]] do not match index + carries [f64]"
        ],
    );
}

#[test]
fn verify_error_for_stacked_type() {
    check_verify_error(
        "func @f(%x: f64) -> (f64[3]) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %ys = for<stacked=1> %lo, %hi : f64[3,1] {
             (%i: i64):
             yield %x
           }
           return %ys
         }",
        expect!["op #2 `for<stacked=1>`: stacked result f64[3,1] does not stack f64"],
    );
}

#[test]
fn verify_error_if_branches_disagree() {
    check_verify_error(
        "func @f(%c: bool, %x: f64, %n: i64) -> (f64) {
           %y = if %c : f64 {
             yield %x
           } else {
             yield %n
           }
           return %y
         }",
        expect!["op #0 `if`: a branch yields [i64], the if has [f64]"],
    );
}

#[test]
fn verify_error_if_condition_not_bool() {
    check_verify_error(
        "func @f(%x: f64) -> (f64) {
           %y = if %x : f64 {
             yield %x
           } else {
             yield %x
           }
           return %y
         }",
        expect!["op #0 `if`: condition must be one bool"],
    );
}

#[test]
fn verify_error_draw_result_shape() {
    check_verify_error(
        "func @f(%v: f64[2], %s: f64) -> (f64) {
           %d = draw<normal, site=0, stream=0, params=2> %v, %s : f64
           return %d
         }",
        expect![
            "op #0 `draw<normal, site=0, stream=0, params=2>`: result types [f64], expected [f64[2]]"
        ],
    );
}

#[test]
fn verify_error_names_the_op_inside_a_region() {
    let mut f = read(
        "func @f(%x: f64) -> (f64) {
           %lo = const 0 : i64
           %hi = const 2 : i64
           %r = for<stacked=0> %lo, %hi, %x : f64 {
             (%i: i64, %a: f64):
             %b = sin %a : f64
             %c = cos %b : f64
             yield %c
           }
           return %r
         }",
    );
    // Swap the loop body's two operations.
    let loop_op = f.body.ops[2];
    f.op_mut(loop_op).regions[0].ops.swap(0, 1);
    check_verify_error_of(
        &f,
        expect!["op #3 `cos`: uses value #5 before or outside its definition"],
    );
}

// ---- what the passes produce --------------------------------------------------

const SQUARE_PLUS_ONE: &str = "
func @square_plus_one(%x: f64) -> (f64) {
  %sq = mul %x, %x : f64
  %one = const 1.0 : f64
  %r = add %sq, %one : f64
  return %r
}";

const BRANCH: &str = "
func @branch(%x: f64, %y: f64) -> (f64) {
  %c = gt %x, %y : bool
  %r = if %c : f64 {
    %s = sin %x : f64
    %t = mul %s, %y : f64
    yield %t
  } else {
    %p = mul %x, %y : f64
    yield %p
  }
  return %r
}";

const CUBE_BY_LOOP: &str = "
func @cube(%x: f64) -> (f64) {
  %lo = const 0 : i64
  %hi = const 3 : i64
  %one = const 1.0 : f64
  %p = for<stacked=0> %lo, %hi, %one : f64 {
    (%i: i64, %acc: f64):
    %next = mul %acc, %x : f64
    yield %next
  }
  return %p
}";

#[test]
fn jvp_of_straight_line_code() {
    check_pass(
        SQUARE_PLUS_ONE,
        |f| jvp(f, &[true]).expect("jvp"),
        expect![[r#"
        func @square_plus_one_jvp(%0: f64, %1: f64) -> (f64, f64) {
          %2 = mul %0, %0 : f64
          %3 = mul %1, %0 : f64
          %4 = mul %1, %0 : f64
          %5 = add %3, %4 : f64
          %6 = const 1.0 : f64
          %7 = add %2, %6 : f64
          return %7, %5
        }
    "#]],
    );
}

#[test]
fn vjp_of_straight_line_code() {
    check_pass(
        SQUARE_PLUS_ONE,
        |f| vjp(f, &[true], &[true]).expect("vjp"),
        expect![[r#"
            func @square_plus_one_vjp(%0: f64, %1: f64) -> (f64, f64) {
              %2 = mul %0, %0 : f64
              %3 = const 1.0 : f64
              %4 = add %2, %3 : f64
              %5 = mul %1, %0 : f64
              %6 = mul %1, %0 : f64
              %7 = add %5, %6 : f64
              return %4, %7
            }
        "#]],
    );
}

/// The transposes of `matmul`, `slice` and `gather`: `matmul` with the
/// transpose flags rearranged, zero rows concatenated around the slice's
/// cotangent, a scatter-add into zeros.
#[test]
fn vjp_of_tensor_primitives() {
    check_pass(
        "func @f(%a: f64[2,3], %b: f64[3,2], %idx: i64[3]) -> (f64) {
           %p = matmul %a, %b : f64[2,2]
           %g = gather %p, %idx : f64[3,2]
           %s = slice<start=1, len=1> %g : f64[1,2]
           %y = sum %s : f64
           return %y
         }",
        |f| vjp(f, &[true, true, false], &[true]).expect("vjp"),
        expect![[r#"
            func @f_vjp(%0: f64[2,3], %1: f64[3,2], %2: i64[3], %3: f64) -> (f64, f64[2,3], f64[3,2]) {
              %4 = matmul %0, %1 : f64[2,2]
              %5 = gather %4, %2 : f64[3,2]
              %6 = slice<start=1, len=1> %5 : f64[1,2]
              %7 = sum %6 : f64
              %8 = broadcast<1,2> %3 : f64[1,2]
              %9 = const 0.0 : f64
              %10 = broadcast<1,2> %9 : f64[1,2]
              %11 = const 0.0 : f64
              %12 = broadcast<1,2> %11 : f64[1,2]
              %13 = concat %10, %8, %12 : f64[3,2]
              %14 = const 0.0 : f64
              %15 = broadcast<2,2> %14 : f64[2,2]
              %16 = scatter_add %15, %2, %13 : f64[2,2]
              %17 = matmul_nt %16, %1 : f64[2,3]
              %18 = matmul_tn %0, %16 : f64[3,2]
              return %7, %17, %18
            }
        "#]],
    );
}

#[test]
fn jvp_of_an_if_yields_tangents_from_both_branches() {
    check_pass(
        BRANCH,
        |f| jvp(f, &[true, true]).expect("jvp"),
        expect![[r#"
            func @branch_jvp(%0: f64, %1: f64, %2: f64, %3: f64) -> (f64, f64) {
              %4 = gt %0, %1 : bool
              %5, %6 = if %4 : f64, f64 {
                %7 = sin %0 : f64
                %8 = cos %0 : f64
                %9 = mul %2, %8 : f64
                %10 = mul %7, %1 : f64
                %11 = mul %9, %1 : f64
                %12 = mul %3, %7 : f64
                %13 = add %11, %12 : f64
                yield %10, %13
              } else {
                %14 = mul %0, %1 : f64
                %15 = mul %2, %1 : f64
                %16 = mul %3, %0 : f64
                %17 = add %15, %16 : f64
                yield %14, %17
              }
              return %5, %6
            }
        "#]],
    );
}

#[test]
fn vjp_of_an_if_recomputes_each_branch() {
    check_pass(
        BRANCH,
        |f| simplify(&vjp(f, &[true, true], &[true]).expect("vjp")),
        expect![[r#"
            func @branch_vjp(%0: f64, %1: f64, %2: f64) -> (f64, f64, f64) {
              %3 = gt %0, %1 : bool
              %4 = if %3 : f64 {
                %5 = sin %0 : f64
                %6 = mul %5, %1 : f64
                yield %6
              } else {
                %7 = mul %0, %1 : f64
                yield %7
              }
              %8, %9 = if %3 : f64, f64 {
                %10 = sin %0 : f64
                %11 = mul %2, %1 : f64
                %12 = mul %2, %10 : f64
                %13 = cos %0 : f64
                %14 = mul %11, %13 : f64
                yield %14, %12
              } else {
                %15 = mul %2, %1 : f64
                %16 = mul %2, %0 : f64
                yield %15, %16
              }
              return %4, %8, %9
            }
        "#]],
    );
}

#[test]
fn jvp_of_a_loop_carries_tangents() {
    check_pass(
        CUBE_BY_LOOP,
        |f| simplify(&jvp(f, &[true]).expect("jvp")),
        expect![[r#"
            func @cube_jvp(%0: f64, %1: f64) -> (f64, f64) {
              %2 = const 0 : i64
              %3 = const 3 : i64
              %4 = const 1.0 : f64
              %5 = const 0.0 : f64
              %6, %7 = for<stacked=0> %2, %3, %4, %5 : f64, f64 {
                (%8: i64, %9: f64, %10: f64):
                %11 = mul %9, %0 : f64
                %12 = mul %10, %0 : f64
                %13 = mul %1, %9 : f64
                %14 = add %12, %13 : f64
                yield %11, %14
              }
              return %6, %7
            }
        "#]],
    );
}

#[test]
fn vjp_of_a_loop_stacks_carries_and_runs_backward() {
    check_pass(
        CUBE_BY_LOOP,
        |f| simplify(&vjp(f, &[true], &[true]).expect("vjp")),
        expect![[r#"
            func @cube_vjp(%0: f64, %1: f64) -> (f64, f64) {
              %2 = const 0 : i64
              %3 = const 3 : i64
              %4 = const 1.0 : f64
              %5, %6 = for<stacked=1> %2, %3, %4 : f64, f64[3] {
                (%7: i64, %8: f64):
                %9 = mul %8, %0 : f64
                yield %9, %8
              }
              %10 = const 0.0 : f64
              %11, %12 = for<stacked=0> %2, %3, %1, %10 : f64, f64 {
                (%13: i64, %14: f64, %15: f64):
                %16 = const 2 : i64
                %17 = sub %16, %13 : i64
                %18 = index %6, %17 : f64
                %19 = mul %14, %0 : f64
                %20 = mul %14, %18 : f64
                %21 = add %15, %20 : f64
                yield %19, %21
              }
              return %5, %12
            }
        "#]],
    );
}

#[test]
fn simplify_folds_shares_and_removes_dead_code() {
    check_pass(
        "func @f(%x: f64) -> (f64) {
           %two = const 2.0 : f64
           %three = const 3.0 : f64
           %six = mul %two, %three : f64
           %zero = const 0.0 : f64
           %x0 = add %x, %zero : f64
           %a = mul %x0, %six : f64
           %b = mul %x, %six : f64
           %dead = exp %a : f64
           %one = const 1.0 : f64
           %c = div %b, %one : f64
           %r = add %a, %c : f64
           return %r
         }",
        simplify,
        expect![[r#"
            func @f(%0: f64) -> (f64) {
              %1 = const 6.0 : f64
              %2 = mul %0, %1 : f64
              %3 = add %2, %2 : f64
              return %3
            }
        "#]],
    );
}

#[test]
fn simplify_shares_the_minibatches_of_one_plate_size() {
    // Every minibatch of (n, m) in a run is the same: the model's and the
    // guide's are one, and so are the gathers that read them; another
    // (n, m) is another minibatch.
    check_pass(
        "func @f(%t: f64[10,2]) -> (f64[3,2], f64[3,2], f64[4,2]) {
           %i = subsample<n=10, m=3> : i64[3]
           %a = gather %t, %i : f64[3,2]
           %j = subsample<n=10, m=3> : i64[3]
           %b = gather %t, %j : f64[3,2]
           %k = subsample<n=10, m=4> : i64[4]
           %c = gather %t, %k : f64[4,2]
           return %a, %b, %c
         }",
        simplify,
        expect![[r#"
            func @f(%0: f64[10,2]) -> (f64[3,2], f64[3,2], f64[4,2]) {
              %1 = subsample<n=10, m=3> : i64[3]
              %2 = gather %0, %1 : f64[3,2]
              %3 = subsample<n=10, m=4> : i64[4]
              %4 = gather %0, %3 : f64[4,2]
              return %2, %2, %4
            }
        "#]],
    );
}

#[test]
fn simplify_drops_loop_carries_the_body_passes_through() {
    // `%acc` is yielded unchanged: its value is `%x` in every iteration and
    // after the loop; `%s` is a real carry and stays.
    check_pass(
        "func @f(%x: f64) -> (f64, f64, f64[3]) {
           %lo = const 0 : i64
           %hi = const 3 : i64
           %zero = const 0.0 : f64
           %acc, %s, %t = for<stacked=1> %lo, %hi, %x, %zero : f64, f64, f64[3] {
             (%i: i64, %a: f64, %b: f64):
             %r = int_to_f64 %i : f64
             %u = mul %r, %a : f64
             %b2 = add %b, %u : f64
             yield %a, %b2, %r
           }
           return %acc, %s, %t
         }",
        simplify,
        expect![[r#"
            func @f(%0: f64) -> (f64, f64, f64[3]) {
              %1 = const 0 : i64
              %2 = const 3 : i64
              %3 = const 0.0 : f64
              %4, %5 = for<stacked=1> %1, %2, %3 : f64, f64[3] {
                (%6: i64, %7: f64):
                %8 = int_to_f64 %6 : f64
                %9 = mul %8, %0 : f64
                %10 = add %7, %9 : f64
                yield %10, %8
              }
              return %0, %4, %5
            }
        "#]],
    );
}

#[test]
fn simplify_sees_carries_passed_through_inner_loops() {
    // The lowering threads accumulators through nested loops: the outer
    // loop yields the inner loop's final carry, which the inner loop passes
    // through, so the outer loop passes `%acc` through too — both carries
    // go, and the loops that are left carry nothing.
    check_pass(
        "func @f(%x: f64) -> (f64, f64[2,3]) {
           %lo = const 0 : i64
           %n = const 2 : i64
           %m = const 3 : i64
           %acc, %t = for<stacked=1> %lo, %n, %x : f64, f64[2,3] {
             (%i: i64, %a: f64):
             %a2, %row = for<stacked=1> %lo, %m, %a : f64, f64[3] {
               (%j: i64, %b: f64):
               %r = int_to_f64 %j : f64
               yield %b, %r
             }
             yield %a2, %row
           }
           return %acc, %t
         }",
        simplify,
        expect![[r#"
            func @f(%0: f64) -> (f64, f64[2,3]) {
              %1 = const 0 : i64
              %2 = const 2 : i64
              %3 = const 3 : i64
              %4 = for<stacked=1> %1, %2 : f64[2,3] {
                (%5: i64):
                %6 = for<stacked=1> %1, %3 : f64[3] {
                  (%7: i64):
                  %8 = int_to_f64 %7 : f64
                  yield %8
                }
                yield %6
              }
              return %0, %4
            }
        "#]],
    );
}

#[test]
fn simplify_keeps_effects_and_guards() {
    check_pass(
        r#"func @f(%mu: f64, %sigma: f64) -> (f64) {
             %g = guard<positive, "scale"> %sigma : f64
             %x = sample<normal, site=0, reparam> %mu, %g : f64
             add_cost %x
             %unused = exp %x : f64
             return %mu
           }"#,
        simplify,
        expect![[r#"
            func @f(%0: f64, %1: f64) -> (f64) {
              %2 = guard<positive, "scale"> %1 : f64
              %3 = sample<normal, site=0, reparam> %0, %2 : f64
              add_cost %3
              return %0
            }
        "#]],
    );
}

#[test]
fn round_trip_host_functions() {
    check_round_trip(
        r#"func @host(%x: f64, %y: f64) -> (f64, f64) {
             %h = host<id=3, arity=2> %x, %y : f64
             %d = host_partial<id=3, arity=2, wrt=1> %x, %y : f64
             return %h, %d
           }"#,
        expect![[r#"
            func @host(%0: f64, %1: f64) -> (f64, f64) {
              %2 = host<id=3, arity=2> %0, %1 : f64
              %3 = host_partial<id=3, arity=2, wrt=1> %0, %1 : f64
              return %2, %3
            }
        "#]],
    );
}

#[test]
fn a_host_function_differentiates_by_its_partials() {
    let text = r#"func @host(%x: f64, %y: f64) -> (f64) {
                    %h = host<id=0, arity=2> %x, %y : f64
                    %z = mul %h, %x : f64
                    return %z
                  }"#;
    check_pass(
        text,
        |f| vjp(f, &[true, true], &[true]).expect("vjp"),
        expect![[r#"
            func @host_vjp(%0: f64, %1: f64, %2: f64) -> (f64, f64, f64) {
              %3 = host<id=0, arity=2> %0, %1 : f64
              %4 = mul %3, %0 : f64
              %5 = mul %2, %0 : f64
              %6 = mul %2, %3 : f64
              %7 = host_partial<id=0, arity=2, wrt=0> %0, %1 : f64
              %8 = mul %5, %7 : f64
              %9 = host_partial<id=0, arity=2, wrt=1> %0, %1 : f64
              %10 = mul %5, %9 : f64
              %11 = add %6, %8 : f64
              return %4, %11, %10
            }
        "#]],
    );
    check_pass(
        text,
        |f| jvp(f, &[true, false]).expect("jvp"),
        expect![[r#"
        func @host_jvp(%0: f64, %1: f64, %2: f64) -> (f64, f64) {
          %3 = host<id=0, arity=2> %0, %1 : f64
          %4 = host_partial<id=0, arity=2, wrt=0> %0, %1 : f64
          %5 = mul %2, %4 : f64
          %6 = mul %3, %0 : f64
          %7 = mul %5, %0 : f64
          %8 = mul %2, %3 : f64
          %9 = add %7, %8 : f64
          return %6, %9
        }
    "#]],
    );
    // The partials themselves are not differentiable.
    let partial = read(
        r#"func @p(%x: f64) -> (f64) {
             %d = host_partial<id=0, arity=1, wrt=0> %x : f64
             return %d
           }"#,
    );
    let err = vjp(&partial, &[true], &[true]).expect_err("not differentiable");
    assert!(err.message.contains("host_partial"), "{err:?}");
}
