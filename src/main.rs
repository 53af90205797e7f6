//! The `vprog` command: run and check programs.
//!
//! This is the only place that prints. Exit codes: 0 on success, 1 on a
//! program error (rendered on stderr), 2 on bad usage. A panic — a bug in
//! vprog — is caught and reported as an internal error (exit 1) rather
//! than crashing with a backtrace.

mod bench;
mod repl;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use vprog::lang::{Diagnostic, SourceMap};
use vprog::runtime::fit::FitReport;
use vprog::runtime::session::{ReportValue, Session, Sink};
use vprog::{check_program, diagnostic_line, load, render_diagnostics, session_error_diagnostic};

#[derive(Parser)]
#[command(
    name = "vprog",
    version,
    about = "A probabilistic programming language for programmable variational inference"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a program: its `fit` and `report` statements, in order.
    Run {
        /// The program.
        file: PathBuf,
        /// The base seed of the run's randomness.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object per line for every `fit` and `report`.
        #[arg(long)]
        json: bool,
        /// Write the IR of each compiled objective (before ADEV, the
        /// estimator, the gradient) into this directory.
        #[arg(long, value_name = "DIR")]
        dump_ir: Option<PathBuf>,
        /// Write every fit's objective history as CSV (`fit,step,objective`).
        #[arg(long, value_name = "FILE")]
        history: Option<PathBuf>,
        /// The back end: `jit` (compiled, the default) or `interp` (the
        /// reference interpreter).
        #[arg(long, default_value = "jit")]
        backend: vprog::runtime::backend::Backend,
    },
    /// Type-check a program and check its estimators without running it.
    Check {
        /// The program.
        file: PathBuf,
    },
    /// Experiment at a prompt: enter definitions, `fit`s and expressions
    /// (`:help` lists the commands). Reads entries plainly from a pipe.
    Repl {
        /// The base seed of the session's randomness.
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Time one optimization step of every `fit` in a program (the median
    /// over repeated steps after a warm-up), without training.
    Bench {
        /// The program.
        file: PathBuf,
        /// The base seed of the fits' randomness.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object per fit: `{"bench", "step_us", "steps"}`.
        #[arg(long)]
        json: bool,
        /// The time budget per fit in seconds, warm-up included.
        #[arg(long, default_value_t = 1.0, value_parser = bench::parse_seconds)]
        seconds: f64,
        /// The most steps to time per fit.
        #[arg(long, default_value_t = 1_000_000)]
        max_steps: usize,
        /// The back end: `jit` (compiled, the default) or `interp` (the
        /// reference interpreter).
        #[arg(long, default_value = "jit")]
        backend: vprog::runtime::backend::Backend,
    },
}

/// Prints fits and reports as they happen.
struct Printer {
    json: bool,
    dump_ir: Option<PathBuf>,
    history: Option<String>,
    progress: Option<ProgressBar>,
    running: f64,
}

impl Sink for Printer {
    fn note(&mut self, message: &str) {
        eprintln!("note: {message}");
    }

    fn compiled(&mut self, name: &str, objective: &vprog::compiler::lower::CompiledObjective) {
        let Some(dir) = &self.dump_ir else { return };
        let _ = std::fs::create_dir_all(dir);
        for (stage, func) in [
            ("body", &objective.body),
            ("estimator", &objective.estimator),
            ("gradient", &objective.gradient),
        ] {
            let path = dir.join(format!("{name}.{stage}.ir"));
            if let Err(e) = std::fs::write(&path, vprog::compiler::ir::print_function(func)) {
                eprintln!("warning: cannot write `{}`: {e}", path.display());
            }
        }
    }

    fn fit_started(&mut self, name: &str, steps: usize) {
        if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("fit {name}"));
            self.progress = Some(bar);
        }
        self.running = f64::NAN;
    }

    fn fit_step(&mut self, _name: &str, step: usize, objective: f64) {
        // An exponential moving average of the objective over ~100 steps.
        self.running = if self.running.is_nan() {
            objective
        } else {
            0.99 * self.running + 0.01 * objective
        };
        if let Some(bar) = &self.progress {
            if step.is_multiple_of(25) {
                bar.set_message(format!("objective {:.4}", self.running));
            }
            bar.inc(1);
        }
    }

    fn fit_finished(&mut self, name: &str, report: &FitReport) {
        if let Some(bar) = self.progress.take() {
            bar.finish_and_clear();
        }
        if let Some(csv) = &mut self.history {
            for (step, objective) in report.history.iter().enumerate() {
                csv.push_str(&format!("{name},{step},{objective}\n"));
            }
        }
        let mut out = std::io::stdout().lock();
        if self.json {
            let line = serde_json::json!({
                "fit": name,
                "steps": report.history.len(),
                "final_objective": report.final_objective,
                "seconds": report.seconds,
            });
            let _ = writeln!(out, "{line}");
        } else {
            let _ = writeln!(
                out,
                "fit {name}: {} steps, objective {:.4} (mean of the last steps), {:.2} s",
                report.history.len(),
                report.final_objective,
                report.seconds
            );
        }
    }

    fn report(&mut self, name: &str, value: &ReportValue) {
        let mut out = std::io::stdout().lock();
        match value {
            ReportValue::Estimate(e) => {
                if self.json {
                    let line = serde_json::json!({"report": name, "value": e.mean, "stderr": e.stderr, "samples": e.samples});
                    let _ = writeln!(out, "{line}");
                } else {
                    let _ = writeln!(
                        out,
                        "report {name} = {:.4} ± {:.4} ({} samples)",
                        e.mean, e.stderr, e.samples
                    );
                }
            }
            ReportValue::Values(v) => {
                let value = if v.len() == 1 {
                    serde_json::json!(v[0])
                } else {
                    serde_json::json!(v)
                };
                if self.json {
                    let line = serde_json::json!({"report": name, "value": value, "stderr": null, "samples": null});
                    let _ = writeln!(out, "{line}");
                } else {
                    let _ = writeln!(out, "report {name} = {value}");
                }
            }
        }
    }
}

