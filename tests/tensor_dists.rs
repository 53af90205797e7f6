//! Tensor-valued distributions: `normal` over an array (array or broadcast
//! scalar parameters), `bernoulli` and `bernoulli_logits` over arrays and
//! scalars, and `categorical_logits` over a vector or a matrix of logits —
//! observed in a model (their log densities) and sampled under every
//! strategy that applies to them (their estimators).
//!
//! **Exact values.** Every case's value and gradient are derived by hand
//! (closed forms, stated beside the test) or computed in the test by
//! enumerating the joint support, or — for a Gaussian latent feeding a
//! logistic or softmax likelihood, which has no closed form — by the
//! trapezoidal rule of `common::standard_normal_rule` on dual numbers,
//! checked against a coarser step to 1e-9 (`common::assert_converged`).
//! Derivatives come from forward-mode dual numbers (`common::Dual`). No
//! exact value comes from vprog.
//!
//! **Tolerance.** The suite's (`tests/common`): the mean of ≥ 10⁴ seeded
//! particle estimates must lie within 4 standard errors of the exact value,
//! each standard error below `0.05·(1 + |exact|)`; every case also runs its
//! first particles on the JIT and requires the interpreter's numbers to the
//! bit.
//!
//! The last tests check what is rejected at compile time (`by enum` over
//! too many joint values, `by reparam` on a discrete tensor choice,
//! parameters of different shapes) and the log densities themselves at a
//! few points, including the edges of the supports and extreme logits,
//! through `report`.
//!
//! Run with `cargo test --release --test tensor_dists`.

mod common;

use common::{
    Case, Dual, assert_converged, logsumexp_dual, reports, sigmoid, softmax, standard_normal_rule,
    sum_dual, value_and_gradient,
};
use vprog::lang::SourceMap;

const LN_2PI: f64 = 1.837_877_066_409_345_3;

/// The program `template` with `{S}` replaced by `strategy`.
fn with_strategy(template: &str, strategy: &str) -> String {
    template.replace("{S}", strategy)
}

/// `E[f(X)]` for `X ~ normal(mean, sd)` on dual numbers: the trapezoidal
/// rule of `standard_normal_rule` with step `h` on ±12 standard
/// deviations, in the standardized variable (so the derivatives in `mean`
/// and `sd` are those of the reparameterized integrand).
fn gauss_dual<const N: usize>(
    mean: Dual<N>,
    sd: Dual<N>,
    h: f64,
    f: &impl Fn(Dual<N>) -> Dual<N>,
) -> Dual<N> {
    sum_dual(
        standard_normal_rule(h, 12.0)
            .into_iter()
            .map(|(e, w)| f(mean + sd * e) * w),
    )
}

/// [`gauss_dual`] at the step 1/32, after checking it against the step
/// 1/16 to 1e-9.
fn gauss_dual_converged<const N: usize>(
    mean: Dual<N>,
    sd: Dual<N>,
    f: impl Fn(Dual<N>) -> Dual<N>,
) -> Dual<N> {
    let fine = gauss_dual(mean, sd, 1.0 / 32.0, &f);
    assert_converged(fine, gauss_dual(mean, sd, 1.0 / 16.0, &f));
    fine
}

/// `log σ(x) = −log(1 + e^{−x})` on dual numbers.
fn log_sigmoid<const N: usize>(x: Dual<N>) -> Dual<N> {
    -((-x).exp() + 1.0).ln()
}

/// `E_q log N(z; 0, 1) + H(q)` for `q = N(m, e^{2s})`:
/// `−½ln2π − ½(m² + e^{2s}) + ½ln2π + ½ + s = ½ − ½(m² + e^{2s}) + s`.
fn standard_normal_prior_plus_entropy<const N: usize>(m: Dual<N>, s: Dual<N>) -> Dual<N> {
    (m * m + (s * 2.0).exp()) * -0.5 + s + 0.5
}

// ======================================================================
// normal over an array
// ======================================================================

/// `x ~ normal(m, s)` over `real[3]` with an array mean and an array
/// scale; continuation `f(x) = x₀x₁ + x₀² + x₂² + m₁x₂` (reads `m₁`
/// directly, so `reinforce`'s `l'` term is exercised).
/// The elements are independent, so `E[x₀x₁] = m₀m₁`, `E[xᵢ²] = mᵢ² +
/// sᵢ²`: `E = m₀m₁ + m₀² + s₀² + m₂² + s₂² + m₁m₂`;
/// `∂m₀ = m₁ + 2m₀`, `∂m₁ = m₀ + m₂`, `∂m₂ = 2m₂ + m₁`, `∂s₀ = 2s₀`,
/// `∂s₁ = 0`, `∂s₂ = 2s₂`.
fn normal_array_params(strategy: &str) -> Case {
    let [m0, m1, m2] = [0.5, -0.3, 0.8];
    let [s0, _s1, s2] = [0.7, 1.1, 0.6];
    Case::new(&with_strategy(
        "param m: real[3] = [0.5, -0.3, 0.8];
         param s: real[3] = [0.7, 1.1, 0.6];
         let obj = E {
             x ~ normal(m, s) by {S};
             x[0] * x[1] + x[0] * x[0] + x[2] * x[2] + m[1] * x[2]
         };",
        strategy,
    ))
    .value(m0 * m1 + m0 * m0 + s0 * s0 + m2 * m2 + s2 * s2 + m1 * m2)
    .grads(&[
        ("m[0]", m1 + 2.0 * m0),
        ("m[1]", m0 + m2),
        ("m[2]", 2.0 * m2 + m1),
        ("s[0]", 2.0 * s0),
        ("s[1]", 0.0),
        ("s[2]", 2.0 * s2),
    ])
}

