//! Plates and minibatches: a subsampled `plate` must leave every gradient
//! estimate unbiased for the gradient of the *full-data* objective, with the
//! model and the guide seeing the same minibatch, whatever the strategy of
//! the choices inside it.
//!
//! Each case's exact value and gradient are derived by hand (closed forms
//! for Gaussians, stated beside the test) or by enumeration with dual
//! numbers, over all `n` data points — no exact value comes from vprog. The
//! tolerance is the suite's (`tests/common`): 4 standard errors of the mean
//! of ≥ 10⁴ seeded particle estimates, each particle with its own
//! minibatch; each case also runs its first particles on the JIT and
//! requires the interpreter's numbers to the bit.

mod common;

use common::{Case, Dual, value_and_gradient};

use std::f64::consts::PI;

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// A global latent with a subsampled likelihood:
/// `μ ~ N(0, 1)`, `x_i ~ N(μ, 1)` for `i < 6`, two of them per run;
/// guide `μ ~ N(m, e^{2s})`, reparameterized.
///
/// With `σ = e^s`, `E_q log N(μ; 0, 1) = −½ln2π − ½(m² + σ²)`,
/// `E_q log N(x_i; μ, 1) = −½ln2π − ½((x_i − m)² + σ²)`, the entropy is
/// `½ln2π + ½ + s`; so `∂m = −m + Σ(x_i − m)` and
/// `∂s = 1 − (1 + n)σ²`.
#[test]
fn a_subsampled_likelihood_gives_the_full_data_gradient() {
    let xs = [0.5, -1.0, 2.0, 1.5, 0.0, -0.7];
    let (m, s) = (0.3_f64, -0.2_f64);
    let sigma2 = (2.0 * s).exp();
    let n = xs.len() as f64;
    let value = -0.5 * LN_2PI - 0.5 * (m * m + sigma2)
        + xs.iter()
            .map(|x| -0.5 * LN_2PI - 0.5 * ((x - m) * (x - m) + sigma2))
            .sum::<f64>()
        + 0.5 * LN_2PI
        + 0.5
        + s;
    let dm = -m + xs.iter().map(|x| x - m).sum::<f64>();
    let ds = 1.0 - (1.0 + n) * sigma2;
    Case::new(
        "import objectives;
         gen model() {
             mu ~ normal(0.0, 1.0);
             plate i in 0..6 (subsample 2) {
                 x[i] ~ normal(mu, 1.0);
             }
         }
         gen guide() {
             param m = 0.3;
             param s = -0.2;
             mu ~ normal(m, exp(s)) by reparam;
         }
         let obj = elbo(model, guide, { x: [0.5, -1.0, 2.0, 1.5, 0.0, -0.7] });",
    )
    .value(value)
    .grads(&[("guide.m", dm), ("guide.s", ds)])
    // The minibatch adds variance (sd of ∂m ≈ 7 per particle): 4·10⁴
    // particles bring its standard error under the suite's 0.06.
    .samples(40_000)
    .run();
}

