//! The statistical unbiasedness suite: for every gradient strategy on every
//! distribution it applies to (spec/strategies.md), and for the structural
//! combinations ADEV must get right (strategies feeding one another,
//! loops, branches on random choices, nested expectations, marginals), the
//! mean of seeded gradient estimates is compared with the exact gradient.
//!
//! **Exact values.** Each test's objective is small enough that its value
//! and gradient are derived by hand (closed forms, stated in a comment
//! beside the test) or computed in the test by exhaustive enumeration or,
//! for a few Gaussian integrals (1-D to 3-D) with no closed form, by a
//! trapezoidal quadrature of stated accuracy (`common::normal_expect`,
//! `common::standard_normal_rule`, checked against a coarser step).
//! Derivatives of enumerations and quadratures are taken exactly with
//! forward-mode dual numbers (`common::Dual`). No exact value comes from
//! vprog.
//!
//! **Coverage.** Every pair of spec/strategies.md has a `strategy_dist`
//! test: reparam × {normal, lognormal, uniform, exponential, laplace,
//! cauchy, student_t, mv_normal_diag, mv_normal}; implicit × {gamma, beta,
//! dirichlet} (also at small and large shapes); reinforce × all 17;
//! enum × {flip, categorical, binomial}; mvd × {flip, categorical,
//! geometric, poisson, binomial}. The structural tests follow them.
//!
//! **Tolerance.** Each check averages N ≥ 10⁴ particle estimates made with
//! run keys `RunKey::new(seed, 0, i)`, i < N, and requires
//! `|mean − exact| ≤ 4·SE` for the value and for every gradient component,
//! where `SE = sample sd / √N`. For a correct (unbiased) estimator the mean
//! is approximately normal, so a given comparison fails with probability
//! about 6e-5; the seeds are fixed, so every outcome is deterministic and a
//! passing suite stays passing. A check also fails when its SE exceeds a
//! bound (by default `0.05·(1 + |exact|)`), so that a noisy estimator cannot
//! pass vacuously, and when any estimate is not finite.
//!
//! Tests that fail because the estimator is wrong (not the exact value) are
//! kept and marked `#[ignore = "..."]` with the observed mean ± SE.
//!
//! Run with `cargo test --release --test unbiasedness`.

mod common;

use common::{
    Case, Dual, assert_converged, check, logsumexp_dual, normal_expect, normal_logpdf,
    normal_logpdf_dual, sigmoid, softmax, standard_normal_rule, sum_dual, value_and_gradient,
};

// ======================================================================
// Strategy × distribution. One program per distribution, whose
// continuation is nonlinear in the sampled value (and, where noted, reads
// the parameters directly, so that the `l'` term of `reinforce` is
// exercised); `{S}` is replaced by the strategy.
// ======================================================================

/// The program of a distribution case with `{S}` replaced by `strategy`.
fn with_strategy(template: &str, strategy: &str) -> String {
    template.replace("{S}", strategy)
}

/// x ~ normal(μ, σ), continuation x² + μx (reads μ directly).
/// E = μ² + σ² + μ² = 2μ² + σ²; ∂μ = 4μ, ∂σ = 2σ.
fn normal(strategy: &str) -> Case {
    let (mu, sigma) = (0.4, 1.3);
    Case::new(&with_strategy(
        "param mu = 0.4;
         param sigma = 1.3;
         let obj = E { x ~ normal(mu, sigma) by {S}; x * x + mu * x };",
        strategy,
    ))
    .value(2.0 * mu * mu + sigma * sigma)
    .grads(&[("mu", 4.0 * mu), ("sigma", 2.0 * sigma)])
}

/// x ~ lognormal(m, s), continuation x². E = exp(2m + 2s²);
/// ∂m = 2E, ∂s = 4s·E.
fn lognormal(strategy: &str) -> Case {
    let (m, s) = (0.1_f64, 0.4_f64);
    let e = (2.0 * m + 2.0 * s * s).exp();
    Case::new(&with_strategy(
        "param m = 0.1;
         param s = 0.4;
         let obj = E { x ~ lognormal(m, s) by {S}; x * x };",
        strategy,
    ))
    .value(e)
    .grads(&[("m", 2.0 * e), ("s", 4.0 * s * e)])
}

/// x ~ uniform(a, b), continuation x². E = (a² + ab + b²)/3;
/// ∂a = (2a + b)/3, ∂b = (a + 2b)/3.
fn uniform(strategy: &str) -> Case {
    let (a, b) = (-0.5, 1.5);
    Case::new(&with_strategy(
        "param a = -0.5;
         param b = 1.5;
         let obj = E { x ~ uniform(a, b) by {S}; x * x };",
        strategy,
    ))
    .value((a * a + a * b + b * b) / 3.0)
    .grads(&[("a", (2.0 * a + b) / 3.0), ("b", (a + 2.0 * b) / 3.0)])
}

/// x ~ uniform(−½, 3/2) with fixed bounds, continuation θx + x²: the
/// parameter enters the continuation only (`reinforce` on `uniform` with
/// learned bounds is rejected; see
/// `reinforce_on_uniform_with_learned_bounds_is_rejected`).
/// E = θ·½ + 7/12; ∂θ = ½.
fn uniform_fixed_bounds(strategy: &str) -> Case {
    let theta = 0.7;
    Case::new(&with_strategy(
        "param theta = 0.7;
         let obj = E { x ~ uniform(-0.5, 1.5) by {S}; theta * x + x * x };",
        strategy,
    ))
    .value(theta * 0.5 + 7.0 / 12.0)
    .grads(&[("theta", 0.5)])
}

/// x ~ exponential(λ), continuation x². E = 2/λ²; ∂λ = −4/λ³.
fn exponential(strategy: &str) -> Case {
    let rate: f64 = 1.5;
    Case::new(&with_strategy(
        "param rate = 1.5;
         let obj = E { x ~ exponential(rate) by {S}; x * x };",
        strategy,
    ))
    .value(2.0 / rate.powi(2))
    .grads(&[("rate", -4.0 / rate.powi(3))])
}

/// x ~ laplace(loc, b), continuation x² (variance 2b²).
/// E = loc² + 2b²; ∂loc = 2·loc, ∂b = 4b.
fn laplace(strategy: &str) -> Case {
    let (loc, b) = (0.3, 0.8);
    Case::new(&with_strategy(
        "param loc = 0.3;
         param b = 0.8;
         let obj = E { x ~ laplace(loc, b) by {S}; x * x };",
        strategy,
    ))
    .value(loc * loc + 2.0 * b * b)
    .grads(&[("loc", 2.0 * loc), ("b", 4.0 * b)])
}

/// x ~ cauchy(m, s) has no moments; the continuation is the bounded
/// 1/(1 + x²) = π·C(x; 0, 1), so E = π ∫ C(x; 0, 1) C(x; m, s) dx
/// = π·C(0; −m, 1 + s) (Cauchy laws convolve by adding locations and
/// scales) = u / (u² + m²) with u = 1 + s.
/// ∂m = −2mu/(u² + m²)², ∂s = (m² − u²)/(u² + m²)².
fn cauchy(strategy: &str) -> Case {
    let (m, s) = (0.5_f64, 0.8_f64);
    let u = 1.0 + s;
    let d = u * u + m * m;
    Case::new(&with_strategy(
        "param m = 0.5;
         param s = 0.8;
         let obj = E { x ~ cauchy(m, s) by {S}; 1.0 / (1.0 + x * x) };",
        strategy,
    ))
    .value(u / d)
    .grads(&[
        ("m", -2.0 * m * u / (d * d)),
        ("s", (m * m - u * u) / (d * d)),
    ])
}

/// x ~ student_t(ν, loc, scale), continuation x². E = loc² + scale²·ν/(ν−2);
/// ∂ν = −2·scale²/(ν−2)², ∂loc = 2·loc, ∂scale = 2·scale·ν/(ν−2).
/// (ν = 7 keeps the fourth moment, hence the estimates' variance, finite.)
fn student_t(strategy: &str) -> Case {
    let (nu, loc, scale) = (7.0_f64, 0.3_f64, 1.2_f64);
    Case::new(&with_strategy(
        "param nu = 7.0;
         param loc = 0.3;
         param scale = 1.2;
         let obj = E { x ~ student_t(nu, loc, scale) by {S}; x * x };",
        strategy,
    ))
    .value(loc * loc + scale * scale * nu / (nu - 2.0))
    .grads(&[
        ("nu", -2.0 * scale * scale / (nu - 2.0).powi(2)),
        ("loc", 2.0 * loc),
        ("scale", 2.0 * scale * nu / (nu - 2.0)),
    ])
}

/// x ~ mv_normal_diag(m, s) in 2-D, continuation x₀x₁ + x₀².
/// E = m₀m₁ + m₀² + s₀²; ∂m₀ = m₁ + 2m₀, ∂m₁ = m₀, ∂s₀ = 2s₀, ∂s₁ = 0.
fn mv_normal_diag(strategy: &str) -> Case {
    let (m0, m1, s0) = (0.5, -0.3, 0.8);
    Case::new(&with_strategy(
        "param m: real[2] = [0.5, -0.3];
         param s: real[2] = [0.8, 1.2];
         let obj = E {
             x ~ mv_normal_diag(m, s) by {S};
             x[0] * x[1] + x[0] * x[0]
         };",
        strategy,
    ))
    .value(m0 * m1 + m0 * m0 + s0 * s0)
    .grads(&[
        ("m[0]", m1 + 2.0 * m0),
        ("m[1]", m0),
        ("s[0]", 2.0 * s0),
        ("s[1]", 0.0),
    ])
}

/// x ~ mv_normal(m, L) in 2-D with L = [[l₀, 0], [l₁, l₂]], so that
/// Σ₀₁ = l₀l₁ and Σ₁₁ = l₁² + l₂²; continuation x₀x₁ + x₁².
/// E = m₀m₁ + l₀l₁ + m₁² + l₁² + l₂²;
/// ∂m₀ = m₁, ∂m₁ = m₀ + 2m₁, ∂l₀ = l₁, ∂l₁ = l₀ + 2l₁, ∂l₂ = 2l₂.
fn mv_normal(strategy: &str) -> Case {
    let (m0, m1) = (0.5, -0.3);
    let (l0, l1, l2) = (1.0, 0.4, 0.8);
    Case::new(&with_strategy(
        "param m: real[2] = [0.5, -0.3];
         param l: real[3] = [1.0, 0.4, 0.8];
         let obj = E {
             let scale_tril = [[l[0], 0.0], [l[1], l[2]]];
             x ~ mv_normal(m, scale_tril) by {S};
             x[0] * x[1] + x[1] * x[1]
         };",
        strategy,
    ))
    .value(m0 * m1 + l0 * l1 + m1 * m1 + l1 * l1 + l2 * l2)
    .grads(&[
        ("m[0]", m1),
        ("m[1]", m0 + 2.0 * m1),
        ("l[0]", l1),
        ("l[1]", l0 + 2.0 * l1),
        ("l[2]", 2.0 * l2),
    ])
}