/// `x ~ normal(m, s)` over `real[3]` with an array mean and a scalar scale
/// broadcast to every element; the continuation of
/// [`normal_array_params`]. `E = m₀m₁ + m₀² + m₂² + 2s² + m₁m₂`;
/// `∂m` as there, `∂s = 4s` (the scale reaches elements 0 and 2).
fn normal_broadcast_scale(strategy: &str) -> Case {
    let [m0, m1, m2] = [0.5, -0.3, 0.8];
    let s = 0.9;
    Case::new(&with_strategy(
        "param m: real[3] = [0.5, -0.3, 0.8];
         param s = 0.9;
         let obj = E {
             x ~ normal(m, s) by {S};
             x[0] * x[1] + x[0] * x[0] + x[2] * x[2] + m[1] * x[2]
         };",
        strategy,
    ))
    .value(m0 * m1 + m0 * m0 + m2 * m2 + 2.0 * s * s + m1 * m2)
    .grads(&[
        ("m[0]", m1 + 2.0 * m0),
        ("m[1]", m0 + m2),
        ("m[2]", 2.0 * m2 + m1),
        ("s", 4.0 * s),
    ])
}

/// `x ~ normal(μ, s)` over `real[3]` with a scalar mean broadcast and an
/// array scale; continuation `x₀x₁ + x₀² + x₂²`.
/// `E = μ² + (μ² + s₀²) + (μ² + s₂²) = 3μ² + s₀² + s₂²`; `∂μ = 6μ`,
/// `∂s₀ = 2s₀`, `∂s₁ = 0`, `∂s₂ = 2s₂`.
fn normal_broadcast_mean(strategy: &str) -> Case {
    let mu = -0.4;
    let [s0, _s1, s2] = [0.7, 1.1, 0.6];
    Case::new(&with_strategy(
        "param mu = -0.4;
         param s: real[3] = [0.7, 1.1, 0.6];
         let obj = E {
             x ~ normal(mu, s) by {S};
             x[0] * x[1] + x[0] * x[0] + x[2] * x[2]
         };",
        strategy,
    ))
    .value(3.0 * mu * mu + s0 * s0 + s2 * s2)
    .grads(&[
        ("mu", 6.0 * mu),
        ("s[0]", 2.0 * s0),
        ("s[1]", 0.0),
        ("s[2]", 2.0 * s2),
    ])
}

#[test]
fn reparam_normal_over_an_array() {
    normal_array_params("reparam").seed(11).run();
}

#[test]
fn reparam_normal_with_a_broadcast_scale() {
    normal_broadcast_scale("reparam").seed(12).run();
}

#[test]
fn reparam_normal_with_a_broadcast_mean() {
    normal_broadcast_mean("reparam").seed(13).run();
}

#[test]
fn reinforce_normal_over_an_array() {
    normal_array_params("reinforce").seed(14).run();
}

#[test]
fn reinforce_normal_with_a_broadcast_scale() {
    normal_broadcast_scale("reinforce").seed(15).run();
}

/// A tensor normal observed in the model and sampled in the guide: the
/// ELBO of `z ~ normal([0, 0, 0], 1)`, `x ~ normal(z, 1)` (a broadcast
/// scale in both), guide `z ~ normal(m, exp(s))` with `m, s ∈ ℝ³`,
/// reparameterized. Per element, with `σᵢ = e^{sᵢ}`:
/// `E_q log N(zᵢ; 0, 1) = −½ln2π − ½(mᵢ² + σᵢ²)`,
/// `E_q log N(xᵢ; zᵢ, 1) = −½ln2π − ½((xᵢ − mᵢ)² + σᵢ²)`, entropy
/// `½ln2π + ½ + sᵢ`; so `∂mᵢ = xᵢ − 2mᵢ` and `∂sᵢ = 1 − 2σᵢ²`.
#[test]
fn elbo_of_a_tensor_normal_observed_in_the_model() {
    let xs = [0.9, -1.3, 0.2];
    let ms = [0.1, -0.4, 0.6];
    let ss: [f64; 3] = [-0.2, 0.1, -0.5];
    let mut value = 0.0;
    let mut grads = Vec::new();
    for i in 0..3 {
        let (x, m, s) = (xs[i], ms[i], ss[i]);
        let sigma2 = (2.0 * s).exp();
        value += -LN_2PI - 0.5 * (m * m + sigma2) - 0.5 * ((x - m) * (x - m) + sigma2)
            + 0.5 * LN_2PI
            + 0.5
            + s;
        grads.push((format!("guide.m[{i}]"), x - 2.0 * m));
        grads.push((format!("guide.s[{i}]"), 1.0 - 2.0 * sigma2));
    }
    let grads: Vec<(&str, f64)> = grads.iter().map(|(n, g)| (n.as_str(), *g)).collect();
    Case::new(
        "import objectives;
         gen model() {
             z ~ normal([0.0, 0.0, 0.0], 1.0);
             x ~ normal(z, 1.0);
         }
         gen guide() {
             param m: real[3] = [0.1, -0.4, 0.6];
             param s: real[3] = [-0.2, 0.1, -0.5];
             z ~ normal(m, exp(s)) by reparam;
         }
         let obj = elbo(model, guide, { x: [0.9, -1.3, 0.2] });",
    )
    .value(value)
    .grads(&grads)
    .seed(16)
    .run();
}

