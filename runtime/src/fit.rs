//! The training driver behind `fit`, and `estimate`.
//!
//! Each step averages the estimates of `particles` independent runs (keyed
//! by seed, step and particle, spread over threads with rayon and summed in
//! particle order, so the result does not depend on the thread count) and
//! takes one optimizer step. A non-finite objective or gradient stops the
//! fit: the driver re-runs the offending particle with every operation
//! checked and reports the first operation that produced a NaN or an
//! infinity, with its site and span.

use crate::backend::{BatchResult, Rows, Runs};
use crate::estimator::{Estimate, particle};
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

/// Splits `0..n` particles into contiguous ranges, one per chunk of work
/// for the thread pool (at least 8 particles each, so small steps are not
/// drowned in scheduling).
fn ranges(n: usize) -> Vec<(usize, usize)> {
    let threads = rayon::current_num_threads().max(1);
    let size = n.div_ceil(threads).max(8);
    (0..n)
        .step_by(size.max(1))
        .map(|a| (a, (a + size).min(n)))
        .collect()
}

/// The batch entry point's rows for particles `0..n` in particle order —
/// on one thread, a single row of their sums; in parallel, a row per
/// particle, from a range per chunk of work for the thread pool — or `None`
/// when the back end has no batch entry point.
fn batches<'r, R: Runs + ?Sized>(
    r: &'r R,
    params: &[Value],
    seed: u64,
    step_index: u64,
    n: usize,
    gradient: bool,
    parallel: bool,
) -> Option<Vec<BatchResult<'r>>> {
    let mut args = params.to_vec();
    if gradient {
        // The gradient program takes the surrogate's cotangent seed last.
        args.push(Value::F(1.0));
    }
    if !parallel {
        // One thread: the compiled code sums the particles itself (one
        // particle's row is its sum, written where the code computes it).
        return Some(vec![r.batch(
            gradient,
            n > 1,
            &args,
            seed,
            step_index,
            0,
            n,
        )?]);
    }
    let parts: Vec<Option<BatchResult<'r>>> = ranges(n)
        .into_par_iter()
        .map(|(a, b)| r.batch(gradient, false, &args, seed, step_index, a, b))
        .collect();
    parts.into_iter().collect()
}

/// Every particle's estimate, one by one, in particle order.
fn one_by_one<R: Runs + ?Sized>(
    r: &R,
    params: &[Value],
    seed: u64,
    step_index: u64,
    n: usize,
    gradient: bool,
    parallel: bool,
) -> Vec<Result<Estimate, RunError>> {
    let one = |p: usize| particle(r, params, RunKey::new(seed, step_index, p as u64), gradient);
    if parallel {
        (0..n).into_par_iter().map(one).collect()
    } else {
        (0..n).map(one).collect()
    }
}

/// A sum over particles, taken in particle order: the objective and the
/// gradient's elements, output after output in one flat buffer (`ranges`
/// gives each output's first element and length). Both back ends and
/// every thread count add the same numbers in the same order, so they
/// agree to the bit.
#[derive(Default)]
struct Sums {
    /// Whether a particle (or a row of sums) has been added.
    started: bool,
    value: f64,
    gradient: Vec<f64>,
    ranges: Vec<(usize, usize)>,
}

impl Sums {
    /// Adds one particle's value and gradient (output by output). Sums
    /// start at 0.0, as the compiled code's do (`Averaged::new` adds the
    /// first particle's elements to 0.0).
    fn add<G: Iterator<Item = f64>>(&mut self, value: f64, gradient: impl Iterator<Item = G>) {
        self.value += value;
        if !self.started {
            for g in gradient {
                let start = self.gradient.len();
                self.gradient.extend(g);
                self.ranges.push((start, self.gradient.len() - start));
            }
        } else {
            for (&(start, len), g) in self.ranges.iter().zip(gradient) {
                for (a, x) in self.gradient[start..start + len].iter_mut().zip(g) {
                    *a += x;
                }
            }
        }
        self.started = true;
    }

    /// Adds every row of a batch (outputs 0 and 4.. are reals). A first
    /// batch of one row — a single particle, or the compiled code's sums
    /// over all of them — becomes the sums as it is, without a copy.
    fn add_rows(&mut self, rows: Rows<'_>, gradient: bool) {
        let real = |w: &u64| f64::from_bits(*w);
        let grads = if gradient { &rows.layout[4..] } else { &[] };
        if !self.started && rows.words.len() == rows.row {
            self.value += f64::from_bits(rows.words[rows.layout[0].0]);
            self.gradient = reals(rows.words);
            self.ranges = grads.to_vec();
            self.started = true;
            return;
        }
        for row in rows.words.chunks_exact(rows.row.max(1)) {
            let value = f64::from_bits(row[rows.layout[0].0]);
            self.add(
                value,
                grads
                    .iter()
                    .map(|&(at, n)| row[at..at + n].iter().map(real)),
            );
        }
    }
}