/// x ~ gamma(α, β) (rate β), continuation x². E = α(α + 1)/β²;
/// ∂α = (2α + 1)/β², ∂β = −2α(α + 1)/β³.
fn gamma_with_shape(strategy: &str, shape: f64) -> Case {
    let (a, b) = (shape, 1.5_f64);
    Case::new(&with_strategy(
        &format!(
            "param a = {shape:?};
             param b = 1.5;
             let obj = E {{ x ~ gamma(a, b) by {{S}}; x * x }};"
        ),
        strategy,
    ))
    .value(a * (a + 1.0) / (b * b))
    .grads(&[
        ("a", (2.0 * a + 1.0) / (b * b)),
        ("b", -2.0 * a * (a + 1.0) / b.powi(3)),
    ])
}

fn gamma(strategy: &str) -> Case {
    gamma_with_shape(strategy, 2.5)
}

/// Shape below 1, where the density is unbounded at 0 and samplers switch
/// algorithms.
fn gamma_small_shape(strategy: &str) -> Case {
    gamma_with_shape(strategy, 0.6)
}

/// A tiny shape: most of the mass is within 1e-3 of 0.
fn gamma_tiny_shape(strategy: &str) -> Case {
    gamma_with_shape(strategy, 0.15)
}

/// A large shape (nearly normal).
fn gamma_large_shape(strategy: &str) -> Case {
    gamma_with_shape(strategy, 40.0)
}

/// x ~ beta(a, b), continuation x². With s = a + b,
/// E = a(a + 1)/(s(s + 1)); ∂a = E·(1/a + 1/(a+1) − 1/s − 1/(s+1)),
/// ∂b = E·(−1/s − 1/(s+1)).
fn beta_with_shapes(strategy: &str, a: f64, b: f64) -> Case {
    let s = a + b;
    let e = a * (a + 1.0) / (s * (s + 1.0));
    Case::new(&with_strategy(
        &format!(
            "param a = {a:?};
             param b = {b:?};
             let obj = E {{ x ~ beta(a, b) by {{S}}; x * x }};"
        ),
        strategy,
    ))
    .value(e)
    .grads(&[
        (
            "a",
            e * (1.0 / a + 1.0 / (a + 1.0) - 1.0 / s - 1.0 / (s + 1.0)),
        ),
        ("b", e * (-1.0 / s - 1.0 / (s + 1.0))),
    ])
}

fn beta(strategy: &str) -> Case {
    beta_with_shapes(strategy, 1.5, 2.5)
}

/// Shapes below 1 (density unbounded at both ends).
fn beta_small_shapes(strategy: &str) -> Case {
    beta_with_shapes(strategy, 0.4, 0.6)
}

/// Large shapes (a concentrated law, where the incomplete beta function's
/// derivative needs care).
fn beta_large_shapes(strategy: &str) -> Case {
    beta_with_shapes(strategy, 30.0, 50.0).max_se(5e-4)
}

/// x ~ dirichlet(α) in 3-D, continuation x₀² + 3x₀x₁. With S = Σα,
/// E[xᵢxⱼ] = αᵢ(αⱼ + δᵢⱼ)/(S(S + 1)), so E = N/D with
/// N = α₀(α₀ + 1) + 3α₀α₁ and D = S(S + 1);
/// ∂αᵢ E = (∂αᵢ N − E·(2S + 1))/D, ∂α₀N = 2α₀ + 1 + 3α₁, ∂α₁N = 3α₀,
/// ∂α₂N = 0.
fn dirichlet_with(strategy: &str, al: [f64; 3]) -> Case {
    let s: f64 = al.iter().sum();
    let n = al[0] * (al[0] + 1.0) + 3.0 * al[0] * al[1];
    let d = s * (s + 1.0);
    let e = n / d;
    let dn = [2.0 * al[0] + 1.0 + 3.0 * al[1], 3.0 * al[0], 0.0];
    let g = |i: usize| (dn[i] - e * (2.0 * s + 1.0)) / d;
    Case::new(&with_strategy(
        &format!(
            "param alpha: real[3] = [{:?}, {:?}, {:?}];
             let obj = E {{
                 x ~ dirichlet(alpha) by {{S}};
                 x[0] * x[0] + 3.0 * x[0] * x[1]
             }};",
            al[0], al[1], al[2]
        ),
        strategy,
    ))
    .value(e)
    .grads(&[("alpha[0]", g(0)), ("alpha[1]", g(1)), ("alpha[2]", g(2))])
}

fn dirichlet(strategy: &str) -> Case {
    dirichlet_with(strategy, [1.2, 0.7, 2.0])
}

/// Concentrations below 1.
fn dirichlet_small(strategy: &str) -> Case {
    dirichlet_with(strategy, [0.3, 0.5, 0.2])
}

/// b ~ flip(p), continuation p² + 1 if b else 3p (reads p directly).
/// E = p(p² + 1) + (1 − p)·3p = p³ − 3p² + 4p; ∂p = 3p² − 6p + 4.
fn flip(strategy: &str) -> Case {
    let p: f64 = 0.3;
    Case::new(&with_strategy(
        "param p = 0.3;
         let obj = E { b ~ flip(p) by {S}; if b { p * p + 1.0 } else { 3.0 * p } };",
        strategy,
    ))
    .value(p.powi(3) - 3.0 * p * p + 4.0 * p)
    .grads(&[("p", 3.0 * p * p - 6.0 * p + 4.0)])
}

/// k ~ categorical(π = softmax(t)) over 3 values, continuation
/// f(k) = k² + t₀·k (reads t₀ directly).
/// E = Σₖ πₖ f(k); ∂tⱼ = πⱼ(f(j) − E) + δⱼ₀ Σₖ πₖ k.
fn categorical(strategy: &str) -> Case {
    let t = [0.2, -0.4, 0.5];
    let pi = softmax(&t);
    let f = |k: usize| (k * k) as f64 + t[0] * k as f64;
    let e: f64 = (0..3).map(|k| pi[k] * f(k)).sum();
    let mean_k: f64 = (0..3).map(|k| pi[k] * k as f64).sum();
    let g = |j: usize| pi[j] * (f(j) - e) + if j == 0 { mean_k } else { 0.0 };
    Case::new(&with_strategy(
        "param t: real[3] = [0.2, -0.4, 0.5];
         let obj = E {
             k ~ categorical(softmax(t)) by {S};
             real(k) * real(k) + t[0] * real(k)
         };",
        strategy,
    ))
    .value(e)
    .grads(&[("t[0]", g(0)), ("t[1]", g(1)), ("t[2]", g(2))])
}

/// k ~ geometric(p) (failures before the first success), continuation k².
/// E = (1 − p)(2 − p)/p² = 2/p² − 3/p + 1; ∂p = −4/p³ + 3/p².
fn geometric(strategy: &str) -> Case {
    let p: f64 = 0.6;
    Case::new(&with_strategy(
        "param p = 0.6;
         let obj = E { k ~ geometric(p) by {S}; real(k) * real(k) };",
        strategy,
    ))
    .value(2.0 / (p * p) - 3.0 / p + 1.0)
    .grads(&[("p", -4.0 / p.powi(3) + 3.0 / (p * p))])
}

/// k ~ poisson(λ), continuation k³. E = λ³ + 3λ² + λ; ∂λ = 3λ² + 6λ + 1.
fn poisson(strategy: &str) -> Case {
    let l: f64 = 1.7;
    Case::new(&with_strategy(
        "param rate = 1.7;
         let obj = E { k ~ poisson(rate) by {S}; real(k) * real(k) * real(k) };",
        strategy,
    ))
    .value(l.powi(3) + 3.0 * l * l + l)
    .grads(&[("rate", 3.0 * l * l + 6.0 * l + 1.0)])
    .max_se(0.6)
}

/// k ~ binomial(4, p), continuation k². E = np(1 − p) + n²p²;
/// ∂p = n(1 − 2p) + 2n²p.
fn binomial(strategy: &str) -> Case {
    let (n, p) = (4.0, 0.35);
    Case::new(&with_strategy(
        "param p = 0.35;
         let obj = E { k ~ binomial(4, p) by {S}; real(k) * real(k) };",
        strategy,
    ))
    .value(n * p * (1.0 - p) + n * n * p * p)
    .grads(&[("p", n * (1.0 - 2.0 * p) + 2.0 * n * n * p)])
}