// ======================================================================
// bernoulli and bernoulli_logits observed
// ======================================================================

/// `bernoulli_logits` over `real[3]` observed in the model, with a latent
/// logit vector: `w ~ normal([0, 0, 0], 1)`, `y ~ bernoulli_logits(w + b)`
/// (a model parameter `b` broadcast), `y = [1, 0, 1]`; guide
/// `w ~ normal(m, exp(s))`, `m, s ∈ ℝ³`, reparameterized.
/// The ELBO is a sum over the elements of
/// `½ − ½(mᵢ² + σᵢ²) + sᵢ + E_q log σ((2yᵢ − 1)(wᵢ + b))`
/// (prior, entropy, and `log p(y | w)`: `log σ(l)` for `y = 1`,
/// `log(1 − σ(l)) = log σ(−l)` for `y = 0`); the last term by quadrature,
/// differentiated in `(m, s, b)` with dual numbers.
#[test]
fn bernoulli_logits_observed_with_a_latent_logit_vector() {
    let ys = [1.0, 0.0, 1.0];
    let at = [0.2, -0.5, 0.4, -0.3, 0.2, -0.6, 0.3]; // m₀..₂, s₀..₂, b
    let (value, g) = value_and_gradient(at, |v: [Dual<7>; 7]| {
        let b = v[6];
        sum_dual((0..3).map(|i| {
            let (m, s) = (v[i], v[3 + i]);
            let sign = 2.0 * ys[i] - 1.0;
            let likelihood = gauss_dual_converged(m, s.exp(), |w| log_sigmoid((w + b) * sign));
            standard_normal_prior_plus_entropy(m, s) + likelihood
        }))
    });
    Case::new(
        "import objectives;
         gen model() {
             param b = 0.3;
             w ~ normal([0.0, 0.0, 0.0], 1.0);
             y ~ bernoulli_logits(w + b);
         }
         gen guide() {
             param m: real[3] = [0.2, -0.5, 0.4];
             param s: real[3] = [-0.3, 0.2, -0.6];
             w ~ normal(m, exp(s)) by reparam;
         }
         let obj = elbo(model, guide, { y: [1.0, 0.0, 1.0] });",
    )
    .value(value)
    .grads(&[
        ("guide.m[0]", g[0]),
        ("guide.m[1]", g[1]),
        ("guide.m[2]", g[2]),
        ("guide.s[0]", g[3]),
        ("guide.s[1]", g[4]),
        ("guide.s[2]", g[5]),
        ("model.b", g[6]),
    ])
    .seed(21)
    .run();
}

/// `bernoulli(probs)` over `real[3]` observed: a scalar latent `z ~
/// normal(0, 1)` shared by the elements, `y ~ bernoulli(sigmoid(z + b))`
/// with a model parameter `b ∈ ℝ³` (the scalar `z` broadcast), `y = [1,
/// 0, 0]`; guide `z ~ normal(m, exp(s))`, reparameterized.
/// `ELBO = ½ − ½(m² + σ²) + s + E_q Σᵢ log(pᵢ if yᵢ = 1 else 1 − pᵢ)`,
/// `pᵢ = σ(z + bᵢ)`; the expectation by quadrature (the log of the
/// selected probability, as the density is written), differentiated in
/// `(b, m, s)` with dual numbers.
#[test]
fn bernoulli_probs_observed() {
    let ys = [1.0, 0.0, 0.0];
    let at = [0.4, -0.2, 1.1, 0.3, -0.4]; // b₀..₂, m, s
    let (value, g) = value_and_gradient(at, |v: [Dual<5>; 5]| {
        let (m, s) = (v[3], v[4]);
        let likelihood = gauss_dual_converged(m, s.exp(), |z| {
            sum_dual((0..3).map(|i| {
                let p = (z + v[i]).sigmoid();
                if ys[i] == 1.0 { p.ln() } else { (1.0 - p).ln() }
            }))
        });
        standard_normal_prior_plus_entropy(m, s) + likelihood
    });
    Case::new(
        "import objectives;
         gen model() {
             param b: real[3] = [0.4, -0.2, 1.1];
             z ~ normal(0.0, 1.0);
             y ~ bernoulli(sigmoid(z + b));
         }
         gen guide() {
             param m = 0.3;
             param s = -0.4;
             z ~ normal(m, exp(s)) by reparam;
         }
         let obj = elbo(model, guide, { y: [1.0, 0.0, 0.0] });",
    )
    .value(value)
    .grads(&[
        ("model.b[0]", g[0]),
        ("model.b[1]", g[1]),
        ("model.b[2]", g[2]),
        ("guide.m", g[3]),
        ("guide.s", g[4]),
    ])
    .seed(22)
    .run();
}

