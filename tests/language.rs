//! Deterministic semantics of the language, through `report`: numbers and
//! promotion, arrays and comprehensions, records and tuples, control flow,
//! parameters and constraints, nested `grad`.

use vprog::lang::SourceMap;
use vprog::runtime::fit::FitReport;
use vprog::runtime::session::{ReportValue, Session, Sink};

#[derive(Default)]
struct Reports(Vec<(String, Vec<f64>)>);

impl Sink for Reports {
    fn fit_finished(&mut self, _: &str, _: &FitReport) {}
    fn report(&mut self, name: &str, value: &ReportValue) {
        if let ReportValue::Values(v) = value {
            self.0.push((name.to_string(), v.clone()));
        }
    }
}

/// Runs `src` and returns its deterministic reports.
fn reports(src: &str) -> Vec<(String, Vec<f64>)> {
    let mut sources = SourceMap::new();
    let program = vprog::load(&mut sources, "t.vprog", src)
        .unwrap_or_else(|d| panic!("{}", vprog::render_diagnostics(&sources, &d, false)));
    let mut sink = Reports::default();
    Session::new(program, 0).run(&mut sink).unwrap_or_else(|e| {
        panic!(
            "{}",
            vprog::render_diagnostics(&sources, &[vprog::session_error_diagnostic(&e)], false)
        )
    });
    sink.0
}

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