/// One test per (strategy, distribution) pair: `name: case by "strategy",
/// seed N;`.
/// (REINFORCE estimates of heavy-tailed continuations are noisier than
/// the pathwise ones; those cases average `, samples N` particles.)
macro_rules! strategy_tests {
    ($($(#[$attr:meta])* $test:ident: $case:ident by $strategy:literal, seed $seed:literal $(, samples $n:literal)?;)*) => {
        $(
            #[test]
            $(#[$attr])*
            fn $test() {
                #[allow(unused_mut)]
                let mut case = $case($strategy).seed($seed);
                $(case = case.samples($n);)?
                case.run();
            }
        )*
    };
}

strategy_tests! {
    reparam_normal: normal by "reparam", seed 101;
    reparam_lognormal: lognormal by "reparam", seed 102;
    reparam_uniform: uniform by "reparam", seed 103;
    reparam_exponential: exponential by "reparam", seed 104;
    reparam_laplace: laplace by "reparam", seed 105;
    reparam_cauchy: cauchy by "reparam", seed 106;
    reparam_student_t: student_t by "reparam", seed 107;
    reparam_mv_normal_diag: mv_normal_diag by "reparam", seed 108;
    reparam_mv_normal: mv_normal by "reparam", seed 109;

    implicit_gamma: gamma by "implicit", seed 201;
    implicit_gamma_small_shape: gamma_small_shape by "implicit", seed 202;
    implicit_gamma_tiny_shape: gamma_tiny_shape by "implicit", seed 205;
    implicit_gamma_large_shape: gamma_large_shape by "implicit", seed 206;
    implicit_beta: beta by "implicit", seed 203;
    implicit_beta_small_shapes: beta_small_shapes by "implicit", seed 207;
    implicit_beta_large_shapes: beta_large_shapes by "implicit", seed 208;
    implicit_dirichlet: dirichlet by "implicit", seed 204;
    implicit_dirichlet_small: dirichlet_small by "implicit", seed 209;

    reinforce_normal: normal by "reinforce", seed 301;
    reinforce_lognormal: lognormal by "reinforce", seed 302, samples 100_000;
    reinforce_uniform_fixed_bounds: uniform_fixed_bounds by "reinforce", seed 303;
    reinforce_exponential: exponential by "reinforce", seed 304;
    reinforce_gamma: gamma by "reinforce", seed 305;
    reinforce_gamma_small_shape: gamma_small_shape by "reinforce", seed 306;
    reinforce_beta: beta by "reinforce", seed 307;
    reinforce_laplace: laplace by "reinforce", seed 308, samples 100_000;
    reinforce_cauchy: cauchy by "reinforce", seed 309;
    reinforce_student_t: student_t by "reinforce", seed 310;
    reinforce_flip: flip by "reinforce", seed 311;
    reinforce_categorical: categorical by "reinforce", seed 312;
    reinforce_geometric: geometric by "reinforce", seed 313, samples 100_000;
    reinforce_poisson: poisson by "reinforce", seed 314, samples 100_000;
    reinforce_binomial: binomial by "reinforce", seed 315;
    reinforce_mv_normal_diag: mv_normal_diag by "reinforce", seed 316;
    reinforce_mv_normal: mv_normal by "reinforce", seed 317;
    reinforce_dirichlet: dirichlet by "reinforce", seed 318;

    enum_flip: flip by "enum", seed 401;
    enum_categorical: categorical by "enum", seed 402;
    enum_binomial: binomial by "enum", seed 403;

    mvd_flip: flip by "mvd", seed 501;
    mvd_categorical: categorical by "mvd", seed 502;
    mvd_geometric: geometric by "mvd", seed 503;
    mvd_poisson: poisson by "mvd", seed 504;
    mvd_binomial: binomial by "mvd", seed 505;
}

// ======================================================================
// Structure: strategies feeding one another, loops, branches, nesting.
// ======================================================================

/// A `reinforce` site whose value is the parameter of an `enum` site.
/// x ~ normal(θ, 1) by reinforce; b ~ flip(p(x)) by enum with
/// p(x) = exp(−x²/2); continuation h(x) = p(x)(x + 2) − (1 − p(x))x².
/// E = E[h(x)] and, differentiating the normal density in its mean,
/// ∂θ E = E[h(x)(x − θ)]; both are 1-D Gaussian integrals computed by
/// `normal_expect` (error < 1e-12).
#[test]
fn reinforce_feeds_enum() {
    let theta = 0.3;
    let h = |x: f64| {
        let p = (-0.5 * x * x).exp();
        p * (x + 2.0) - (1.0 - p) * x * x
    };
    Case::new(
        "param theta = 0.3;
         let obj = E {
             x ~ normal(theta, 1.0) by reinforce;
             b ~ flip(exp(-0.5 * x * x)) by enum;
             if b { x + 2.0 } else { -x * x }
         };",
    )
    .value(normal_expect(theta, 1.0, h))
    .grad("theta", normal_expect(theta, 1.0, |x| h(x) * (x - theta)))
    .seed(1001)
    .run();
}

/// An `enum` site feeding an `mvd` site, and an `mvd` site feeding an
/// `enum` site (the branch runs of the mvd site re-enumerate the enum
/// sites after it).
/// b ~ flip(p) by enum; k ~ poisson(r_b) by mvd with r = (r₁, r₀);
/// c ~ flip(1/(1 + k)) by enum; continuation
/// f = k + 2 if c else k² − 1 (b only acts through r).
/// E = Σ_b P(b) Σ_k Pois(k; r_b)·[q_k (k + 2) + (1 − q_k)(k² − 1)], q_k =
/// 1/(1 + k); the Poisson sums are truncated at k = 80 (tail < 1e-60) and
/// differentiated exactly with dual numbers.
#[test]
fn enum_and_mvd_interleaved() {
    let (value, g) = value_and_gradient([0.35, 2.1, 0.8], |[p, r1, r0]: [Dual<3>; 3]| {
        let inner = |r: Dual<3>| {
            let mut total = Dual::constant(0.0);
            let mut pmf = (-r).exp(); // Pois(0; r)
            for k in 0..80 {
                let kf = k as f64;
                let q = 1.0 / (1.0 + kf);
                total = total + pmf * (q * (kf + 2.0) + (1.0 - q) * (kf * kf - 1.0));
                pmf = pmf * r / (kf + 1.0);
            }
            total
        };
        p * inner(r1) + (1.0 - p) * inner(r0)
    });
    Case::new(
        "param p = 0.35;
         param r1 = 2.1;
         param r0 = 0.8;
         let obj = E {
             b ~ flip(p) by enum;
             k ~ poisson(if b { r1 } else { r0 }) by mvd;
             c ~ flip(1.0 / (1.0 + real(k))) by enum;
             if c { real(k) + 2.0 } else { real(k) * real(k) - 1.0 }
         };",
    )
    .value(value)
    .grads(&[("p", g[0]), ("r1", g[1]), ("r0", g[2])])
    .seed(1002)
    .run();
}

/// `mvd` sites inside a `for` loop, with a continuation that couples the
/// iterations: bᵢ ~ flip(θwᵢ) by mvd, wᵢ = (i + 1)/3, i < 3; K = Σ bᵢ;
/// continuation K².
/// E = Σ pᵢ(1 − pᵢ) + (Σ pᵢ)²; ∂θ = Σ wᵢ(1 − 2pᵢ) + 2(Σ pᵢ)(Σ wᵢ).
#[test]
fn mvd_in_for_loop() {
    let theta = 0.4;
    let w: Vec<f64> = (0..3).map(|i| (i + 1) as f64 / 3.0).collect();
    let p: Vec<f64> = w.iter().map(|w| theta * w).collect();
    let sp: f64 = p.iter().sum();
    let sw: f64 = w.iter().sum();
    Case::new(
        "param theta = 0.4;
         let obj = E {
             let mut count = 0.0;
             for i in 0..3 {
                 let b = c[i] ~ flip(theta * (real(i) + 1.0) / 3.0) by mvd;
                 count = count + if b { 1.0 } else { 0.0 };
             }
             count * count
         };",
    )
    .value(p.iter().map(|p| p * (1.0 - p)).sum::<f64>() + sp * sp)
    .grad(
        "theta",
        w.iter()
            .zip(&p)
            .map(|(w, p)| w * (1.0 - 2.0 * p))
            .sum::<f64>()
            + 2.0 * sp * sw,
    )
    .seed(1003)
    .run();
}

/// `mvd` sites of several distributions in one loop, their addresses
/// indexed by expressions of the loop variable (allowed inside `E`
/// bodies). For i = 0, 1: kᵢ ~ poisson(λ) by mvd and
/// jᵢ ~ categorical(softmax(t)) by mvd (t ∈ ℝ²); continuation
/// (Σ kᵢ)·(1 + Σ jᵢ).
/// With the two iterations independent, S = Σ kᵢ ~ Pois(2λ) and
/// J = Σ jᵢ ~ Bin(2, π₁), π₁ = σ(t₁ − t₀), independent:
/// E = 2λ(1 + 2π₁); ∂λ = 2(1 + 2π₁); ∂t₁ = −∂t₀ = 4λπ₁(1 − π₁).
#[test]
fn mvd_in_loop_with_index_expressions() {
    let (rate, t) = (0.9, [0.3, -0.2]);
    let pi1 = sigmoid(t[1] - t[0]);
    let d = 4.0 * rate * pi1 * (1.0 - pi1);
    Case::new(
        "param rate = 0.9;
         param t: real[2] = [0.3, -0.2];
         let obj = E {
             let mut s = 0.0;
             let mut j = 0.0;
             for i in 0..2 {
                 let k = counts[2 * i + 1] ~ poisson(rate) by mvd;
                 let c = labels[i + 10] ~ categorical(softmax(t)) by mvd;
                 s = s + real(k);
                 j = j + real(c);
             }
             s * (1.0 + j)
         };",
    )
    .value(2.0 * rate * (1.0 + 2.0 * pi1))
    .grads(&[("rate", 2.0 * (1.0 + 2.0 * pi1)), ("t[0]", -d), ("t[1]", d)])
    .seed(1004)
    .run();
}

/// A loop that does not start at 0 (allowed inside `E` bodies), with a
/// site of strategy `{S}` in it: bᵢ ~ flip(p) for i = 1, 2; continuation
/// K² with K = Σ bᵢ ~ Bin(2, p). E = 2p(1 − p) + 4p²; ∂p = 2 + 4p.
fn loop_from_one(strategy: &str) -> Case {
    let p = 0.3;
    Case::new(&with_strategy(
        "param p = 0.3;
         let obj = E {
             let mut count = 0.0;
             for i in 1..3 {
                 let b = bs[i] ~ flip(p) by {S};
                 count = count + if b { 1.0 } else { 0.0 };
             }
             count * count
         };",
        strategy,
    ))
    .value(2.0 * p * (1.0 - p) + 4.0 * p * p)
    .grad("p", 2.0 + 4.0 * p)
}

/// The same with a `reparam` site whose scale is learned, so the backward
/// sweep must see the forward draws: xᵢ ~ normal(θ, s), i = 1, 2;
/// continuation Σ xᵢ². E = 2(θ² + s²); ∂θ = 4θ, ∂s = 4s.
#[test]
fn reparam_in_loop_from_one() {
    let (theta, s) = (0.5, 0.8);
    Case::new(
        "param theta = 0.5;
         param s = 0.8;
         let obj = E {
             let mut total = 0.0;
             for i in 1..3 {
                 let x = xs[i] ~ normal(theta, s) by reparam;
                 total = total + x * x;
             }
             total
         };",
    )
    .value(2.0 * (theta * theta + s * s))
    .grads(&[("theta", 4.0 * theta), ("s", 4.0 * s)])
    .seed(1008)
    .run();
}

// A regression guard: the backward sweep of a loop `lo..hi` once
// recomputed iteration `i = lo + hi − 1 − j` instead of `hi − 1 − j`
// (compiler/src/transform/vjp.rs, `backward_loop`), so for `lo ≠ 0` the
// recomputed iterations saw shifted loop indices: `enum` sites were
// enumerated again at the shifted keys (value 1.56 instead of 0.78),
// half the `mvd` cotangents were lost (∂p 1.61 ± 0.01 instead of 3.2), and
// `reinforce` indexed its tape out of range. (The `reparam` case above
// passed even then: its recomputation does not depend on the index.)
strategy_tests! {
    enum_in_loop_from_one: loop_from_one by "enum", seed 1005;
    mvd_in_loop_from_one: loop_from_one by "mvd", seed 1006;
    reinforce_in_loop_from_one: loop_from_one by "reinforce", seed 1007;
}

/// `enum` nested three deep, each site's distribution depending on the
/// previous value: a ~ flip(q); k ~ categorical(softmax(t) if a else
/// (½, ¼, ¼)); y ~ binomial(k + 1, p); continuation (y − 1)² + k·p.
/// The exact value is the enumeration over (a, k, y) and its gradient the
/// dual-number derivative of that enumeration. Every estimate is exact, so
/// the comparison is to rounding.
#[test]
fn enum_nested_three_deep() {
    let (value, g) = value_and_gradient(
        [0.6, 0.3, -0.2, 0.1, 0.45],
        |[q, t0, t1, t2, p]: [Dual<5>; 5]| {
            let e = [t0.exp(), t1.exp(), t2.exp()];
            let z = e[0] + e[1] + e[2];
            let soft = [e[0] / z, e[1] / z, e[2] / z];
            let fixed = [0.5, 0.25, 0.25].map(Dual::constant);
            let given_k = |k: usize| {
                let n = k as u64 + 1;
                let mut total = Dual::constant(0.0);
                for y in 0..=n {
                    let pmf = binomial_dual(n, p, y);
                    let f = (y as f64 - 1.0).powi(2) + k as f64 * p;
                    total = total + pmf * f;
                }
                total
            };
            let over_k = |probs: [Dual<5>; 3]| sum_k(&probs, given_k);
            q * over_k(soft) + (1.0 - q) * over_k(fixed)
        },
    );
    Case::new(
        "param q = 0.6;
         param t: real[3] = [0.3, -0.2, 0.1];
         param p = 0.45;
         let obj = E {
             a ~ flip(q) by enum;
             k ~ categorical(if a { softmax(t) } else { [0.5, 0.25, 0.25] }) by enum;
             y ~ binomial(k + 1, p) by enum;
             (real(y) - 1.0) * (real(y) - 1.0) + real(k) * p
         };",
    )
    .value(value)
    .grads(&[
        ("q", g[0]),
        ("t[0]", g[1]),
        ("t[1]", g[2]),
        ("t[2]", g[3]),
        ("p", g[4]),
    ])
    .seed(1005)
    .run();
}

/// `Σₖ probs[k]·f(k)` over three values.
fn sum_k<const N: usize>(probs: &[Dual<N>; 3], f: impl Fn(usize) -> Dual<N>) -> Dual<N> {
    sum_dual((0..3).map(|k| probs[k] * f(k)))
}

/// The binomial probability `P(Y = y)`, `Y ~ binomial(n, p)`, on dual
/// numbers.
fn binomial_dual<const N: usize>(n: u64, p: Dual<N>, y: u64) -> Dual<N> {
    let c = common::choose(n, y);
    let mut r = Dual::constant(c);
    for _ in 0..y {
        r = r * p;
    }
    for _ in 0..n - y {
        r = r * (1.0 - p);
    }
    r
}

// ---------------------------------------------------------------- baselines

/// A REINFORCE baseline does not change the mean and, close to the mean of
/// the continuation, reduces the variance.
/// x ~ normal(θ, 1), continuation x² + 5. E = θ² + 6; ∂θ = 2θ.
/// Without a baseline the estimate is (x² + 5)(x − θ), of variance ≈ 76 at
/// θ = ½; with b = θ² + 6 it is (x² − θ² − 1)(x − θ), of variance ≈ 12
/// (Gaussian moments). The baseline reads θ, which must not leak a
/// derivative of its own.
#[test]
fn reinforce_baseline_keeps_mean_and_reduces_variance() {
    let theta = 0.5;
    let program = |strategy: &str| {
        format!(
            "param theta = 0.5;
             let obj = E {{ x ~ normal(theta, 1.0) by {strategy}; x * x + 5.0 }};"
        )
    };
    let run = |strategy: &str| {
        Case::new(&program(strategy))
            .value(theta * theta + 6.0)
            .grad("theta", 2.0 * theta)
            .samples(20_000)
            .seed(1101)
            .run()
            .grad("theta")
    };
    let plain = run("reinforce");
    let with_baseline = run("reinforce(baseline = theta * theta + 6.0)");
    assert!(
        with_baseline.sd * with_baseline.sd < 0.5 * plain.sd * plain.sd,
        "the baseline should reduce the variance: {} with it vs {} without",
        with_baseline.sd.powi(2),
        plain.sd.powi(2)
    );
}

/// Baselines that are random (computed from an earlier `reparam` choice,
/// which has its own pathwise derivative) and baselines on a discrete
/// site: neither changes the mean.
/// z ~ normal(θ, 1) by reparam; x ~ normal(θ, 1) by reinforce with
/// baseline 6 + z²; b ~ flip(p) by reinforce with baseline 3z;
/// continuation x² + 5 + z + (2 if b else −1)·x.
/// E = θ² + 6 + θ + (3p − 1)θ; ∂θ = 2θ + 1 + 3p − 1 = 2θ + 3p; ∂p = 3θ.
#[test]
fn reinforce_random_baselines() {
    let (theta, p) = (0.5, 0.3);
    Case::new(
        "param theta = 0.5;
         param p = 0.3;
         let obj = E {
             z ~ normal(theta, 1.0) by reparam;
             x ~ normal(theta, 1.0) by reinforce(baseline = 6.0 + z * z);
             b ~ flip(p) by reinforce(baseline = 3.0 * z);
             x * x + 5.0 + z + (if b { 2.0 } else { -1.0 }) * x
         };",
    )
    .value(theta * theta + 6.0 + theta + (3.0 * p - 1.0) * theta)
    .grads(&[("theta", 2.0 * theta + 3.0 * p), ("p", 3.0 * theta)])
    .samples(40_000)
    .seed(1102)
    .run();
}

// ---------------------------------------------------------------- implicit

/// Implicit reparameterization with shapes stored unconstrained
/// (`positive`: raw = log a), feeding a `reparam` site.
/// a = e^{ra}; g ~ gamma(a, 1) by implicit; c = e^{rc}; w ~ beta(c, 2) by
/// implicit; x ~ normal(g, w) by reparam; continuation x².
/// E = E[g²] + E[w²] = a(a + 1) + c(c + 1)/((c + 2)(c + 3));
/// ∂ra = a(2a + 1); ∂rc = c·∂c[c(c + 1)/((c + 2)(c + 3))] (dual numbers).
#[test]
fn implicit_shapes_learned_through_constraints() {
    let (value, g) = value_and_gradient([2.0_f64.ln(), 0.7_f64.ln()], |[ra, rc]: [Dual<2>; 2]| {
        let (a, c) = (ra.exp(), rc.exp());
        a * (a + 1.0) + c * (c + 1.0) / ((c + 2.0) * (c + 3.0))
    });
    Case::new(
        "param a: positive = 2.0;
         param c: positive = 0.7;
         let obj = E {
             g ~ gamma(a, 1.0) by implicit;
             w ~ beta(c, 2.0) by implicit;
             x ~ normal(g, w) by reparam;
             x * x
         };",
    )
    .value(value)
    .grads(&[("a", g[0]), ("c", g[1])])
    .seed(1201)
    .run();
}

// ---------------------------------------------------------- nested and IWELBO

/// The model and guide of the Gaussian objective tests: z ~ normal(m, 1),
/// x ~ normal(z, 1), x = 1.5 observed; guide z ~ normal(μ, e^{ls}); the
/// objective is `objective` (over `model`, `guide` and `data`).
fn gaussian_program(mu: f64, log_sd: f64, objective: &str) -> String {
    format!(
        "import objectives;
         gen model() {{
             param m = 0.3;
             z ~ normal(m, 1.0);
             x ~ normal(z, 1.0);
         }}
         gen guide() {{
             param mu = {mu:?};
             param log_sd = {log_sd:?};
             z ~ normal(mu, exp(log_sd)) by reparam;
         }}
         let data = {{ x: 1.5 }};
         let obj = {objective};"
    )
}

fn iwelbo_program(mu: f64, log_sd: f64) -> String {
    gaussian_program(mu, log_sd, "iwelbo(model, guide, data, 3)")
}

/// IWELBO with 3 particles through the standard library, the guide away
/// from the posterior. With zₖ = μ + σεₖ and
/// log wₖ = log N(zₖ; m, 1) + log N(1.5; zₖ, 1) − log N(zₖ; μ, σ),
/// IWELBO = E_ε[log (w₁ + w₂ + w₃)/3], a 3-D Gaussian integral in ε. It is
/// computed with the tensor trapezoidal rule of `standard_normal_rule`
/// (step 0.2 on ±8, 81³ nodes) on dual numbers, which differentiates under
/// the integral in ε (the reparameterized form, exact for this smooth
/// integrand); the rule is checked against step 0.25 to 1e-9 below.
/// E_ε[bound(log w₁, log w₂, log w₃)] for 3 particles of the Gaussian
/// problem, zₖ = μ + σεₖ and log wₖ = log N(zₖ; m, 1) + log N(1.5; zₖ, 1)
/// − log N(zₖ; μ, σ), and its gradient in (m, μ, ls) at `at`, on dual
/// numbers: the tensor trapezoidal rule of `standard_normal_rule` with step
/// `h` on ±8 (81³ nodes for h = 0.2), which differentiates under the
/// integral in ε (the reparameterized form, exact for these smooth
/// integrands).
fn three_particle_quadrature(
    at: [f64; 3],
    h: f64,
    bound: &dyn Fn([Dual<3>; 3]) -> Dual<3>,
) -> Dual<3> {
    let x_obs = 1.5;
    let [m, mu, log_sd] = Dual::variables(at);
    let sd = log_sd.exp();
    let one = Dual::constant(1.0);
    let rule = standard_normal_rule(h, 8.0);
    let log_w: Vec<Dual<3>> = rule
        .iter()
        .map(|&(e, _)| {
            let z = mu + sd * e;
            normal_logpdf_dual(z, m, one) + normal_logpdf_dual(Dual::constant(x_obs), z, one)
                - normal_logpdf_dual(z, mu, sd)
        })
        .collect();
    let mut total = Dual::constant(0.0);
    for (i, &(_, wi)) in rule.iter().enumerate() {
        for (j, &(_, wj)) in rule.iter().enumerate() {
            for (k, &(_, wk)) in rule.iter().enumerate() {
                total = total + bound([log_w[i], log_w[j], log_w[k]]) * (wi * wj * wk);
            }
        }
    }
    total
}

/// [`three_particle_quadrature`] with step 0.2, checked against step 0.25
/// to 1e-9.
fn three_particle_exact(at: [f64; 3], bound: &dyn Fn([Dual<3>; 3]) -> Dual<3>) -> Dual<3> {
    let fine = three_particle_quadrature(at, 0.2, bound);
    assert_converged(fine, three_particle_quadrature(at, 0.25, bound));
    fine
}

/// The IWELBO's integrand: log (w₁ + w₂ + w₃)/3.
fn iwelbo_exact(at: [f64; 3]) -> Dual<3> {
    three_particle_exact(at, &|lw| logsumexp_dual(&lw) - 3.0_f64.ln())
}

const IWELBO_AT: [f64; 3] = [0.3, 0.2, -0.3];

#[test]
fn iwelbo_three_particles() {
    let exact = iwelbo_exact(IWELBO_AT);
    Case::new(&iwelbo_program(IWELBO_AT[1], IWELBO_AT[2]))
        .value(exact.v)
        .grads(&[
            ("model.m", exact.d[0]),
            ("guide.mu", exact.d[1]),
            ("guide.log_sd", exact.d[2]),
        ])
        .seed(1301)
        .run();
}

/// VIMCO through the standard library: its particles are drawn under
/// `stop_grad`, and its gradient is the IWELBO's pathwise term in the
/// model's parameters plus a score term with leave-one-out baselines,
/// which are independent of the particle they multiply; so its expected
/// gradient is the IWELBO's (and its value is the IWELBO's). Exact values
/// as in `iwelbo_three_particles`.
#[test]
fn vimco_has_the_iwelbo_gradient() {
    let exact = iwelbo_exact(IWELBO_AT);
    Case::new(&gaussian_program(
        IWELBO_AT[1],
        IWELBO_AT[2],
        "vimco(model, guide, data, 3)",
    ))
    .value(exact.v)
    .grads(&[
        ("model.m", exact.d[0]),
        ("guide.mu", exact.d[1]),
        ("guide.log_sd", exact.d[2]),
    ])
    .samples(20_000)
    .seed(1303)
    .run();
}

/// The IWELBO with a `reinforce` guide: each particle's score multiplies
/// the whole bound. Exact values as in `iwelbo_three_particles`.
#[test]
fn iwelbo_reinforce_guide() {
    let exact = iwelbo_exact(IWELBO_AT);
    Case::new(
        &gaussian_program(IWELBO_AT[1], IWELBO_AT[2], "iwelbo(model, guide, data, 3)")
            .replace("by reparam", "by reinforce"),
    )
    .value(exact.v)
    .grads(&[
        ("model.m", exact.d[0]),
        ("guide.mu", exact.d[1]),
        ("guide.log_sd", exact.d[2]),
    ])
    .samples(40_000)
    .seed(1306)
    .run();
}

/// The Rényi bound of order ½ with 3 particles through the standard
/// library: E[2·log (1/3) Σₖ wₖ^{1/2}], by the same quadrature.
#[test]
fn renyi_three_particles() {
    let exact = three_particle_exact(IWELBO_AT, &|lw| {
        (logsumexp_dual(&lw.map(|l| l * 0.5)) - 3.0_f64.ln()) * 2.0
    });
    Case::new(&gaussian_program(
        IWELBO_AT[1],
        IWELBO_AT[2],
        "renyi(model, guide, data, 0.5, 3)",
    ))
    .value(exact.v)
    .grads(&[
        ("model.m", exact.d[0]),
        ("guide.mu", exact.d[1]),
        ("guide.log_sd", exact.d[2]),
    ])
    .seed(1307)
    .run();
}

/// The ELBO of the Gaussian problem in closed form, with s = e^{ls}:
/// ELBO = E_q[log N(z; m, 1) + log N(x; z, 1)] + H(q)
/// = −log 2π − ((μ − m)² + s²)/2 − ((x − μ)² + s²)/2 + ½ log(2πe s²).
fn gaussian_elbo_exact(at: [f64; 3]) -> (f64, [f64; 3]) {
    value_and_gradient(at, |[m, mu, ls]: [Dual<3>; 3]| {
        let s2 = (2.0 * ls).exp();
        let two_pi = 2.0 * std::f64::consts::PI;
        -two_pi.ln() - ((mu - m) * (mu - m) + s2) * 0.5 - ((1.5 - mu) * (1.5 - mu) + s2) * 0.5
            + ((two_pi * std::f64::consts::E) * s2).ln() * 0.5
    })
}

/// `elbo` and `elbo_stl` through the standard library: the same value,
/// and the same expected gradient (STL drops the guide's score
/// E_q[∇ log q(z)], which is zero).
fn gaussian_elbo_case(objective: &str, seed: u64) {
    let (value, g) = gaussian_elbo_exact(IWELBO_AT);
    Case::new(&gaussian_program(IWELBO_AT[1], IWELBO_AT[2], objective))
        .value(value)
        .grads(&[
            ("model.m", g[0]),
            ("guide.mu", g[1]),
            ("guide.log_sd", g[2]),
        ])
        .seed(seed)
        .run();
}

#[test]
fn elbo_gaussian() {
    gaussian_elbo_case("elbo(model, guide, data)", 1304);
}

#[test]
fn elbo_stl_gaussian() {
    gaussian_elbo_case("elbo_stl(model, guide, data)", 1305);
}

/// IWELBO with the guide equal to the exact posterior N((m + x)/2, 1/√2):
/// every weight is p(x) = N(x; m, √2), so every estimate of the value is
/// exactly log p(x); the IWELBO is maximal there, so its gradient in the
/// guide's parameters is 0, and in m it is ∂m log p(x) = (x − m)/2.
#[test]
fn iwelbo_at_the_posterior() {
    let (m, x) = (0.3, 1.5);
    let sqrt2 = 2.0_f64.sqrt();
    let outcome = Case::new(&iwelbo_program((m + x) / 2.0, -0.5 * 2.0_f64.ln()))
        .value(normal_logpdf(x, m, sqrt2))
        .grads(&[
            ("model.m", (x - m) / 2.0),
            ("guide.mu", 0.0),
            ("guide.log_sd", 0.0),
        ])
        .seed(1302)
        .run();
    assert!(outcome.value.sd < 1e-9, "the value is deterministic");
}

/// A nested expectation used linearly, its choices made with `reinforce`
/// inside a `reparam` continuation.
/// x ~ normal(θ, 1) by reparam; a = E { y ~ normal(x, s) by reinforce; y² };
/// value 2a + x. E[a | x] = x² + s², so E = 2(θ² + 1 + s²) + θ;
/// ∂θ = 4θ + 1, ∂s = 4s.
#[test]
fn nested_expectation_linear() {
    let (theta, s) = (0.7, 0.9);
    Case::new(
        "param theta = 0.7;
         param s = 0.9;
         let obj = E {
             x ~ normal(theta, 1.0) by reparam;
             let a = E { y ~ normal(x, s) by reinforce; y * y };
             2.0 * a + x
         };",
    )
    .value(2.0 * (theta * theta + 1.0 + s * s) + theta)
    .grads(&[("theta", 4.0 * theta + 1.0), ("s", 4.0 * s)])
    .samples(20_000)
    .seed(1401)
    .run();
}

/// A nested expectation with an `enum` site whose probability depends on
/// the outer `reparam` choice.
/// x ~ normal(θ, 1) by reparam; a = E { b ~ flip(σ(x)) by enum; x if b else
/// −1 }; value a + x². With g(x) = σ(x)x − (1 − σ(x)) + x², E = E[g(x)]
/// and ∂θ E = E[g(x)(x − θ)], 1-D Gaussian integrals by `normal_expect`.
#[test]
fn nested_expectation_with_enum() {
    let theta = 0.4;
    let g = |x: f64| sigmoid(x) * x - (1.0 - sigmoid(x)) + x * x;
    Case::new(
        "param theta = 0.4;
         let obj = E {
             x ~ normal(theta, 1.0) by reparam;
             let a = E { b ~ flip(sigmoid(x)) by enum; if b { x } else { -1.0 } };
             a + x * x
         };",
    )
    .value(normal_expect(theta, 1.0, g))
    .grad("theta", normal_expect(theta, 1.0, |x| g(x) * (x - theta)))
    .seed(1403)
    .run();
}

/// A nested expectation selected by `if` on a random choice, scaled, and
/// passed to `add_cost`, with an `mvd` site inside.
/// b ~ flip(p) by reinforce; I = E { k ~ poisson(λ) by mvd; k² } (mean
/// M = λ + λ²); add_cost(I/2); value 3I if b else I − 1.
/// E = 3pM + (1 − p)(M − 1) + M/2; ∂p = 2M + 1;
/// ∂λ = (2p + 1.5)(1 + 2λ).
#[test]
fn nested_expectation_selected_and_added_as_cost() {
    let (p, rate) = (0.35, 1.4);
    let m = rate + rate * rate;
    Case::new(
        "param p = 0.35;
         param rate = 1.4;
         let obj = E {
             b ~ flip(p) by reinforce;
             let inner = E { k ~ poisson(rate) by mvd; real(k) * real(k) };
             add_cost(0.5 * inner);
             if b { 3.0 * inner } else { inner - 1.0 }
         };",
    )
    .value(3.0 * p * m + (1.0 - p) * (m - 1.0) + 0.5 * m)
    .grads(&[
        ("p", 2.0 * m + 1.0),
        ("rate", (2.0 * p + 1.5) * (1.0 + 2.0 * rate)),
    ])
    .samples(20_000)
    .seed(1402)
    .run();
}

// ------------------------------------------------------------------ marginal

/// The model and guide of the HVI tests: x ~ normal(0, 1), y ~ normal(x,
/// 1), y = 1.2 observed; the guide draws an auxiliary u ~ flip(σ(w)) with
/// strategy `{S}` and x ~ normal(m₁ if u else m₀, e^{ls}) by reparam,
/// whose marginal over x is a two-component mixture.
fn hvi_program(strategy: &str, objective: &str) -> String {
    format!(
        "import objectives;
         gen model() {{
             x ~ normal(0.0, 1.0);
             y ~ normal(x, 1.0);
         }}
         gen guide() {{
             param w = 0.4;
             param m1 = 0.8;
             param m0 = -0.5;
             param ls = -0.2;
             u ~ flip(sigmoid(w)) by {strategy};
             x ~ normal(if u {{ m1 }} else {{ m0 }}, exp(ls)) by reparam;
         }}
         let obj = {objective};"
    )
}

const HVI_AT: [f64; 4] = [0.4, 0.8, -0.5, -0.2];
const HVI_Y: f64 = 1.2;

/// HVI with SIR(1) (the prior as reverse model): log q̂(x) = log q(x | u)
/// for the u that produced x, so with s = e^{ls}
/// HVI = Σᵤ q(u)·g(m_u), where
/// g(m) = E_{x~N(m,s)}[log N(x; 0, 1) + log N(y; x, 1) − log N(x; m, s)]
/// = −(m² + s²)/2 − ((y − m)² + s²)/2 − log 2π + ½ log(2πe s²),
/// differentiated with dual numbers.
fn hvi_exact() -> (f64, [f64; 4]) {
    value_and_gradient(HVI_AT, |[w, m1, m0, ls]: [Dual<4>; 4]| {
        let s2 = (2.0 * ls).exp();
        let g = |m: Dual<4>| {
            -(m * m + s2) * 0.5
                - ((HVI_Y - m) * (HVI_Y - m) + s2) * 0.5
                - (2.0 * std::f64::consts::PI).ln()
                + ((2.0 * std::f64::consts::PI * std::f64::consts::E) * s2).ln() * 0.5
        };
        let q1 = w.sigmoid();
        q1 * g(m1) + (1.0 - q1) * g(m0)
    })
}

fn hvi_case(strategy: &str, seed: u64) {
    let (value, g) = hvi_exact();
    Case::new(&hvi_program(
        strategy,
        "hvi(model, guide, [\"x\"], { y: 1.2 })",
    ))
    .value(value)
    .grads(&[
        ("guide.w", g[0]),
        ("guide.m1", g[1]),
        ("guide.m0", g[2]),
        ("guide.ls", g[3]),
    ])
    .seed(seed)
    .run();
}

#[test]
fn hvi_marginal_auxiliary_by_enum() {
    hvi_case("enum", 1501);
}

#[test]
fn hvi_marginal_auxiliary_by_reinforce() {
    hvi_case("reinforce", 1502);
}

#[test]
fn hvi_marginal_auxiliary_by_mvd() {
    hvi_case("mvd", 1503);
}

/// The same problem written with `marginal` directly and SIR(2) (IWHVI):
/// log q̂(x) = log ½(q(x | u₀) + q(x | u₁)), u₀ the auxiliary that produced
/// x and u₁ ~ q(u) a fresh prior particle, so
/// IWHVI = Σ_{u₀,u₁} q(u₀)q(u₁) E_{x~N(m_{u₀},s)}[log N(x; 0, 1) +
/// log N(y; x, 1) − log ½(N(x; m_{u₀}, s) + N(x; m_{u₁}, s))],
/// 1-D Gaussian integrals in ε (x = m_{u₀} + sε) computed with the
/// trapezoidal rule (step 1/32 on ±12, error < 1e-12: the integrand is
/// analytic in a strip of half-width ≈ 2 around the real axis) on dual
/// numbers.
#[test]
fn iwhvi_marginal_with_sir_two() {
    let [w, m1, m0, ls] = Dual::variables(HVI_AT);
    let s = ls.exp();
    let q = [1.0 - w.sigmoid(), w.sigmoid()];
    let means = [m0, m1];
    let rule = standard_normal_rule(1.0 / 32.0, 12.0);
    let mut exact = Dual::<4>::constant(0.0);
    for u0 in 0..2 {
        for u1 in 0..2 {
            let mut integral = Dual::constant(0.0);
            for &(e, weight) in &rule {
                let x = means[u0] + s * e;
                let one = Dual::constant(1.0);
                let log_p = normal_logpdf_dual(x, Dual::constant(0.0), one)
                    + normal_logpdf_dual(Dual::constant(HVI_Y), x, one);
                let log_q_hat = logsumexp_dual(&[
                    normal_logpdf_dual(x, means[u0], s),
                    normal_logpdf_dual(x, means[u1], s),
                ]) - 2.0_f64.ln();
                integral = integral + (log_p - log_q_hat) * weight;
            }
            exact = exact + q[u0] * q[u1] * integral;
        }
    }
    Case::new(&hvi_program(
        "enum",
        "elbo(model, marginal(guide, keep = [\"x\"], via = sir(2)), { y: 1.2 })",
    ))
    .value(exact.v)
    .grads(&[
        ("guide.w", exact.d[0]),
        ("guide.m1", exact.d[1]),
        ("guide.m0", exact.d[2]),
        ("guide.ls", exact.d[3]),
    ])
    .seed(1504)
    .run();
}

/// DIWHVI with 2 outer particles and SIR(2) marginals: the IWELBO with
/// n = 2 of the marginal guide. Each outer particle draws (u₀, x) from the
/// guide and a prior particle u₁, and has
/// log wᵢ = log p(xᵢ, y) − log ½(q(xᵢ | u₀ᵢ) + q(xᵢ | u₁ᵢ)); the objective is
/// E[log ½(w₁ + w₂)]: a sum over the 16 assignments of (u₀ᵢ, u₁ᵢ)ᵢ of a 2-D
/// Gaussian integral in (ε₁, ε₂), xᵢ = m_{u₀ᵢ} + sεᵢ, computed with the
/// tensor trapezoidal rule (step 0.2 on ±8, checked against step 0.25 to
/// 1e-9) on dual numbers. (The auxiliary is drawn by `reinforce`: with
/// `enum`, each particle would take 16 runs.)
fn diwhvi_quadrature(h: f64) -> Dual<4> {
    let [w, m1, m0, ls] = Dual::variables(HVI_AT);
    let s = ls.exp();
    let q = [1.0 - w.sigmoid(), w.sigmoid()];
    let means = [m0, m1];
    let one = Dual::constant(1.0);
    let rule = standard_normal_rule(h, 8.0);
    // log w for each (u₀, u₁) and node.
    let log_w: Vec<Vec<Dual<4>>> = (0..4)
        .map(|c| {
            let (u0, u1) = (c / 2, c % 2);
            rule.iter()
                .map(|&(e, _)| {
                    let x = means[u0] + s * e;
                    let log_p = normal_logpdf_dual(x, Dual::constant(0.0), one)
                        + normal_logpdf_dual(Dual::constant(HVI_Y), x, one);
                    log_p
                        - (logsumexp_dual(&[
                            normal_logpdf_dual(x, means[u0], s),
                            normal_logpdf_dual(x, means[u1], s),
                        ]) - 2.0_f64.ln())
                })
                .collect()
        })
        .collect();
    let mut total = Dual::constant(0.0);
    for a in 0..4 {
        for b in 0..4 {
            let prob = q[a / 2] * q[a % 2] * q[b / 2] * q[b % 2];
            let mut integral = Dual::constant(0.0);
            for (i, &(_, wi)) in rule.iter().enumerate() {
                for (j, &(_, wj)) in rule.iter().enumerate() {
                    let bound = logsumexp_dual(&[log_w[a][i], log_w[b][j]]) - 2.0_f64.ln();
                    integral = integral + bound * (wi * wj);
                }
            }
            total = total + prob * integral;
        }
    }
    total
}

#[test]
fn diwhvi_two_by_two() {
    let exact = diwhvi_quadrature(0.2);
    assert_converged(exact, diwhvi_quadrature(0.25));
    Case::new(&hvi_program(
        "reinforce",
        "diwhvi(model, guide, [\"x\"], { y: 1.2 }, 2, 2)",
    ))
    .samples(40_000)
    .value(exact.v)
    .grads(&[
        ("guide.w", exact.d[0]),
        ("guide.m1", exact.d[1]),
        ("guide.m0", exact.d[2]),
        ("guide.ls", exact.d[3]),
    ])
    .seed(1505)
    .run();
}

// ----------------------------------------------------- branches on choices

/// Sites under an `if` whose condition is a random choice b ~ flip(σ(φ))
/// made with strategy `{S}`: x ~ normal(θ, 1) by reparam in one branch,
/// y ~ exponential(λ) by reparam in the other.
/// E = π(θ² + 1) + (1 − π)(1/λ + θ), π = σ(φ);
/// ∂φ = π(1 − π)(θ² + 1 − 1/λ − θ), ∂θ = 2πθ + 1 − π, ∂λ = −(1 − π)/λ².
fn branch_on_choice(strategy: &str) -> Case {
    let (phi, theta, rate) = (-0.8_f64, 1.2_f64, 2.5_f64);
    let pi = sigmoid(phi);
    Case::new(&with_strategy(
        "param phi = -0.8;
         param theta = 1.2;
         param rate = 2.5;
         let obj = E {
             b ~ flip(sigmoid(phi)) by {S};
             if b {
                 x ~ normal(theta, 1.0) by reparam;
                 x * x
             } else {
                 y ~ exponential(rate) by reparam;
                 y + theta
             }
         };",
        strategy,
    ))
    .value(pi * (theta * theta + 1.0) + (1.0 - pi) * (1.0 / rate + theta))
    .grads(&[
        (
            "phi",
            pi * (1.0 - pi) * (theta * theta + 1.0 - 1.0 / rate - theta),
        ),
        ("theta", 2.0 * pi * theta + 1.0 - pi),
        ("rate", -(1.0 - pi) / (rate * rate)),
    ])
}

strategy_tests! {
    branch_on_enum_choice: branch_on_choice by "enum", seed 1601;
    branch_on_reinforce_choice: branch_on_choice by "reinforce", seed 1602;
    branch_on_mvd_choice: branch_on_choice by "mvd", seed 1603;
}

// ------------------------------------------------------------------- more

/// `add_cost` before and after `reinforce` sites: a cost added before a
/// choice is not part of its continuation, one added after is.
/// x ~ normal(θ, 1) by reinforce; add_cost(θx); k ~ poisson(λ) by
/// reinforce; add_cost(k·x); value x².
/// E = θ² + λθ + θ² + 1; ∂θ = 4θ + λ, ∂λ = θ.
#[test]
fn add_cost_around_reinforce_sites() {
    let (theta, rate) = (0.4, 1.2);
    Case::new(
        "param theta = 0.4;
         param rate = 1.2;
         let obj = E {
             x ~ normal(theta, 1.0) by reinforce;
             add_cost(theta * x);
             k ~ poisson(rate) by reinforce;
             add_cost(real(k) * x);
             x * x
         };",
    )
    .value(2.0 * theta * theta + rate * theta + 1.0)
    .grads(&[("theta", 4.0 * theta + rate), ("rate", theta)])
    .samples(40_000)
    .seed(1701)
    .run();
}

/// A `for` loop of `reparam` sites forming a random walk:
/// x₀ ~ normal(θ, s), xᵢ ~ normal(xᵢ₋₁, s) for i = 1..3 (loop-carried),
/// continuation x₃² + Σᵢ xᵢ. x₃ ~ N(θ, 4s²) and E[xᵢ] = θ, so
/// E = θ² + 4s² + 4θ; ∂θ = 2θ + 4, ∂s = 8s.
#[test]
fn reparam_sites_in_for_loop() {
    let (theta, s) = (0.3, 0.7);
    Case::new(
        "param theta = 0.3;
         param s = 0.7;
         let obj = E {
             let mut prev = 0.0;
             let mut total = 0.0;
             for i in 0..4 {
                 let x = walk[i] ~ normal(if i == 0 { theta } else { prev }, s) by reparam;
                 total = total + x;
                 prev = x;
             }
             prev * prev + total
         };",
    )
    .value(theta * theta + 4.0 * s * s + 4.0 * theta)
    .grads(&[("theta", 2.0 * theta + 4.0), ("s", 8.0 * s)])
    .seed(1702)
    .run();
}

/// REINFORCE through function calls: the site is in a generative function
/// reached by a traced call, its value returned through a deterministic
/// function, and the continuation calls another.
/// a ~ walker(θ), walker(m) = { x ~ normal(m, 1) by reinforce; square(x) + m };
/// continuation square(v) + v with v = x² + θ.
/// E[v] = θ² + 1 + θ and E[v²] = E[x⁴] + 2θE[x²] + θ²
/// = θ⁴ + 6θ² + 3 + 2θ(θ² + 1) + θ² (normal moments), so
/// E = θ⁴ + 2θ³ + 8θ² + 3θ + 4; ∂θ = 4θ³ + 6θ² + 16θ + 3.
#[test]
fn reinforce_through_function_calls() {
    let t: f64 = 0.4;
    Case::new(
        "param theta = 0.4;
         fn square(v) { v * v }
         gen walker(m) {
             x ~ normal(m, 1.0) by reinforce;
             square(x) + m
         }
         let obj = E {
             let v = a ~ walker(theta);
             square(v) + v
         };",
    )
    .value(t.powi(4) + 2.0 * t.powi(3) + 8.0 * t * t + 3.0 * t + 4.0)
    .grad("theta", 4.0 * t.powi(3) + 6.0 * t * t + 16.0 * t + 3.0)
    .samples(40_000)
    .max_se(0.3)
    .seed(1703)
    .run();
}

/// `sim` of a generative function with choices of several strategies
/// inside an expectation (the ELBO's shape without a model): the value is
/// the sum of the choices minus nothing; checks that `sim` inside `E`
/// gets each site's strategy.
/// g(θ) = { k ~ binomial(3, σ(θ)) by mvd; x ~ normal(real(k), 1) by reparam };
/// continuation tr.x² − log q where log q = log Bin(k) + log N(x; k, 1).
/// E[x²] = E[k²] + 1 = 3π(1 − π) + 9π² + 1, and −E[log q] is the entropy
/// H(Bin(3, π)) + ½ log(2πe); ∂θ by dual numbers over the enumeration.
#[test]
fn sim_inside_expectation() {
    let (value, g) = value_and_gradient([0.2], |[theta]: [Dual<1>; 1]| {
        let pi = theta.sigmoid();
        let mut total =
            Dual::constant(1.0 + 0.5 * (2.0 * std::f64::consts::PI * std::f64::consts::E).ln());
        for k in 0..=3 {
            let pmf = binomial_dual(3, pi, k);
            total = total + pmf * ((k * k) as f64 - pmf.ln());
        }
        total
    });
    Case::new(
        "param theta = 0.2;
         gen g(t) {
             k ~ binomial(3, sigmoid(t)) by mvd;
             x ~ normal(real(k), 1.0) by reparam;
         }
         let obj = E {
             let (tr, log_q) = sim g(theta);
             tr.x * tr.x - log_q
         };",
    )
    .value(value)
    .grad("theta", g[0])
    .seed(1704)
    .run();
}

/// A loop of `reparam` sites inside a generative function (addresses
/// indexed by the loop variable, read back as the array `tr.y`), through
/// `sim`. yᵢ ~ normal(θi, 1) for i < 4; continuation Σ yᵢ².
/// E = Σ (θ²i² + 1) = 14θ² + 4; ∂θ = 28θ.
#[test]
fn reparam_loop_in_generative_function() {
    let theta = 0.3;
    check(
        "param theta = 0.3;
         gen g(t) {
             for i in 0..4 {
                 y[i] ~ normal(t * real(i), 1.0) by reparam;
             }
         }
         let obj = E {
             let (tr, _) = sim g(theta);
             sum(tr.y * tr.y)
         };",
        &[("theta", 28.0 * theta)],
        10_000,
        1705,
    );
}

// ------------------------------------------------- discrete guides and more

/// The model and guide of the discrete-latent tests: z ~ flip(0.3),
/// y ~ normal(2 if z else −1, 1), y = 0.5 observed; the guide draws
/// z ~ flip(σ(w)) with strategy `{S}`.
fn discrete_program(strategy: &str, objective: &str) -> String {
    format!(
        "import objectives;
         gen model() {{
             z ~ flip(0.3);
             y ~ normal(if z {{ 2.0 }} else {{ -1.0 }}, 1.0);
         }}
         gen guide() {{
             param w = 0.2;
             z ~ flip(sigmoid(w)) by {strategy};
         }}
         let obj = {objective};"
    )
}

/// log wᶻ = log p(z, y) − log q(z) for z ∈ {false, true}, on dual numbers
/// in w.
fn discrete_log_weights(w: Dual<1>) -> [Dual<1>; 2] {
    let q1 = w.sigmoid();
    let q = [1.0 - q1, q1];
    let prior = [0.7_f64, 0.3];
    let mean = [-1.0, 2.0];
    [0, 1].map(|z| Dual::constant(prior[z].ln() + normal_logpdf(0.5, mean[z], 1.0)) - q[z].ln())
}

/// ELBO of a discrete guide: Σ_z q(z) log w_z, by enumeration.
fn discrete_elbo_case(strategy: &str, seed: u64) {
    let (value, g) = value_and_gradient([0.2], |[w]: [Dual<1>; 1]| {
        let q1 = w.sigmoid();
        let lw = discrete_log_weights(w);
        (1.0 - q1) * lw[0] + q1 * lw[1]
    });
    Case::new(&discrete_program(
        strategy,
        "elbo(model, guide, { y: 0.5 })",
    ))
    .value(value)
    .grad("guide.w", g[0])
    .seed(seed)
    .run();
}

/// IWELBO with 3 particles of a discrete guide (its sites inside the
/// objective's comprehension loop): Σ over the 8 assignments (z₁, z₂, z₃)
/// of Πₖ q(zₖ) · log (1/3) Σₖ w_{zₖ}, by enumeration.
fn discrete_iwelbo_case(strategy: &str, seed: u64) {
    let (value, g) = value_and_gradient([0.2], |[w]: [Dual<1>; 1]| {
        let q1 = w.sigmoid();
        let q = [1.0 - q1, q1];
        let lw = discrete_log_weights(w);
        let mut total = Dual::constant(0.0);
        for a in 0..2 {
            for b in 0..2 {
                for c in 0..2 {
                    let bound = logsumexp_dual(&[lw[a], lw[b], lw[c]]) - 3.0_f64.ln();
                    total = total + q[a] * q[b] * q[c] * bound;
                }
            }
        }
        total
    });
    Case::new(&discrete_program(
        strategy,
        "iwelbo(model, guide, { y: 0.5 }, 3)",
    ))
    .value(value)
    .grad("guide.w", g[0])
    .seed(seed)
    .run();
}

#[test]
fn elbo_discrete_guide_by_enum() {
    discrete_elbo_case("enum", 1801);
}

#[test]
fn elbo_discrete_guide_by_mvd() {
    discrete_elbo_case("mvd", 1802);
}

#[test]
fn elbo_discrete_guide_by_reinforce() {
    discrete_elbo_case("reinforce", 1803);
}

#[test]
fn iwelbo_discrete_guide_by_enum() {
    discrete_iwelbo_case("enum", 1804);
}

#[test]
fn iwelbo_discrete_guide_by_mvd() {
    discrete_iwelbo_case("mvd", 1805);
}

#[test]
fn iwelbo_discrete_guide_by_reinforce() {
    discrete_iwelbo_case("reinforce", 1806);
}

/// An `mvd` site whose value is a parameter of a second `mvd` site (whose
/// support, binomial(k, p), may be empty of alternatives when k = 0).
/// k ~ poisson(λ) by mvd; y ~ binomial(k, p) by mvd; continuation y² + k.
/// E[y² | k] = kp(1 − p) + k²p², so E = λp + λ²p² + λ;
/// ∂λ = p + 2λp² + 1, ∂p = λ + 2λ²p.
#[test]
fn mvd_feeds_mvd() {
    let (rate, p) = (1.3, 0.4);
    Case::new(
        "param rate = 1.3;
         param p = 0.4;
         let obj = E {
             k ~ poisson(rate) by mvd;
             y ~ binomial(k, p) by mvd;
             real(y) * real(y) + real(k)
         };",
    )
    .value(rate * p + rate * rate * p * p + rate)
    .grads(&[
        ("rate", p + 2.0 * rate * p * p + 1.0),
        ("p", rate + 2.0 * rate * rate * p),
    ])
    .seed(1901)
    .run();
}

/// Non-pathwise sites under an `if` on a choice b ~ flip(q) of strategy
/// `{S}`: x ~ normal(θ, 1) by reinforce in one branch, k ~ poisson(λ) by
/// mvd in the other. E = q(θ² + 1) + (1 − q)(λ + λ²);
/// ∂q = θ² + 1 − λ − λ², ∂θ = 2qθ, ∂λ = (1 − q)(1 + 2λ).
fn branch_sites_reinforce_and_mvd(strategy: &str) -> Case {
    let (q, theta, rate) = (0.4, 0.5, 1.2);
    Case::new(&with_strategy(
        "param q = 0.4;
         param theta = 0.5;
         param rate = 1.2;
         let obj = E {
             b ~ flip(q) by {S};
             if b {
                 x ~ normal(theta, 1.0) by reinforce;
                 x * x
             } else {
                 k ~ poisson(rate) by mvd;
                 real(k) * real(k)
             }
         };",
        strategy,
    ))
    .value(q * (theta * theta + 1.0) + (1.0 - q) * (rate + rate * rate))
    .grads(&[
        ("q", theta * theta + 1.0 - rate - rate * rate),
        ("theta", 2.0 * q * theta),
        ("rate", (1.0 - q) * (1.0 + 2.0 * rate)),
    ])
}

strategy_tests! {
    branch_sites_under_enum_choice: branch_sites_reinforce_and_mvd by "enum", seed 1902;
    branch_sites_under_mvd_choice: branch_sites_reinforce_and_mvd by "mvd", seed 1903;
}

/// A default strategy: `normal` defaults to `reparam`, but its value
/// reaches a comparison, so it falls back to `reinforce` (spec/language.md
/// §5). x ~ normal(θ, 1); continuation 1 if x > 0 else 0.
/// E = Φ(θ); ∂θ = φ(θ), the standard normal density. Φ is computed by
/// composite Simpson on [−12, θ] with 4000 intervals (error < 1e-12).
#[test]
fn default_strategy_falls_back_to_reinforce() {
    let theta: f64 = 0.3;
    let density = |t: f64| (-0.5 * t * t).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let (a, n) = (-12.0, 4000);
    let h = (theta - a) / n as f64;
    let cdf = (0..=n)
        .map(|i| {
            let w = if i == 0 || i == n {
                1.0
            } else if i % 2 == 1 {
                4.0
            } else {
                2.0
            };
            w * density(a + i as f64 * h)
        })
        .sum::<f64>()
        * h
        / 3.0;
    Case::new(
        "param theta = 0.3;
         let obj = E { x ~ normal(theta, 1.0); if x > 0.0 { 1.0 } else { 0.0 } };",
    )
    .value(cdf)
    .grad("theta", density(theta))
    .seed(1904)
    .run();
}

/// The same fallback on `uniform(a, b)`, whose support moves with its
/// parameters, so that REINFORCE would miss the boundary term: rejected.
#[test]
fn default_uniform_falls_back_to_reinforce_and_is_rejected() {
    // The default `reparam` falls back to `reinforce` (the value reaches a
    // comparison), which the learned bounds make biased: a compile error.
    assert_rejected(
        "param a = -0.5;
         param b = 1.5;
         let obj = E { x ~ uniform(a, b); if x > 0.5 { 1.0 } else { 0.0 } };",
        "E0507",
    );
}

/// `reinforce` on `uniform(a, b)` with learned bounds is rejected: the
/// support moves with θ and the score-function estimator misses the
/// boundary terms −l(a)·∂a/(b − a) and l(b)·∂b/(b − a) of Leibniz's rule
/// (measured before the check existed: d/da 0.2911 ± 0.0032 against the
/// exact 0.1667). It is rejected even when the continuation vanishes at
/// the bounds, where it would happen to be unbiased — the check is
/// conservative.
#[test]
fn reinforce_on_uniform_with_learned_bounds_is_rejected() {
    for src in [
        "param a = -0.5; param b = 1.5; let obj = E { x ~ uniform(a, b) by reinforce; x * x };",
        "param a = -0.5; param b = 1.5; let obj = E { x ~ uniform(a, b) by reinforce; (x - a) * (b - x) };",
        "param w = 1.0; let obj = E { u ~ normal(w, 1.0) by reparam; x ~ uniform(0.0, 2.0 + u * u) by reinforce; x };",
    ] {
        assert_rejected(src, "E0507");
    }
}

/// Compiling `obj` in `src` fails with diagnostic `code`.
fn assert_rejected(src: &str, code: &str) {
    let mut sources = vprog::lang::SourceMap::new();
    let program = vprog::load(&mut sources, "t.vprog", src).expect("loads");
    match program.objective("obj") {
        Ok(_) => panic!("compiled, expected {code}:\n{src}"),
        Err(d) => assert_eq!(d.code, code, "{}", d.message),
    }
}

/// `mv_normal` with the whole scale matrix a parameter (its upper entry
/// 0). The distribution is defined by the lower triangle only (a nonzero
/// upper entry is a run-time error), so the objective does not depend on
/// L₀₁ and its exact derivative there is 0; the other derivatives are
/// those of `mv_normal` above: with x₀x₁ + x₁²,
/// ∂m₀ = m₁, ∂m₁ = m₀ + 2m₁, ∂L₀₀ = L₁₀, ∂L₁₀ = L₀₀ + 2L₁₀, ∂L₁₁ = 2L₁₁.
fn mv_normal_matrix_parameter(strategy: &str) -> Case {
    let (m0, m1) = (0.5, -0.3);
    let (l00, l10, l11) = (1.0, 0.4, 0.8);
    Case::new(&with_strategy(
        "param m: real[2] = [0.5, -0.3];
         param scale_tril: real[2, 2] = [[1.0, 0.0], [0.4, 0.8]];
         let obj = E {
             x ~ mv_normal(m, scale_tril) by {S};
             x[0] * x[1] + x[1] * x[1]
         };",
        strategy,
    ))
    .value(m0 * m1 + l00 * l10 + m1 * m1 + l10 * l10 + l11 * l11)
    .grads(&[
        ("m[0]", m1),
        ("m[1]", m0 + 2.0 * m1),
        ("scale_tril[0]", l10),
        ("scale_tril[1]", 0.0),
        ("scale_tril[2]", l00 + 2.0 * l10),
        ("scale_tril[3]", 2.0 * l11),
    ])
}

strategy_tests! {
    reparam_mv_normal_matrix_parameter: mv_normal_matrix_parameter by "reparam", seed 1905;
    reinforce_mv_normal_matrix_parameter: mv_normal_matrix_parameter by "reinforce", seed 1906;
}

/// Costs added before and after `enum` and `mvd` sites: each enumerated
/// run adds the earlier cost once, weighted by its assignment's
/// probability, and each mvd branch run differs from the main run only
/// after its site.
/// add_cost(θ²); b ~ flip(p) by enum; add_cost(θ if b else 2θ);
/// k ~ poisson(λ) by mvd; add_cost(k·θ); value k² if b else k.
/// E = θ² + pθ + 2(1 − p)θ + λθ + p(λ + λ²) + (1 − p)λ;
/// ∂θ = 2θ + 2 − p + λ, ∂p = −θ + λ², ∂λ = θ + p(1 + 2λ) + 1 − p.
#[test]
fn add_cost_around_enum_and_mvd_sites() {
    let (theta, p, rate) = (0.6, 0.3, 1.1);
    Case::new(
        "param theta = 0.6;
         param p = 0.3;
         param rate = 1.1;
         let obj = E {
             add_cost(theta * theta);
             b ~ flip(p) by enum;
             add_cost(if b { theta } else { 2.0 * theta });
             k ~ poisson(rate) by mvd;
             add_cost(real(k) * theta);
             if b { real(k) * real(k) } else { real(k) }
         };",
    )
    .value(
        theta * theta
            + p * theta
            + 2.0 * (1.0 - p) * theta
            + rate * theta
            + p * (rate + rate * rate)
            + (1.0 - p) * rate,
    )
    .grads(&[
        ("theta", 2.0 * theta + 2.0 - p + rate),
        ("p", -theta + rate * rate),
        ("rate", theta + p * (1.0 + 2.0 * rate) + 1.0 - p),
    ])
    .seed(2001)
    .run();
}

/// REINFORCE sites in a loop, each with a baseline computed from the
/// earlier iterations' choices (random, but fixed before the choice).
/// xᵢ ~ normal(θ + i, 1) by reinforce(baseline = total), i < 3, where
/// total = Σ_{j<i} xⱼ² is also the continuation's running sum.
/// E = Σᵢ ((θ + i)² + 1); ∂θ = Σᵢ 2(θ + i) = 6θ + 6.
#[test]
fn reinforce_baselines_in_loop() {
    let theta: f64 = 0.2;
    Case::new(
        "param theta = 0.2;
         let obj = E {
             let mut total = 0.0;
             for i in 0..3 {
                 let x = xs[i] ~ normal(theta + real(i), 1.0) by reinforce(baseline = total);
                 total = total + x * x;
             }
             total
         };",
    )
    .value((0..3).map(|i| (theta + i as f64).powi(2) + 1.0).sum())
    .grad("theta", 6.0 * theta + 6.0)
    .samples(40_000)
    .max_se(0.5)
    .seed(2002)
    .run();
}

/// Nested expectations inside a `for` loop, summed (a linear use).
/// For i < 3: total += E { y ~ normal(θ·i, s) by reinforce; y² };
/// value total. E = Σᵢ (θ²i² + s²) = 5θ² + 3s²; ∂θ = 10θ, ∂s = 6s.
#[test]
fn nested_expectations_in_loop() {
    let (theta, s) = (0.4, 0.7);
    Case::new(
        "param theta = 0.4;
         param s = 0.7;
         let obj = E {
             let mut total = 0.0;
             for i in 0..3 {
                 total = total + E { y ~ normal(theta * real(i), s) by reinforce; y * y };
             }
             total
         };",
    )
    .value(5.0 * theta * theta + 3.0 * s * s)
    .grads(&[("theta", 10.0 * theta), ("s", 6.0 * s)])
    .samples(20_000)
    .seed(2003)
    .run();
}

/// Enumerated values of probability zero (a masked categorical, and a
/// flip whose probability is 1 in one branch): their runs have weight 0
/// and must contribute neither a value nor a NaN gradient.
/// k ~ categorical([0, σ(t), 1 − σ(t)]) by enum; a ~ flip(½) by enum;
/// b ~ flip(1 if a else p) by enum; value k² + (2 if b else p).
/// E = σ(t) + 4(1 − σ(t)) + ½·2 + ½(2p + (1 − p)p);
/// ∂t = −3σ(t)(1 − σ(t)), ∂p = ½(3 − 2p).
#[test]
fn enum_with_zero_probability_values() {
    let (t, p) = (0.3, 0.3);
    let s = sigmoid(t);
    Case::new(
        "param t = 0.3;
         param p = 0.3;
         let obj = E {
             k ~ categorical([0.0, sigmoid(t), 1.0 - sigmoid(t)]) by enum;
             a ~ flip(0.5) by enum;
             b ~ flip(if a { 1.0 } else { p }) by enum;
             real(k) * real(k) + if b { 2.0 } else { p }
         };",
    )
    .value(s + 4.0 * (1.0 - s) + 1.0 + 0.5 * (2.0 * p + (1.0 - p) * p))
    .grads(&[("t", -3.0 * s * (1.0 - s)), ("p", 0.5 * (3.0 - 2.0 * p))])
    .seed(2004)
    .run();
}

/// Nested AD: `grad` inside an expectation, of a function that itself uses
/// `grad`. With x ~ normal(θ, 1) by reparam, cube(y) = y³ and
/// slope(y) = d/dy cube = 3y², the body grad(cube, x) + grad(slope, x) =
/// 3x² + 6x has E = 3(θ² + 1) + 6θ and ∂θ = 6θ + 6 (reverse mode applied to
/// the output of reverse mode, twice).
#[test]
fn grad_of_grad_inside_an_expectation() {
    let theta = 0.7;
    Case::new(
        "fn cube(y) { y * y * y }
         fn slope(y) { grad(cube, y) }
         param theta = 0.7;
         let obj = E { x ~ normal(theta, 1.0) by reparam; grad(cube, x) + grad(slope, x) };",
    )
    .value(3.0 * (theta * theta + 1.0) + 6.0 * theta)
    .grads(&[("theta", 6.0 * theta + 6.0)])
    .seed(2001)
    .run();
}
