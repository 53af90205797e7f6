//! vprog: a probabilistic programming language for programmable
//! variational inference.
//!
//! Programs declare models and variational families (generative functions),
//! objectives written with `E { ... }`, `sim` and `density` (or taken from
//! the standard library), and a gradient strategy per random choice; vprog
//! compiles each objective into an unbiased gradient-estimator program
//! (ADEV) and trains the parameters.
//!
//! ```
//! use vprog::{Engine, FitOptions};
//!
//! let engine = Engine::new();
//! let program = engine.compile(r#"
//!     gen guide() {
//!         param mu = 0.0;
//!         x ~ normal(mu, 1.0) by reparam;
//!     }
//!     let objective = E { let (tr, _) = sim guide; -(tr.x - 3.0) ^ 2 };
//! "#)?;
//! let objective = program.objective("objective")?;
//! let mut steps = 0;
//! let report = engine.fit(
//!     &objective,
//!     FitOptions::sgd(0.05).steps(200).particles(8).on_step(|_, _| steps += 1),
//! )?;
//! assert_eq!(steps, 200);
//! assert_eq!(report.history.len(), 200);
//! let mu = program.param("guide.mu")?.as_f64().unwrap();
//! assert!((mu - 3.0).abs() < 0.1);
//! let estimate = engine.estimate(&objective, 1000)?;
//! assert!((estimate.mean + 1.0).abs() < 0.2); // E[-(x - 3)²] = -1 at the optimum
//! # Ok::<(), vprog::Error>(())
//! ```
//!
//! The embedding API ([`Engine`], [`Program`], [`Objective`]) compiles a
//! program once and trains or estimates its objectives as often as needed;
//! [`Engine::register_fn`] makes a Rust function (with its derivative)
//! callable from vprog; [`Program::simulate`] runs a generative function
//! and returns its [`Trace`]; [`Params`] save and resume fits. Below it,
//! the layers are re-exported as they are: [`lang`] (parsing, checking,
//! diagnostics), [`compiler`] (lowering, the IR, ADEV, AD) and [`runtime`]
//! (the interpreter, the estimators, the fit driver); [`load`],
//! [`check_program`] and [`render_diagnostics`] are what the `vprog`
//! command is made of.
#![deny(missing_docs)]

pub use vprog_compiler as compiler;
pub use vprog_lang as lang;
pub use vprog_runtime as runtime;
pub use vprog_stdlib as stdlib;

mod engine;

pub use engine::{
    Engine, Error, FitOptions, Gradient, HostDerivative, HostFn, Objective, Params, Program, Trace,
    Value,
};
pub use vprog_compiler::lower::meta::Optimizer;
pub use vprog_runtime::fit::{EstimateReport as Estimate, FitReport};

/// The Rust examples of `docs/tutorial.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/tutorial.md")]
pub struct Tutorial;

use ariadne::{Config, IndexType, Label, Report, ReportKind};
use vprog_compiler::lower::{Program as Lowered, Statement};
use vprog_lang::{Diagnostic, Severity, SourceMap};
use vprog_runtime::fit::FitError;
use vprog_runtime::session::SessionError;

/// Parses `text` (named `name` in diagnostics) and loads it as a program,
/// with the standard-library modules it imports.
pub fn load(sources: &mut SourceMap, name: &str, text: &str) -> Result<Lowered, Vec<Diagnostic>> {
    let file = sources.add(name, text);
    let (ast, diags) = vprog_lang::parse::parse_file(file, text);
    if diags.iter().any(Diagnostic::is_error) {
        return Err(diags);
    }
    Lowered::load(sources, file, ast)
}

