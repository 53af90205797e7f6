//! The embedding API: compile errors as typed errors with spans, fits
//! with callbacks, parameters saved and resumed, simulated traces, host
//! functions differentiated inside a reparameterized model, run-time
//! errors naming their site, and the noisy-cone ELBO trained from Rust.

use vprog::{Engine, Error, FitOptions, Params, Value};

/// A model whose observation's mean goes through the host function
/// `warp`, and a reparameterized guide: the ELBO's gradient with respect
/// to the guide's parameters flows through `warp`'s derivative.
const WARPED: &str = r#"
import objectives;

gen model() {
    x ~ normal(0.0, 1.0);
    z ~ normal(warp(x, 0.5), 0.5);
}

gen guide() {
    param mu = 0.3;
    param s = -0.5;
    x ~ normal(mu, exp(s)) by reparam;
}

let elbo = elbo(model, guide, { z: 1.2 });
"#;

fn warp(x: f64, a: f64) -> f64 {
    x + a * x.sin()
}

fn warp_gradient(x: f64, a: f64) -> [f64; 2] {
    [1.0 + a * x.cos(), x.sin()]
}

fn engine_with_warp() -> Engine {
    let mut engine = Engine::new();
    engine
        .register_fn("warp", warp, warp_gradient)
        .expect("a valid host function");
    engine
}

/// The finite-difference derivative of the estimate of `name` with
/// respect to parameter `param`, with the randomness held fixed.
fn finite_difference(
    engine: &Engine,
    program: &vprog::Program,
    name: &str,
    param: &str,
    samples: usize,
) -> f64 {
    let objective = program.objective(name).expect("the objective");
    let base = program.params();
    let x = base.raw(param).expect("the parameter")[0];
    let h = 1e-5;
    let at = |value: f64| {
        let mut p = base.clone();
        p.set_raw(param, &[value]).expect("set");
        program.set_params(&p).expect("set params");
        engine.estimate(&objective, samples).expect("estimate").mean
    };
    let d = (at(x + h) - at(x - h)) / (2.0 * h);
    program.set_params(&base).expect("restore");
    d
}

#[test]
fn compile_errors_are_typed_with_spans() {
    let engine = Engine::new();
    let source = "gen g() {\n    x ~ normal(0.0, 1.0);\n}\nlet bad = 1.0 + true;\n";
    let Err(error) = engine.compile(source) else {
        panic!("the program should not compile")
    };
    let Error::Compile { diagnostics, .. } = &error else {
        panic!("a compile error, got {error:?}")
    };
    assert_eq!(diagnostics[0].code, "E0223");
    assert_eq!(diagnostics[0].message, "`+` cannot combine real and bool");
    let span = error.spans()[0];
    assert_eq!(&source[span.range()], "true");
    let shown = error.to_string();
    assert!(shown.contains("cannot combine real and bool"), "{shown}");
    assert!(shown.contains("<program>:4:17"), "{shown}");

    let syntax = engine.compile("let x = ;").err().expect("a syntax error");
    assert_eq!(syntax.diagnostics()[0].code, "E0001");
}

#[test]
fn names_that_do_not_exist_are_not_found() {
    let engine = Engine::new();
    let program = engine
        .compile("gen g() { x ~ normal(0.0, 1.0); }\nlet e = E { let (t, _) = sim g; t.x };")
        .expect("compiles");
    assert!(matches!(
        program.objective("nope"),
        Err(Error::NotFound {
            kind: "objective",
            ..
        })
    ));
    assert!(matches!(
        program.simulate("nope", &[], 0),
        Err(Error::NotFound {
            kind: "generative function",
            ..
        })
    ));
    assert!(matches!(
        program.param("g.nope"),
        Err(Error::NotFound { .. })
    ));
    // `g` is a generative function, not an expectation.
    let err = program.objective("e").map(|_| ()).and_then(|()| {
        engine
            .compile("gen g() { x ~ normal(0.0, 1.0); }\nlet e = g;")?
            .objective("e")
            .map(|_| ())
    });
    assert!(matches!(err, Err(Error::Compile { .. })), "{err:?}");
}

#[test]
fn a_fit_calls_back_every_step_and_moves_the_parameters() {
    let engine = Engine::new();
    let program = engine
        .compile(
            "gen guide() { param mu = 0.0; x ~ normal(mu, 1.0) by reparam; }\n\
             let objective = E { let (t, _) = sim guide; -(t.x - 3.0) ^ 2 };",
        )
        .expect("compiles");
    let objective = program.objective("objective").expect("objective");
    let mut seen = Vec::new();
    let report = engine
        .fit(
            &objective,
            FitOptions::sgd(0.05)
                .steps(150)
                .particles(4)
                .seed(3)
                .on_step(|step, value| {
                    seen.push((step, value));
                    // The program's parameters can be read during a fit.
                    assert!(program.param("guide.mu").is_ok());
                }),
        )
        .expect("fits");
    assert_eq!(seen.len(), 150);
    assert!(seen.iter().enumerate().all(|(i, (step, _))| *step == i));
    assert_eq!(report.history, seen.iter().map(|s| s.1).collect::<Vec<_>>());
    let mu = program.param("guide.mu").unwrap().as_f64().unwrap();
    assert!((mu - 3.0).abs() < 0.2, "mu = {mu}");
    assert!(report.seconds >= 0.0);
}

