//! The estimator form of each strategy at one random choice.
//!
//! * `reparam`: a keyed draw of parameter-free noise ε and a differentiable
//!   map `v = T(ε; θ)`: normal `μ + σε`, lognormal `exp(μ + σε)`, uniform
//!   `a + (b − a)u`, exponential `e / λ`, laplace and cauchy `loc + scale·ε`,
//!   multivariate normals `μ + σ⊙ε` and `μ + Lε`, and student-t
//!   `loc + scale·z·√(ν / 2g)` with `g ~ gamma(ν/2, 1)` implicitly
//!   reparameterized (so a learned ν gets its gradient too).
//! * `implicit` (Figurnov, Mohamed, Mnih 2018): for `g ~ gamma(α, 1)`, drawn
//!   without derivative, `ĝ = g − (P(α, g) − stop P(α, g)) / stop p(g; α)`
//!   has value `g` and derivative `−∂α P(α, g) / p(g; α)`, the implicit
//!   reparameterization gradient (`P` is the regularized incomplete gamma
//!   function, the CDF). The rate enters pathwise as `ĝ / β`; beta and
//!   dirichlet are ratios of implicitly reparameterized gammas.
//! * `reinforce`: a keyed draw, its log density `log p`, and the terms
//!   `δ = log p − stop(log p)` and `stop(cost + b)·δ` of the surrogate.
//! * `enum`: the value the driver forces, and `log p` into the log weight.
//! * `mvd`: the run's coupled draw, and `⟨stop(δ), P − stop(P)⟩` with the
//!   driver's weak-derivative cotangent `δ` of the differentiated parameter
//!   `P`.

use super::State;
use crate::density::{guard_params, log_density};
use crate::dist::{DistKind, StrategyKind};
use crate::ir::{Builder, OpKind, SiteInfo, Type, ValueId};
use crate::prim::Prim;
use crate::transform::TransformError;

/// A keyed draw of `dist` with the given parameters at `(site, stream)`.
fn draw(
    b: &mut Builder,
    dist: DistKind,
    params: &[ValueId],
    site: u32,
    stream: u32,
    indices: &[ValueId],
) -> ValueId {
    let types: Vec<Type> = params.iter().map(|&p| b.ty(p)).collect();
    let ty = crate::density::value_type(dist, &types);
    let mut args = params.to_vec();
    args.extend_from_slice(indices);
    b.push(
        OpKind::Draw {
            dist,
            site,
            stream,
            num_params: params.len() as u32,
            batch: 0,
        },
        args,
        vec![ty],
        vec![],
    )[0]
}

/// Standard noise of `dist` (parameters 0 and 1, or 1 for exponential).
fn noise(b: &mut Builder, dist: DistKind, site: u32, stream: u32, indices: &[ValueId]) -> ValueId {
    let params = match dist {
        DistKind::Exponential => vec![b.f64(1.0)],
        _ => vec![b.f64(0.0), b.f64(1.0)],
    };
    draw(b, dist, &params, site, stream, indices)
}

/// Independent standard normals of shape `shape` (one stream, the
/// elements in row-major order).
fn tensor_noise(b: &mut Builder, shape: &[usize], site: u32, indices: &[ValueId]) -> ValueId {
    let ty = Type::tensor(crate::ir::Elem::F64, shape.to_vec());
    let zeros = b.zeros(&ty);
    let ones = b.full(&ty, 1.0);
    draw(b, DistKind::MvNormalDiag, &[zeros, ones], site, 0, indices)
}

/// `p`, broadcast to `ty` if it is a scalar.
fn broadcast_param(b: &mut Builder, p: ValueId, ty: &Type) -> ValueId {
    if b.ty(p).is_scalar() {
        b.broadcast_like(p, ty)
    } else {
        p
    }
}

/// An implicitly reparameterized draw from gamma(shape, 1) (elementwise for
/// a vector shape, one stream per element).
fn implicit_gamma(
    b: &mut Builder,
    shape: ValueId,
    site: u32,
    stream: u32,
    indices: &[ValueId],
) -> ValueId {
    let ty = b.ty(shape);
    let g = if ty.is_scalar() {
        let one = b.f64(1.0);
        draw(b, DistKind::Gamma, &[shape, one], site, stream, indices)
    } else {
        let n = ty.shape[0];
        let one = b.f64(1.0);
        let elems: Vec<ValueId> = (0..n)
            .map(|i| {
                let idx = b.i64(i as i64);
                let a = b.prim(Prim::Index, &[shape, idx]);
                draw(
                    b,
                    DistKind::Gamma,
                    &[a, one],
                    site,
                    stream + i as u32,
                    indices,
                )
            })
            .collect();
        b.prim(Prim::Pack, &elems)
    };
    // ĝ = g − (P(α, g) − stop P(α, g)) / stop p(g; α), with g constant.
    let cdf = b.prim(Prim::GammaP, &[shape, g]);
    let cdf_stop = b.stop(cdf);
    let num = b.sub(cdf, cdf_stop);
    let one = b.full(&ty, 1.0);
    let am1 = b.sub(shape, one);
    let lg = b.un(Prim::Log, g);
    let t = b.mul(am1, lg);
    let t = b.sub(t, g);
    let lgam = b.un(Prim::Lgamma, shape);
    let t = b.sub(t, lgam);
    let pdf = b.un(Prim::Exp, t);
    let pdf = b.stop(pdf);
    let corr = b.div(num, pdf);
    b.sub(g, corr)
}