/// A local latent per data point, in plates in the model and in an
/// amortized guide: `z_i ~ N(0, 1)`, `x_i ~ N(z_i, 1)`, guide
/// `z_i ~ N(a·x_i, e^{2s})`, five points, two per run. If the guide's
/// `z` at a minibatch position belonged to another data point than the
/// model's `x` there, `∂a` would be biased.
///
/// Per point, with `μ_i = a·x_i` and `σ = e^s`:
/// `−ln2π − ½μ_i² − σ² − ½(x_i − μ_i)² + ½ln2π + ½ + s`, so
/// `∂a = Σ x_i(x_i − 2μ_i)` and `∂s = n(1 − 2σ²)`.
#[test]
fn model_and_guide_see_the_same_minibatch() {
    let xs = [1.2, -0.4, 0.9, 2.1, -1.5];
    let (a, s) = (0.2_f64, 0.1_f64);
    let sigma2 = (2.0 * s).exp();
    let n = xs.len() as f64;
    let value: f64 = xs
        .iter()
        .map(|x| {
            let mu = a * x;
            -LN_2PI - 0.5 * mu * mu - sigma2 - 0.5 * (x - mu) * (x - mu) + 0.5 * LN_2PI + 0.5 + s
        })
        .sum();
    let da: f64 = xs.iter().map(|x| x * (x - 2.0 * a * x)).sum();
    let ds = n * (1.0 - 2.0 * sigma2);
    Case::new(
        "import objectives;
         gen model() {
             plate i in 0..5 (subsample 2) {
                 let z = z[i] ~ normal(0.0, 1.0);
                 x[i] ~ normal(z, 1.0);
             }
         }
         gen guide(xs: real[5]) {
             param a = 0.2;
             param s = 0.1;
             plate i in 0..5 (subsample 2) {
                 z[i] ~ normal(a * xs[i], exp(s)) by reparam;
             }
         }
         let data = [1.2, -0.4, 0.9, 2.1, -1.5];
         let obj = elbo(model, guide(data), { x: data });",
    )
    .value(value)
    .grads(&[("guide.a", da), ("guide.s", ds)])
    .run();
}

/// Discrete local choices inside subsampled plates, under each strategy
/// that applies to `flip`: `c_i ~ flip(0.3)`, `x_i ~ N(c_i, 1)` for four
/// points, two per run; guide `c_i ~ flip(σ(w))`. The exact ELBO sums,
/// over the points, the enumeration over `c_i ∈ {0, 1}` of
/// `q(c)(log p(c) + log N(x_i; c, 1) − log q(c))`; its derivative in `w`
/// is taken with dual numbers.
#[test]
fn every_discrete_strategy_inside_a_subsampled_plate() {
    let xs = [0.8, -0.3, 1.7, 0.2];
    let w = 0.2_f64;
    let (value, grad) = value_and_gradient([w], |[w]| {
        let q1 = w.sigmoid();
        let q0 = Dual::constant(1.0) - q1;
        let mut total = Dual::constant(0.0);
        for &x in &xs {
            for (c, q) in [(0.0, q0), (1.0, q1)] {
                let prior: f64 = if c == 1.0 { 0.3 } else { 0.7 };
                let lik = -0.5 * (2.0 * PI).ln() - 0.5 * (x - c) * (x - c);
                total = total + q * (Dual::constant(prior.ln() + lik) - q.ln());
            }
        }
        total
    });
    for strategy in ["enum", "reinforce", "mvd"] {
        Case::new(&format!(
            "import objectives;
             gen model() {{
                 plate i in 0..4 (subsample 2) {{
                     let c = c[i] ~ flip(0.3);
                     x[i] ~ normal(real(c), 1.0);
                 }}
             }}
             gen guide() {{
                 param w = 0.2;
                 plate i in 0..4 (subsample 2) {{
                     c[i] ~ flip(sigmoid(w)) by {strategy};
                 }}
             }}
             let obj = elbo(model, guide, {{ x: [0.8, -0.3, 1.7, 0.2] }});"
        ))
        .value(value)
        .grads(&[("guide.w", grad[0])])
        .run();
    }
}

/// A plate without `subsample` is every iteration, unscaled: the same
/// objective as the `for` loop it replaces, to the bit.
#[test]
fn a_plate_without_subsample_is_the_loop() {
    let program = |keyword: &str| {
        format!(
            "import objectives;
             gen model() {{
                 mu ~ normal(0.0, 1.0);
                 {keyword} i in 0..3 {{ x[i] ~ normal(mu, 1.0); }}
             }}
             gen guide() {{
                 param m = 0.3;
                 mu ~ normal(m, 1.0) by reparam;
             }}
             let obj = elbo(model, guide, {{ x: [0.5, -1.0, 2.0] }});"
        )
    };
    let (plate, looped) = (program("plate"), program("for"));
    assert_eq!(
        common::particle_bits(&plate, 100),
        common::particle_bits(&looped, 100),
        "plate and for differ"
    );
}
