//! No input makes vprog panic: random mutations of valid programs go
//! through parsing, loading and checking (every objective compiled through
//! ADEV and reverse-mode AD), and must come out as diagnostics or success.
//!
//! The mutations are seeded, so the test is deterministic; it explores
//! edits a user makes — deleted, duplicated and swapped tokens, changed
//! numbers and names — rather than random bytes, which the parser's own
//! fuzz tests cover.

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use vprog::check_program;
use vprog::lang::SourceMap;

const SEEDS: &[&str] = &[
    include_str!("../examples/cone.vprog"),
    r#"
param theta = 0.5;
param p: unit_interval = 0.3;
gen model(n: int) {
    param s: positive = 1.0;
    let mut acc = 0.0;
    for i in 0..n {
        let v = y[i] ~ normal(theta, s) by reparam;
        acc = acc + v;
    }
    b ~ flip(p) by enum;
    if b { w ~ gamma(2.0, 1.0); } else { w ~ gamma(3.0, 1.0) by reinforce; }
    k ~ categorical([0.2, 0.3, 0.5]) by mvd;
    acc
}
let obj = E {
    let (tr, lq) = sim model(3);
    let nested = E { u ~ uniform(0.0, 1.0); u };
    add_cost(nested);
    lq + sum(tr.y) + grad(square, theta)
};
fn square(x) { x * x }
fit obj with adam(lr = 0.01), steps = 3, particles = 2;
report r = estimate(obj, samples = 10);
"#,
];

/// Applies one user-like edit to `src`.
fn mutate(src: &str, kind: u8, at: usize, pick: usize) -> String {
    let tokens: Vec<&str> = src
        .split_inclusive(|c: char| c.is_whitespace() || "(){}[];,.=+-*/<>".contains(c))
        .collect();
    if tokens.is_empty() {
        return src.to_string();
    }
    let i = at % tokens.len();
    let j = pick % tokens.len();
    let mut t: Vec<String> = tokens.iter().map(|s| s.to_string()).collect();
    match kind % 6 {
        0 => {
            t.remove(i);
        }
        1 => {
            let dup = t[j].clone();
            t.insert(i, dup);
        }
        2 => t.swap(i, j),
        3 => t[i] = ["0", "-1.0", "1e308", "0.0", "3", "true", "\"x\""][pick % 7].to_string() + " ",
        4 => {
            t[i] = [
                "x",
                "theta",
                "model",
                "sim ",
                "E ",
                "by enum ",
                "by reparam ",
                "[",
                "{",
                "(",
                ")",
                "}",
                "]",
            ][pick % 13]
                .to_string()
        }
        _ => {
            t.truncate(i);
        }
    }
    t.concat()
}

fn check_no_panic(src: &str) {
    let result = std::panic::catch_unwind(|| {
        let mut sources = SourceMap::new();
        let diags = match vprog::load(&mut sources, "fuzz.vprog", src) {
            Ok(program) => check_program(&program),
            Err(diags) => diags,
        };
        // Rendering must not panic either (labels may point into the
        // standard library, whose comments hold multi-byte characters).
        let _ = vprog::render_diagnostics(&sources, &diags, false);
        diags
    });
    let diags = result.unwrap_or_else(|_| panic!("vprog panicked on:\n{src}"));
    let internal: Vec<_> = diags.iter().filter(|d| d.code == "E0900").collect();
    assert!(
        internal.is_empty(),
        "internal compiler error on:\n{src}\n{internal:?}"
    );
}

#[test]
fn mutated_programs_never_panic() {
    std::panic::set_hook(Box::new(|_| {}));
    let config = Config {
        cases: 1000,
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner =
        TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
    let strategy = (
        0..SEEDS.len(),
        prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..4),
    );
    let result = runner.run(&strategy, |(seed, edits)| {
        let mut src = SEEDS[seed].to_string();
        for (kind, at, pick) in edits {
            src = mutate(&src, kind, at, pick);
        }
        check_no_panic(&src);
        Ok(())
    });
    let _ = std::panic::take_hook();
    result.unwrap();
}

#[test]
fn the_seed_programs_check_clean() {
    for src in SEEDS {
        let mut sources = SourceMap::new();
        let program = vprog::load(&mut sources, "seed.vprog", src)
            .unwrap_or_else(|d| panic!("{}", vprog::render_diagnostics(&sources, &d, false)));
        let errors = check_program(&program);
        assert!(
            errors.is_empty(),
            "{}",
            vprog::render_diagnostics(&sources, &errors, false)
        );
    }
}