// ======================================================================
// bernoulli and bernoulli_logits sampled
// ======================================================================

/// `c ~ bernoulli_logits(w)` over `real[3]` in the guide, under `{S}`:
/// model `c ~ bernoulli([0.3, 0.6, 0.5])`,
/// `x ~ normal([c₀ + c₁, c₁c₂ − c₀], 1)` with `x = [0.9, −0.4]` observed
/// (the likelihood couples the elements, so the joint value matters).
/// The ELBO is the enumeration over the 8 joint values `c ∈ {0, 1}³` of
/// `q(c)(log p(c) + log N(x; μ(c), 1) − log q(c))` with
/// `q(c) = Πᵢ σ(wᵢ)^{cᵢ}(1 − σ(wᵢ))^{1−cᵢ}`, differentiated in `w` with
/// dual numbers.
fn bernoulli_logits_guide(strategy: &str) -> Case {
    let prior = [0.3, 0.6, 0.5];
    let x = [0.9, -0.4];
    let (value, g) = value_and_gradient([0.2, -0.5, 0.4], |w: [Dual<3>; 3]| {
        let mut total = Dual::constant(0.0);
        for joint in 0..8 {
            let c: [f64; 3] = std::array::from_fn(|i| ((joint >> i) & 1) as f64);
            let mut q = Dual::constant(1.0);
            let mut log_prior = 0.0;
            for i in 0..3 {
                let p = w[i].sigmoid();
                q = q * if c[i] == 1.0 { p } else { 1.0 - p };
                log_prior += if c[i] == 1.0 {
                    f64::ln(prior[i])
                } else {
                    f64::ln(1.0 - prior[i])
                };
            }
            let mean = [c[0] + c[1], c[1] * c[2] - c[0]];
            let log_likelihood: f64 = (0..2)
                .map(|j| -0.5 * LN_2PI - 0.5 * (x[j] - mean[j]).powi(2))
                .sum();
            total = total + q * (Dual::constant(log_prior + log_likelihood) - q.ln());
        }
        total
    });
    Case::new(&with_strategy(
        "import objectives;
         gen model() {
             c ~ bernoulli([0.3, 0.6, 0.5]);
             x ~ normal([c[0] + c[1], c[1] * c[2] - c[0]], 1.0);
         }
         gen guide() {
             param w: real[3] = [0.2, -0.5, 0.4];
             c ~ bernoulli_logits(w) by {S};
         }
         let obj = elbo(model, guide, { x: [0.9, -0.4] });",
        strategy,
    ))
    .value(value)
    .grads(&[
        ("guide.w[0]", g[0]),
        ("guide.w[1]", g[1]),
        ("guide.w[2]", g[2]),
    ])
}

#[test]
fn enum_bernoulli_logits_over_an_array_in_the_guide() {
    bernoulli_logits_guide("enum").seed(31).run();
}

#[test]
fn reinforce_bernoulli_logits_over_an_array_in_the_guide() {
    bernoulli_logits_guide("reinforce").seed(32).run();
}

#[test]
fn mvd_bernoulli_logits_over_an_array_in_the_guide() {
    bernoulli_logits_guide("mvd").seed(33).run();
}

/// A scalar `c ~ bernoulli_logits(w)` (a real, 0 or 1) under `{S}`;
/// continuation `(c + 1)² + w·c` (reads `w` directly).
/// `E = (1 − σ(w))·1 + σ(w)(4 + w) = 1 + σ(w)(3 + w)`;
/// `∂w = σ(w)(1 − σ(w))(3 + w) + σ(w)`.
fn bernoulli_logits_scalar(strategy: &str) -> Case {
    let w: f64 = -0.7;
    let p = sigmoid(w);
    Case::new(&with_strategy(
        "param w = -0.7;
         let obj = E {
             c ~ bernoulli_logits(w) by {S};
             (c + 1.0) * (c + 1.0) + w * c
         };",
        strategy,
    ))
    .value(1.0 + p * (3.0 + w))
    .grads(&[("w", p * (1.0 - p) * (3.0 + w) + p)])
}

#[test]
fn enum_bernoulli_logits_scalar() {
    bernoulli_logits_scalar("enum").seed(34).run();
}

#[test]
fn reinforce_bernoulli_logits_scalar() {
    bernoulli_logits_scalar("reinforce").seed(35).run();
}

#[test]
fn mvd_bernoulli_logits_scalar() {
    bernoulli_logits_scalar("mvd").seed(36).run();
}

