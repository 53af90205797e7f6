//! The training driver behind `fit`, and `estimate`.
//!
//! Each step averages the estimates of `particles` independent runs (keyed
//! by seed, step and particle, spread over threads with rayon and summed in
//! particle order, so the result does not depend on the thread count) and
//! takes one optimizer step. A non-finite objective or gradient stops the
//! fit: the driver re-runs the offending particle with every operation
//! checked and reports the first operation that produced a NaN or an
//! infinity, with its site and span.

use crate::estimator::{Estimate, add_values, particle};
use crate::interp::{RunContext, RunError, run_checked};
use crate::optim::{OptimizerState, step};
use crate::params::ParamStore;
use crate::rng::RunKey;
use crate::value::Value;
use rayon::prelude::*;
use std::fmt;
use std::time::Instant;
use vprog_compiler::ir::Origin;
use vprog_compiler::lower::CompiledObjective;
use vprog_compiler::lower::meta::Optimizer;

/// How to run a fit.
#[derive(Clone, Debug)]
pub struct FitOptions {
    /// The optimizer.
    pub optimizer: Optimizer,
    /// Steps to take.
    pub steps: usize,
    /// Particles averaged per step.
    pub particles: usize,
    /// The seed of the fit's randomness.
    pub seed: u64,
}

