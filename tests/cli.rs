//! The `vprog` command's contract: exit codes (0 success, 1 program error,
//! 2 bad usage), rendered diagnostics on stderr, and the `--json` lines.

use std::process::{Command, Output};

fn vprog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vprog"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vprog")
}

fn write_temp(name: &str, text: &str) -> String {
    let dir = std::env::temp_dir().join(format!("vprog-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write program");
    path.display().to_string()
}

#[test]
fn bad_usage_exits_2() {
    assert_eq!(vprog(&[]).status.code(), Some(2));
    assert_eq!(vprog(&["run"]).status.code(), Some(2));
    assert_eq!(vprog(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        vprog(&["run", "x.vprog", "--seed", "minus-one"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(vprog(&["--help"]).status.code(), Some(0));
}

#[test]
fn a_missing_file_exits_1_with_a_message() {
    let out = vprog(&["run", "no/such/file.vprog"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot read `no/such/file.vprog`"), "{err}");
}

#[test]
fn a_program_error_exits_1_with_the_rendered_diagnostic() {
    let path = write_temp(
        "broken.vprog",
        "gen g() {\n    x ~ normal(0.0, 1.0)\n    y ~ normal(x, 1.0);\n}\n",
    );
    let out = vprog(&["run", &path]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("E0001") && err.contains("broken.vprog:3:5"),
        "{err}"
    );
    let out = vprog(&["check", &path]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn check_accepts_the_examples() {
    let out = vprog(&["check", "examples/cone.vprog"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ok"));
}

#[test]
fn json_lines_have_the_documented_fields() {
    let path = write_temp(
        "small.vprog",
        r#"
param mu = 0.0;
let obj = E { x ~ normal(mu, 1.0) by reparam; -(x - 2.0) ^ 2 };
fit obj with sgd(lr = 0.05), steps = 300, particles = 4;
report obj = estimate(obj, samples = 200);
report mu = mu;
"#,
    );
    let out = vprog(&["run", &path, "--json", "--seed", "3"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    let fit = &lines[0];
    assert_eq!(fit["fit"], "obj");
    assert_eq!(fit["steps"], 300);
    assert!(fit["final_objective"].as_f64().is_some() && fit["seconds"].as_f64().is_some());
    let est = &lines[1];
    assert_eq!(est["report"], "obj");
    assert_eq!(est["samples"], 200);
    // E[−(x − 2)²] = −((μ − 2)² + 1) is maximized at μ = 2 with value −1.
    let (v, se) = (
        est["value"].as_f64().unwrap(),
        est["stderr"].as_f64().unwrap(),
    );
    assert!((v + 1.0).abs() < 5.0 * se + 0.05, "{v} ± {se}");
    let mu = &lines[2];
    assert_eq!(mu["report"], "mu");
    assert!((mu["value"].as_f64().unwrap() - 2.0).abs() < 0.1);
    assert!(mu["stderr"].is_null() && mu["samples"].is_null());
    // The same seed gives the same output.
    let again = vprog(&["run", &path, "--json", "--seed", "3"]);
    let strip = |s: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(s)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("json");
                v.as_object_mut().expect("object").remove("seconds");
                v.to_string()
            })
            .collect()
    };
    assert_eq!(strip(&out.stdout), strip(&again.stdout));
}