fn reparam(
    b: &mut Builder,
    dist: DistKind,
    p: &[ValueId],
    site: u32,
    idx: &[ValueId],
) -> Result<ValueId, String> {
    let types: Vec<Type> = p.iter().map(|&v| b.ty(v)).collect();
    let value_ty = crate::density::value_type(dist, &types);
    Ok(match dist {
        DistKind::Normal | DistKind::MvNormalDiag if !value_ty.is_scalar() => {
            // μ + σ ⊙ ε elementwise, scalar parameters broadcast.
            let e = tensor_noise(b, &value_ty.shape, site, idx);
            let mean = broadcast_param(b, p[0], &value_ty);
            let scale = broadcast_param(b, p[1], &value_ty);
            let s = b.mul(scale, e);
            b.add(mean, s)
        }
        DistKind::Normal | DistKind::MvNormalDiag => {
            let e = noise(b, DistKind::Normal, site, 0, idx);
            let s = b.mul(p[1], e);
            b.add(p[0], s)
        }
        DistKind::Laplace | DistKind::Cauchy => {
            let e = noise(b, dist, site, 0, idx);
            let s = b.mul(p[1], e);
            b.add(p[0], s)
        }
        DistKind::LogNormal => {
            let e = noise(b, DistKind::Normal, site, 0, idx);
            let s = b.mul(p[1], e);
            let z = b.add(p[0], s);
            b.un(Prim::Exp, z)
        }
        DistKind::Uniform => {
            let u = noise(b, DistKind::Uniform, site, 0, idx);
            let w = b.sub(p[1], p[0]);
            let s = b.mul(w, u);
            b.add(p[0], s)
        }
        DistKind::Exponential => {
            let e = noise(b, DistKind::Exponential, site, 0, idx);
            b.div(e, p[0])
        }
        DistKind::StudentT => {
            let (df, loc, scale) = (p[0], p[1], p[2]);
            let z = noise(b, DistKind::Normal, site, 0, idx);
            let half = b.f64(0.5);
            let hdf = b.mul(df, half);
            let g = implicit_gamma(b, hdf, site, 1, idx);
            let two = b.f64(2.0);
            let g2 = b.mul(two, g);
            let r = b.div(df, g2);
            let r = b.un(Prim::Sqrt, r);
            let t = b.mul(z, r);
            let t = b.mul(scale, t);
            b.add(loc, t)
        }
        DistKind::MvNormal => {
            let n = b.ty(p[0]).shape[0];
            let e = tensor_noise(b, &[n], site, idx);
            // Only the lower triangle is the Cholesky factor (the density
            // reads no other entry), so only it may receive a gradient.
            let l = b.un(Prim::Tril, p[1]);
            let s = b.prim(Prim::MatVec { transpose: false }, &[l, e]);
            b.add(p[0], s)
        }
        other => return Err(format!("{other} has no reparameterization")),
    })
}

fn implicit(
    b: &mut Builder,
    dist: DistKind,
    p: &[ValueId],
    site: u32,
    idx: &[ValueId],
) -> Result<ValueId, String> {
    Ok(match dist {
        DistKind::Gamma => {
            let g = implicit_gamma(b, p[0], site, 0, idx);
            b.div(g, p[1])
        }
        DistKind::Beta => {
            let g1 = implicit_gamma(b, p[0], site, 0, idx);
            let g2 = implicit_gamma(b, p[1], site, 1, idx);
            let s = b.add(g1, g2);
            b.div(g1, s)
        }
        DistKind::Dirichlet => {
            let g = implicit_gamma(b, p[0], site, 0, idx);
            let ty = b.ty(g);
            let s = b.un(Prim::Sum, g);
            let s = b.broadcast_like(s, &ty);
            b.div(g, s)
        }
        other => return Err(format!("{other} has no implicit reparameterization")),
    })
}

