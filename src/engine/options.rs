//! How to run a fit from Rust.

use vprog_compiler::lower::meta::Optimizer;

/// The options of [`Engine::fit`](super::Engine::fit): the optimizer, the
/// number of steps and particles, the seed, and a callback called after
/// every step. The defaults are those of a `fit` statement (`spec/language.md`
/// §7): 1000 steps, 1 particle, seed 0.
///
/// ```
/// use vprog::FitOptions;
///
/// let mut last = f64::NAN;
/// let options = FitOptions::adam(0.01)
///     .steps(500)
///     .particles(16)
///     .seed(7)
///     .on_step(|_step, objective| last = objective);
/// assert_eq!(options.steps_count(), 500);
/// ```
pub struct FitOptions<'a> {
    pub(crate) optimizer: Optimizer,
    pub(crate) steps: usize,
    pub(crate) particles: usize,
    pub(crate) seed: u64,
    pub(crate) on_step: Option<Box<dyn FnMut(usize, f64) + 'a>>,
}

impl<'a> FitOptions<'a> {
    /// Options with `optimizer` and the defaults.
    pub fn new(optimizer: Optimizer) -> FitOptions<'a> {
        FitOptions {
            optimizer,
            steps: 1000,
            particles: 1,
            seed: 0,
            on_step: None,
        }
    }

    /// Plain gradient ascent with learning rate `lr`.
    pub fn sgd(lr: f64) -> FitOptions<'a> {
        FitOptions::new(Optimizer::Sgd { lr })
    }

    /// Gradient ascent with heavy-ball momentum 0.9.
    pub fn momentum(lr: f64) -> FitOptions<'a> {
        FitOptions::new(Optimizer::Momentum { lr, beta: 0.9 })
    }

    /// Adam with the usual decays (0.9, 0.999) and offset 1e-8.
    pub fn adam(lr: f64) -> FitOptions<'a> {
        FitOptions::new(Optimizer::Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        })
    }

    /// The number of optimization steps.
    pub fn steps(mut self, steps: usize) -> FitOptions<'a> {
        self.steps = steps;
        self
    }

    /// The number of independent estimates averaged per step.
    pub fn particles(mut self, particles: usize) -> FitOptions<'a> {
        self.particles = particles.max(1);
        self
    }

    /// The seed of the fit's randomness.
    pub fn seed(mut self, seed: u64) -> FitOptions<'a> {
        self.seed = seed;
        self
    }

    /// Calls `f(step, objective)` after every step, with the step's
    /// estimate of the objective (before its update).
    pub fn on_step(mut self, f: impl FnMut(usize, f64) + 'a) -> FitOptions<'a> {
        self.on_step = Some(Box::new(f));
        self
    }

    /// The number of steps the fit will take.
    pub fn steps_count(&self) -> usize {
        self.steps
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions")
            .field("optimizer", &self.optimizer)
            .field("steps", &self.steps)
            .field("particles", &self.particles)
            .field("seed", &self.seed)
            .field("on_step", &self.on_step.is_some())
            .finish()
    }
}