/// Words of reals as reals, in place.
fn reals(words: Vec<u64>) -> Vec<f64> {
    let mut words = std::mem::ManuallyDrop::new(words);
    let (ptr, len, capacity) = (words.as_mut_ptr(), words.len(), words.capacity());
    // SAFETY: the allocation came from a `Vec<u64>` of this length and
    // capacity, and `f64` has the size and alignment of `u64` and no
    // invalid bit patterns; `words` is not dropped.
    unsafe { Vec::from_raw_parts(ptr.cast::<f64>(), len, capacity) }
}

/// A step's average over its particles.
struct Averaged {
    value: f64,
    /// The gradient's elements, output after output (empty without a
    /// gradient), and each output's first element and length.
    gradient: Vec<f64>,
    ranges: Vec<(usize, usize)>,
    /// Whether every gradient element is finite.
    finite: bool,
}

impl Averaged {
    /// The average of `sums` over `n` particles: each gradient element
    /// `(0.0 + x) / n` — the first particle added to 0.0, as every sum
    /// starts — in one vectorized pass that also finds whether all are
    /// finite.
    fn new(sums: Sums, n: usize) -> Averaged {
        let scale = 1.0 / n as f64;
        let Sums {
            value,
            mut gradient,
            ranges,
            ..
        } = sums;
        // Becomes 1 at an element whose exponent bits are all set (an
        // infinity or NaN); an integer `or`, so the loop vectorizes.
        const EXPONENT: u64 = 0x7ff0_0000_0000_0000;
        let mut nonfinite = 0u64;
        for &(start, len) in &ranges {
            for x in &mut gradient[start..start + len] {
                *x = (0.0 + *x) * scale;
                nonfinite |= u64::from(x.to_bits() & EXPONENT == EXPONENT);
            }
        }
        Averaged {
            value: value * scale,
            gradient,
            ranges,
            finite: nonfinite == 0,
        }
    }

    /// The gradient of each output.
    fn outputs(&self) -> Vec<&[f64]> {
        self.ranges
            .iter()
            .map(|&(start, len)| &self.gradient[start..start + len])
            .collect()
    }
}

/// The average of particle estimates `0..n` of `r` at step `step`, summed
/// in particle order whatever the threads (`parallel` only says whether to
/// spread the particles over them).
fn averaged<R: Runs + ?Sized>(
    r: &R,
    params: &[Value],
    seed: u64,
    step_index: u64,
    n: usize,
    gradient: bool,
    parallel: bool,
) -> Result<Averaged, (usize, RunError)> {
    let mut sums = Sums::default();
    match batches(r, params, seed, step_index, n, gradient, parallel) {
        Some(parts) => {
            for part in parts {
                sums.add_rows(part?, gradient);
            }
        }
        None => {
            let estimates = one_by_one(r, params, seed, step_index, n, gradient, parallel);
            for (p, e) in estimates.into_iter().enumerate() {
                let e = e.map_err(|e| (p, e))?;
                let grads = e.gradient.unwrap_or_default();
                sums.add(e.value, grads.iter().map(|g| g.f64_elements().into_iter()));
            }
        }
    }
    Ok(Averaged::new(sums, n))
}

/// Finds the first non-finite operation of particle `p` at `step_index`.
fn diagnose<R: Runs + ?Sized>(
    r: &R,
    params: &[Value],
    seed: u64,
    step_index: u64,
    n: usize,
) -> (Option<Origin>, String) {
    let mut args = params.to_vec();
    args.push(Value::F(1.0));
    for p in 0..n {
        let mut ctx = RunContext::new(RunKey::new(seed, step_index, p as u64));
        ctx.host = r.host().cloned();
        if let Err(e) = run_checked(&r.objective().gradient, &args, &mut ctx) {
            return (Some(e.origin), e.message);
        }
    }
    (None, String::new())
}

/// One fit in progress: the optimizer's state and the index of the next
/// step. [`fit`] is a loop over [`Trainer::step`]; `vprog bench` times the
/// same call, so the two measure and run the same code.
pub struct Trainer<'a, R: Runs + ?Sized = CompiledObjective> {
    objective: &'a R,
    options: FitOptions,
    state: OptimizerState,
    next_step: usize,
    /// Whether to spread a step's particles over threads, once decided
    /// (after timing the second step on one thread).
    parallel: Option<bool>,
}