/// `c ~ bernoulli(p)` over `real[3]` with a parameter `p ∈ (0, 1)³` under
/// `{S}`; continuation `c₀c₁ + c₂ + p₀c₂` (reads `p₀` directly).
/// Independent elements with `E[cᵢ] = pᵢ`: `E = p₀p₁ + p₂ + p₀p₂`;
/// `∂p₀ = p₁ + p₂`, `∂p₁ = p₀`, `∂p₂ = 1 + p₀`.
fn bernoulli_probs_array(strategy: &str) -> Case {
    let [p0, p1, p2] = [0.3, 0.75, 0.55];
    Case::new(&with_strategy(
        "param p: real[3] = [0.3, 0.75, 0.55];
         let obj = E {
             c ~ bernoulli(p) by {S};
             c[0] * c[1] + c[2] + p[0] * c[2]
         };",
        strategy,
    ))
    .value(p0 * p1 + p2 + p0 * p2)
    .grads(&[("p[0]", p1 + p2), ("p[1]", p0), ("p[2]", 1.0 + p0)])
}

#[test]
fn enum_bernoulli_over_an_array() {
    bernoulli_probs_array("enum").seed(37).run();
}

#[test]
fn reinforce_bernoulli_over_an_array() {
    bernoulli_probs_array("reinforce").seed(38).run();
}

#[test]
fn mvd_bernoulli_over_an_array() {
    bernoulli_probs_array("mvd").seed(39).run();
}

/// Elements of probability exactly 0 and 1 (a masked `bernoulli`): the
/// joint values they rule out have weight 0 under `enum`, and must
/// contribute neither a value nor a NaN gradient; `reinforce` never draws
/// them, and `mvd`'s branch runs that flip those elements only estimate
/// derivatives in constant probabilities, which are dropped.
/// `c ~ bernoulli([0, σ(t), 1])` under `{S}`, continuation
/// `(c₀ + 2c₁ + 3c₂)²`: `c₀ = 0` and `c₂ = 1` surely, so the value is 25
/// with probability `σ(t)` and 9 otherwise: `E = 9 + 16σ(t)`,
/// `∂t = 16σ(t)(1 − σ(t))`.
fn bernoulli_with_certain_elements(strategy: &str) -> Case {
    let s = sigmoid(0.3);
    Case::new(&with_strategy(
        "param t = 0.3;
         let obj = E {
             c ~ bernoulli([0.0, sigmoid(t), 1.0]) by {S};
             let total = c[0] + 2.0 * c[1] + 3.0 * c[2];
             total * total
         };",
        strategy,
    ))
    .value(9.0 + 16.0 * s)
    .grads(&[("t", 16.0 * s * (1.0 - s))])
}

#[test]
fn enum_bernoulli_with_certain_elements() {
    bernoulli_with_certain_elements("enum").seed(54).run();
}

#[test]
fn reinforce_bernoulli_with_certain_elements() {
    bernoulli_with_certain_elements("reinforce").seed(55).run();
}

#[test]
fn mvd_bernoulli_with_certain_elements() {
    bernoulli_with_certain_elements("mvd").seed(56).run();
}

/// The ELBO of a guide with certain elements, `c ~ bernoulli([0, σ(t),
/// 1])` under `{S}`, against the model `c ~ bernoulli([½, ½, ½])`: the
/// joint values the guide rules out have weight 0 under `enum` and
/// `−log q = +∞`, and must contribute nothing (not 0 · ∞ = NaN). With
/// `s = σ(t)`, `ELBO = 3 ln ½ + H(s)`, `H(s) = −s ln s − (1 − s) ln(1 − s)`,
/// and `∂t = s(1 − s) ln((1 − s)/s)`.
fn elbo_with_certain_elements(strategy: &str) -> Case {
    let s = sigmoid(0.3);
    let entropy = -s * s.ln() - (1.0 - s) * (1.0 - s).ln();
    Case::new(&with_strategy(
        "import objectives;
         gen model() { c ~ bernoulli([0.5, 0.5, 0.5]); }
         gen guide() {
             param t = 0.3;
             c ~ bernoulli([0.0, sigmoid(t), 1.0]) by {S};
         }
         let obj = elbo(model, guide, {});",
        strategy,
    ))
    .value(3.0 * 0.5_f64.ln() + entropy)
    .grads(&[("guide.t", s * (1.0 - s) * ((1.0 - s) / s).ln())])
}

#[test]
fn enum_elbo_with_certain_elements() {
    elbo_with_certain_elements("enum").seed(57).run();
}

#[test]
fn mvd_elbo_with_certain_elements() {
    elbo_with_certain_elements("mvd").seed(58).run();
}

