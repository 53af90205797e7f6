//! `vprog bench`'s contract: one well-formed JSON line per `fit` with
//! `--json` (on either back end), a table row per fit without, exit code 2
//! on a bad `--seconds` or `--backend` and 1 (with the rendered
//! diagnostic) when a fit's step fails.

use std::process::{Command, Output};

fn vprog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vprog"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vprog")
}

fn write_temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("vprog-bench-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write program");
    path.display().to_string()
}

/// Two fits (the second with `init`) around a report, which bench skips.
const TINY: &str = r#"
param mu = 0.0;
param s = 0.0;
let near_two = E { x ~ normal(mu, 1.0) by reparam; -(x - 2.0) ^ 2 };
let spread = E { x ~ normal(mu, exp(s)) by reparam; -(x * x) + s };
fit near_two with sgd(lr = 0.05), steps = 50, particles = 4;
report mu_hat = mu;
fit spread with adam(lr = 0.01), steps = 10, particles = 2, init = { s: 0.5 };
"#;

#[test]
fn json_prints_one_well_formed_line_per_fit() {
    let path = write_temp("tiny.vprog", TINY);
    for backend in ["jit", "interp"] {
        json_lines_are_well_formed(&path, backend);
    }
}

fn json_lines_are_well_formed(path: &str, backend: &str) {
    let out = vprog(&[
        "bench",
        path,
        "--json",
        "--seconds",
        "0.2",
        "--backend",
        backend,
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    for (line, name) in lines.iter().zip(["near_two", "spread"]) {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        let object = v.as_object().expect("a JSON object");
        let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["bench", "step_us", "steps"], "{line}");
        assert_eq!(v["bench"], name, "{line}");
        let step_us = v["step_us"].as_f64().expect("step_us is a number");
        assert!(step_us.is_finite() && step_us > 0.0, "{line}");
        let steps = v["steps"].as_u64().expect("steps is a whole number");
        assert!(steps >= 1, "{line}");
    }
}

#[test]
fn the_table_has_a_header_and_a_row_per_fit() {
    let path = write_temp("table.vprog", TINY);
    let out = vprog(&["bench", &path, "--seconds", "0.1", "--max-steps", "20"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].contains("median µs") && lines[0].contains("p10–p90"),
        "{stdout}"
    );
    for (line, name) in lines[1..].iter().zip(["near_two", "spread"]) {
        let columns: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(columns.len(), 4, "{line}");
        assert_eq!(columns[0], name);
        assert!(columns[1].parse::<f64>().is_ok_and(|t| t > 0.0), "{line}");
        let steps: usize = columns[3].parse().expect("a step count");
        assert!((1..=20).contains(&steps), "{line}");
    }
}

#[test]
fn a_bad_time_budget_or_back_end_is_bad_usage() {
    let path = write_temp("budget.vprog", TINY);
    for seconds in ["0", "-1", "inf", "NaN", "soon"] {
        let out = vprog(&["bench", &path, "--seconds", seconds]);
        assert_eq!(out.status.code(), Some(2), "--seconds {seconds}");
    }
    let out = vprog(&["bench", &path, "--backend", "abacus"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_failing_step_exits_1_with_the_diagnostic() {
    let path = write_temp(
        "failing.vprog",
        "param s = 1.0;\n\
         let obj = E { x ~ normal(0.0, s) by reparam; x };\n\
         fit obj with sgd(lr = 0.1), steps = 10, particles = 2, init = { s: -1.0 };\n",
    );
    let out = vprog(&["bench", &path, "--json", "--seconds", "0.1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("E0700") && err.contains("normal"), "{err}");
}
