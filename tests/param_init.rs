//! Random initializers of parameters (`glorot()`, `he()`, `normal(σ)`):
//! the draws have the stated distribution, are a function of the seed and
//! the parameter's name, and are refused on constrained parameters.
//!
//! Tolerances: each moment is compared with its exact value within 5
//! standard errors of the sample moment (stated beside each check); with
//! the seeds fixed the checks are deterministic.

use vprog::{Engine, Error, Value};

const PROGRAM: &str = "
gen net() {
    param w: real[200, 300] = glorot();
    param h: real[100, 400] = he();
    param n: real[50000] = normal(0.1);
    param b: real[10] = zeros(10);
    x ~ normal(0.0, 1.0);
}
";

fn elements(v: Value) -> Vec<f64> {
    match v {
        Value::Array { elements, .. } => elements
            .into_iter()
            .map(|e| match e {
                Value::Real(x) => x,
                other => panic!("a real element, got {other:?}"),
            })
            .collect(),
        other => panic!("an array, got {other:?}"),
    }
}

fn param(source: &str, seed: u64, name: &str) -> Vec<f64> {
    let mut engine = Engine::new();
    engine.set_seed(seed);
    let program = engine.compile(source).expect("compiles");
    elements(program.param(name).expect("a parameter"))
}

/// Mean and variance (about the known mean 0) of `xs`.
fn second_moment(xs: &[f64]) -> f64 {
    xs.iter().map(|x| x * x).sum::<f64>() / xs.len() as f64
}

#[test]
fn glorot_is_uniform_with_the_glorot_width() {
    let w = param(PROGRAM, 3, "net.w");
    assert_eq!(w.len(), 60_000);
    // fan_in 300, fan_out 200: a = √(6/500); Var = a²/3. The sample second
    // moment's SE is a²·√((1/5 − 1/9)/n).
    let a = (6.0_f64 / 500.0).sqrt();
    assert!(w.iter().all(|x| x.abs() < a), "a draw outside (−a, a)");
    let se = a * a * ((1.0 / 5.0 - 1.0 / 9.0) / w.len() as f64).sqrt();
    let m2 = second_moment(&w);
    assert!(
        (m2 - a * a / 3.0).abs() < 5.0 * se,
        "E x² = {m2}, want {}",
        a * a / 3.0
    );
    let mean = w.iter().sum::<f64>() / w.len() as f64;
    assert!(mean.abs() < 5.0 * (a * a / 3.0 / w.len() as f64).sqrt());
}

#[test]
fn he_and_normal_have_their_variances() {
    // he: fan_in 400, Var = 2/400; a normal's second moment has SE σ²√(2/n).
    for (name, var) in [("net.h", 2.0 / 400.0), ("net.n", 0.01)] {
        let xs = param(PROGRAM, 4, name);
        let se = var * (2.0 / xs.len() as f64).sqrt();
        let m2 = second_moment(&xs);
        assert!(
            (m2 - var).abs() < 5.0 * se,
            "{name}: E x² = {m2}, want {var}"
        );
    }
    assert!(param(PROGRAM, 4, "net.b").iter().all(|&x| x == 0.0));
}

#[test]
fn draws_depend_on_the_seed_and_the_name_only() {
    let w = param(PROGRAM, 7, "net.w");
    assert_eq!(w, param(PROGRAM, 7, "net.w"), "one seed, one start");
    assert_ne!(w, param(PROGRAM, 8, "net.w"), "another seed, another start");
    // A parameter added before `w` does not move it.
    let more = PROGRAM.replace(
        "param w: real[200, 300]",
        "param extra: real[5] = glorot();\n    param w: real[200, 300]",
    );
    assert_eq!(w, param(&more, 7, "net.w"));
    // `reset_params` draws the same start again.
    let mut engine = Engine::new();
    engine.set_seed(7);
    let program = engine.compile(PROGRAM).expect("compiles");
    program.reset_params();
    assert_eq!(w, elements(program.param("net.w").expect("w")));
}

#[test]
fn a_random_initializer_on_a_constrained_parameter_is_refused() {
    let err = Engine::new()
        .compile("gen g() { param s: positive[3] = glorot(); x ~ normal(0.0, 1.0); }")
        .err()
        .expect("an error");
    let Error::Compile { diagnostics, .. } = err else {
        panic!("a compile error, got {err:?}");
    };
    assert_eq!(diagnostics[0].code, "E0111", "{diagnostics:?}");
    assert!(diagnostics[0].message.contains("`positive`"));
    let err = Engine::new()
        .compile("gen g() { param s: real[3] = normal(-1.0); x ~ normal(0.0, 1.0); }")
        .err()
        .expect("an error");
    let Error::Compile { diagnostics, .. } = err else {
        panic!("a compile error, got {err:?}");
    };
    assert_eq!(diagnostics[0].code, "E0110", "{diagnostics:?}");
}
