//! Keyed draws and the forcing tables of `enum` and `mvd` sites.
//!
//! A [`RunContext`] is the interface between one run of an estimator
//! program and the driver that combines runs. It provides the run's key and
//! the values the driver forces sites to; it records, in execution order,
//! the `enum` sites the run reached (and whether it chose their value
//! itself) and the `mvd` sites it sampled, so the driver can schedule the
//! sibling runs that enumeration and measure-valued derivatives need.

use super::{Interp, kernels};
use crate::dist::{Dist, DistArg, DistValue, Independent, TensorArg, sample_binomial_split};
use crate::rng::RunKey;
use crate::value::{Tensor, Value};
use std::collections::HashMap;
use vprog_compiler::dist::DistKind;
use vprog_compiler::ir::{Elem, Op, OpKind, Type};

/// A site instance: its static id and the indices of the loops around it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SiteKey {
    /// The static site id.
    pub site: u32,
    /// The enclosing loops' indices, outermost first.
    pub indices: Vec<i64>,
}

/// An `enum` site reached by a run.
#[derive(Clone, Debug, PartialEq)]
pub struct EnumEvent {
    /// The site instance.
    pub key: SiteKey,
    /// The size of its support.
    pub support: i64,
    /// The value it took.
    pub value: Value,
    /// Whether the run chose the value (the first of the support) because
    /// the driver had not forced it.
    pub extended: bool,
    /// Its position in the run's sequence of enum and mvd events.
    pub order: usize,
}

/// An `mvd` site sampled by a run, with the alternative values whose
/// continuations its weak derivative needs.
#[derive(Clone, Debug, PartialEq)]
pub struct MvdEvent {
    /// The site instance.
    pub key: SiteKey,
    /// The distribution.
    pub dist: DistKind,
    /// The value the run took.
    pub value: Value,
    /// The values to evaluate the continuation at (coupled to this run).
    pub alternatives: Vec<Value>,
    /// What the cotangent formula needs besides the continuation values:
    /// `p` for the geometric, `n` for the binomial, `(is_upper, n)`... as
    /// documented in `driver::mvd`.
    pub aux: f64,
    /// The parameter's shape (a scalar, or the categorical's length).
    pub param_len: usize,
    /// Its position in the run's sequence of enum and mvd events.
    pub order: usize,
}

/// The context of one run of an estimator program.
#[derive(Clone, Debug, Default)]
pub struct RunContext {
    /// The run's randomness key.
    pub key: Option<RunKey>,
    /// Values the driver forces `enum` and `mvd` sites to.
    pub forced: HashMap<SiteKey, Value>,
    /// Cotangents of `mvd` sites (zero when absent).
    pub mvd_cotangents: HashMap<SiteKey, Value>,
    /// The `enum` sites reached, in order.
    pub enum_events: Vec<EnumEvent>,
    /// The `mvd` sites sampled, in order.
    pub mvd_events: Vec<MvdEvent>,
    /// The host functions the program may call.
    pub host: Option<std::sync::Arc<crate::host::HostRegistry>>,
    events: usize,
    // Backward sweeps recompute regions, so a run may evaluate one site
    // instance several times; it records each instance once.
    seen: HashMap<SiteKey, usize>,
    seen_mvd: HashMap<SiteKey, usize>,
}

impl RunContext {
    /// A context for a run with key `key` and nothing forced.
    pub fn new(key: RunKey) -> RunContext {
        RunContext {
            key: Some(key),
            ..RunContext::default()
        }
    }

    fn next_order(&mut self) -> usize {
        self.events += 1;
        self.events - 1
    }
}

fn indices_of(vals: &[&Value]) -> Vec<i64> {
    vals.iter().filter_map(|v| v.as_i64()).collect()
}

