//! The embedding API: vprog inside a Rust program.
//!
//! One entry type, [`Engine`], in the shape of rhai's and starlark-rust's:
//! register host functions on it, compile programs with it (once), then
//! ask a [`Program`] for its objectives and simulations and train or
//! estimate objectives as often as needed. A program owns the values of
//! its parameters ([`Params`], which serialize); objectives and
//! simulations read them, fits update them.
//!
//! Nothing here prints: fits report their progress to a callback, and
//! errors are values ([`Error`]) carrying their spans.

mod error;
mod host;
mod options;
mod params;
mod program;
mod value;

pub use error::Error;
pub use host::{HostDerivative, HostFn};
pub use options::FitOptions;
pub use params::Params;
pub use program::{Objective, Program};
pub use value::{Trace, Value};

use program::Shared;
use std::collections::BTreeMap;
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use vprog_compiler::ir::Origin;
use vprog_lang::check::HostSignature;
use vprog_lang::{Diagnostic, SourceMap};
use vprog_runtime::fit::{EstimateReport, FitError, FitReport};
use vprog_runtime::host::{HostFunction, HostRegistry, Hosted};

/// Compiles vprog programs and runs their objectives, with the host
/// functions registered on it.
#[derive(Clone, Debug, Default)]
pub struct Engine {
    host: Arc<HostRegistry>,
    seed: u64,
}

impl Engine {
    /// An engine with no host functions and seed 0.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// Registers the host function `name`, a Rust function of one to four
    /// real arguments, with its `derivative` (for one argument a function
    /// `f64 -> f64`; for `n` arguments one returning the `n` partial
    /// derivatives as `[f64; n]`). Programs compiled afterwards can call
    /// `name(x, ...)` anywhere a real expression goes, including inside
    /// reparameterized models: gradients flow through it by the
    /// derivative. The function must be pure (estimators call it from
    /// several threads, possibly more than once per run).
    ///
    /// ```
    /// let mut engine = vprog::Engine::new();
    /// engine
    ///     .register_fn("softclip", |x: f64| 5.0 * (x / 5.0).tanh(), |x: f64| {
    ///         1.0 - (x / 5.0).tanh().powi(2)
    ///     })
    ///     .unwrap()
    ///     .register_fn("hypot2", |x: f64, y: f64| x * x + y * y, |x: f64, y: f64| {
    ///         [2.0 * x, 2.0 * y]
    ///     })
    ///     .unwrap();
    /// let program = engine.compile("let v = softclip(hypot2(3.0, 4.0));").unwrap();
    /// ```
    ///
    /// The name must be an identifier that is not a keyword or a builtin;
    /// registering a name again replaces the function for programs
    /// compiled afterwards.
    pub fn register_fn<Args, F, D>(
        &mut self,
        name: &str,
        f: F,
        derivative: D,
    ) -> Result<&mut Engine, Error>
    where
        F: HostFn<Args>,
        D: HostDerivative<Args>,
    {
        let identifier = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            return Err(Error::invalid(format!(
                "`{name}` is not an identifier, so programs could not call it"
            )));
        }
        if vprog_lang::lexer::KEYWORDS.contains(&name)
            || vprog_lang::check::builtin_names().contains(&name)
        {
            return Err(Error::invalid(format!(
                "`{name}` is a keyword or builtin of vprog; choose another name"
            )));
        }
        Arc::make_mut(&mut self.host).register(HostFunction {
            name: name.to_string(),
            arity: F::ARITY,
            value: f.into_value(),
            gradient: derivative.into_gradient(),
        });
        Ok(self)
    }

    /// Sets the seed of [`Engine::estimate`] and of the random initial
    /// values (`glorot()`, `he()`, `normal(σ)`) of programs compiled after.
    pub fn set_seed(&mut self, seed: u64) -> &mut Engine {
        self.seed = seed;
        self
    }

    /// Compiles `source`: parses it, loads the standard-library modules it
    /// imports, and checks names and types.
    pub fn compile(&self, source: &str) -> Result<Program, Error> {
        self.compile_named("<program>", source)
    }

    /// Reads and compiles the file at `path` (named by its path in
    /// diagnostics).
    pub fn compile_file(&self, path: impl AsRef<Path>) -> Result<Program, Error> {
        let path = path.as_ref();
        let source = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        self.compile_named(&path.display().to_string(), &source)
    }

    /// Compiles `source`, naming it `name` in diagnostics.
    pub fn compile_named(&self, name: &str, source: &str) -> Result<Program, Error> {
        let mut sources = SourceMap::new();
        let file = sources.add(name, source);
        let (ast, diagnostics) = vprog_lang::parse::parse_file(file, source);
        let loaded = if diagnostics.iter().any(Diagnostic::is_error) {
            Err(diagnostics)
        } else {
            let host: Vec<HostSignature> = self
                .host
                .functions()
                .map(|(_, f)| HostSignature {
                    name: f.name.clone(),
                    arity: f.arity,
                })
                .collect();
            vprog_compiler::lower::Program::load_with_host(&mut sources, file, ast, &host)
        };
        match loaded {
            Ok(lowered) => Ok(Program {
                shared: Rc::new(Shared::new(lowered, sources, self.host.clone(), self.seed)),
            }),
            Err(diagnostics) => {
                let rendered = crate::render_diagnostics(&sources, &diagnostics, false);
                Err(Error::Compile {
                    diagnostics,
                    rendered,
                })
            }
        }
    }

    /// Trains the parameters of `objective`'s program to maximize it.
    /// Each step averages `options`' particles and takes one optimizer
    /// step; the callback sees every step's estimate. The program's
    /// parameters take their trained values when the fit returns (and keep
    /// them for later fits, estimates and simulations); if a step fails,
    /// they are those of the last step that succeeded.
    pub fn fit(&self, objective: &Objective, options: FitOptions) -> Result<FitReport, Error> {
        let FitOptions {
            optimizer,
            steps,
            particles,
            seed,
            mut on_step,
        } = options;
        let runtime_options = vprog_runtime::fit::FitOptions {
            optimizer,
            steps,
            particles,
            seed,
        };
        let runner = Hosted::new(&objective.prepared, objective.shared.host.clone());
        // The fit trains a copy, so the callback may read the program's
        // parameters (their values from before the fit) without a conflict.
        let mut store = objective.shared.params().clone();
        let result =
            vprog_runtime::fit::fit(&runner, &mut store, &runtime_options, |step, value| {
                if let Some(f) = on_step.as_mut() {
                    f(step, value);
                }
            });
        // After a failed step the parameters are those of the last good one.
        *objective.shared.params_mut() = store;
        result.map_err(|e| fit_error(&objective.shared.sources, &objective.name, e))
    }

    /// Estimates the gradient of `objective` at the parameters' current
    /// values: the mean of `samples` independent gradient estimates (the
    /// ADEV estimator each step of a fit averages). The derivatives are
    /// taken with respect to the stored values (the log of a `positive`
    /// parameter). Sample `i` uses the same randomness as sample `i` of
    /// [`Engine::estimate`] with the same seed, so finite differences of
    /// estimates are comparable with it.
    pub fn gradient(&self, objective: &Objective, samples: usize) -> Result<Gradient, Error> {
        let runner = Hosted::new(&objective.prepared, objective.shared.host.clone());
        let store = objective.shared.params();
        let values = store.values();
        let mut total = 0.0;
        let mut sums: Vec<Vec<f64>> = store
            .params
            .iter()
            .map(|p| vec![0.0; p.raw.len()])
            .collect();
        for i in 0..samples {
            let key = vprog_runtime::rng::RunKey::new(self.seed, 0, i as u64);
            let estimate = vprog_runtime::estimator::particle(&runner, &values, key, true)
                .map_err(|e| {
                    fit_error(
                        &objective.shared.sources,
                        &objective.name,
                        FitError::Run { step: 0, error: e },
                    )
                })?;
            total += estimate.value;
            for (sum, g) in sums.iter_mut().zip(estimate.gradient.unwrap_or_default()) {
                for (s, x) in sum.iter_mut().zip(g.f64_elements()) {
                    *s += x;
                }
            }
        }
        let n = samples.max(1) as f64;
        Ok(Gradient {
            objective: total / n,
            partials: store
                .params
                .iter()
                .zip(sums)
                .map(|(p, sum)| (p.name.clone(), sum.into_iter().map(|s| s / n).collect()))
                .collect(),
        })
    }

    /// Estimates `objective` at the parameters' current values: the mean
    /// of `samples` independent estimates and its standard error.
    pub fn estimate(&self, objective: &Objective, samples: usize) -> Result<EstimateReport, Error> {
        let runner = Hosted::new(&objective.prepared, objective.shared.host.clone());
        let store = objective.shared.params();
        vprog_runtime::fit::estimate(&runner, &store, samples, self.seed)
            .map_err(|e| fit_error(&objective.shared.sources, &objective.name, e))
    }
}

