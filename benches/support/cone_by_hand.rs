//! The noisy-cone ELBO step written by hand: the estimator vprog compiles
//! for `fit elbo` in `examples/cone.vprog`, as plain Rust, to measure how
//! far vprog's step is from a hand-written one.
//!
//! Shared by `benches/cone_baseline.rs` (the timing) and
//! `tests/cone_baseline.rs` (the proof that it is the same estimator: per
//! particle, for the same run keys, its value and gradient equal those of
//! vprog's compiled gradient program).
//!
//! # The estimator
//!
//! The model is the noisy cone
//!
//! ```text
//! x ~ N(0, 10²),  y ~ N(0, 10²),  r = x² + y²,  z ~ N(r, (0.1 + r/100)²),
//! ```
//!
//! observed at z = 5, and the guide the naive mean field
//! `x ~ N(μ₁, e^{2s₁})`, `y ~ N(μ₂, e^{2s₂})`, both reparameterized:
//! `x = μ₁ + σ₁ε₁`, `y = μ₂ + σ₂ε₂` with `σᵢ = e^{sᵢ}` and `εᵢ ~ N(0, 1)`.
//! One particle's estimate of the ELBO is
//!
//! ```text
//! f(θ; ε) = log p(x, y, z=5) − log q(x, y; θ),   θ = (μ₁, μ₂, s₁, s₂),
//! ```
//!
//! and its reparameterization gradient is the total derivative of `f` in θ
//! with ε held fixed (the derivation is in [`particle`]). A step averages
//! [`PARTICLES`] such estimates (summed in particle order, then scaled by
//! `1/n`, as vprog's driver does) and takes one SGD ascent step
//! `θ ← θ + lr · ĝ`.
//!
//! # The randomness
//!
//! vprog draws every random choice from a counter-based stream keyed by
//! (seed, step, particle, site, sub-stream, loop indices); in the compiled
//! `elbo` the guide's `x` is site 0 and `y` site 1, each on sub-stream 0
//! outside any loop. A normal draw is `mean + scale · z` with `z` the
//! runtime's standard normal, and the estimator draws `normal(0, 1)` and
//! scales it itself, so `ε` here is exactly that `z`. Each particle of this
//! baseline therefore hashes the same keys and draws the same variates as
//! vprog's particle does.

#![allow(dead_code)]

use rayon::prelude::*;
use vprog::runtime::dist::standard_normal;
use vprog::runtime::rng::RunKey;

/// Particles per step (`particles = 64` in the example).
pub const PARTICLES: usize = 64;

/// The SGD learning rate (`sgd(lr = 1e-3)`).
pub const LEARNING_RATE: f64 = 1e-3;

/// The observed `z`.
pub const Z: f64 = 5.0;

/// The site ids of the guide's `x` and `y` in the compiled objective.
pub const SITE_X: u32 = 0;
/// See [`SITE_X`].
pub const SITE_Y: u32 = 1;

/// ½ ln 2π, the normalizing constant of a normal log density.
const HALF_LN_TWO_PI: f64 = 0.918_938_533_204_672_7;

/// The guide's parameters, in the order vprog declares them.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Guide {
    /// The mean of `x`.
    pub mu1: f64,
    /// The mean of `y`.
    pub mu2: f64,
    /// The log scale of `x`.
    pub s1: f64,
    /// The log scale of `y`.
    pub s2: f64,
}

impl Guide {
    /// The fit's initial parameters (`init = { mu1: 0, mu2: 0, s1: 1,
    /// s2: 1 }`).
    pub const INITIAL: Guide = Guide {
        mu1: 0.0,
        mu2: 0.0,
        s1: 1.0,
        s2: 1.0,
    };
}

/// One particle's estimate of the objective and of its gradient in
/// `(μ₁, μ₂, s₁, s₂)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ParticleEstimate {
    /// `log p(x, y, z) − log q(x, y)`.
    pub value: f64,
    /// `∂/∂(μ₁, μ₂, s₁, s₂)` of the value, ε held fixed.
    pub gradient: [f64; 4],
}

/// `log N(value; mean, scale²)`.
fn normal_log_density(value: f64, mean: f64, scale: f64) -> f64 {
    let standardized = (value - mean) / scale;
    -0.5 * standardized * standardized - scale.ln() - HALF_LN_TWO_PI
}