#[test]
fn parameters_save_load_and_resume() {
    let engine = Engine::new();
    let source = "gen guide() { param mu = 0.0; param s: positive = 2.0; \
                  x ~ normal(mu, s) by reparam; }\n\
                  let objective = E { let (t, _) = sim guide; -(t.x - 1.0) ^ 2 };";
    let trained = engine.compile(source).unwrap();
    let objective = trained.objective("objective").unwrap();
    engine
        .fit(&objective, FitOptions::adam(0.05).steps(100).particles(4))
        .unwrap();
    let saved = trained.params();

    // Through a file and back: the same values, bit for bit.
    let path = std::env::temp_dir().join(format!("vprog-params-{}.json", std::process::id()));
    saved.save(&path).unwrap();
    let loaded = Params::load(&path).unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded, saved);
    assert_eq!(Params::from_json(&saved.to_json()).unwrap(), saved);
    assert_eq!(loaded.names().collect::<Vec<_>>(), ["guide.mu", "guide.s"]);

    // A fresh program resumed from the saved values continues exactly as
    // the trained one does.
    let resumed = engine.compile(source).unwrap();
    resumed.set_params(&loaded).unwrap();
    assert_eq!(
        resumed.param("guide.s").unwrap(),
        trained.param("guide.s").unwrap()
    );
    let more = || FitOptions::adam(0.05).steps(50).particles(4).seed(9);
    engine.fit(&objective, more()).unwrap();
    engine
        .fit(&resumed.objective("objective").unwrap(), more())
        .unwrap();
    assert_eq!(resumed.params(), trained.params());

    // Parameters of another program are rejected.
    let other = engine
        .compile("gen guide() { param mu = [0.0, 1.0]; x ~ normal(mu[0], 1.0); }")
        .unwrap();
    assert!(matches!(
        other.set_params(&saved),
        Err(Error::Invalid { .. }) | Err(Error::NotFound { .. })
    ));
    assert!(Params::from_json("{").is_err());
}

#[test]
fn simulate_returns_a_trace_by_address() {
    let engine = Engine::new();
    let program = engine
        .compile(
            "gen inner(m: real) { z ~ normal(m, 1.0); }\n\
             gen outer(n: int, m: real) {\n\
                 param scale: positive = 2.0;\n\
                 x ~ normal(m, scale);\n\
                 for i in 0..n { y[i] ~ normal(x, 1.0); }\n\
                 if x > 1000.0 { never ~ normal(0.0, 1.0); }\n\
                 a ~ inner(x);\n\
                 x + 1.0\n\
             }",
        )
        .unwrap();
    let args = [Value::Int(3), Value::Real(0.5)];
    let trace = program.simulate("outer", &args, 11).unwrap();
    assert_eq!(trace.addresses().collect::<Vec<_>>(), ["a/z", "x", "y"]);
    let x = trace.get("x").unwrap().as_f64().unwrap();
    let y = trace.get("y").unwrap();
    assert_eq!(y.shape(), [3]);
    let z = trace.get("a/z").unwrap().as_f64().unwrap();
    assert_eq!(trace.retval, Some(Value::Real(x + 1.0)));

    // The log density of the choices, computed here by hand.
    let log_normal = |v: f64, m: f64, s: f64| {
        -0.5 * ((v - m) / s).powi(2) - s.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
    };
    let mut expected = log_normal(x, 0.5, 2.0) + log_normal(z, x, 1.0);
    for v in y.to_f64_vec() {
        expected += log_normal(v, x, 1.0);
    }
    assert!((trace.log_density - expected).abs() < 1e-9);

    // Seeded: the same seed gives the same trace, another seed another.
    assert_eq!(program.simulate("outer", &args, 11).unwrap(), trace);
    assert_ne!(program.simulate("outer", &args, 12).unwrap(), trace);

    // Parameters are read at their current values.
    let mut params = program.params();
    params.set_raw("outer.scale", &[(1e-6f64).ln()]).unwrap();
    program.set_params(&params).unwrap();
    let tight = program.simulate("outer", &args, 11).unwrap();
    assert!((tight.get("x").unwrap().as_f64().unwrap() - 0.5).abs() < 1e-4);
}