/// An estimate of an objective's gradient with respect to the stored
/// (unconstrained) parameters, as [`Engine::gradient`] computes it.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    /// The mean of the objective's estimates.
    pub objective: f64,
    /// The mean gradient, per parameter by qualified name (row-major
    /// elements for an array parameter).
    pub partials: BTreeMap<String, Vec<f64>>,
}

impl Gradient {
    /// The partial derivative with respect to the scalar parameter `name`.
    pub fn partial(&self, name: &str) -> Option<f64> {
        self.partials.get(name).and_then(|p| p.first().copied())
    }
}

/// The error of a failed fit or estimate of `name`.
fn fit_error(sources: &SourceMap, name: &str, error: FitError) -> Error {
    match error {
        FitError::Run { step, error } => run_error(
            sources,
            "E0700",
            format!("`{name}` failed at step {step}: {}", error.message),
            error.origin,
        ),
        FitError::NonFinite { ref origin, .. } => run_error(
            sources,
            "E0701",
            format!("`{name}`: {error}"),
            origin.clone().unwrap_or_default(),
        ),
    }
}

/// A run-time error at `origin`, rendered with a source excerpt when the
/// origin has a span.
pub(crate) fn run_error(
    sources: &SourceMap,
    code: &'static str,
    message: String,
    origin: Origin,
) -> Error {
    let rendered = match origin.span {
        Some(span) => crate::render_diagnostics(
            sources,
            &[Diagnostic::error(code, message.clone(), span).with_primary_label("failed here")],
            false,
        ),
        None => String::new(),
    };
    Error::Run {
        message,
        site: origin.site,
        span: origin.span,
        rendered,
    }
}
