//! Back ends: running an objective's estimator and gradient programs with
//! the interpreter or the JIT.
//!
//! A [`Prepared`] objective holds the IR and, with the JIT back end, the
//! compiled code of both programs. When the JIT cannot compile a program it
//! falls back to the interpreter for it and says why (`fallback`), so a
//! caller can print a one-line note; the results are the same either way —
//! the interpreter is the reference the JIT is tested against.
//!
//! The estimator driver (`estimator.rs`) and the fit loop (`fit.rs`) are
//! generic over [`Runs`], which both a bare `CompiledObjective` (always
//! interpreted) and a [`Prepared`] implement.

use crate::interp::{RunContext, RunError, run};
use crate::jit::{self, JitFunction};
use crate::value::Value;
use std::fmt;
use std::str::FromStr;
use vprog_compiler::ir::Function;
use vprog_compiler::lower::CompiledObjective;
use vprog_compiler::transform::simplify::simplify;

/// Which back end runs compiled programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Backend {
    /// Cranelift-compiled native code (falling back to the interpreter for
    /// what it cannot compile).
    #[default]
    Jit,
    /// The IR interpreter.
    Interp,
}

impl FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Backend, String> {
        match s {
            "jit" => Ok(Backend::Jit),
            "interp" => Ok(Backend::Interp),
            other => Err(format!(
                "unknown backend `{other}` (expected `jit` or `interp`)"
            )),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Jit => "jit",
            Backend::Interp => "interp",
        })
    }
}

/// The outputs of a batch of particles as rows of words in the JIT's
/// layout (`f64` and `i64` scalars one word each, tensors row-major).
#[derive(Debug)]
pub struct Rows<'a> {
    /// Row `k` (words `k·row .. (k+1)·row`) holds particle `start + k`.
    pub words: Vec<u64>,
    /// The words per row.
    pub row: usize,
    /// Per output, its first word in a row and its number of words.
    pub layout: &'a [(usize, usize)],
}

/// A batch's rows, or the first failing particle and its error.
pub type BatchResult<'a> = Result<Rows<'a>, (usize, RunError)>;

/// One program, run by the interpreter or compiled.
enum Exec {
    Interp,
    Jit(Box<JitFunction>),
}

impl Exec {
    fn new(func: &Function, backend: Backend, why: &mut Option<String>) -> Exec {
        if backend == Backend::Interp {
            return Exec::Interp;
        }
        match jit::compile(func) {
            Ok(f) => Exec::Jit(Box::new(f)),
            Err(e) => {
                why.get_or_insert(e.reason);
                Exec::Interp
            }
        }
    }

    fn run(
        &self,
        func: &Function,
        args: &[Value],
        ctx: &mut RunContext,
    ) -> Result<Vec<Value>, RunError> {
        match self {
            Exec::Interp => run(func, args, ctx),
            Exec::Jit(f) => f.run(args, ctx),
        }
    }
}

/// What runs an objective's programs: the estimator driver and the fit
/// loop work with any implementation.
pub trait Runs: Sync {
    /// The compiled objective.
    fn objective(&self) -> &CompiledObjective;

    /// The host functions the programs may call, if any.
    fn host(&self) -> Option<&std::sync::Arc<crate::host::HostRegistry>> {
        None
    }

    /// Runs the estimator program `(params) -> (value, surrogate, total,
    /// log_weight)`.
    fn run_estimator(&self, args: &[Value], ctx: &mut RunContext) -> Result<Vec<Value>, RunError> {
        run(&self.objective().estimator, args, ctx)
    }

    /// Runs the gradient program `(params, seed) -> (value, surrogate,
    /// total, log_weight, gradients...)`.
    fn run_gradient(&self, args: &[Value], ctx: &mut RunContext) -> Result<Vec<Value>, RunError> {
        run(&self.objective().gradient, args, ctx)
    }

    /// Runs the estimator (`gradient = false`) or the gradient program
    /// for particles `start..end` of step `step` in one call into compiled
    /// code, if this back end can (objectives without `enum` and `mvd`
    /// sites, compiled by the JIT, with real outputs after the first four):
    /// a row per particle, or with `summed` one row holding the sums of the
    /// real outputs over the particles, taken in particle order.
    #[allow(clippy::too_many_arguments)]
    fn batch(
        &self,
        _gradient: bool,
        _summed: bool,
        _args: &[Value],
        _seed: u64,
        _step: u64,
        _start: usize,
        _end: usize,
    ) -> Option<BatchResult<'_>> {
        None
    }
}

impl Runs for CompiledObjective {
    fn objective(&self) -> &CompiledObjective {
        self
    }
}

/// An objective prepared for a back end.
pub struct Prepared {
    objective: CompiledObjective,
    estimator: Exec,
    gradient: Exec,
    /// Why (part of) the objective runs on the interpreter although the JIT
    /// was asked for.
    pub fallback: Option<String>,
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Prepared(jit: {}, fallback: {:?})",
            self.is_compiled(),
            self.fallback
        )
    }
}

impl Prepared {
    /// Prepares `objective` for `backend`.
    pub fn new(objective: CompiledObjective, backend: Backend) -> Prepared {
        // Computations on constants alone (data sets, comprehensions over
        // them) run once here rather than in every particle; simplifying
        // again then shares what folding made equal (the model's and the
        // guide's copies of a data set, and what reads them).
        let prepare = |f: &Function| simplify(&crate::fold::fold_constants(f));
        let objective = CompiledObjective {
            estimator: prepare(&objective.estimator),
            gradient: prepare(&objective.gradient),
            ..objective
        };
        let mut fallback = None;
        let estimator = Exec::new(&objective.estimator, backend, &mut fallback);
        let gradient = Exec::new(&objective.gradient, backend, &mut fallback);
        Prepared {
            objective,
            estimator,
            gradient,
            fallback,
        }
    }

    /// Whether both programs run as compiled code.
    pub fn is_compiled(&self) -> bool {
        matches!(
            (&self.estimator, &self.gradient),
            (Exec::Jit(_), Exec::Jit(_))
        )
    }
}

impl Runs for Prepared {
    fn objective(&self) -> &CompiledObjective {
        &self.objective
    }

    fn run_estimator(&self, args: &[Value], ctx: &mut RunContext) -> Result<Vec<Value>, RunError> {
        self.estimator.run(&self.objective.estimator, args, ctx)
    }

    fn run_gradient(&self, args: &[Value], ctx: &mut RunContext) -> Result<Vec<Value>, RunError> {
        self.gradient.run(&self.objective.gradient, args, ctx)
    }

    fn batch(
        &self,
        gradient: bool,
        summed: bool,
        args: &[Value],
        seed: u64,
        step: u64,
        start: usize,
        end: usize,
    ) -> Option<BatchResult<'_>> {
        let exec = if gradient {
            &self.gradient
        } else {
            &self.estimator
        };
        match exec {
            Exec::Jit(f) if !self.objective.has_enum && !self.objective.has_mvd => {
                // The driver sums outputs 0 and 4.. as reals.
                let real = |ty: &vprog_compiler::ir::Type| ty.elem == vprog_compiler::ir::Elem::F64;
                let types = f.output_types();
                if types.len() < 4 || !real(&types[0]) || !types[4..].iter().all(real) {
                    return None;
                }
                let run = if summed {
                    f.run_sum(args, seed, step, start, end)
                } else {
                    f.run_batch(args, seed, step, start, end)
                };
                Some(run.map(|words| Rows {
                    words,
                    row: f.row_words(),
                    layout: f.output_layout(),
                }))
            }
            _ => None,
        }
    }
}
