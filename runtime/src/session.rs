//! Executing a program's top-level statements.
//!
//! A [`Session`] holds a loaded program and the current values of its
//! parameters. [`Session::run`] executes the `fit` and `report` statements
//! in order — compiling each objective when it is reached — and hands what
//! happens to a [`Sink`] (the CLI renders it; embedders collect it).
//! Parameters persist across statements: a `report` after a `fit` sees the
//! trained values, and a later `fit` continues from them unless its
//! `init` option resets some.

use crate::backend::{Backend, Prepared, Runs};
use crate::fit::{EstimateReport, FitError, FitOptions, FitReport, estimate, fit};
use crate::interp::{RunContext, run};
use crate::params::ParamStore;
use crate::rng::{RunKey, hash_words};
use crate::value::Value;
use vprog_compiler::lower::{CompiledValue, ConstValue, FitSpec, Program, Statement};
use vprog_lang::{Diagnostic, Span};

/// What a `report` statement produced.
#[derive(Clone, Debug, PartialEq)]
pub enum ReportValue {
    /// An estimate with its standard error.
    Estimate(EstimateReport),
    /// A deterministic value (its leaves, flattened).
    Values(Vec<f64>),
}

/// Receives what a session does.
pub trait Sink {
    /// Something worth a line on the console (the JIT falling back to the
    /// interpreter, say).
    fn note(&mut self, _message: &str) {}
    /// An objective was compiled (before it is trained or estimated).
    fn compiled(&mut self, _name: &str, _objective: &vprog_compiler::lower::CompiledObjective) {}
    /// A fit is about to start.
    fn fit_started(&mut self, _name: &str, _steps: usize) {}
    /// A fit took a step; `objective` is the step's estimate.
    fn fit_step(&mut self, _name: &str, _step: usize, _objective: f64) {}
    /// A fit finished.
    fn fit_finished(&mut self, name: &str, report: &FitReport);
    /// A report was computed.
    fn report(&mut self, name: &str, value: &ReportValue);
}

/// A session error: a compile-time diagnostic or a run-time failure.
#[derive(Clone, Debug)]
pub enum SessionError {
    /// The statement did not compile.
    Compile(Diagnostic),
    /// A fit or an estimate failed at run time.
    Run {
        /// The statement's span.
        span: Span,
        /// The statement's name.
        name: String,
        /// What failed.
        error: FitError,
    },
}

/// A program and its parameters.
pub struct Session {
    /// The program.
    pub program: Program,
    /// The current parameter values.
    pub store: ParamStore,
    /// The base seed; each statement derives its own from it.
    pub seed: u64,
    /// The back end that runs fits and estimates (the JIT by default).
    pub backend: Backend,
}

impl Session {
    /// A session for `program` with its parameters at their initial values.
    pub fn new(program: Program, seed: u64) -> Session {
        let store = ParamStore::initial(&program, seed);
        Session {
            program,
            store,
            seed,
            backend: Backend::default(),
        }
    }

    /// The seed of statement `index`.
    fn statement_seed(&self, index: usize) -> u64 {
        hash_words(&[self.seed, index as u64, 0x7374_6d74])
    }

    /// Runs every `fit` and `report` statement in order.
    pub fn run(&mut self, sink: &mut dyn Sink) -> Result<(), SessionError> {
        let statements = self.program.statements().map_err(SessionError::Compile)?;
        for (index, st) in statements.into_iter().enumerate() {
            match st {
                Statement::Fit(spec) => {
                    let (obj, opts) = self.prepare_fit(index, &spec)?;
                    sink.compiled(&spec.name, obj.objective());
                    if let Some(why) = &obj.fallback {
                        sink.note(&format!(
                            "`{}` runs on the interpreter: the JIT cannot compile it yet ({why})",
                            spec.name
                        ));
                    }
                    sink.fit_started(&spec.name, spec.steps);
                    let name = spec.name.clone();
                    let report = fit(&obj, &mut self.store, &opts, |s, v| {
                        sink.fit_step(&name, s, v)
                    })
                    .map_err(|error| SessionError::Run {
                        span: spec.span,
                        name: spec.name.clone(),
                        error,
                    })?;
                    sink.fit_finished(&spec.name, &report);
                }
                Statement::Report(spec) => {
                    let compiled = self
                        .program
                        .compile_value(spec.item, &spec.name, &spec.expr)
                        .map_err(SessionError::Compile)?;
                    if let CompiledValue::Estimate { objective, .. } = &compiled {
                        sink.compiled(&spec.name, objective);
                    }
                    let seed = self.statement_seed(index);
                    let value =
                        self.evaluate(&compiled, seed)
                            .map_err(|error| SessionError::Run {
                                span: spec.span,
                                name: spec.name.clone(),
                                error,
                            })?;
                    sink.report(&spec.name, &value);
                }
            }
        }
        Ok(())
    }

