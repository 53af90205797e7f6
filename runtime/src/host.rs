//! Host functions: real functions of real scalars that an embedding Rust
//! program registers, so vprog programs can call — and differentiate —
//! them.
//!
//! A host function is known to the compiler only by its name, its index
//! and its arity; it is the `host` primitive in the IR, and its derivative
//! is the `host_partial` primitive, one per operand. The interpreter
//! evaluates both through a [`HostRegistry`] that the driver hands it in
//! the [`RunContext`](crate::interp::RunContext). A registry only grows,
//! so an index stays valid for every program compiled against it.
//!
//! Host functions must be pure: the estimators call them from several
//! threads, in any order, and may call them more than once per run (the
//! backward sweep recomputes).

use std::fmt;
use std::sync::Arc;

/// The value of a host function at its arguments.
pub type HostValueFn = Arc<dyn Fn(&[f64]) -> f64 + Send + Sync>;

/// The gradient of a host function at its arguments: one partial
/// derivative per argument.
pub type HostGradientFn = Arc<dyn Fn(&[f64]) -> Vec<f64> + Send + Sync>;

/// One registered host function.
#[derive(Clone)]
pub struct HostFunction {
    /// The name vprog programs call it by.
    pub name: String,
    /// The number of (real scalar) arguments.
    pub arity: usize,
    /// Its value.
    pub value: HostValueFn,
    /// Its gradient.
    pub gradient: HostGradientFn,
}

impl fmt::Debug for HostFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFunction")
            .field("name", &self.name)
            .field("arity", &self.arity)
            .finish_non_exhaustive()
    }
}

/// The host functions of an embedding, by index.
#[derive(Clone, Debug, Default)]
pub struct HostRegistry {
    functions: Vec<HostFunction>,
}

impl HostRegistry {
    /// An empty registry.
    pub fn new() -> HostRegistry {
        HostRegistry::default()
    }

    /// Adds a function and returns its index. A later function of the
    /// same name shadows the earlier one for programs compiled after it;
    /// the earlier index stays valid.
    pub fn register(&mut self, function: HostFunction) -> u32 {
        self.functions.push(function);
        (self.functions.len() - 1) as u32
    }

    /// The function at `id`.
    pub fn get(&self, id: u32) -> Option<&HostFunction> {
        self.functions.get(id as usize)
    }

    /// Every function with its index, in registration order.
    pub fn functions(&self) -> impl Iterator<Item = (u32, &HostFunction)> {
        self.functions
            .iter()
            .enumerate()
            .map(|(i, f)| (i as u32, f))
    }

    /// The index of the latest function called `name`.
    pub fn lookup(&self, name: &str) -> Option<u32> {
        self.functions
            .iter()
            .rposition(|f| f.name == name)
            .map(|i| i as u32)
    }

    /// Calls function `id` (`wrt = None`) or its partial derivative with
    /// respect to argument `wrt`.
    pub fn call(&self, id: u32, args: &[f64], wrt: Option<u32>) -> Result<f64, String> {
        let f = self
            .get(id)
            .ok_or_else(|| format!("host function #{id} is not registered"))?;
        if args.len() != f.arity {
            return Err(format!(
                "host function `{}` takes {} argument(s), got {}",
                f.name,
                f.arity,
                args.len()
            ));
        }
        match wrt {
            None => Ok((f.value)(args)),
            Some(k) => {
                let gradient = (f.gradient)(args);
                gradient.get(k as usize).copied().ok_or_else(|| {
                    format!(
                        "the derivative of host function `{}` returned {} partial derivative(s) for {} argument(s)",
                        f.name,
                        gradient.len(),
                        f.arity
                    )
                })
            }
        }
    }
}

/// An objective's runner with host functions: every run it makes gets the
/// registry in its context. Everything else is delegated to the runner,
/// interpreted or compiled alike; runs go particle by particle (the batch
/// entry points do not carry a registry).
pub struct Hosted<'a, R: ?Sized> {
    runner: &'a R,
    host: Arc<HostRegistry>,
}

impl<'a, R: crate::backend::Runs + ?Sized> Hosted<'a, R> {
    /// `runner` with the host functions of `host`.
    pub fn new(runner: &'a R, host: Arc<HostRegistry>) -> Hosted<'a, R> {
        Hosted { runner, host }
    }
}

impl<R: crate::backend::Runs + ?Sized> crate::backend::Runs for Hosted<'_, R> {
    fn objective(&self) -> &vprog_compiler::lower::CompiledObjective {
        self.runner.objective()
    }

    fn host(&self) -> Option<&Arc<HostRegistry>> {
        Some(&self.host)
    }

    fn run_estimator(
        &self,
        args: &[crate::value::Value],
        ctx: &mut crate::interp::RunContext,
    ) -> Result<Vec<crate::value::Value>, crate::interp::RunError> {
        ctx.host = Some(self.host.clone());
        self.runner.run_estimator(args, ctx)
    }

    fn run_gradient(
        &self,
        args: &[crate::value::Value],
        ctx: &mut crate::interp::RunContext,
    ) -> Result<Vec<crate::value::Value>, crate::interp::RunError> {
        ctx.host = Some(self.host.clone());
        self.runner.run_gradient(args, ctx)
    }
}
