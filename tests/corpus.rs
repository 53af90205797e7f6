//! The corpus of broken programs: `tests/programs/errors/*.vprog`, each with
//! the diagnostics it must produce in `NAME.stderr` (rendered without color,
//! as `vprog run` prints them). Run with `UPDATE_EXPECT=1` to rewrite the
//! expected files after an intended change, and review the diff.
//!
//! Each program is loaded, checked (every `fit` and `report` compiled), and
//! — if it compiles — run, so run-time errors (invalid parameters, NaN
//! during a fit) are covered too.
//!
//! Data files a program loads (`load_csv`, `load_npy`) sit next to it; its
//! relative paths are read from `tests/programs/errors`, as `vprog run
//! tests/programs/errors/NAME.vprog` reads them from the repository's root
//! (the directory `cargo test` runs in), so the rendered paths are the same
//! on every machine.

use std::path::Path;
use vprog::lang::SourceMap;
use vprog::runtime::fit::FitReport;
use vprog::runtime::session::{ReportValue, Session, Sink};
use vprog::{check_program, load, render_diagnostics, session_error_diagnostic};

struct Quiet;

impl Sink for Quiet {
    fn fit_finished(&mut self, _: &str, _: &FitReport) {}
    fn report(&mut self, _: &str, _: &ReportValue) {}
}

/// What `vprog run` prints on stderr for `path`.
fn diagnose(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("corpus file");
    let name = path
        .file_name()
        .expect("name")
        .to_string_lossy()
        .into_owned();
    let mut sources = SourceMap::new();
    let mut program = match load(&mut sources, &name, &text) {
        Ok(p) => p,
        Err(diags) => return render_diagnostics(&sources, &diags, false),
    };
    // The program is named by its file name alone (so the rendering shows
    // no machine's path); its data is read from the corpus directory.
    program.data_dir = Path::new(CORPUS).to_path_buf();
    let errors = check_program(&program);
    if !errors.is_empty() {
        return render_diagnostics(&sources, &errors, false);
    }
    let mut session = Session::new(program, 0);
    match session.run(&mut Quiet) {
        Ok(()) => "(no error)\n".to_string(),
        Err(e) => render_diagnostics(&sources, &[session_error_diagnostic(&e)], false),
    }
}

/// The corpus directory, relative to the package root.
const CORPUS: &str = "tests/programs/errors";

#[test]
fn every_broken_program_gets_its_diagnostic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS);
    let update = std::env::var_os("UPDATE_EXPECT").is_some();
    let mut programs: Vec<_> = std::fs::read_dir(&dir)
        .expect("corpus directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "vprog"))
        .collect();
    programs.sort();
    assert!(programs.len() >= 20, "the corpus lost programs");
    let mut failures = Vec::new();
    for program in &programs {
        let got = diagnose(program);
        assert!(
            !got.contains("internal compiler error"),
            "{}: {got}",
            program.display()
        );
        assert!(
            got.contains("Error"),
            "{} produced no error:\n{got}",
            program.display()
        );
        let expected_path = program.with_extension("stderr");
        if update {
            std::fs::write(&expected_path, &got).expect("write expectation");
            continue;
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != got {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- got\n{got}",
                program.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} program(s) differ (UPDATE_EXPECT=1 rewrites):\n{}",
        failures.len(),
        failures.join("\n")
    );
}