/// What a fit did.
#[derive(Clone, Debug, PartialEq)]
pub struct FitReport {
    /// The objective estimate of each step (before its update).
    pub history: Vec<f64>,
    /// The mean objective over the last 100 steps (or all, if fewer).
    pub final_objective: f64,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Why a fit or an estimate stopped.
#[derive(Clone, Debug, PartialEq)]
pub enum FitError {
    /// A run failed (an invalid distribution parameter, an index out of
    /// range, ...).
    Run {
        /// The step (0 for estimates).
        step: usize,
        /// The error.
        error: RunError,
    },
    /// The objective or its gradient became NaN or infinite.
    NonFinite {
        /// The step.
        step: usize,
        /// What was non-finite ("the objective", "the gradient").
        what: &'static str,
        /// The first operation producing a non-finite value, if found.
        origin: Option<Origin>,
        /// A description of that operation's result.
        detail: String,
    },
}

impl fmt::Display for FitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FitError::Run { step, error } => write!(f, "at step {step}: {error}"),
            FitError::NonFinite {
                step,
                what,
                origin,
                detail,
            } => {
                write!(f, "{what} became non-finite at step {step}")?;
                if let Some(o) = origin
                    && let Some(site) = &o.site
                {
                    write!(f, "; the first non-finite value came from site `{site}`")?;
                }
                if !detail.is_empty() {
                    write!(f, " ({detail})")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for FitError {}

/// The average of particle estimates `0..n` of `obj` at step `step`.
fn averaged(
    obj: &CompiledObjective,
    params: &[Value],
    seed: u64,
    step_index: u64,
    n: usize,
    gradient: bool,
) -> Result<Estimate, (usize, RunError)> {
    let results: Vec<Result<Estimate, RunError>> = (0..n)
        .into_par_iter()
        .map(|p| {
            particle(
                obj,
                params,
                RunKey::new(seed, step_index, p as u64),
                gradient,
            )
        })
        .collect();
    let mut value = 0.0;
    let mut grad: Option<Vec<Value>> = None;
    for (p, r) in results.into_iter().enumerate() {
        let e = r.map_err(|e| (p, e))?;
        value += e.value;
        if let Some(g) = e.gradient {
            grad = Some(match grad {
                None => g,
                Some(acc) => acc.iter().zip(&g).map(|(a, b)| add_values(a, b)).collect(),
            });
        }
    }
    let scale = 1.0 / n as f64;
    Ok(Estimate {
        value: value * scale,
        gradient: grad.map(|g| g.iter().map(|v| scale_value(v, scale)).collect()),
    })
}

fn scale_value(v: &Value, s: f64) -> Value {
    match v {
        Value::F(x) => Value::F(x * s),
        other => match other.as_f64_array() {
            Some(a) => Value::from_f64_array(a * s),
            None => other.clone(),
        },
    }
}

/// Finds the first non-finite operation of particle `p` at `step_index`.
fn diagnose(
    obj: &CompiledObjective,
    params: &[Value],
    seed: u64,
    step_index: u64,
    n: usize,
) -> (Option<Origin>, String) {
    let mut args = params.to_vec();
    args.push(Value::F(1.0));
    for p in 0..n {
        let mut ctx = RunContext::new(RunKey::new(seed, step_index, p as u64));
        if let Err(e) = run_checked(&obj.gradient, &args, &mut ctx) {
            return (Some(e.origin), e.message);
        }
    }
    (None, String::new())
}

/// Trains `store`'s parameters to maximize `obj`, calling `on_step(step,
/// objective)` after each step.
pub fn fit(
    obj: &CompiledObjective,
    store: &mut ParamStore,
    opts: &FitOptions,
    mut on_step: impl FnMut(usize, f64),
) -> Result<FitReport, FitError> {
    let start = Instant::now();
    let sizes: Vec<usize> = store.params.iter().map(|p| p.raw.len()).collect();
    let mut state = OptimizerState::new(&sizes);
    let mut history = Vec::with_capacity(opts.steps);
    for s in 0..opts.steps {
        let params = store.values();
        let est = averaged(obj, &params, opts.seed, s as u64, opts.particles, true)
            .map_err(|(_, error)| FitError::Run { step: s, error })?;
        let grad = est.gradient.unwrap_or_default();
        let grad_finite = grad.iter().all(Value::is_finite);
        if !est.value.is_finite() || !grad_finite {
            let (origin, detail) = diagnose(obj, &params, opts.seed, s as u64, opts.particles);
            return Err(FitError::NonFinite {
                step: s,
                what: if est.value.is_finite() {
                    "the gradient"
                } else {
                    "the objective"
                },
                origin,
                detail,
            });
        }
        history.push(est.value);
        let grads: Vec<Vec<f64>> = grad.iter().map(Value::f64_elements).collect();
        let mut raw: Vec<Vec<f64>> = store.params.iter().map(|p| p.raw.clone()).collect();
        step(
            &opts.optimizer,
            &mut state,
            &mut raw,
            &grads,
            &obj.params_used,
        );
        for (p, r) in store.params.iter_mut().zip(raw) {
            p.raw = r;
        }
        on_step(s, est.value);
    }
    let tail = &history[history.len().saturating_sub(100)..];
    let final_objective = if tail.is_empty() {
        f64::NAN
    } else {
        tail.iter().sum::<f64>() / tail.len() as f64
    };
    Ok(FitReport {
        history,
        final_objective,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// An estimate of an objective: the mean of `samples` independent
/// estimates and its standard error.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EstimateReport {
    /// The mean.
    pub mean: f64,
    /// The standard error of the mean.
    pub stderr: f64,
    /// The number of samples.
    pub samples: usize,
}

/// Estimates `obj` at `store`'s parameters with `samples` samples.
pub fn estimate(
    obj: &CompiledObjective,
    store: &ParamStore,
    samples: usize,
    seed: u64,
) -> Result<EstimateReport, FitError> {
    let params = store.values();
    let values: Vec<Result<f64, RunError>> = (0..samples)
        .into_par_iter()
        .map(|i| particle(obj, &params, RunKey::new(seed, 0, i as u64), false).map(|e| e.value))
        .collect();
    let mut xs = Vec::with_capacity(samples);
    for v in values {
        xs.push(v.map_err(|error| FitError::Run { step: 0, error })?);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    Ok(EstimateReport {
        mean,
        stderr: (var / n).sqrt(),
        samples,
    })
}
