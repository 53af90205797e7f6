//! Deterministic semantics of the language, through `report`: numbers and
//! promotion, arrays and comprehensions, records and tuples, control flow,
//! parameters and constraints, nested `grad`.

mod common;

use common::reports;

fn check(src: &str, expected: &[(&str, &[f64])]) {
    let got = reports(src);
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((name, values), (want_name, want)) in got.iter().zip(expected) {
        assert_eq!(name, want_name);
        assert_eq!(values.len(), want.len(), "{name}: {values:?}");
        for (v, w) in values.iter().zip(*want) {
            assert!(
                (v - w).abs() <= 1e-12 * w.abs().max(1.0),
                "{name}: {values:?}, expected {want:?}"
            );
        }
    }
}

#[test]
fn numbers_promote_and_divide_as_reals() {
    check(
        "report a = 7 / 2;
         report b = 2 * 1.5 + 1;
         report c = 2 ^ 10;
         report d = -3 ^ 2;
         report e = int(2.7) + 1;
         report f = real(true) + real(3);",
        &[
            ("a", &[3.5]),
            ("b", &[4.0]),
            ("c", &[1024.0]),
            ("d", &[-9.0]),
            ("e", &[3.0]),
            ("f", &[4.0]),
        ],
    );
}

#[test]
fn arrays_comprehensions_and_reductions() {
    check(
        "let xs = [for i in 0..5 { i * i }];
         let ys = [1.0, 2.0, 3.0];
         report xs = xs;
         report s = sum(ys) + len(ys);
         report m = mean(ys);
         report l = logsumexp([0.0, 0.0]);
         report d = dot(ys, ys);
         report idx = ys[2] * 2.0;
         report pairs = [for i in 0..3 { (i, 2 * i) }].1;",
        &[
            ("xs", &[0.0, 1.0, 4.0, 9.0, 16.0]),
            ("s", &[9.0]),
            ("m", &[2.0]),
            ("l", &[std::f64::consts::LN_2]),
            ("d", &[14.0]),
            ("idx", &[6.0]),
            ("pairs", &[0.0, 2.0, 4.0]),
        ],
    );
}

#[test]
fn records_tuples_control_flow_and_mutation() {
    check(
        "fn clamp(x, lo, hi) { if x < lo { lo } else if x > hi { hi } else { x } }
         fn total(n: int) {
             let mut acc = 0.0;
             for i in 0..n { acc = acc + real(i); }
             acc
         }
         let r = { a: 1.0, b: (2.0, 3.0) };
         report c = (clamp(-1.0, 0.0, 1.0), clamp(0.5, 0.0, 1.0), clamp(9.0, 0.0, 1.0));
         report t = total(4);
         report r = r.a + r.b.1;",
        &[("c", &[0.0, 0.5, 1.0]), ("t", &[6.0]), ("r", &[4.0])],
    );
}

#[test]
fn parameters_are_read_through_their_constraints() {
    check(
        "param s: positive = 2.5;
         param p: unit_interval = 0.25;
         param v: real[2] = [1.0, -1.0];
         report s = s;
         report p = p;
         report v = v;",
        &[("s", &[2.5]), ("p", &[0.25]), ("v", &[1.0, -1.0])],
    );
}

#[test]
fn grad_composes_with_itself() {
    // slope = d/dy y³ = 3y²; d/dy slope = 6y; at 1.5: 6.75 and 9.
    check(
        "fn cube(y) { y * y * y }
         fn slope(y) { grad(cube, y) }
         fn area(a, b) { a * b * b }
         report g1 = grad(cube, 1.5);
         report g2 = grad(slope, 1.5);
         report g3 = grad(area, 2.0, 3.0);",
        &[("g1", &[6.75]), ("g2", &[9.0]), ("g3", &[9.0, 12.0])],
    );
}

#[test]
fn tensor_builtins_and_their_gradients() {
    let ln2 = std::f64::consts::LN_2;
    check(
        "let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
         let ints = [[1, 2], [3, 4]];
         report p = matmul(m, transpose(m));
         report t = transpose(ints);
         report r = reshape(ints, [4]);
         report c = concat([1.0], ints[0]);
         report s = slice([1.0, 2.0, 3.0, 4.0], 1, 2);
         report g = gather([10, 20, 30], [2, 2, 0]);
         report sa = sum(ints, axis = 0);
         report ma = mean(ints, axis = 1);
         report l = logsumexp([[0.0, 0.0], [1.0, 1.0]], axis = 1);
         report mx = max(m, axis = 1);
         fn f(a) { sum(matmul(a, [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])) }
         report gf = grad(f, m);
         fn h(x) { sum(max(reshape(x, [2, 2]), axis = 0)) }
         report gh = grad(h, [1.0, 4.0, 3.0, 2.0]);
         fn k(x) { sum(gather(concat(x, x), [0, 3, 3])) }
         report gk = grad(k, [1.0, 2.0]);
         fn q(x) { sum(slice(x, 1, 2) * slice(x, 0, 2)) }
         report gq = grad(q, [1.0, 2.0, 3.0]);
         fn first_softmax(x) { sum(grad(lse_row, x) * [1.0, 0.0]) }
         fn lse_row(x) { sum(logsumexp(reshape(x, [1, 2]), axis = 1)) }
         report second = grad(first_softmax, [0.0, 0.0]);",
        &[
            ("p", &[14.0, 32.0, 32.0, 77.0]),
            ("t", &[1.0, 3.0, 2.0, 4.0]),
            ("r", &[1.0, 2.0, 3.0, 4.0]),
            ("c", &[1.0, 1.0, 2.0]),
            ("s", &[2.0, 3.0]),
            ("g", &[30.0, 30.0, 10.0]),
            ("sa", &[4.0, 6.0]),
            ("ma", &[1.5, 3.5]),
            ("l", &[ln2, 1.0 + ln2]),
            ("mx", &[3.0, 6.0]),
            // d/da Σ (a b) = the row sums of b, in every row of a.
            ("gf", &[3.0, 7.0, 11.0, 3.0, 7.0, 11.0]),
            // The column maxima are x[2] and x[1].
            ("gh", &[0.0, 1.0, 1.0, 0.0]),
            // [a, b, a, b] picked at 0, 3, 3: a once, b twice.
            ("gk", &[1.0, 2.0]),
            // x₁x₀ + x₂x₁.
            ("gq", &[2.0, 4.0, 2.0]),
            // ∇ softmax(x)₀ = (s₀ (1 − s₀), −s₀ s₁), at 0 (¼, −¼).
            ("second", &[0.25, -0.25]),
        ],
    );
}
