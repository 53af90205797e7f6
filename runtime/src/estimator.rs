//! Running estimator programs: one particle's estimate of an objective and
//! of its gradient, combining the runs that `enum` and `mvd` sites need.
//!
//! **Enumeration.** An `enum` site's value is forced by the driver; a run
//! that reaches an unforced one takes the first value of its support and
//! records it. Every complete assignment is one run; the driver explores
//! them depth-first — after a run, each site it extended spawns one run per
//! other value, with the earlier extended sites fixed at their first
//! values — so there are exactly as many runs as assignments. Each run's
//! outputs are already weighted by the probability of its assignment (ADEV
//! multiplies by `W`), so the particle's value and gradient are the sums
//! (over the assignments of nonzero probability: see [`particle`]).
//!
//! **Measure-valued derivatives.** Each `mvd` site's cotangent is a coupled
//! difference of continuations: the run's own objective, and the expected
//! objective of a branch run with the site forced to an alternative value
//! and everything before it — including the enumerated sites before it —
//! unchanged (counter-based randomness reproduces every draw). Enumerated
//! sites *after* the mvd site are enumerated afresh in the branch, whose
//! value is the weighted average over its completions. With the
//! cotangents known, one gradient run produces the particle's gradient.

use crate::backend::Runs;
use crate::interp::{EnumEvent, MvdEvent, RunContext, RunError, SiteKey};
use crate::rng::RunKey;
use crate::value::Value;
use std::collections::HashMap;
use vprog_compiler::dist::DistKind;

/// One particle's estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    /// The estimate of the objective.
    pub value: f64,
    /// The estimate of its gradient, per parameter (when asked for).
    pub gradient: Option<Vec<Value>>,
}

/// The forced values of enum sites for one run.
type Forcing = HashMap<SiteKey, Value>;

/// The outputs of one run of an estimator or gradient program.
struct RunOut {
    value: f64,
    total: f64,
    log_weight: f64,
    gradient: Option<Vec<Value>>,
    ctx: RunContext,
}

fn run_once<R: Runs + ?Sized>(
    runner: &R,
    params: &[Value],
    key: RunKey,
    forced: &Forcing,
    cotangents: &HashMap<SiteKey, Value>,
    gradient: bool,
) -> Result<RunOut, RunError> {
    let mut ctx = RunContext::new(key);
    ctx.forced = forced.clone();
    ctx.mvd_cotangents = cotangents.clone();
    let mut args = params.to_vec();
    if gradient {
        args.push(Value::F(1.0));
    }
    let outs = if gradient {
        runner.run_gradient(&args, &mut ctx)?
    } else {
        runner.run_estimator(&args, &mut ctx)?
    };
    let f = |i: usize| outs[i].as_f64().unwrap_or(f64::NAN);
    Ok(RunOut {
        value: f(0),
        total: f(2),
        log_weight: f(3),
        gradient: gradient.then(|| outs[4..].to_vec()),
        ctx,
    })
}

/// The forcings of the sibling runs of a run made with `forced`: one per
/// other value of each enum site the run extended.
fn siblings(forced: &Forcing, events: &[EnumEvent]) -> Vec<Forcing> {
    let mut out = Vec::new();
    let mut prefix = forced.clone();
    for e in events {
        if !e.extended {
            continue;
        }
        for u in 1..e.support {
            let mut f = prefix.clone();
            let value = match e.value {
                Value::B(_) => Value::B(u == 1),
                _ => Value::I(u),
            };
            f.insert(e.key.clone(), value);
            out.push(f);
        }
        prefix.insert(e.key.clone(), e.value.clone());
    }
    out
}

/// The expected objective given `forced`, enumerating the enum sites the
/// forcing leaves open (the weighted average of the completions' totals).
fn enumerated_total<R: Runs + ?Sized>(
    runner: &R,
    params: &[Value],
    key: RunKey,
    forced: Forcing,
) -> Result<f64, RunError> {
    let mut stack = vec![forced];
    let mut runs: Vec<(f64, f64)> = Vec::new();
    while let Some(f) = stack.pop() {
        let out = run_once(runner, params, key, &f, &HashMap::new(), false)?;
        stack.extend(siblings(&f, &out.ctx.enum_events));
        runs.push((out.log_weight, out.total));
    }
    let max = runs.iter().map(|r| r.0).fold(f64::NEG_INFINITY, f64::max);
    let (mut num, mut den) = (0.0, 0.0);
    for (lw, total) in runs {
        let w = (lw - max).exp();
        if w > 0.0 {
            num += w * total;
            den += w;
        }
    }
    Ok(num / den)
}

