//! Helpers of the statistical test suites: compiling a program, averaging
//! seeded particle estimates of its objective and gradient, comparing them
//! with exact values, and the numerical tools (Gaussian quadrature,
//! dual numbers) the exact values are computed with. Every check also runs
//! its first particles on the JIT and requires the interpreter's numbers to
//! the bit, so the suites double as differential tests of the back ends.
//!
//! Nothing here computes an exact value with vprog: the exact side of every
//! comparison is plain Rust arithmetic written in the test.

#![allow(dead_code)]

use vprog::runtime::backend::{Backend, Prepared};
use vprog::runtime::estimator::particle;
use vprog::runtime::params::ParamStore;
use vprog::runtime::rng::RunKey;

/// How many particles of every check are also run on the JIT and compared
/// with the interpreter's, to the bit.
const JIT_PARTICLES: usize = 200;

/// How many standard errors a mean may lie from the exact value.
pub const TOLERANCE_IN_SE: f64 = 4.0;

/// Absolute slack added to every tolerance for floating-point rounding, so
/// that a zero-variance estimate (exact enumeration) compares with an exact
/// value computed in another order.
const ROUNDING_SLACK: f64 = 1e-9;

/// The sample mean and standard deviation of one quantity over the
/// particles, and the standard error of the mean.
#[derive(Clone, Copy, Debug)]
pub struct Moments {
    /// The sample mean.
    pub mean: f64,
    /// The sample standard deviation (denominator `n − 1`).
    pub sd: f64,
    /// `sd / √n`.
    pub se: f64,
}

impl Moments {
    /// The moments of `xs` (Welford's algorithm, stable for large means).
    pub fn of(xs: &[f64]) -> Moments {
        let (mut mean, mut m2) = (0.0, 0.0);
        for (k, &x) in xs.iter().enumerate() {
            let delta = x - mean;
            mean += delta / (k + 1) as f64;
            m2 += delta * (x - mean);
        }
        let n = xs.len() as f64;
        let sd = (m2 / (n - 1.0)).max(0.0).sqrt();
        Moments {
            mean,
            sd,
            se: sd / n.sqrt(),
        }
    }
}

/// What one check measured: the value's moments and each gradient
/// component's, by name (`theta`, `guide.mu`, `alpha[2]` for element 2 of a
/// flattened vector or matrix parameter).
#[derive(Clone, Debug)]
pub struct Outcome {
    /// The moments of the objective's estimates.
    pub value: Moments,
    /// The moments of each gradient component's estimates.
    pub gradient: Vec<(String, Moments)>,
}

impl Outcome {
    /// The moments of the gradient component `name`.
    pub fn grad(&self, name: &str) -> Moments {
        self.gradient
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no gradient component `{name}`"))
            .1
    }
}

/// A statistical check of one program: its objective `obj` is estimated
/// with `samples` seeded particles and each mean is compared with its exact
/// value.
pub struct Case {
    source: String,
    objective: String,
    value: Option<f64>,
    gradient: Vec<(String, f64)>,
    samples: usize,
    seed: u64,
    max_se: Option<f64>,
}

impl Case {
    /// A check of the top-level definition `obj` of `source`.
    pub fn new(source: &str) -> Case {
        Case {
            source: source.to_string(),
            objective: "obj".into(),
            value: None,
            gradient: Vec::new(),
            samples: 10_000,
            seed: 1,
            max_se: None,
        }
    }

    /// The exact value of the objective (checked when given).
    pub fn value(mut self, exact: f64) -> Case {
        self.value = Some(exact);
        self
    }

    /// The exact derivative of the objective in the (raw, unconstrained)
    /// parameter component `name`. Every component must be given one.
    pub fn grad(mut self, name: &str, exact: f64) -> Case {
        self.gradient.push((name.to_string(), exact));
        self
    }

    /// Exact derivatives of several components at once.
    pub fn grads(mut self, exact: &[(&str, f64)]) -> Case {
        for &(n, g) in exact {
            self.gradient.push((n.to_string(), g));
        }
        self
    }