/// One particle's estimate for run key `key`.
///
/// # The gradient
///
/// Write `σ_z = 0.1 + r/100` and `u = (z − r)/σ_z`. Then
///
/// ```text
/// log p = log N(x; 0, 10²) + log N(y; 0, 10²) − ½u² − ln σ_z − ½ ln 2π.
/// ```
///
/// *The model term.* With `σ_z' = dσ_z/dr = 1/100`,
/// `du/dr = (−σ_z − (z − r)σ_z') / σ_z² = −1/σ_z − u/(100 σ_z)`, so
///
/// ```text
/// d/dr (−½u² − ln σ_z) = −u du/dr − σ_z'/σ_z = (u + (u² − 1)/100) / σ_z =: g_r,
/// ```
///
/// and with `dr/dx = 2x` and `d/dx log N(x; 0, 10²) = −x/100`,
///
/// ```text
/// ∂log p/∂x = −x/100 + 2x g_r,   ∂log p/∂y = −y/100 + 2y g_r.
/// ```
///
/// *The guide term.* Along the reparameterization `(x − μ₁)/σ₁ = ε₁`
/// whatever θ, so `log q(x(θ), y(θ); θ) = −½ε₁² − s₁ − ½ε₂² − s₂ − ln 2π`
/// and its total derivative is `(0, 0, −1, −1)`. (vprog's reverse-mode
/// program computes the same derivative as a sum of terms that cancel —
/// for `s₁` the path term `∂log q/∂x · σ₁ε₁ = −ε₁²` and the score term
/// `∂log q/∂s₁ = ε₁² − 1` — so the two agree to rounding.)
///
/// *The chain rule.* `dx/dμ₁ = 1`, `dx/ds₁ = σ₁ε₁` (and likewise for `y`),
/// so
///
/// ```text
/// ∂f/∂μ₁ = ∂log p/∂x,           ∂f/∂s₁ = ∂log p/∂x · σ₁ε₁ + 1,
/// ∂f/∂μ₂ = ∂log p/∂y,           ∂f/∂s₂ = ∂log p/∂y · σ₂ε₂ + 1.
/// ```
pub fn particle(guide: &Guide, key: RunKey) -> ParticleEstimate {
    let epsilon1 = standard_normal(&mut key.site_stream(SITE_X, 0, &[]));
    let epsilon2 = standard_normal(&mut key.site_stream(SITE_Y, 0, &[]));
    let sigma1 = guide.s1.exp();
    let sigma2 = guide.s2.exp();
    let x = guide.mu1 + sigma1 * epsilon1;
    let y = guide.mu2 + sigma2 * epsilon2;

    let r = x * x + y * y;
    let sigma_z = 0.1 + r / 100.0;
    let u = (Z - r) / sigma_z;
    let log_p = normal_log_density(x, 0.0, 10.0)
        + normal_log_density(y, 0.0, 10.0)
        + (-0.5 * u * u - sigma_z.ln() - HALF_LN_TWO_PI);
    let log_q = normal_log_density(x, guide.mu1, sigma1) + normal_log_density(y, guide.mu2, sigma2);

    let d_log_p_d_r = (u + (u * u - 1.0) / 100.0) / sigma_z;
    let d_log_p_d_x = -x / 100.0 + 2.0 * x * d_log_p_d_r;
    let d_log_p_d_y = -y / 100.0 + 2.0 * y * d_log_p_d_r;
    ParticleEstimate {
        value: log_p - log_q,
        gradient: [
            d_log_p_d_x,
            d_log_p_d_y,
            d_log_p_d_x * sigma1 * epsilon1 + 1.0,
            d_log_p_d_y * sigma2 * epsilon2 + 1.0,
        ],
    }
}

/// Sums particle estimates in order and scales by `1/n`, as vprog's
/// driver averages them.
fn average(estimates: impl Iterator<Item = ParticleEstimate>, n: usize) -> ParticleEstimate {
    let mut sum = ParticleEstimate {
        value: 0.0,
        gradient: [0.0; 4],
    };
    for e in estimates {
        sum.value += e.value;
        for (total, g) in sum.gradient.iter_mut().zip(e.gradient) {
            *total += g;
        }
    }
    let scale = 1.0 / n as f64;
    ParticleEstimate {
        value: sum.value * scale,
        gradient: sum.gradient.map(|g| g * scale),
    }
}

/// Ascends `guide` by `lr · gradient`.
fn sgd_ascent(guide: &mut Guide, gradient: [f64; 4]) {
    guide.mu1 += LEARNING_RATE * gradient[0];
    guide.mu2 += LEARNING_RATE * gradient[1];
    guide.s1 += LEARNING_RATE * gradient[2];
    guide.s2 += LEARNING_RATE * gradient[3];
}

/// One step on one thread: [`PARTICLES`] particles of step `step`, then
/// one SGD update. Returns the step's objective estimate.
pub fn step_sequential(guide: &mut Guide, seed: u64, step: u64) -> f64 {
    let at = *guide;
    let mean = average(
        (0..PARTICLES).map(|p| particle(&at, RunKey::new(seed, step, p as u64))),
        PARTICLES,
    );
    sgd_ascent(guide, mean.gradient);
    mean.value
}

/// One step with the particles spread over rayon's threads and collected
/// in particle order, the way vprog's driver spreads them: the same
/// arithmetic as [`step_sequential`], plus the driver's parallel overhead.
pub fn step_parallel(guide: &mut Guide, seed: u64, step: u64) -> f64 {
    let at = *guide;
    let estimates: Vec<ParticleEstimate> = (0..PARTICLES)
        .into_par_iter()
        .map(|p| particle(&at, RunKey::new(seed, step, p as u64)))
        .collect();
    let mean = average(estimates.into_iter(), PARTICLES);
    sgd_ascent(guide, mean.gradient);
    mean.value
}
