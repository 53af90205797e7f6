//! `vprog bench FILE`: the median time of one optimization step of every
//! `fit` in a program, printed as a table or, with `--json`, as one line
//! per fit: `{"bench": NAME, "step_us": MEDIAN, "steps": N}` with `N` the
//! number of timed steps. What is timed, and how, is
//! `vprog_runtime::bench`'s business; this module only loads the program
//! and prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use vprog::lang::SourceMap;
use vprog::runtime::backend::Backend;
use vprog::runtime::bench::{BenchOptions, FitTiming, bench_session};
use vprog::runtime::session::Session;
use vprog::{load, session_error_diagnostic};

/// Parses `--seconds`: a positive, finite number of seconds.
pub(crate) fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > 0.0 => Ok(seconds),
        _ => Err(format!(
            "expected a positive number of seconds, found `{text}`"
        )),
    }
}

/// Benchmarks every fit of `file` on `backend` and prints the results;
/// the exit code is `run`'s (1 on a program error, whose diagnostic goes to
/// stderr). A fit the JIT cannot compile is timed on the interpreter, with
/// a note on stderr saying so.
pub(crate) fn bench(
    file: &PathBuf,
    seed: u64,
    json: bool,
    backend: Backend,
    options: BenchOptions,
) -> ExitCode {
    let text = match super::read(file) {
        Ok(t) => t,
        Err(code) => return code,
    };
    let mut sources = SourceMap::new();
    let program = match load(&mut sources, &file.display().to_string(), &text) {
        Ok(p) => p,
        Err(diags) => {
            super::print_diagnostics(&sources, &diags);
            return ExitCode::from(1);
        }
    };
    let mut session = Session::new(program, seed);
    session.backend = backend;
    if !json {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "{:<16} {:>12} {:>22} {:>10}",
            "fit", "median µs", "p10–p90 µs", "steps"
        );
    }
    let result = bench_session(&mut session, &options, |timing| print_fit(json, timing));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            super::print_diagnostics(&sources, &[session_error_diagnostic(&e)]);
            ExitCode::from(1)
        }
    }
}

/// Prints one fit's line of the table, or its JSON object.
fn print_fit(json: bool, timing: &FitTiming) {
    let (name, times) = (&timing.name, &timing.times);
    if let Some(why) = &timing.fallback {
        eprintln!("note: `{name}` ran on the interpreter: the JIT cannot compile it yet ({why})");
    }
    let mut out = std::io::stdout().lock();
    if json {
        let line = serde_json::json!({
            "bench": name,
            "step_us": times.median_micros(),
            "steps": times.steps(),
        });
        let _ = writeln!(out, "{line}");
    } else {
        let spread = format!(
            "{:.1}–{:.1}",
            times.quantile_micros(0.1),
            times.quantile_micros(0.9)
        );
        let _ = writeln!(
            out,
            "{name:<16} {:>12.1} {spread:>22} {:>10}",
            times.median_micros(),
            times.steps()
        );
    }
}