    /// The number of particles (at least 10⁴).
    pub fn samples(mut self, n: usize) -> Case {
        self.samples = n;
        self
    }

    /// The seed of the run keys `RunKey::new(seed, 0, i)`.
    pub fn seed(mut self, seed: u64) -> Case {
        self.seed = seed;
        self
    }

    /// The largest standard error accepted for any compared quantity
    /// (default `0.05 · (1 + |exact|)`): a check whose estimates are too
    /// noisy to detect a bias fails instead of passing vacuously.
    pub fn max_se(mut self, bound: f64) -> Case {
        self.max_se = Some(bound);
        self
    }

    /// Runs the particles and asserts every comparison; returns what it
    /// measured.
    pub fn run(self) -> Outcome {
        assert!(
            self.samples >= 10_000,
            "a check averages at least 10⁴ estimates"
        );
        let mut sources = vprog::lang::SourceMap::new();
        let program = vprog::load(&mut sources, "test.vprog", &self.source).unwrap_or_else(|d| {
            panic!(
                "the program does not load:\n{}\n{}",
                vprog::render_diagnostics(&sources, &d, false),
                self.source
            )
        });
        let objective = program.objective(&self.objective).unwrap_or_else(|d| {
            panic!(
                "the objective does not compile:\n{}\n{}",
                vprog::render_diagnostics(&sources, &[d], false),
                self.source
            )
        });
        let params = ParamStore::initial(&program, 0).values();

        // Component names in the order of the flattened gradient.
        let mut names = Vec::new();
        for (p, v) in program.params.iter().zip(&params) {
            let k = v.f64_elements().len();
            if p.shape.is_empty() {
                names.push(p.qualified.clone());
            } else {
                names.extend((0..k).map(|i| format!("{}[{i}]", p.qualified)));
            }
        }
        for (n, _) in &self.gradient {
            assert!(
                names.contains(n),
                "`{n}` is not a parameter component; the program has {names:?}"
            );
        }
        for n in &names {
            assert!(
                self.gradient.iter().any(|(m, _)| m == n),
                "the check gives no exact derivative in `{n}`"
            );
        }

        let mut values = Vec::with_capacity(self.samples);
        let mut components = vec![Vec::with_capacity(self.samples); names.len()];
        for i in 0..self.samples {
            let key = RunKey::new(self.seed, 0, i as u64);
            let estimate = particle(&objective, &params, key, true)
                .unwrap_or_else(|e| panic!("particle {i} failed: {e:?}\n{}", self.source));
            let gradient: Vec<f64> = estimate
                .gradient
                .expect("a gradient was asked for")
                .iter()
                .flat_map(|v| v.f64_elements())
                .collect();
            assert_eq!(gradient.len(), names.len(), "one entry per component");
            assert!(
                estimate.value.is_finite() && gradient.iter().all(|g| g.is_finite()),
                "particle {i} is not finite: value {}, gradient {gradient:?}\n{}",
                estimate.value,
                self.source
            );
            values.push(estimate.value);
            for (column, g) in components.iter_mut().zip(gradient) {
                column.push(g);
            }
        }

        // The same particles compiled: the JIT must agree with the
        // interpreter (the reference semantics) to the bit. (Every program
        // of the suites compiles today; one that falls back is skipped.)
        let compiled = Prepared::new(objective.clone(), Backend::Jit);
        if compiled.is_compiled() {
            for i in 0..JIT_PARTICLES.min(self.samples) {
                let key = RunKey::new(self.seed, 0, i as u64);
                let interp = particle(&objective, &params, key, true).expect("interpreted");
                let jit = particle(&compiled, &params, key, true)
                    .unwrap_or_else(|e| panic!("particle {i} failed on the JIT: {e:?}"));
                let bits = |e: &vprog::runtime::estimator::Estimate| -> Vec<u64> {
                    std::iter::once(e.value)
                        .chain(e.gradient.iter().flatten().flat_map(|v| v.f64_elements()))
                        .map(f64::to_bits)
                        .collect()
                };
                assert_eq!(
                    bits(&interp),
                    bits(&jit),
                    "particle {i}: the JIT and the interpreter differ\n{}",
                    self.source
                );
            }
        }

        let outcome = Outcome {
            value: Moments::of(&values),
            gradient: names
                .iter()
                .cloned()
                .zip(components.iter().map(|c| Moments::of(c)))
                .collect(),
        };
        let mut failures = Vec::new();
        if let Some(exact) = self.value {
            self.compare("value", exact, outcome.value, &mut failures);
        }
        for (name, exact) in &self.gradient {
            self.compare(
                &format!("d/d{name}"),
                *exact,
                outcome.grad(name),
                &mut failures,
            );
        }
        assert!(
            failures.is_empty(),
            "{} sample{}, seed {}:\n{}\nprogram:\n{}",
            self.samples,
            if self.samples == 1 { "" } else { "s" },
            self.seed,
            failures.join("\n"),
            self.source
        );
        outcome
    }

