//! Timing optimization steps: what `vprog bench` measures.
//!
//! The unit of measurement is one *step* of a fit — every particle's
//! estimate and gradient, their average, and one optimizer update — taken
//! through [`Trainer::step`], the very call [`crate::fit::fit`] loops over,
//! so a benchmark and a fit run the same code on the same back end.
//!
//! **The trajectory.** A [`Stepper`] starts from the parameters a fit would
//! start from (after its `init` option) and takes the fit's own steps, with
//! the fit's seed, step indices and particle count. A benchmark may want
//! more steps than the fit has, and stepping past the end would time
//! parameters the fit never reaches (and could diverge), so after the fit's
//! last step the stepper starts over from the initial parameters: the timed
//! work is always a step the fit really takes.
//!
//! **The measurement** ([`time_steps`]). Compiling the objective (and the
//! JIT's code generation) happens before, when the fit is prepared, and is
//! not timed. A warm-up of a fifth of the time budget (at least
//! [`MIN_WARMUP_STEPS`] steps) fills caches and spins up the thread pool;
//! its steps are timed one by one and their median sets the batch size,
//! the number of steps timed together so that one timing spans at least
//! [`MIN_BATCH_MICROS`] and the clock's resolution and overhead do not
//! matter. Then batches are timed until the budget is spent or the step
//! cap is reached (at least one batch either way); each batch yields one
//! sample, its time divided by its steps. Medians and percentiles are over
//! those samples; the median is robust to the occasional step that a
//! context switch or a page fault slows down.

use crate::backend::Runs;
use crate::fit::{FitError, FitOptions, Trainer};
use crate::params::ParamStore;
use crate::session::{Session, SessionError};
use std::time::{Duration, Instant};
use vprog_compiler::lower::{CompiledObjective, Statement};

/// The fewest warm-up steps, whatever the time budget.
pub const MIN_WARMUP_STEPS: usize = 3;

/// The shortest time, in microseconds, that one timed batch of steps
/// should span.
pub const MIN_BATCH_MICROS: f64 = 20.0;

/// How long to measure each fit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BenchOptions {
    /// The time budget per fit in seconds, warm-up included (a fifth of it
    /// is warm-up).
    pub seconds: f64,
    /// The most steps to time per fit (warm-up not included).
    pub max_steps: usize,
}

impl Default for BenchOptions {
    /// One second per fit, at most a million timed steps.
    fn default() -> Self {
        BenchOptions {
            seconds: 1.0,
            max_steps: 1_000_000,
        }
    }
}

/// Steps along a fit's trajectory, starting over from the initial
/// parameters after the fit's last step (see the module docs).
pub struct Stepper<'a, R: Runs + ?Sized = CompiledObjective> {
    initial: ParamStore,
    store: ParamStore,
    trainer: Trainer<'a, R>,
}

impl<'a, R: Runs + ?Sized> Stepper<'a, R> {
    /// A stepper for `objective` from the parameters in `store`, taking
    /// the steps of a fit with `options`.
    pub fn new(objective: &'a R, store: &ParamStore, options: FitOptions) -> Self {
        Stepper {
            initial: store.clone(),
            store: store.clone(),
            trainer: Trainer::new(objective, store, options),
        }
    }

    /// Takes the next step of the trajectory and returns its objective
    /// estimate.
    pub fn step(&mut self) -> Result<f64, FitError> {
        if self.trainer.steps_taken() >= self.trainer.options().steps.max(1) {
            // In place: a network's parameters and moments are megabytes,
            // and fresh allocations would be page faults in the timing.
            for (p, q) in self.store.params.iter_mut().zip(&self.initial.params) {
                p.raw.clone_from(&q.raw);
            }
            self.trainer.restart();
        }
        self.trainer.step(&mut self.store)
    }

    /// The current parameters.
    pub fn store(&self) -> &ParamStore {
        &self.store
    }
}

/// The timings of one fit's steps.
#[derive(Clone, Debug, PartialEq)]
pub struct StepTimes {
    /// One sample per timed batch: the batch's time divided by its steps,
    /// in microseconds, in the order taken.
    pub step_micros: Vec<f64>,
    /// Steps per timed batch.
    pub batch: usize,
    /// Warm-up steps taken before timing.
    pub warmup_steps: usize,
}

impl StepTimes {
    /// The number of timed steps.
    pub fn steps(&self) -> usize {
        self.step_micros.len() * self.batch
    }