/// Converts IR values to distribution arguments.
fn dist_args<'a>(vals: &[&'a Value]) -> Result<Vec<DistArg<'a>>, String> {
    vals.iter()
        .map(|v| match v {
            Value::F(x) => Ok(DistArg::Real(*x)),
            Value::I(x) => Ok(DistArg::Int(*x)),
            Value::B(_) => Err("a boolean distribution parameter".to_string()),
            Value::T(t) => match &**t {
                Tensor::F(a) => {
                    let data = a.as_slice().ok_or("a non-contiguous tensor parameter")?;
                    match a.shape() {
                        [_] => Ok(DistArg::Vector(data)),
                        [r, c] => Ok(DistArg::Matrix {
                            data,
                            rows: *r,
                            cols: *c,
                        }),
                        _ => Err("a distribution parameter of rank > 2".to_string()),
                    }
                }
                _ => Err("a non-real tensor parameter".to_string()),
            },
        })
        .collect()
}

/// Converts a sampled value to an IR value.
pub(crate) fn value_of(d: DistValue) -> Value {
    match d {
        DistValue::Real(x) => Value::F(x),
        DistValue::Int(x) => Value::I(x),
        DistValue::Bool(x) => Value::B(x),
        DistValue::Vector(v) => Value::vector(v),
    }
}

/// Whether a draw of `kind` with a value of type `result_ty` is a tensor
/// of independent scalar choices (see [`Independent`]).
fn is_independent(kind: DistKind, result_ty: &Type) -> bool {
    !result_ty.is_scalar() && (kind.is_elementwise() || kind == DistKind::CategoricalLogits)
}

/// The tensor choice of `kind` with parameter values `params`.
fn independent<'a>(kind: DistKind, params: &[&'a Value]) -> Result<Independent<'a>, String> {
    let args = params
        .iter()
        .map(|v| match v {
            Value::F(x) => Ok(TensorArg::Scalar(*x)),
            Value::I(x) => Ok(TensorArg::Scalar(*x as f64)),
            Value::B(_) => Err("a boolean distribution parameter".to_string()),
            Value::T(t) => match &**t {
                Tensor::F(a) => Ok(TensorArg::Tensor {
                    data: a.as_slice().ok_or("a non-contiguous tensor parameter")?,
                    shape: a.shape(),
                }),
                _ => Err("a non-real tensor parameter".to_string()),
            },
        })
        .collect::<Result<Vec<_>, String>>()?;
    Independent::new(kind, &args).map_err(|e| e.to_string())
}