    /// Prepares statement `index`, the fit `spec`, as [`Session::run`]
    /// does before training: compiles its objective, sets the parameters
    /// its `init` option names, and returns the objective with the fit's
    /// options (its seed derived from the statement's index unless it sets
    /// one). `vprog bench` prepares fits through this too, so it times what
    /// `run` would train.
    pub fn prepare_fit(
        &mut self,
        index: usize,
        spec: &FitSpec,
    ) -> Result<(Prepared, FitOptions), SessionError> {
        let obj = self
            .program
            .compile_objective(spec.item, &spec.name, &spec.objective)
            .map_err(SessionError::Compile)?;
        for (name, span, value) in &spec.init {
            self.set_param(name, *span, value, &obj.params_used)?;
        }
        let opts = FitOptions {
            optimizer: spec.optimizer.clone(),
            steps: spec.steps,
            particles: spec.particles,
            seed: spec.seed.unwrap_or_else(|| self.statement_seed(index)),
        };
        Ok((Prepared::new(obj, self.backend), opts))
    }

    /// Evaluates a compiled report.
    pub fn evaluate(&self, compiled: &CompiledValue, seed: u64) -> Result<ReportValue, FitError> {
        match compiled {
            CompiledValue::Estimate { objective, samples } => {
                let prepared = Prepared::new((**objective).clone(), self.backend);
                Ok(ReportValue::Estimate(estimate(
                    &prepared,
                    &self.store,
                    *samples,
                    seed,
                )?))
            }
            CompiledValue::Value(func) => {
                let mut ctx = RunContext::new(RunKey::new(seed, 0, 0));
                let outs = run(func, &self.store.values(), &mut ctx)
                    .map_err(|error| FitError::Run { step: 0, error })?;
                Ok(ReportValue::Values(
                    outs.iter().flat_map(Value::as_reals).collect(),
                ))
            }
        }
    }

    /// Sets a parameter (by name, resolved among `among`) to a constrained
    /// value, storing it unconstrained.
    fn set_param(
        &mut self,
        name: &str,
        span: Span,
        value: &ConstValue,
        among: &[bool],
    ) -> Result<(), SessionError> {
        let fail = |msg: String| SessionError::Compile(Diagnostic::error("E0600", msg, span));
        let i = self.program.param_index(name, among).map_err(fail)?;
        let info = &self.program.params[i];
        let elems: Vec<f64> = match value {
            ConstValue::Real(x) => vec![*x],
            ConstValue::Int(x) => vec![*x as f64],
            ConstValue::Tensor { shape, data } if *shape == info.shape => data.clone(),
            other => {
                return Err(fail(format!(
                    "`init`: `{name}` needs a value of shape {:?}, found {}",
                    info.shape,
                    other.kind_name()
                )));
            }
        };
        if elems.len() != info.init.len() {
            return Err(fail(format!(
                "`init`: `{name}` has {} element(s), the value has {}",
                info.init.len(),
                elems.len()
            )));
        }
        let mut raw = Vec::with_capacity(elems.len());
        for x in elems {
            raw.push(info.constraint.unconstrain(x).ok_or_else(|| {
                fail(format!(
                    "`init`: {x} is not a valid value for `{}`",
                    info.qualified
                ))
            })?);
        }
        self.store.params[i].raw = raw;
        Ok(())
    }
}