#[test]
fn a_host_function_is_differentiated_inside_a_reparameterized_model() {
    let engine = engine_with_warp();
    let program = engine
        .compile(WARPED)
        .expect("compiles with the host function");
    let elbo = program.objective("elbo").unwrap();
    // The host calls are compiled (calls through the registry), not left
    // to the interpreter.
    assert_eq!(elbo.fallback(), None);
    let samples = 2000;
    let gradient = engine.gradient(&elbo, samples).unwrap();
    for param in ["guide.mu", "guide.s"] {
        let exact = gradient.partial(param).unwrap();
        let fd = finite_difference(&engine, &program, "elbo", param, samples);
        assert!(
            (exact - fd).abs() < 1e-5 * exact.abs().max(1.0),
            "{param}: ADEV gradient {exact}, finite differences {fd}"
        );
    }

    // The registered derivative is what the gradient uses: a wrong one
    // gives a gradient the finite differences disagree with.
    let mut wrong = Engine::new();
    wrong
        .register_fn("warp", warp, |x: f64, a: f64| {
            [1.0 + 2.0 * a * x.cos(), x.sin()]
        })
        .unwrap();
    let program = wrong.compile(WARPED).unwrap();
    let bad = wrong
        .gradient(&program.objective("elbo").unwrap(), samples)
        .unwrap();
    let fd = finite_difference(&wrong, &program, "elbo", "guide.mu", samples);
    assert!((bad.partial("guide.mu").unwrap() - fd).abs() > 1e-3);

    // Trained through the host function, the guide moves towards the
    // posterior mode of x given z (warp(x) ≈ 1.2 near x ≈ 0.85).
    let engine = engine_with_warp();
    let program = engine.compile(WARPED).unwrap();
    let elbo = program.objective("elbo").unwrap();
    engine
        .fit(&elbo, FitOptions::adam(0.02).steps(600).particles(8))
        .unwrap();
    let mu = program.param("guide.mu").unwrap().as_f64().unwrap();
    assert!((0.5..1.0).contains(&mu), "mu = {mu}");
}

#[test]
fn host_functions_are_checked_like_builtins() {
    let mut engine = Engine::new();
    assert!(matches!(
        engine.register_fn("exp", |x: f64| x, |_x: f64| 1.0),
        Err(Error::Invalid { .. })
    ));
    assert!(matches!(
        engine.register_fn("not a name", |x: f64| x, |_x: f64| 1.0),
        Err(Error::Invalid { .. })
    ));
    engine
        .register_fn("double", |x: f64| 2.0 * x, |_x: f64| 2.0)
        .unwrap();
    let arity = engine.compile("let v = double(1.0, 2.0);").err().unwrap();
    assert_eq!(arity.diagnostics()[0].code, "E0400");
    let kind = engine.compile("let v = double(true);").err().unwrap();
    assert!(kind.to_string().contains("double"), "{kind}");
    // Without the registration the name is unknown.
    let unknown = Engine::new().compile("let v = double(1.0);").err().unwrap();
    assert_eq!(unknown.diagnostics()[0].code, "E0200");
    // A host function's value, through an estimate.
    let program = engine
        .compile("let e = E { x ~ normal(1.5, 1.0) by reparam; double(x) };")
        .unwrap();
    let estimate = engine
        .estimate(&program.objective("e").unwrap(), 4000)
        .unwrap();
    assert!((estimate.mean - 3.0).abs() < 5.0 * estimate.stderr + 1e-9);
}

#[test]
fn run_errors_name_their_site() {
    let engine = Engine::new();
    let source = "gen g() {\n    param s = -1.0;\n    x ~ normal(0.0, s);\n}\n\
                  let e = E { let (t, _) = sim g; t.x };";
    let program = engine.compile(source).unwrap();
    let objective = program.objective("e").unwrap();
    let err = engine.estimate(&objective, 10).expect_err("a run error");
    let Error::Run { site, span, .. } = &err else {
        panic!("a run error, got {err:?}")
    };
    assert_eq!(site.as_deref(), Some("g/x"));
    let span = span.expect("a span");
    assert_eq!(&source[span.range()], "x ~ normal(0.0, s);");
    assert!(err.to_string().contains("scale"), "{err}");
    let err = engine
        .fit(&objective, FitOptions::sgd(0.1).steps(3))
        .expect_err("a run error");
    assert!(matches!(err, Error::Run { .. }));
}

/// `examples/embed.rs`: the noisy cone's naive guide trained by its ELBO
/// from Rust lands within ±0.15 of the published −8.08.
#[test]
fn the_cone_elbo_trained_from_rust_matches_the_paper() {
    let engine = Engine::new();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cone.vprog");
    let program = engine.compile_file(path).unwrap();
    let elbo = program.objective("elbo").unwrap();
    engine
        .fit(&elbo, FitOptions::sgd(1e-3).steps(5000).particles(64))
        .unwrap();
    let estimate = engine.estimate(&elbo, 5000).unwrap();
    assert!(
        (estimate.mean + 8.08).abs() < 0.15,
        "ELBO {} ± {}",
        estimate.mean,
        estimate.stderr
    );
}

#[test]
fn compile_file_reports_io_errors() {
    let err = Engine::new()
        .compile_file("/nonexistent/program.vprog")
        .err()
        .unwrap();
    assert!(matches!(err, Error::Io { .. }));
    assert!(err.to_string().contains("/nonexistent/program.vprog"));
}