fn print_diagnostics(sources: &SourceMap, diags: &[Diagnostic]) {
    let color = std::io::stderr().is_terminal();
    let text = render_diagnostics(sources, diags, color);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    if text.is_empty() {
        for d in diags {
            let _ = writeln!(err, "{}", diagnostic_line(sources, d));
        }
    }
}

fn read(file: &PathBuf) -> Result<String, ExitCode> {
    std::fs::read_to_string(file).map_err(|e| {
        eprintln!("error: cannot read `{}`: {e}", file.display());
        ExitCode::from(1)
    })
}

fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Run {
            file,
            seed,
            json,
            dump_ir,
            history,
            backend,
        } => {
            let text = match read(&file) {
                Ok(t) => t,
                Err(code) => return code,
            };
            let mut sources = SourceMap::new();
            let program = match load(&mut sources, &file.display().to_string(), &text) {
                Ok(p) => p,
                Err(diags) => {
                    print_diagnostics(&sources, &diags);
                    return ExitCode::from(1);
                }
            };
            let mut session = Session::new(program, seed);
            session.backend = backend;
            let mut printer = Printer {
                json,
                dump_ir,
                history: history
                    .as_ref()
                    .map(|_| String::from("fit,step,objective\n")),
                progress: None,
                running: f64::NAN,
            };
            let result = session.run(&mut printer);
            if let (Some(path), Some(csv)) = (&history, &printer.history)
                && let Err(e) = std::fs::write(path, csv)
            {
                eprintln!("error: cannot write `{}`: {e}", path.display());
                return ExitCode::from(1);
            }
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    if let Some(bar) = printer.progress.take() {
                        bar.abandon();
                    }
                    print_diagnostics(&sources, &[session_error_diagnostic(&e)]);
                    ExitCode::from(1)
                }
            }
        }
        Command::Bench {
            file,
            seed,
            json,
            seconds,
            max_steps,
            backend,
        } => bench::bench(
            &file,
            seed,
            json,
            backend,
            vprog::runtime::bench::BenchOptions { seconds, max_steps },
        ),
        Command::Repl { seed } => repl::main(seed),
        Command::Check { file } => {
            let text = match read(&file) {
                Ok(t) => t,
                Err(code) => return code,
            };
            let mut sources = SourceMap::new();
            let program = match load(&mut sources, &file.display().to_string(), &text) {
                Ok(p) => p,
                Err(diags) => {
                    print_diagnostics(&sources, &diags);
                    return ExitCode::from(1);
                }
            };
            let errors = check_program(&program);
            if errors.is_empty() {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            } else {
                print_diagnostics(&sources, &errors);
                ExitCode::from(1)
            }
        }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::from(2),
            };
        }
    };
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "internal error: vprog panicked: {info}\nthis is a bug in vprog; please report it with the program that caused it"
        );
    }));
    match std::panic::catch_unwind(move || run(cli)) {
        Ok(code) => code,
        Err(_) => ExitCode::from(1),
    }
}
