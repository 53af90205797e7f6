//! Every example and every program in `tests/programs/` checks clean and
//! runs to completion with finite results. (The noisy cone, which takes a
//! minute, is run by `tests/cone.rs`, and the digits VAE, which takes
//! minutes, by `tests/vae.rs`; their checks are here.)

use std::path::{Path, PathBuf};
use std::process::Command;

fn programs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in ["examples", "tests/programs"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("directory") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "vprog") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

fn vprog(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vprog"))
        .args(args)
        .output()
        .expect("run vprog")
}

#[test]
fn every_program_checks_clean() {
    for path in programs() {
        let out = vprog(&["check", &path.display().to_string()]);
        assert!(
            out.status.success(),
            "{}:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn every_program_runs_with_finite_results() {
    for path in programs() {
        if path.ends_with("cone.vprog") || path.ends_with("vae_digits.vprog") {
            continue;
        }
        let out = vprog(&["run", &path.display().to_string(), "--json", "--seed", "1"]);
        assert!(
            out.status.success(),
            "{}:\n{}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
            let finite = |x: &serde_json::Value| x.as_f64().is_some_and(f64::is_finite);
            let ok = match (&v["fit"], &v["value"]) {
                (serde_json::Value::String(_), _) => finite(&v["final_objective"]),
                (_, serde_json::Value::Array(xs)) => xs.iter().all(finite),
                (_, x) => finite(x),
            };
            assert!(ok, "{}: non-finite result {line}", path.display());
        }
    }
}
