//! Differential tests of the two back ends: the interpreter (the reference
//! semantics) and the Cranelift JIT must give the same reports for every
//! program in `examples/` and `tests/programs/`, the same errors for every
//! broken program, and the same results whatever the number of threads.
//!
//! "The same" is bit-identical: both back ends evaluate the same IR
//! operations in the same order, call the same kernels for transcendental
//! functions and tensor primitives, and draw from the same counter-based
//! streams. A difference here is a JIT bug.
//!
//! A program with a `NAME.stdout` file beside it must also print exactly
//! that: the JSON lines of `vprog run --json --seed 5` without their
//! timings, as `run` below reads and reprints them. `UPDATE_EXPECT=1`
//! rewrites the file — review the diff.

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

/// `vprog run FILE --json --seed 5 --backend B` with `threads` threads:
/// stdout without timings, stderr.
fn run(path: &Path, backend: &str, threads: usize) -> (Vec<String>, String, Option<i32>) {
    let out = Command::new(env!("CARGO_BIN_EXE_vprog"))
        .args([
            "run",
            &path.display().to_string(),
            "--json",
            "--seed",
            "5",
            "--backend",
            backend,
        ])
        .env("RAYON_NUM_THREADS", threads.to_string())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vprog");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v.as_object_mut().expect("object").remove("seconds");
            v.to_string()
        })
        .collect();
    (
        lines,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

#[test]
fn every_program_reports_the_same_under_both_back_ends() {
    for path in programs() {
        // 5000 steps of a VAE take the interpreter many minutes;
        // `tests/programs/vae_short.vprog` is the same program, shorter.
        if path.ends_with("vae_digits.vprog") {
            continue;
        }
        let (interp, interp_err, interp_code) = run(&path, "interp", 2);
        let (jit, jit_err, jit_code) = run(&path, "jit", 2);
        assert_eq!(interp_code, Some(0), "{}: {interp_err}", path.display());
        assert_eq!(jit_code, Some(0), "{}: {jit_err}", path.display());
        assert!(
            !jit_err.contains("runs on the interpreter"),
            "{}: the JIT fell back: {jit_err}",
            path.display()
        );
        assert_eq!(interp, jit, "{}: the back ends differ", path.display());
        check_expected_output(&path, &interp);
    }
}

/// Compares a program's output lines with its `NAME.stdout`, if it has one.
fn check_expected_output(path: &Path, lines: &[String]) {
    let expected_path = path.with_extension("stdout");
    let got: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if std::env::var_os("UPDATE_EXPECT").is_some() && expected_path.exists() {
        std::fs::write(&expected_path, &got).expect("write the expected output");
        return;
    }
    if let Ok(expected) = std::fs::read_to_string(&expected_path) {
        assert_eq!(
            got,
            expected,
            "{}: the output differs from {} (UPDATE_EXPECT=1 rewrites it)",
            path.display(),
            expected_path.display()
        );
    }
}

#[test]
fn results_do_not_depend_on_the_number_of_threads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/cone.vprog");
    let (one, _, _) = run(&path, "jit", 1);
    let (two, _, _) = run(&path, "jit", 2);
    assert_eq!(one, two, "cone: 1 thread and 2 threads differ");
    for name in [
        "examples/coin.vprog",
        "examples/mixture.vprog",
        "tests/programs/all_objectives.vprog",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
        for backend in ["jit", "interp"] {
            let (one, _, _) = run(&path, backend, 1);
            let (two, _, _) = run(&path, backend, 2);
            assert_eq!(
                one, two,
                "{name} with {backend}: 1 thread and 2 threads differ"
            );
        }
    }
}

#[test]
fn every_broken_program_fails_the_same_under_both_back_ends() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/errors");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "vprog"))
        .collect();
    paths.sort();
    for path in paths {
        let (_, interp_err, interp_code) = run(&path, "interp", 2);
        let (_, jit_err, jit_code) = run(&path, "jit", 2);
        assert_eq!(interp_code, jit_code, "{}", path.display());
        assert_eq!(interp_err, jit_err, "{}: different errors", path.display());
    }
}

/// A program the JIT cannot compile yet runs on the interpreter, with one
/// note on stderr saying so and why, and the interpreter's results.
#[test]
fn what_the_jit_cannot_compile_falls_back_with_a_note() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/programs/fallback/dynamic_loop.vprog");
    let (interp, interp_err, interp_code) = run(&path, "interp", 2);
    let (jit, jit_err, jit_code) = run(&path, "jit", 2);
    assert_eq!(interp_code, Some(0), "{interp_err}");
    assert_eq!(jit_code, Some(0), "{jit_err}");
    assert_eq!(interp_err, "", "the interpreter has nothing to note");
    let notes: Vec<&str> = jit_err.lines().collect();
    assert_eq!(notes.len(), 1, "one note per objective: {jit_err}");
    assert!(
        notes[0]
            .starts_with("note: `obj` runs on the interpreter: the JIT cannot compile it yet (")
            && notes[0].contains("dynamic shape"),
        "{}",
        notes[0]
    );
    assert_eq!(interp, jit);
}