/// The step time above which a fit spreads its particles over threads.
const PARALLEL_ABOVE: std::time::Duration = std::time::Duration::from_micros(40);

impl<'a, R: Runs + ?Sized> Trainer<'a, R> {
    /// A trainer for `objective` at step 0, with a fresh optimizer state
    /// sized for `store`'s parameters.
    pub fn new(objective: &'a R, store: &ParamStore, options: FitOptions) -> Self {
        let sizes: Vec<usize> = store.params.iter().map(|p| p.raw.len()).collect();
        Trainer {
            objective,
            options,
            state: OptimizerState::new(&sizes),
            next_step: 0,
            parallel: None,
        }
    }

    /// The options the trainer runs with.
    pub fn options(&self) -> &FitOptions {
        &self.options
    }

    /// Starts over at step 0 with a fresh optimizer state (zeroed in
    /// place).
    pub fn restart(&mut self) {
        self.state.reset();
        self.next_step = 0;
    }

    /// How many steps have been taken.
    pub fn steps_taken(&self) -> usize {
        self.next_step
    }

    /// Takes one step: averages the particles' estimates at `store`'s
    /// parameters (keyed by the fit's seed, this step's index and the
    /// particle), updates `store` with one optimizer step, and returns the
    /// step's objective estimate (before the update). On an error the
    /// parameters are left as they were.
    pub fn step(&mut self, store: &mut ParamStore) -> Result<f64, FitError> {
        let (obj, opts, s) = (self.objective, &self.options, self.next_step);
        let parallel = self.parallel.unwrap_or(false);
        let started = Instant::now();
        let est = store.lend_values(|params| {
            let est = averaged(
                obj,
                params,
                opts.seed,
                s as u64,
                opts.particles,
                true,
                parallel,
            )
            .map_err(|(_, error)| FitError::Run { step: s, error })?;
            if !est.value.is_finite() || !est.finite {
                let (origin, detail) = diagnose(obj, params, opts.seed, s as u64, opts.particles);
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
            Ok(est)
        })?;
        if self.parallel.is_none() && s >= 1 {
            // Spread the particles over threads only when a step is long
            // enough to pay for it (the results are the same either way).
            self.parallel =
                Some(rayon::current_num_threads() > 1 && started.elapsed() > PARALLEL_ABOVE);
        }
        let grads = est.outputs();
        // The optimizer updates the stored values in place (taken out and
        // put back, not copied: a network's parameters are megabytes).
        let mut raw: Vec<Vec<f64>> = store
            .params
            .iter_mut()
            .map(|p| std::mem::take(&mut p.raw))
            .collect();
        step(
            &opts.optimizer,
            &mut self.state,
            &mut raw,
            &grads,
            &obj.objective().params_used,
        );
        for (p, r) in store.params.iter_mut().zip(raw) {
            p.raw = r;
        }
        self.next_step += 1;
        Ok(est.value)
    }
}

/// Trains `store`'s parameters to maximize `obj`, calling `on_step(step,
/// objective)` after each step.
pub fn fit<R: Runs + ?Sized>(
    obj: &R,
    store: &mut ParamStore,
    opts: &FitOptions,
    mut on_step: impl FnMut(usize, f64),
) -> Result<FitReport, FitError> {
    let start = Instant::now();
    let mut trainer = Trainer::new(obj, store, opts.clone());
    let mut history = Vec::with_capacity(opts.steps);
    for s in 0..opts.steps {
        let value = trainer.step(store)?;
        history.push(value);
        on_step(s, value);
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
pub fn estimate<R: Runs + ?Sized>(
    obj: &R,
    store: &ParamStore,
    samples: usize,
    seed: u64,
) -> Result<EstimateReport, FitError> {
    let params = store.values();
    // Estimates are long: always spread over the threads.
    let xs: Vec<f64> = match batches(obj, &params, seed, 0, samples, false, true) {
        Some(parts) => {
            let mut xs = Vec::with_capacity(samples);
            for part in parts {
                let rows = part.map_err(|(_, error)| FitError::Run { step: 0, error })?;
                let at = rows.layout[0].0;
                xs.extend(
                    rows.words
                        .chunks_exact(rows.row.max(1))
                        .map(|row| f64::from_bits(row[at])),
                );
            }
            xs
        }
        None => {
            let mut xs = Vec::with_capacity(samples);
            for e in one_by_one(obj, &params, seed, 0, samples, false, true) {
                xs.push(e.map_err(|error| FitError::Run { step: 0, error })?.value);
            }
            xs
        }
    };
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