/// The support size of an enumerable site.
fn support_size(b: &mut Builder, dist: DistKind, p: &[ValueId]) -> Result<ValueId, String> {
    Ok(match dist {
        DistKind::Flip => b.i64(2),
        DistKind::Categorical => {
            let k = b.ty(p[0]).shape[0] as i64;
            b.i64(k)
        }
        DistKind::Binomial => {
            let one = b.i64(1);
            b.add(p[0], one)
        }
        DistKind::Bernoulli | DistKind::BernoulliLogits | DistKind::CategoricalLogits => {
            let types: Vec<Type> = p.iter().map(|&v| b.ty(v)).collect();
            let (elements, per_element) = tensor_enumeration(dist, &types);
            let joint = u32::try_from(elements)
                .ok()
                .and_then(|n| (per_element as i64).checked_pow(n))
                .filter(|&j| {
                    j as usize <= crate::dist::MAX_ENUMERATED_JOINT_VALUES.max(per_element)
                })
                .ok_or_else(|| format!("{dist}: too many joint values to enumerate"))?;
            b.i64(joint)
        }
        other => return Err(format!("{other} does not have a finite support")),
    })
}

/// An enumerated choice of a tensor family as `(elements, values per
/// element)`: its value is a tensor (or scalar) of `elements` independent
/// elements, and its joint support is enumerated as the integers
/// `0..valuesᵉˡᵉᵐᵉⁿᵗˢ`, element `i` (row-major) being digit `i` in base
/// `values`.
fn tensor_enumeration(dist: DistKind, types: &[Type]) -> (usize, usize) {
    match dist {
        DistKind::CategoricalLogits => match types[0].shape.as_slice() {
            [rows, classes] => (*rows, *classes),
            [classes] => (1, *classes),
            _ => (1, 1),
        },
        _ => (types[0].shape.iter().product(), 2),
    }
}

/// The value of an enumerated tensor-family choice from its joint index
/// `k` (see [`tensor_enumeration`]), of type `value_ty`.
fn decode_enumerated(
    b: &mut Builder,
    dist: DistKind,
    k: ValueId,
    per_element: usize,
    value_ty: &Type,
) -> ValueId {
    let element = |b: &mut Builder, flat: usize| -> ValueId {
        let digit = if value_ty.is_scalar() {
            k
        } else {
            let place = b.i64((per_element as i64).pow(flat as u32));
            let base = b.i64(per_element as i64);
            let shifted = b.prim(Prim::Div, &[k, place]);
            b.prim(Prim::Rem, &[shifted, base])
        };
        if dist.is_bernoulli() {
            b.un(Prim::IntToF64, digit)
        } else {
            digit
        }
    };
    pack_elements(b, &value_ty.shape, 0, &element)
}

/// A tensor of `shape` whose element at row-major index `offset + i` is
/// `element(offset + i)`, stacked with `pack` (the element itself for a
/// scalar shape).
fn pack_elements(
    b: &mut Builder,
    shape: &[usize],
    offset: usize,
    element: &dyn Fn(&mut Builder, usize) -> ValueId,
) -> ValueId {
    let Some((&len, rest)) = shape.split_first() else {
        return element(b, offset);
    };
    if shape.contains(&0) {
        // No elements: an empty tensor of the elements' type.
        let one = element(b, 0);
        let elem = b.ty(one).elem;
        let empty = b.full(&Type::tensor(crate::ir::Elem::F64, shape.to_vec()), 0.0);
        return if elem == crate::ir::Elem::F64 {
            empty
        } else {
            b.un(Prim::F64ToInt, empty)
        };
    }
    let stride: usize = rest.iter().product();
    let items: Vec<ValueId> = (0..len)
        .map(|i| pack_elements(b, rest, offset + i * stride, element))
        .collect();
    b.prim(Prim::Pack, &items)
}

/// `softmax(logits)` for a vector, or of each row of a matrix.
fn softmax_rows(b: &mut Builder, logits: ValueId) -> ValueId {
    let ty = b.ty(logits);
    let softmax = |b: &mut Builder, row: ValueId| {
        let row_ty = b.ty(row);
        let normalizer = b.un(Prim::LogSumExp, row);
        let normalizer = b.broadcast_like(normalizer, &row_ty);
        let centered = b.sub(row, normalizer);
        b.un(Prim::Exp, centered)
    };
    if ty.shape.len() == 1 {
        return softmax(b, logits);
    }
    let rows = ty.shape[0];
    let body = b.region(&[Type::i64()], |b, p| {
        let row = b.prim(Prim::Index, &[logits, p[0]]);
        vec![softmax(b, row)]
    });
    let lo = b.i64(0);
    let hi = b.i64(rows as i64);
    b.for_(lo, hi, &[], body, Some(rows))[0]
}

