//! Where a REPL session writes: results to one stream, errors to another,
//! and how values, fits and reports are shown.

use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use vprog::Value;
use vprog::compiler::lower::ValueType;
use vprog::runtime::fit::FitReport;
use vprog::runtime::session::{ReportValue, Sink};
use vprog::runtime::value::Value as RuntimeValue;

/// The streams of a session and how to write to them.
pub struct Output<'w> {
    /// Results.
    pub out: &'w mut dyn Write,
    /// Errors.
    pub err: &'w mut dyn Write,
    /// Whether diagnostics are colored.
    pub color: bool,
    /// Whether fits show a progress bar (on standard error).
    pub progress: bool,
}

impl Output<'_> {
    /// Writes one line of results.
    pub fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
        let _ = self.out.flush();
    }

    /// Writes text (ending with its own newline) to the results.
    pub fn text(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Writes an error (rendered, ending with a newline).
    pub fn error(&mut self, text: &str) {
        let _ = self.out.flush();
        let _ = self.err.write_all(text.as_bytes());
        let _ = self.err.flush();
    }
}

/// Shows a value of type `ty` from its leaves, as the REPL prints it.
pub fn show_value(ty: &ValueType, leaves: &[RuntimeValue]) -> String {
    fn walk(ty: &ValueType, leaves: &mut std::slice::Iter<'_, RuntimeValue>, out: &mut String) {
        match ty {
            ValueType::Number(_) => match leaves.next() {
                Some(v) => out.push_str(&Value::from(v).to_string()),
                None => out.push('?'),
            },
            ValueType::Unit => out.push_str("()"),
            ValueType::Tuple(items) => {
                out.push('(');
                for (i, t) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    walk(t, leaves, out);
                }
                out.push(')');
            }
            ValueType::Record(fields) => {
                out.push('{');
                for (i, (name, t)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(name);
                    out.push_str(": ");
                    walk(t, leaves, out);
                }
                out.push('}');
            }
            ValueType::Kind(kind) => {
                out.push('<');
                out.push_str(kind);
                out.push('>');
            }
        }
    }
    let mut out = String::new();
    walk(ty, &mut leaves.iter(), &mut out);
    out
}

/// Shows what the `fit` and `report` statements of an entry do, as
/// `vprog run` prints them.
pub struct ReplSink<'o, 'w> {
    out: &'o mut Output<'w>,
    bar: Option<ProgressBar>,
}

impl<'o, 'w> ReplSink<'o, 'w> {
    /// A sink writing to `out`.
    pub fn new(out: &'o mut Output<'w>) -> ReplSink<'o, 'w> {
        ReplSink { out, bar: None }
    }
}

impl Sink for ReplSink<'_, '_> {
    fn fit_started(&mut self, name: &str, steps: usize) {
        if self.out.progress {
            let bar = ProgressBar::new(steps as u64);
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} ({eta})")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("fit {name}"));
            self.bar = Some(bar);
        }
    }

    fn fit_step(&mut self, _name: &str, _step: usize, _objective: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
    }

    fn fit_finished(&mut self, name: &str, report: &FitReport) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.out.line(&format!(
            "fit {name}: {} steps, objective {:.4} (mean of the last steps), {:.2} s",
            report.history.len(),
            report.final_objective,
            report.seconds
        ));
    }

    fn report(&mut self, name: &str, value: &ReportValue) {
        let shown = match value {
            ReportValue::Estimate(e) => {
                format!("{:.4} ± {:.4} ({} samples)", e.mean, e.stderr, e.samples)
            }
            ReportValue::Values(v) if v.len() == 1 => Value::Real(v[0]).to_string(),
            ReportValue::Values(v) => Value::reals(v).to_string(),
        };
        self.out.line(&format!("report {name} = {shown}"));
    }
}

impl Drop for ReplSink<'_, '_> {
    fn drop(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.abandon();
        }
    }
}