/// Tensor choices made in a loop, `c[i] ~ bernoulli_logits(w[i])` for the
/// rows of `w ∈ ℝ^{2×2}` under `{S}` (so the forcing tables of `enum` and
/// the alternatives of `mvd` are keyed by the loop index too);
/// continuation `c₀₀c₁₁ + c₀₁ − c₁₀ + w₀₀c₁₁`. With `pᵢⱼ = σ(wᵢⱼ)`,
/// independent elements: `E = p₀₀p₁₁ + p₀₁ − p₁₀ + w₀₀p₁₁`;
/// with `p' = p(1 − p)`: `∂w₀₀ = p₀₀'p₁₁ + p₁₁`, `∂w₀₁ = p₀₁'`,
/// `∂w₁₀ = −p₁₀'`, `∂w₁₁ = (p₀₀ + w₀₀)p₁₁'`.
fn bernoulli_logits_in_a_loop(strategy: &str) -> Case {
    let w = [0.2, -0.5, 0.4, 0.1];
    let p = w.map(sigmoid);
    let dp = p.map(|p| p * (1.0 - p));
    Case::new(&with_strategy(
        "param w: real[2, 2] = [[0.2, -0.5], [0.4, 0.1]];
         gen g() {
             for i in 0..2 {
                 c[i] ~ bernoulli_logits(w[i]) by {S};
             }
         }
         let obj = E {
             let (tr, _) = sim g;
             tr.c[0][0] * tr.c[1][1] + tr.c[0][1] - tr.c[1][0] + w[0][0] * tr.c[1][1]
         };",
        strategy,
    ))
    .value(p[0] * p[3] + p[1] - p[2] + w[0] * p[3])
    .grads(&[
        ("w[0]", dp[0] * p[3] + p[3]),
        ("w[1]", dp[1]),
        ("w[2]", -dp[2]),
        ("w[3]", (p[0] + w[0]) * dp[3]),
    ])
}

#[test]
fn enum_bernoulli_logits_in_a_loop() {
    bernoulli_logits_in_a_loop("enum").seed(51).run();
}

#[test]
fn reinforce_bernoulli_logits_in_a_loop() {
    bernoulli_logits_in_a_loop("reinforce").seed(52).run();
}

#[test]
fn mvd_bernoulli_logits_in_a_loop() {
    bernoulli_logits_in_a_loop("mvd").seed(53).run();
}

// ======================================================================
// categorical_logits
// ======================================================================

/// `categorical_logits` observed, for a vector and a matrix of logits,
/// with a scalar latent: `u ~ normal(0, 1)`,
/// `k ~ categorical_logits(b + u·[1, 0, −1])` with `k = 2`, and
/// `ks ~ categorical_logits([[u, 0, b₀], [b₁, −u, b₂]])` (one choice per
/// row) with `ks = [2, 0]`; model parameter `b ∈ ℝ³`; guide
/// `u ~ normal(m, exp(s))`, reparameterized.
/// `log p(k | u) = ℓ_k − logsumexp(ℓ)` per choice (row), so
/// `ELBO = ½ − ½(m² + σ²) + s + E_q[(b₂ − u) − lse(b₀ + u, b₁, b₂ − u)
/// + b₀ − lse(u, 0, b₀) + b₁ − lse(b₁, −u, b₂)]`, by quadrature,
/// differentiated in `(b, m, s)` with dual numbers.
#[test]
fn categorical_logits_observed_vector_and_matrix() {
    let at = [0.5, -0.3, 0.2, 0.4, -0.2]; // b₀..₂, m, s
    let (value, g) = value_and_gradient(at, |v: [Dual<5>; 5]| {
        let [b0, b1, b2, m, s] = v;
        let likelihood = gauss_dual_converged(m, s.exp(), |u| {
            let zero = Dual::constant(0.0);
            let vector = (b2 - u) - logsumexp_dual(&[b0 + u, b1, b2 - u]);
            let row0 = b0 - logsumexp_dual(&[u, zero, b0]);
            let row1 = b1 - logsumexp_dual(&[b1, -u, b2]);
            vector + row0 + row1
        });
        standard_normal_prior_plus_entropy(m, s) + likelihood
    });
    Case::new(
        "import objectives;
         gen model() {
             param b: real[3] = [0.5, -0.3, 0.2];
             u ~ normal(0.0, 1.0);
             k ~ categorical_logits(b + u * [1.0, 0.0, -1.0]);
             ks ~ categorical_logits([[u, 0.0, b[0]], [b[1], -u, b[2]]]);
         }
         gen guide() {
             param m = 0.4;
             param s = -0.2;
             u ~ normal(m, exp(s)) by reparam;
         }
         let obj = elbo(model, guide, { k: 2, ks: [2, 0] });",
    )
    .value(value)
    .grads(&[
        ("model.b[0]", g[0]),
        ("model.b[1]", g[1]),
        ("model.b[2]", g[2]),
        ("guide.m", g[3]),
        ("guide.s", g[4]),
    ])
    .seed(41)
    .run();
}

/// `k ~ categorical_logits(t)` over 3 values under `{S}`, continuation
/// `f(k) = k² + t₀k` (reads `t₀` directly). With `π = softmax(t)`,
/// `E = Σₖ πₖ f(k)` and, as `∂tⱼ πₖ = πₖ(δⱼₖ − πⱼ)`,
/// `∂tⱼ = πⱼ(f(j) − E) + δⱼ₀ Σₖ πₖ k`.
fn categorical_logits_vector(strategy: &str) -> Case {
    let t = [0.2, -0.4, 0.5];
    let pi = softmax(&t);
    let f = |k: usize| (k * k) as f64 + t[0] * k as f64;
    let e: f64 = (0..3).map(|k| pi[k] * f(k)).sum();
    let mean_k: f64 = (0..3).map(|k| pi[k] * k as f64).sum();
    let g = |j: usize| pi[j] * (f(j) - e) + if j == 0 { mean_k } else { 0.0 };
    Case::new(&with_strategy(
        "param t: real[3] = [0.2, -0.4, 0.5];
         let obj = E {
             k ~ categorical_logits(t) by {S};
             real(k) * real(k) + t[0] * real(k)
         };",
        strategy,
    ))
    .value(e)
    .grads(&[("t[0]", g(0)), ("t[1]", g(1)), ("t[2]", g(2))])
}