    /// The median time of a step, in microseconds.
    pub fn median_micros(&self) -> f64 {
        self.quantile_micros(0.5)
    }

    /// The `q`-quantile (`0 ≤ q ≤ 1`) of the step time, in microseconds,
    /// interpolating linearly between order statistics; NaN without
    /// samples.
    pub fn quantile_micros(&self, q: f64) -> f64 {
        quantile(&self.step_micros, q)
    }
}

/// The `q`-quantile of `xs`, interpolating linearly between the order
/// statistics (the "type 7" definition of Hyndman and Fan, 1996).
fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let position = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    let fraction = position - below as f64;
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

/// Warms up and times `stepper`'s steps within `options`' budget (see the
/// module docs for the procedure).
pub fn time_steps<R: Runs + ?Sized>(
    stepper: &mut Stepper<'_, R>,
    options: &BenchOptions,
) -> Result<StepTimes, FitError> {
    let budget = Duration::try_from_secs_f64(options.seconds.max(0.0)).unwrap_or(Duration::MAX);
    let start = Instant::now();
    let warmup_budget = budget / 5;
    let mut warmup_micros = Vec::new();
    let max_warmup_steps = options.max_steps.max(MIN_WARMUP_STEPS);
    while warmup_micros.len() < MIN_WARMUP_STEPS
        || (start.elapsed() < warmup_budget && warmup_micros.len() < max_warmup_steps)
    {
        let begun = Instant::now();
        stepper.step()?;
        warmup_micros.push(begun.elapsed().as_secs_f64() * 1e6);
    }
    let typical = quantile(&warmup_micros, 0.5).max(1e-3);
    let batch = ((MIN_BATCH_MICROS / typical).ceil() as usize).clamp(1, options.max_steps.max(1));
    let mut step_micros = Vec::new();
    loop {
        let begun = Instant::now();
        for _ in 0..batch {
            stepper.step()?;
        }
        step_micros.push(begun.elapsed().as_secs_f64() * 1e6 / batch as f64);
        let timed = step_micros.len() * batch;
        if start.elapsed() >= budget || timed + batch > options.max_steps {
            break;
        }
    }
    Ok(StepTimes {
        step_micros,
        batch,
        warmup_steps: warmup_micros.len(),
    })
}

/// One benchmarked fit.
#[derive(Clone, Debug, PartialEq)]
pub struct FitTiming {
    /// The fit's name.
    pub name: String,
    /// Its step times.
    pub times: StepTimes,
    /// Why (part of) its objective ran on the interpreter although the JIT
    /// was asked for, as [`Prepared::fallback`](crate::backend::Prepared)
    /// says.
    pub fallback: Option<String>,
}

/// Benchmarks every `fit` statement of `session`'s program in order, on
/// the session's back end, calling `on_fit` as each finishes. Each fit is prepared as
/// [`Session::run`] prepares it (its `init` option applied, its seed
/// derived from its statement), but not trained: the timed steps run on a
/// copy of the parameters, so what a benchmark measures does not depend on
/// how many steps an earlier one took, and a later fit without `init`
/// starts from untrained values. `report` statements are skipped.
pub fn bench_session(
    session: &mut Session,
    options: &BenchOptions,
    mut on_fit: impl FnMut(&FitTiming),
) -> Result<(), SessionError> {
    let statements = session
        .program
        .statements()
        .map_err(SessionError::Compile)?;
    for (index, statement) in statements.into_iter().enumerate() {
        let Statement::Fit(spec) = statement else {
            continue;
        };
        let (objective, fit_options) = session.prepare_fit(index, &spec)?;
        let mut stepper = Stepper::new(&objective, &session.store, fit_options);
        let times = time_steps(&mut stepper, options).map_err(|error| SessionError::Run {
            span: spec.span,
            name: spec.name.clone(),
            error,
        })?;
        on_fit(&FitTiming {
            name: spec.name.clone(),
            times,
            fallback: objective.fallback.clone(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::quantile;

    #[test]
    fn quantiles_interpolate_between_order_statistics() {
        let xs = [4.0, 1.0, 3.0, 2.0, 5.0];
        assert_eq!(quantile(&xs, 0.5), 3.0);
        assert_eq!(quantile(&xs, 0.0), 1.0);
        assert_eq!(quantile(&xs, 1.0), 5.0);
        assert!((quantile(&xs, 0.1) - 1.4).abs() < 1e-12);
        assert_eq!(quantile(&[2.0, 1.0], 0.5), 1.5);
        assert!(quantile(&[], 0.5).is_nan());
    }
}