/// The parameter whose derivative an mvd site estimates (for the logits
/// families, the probabilities computed from the logits, so the gradient
/// reaches the logits through them).
fn mvd_parameter(b: &mut Builder, dist: DistKind, p: &[ValueId]) -> Result<ValueId, String> {
    Ok(match dist {
        DistKind::Flip
        | DistKind::Categorical
        | DistKind::Geometric
        | DistKind::Poisson
        | DistKind::Bernoulli => p[0],
        DistKind::Binomial => p[1],
        DistKind::BernoulliLogits => b.un(Prim::Sigmoid, p[0]),
        DistKind::CategoricalLogits => softmax_rows(b, p[0]),
        other => return Err(format!("{other} has no measure-valued derivative")),
    })
}

/// Emits the estimator form of one random choice and returns its value and
/// the updated accumulators.
pub(super) fn emit_site(
    b: &mut Builder,
    site: &SiteInfo,
    args: &[ValueId],
    indices: &[ValueId],
    mut st: State,
) -> Result<(ValueId, State), TransformError> {
    let np = site.dist.param_kinds().len();
    let params = guard_params(b, site.dist, &args[..np]);
    let origin = b.origin();
    let fail = |message: String| TransformError { message, origin };
    let id = site.site;
    if site.detached {
        // Inside `stop_grad`: the value only, with no derivative.
        let v = draw(b, site.dist, &params, id, 0, indices);
        return Ok((v, st));
    }
    let value = match site.strategy {
        StrategyKind::Reparam => reparam(b, site.dist, &params, id, indices).map_err(fail)?,
        StrategyKind::Implicit => implicit(b, site.dist, &params, id, indices).map_err(fail)?,
        StrategyKind::Reinforce => {
            let v = draw(b, site.dist, &params, id, 0, indices);
            let lp = log_density(b, site.dist, &params, v);
            let lp_stop = b.stop(lp);
            let delta = b.sub(lp, lp_stop);
            st.score = b.add(st.score, delta);
            let base = if site.has_baseline {
                b.add(st.cost, args[np])
            } else {
                st.cost
            };
            let base = b.stop(base);
            let term = b.mul(base, delta);
            st.baseline = b.add(st.baseline, term);
            v
        }
        StrategyKind::Enum => {
            let n = support_size(b, site.dist, &params).map_err(fail)?;
            let mut a = vec![n];
            a.extend_from_slice(indices);
            // The tensor families enumerate an integer that encodes the
            // joint value (see `tensor_enumeration`).
            let ty = if site.dist.is_elementwise() || site.dist == DistKind::CategoricalLogits {
                Type::i64()
            } else {
                crate::density::value_type(site.dist, &[])
            };
            let enumerated = b.push(
                OpKind::EnumValue {
                    site: id,
                    boolean: site.dist == DistKind::Flip,
                },
                a,
                vec![ty],
                vec![],
            )[0];
            let v = match site.dist {
                DistKind::Bernoulli | DistKind::BernoulliLogits | DistKind::CategoricalLogits => {
                    let types: Vec<Type> = params.iter().map(|&p| b.ty(p)).collect();
                    let (_, per_element) = tensor_enumeration(site.dist, &types);
                    let value_ty = crate::density::value_type(site.dist, &types);
                    decode_enumerated(b, site.dist, enumerated, per_element, &value_ty)
                }
                _ => enumerated,
            };
            let lp = log_density(b, site.dist, &params, v);
            st.log_weight = b.add(st.log_weight, lp);
            v
        }
        StrategyKind::Mvd => {
            let p = mvd_parameter(b, site.dist, &params).map_err(fail)?;
            let mut a = params.clone();
            a.extend_from_slice(indices);
            let types: Vec<Type> = params.iter().map(|&p| b.ty(p)).collect();
            let ty = crate::density::value_type(site.dist, &types);
            let v = b.push(
                OpKind::MvdValue {
                    dist: site.dist,
                    site: id,
                    num_params: np as u32,
                },
                a,
                vec![ty],
                vec![],
            )[0];
            let pty = b.ty(p);
            let ct = b.push(
                OpKind::MvdCotangent { site: id },
                indices.to_vec(),
                vec![pty],
                vec![],
            )[0];
            let ct = b.stop(ct);
            let p_stop = b.stop(p);
            let dp = b.sub(p, p_stop);
            let term = b.mul(ct, dp);
            let term = if b.ty(term).is_scalar() {
                term
            } else {
                b.un(Prim::Sum, term)
            };
            st.mvd = b.add(st.mvd, term);
            v
        }
    };
    Ok((value, st))
}