#[test]
fn enum_categorical_logits() {
    categorical_logits_vector("enum").seed(42).run();
}

#[test]
fn reinforce_categorical_logits() {
    categorical_logits_vector("reinforce").seed(43).run();
}

#[test]
fn mvd_categorical_logits() {
    categorical_logits_vector("mvd").seed(44).run();
}

/// `ks ~ categorical_logits(T)` for a 2 × 3 matrix of logits (one choice
/// per row, an `int[2]`) under `{S}`; continuation
/// `(k₀ − k₁)² + T₀₀·k₁` (reads `T₀₀` directly). With `π⁽ʳ⁾ =
/// softmax(Tᵣ)`, `E = Σ_{a,b} π⁽⁰⁾ₐ π⁽¹⁾_b ((a − b)² + T₀₀ b)`, enumerated
/// over the 9 joint values and differentiated in the 6 logits with dual
/// numbers.
fn categorical_logits_matrix(strategy: &str) -> Case {
    let at = [0.3, -0.2, 0.6, -0.5, 0.1, 0.4];
    let (value, g) = value_and_gradient(at, |t: [Dual<6>; 6]| {
        let softmax_dual = |row: &[Dual<6>]| -> Vec<Dual<6>> {
            let normalizer = logsumexp_dual(row);
            row.iter().map(|&l| (l - normalizer).exp()).collect()
        };
        let (p0, p1) = (softmax_dual(&t[0..3]), softmax_dual(&t[3..6]));
        let mut total = Dual::constant(0.0);
        for (a, &pa) in p0.iter().enumerate() {
            for (b, &pb) in p1.iter().enumerate() {
                let (a, b) = (a as f64, b as f64);
                total = total + pa * pb * (t[0] * b + (a - b) * (a - b));
            }
        }
        total
    });
    let names = ["t[0]", "t[1]", "t[2]", "t[3]", "t[4]", "t[5]"];
    let grads: Vec<(&str, f64)> = names.into_iter().zip(g).collect();
    Case::new(&with_strategy(
        "param t: real[2, 3] = [[0.3, -0.2, 0.6], [-0.5, 0.1, 0.4]];
         let obj = E {
             ks ~ categorical_logits(t) by {S};
             let d = real(ks[0] - ks[1]);
             d * d + t[0][0] * real(ks[1])
         };",
        strategy,
    ))
    .value(value)
    .grads(&grads)
}

#[test]
fn enum_categorical_logits_per_row() {
    categorical_logits_matrix("enum").seed(45).run();
}

#[test]
fn reinforce_categorical_logits_per_row() {
    categorical_logits_matrix("reinforce").seed(46).run();
}

#[test]
fn mvd_categorical_logits_per_row() {
    categorical_logits_matrix("mvd").seed(47).run();
}

// ======================================================================
// What the checker rejects
// ======================================================================

/// The codes and messages of the diagnostics `src` gets, loaded and
/// checked as `vprog check` does.
fn errors(src: &str) -> Vec<(String, String, Option<String>)> {
    let mut sources = SourceMap::new();
    let diagnostics = match vprog::load(&mut sources, "t.vprog", src) {
        Err(d) => d,
        Ok(program) => vprog::check_program(&program),
    };
    diagnostics
        .into_iter()
        .map(|d| (d.code.to_string(), d.message, d.help))
        .collect()
}

/// `by enum` on a tensor choice runs the expectation once per joint value;
/// more than 256 of them is rejected, naming the count and suggesting the
/// strategies that scale (E0301). 2⁸ = 256 is accepted.
#[test]
fn enum_over_too_many_joint_values_is_rejected() {
    let nine = "let obj = E {
                    c ~ bernoulli_logits([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]) by enum;
                    sum(c)
                };
                report e = estimate(obj, samples = 10);";
    let got = errors(nine);
    assert_eq!(got.len(), 1, "{got:?}");
    let (code, message, help) = &got[0];
    assert_eq!(code, "E0301");
    assert!(
        message.contains("2^9 joint values") && message.contains("at most 256"),
        "{message}"
    );
    assert!(
        help.as_deref()
            .is_some_and(|h| h.contains("reinforce") && h.contains("mvd")),
        "{help:?}"
    );
    let eight = nine.replace(", 0.9]", "]");
    assert_eq!(errors(&eight), vec![]);

    // 3⁶ = 729 joint values of six categorical rows.
    let rows = "param t: real[6, 3] = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                                       [0.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]];
                let obj = E { ks ~ categorical_logits(t) by enum; real(sum(ks)) };
                report e = estimate(obj, samples = 10);";
    let got = errors(rows);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, "E0301");
    assert!(got[0].1.contains("3^6 joint values"), "{}", got[0].1);
}