/// Renders diagnostics as text with source excerpts (ANSI colors when
/// `color`).
pub fn render_diagnostics(sources: &SourceMap, diags: &[Diagnostic], color: bool) -> String {
    let mut out = Vec::new();
    let name = |id: vprog_lang::FileId| sources.get(id).name.clone();
    // ariadne's byte indexing mis-slices lines holding multi-byte
    // characters (0.5.1), so spans are converted to character offsets.
    let chars = |span: vprog_lang::Span| -> std::ops::Range<usize> {
        let text = &sources.get(span.file).text;
        let to_char = |byte: usize| {
            let mut b = byte.min(text.len());
            while !text.is_char_boundary(b) {
                b -= 1;
            }
            text[..b].chars().count()
        };
        to_char(span.start as usize)..to_char(span.end as usize)
    };
    let mut cache = ariadne::sources(
        sources
            .files()
            .map(|(_, f)| (f.name.clone(), f.text.clone()))
            .collect::<Vec<_>>(),
    );
    for d in diags {
        let kind = match d.severity {
            Severity::Error => ReportKind::Error,
            Severity::Warning => ReportKind::Warning,
        };
        let primary = (name(d.span.file), chars(d.span));
        let mut report = Report::build(kind, primary.clone())
            .with_config(
                Config::default()
                    .with_color(color)
                    .with_index_type(IndexType::Char),
            )
            .with_code(d.code)
            .with_message(&d.message)
            .with_label(
                Label::new(primary)
                    .with_message(&d.primary_label)
                    .with_order(0),
            );
        for (i, l) in d.labels.iter().enumerate() {
            report = report.with_label(
                Label::new((name(l.span.file), chars(l.span)))
                    .with_message(&l.message)
                    .with_order(i as i32 + 1),
            );
        }
        if let Some(h) = &d.help {
            report = report.with_help(h);
        }
        for n in &d.notes {
            report = report.with_note(n);
        }
        let _ = report.finish().write(&mut cache, &mut out);
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A one-line form of a diagnostic: `file:line:col: error[CODE]: message`.
pub fn diagnostic_line(sources: &SourceMap, d: &Diagnostic) -> String {
    let (line, col) = sources.line_col(d.span);
    let kind = if d.is_error() { "error" } else { "warning" };
    format!(
        "{}:{line}:{col}: {kind}[{}]: {}",
        sources.get(d.span.file).name,
        d.code,
        d.message
    )
}

/// Compiles every `fit` and `report` of `program` without running them
/// (what `vprog check` does): type errors that depend on instantiation,
/// estimator soundness, choice-map addresses. Returns the distinct errors.
pub fn check_program(program: &Lowered) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    match program.statements() {
        Err(d) => errors.push(d),
        Ok(statements) => {
            for st in statements {
                let r = match &st {
                    Statement::Fit(f) => program
                        .compile_objective(f.item, &f.name, &f.objective)
                        .map(|_| ()),
                    Statement::Report(r) => {
                        program.compile_value(r.item, &r.name, &r.expr).map(|_| ())
                    }
                };
                if let Err(d) = r
                    && !errors.contains(&d)
                {
                    errors.push(d);
                }
            }
        }
    }
    errors
}

/// The diagnostic for a session's failure: a compile error as it is, a
/// run-time failure pointing at the operation that failed (its site and
/// span) with the statement as a secondary label.
pub fn session_error_diagnostic(e: &SessionError) -> Diagnostic {
    match e {
        SessionError::Compile(d) => d.clone(),
        SessionError::Run { span, name, error } => match error {
            FitError::Run { step, error: run } => {
                let at = run.origin.span.unwrap_or(*span);
                let mut d = Diagnostic::error(
                    "E0700",
                    format!("`{name}` failed at step {step}: {run}"),
                    at,
                );
                if at != *span {
                    d = d
                        .with_primary_label("failed here")
                        .with_label(*span, "while running this statement");
                }
                d
            }
            FitError::NonFinite { origin, .. } => {
                let at = origin.as_ref().and_then(|o| o.span).unwrap_or(*span);
                let mut d = Diagnostic::error("E0701", format!("`{name}`: {error}"), at);
                if at != *span {
                    d = d
                        .with_primary_label("the first non-finite value")
                        .with_label(*span, "while running this statement");
                }
                d.with_help("check the parameters' initial values and the learning rate, or constrain scales with `param s: positive`")
            }
        },
    }
}