/// The value of type `ty` (an `f64` or `i64` tensor) holding `values`
/// row-major.
fn tensor_value(values: &[DistValue], ty: &Type) -> Result<Value, String> {
    let wrong = || format!("internal error: {} drawn values for a {ty}", values.len());
    let shape = ndarray::IxDyn(&ty.shape);
    let tensor = match ty.elem {
        Elem::F64 => {
            let data = values
                .iter()
                .map(|v| match v {
                    DistValue::Real(x) => Ok(*x),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Tensor::F(ndarray::ArrayD::from_shape_vec(shape, data).map_err(|_| wrong())?)
        }
        Elem::I64 => {
            let data = values
                .iter()
                .map(|v| match v {
                    DistValue::Int(x) => Ok(*x),
                    _ => Err(wrong()),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Tensor::I(ndarray::ArrayD::from_shape_vec(shape, data).map_err(|_| wrong())?)
        }
        Elem::Bool => return Err(wrong()),
    };
    Ok(Value::T(std::sync::Arc::new(tensor)))
}

/// Draws from `kind` with parameter values `params` on the stream of
/// `(site, stream, indices)`, a value of type `result_ty`.
fn draw(
    ctx: &RunContext,
    kind: DistKind,
    params: &[&Value],
    site: u32,
    stream: u32,
    indices: &[i64],
    result_ty: &Type,
) -> Result<Value, String> {
    let key = ctx
        .key
        .ok_or("internal error: a draw outside a keyed run")?;
    if is_independent(kind, result_ty) {
        let choice = independent(kind, params)?;
        let mut rng = key.site_stream(site, stream, indices);
        return tensor_value(&choice.sample(&mut rng), result_ty);
    }
    let args = dist_args(params)?;
    let dist = Dist::new(kind, &args).map_err(|e| e.to_string())?;
    let mut rng = key.site_stream(site, stream, indices);
    Ok(value_of(dist.sample(&mut rng)))
}

/// A batched draw (see `OpKind::Draw`): row `j` is what [`draw`] gives
/// for row `j` of each of `params` and element `j` of each `i64[n]` of
/// `indices` (scalar indices are the same in every row), on
/// `(site, stream)`.
fn batched_draw(
    ctx: &RunContext,
    kind: DistKind,
    (params, indices): (&[&Value], &[&Value]),
    (site, stream): (u32, u32),
    result_ty: &Type,
) -> Result<Value, String> {
    let n = result_ty.shape.first().copied().unwrap_or(0);
    let row_ty = Type::tensor(result_ty.elem, result_ty.shape[1..].to_vec());
    let mut rows = Vec::with_capacity(n);
    for j in 0..n as i64 {
        let row_params = params
            .iter()
            .map(|p| kernels::index(p, j))
            .collect::<Result<Vec<_>, _>>()?;
        let row_indices = indices
            .iter()
            .map(|v| match v {
                Value::T(_) => kernels::index(v, j)?
                    .as_i64()
                    .ok_or_else(|| "internal error: a non-integer draw index".to_string()),
                other => other
                    .as_i64()
                    .ok_or_else(|| "internal error: a non-integer draw index".to_string()),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let refs: Vec<&Value> = row_params.iter().collect();
        rows.push(draw(ctx, kind, &refs, site, stream, &row_indices, &row_ty)?);
    }
    kernels::stack(&rows, result_ty)
}

/// An mvd site's draw: the value, the alternatives, `aux` and the number
/// of elements of the differentiated parameter.
type MvdDraw = (Value, Vec<Value>, f64, usize);

/// Samples an mvd site in a main run and lists the alternatives its weak
/// derivative evaluates the continuation at (see `driver::mvd` for the
/// cotangent formulas that consume them).
fn mvd_sample(
    ctx: &RunContext,
    kind: DistKind,
    params: &[&Value],
    site: u32,
    indices: &[i64],
    result_ty: &Type,
) -> Result<MvdDraw, String> {
    let key = ctx
        .key
        .ok_or("internal error: a draw outside a keyed run")?;
    if is_independent(kind, result_ty) {
        return mvd_sample_tensor(&key, kind, params, site, indices, result_ty);
    }
    let args = dist_args(params)?;
    let dist = Dist::new(kind, &args).map_err(|e| e.to_string())?;
    let mut rng = key.site_stream(site, 0, indices);
    Ok(match kind {
        DistKind::Bernoulli | DistKind::BernoulliLogits => {
            let v = value_of(dist.sample(&mut rng));
            let x = v.as_f64().unwrap_or(0.0);
            (v, vec![Value::F(1.0 - x)], 0.0, 1)
        }
        DistKind::CategoricalLogits => {
            let v = value_of(dist.sample(&mut rng));
            let k = params[0].shape().first().copied().unwrap_or(0);
            let vi = v.as_i64().unwrap_or(0);
            let alts = (0..k as i64).filter(|&j| j != vi).map(Value::I).collect();
            (v, alts, 0.0, k)
        }
        DistKind::Flip => {
            let v = value_of(dist.sample(&mut rng));
            let b = v.as_bool().unwrap_or(false);
            (v, vec![Value::B(!b)], 0.0, 1)
        }
        DistKind::Categorical => {
            let v = value_of(dist.sample(&mut rng));
            let k = params[0].shape().first().copied().unwrap_or(0);
            let vi = v.as_i64().unwrap_or(0);
            let alts = (0..k as i64).filter(|&j| j != vi).map(Value::I).collect();
            (v, alts, 0.0, k)
        }
        DistKind::Poisson => {
            let v = value_of(dist.sample(&mut rng));
            let vi = v.as_i64().unwrap_or(0);
            (v, vec![Value::I(vi + 1)], 0.0, 1)
        }
        DistKind::Geometric => {
            // The weak derivative in p is (1/p)(Geom(p) − (1 + Geom(p) + Geom(p'))):
            // the negative part is 1 + a sum of two geometrics, coupled to
            // the main draw by sharing its first term.
            let v = value_of(dist.sample(&mut rng));
            let mut rng2 = key.site_stream(site, 1, indices);
            let extra = value_of(dist.sample(&mut rng2)).as_i64().unwrap_or(0);
            let vi = v.as_i64().unwrap_or(0);
            let p = params[0].as_f64().unwrap_or(f64::NAN);
            (v, vec![Value::I(vi + 1 + extra)], p, 1)
        }
        DistKind::Binomial => {
            // v = y + b with y ~ Binomial(n − 1, p), b ~ Bernoulli(p); the
            // weak derivative is n (ℓ(y + 1) − ℓ(y)): the alternative is the
            // member of {y, y + 1} that v is not.
            let n = params[0].as_i64().unwrap_or(0);
            let p = params[1].as_f64().unwrap_or(f64::NAN);
            if n == 0 {
                (Value::I(0), vec![], 0.0, 1)
            } else {
                let (y, b) = sample_binomial_split(n, p, &mut rng).map_err(|e| e.to_string())?;
                let v = y + i64::from(b);
                let alt = if b { y } else { y + 1 };
                (Value::I(v), vec![Value::I(alt)], n as f64, 1)
            }
        }
        other => return Err(format!("internal error: mvd is not defined for {other}")),
    })
}

/// The mvd draw of a tensor choice of independent elements: one
/// alternative per element and other value of that element, in row-major
/// order of the elements and increasing order of the values — for the
/// Bernoulli families the value with element `i` flipped, for
/// `categorical_logits` over rows the value with row `r` set to each `j`
/// other than its own. Each element's weak derivative is that of its
/// scalar family, with the other elements held at the run's values
/// (`estimator::mvd_cotangent`).
fn mvd_sample_tensor(
    key: &crate::rng::RunKey,
    kind: DistKind,
    params: &[&Value],
    site: u32,
    indices: &[i64],
    result_ty: &Type,
) -> Result<MvdDraw, String> {
    let choice = independent(kind, params)?;
    let mut rng = key.site_stream(site, 0, indices);
    let values = choice.sample(&mut rng);
    let value = tensor_value(&values, result_ty)?;
    let mut alternatives = Vec::new();
    let mut alternative = |i: usize, replacement: DistValue| -> Result<(), String> {
        let mut changed = values.clone();
        changed[i] = replacement;
        alternatives.push(tensor_value(&changed, result_ty)?);
        Ok(())
    };
    let param_len = match kind {
        DistKind::CategoricalLogits => {
            let classes = params[0].shape().last().copied().unwrap_or(0);
            for (row, v) in values.iter().enumerate() {
                let own = match v {
                    DistValue::Int(k) => *k,
                    _ => -1,
                };
                for j in (0..classes as i64).filter(|&j| j != own) {
                    alternative(row, DistValue::Int(j))?;
                }
            }
            values.len() * classes
        }
        DistKind::Bernoulli | DistKind::BernoulliLogits => {
            for (i, v) in values.iter().enumerate() {
                let x = match v {
                    DistValue::Real(x) => *x,
                    _ => 0.0,
                };
                alternative(i, DistValue::Real(1.0 - x))?;
            }
            values.len()
        }
        other => return Err(format!("internal error: mvd is not defined for {other}")),
    };
    Ok((value, alternatives, 0.0, param_len))
}

/// Evaluates a draw, forcing-table read, or mvd operation.
pub(crate) fn apply(op: &Op, it: &mut Interp) -> Result<Value, String> {
    let owned: Vec<Value> = op.args.iter().map(|&a| it.get(a).clone()).collect();
    let ty = it.func.ty(op.results[0]).clone();
    eval_effect(&op.kind, &owned, &ty, it.ctx)
}

/// Evaluates the effect operation `kind` on argument values `owned`, with
/// result type `result_ty`, in `ctx` (shared by the interpreter and the
/// JIT's runtime calls, so both record the same events).
pub(crate) fn eval_effect(
    kind: &OpKind,
    owned: &[Value],
    result_ty: &vprog_compiler::ir::Type,
    ctx: &mut RunContext,
) -> Result<Value, String> {
    let vals: Vec<&Value> = owned.iter().collect();
    match kind {
        OpKind::Draw {
            dist,
            site,
            stream,
            num_params,
            batch,
        } => {
            let np = *num_params as usize;
            if *batch > 0 {
                return batched_draw(
                    ctx,
                    *dist,
                    (&vals[..np], &vals[np..]),
                    (*site, *stream),
                    result_ty,
                );
            }
            let indices = indices_of(&vals[np..]);
            draw(
                &*ctx,
                *dist,
                &vals[..np],
                *site,
                *stream,
                &indices,
                result_ty,
            )
        }
        OpKind::EnumValue { site, boolean } => {
            let support = vals[0].as_i64().unwrap_or(0);
            if support <= 0 {
                return Err(format!(
                    "an enumerated choice has an empty support ({support} values)"
                ));
            }
            let key = SiteKey {
                site: *site,
                indices: indices_of(&vals[1..]),
            };
            if let Some(&i) = ctx.seen.get(&key) {
                return Ok(ctx.enum_events[i].value.clone());
            }
            let (value, extended) = match ctx.forced.get(&key) {
                Some(v) => (v.clone(), false),
                None => (
                    if *boolean {
                        Value::B(false)
                    } else {
                        Value::I(0)
                    },
                    true,
                ),
            };
            let order = ctx.next_order();
            ctx.seen.insert(key.clone(), ctx.enum_events.len());
            ctx.enum_events.push(EnumEvent {
                key,
                support,
                value: value.clone(),
                extended,
                order,
            });
            Ok(value)
        }
        OpKind::MvdValue {
            dist,
            site,
            num_params,
        } => {
            let np = *num_params as usize;
            let key = SiteKey {
                site: *site,
                indices: indices_of(&vals[np..]),
            };
            if let Some(v) = ctx.forced.get(&key) {
                return Ok(v.clone());
            }
            if let Some(&i) = ctx.seen_mvd.get(&key) {
                return Ok(ctx.mvd_events[i].value.clone());
            }
            let (value, alternatives, aux, param_len) =
                mvd_sample(&*ctx, *dist, &vals[..np], *site, &key.indices, result_ty)?;
            let order = ctx.next_order();
            ctx.seen_mvd.insert(key.clone(), ctx.mvd_events.len());
            ctx.mvd_events.push(MvdEvent {
                key,
                dist: *dist,
                value: value.clone(),
                alternatives,
                aux,
                param_len,
                order,
            });
            Ok(value)
        }
        OpKind::MvdCotangent { site } => {
            let key = SiteKey {
                site: *site,
                indices: indices_of(&vals),
            };
            Ok(ctx
                .mvd_cotangents
                .get(&key)
                .cloned()
                .unwrap_or_else(|| Value::zeros(result_ty)))
        }
        OpKind::Subsample { n, m } => {
            let key = ctx
                .key
                .ok_or("internal error: a minibatch outside a keyed run")?;
            let idx = crate::rng::subsample(key.base(), *n as usize, *m as usize);
            Ok(Value::T(std::sync::Arc::new(Tensor::I(
                ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&[idx.len()]), idx)
                    .map_err(|e| e.to_string())?,
            ))))
        }
        _ => Err("internal error: not an effect operation".into()),
    }
}