/// The Bernoulli families are discrete even though their values are
/// reals: `by reparam` on one is E0301; `by implicit` too.
#[test]
fn pathwise_strategies_on_tensor_discrete_choices_are_rejected() {
    for (dist, strategy) in [
        ("bernoulli_logits([0.1, 0.2])", "reparam"),
        ("bernoulli([0.1, 0.2])", "implicit"),
    ] {
        let src = format!(
            "let obj = E {{ c ~ {dist} by {strategy}; sum(c) }};
             report e = estimate(obj, samples = 10);"
        );
        let got = errors(&src);
        assert_eq!(got.len(), 1, "{src}: {got:?}");
        assert_eq!(got[0].0, "E0301", "{src}: {got:?}");
    }
    let got = errors(
        "let obj = E { k ~ categorical_logits([0.1, 0.2]) by reparam; real(k) };
         report e = estimate(obj, samples = 10);",
    );
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(
        got[0].0 == "E0301" && got[0].1.contains("discrete"),
        "{got:?}"
    );
}

/// Array parameters of one elementwise choice must have one shape (E0414,
/// naming both shapes).
#[test]
fn parameters_of_different_shapes_are_rejected() {
    let got = errors(
        "let obj = E { x ~ normal([0.0, 1.0, 2.0], [1.0, 1.0]); sum(x) };
         report e = estimate(obj, samples = 10);",
    );
    assert!(!got.is_empty(), "{got:?}");
    let (code, message, _) = &got[0];
    assert_eq!(code, "E0414");
    assert!(
        message.contains("real[3]") && message.contains("real[2]"),
        "{message}"
    );
}

// ======================================================================
// Log densities at points, through `report`
// ======================================================================

/// The log densities of the tensor families at chosen points, against
/// closed forms: sums of the elements' log densities; `−∞` off the
/// support (a `bernoulli` value other than 0 or 1, a class out of range);
/// exact `0` and `−800` at logits of ±800 (the stable `−softplus` form;
/// `log σ(−800)` computed naively would be `−∞`); a probability of exactly
/// 0 or 1 on the side not taken forms no `−∞`.
#[test]
fn log_densities_at_points() {
    let got = reports(
        "gen n() { x ~ normal([0.0, 1.0], [1.0, 2.0]); }
         gen nb() { x ~ normal(0.5, [1.0, 2.0, 0.5]); }
         gen bl() { y ~ bernoulli_logits([800.0, -800.0, 0.0]); }
         gen bp() { y ~ bernoulli([1.0, 0.0, 0.25]); }
         gen cv() { k ~ categorical_logits([1.0, 2.0, 3.0]); }
         gen cm() { ks ~ categorical_logits([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]]); }
         report normal_array = density(n, { x: [0.5, -1.0] });
         report normal_broadcast = density(nb, { x: [0.5, 1.5, -0.5] });
         report logits_taken = density(bl, { y: [1.0, 0.0, 1.0] });
         report logits_against = density(bl, { y: [0.0, 1.0, 0.0] });
         report logits_off_support = density(bl, { y: [1.0, 0.0, 0.5] });
         report probs_edges = density(bp, { y: [1.0, 0.0, 1.0] });
         report probs_impossible = density(bp, { y: [0.0, 0.0, 1.0] });
         report class = density(cv, { k: 1 });
         report class_out_of_range = density(cv, { k: 3 });
         report rows = density(cm, { ks: [2, 1] });",
    );
    let normal = |x: f64, m: f64, s: f64| -0.5 * ((x - m) / s).powi(2) - s.ln() - 0.5 * LN_2PI;
    let lse123 = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
    let expected: &[(&str, f64)] = &[
        (
            "normal_array",
            normal(0.5, 0.0, 1.0) + normal(-1.0, 1.0, 2.0),
        ),
        (
            "normal_broadcast",
            normal(0.5, 0.5, 1.0) + normal(1.5, 0.5, 2.0) + normal(-0.5, 0.5, 0.5),
        ),
        ("logits_taken", 0.5f64.ln()),
        ("logits_against", -1600.0 + 0.5f64.ln()),
        ("logits_off_support", f64::NEG_INFINITY),
        ("probs_edges", 0.25f64.ln()),
        ("probs_impossible", f64::NEG_INFINITY),
        ("class", 2.0 - lse123),
        ("class_out_of_range", f64::NEG_INFINITY),
        ("rows", (3.0 - lse123) - 3f64.ln()),
    ];
    assert_eq!(got.len(), expected.len(), "{got:?}");
    for ((name, values), (want_name, want)) in got.iter().zip(expected) {
        assert_eq!(name, want_name);
        assert_eq!(values.len(), 1, "{name}: {values:?}");
        let v = values[0];
        assert!(
            v == *want || (v - want).abs() <= 1e-12 * want.abs().max(1.0),
            "{name}: {v}, expected {want}"
        );
    }
}