/// The weak-derivative cotangent of an mvd site from the run's own
/// objective `main` and the branch objectives `alts` (in the order of
/// `event.alternatives`).
fn mvd_cotangent(event: &MvdEvent, main: f64, alts: &[f64]) -> Value {
    match event.dist {
        // ∂p E = ℓ(true) − ℓ(false).
        DistKind::Flip => {
            let v = event.value.as_bool().unwrap_or(false);
            Value::F(if v { main - alts[0] } else { alts[0] - main })
        }
        // ∂pₖ E = ℓ(k): the run's own objective for k = v, a branch run
        // for every other k (the same derivative `enum` and `reinforce`
        // give for the probabilities as free coordinates).
        DistKind::Categorical => {
            let v = event.value.as_i64().unwrap_or(0) as usize;
            let mut d = vec![0.0; event.param_len];
            let mut it = alts.iter();
            for (k, slot) in d.iter_mut().enumerate() {
                *slot = if k == v {
                    main
                } else {
                    it.next().copied().unwrap_or(f64::NAN)
                };
            }
            Value::vector(d)
        }
        // ∂λ E = E[ℓ(v + 1) − ℓ(v)].
        DistKind::Poisson => Value::F(alts[0] - main),
        // ∂p E = (1/p) E[ℓ(v) − ℓ(1 + v + v')].
        DistKind::Geometric => Value::F((main - alts[0]) / event.aux),
        // ∂p E = n E[ℓ(y + 1) − ℓ(y)], y ~ Binomial(n − 1, p).
        DistKind::Binomial => {
            if alts.is_empty() {
                return Value::F(0.0);
            }
            let v = event.value.as_i64().unwrap_or(0);
            let alt = event.alternatives[0].as_i64().unwrap_or(0);
            Value::F(
                event.aux
                    * if alt < v {
                        main - alts[0]
                    } else {
                        alts[0] - main
                    },
            )
        }
        // Each element i of a Bernoulli choice (a scalar, or a tensor of
        // independent elements) is a flip: ∂pᵢ E = ℓ(xᵢ = 1) − ℓ(xᵢ = 0)
        // with the other elements at the run's values; alternative i is
        // the run's value with element i flipped.
        DistKind::Bernoulli | DistKind::BernoulliLogits => {
            let values = event.value.as_reals();
            let d: Vec<f64> = values
                .iter()
                .zip(alts)
                .map(|(&x, &alt)| if x == 1.0 { main - alt } else { alt - main })
                .collect();
            shaped(d, event.value.shape())
        }
        // As categorical, per row: ∂P[r, j] E = ℓ(row r set to j), the
        // alternatives in row-major order skipping each row's own value.
        DistKind::CategoricalLogits => {
            let rows: Vec<i64> = event.value.as_reals().iter().map(|&v| v as i64).collect();
            let classes = event.param_len / rows.len().max(1);
            let mut it = alts.iter();
            let mut d = Vec::with_capacity(event.param_len);
            for &own in &rows {
                for k in 0..classes as i64 {
                    d.push(if k == own {
                        main
                    } else {
                        it.next().copied().unwrap_or(f64::NAN)
                    });
                }
            }
            let mut shape = event.value.shape().to_vec();
            shape.push(classes);
            shaped(d, &shape)
        }
        _ => Value::F(0.0),
    }
}

/// An `f64` value of `shape` holding `data` row-major (a scalar for an
/// empty shape).
fn shaped(data: Vec<f64>, shape: &[usize]) -> Value {
    if shape.is_empty() {
        return Value::F(data.first().copied().unwrap_or(f64::NAN));
    }
    match ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(shape), data) {
        Ok(a) => Value::from_f64_array(a),
        Err(_) => Value::F(f64::NAN),
    }
}

/// One particle's estimate of the objective (and, with `gradient`, of its
/// gradient) for run key `key`.
pub fn particle<R: Runs + ?Sized>(
    runner: &R,
    params: &[Value],
    key: RunKey,
    gradient: bool,
) -> Result<Estimate, RunError> {
    let obj = runner.objective();
    let mut stack: Vec<Forcing> = vec![Forcing::new()];
    let mut value = 0.0;
    let mut grad: Option<Vec<Value>> = None;
    while let Some(forced) = stack.pop() {
        let out = if gradient && obj.has_mvd {
            // Discover the mvd sites and their alternatives with a value run.
            let probe = run_once(runner, params, key, &forced, &HashMap::new(), false)?;
            let mut complete = forced.clone();
            for e in &probe.ctx.enum_events {
                complete.insert(e.key.clone(), e.value.clone());
            }
            let mut cotangents = HashMap::new();
            for m in &probe.ctx.mvd_events {
                let mut alts = Vec::new();
                for a in &m.alternatives {
                    let mut f: Forcing = probe
                        .ctx
                        .enum_events
                        .iter()
                        .filter(|e| e.order < m.order)
                        .map(|e| (e.key.clone(), e.value.clone()))
                        .collect();
                    f.insert(m.key.clone(), a.clone());
                    alts.push(enumerated_total(runner, params, key, f)?);
                }
                cotangents.insert(m.key.clone(), mvd_cotangent(m, probe.total, &alts));
            }
            stack.extend(siblings(&forced, &probe.ctx.enum_events));
            run_once(runner, params, key, &complete, &cotangents, true)?
        } else {
            let out = run_once(runner, params, key, &forced, &HashMap::new(), gradient)?;
            stack.extend(siblings(&forced, &out.ctx.enum_events));
            out
        };
        // An assignment of probability 0 (an enumerated value the
        // distribution rules out) contributes nothing. Its outputs are
        // 0 · ∞ = NaN when its objective is infinite — under a guide,
        // `−log q` of an impossible value is +∞ — so they are not summed.
        if out.log_weight == f64::NEG_INFINITY {
            continue;
        }
        value += out.value;
        if let Some(g) = out.gradient {
            grad = Some(match grad {
                None => g,
                Some(acc) => acc.iter().zip(&g).map(|(a, b)| add_values(a, b)).collect(),
            });
        }
    }
    Ok(Estimate {
        value,
        gradient: grad,
    })
}

/// `a + b` for two `f64` values of one shape.
pub fn add_values(a: &Value, b: &Value) -> Value {
    match (a, b) {
        (Value::F(x), Value::F(y)) => Value::F(x + y),
        _ => match (a.as_f64_array(), b.as_f64_array()) {
            (Some(x), Some(y)) => Value::from_f64_array(x + y),
            _ => a.clone(),
        },
    }
}