    fn compare(&self, what: &str, exact: f64, m: Moments, failures: &mut Vec<String>) {
        let bound = self.max_se.unwrap_or(0.05 * (1.0 + exact.abs()));
        let tolerance = TOLERANCE_IN_SE * m.se + ROUNDING_SLACK * (1.0 + exact.abs());
        let off = if m.se > 1e-12 * (1.0 + exact.abs()) {
            format!("{:.2} SE off", (m.mean - exact) / m.se)
        } else {
            format!("every estimate equal, {:.3e} off", m.mean - exact)
        };
        let line = format!(
            "  {what}: exact {exact:.6}, mean {:.6} ± {:.6} (SE), {off}",
            m.mean, m.se
        );
        let failure = if (m.mean - exact).abs() > tolerance {
            Some(format!("{line}: outside {TOLERANCE_IN_SE} SE"))
        } else if m.se > bound {
            Some(format!(
                "{line}: SE above {bound:.4}, too noisy to detect a bias"
            ))
        } else {
            None
        };
        // Shown with `--nocapture`, to review each check's power.
        println!("{}", failure.as_deref().unwrap_or(&line));
        failures.extend(failure);
    }
}

/// The bits of the value and gradient of the first `count` particle
/// estimates of `src`'s objective `obj` (run keys `(1, 0, i)`), for
/// comparing two programs that must compute the same thing.
pub fn particle_bits(src: &str, count: usize) -> Vec<u64> {
    let mut sources = vprog::lang::SourceMap::new();
    let program = vprog::load(&mut sources, "test.vprog", src)
        .unwrap_or_else(|d| panic!("{}", vprog::render_diagnostics(&sources, &d, false)));
    let objective = program
        .objective("obj")
        .unwrap_or_else(|d| panic!("{}", vprog::render_diagnostics(&sources, &[d], false)));
    let params = ParamStore::initial(&program, 0).values();
    (0..count)
        .flat_map(|i| {
            let e = particle(&objective, &params, RunKey::new(1, 0, i as u64), true)
                .unwrap_or_else(|e| panic!("particle {i}: {e:?}"));
            std::iter::once(e.value)
                .chain(e.gradient.iter().flatten().flat_map(|v| v.f64_elements()))
                .map(f64::to_bits)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The one-call form: checks `src`'s objective `obj` against exact
/// derivatives, by parameter component name.
pub fn check(src: &str, exact: &[(&str, f64)], n: usize, seed: u64) -> Outcome {
    Case::new(src).grads(exact).samples(n).seed(seed).run()
}

// ------------------------------------------------------------------ numerics

/// `E[f(X)]` for `X ~ normal(mean, sd)`, by the trapezoidal rule in the
/// standardized variable over [−12, 12] with step 1/32. For a function
/// analytic in a strip around the real axis and growing at most
/// polynomially, the trapezoidal rule on a Gaussian weight converges
/// geometrically; the truncated tails weigh below e⁻⁷²; the error is below
/// 1e-12 for every integrand of this suite (checked against closed forms in
/// `quadrature_is_accurate`).
pub fn normal_expect(mean: f64, sd: f64, f: impl Fn(f64) -> f64) -> f64 {
    let h = 1.0 / 32.0;
    let k_max = (12.0 / h) as i64;
    let mut total = 0.0;
    for k in -k_max..=k_max {
        let e = k as f64 * h;
        total += (-0.5 * e * e).exp() * f(mean + sd * e);
    }
    total * h / (2.0 * std::f64::consts::PI).sqrt()
}

/// The nodes and weights of [`normal_expect`]'s rule, in the standardized
/// variable, for tensor-product rules in several dimensions. `h` is the
/// step; the range is ±`half_width`.
pub fn standard_normal_rule(h: f64, half_width: f64) -> Vec<(f64, f64)> {
    let k_max = (half_width / h).round() as i64;
    (-k_max..=k_max)
        .map(|k| {
            let e = k as f64 * h;
            (
                e,
                h * (-0.5 * e * e).exp() / (2.0 * std::f64::consts::PI).sqrt(),
            )
        })
        .collect()
}

/// `log N(x; mean, sd)`.
pub fn normal_logpdf(x: f64, mean: f64, sd: f64) -> f64 {
    let z = (x - mean) / sd;
    -0.5 * z * z - sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// The logistic function.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `softmax(xs)`.
pub fn softmax(xs: &[f64]) -> Vec<f64> {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = xs.iter().map(|x| (x - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|x| x / s).collect()
}

/// `C(n, k)` as a float.
pub fn choose(n: u64, k: u64) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

// ------------------------------------------------------------ dual numbers

/// A forward-mode dual number with `N` tangent directions: exact
/// derivatives (to rounding) of the closed forms, enumerations and
/// quadratures the tests write, without deriving each by hand.
#[derive(Clone, Copy, Debug)]
pub struct Dual<const N: usize> {
    /// The value.
    pub v: f64,
    /// The derivative in each direction.
    pub d: [f64; N],
}

impl<const N: usize> Dual<N> {
    /// A constant (zero derivatives).
    pub fn constant(v: f64) -> Self {
        Dual { v, d: [0.0; N] }
    }

    /// The independent variables at `at`: variable `i` has derivative 1 in
    /// direction `i`.
    pub fn variables(at: [f64; N]) -> [Self; N] {
        std::array::from_fn(|i| {
            let mut d = [0.0; N];
            d[i] = 1.0;
            Dual { v: at[i], d }
        })
    }

    fn chain(self, v: f64, dv: f64) -> Self {
        Dual {
            v,
            d: self.d.map(|x| x * dv),
        }
    }

    /// `exp(self)`.
    pub fn exp(self) -> Self {
        let e = self.v.exp();
        self.chain(e, e)
    }

    /// `ln(self)`.
    pub fn ln(self) -> Self {
        self.chain(self.v.ln(), 1.0 / self.v)
    }

    /// `self^k`.
    pub fn powi(self, k: i32) -> Self {
        self.chain(self.v.powi(k), k as f64 * self.v.powi(k - 1))
    }

    /// `√self`.
    pub fn sqrt(self) -> Self {
        let s = self.v.sqrt();
        self.chain(s, 0.5 / s)
    }

    /// The logistic function.
    pub fn sigmoid(self) -> Self {
        let s = sigmoid(self.v);
        self.chain(s, s * (1.0 - s))
    }
}

/// The value and gradient of `f` at `at`.
pub fn value_and_gradient<const N: usize>(
    at: [f64; N],
    f: impl Fn([Dual<N>; N]) -> Dual<N>,
) -> (f64, [f64; N]) {
    let r = f(Dual::variables(at));
    (r.v, r.d)
}

/// `log N(x; mean, sd)` on dual numbers.
pub fn normal_logpdf_dual<const N: usize>(x: Dual<N>, mean: Dual<N>, sd: Dual<N>) -> Dual<N> {
    let z = (x - mean) / sd;
    z * z * -0.5 - sd.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln()
}

/// `Σᵢ terms[i]` on dual numbers.
pub fn sum_dual<const N: usize>(terms: impl IntoIterator<Item = Dual<N>>) -> Dual<N> {
    terms
        .into_iter()
        .fold(Dual::constant(0.0), |acc, t| acc + t)
}

/// `log Σᵢ exp(xᵢ)` on dual numbers, shifted by the maximum for stability.
pub fn logsumexp_dual<const N: usize>(xs: &[Dual<N>]) -> Dual<N> {
    let m = xs.iter().map(|x| x.v).fold(f64::NEG_INFINITY, f64::max);
    sum_dual(xs.iter().map(|&x| (x - m).exp())).ln() + m
}

macro_rules! dual_binary {
    ($trait:ident, $method:ident, |$a:ident, $b:ident| $value:expr, $da:expr, $db:expr) => {
        impl<const N: usize> std::ops::$trait for Dual<N> {
            type Output = Dual<N>;
            // The chain rule mixes operations on purpose.
            #[allow(clippy::suspicious_arithmetic_impl)]
            fn $method(self, rhs: Dual<N>) -> Dual<N> {
                let ($a, $b) = (self.v, rhs.v);
                let (da, db) = ($da, $db);
                Dual {
                    v: $value,
                    d: std::array::from_fn(|i| da * self.d[i] + db * rhs.d[i]),
                }
            }
        }
        impl<const N: usize> std::ops::$trait<f64> for Dual<N> {
            type Output = Dual<N>;
            fn $method(self, rhs: f64) -> Dual<N> {
                self.$method(Dual::constant(rhs))
            }
        }
        impl<const N: usize> std::ops::$trait<Dual<N>> for f64 {
            type Output = Dual<N>;
            fn $method(self, rhs: Dual<N>) -> Dual<N> {
                Dual::constant(self).$method(rhs)
            }
        }
    };
}

dual_binary!(Add, add, |a, b| a + b, 1.0, 1.0);
dual_binary!(Sub, sub, |a, b| a - b, 1.0, -1.0);
dual_binary!(Mul, mul, |a, b| a * b, b, a);
dual_binary!(Div, div, |a, b| a / b, 1.0 / b, -a / (b * b));

impl<const N: usize> std::ops::Neg for Dual<N> {
    type Output = Dual<N>;
    fn neg(self) -> Dual<N> {
        Dual {
            v: -self.v,
            d: self.d.map(|x| -x),
        }
    }
}

/// Asserts that a quadrature and the same quadrature with a coarser step
/// agree to 1e-9 in value and every derivative: the stated accuracy of
/// the exact values computed by quadrature.
pub fn assert_converged<const N: usize>(fine: Dual<N>, coarse: Dual<N>) {
    let close = (fine.v - coarse.v).abs() < 1e-9
        && fine
            .d
            .iter()
            .zip(&coarse.d)
            .all(|(a, b)| (a - b).abs() < 1e-9);
    assert!(
        close,
        "the quadrature has not converged: {fine:?} vs {coarse:?}"
    );
}

/// A sink keeping the deterministic reports (numbers and arrays) of a run.
#[derive(Default)]
pub struct Reports(pub Vec<(String, Vec<f64>)>);

impl vprog::runtime::session::Sink for Reports {
    fn fit_finished(&mut self, _: &str, _: &vprog::runtime::fit::FitReport) {}
    fn report(&mut self, name: &str, value: &vprog::runtime::session::ReportValue) {
        if let vprog::runtime::session::ReportValue::Values(v) = value {
            self.0.push((name.to_string(), v.clone()));
        }
    }
}

/// Runs `src` (seed 0) and returns its deterministic reports, by name.
pub fn reports(src: &str) -> Vec<(String, Vec<f64>)> {
    let mut sources = vprog::lang::SourceMap::new();
    let program = vprog::load(&mut sources, "t.vprog", src)
        .unwrap_or_else(|d| panic!("{}", vprog::render_diagnostics(&sources, &d, false)));
    let mut sink = Reports::default();
    vprog::runtime::session::Session::new(program, 0)
        .run(&mut sink)
        .unwrap_or_else(|e| {
            panic!(
                "{}",
                vprog::render_diagnostics(&sources, &[vprog::session_error_diagnostic(&e)], false)
            )
        });
    sink.0
}
