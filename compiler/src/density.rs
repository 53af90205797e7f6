//! Log densities of the built-in distributions, built as IR from
//! elementary primitives, and the run-time checks of their parameters.
//!
//! Because a log density is ordinary IR, its derivatives (of any order, in
//! the value and in every parameter) come from the primitives' rules; no
//! distribution has a hand-written gradient. Values outside the support
//! have log density −∞ (selected, so the derivative there is zero rather
//! than NaN).
//!
//! [`guard_params`] wraps each parameter in a `guard` that checks it at run
//! time (a positive scale, probabilities in [0, 1], ...); the guarded values
//! must be the ones used afterwards, so a violation is reported with the
//! site before anything is computed from it.

use crate::dist::DistKind;
use crate::ir::{Builder, Elem, Type, ValueId};
use crate::prim::{GuardKind, Prim};
use std::f64::consts::PI;

fn guard(b: &mut Builder, kind: GuardKind, dist: DistKind, param: &str, v: ValueId) -> ValueId {
    b.prim(
        Prim::Guard {
            kind,
            what: format!("{dist}: {param}"),
        },
        &[v],
    )
}

/// Checks the parameters of `dist` at run time and returns the checked
/// values, to be used in place of `params`.
pub fn guard_params(b: &mut Builder, dist: DistKind, params: &[ValueId]) -> Vec<ValueId> {
    use GuardKind::*;
    let names = dist.param_names();
    let kinds: Vec<Option<GuardKind>> = match dist {
        DistKind::Normal
        | DistKind::MvNormalDiag
        | DistKind::LogNormal
        | DistKind::Laplace
        | DistKind::Cauchy => vec![Some(Finite), Some(Positive)],
        DistKind::Uniform => vec![Some(Finite), Some(Finite)],
        DistKind::Exponential | DistKind::Poisson => vec![Some(Positive)],
        DistKind::Gamma | DistKind::Beta => vec![Some(Positive), Some(Positive)],
        DistKind::StudentT => vec![Some(Positive), Some(Finite), Some(Positive)],
        DistKind::Flip => vec![Some(UnitInterval)],
        DistKind::Geometric => vec![Some(UnitInterval)],
        DistKind::Categorical => vec![Some(Probabilities)],
        DistKind::Binomial => vec![Some(NonNegativeInt), Some(UnitInterval)],
        DistKind::MvNormal => vec![Some(Finite), Some(LowerTriangularPositiveDiagonal)],
        DistKind::Dirichlet => vec![Some(Positive)],
        DistKind::Bernoulli => vec![Some(UnitInterval)],
        // Logits are finite: a probability of exactly 0 or 1 is written
        // with `bernoulli` / `categorical` instead.
        DistKind::BernoulliLogits | DistKind::CategoricalLogits => vec![Some(Finite)],
    };
    let mut out: Vec<ValueId> = params
        .iter()
        .zip(&kinds)
        .zip(names)
        .map(|((&v, k), name)| match k {
            Some(k) => guard(b, *k, dist, name, v),
            None => v,
        })
        .collect();
    match dist {
        // low < high: check the width, and keep `high` tied to the check.
        DistKind::Uniform => {
            let width = b.sub(out[1], out[0]);
            let width = guard(b, Positive, dist, "high - low", width);
            out[1] = b.add(out[0], width);
        }
        // p = 0 would never succeed.
        DistKind::Geometric => {
            out[0] = guard(b, Positive, dist, names[0], out[0]);
        }
        // The mean and the scale must have one length.
        _ => {}
    }
    out
}

fn c(b: &mut Builder, x: f64) -> ValueId {
    b.f64(x)
}

fn square(b: &mut Builder, x: ValueId) -> ValueId {
    b.mul(x, x)
}

fn log(b: &mut Builder, x: ValueId) -> ValueId {
    b.un(Prim::Log, x)
}

/// Runs `f` with the builder's origin marked as a support check (see
/// [`crate::ir::Origin::support_check`]).
fn support_test<T>(b: &mut Builder, f: impl FnOnce(&mut Builder) -> T) -> T {
    let mut origin = b.func.origin(b.origin()).clone();
    origin.support_check = true;
    let id = b.func.add_origin(origin);
    let saved = b.set_origin(id);
    let r = f(b);
    b.set_origin(saved);
    r
}

/// `cond ? value : −∞`, with `value` computed from a `safe` stand-in for
/// the density's argument outside the support so no NaN is formed.
fn in_support(b: &mut Builder, cond: ValueId, value: ValueId) -> ValueId {
    let ty = b.ty(value);
    let ninf = b.full(&ty, f64::NEG_INFINITY);
    b.prim(Prim::Select, &[cond, value, ninf])
}

/// `select(cond, x, fallback)` for scalars.
fn safe(b: &mut Builder, cond: ValueId, x: ValueId, fallback: f64) -> ValueId {
    let ty = b.ty(x);
    let f = b.full(&ty, fallback);
    b.prim(Prim::Select, &[cond, x, f])
}

fn int_to_f64(b: &mut Builder, v: ValueId) -> ValueId {
    b.un(Prim::IntToF64, v)
}

/// `log Γ(x)` summed: `lgamma` of each element, then the sum.
fn sum_lgamma(b: &mut Builder, x: ValueId) -> ValueId {
    let l = b.un(Prim::Lgamma, x);
    b.un(Prim::Sum, l)
}

/// The normal log density of `v` (elementwise), without the constant.
fn normal_kernel(b: &mut Builder, v: ValueId, mean: ValueId, scale: ValueId) -> ValueId {
    let d = b.sub(v, mean);
    let z = b.div(d, scale);
    let z2 = square(b, z);
    let ty = b.ty(z2);
    let half = b.full(&ty, -0.5);
    let q = b.mul(half, z2);
    let ls = log(b, scale);
    b.sub(q, ls)
}

/// The log density (or mass) of `dist` with (guarded) parameters `params`
/// at `v`, as an `f64` scalar.
pub fn log_density(b: &mut Builder, dist: DistKind, params: &[ValueId], v: ValueId) -> ValueId {
    let half_log_2pi = 0.5 * (2.0 * PI).ln();
    match dist {
        DistKind::Normal | DistKind::MvNormalDiag if b.ty(v).is_scalar() => {
            let k = normal_kernel(b, v, params[0], params[1]);
            let c0 = c(b, half_log_2pi);
            b.sub(k, c0)
        }
        DistKind::Normal | DistKind::MvNormalDiag => {
            // Elementwise over the value's shape, scalar parameters
            // broadcast; the log density is the sum over the elements.
            let ty = b.ty(v);
            let n = ty.shape.iter().product::<usize>() as f64;
            let mean = broadcast_to_value(b, params[0], &ty);
            let scale = broadcast_to_value(b, params[1], &ty);
            let k = normal_kernel(b, v, mean, scale);
            let s = b.un(Prim::Sum, k);
            let c0 = c(b, n * half_log_2pi);
            b.sub(s, c0)
        }
        DistKind::LogNormal => {
            let zero = c(b, 0.0);
            let pos = support_test(b, |b| b.prim(Prim::Gt, &[v, zero]));
            let sv = safe(b, pos, v, 1.0);
            let lv = log(b, sv);
            let k = normal_kernel(b, lv, params[0], params[1]);
            let c0 = c(b, half_log_2pi);
            let k = b.sub(k, c0);
            let k = b.sub(k, lv);
            in_support(b, pos, k)
        }
        DistKind::Uniform => {
            let (lo, hi) = (params[0], params[1]);
            let ge = support_test(b, |b| b.prim(Prim::Ge, &[v, lo]));
            let le = support_test(b, |b| b.prim(Prim::Le, &[v, hi]));
            let inside = support_test(b, |b| b.prim(Prim::And, &[ge, le]));
            let w = b.sub(hi, lo);
            let lw = log(b, w);
            let k = b.neg(lw);
            in_support(b, inside, k)
        }
        DistKind::Exponential => {
            let zero = c(b, 0.0);
            let nonneg = support_test(b, |b| b.prim(Prim::Ge, &[v, zero]));
            let lr = log(b, params[0]);
            let rv = b.mul(params[0], v);
            let k = b.sub(lr, rv);
            in_support(b, nonneg, k)
        }
        DistKind::Gamma => {
            let (shape, rate) = (params[0], params[1]);
            let zero = c(b, 0.0);
            let pos = support_test(b, |b| b.prim(Prim::Gt, &[v, zero]));
            let sv = safe(b, pos, v, 1.0);
            let lr = log(b, rate);
            let t1 = b.mul(shape, lr);
            let lg = b.un(Prim::Lgamma, shape);
            let one = c(b, 1.0);
            let am1 = b.sub(shape, one);
            let lv = log(b, sv);
            let t2 = b.mul(am1, lv);
            let rv = b.mul(rate, sv);
            let k = b.sub(t1, lg);
            let k = b.add(k, t2);
            let k = b.sub(k, rv);
            in_support(b, pos, k)
        }
        DistKind::Beta => {
            let (a, bb) = (params[0], params[1]);
            let zero = c(b, 0.0);
            let one = c(b, 1.0);
            let gt0 = support_test(b, |b| b.prim(Prim::Gt, &[v, zero]));
            let lt1 = support_test(b, |b| b.prim(Prim::Lt, &[v, one]));
            let inside = support_test(b, |b| b.prim(Prim::And, &[gt0, lt1]));
            let sv = safe(b, inside, v, 0.5);
            let am1 = b.sub(a, one);
            let bm1 = b.sub(bb, one);
            let lv = log(b, sv);
            let om = b.sub(one, sv);
            let l1v = log(b, om);
            let t1 = b.mul(am1, lv);
            let t2 = b.mul(bm1, l1v);
            let ab = b.add(a, bb);
            let lga = b.un(Prim::Lgamma, a);
            let lgb = b.un(Prim::Lgamma, bb);
            let lgab = b.un(Prim::Lgamma, ab);
            let k = b.add(t1, t2);
            let k = b.add(k, lgab);
            let k = b.sub(k, lga);
            let k = b.sub(k, lgb);
            in_support(b, inside, k)
        }
        DistKind::Laplace => {
            let (loc, scale) = (params[0], params[1]);
            let d = b.sub(v, loc);
            let ad = b.un(Prim::Abs, d);
            let q = b.div(ad, scale);
            let two = c(b, 2.0);
            let s2 = b.mul(two, scale);
            let l = log(b, s2);
            let k = b.neg(q);
            b.sub(k, l)
        }
        DistKind::Cauchy => {
            let (loc, scale) = (params[0], params[1]);
            let d = b.sub(v, loc);
            let z = b.div(d, scale);
            let z2 = square(b, z);
            let l1 = b.un(Prim::Log1p, z2);
            let ls = log(b, scale);
            let lpi = c(b, PI.ln());
            let k = b.neg(l1);
            let k = b.sub(k, ls);
            b.sub(k, lpi)
        }
        DistKind::StudentT => {
            let (df, loc, scale) = (params[0], params[1], params[2]);
            let half = c(b, 0.5);
            let one = c(b, 1.0);
            let dp1 = b.add(df, one);
            let hp = b.mul(dp1, half);
            let hd = b.mul(df, half);
            let lg1 = b.un(Prim::Lgamma, hp);
            let lg2 = b.un(Prim::Lgamma, hd);
            let pi = c(b, PI);
            let dpi = b.mul(df, pi);
            let ldpi = log(b, dpi);
            let hl = b.mul(half, ldpi);
            let ls = log(b, scale);
            let d = b.sub(v, loc);
            let z = b.div(d, scale);
            let z2 = square(b, z);
            let zz = b.div(z2, df);
            let l1 = b.un(Prim::Log1p, zz);
            let t = b.mul(hp, l1);
            let k = b.sub(lg1, lg2);
            let k = b.sub(k, hl);
            let k = b.sub(k, ls);
            b.sub(k, t)
        }
        DistKind::Flip => {
            let p = params[0];
            let one = c(b, 1.0);
            let q = b.sub(one, p);
            let lp = log(b, p);
            let lq = log(b, q);
            b.prim(Prim::Select, &[v, lp, lq])
        }
        DistKind::Categorical => {
            let probs = params[0];
            let k = b.ty(probs).shape[0] as i64;
            let zero = b.i64(0);
            let kk = b.i64(k);
            let ge = support_test(b, |b| b.prim(Prim::Ge, &[v, zero]));
            let lt = support_test(b, |b| b.prim(Prim::Lt, &[v, kk]));
            let inside = support_test(b, |b| b.prim(Prim::And, &[ge, lt]));
            let km1 = b.i64(k - 1);
            let clamped = b.prim(Prim::Max, &[v, zero]);
            let clamped = b.prim(Prim::Min, &[clamped, km1]);
            let p = b.prim(Prim::Index, &[probs, clamped]);
            let lp = log(b, p);
            in_support(b, inside, lp)
        }
        DistKind::Geometric => {
            let p = params[0];
            let zero = b.i64(0);
            let nonneg = support_test(b, |b| b.prim(Prim::Ge, &[v, zero]));
            let fv = int_to_f64(b, v);
            let one = c(b, 1.0);
            let q = b.sub(one, p);
            let lq = log(b, q);
            // v · log(1 − p), taken as 0 when v = 0 (even for p = 1).
            let t = b.mul(fv, lq);
            let zf = c(b, 0.0);
            let is0 = support_test(b, |b| b.prim(Prim::Eq, &[fv, zf]));
            let t = b.prim(Prim::Select, &[is0, zf, t]);
            let lp = log(b, p);
            let k = b.add(t, lp);
            in_support(b, nonneg, k)
        }
        DistKind::Poisson => {
            let rate = params[0];
            let zero = b.i64(0);
            let nonneg = support_test(b, |b| b.prim(Prim::Ge, &[v, zero]));
            let fv = int_to_f64(b, v);
            let lr = log(b, rate);
            let t = b.mul(fv, lr);
            let one = c(b, 1.0);
            let fv1 = b.add(fv, one);
            let lg = b.un(Prim::Lgamma, fv1);
            let k = b.sub(t, rate);
            let k = b.sub(k, lg);
            in_support(b, nonneg, k)
        }
        DistKind::Binomial => {
            let (n, p) = (params[0], params[1]);
            let zero = b.i64(0);
            let ge = support_test(b, |b| b.prim(Prim::Ge, &[v, zero]));
            let le = support_test(b, |b| b.prim(Prim::Le, &[v, n]));
            let inside = support_test(b, |b| b.prim(Prim::And, &[ge, le]));
            let fv = int_to_f64(b, v);
            let fnn = int_to_f64(b, n);
            let one = c(b, 1.0);
            let zf = c(b, 0.0);
            let n1 = b.add(fnn, one);
            let v1 = b.add(fv, one);
            let nmv = b.sub(fnn, fv);
            let nmv1 = b.add(nmv, one);
            let l1 = b.un(Prim::Lgamma, n1);
            let l2 = b.un(Prim::Lgamma, v1);
            let l3 = b.un(Prim::Lgamma, nmv1);
            let lp = log(b, p);
            let q = b.sub(one, p);
            let lq = log(b, q);
            // x · log y with the convention 0 · log 0 = 0.
            let a = b.mul(fv, lp);
            let v0 = support_test(b, |b| b.prim(Prim::Eq, &[fv, zf]));
            let a = b.prim(Prim::Select, &[v0, zf, a]);
            let bq = b.mul(nmv, lq);
            let nmv0 = support_test(b, |b| b.prim(Prim::Eq, &[nmv, zf]));
            let bq = b.prim(Prim::Select, &[nmv0, zf, bq]);
            let k = b.sub(l1, l2);
            let k = b.sub(k, l3);
            let k = b.add(k, a);
            let k = b.add(k, bq);
            in_support(b, inside, k)
        }
        DistKind::MvNormal => {
            let (mean, l) = (params[0], params[1]);
            let n = b.ty(v).shape[0] as f64;
            let d = b.sub(v, mean);
            let z = b.prim(Prim::TriSolve { transpose: false }, &[l, d]);
            let z2 = square(b, z);
            let q = b.un(Prim::Sum, z2);
            let half = c(b, -0.5);
            let q = b.mul(half, q);
            let diag = b.un(Prim::Diagonal, l);
            let ld = log(b, diag);
            let logdet = b.un(Prim::Sum, ld);
            let c0 = c(b, n * half_log_2pi);
            let k = b.sub(q, logdet);
            b.sub(k, c0)
        }
        DistKind::Dirichlet => {
            let alpha = params[0];
            let ty = b.ty(alpha);
            let sa = b.un(Prim::Sum, alpha);
            let lgs = b.un(Prim::Lgamma, sa);
            let sl = sum_lgamma(b, alpha);
            let one = b.full(&ty, 1.0);
            let am1 = b.sub(alpha, one);
            let lv = log(b, v);
            let t = b.mul(am1, lv);
            let st = b.un(Prim::Sum, t);
            let k = b.sub(lgs, sl);
            b.add(k, st)
        }
        DistKind::Bernoulli => {
            // log p where v = 1, log(1 − p) where v = 0 (one log of the
            // selected probability, so a zero probability on the side not
            // taken forms no −∞ and no NaN derivative); −∞ elsewhere.
            let p = params[0];
            let (is_one, inside) = binary_support(b, v);
            let one = b.full_like(p, 1.0);
            let q = b.sub(one, p);
            let chosen = b.prim(Prim::Select, &[is_one, p, q]);
            let lp = log(b, chosen);
            let lp = in_support(b, inside, lp);
            sum_if_tensor(b, lp)
        }
        DistKind::BernoulliLogits => {
            // log σ(l) = −softplus(−l) where v = 1 and log(1 − σ(l)) =
            // −softplus(l) where v = 0: −softplus((1 − 2v)·l), stable for
            // logits of either sign; −∞ off {0, 1}.
            let l = params[0];
            let (_, inside) = binary_support(b, v);
            let one = b.full_like(v, 1.0);
            let two = b.full_like(v, 2.0);
            let twice = b.mul(two, v);
            let sign = b.sub(one, twice);
            let signed = b.mul(sign, l);
            let sp = b.un(Prim::Softplus, signed);
            let lp = b.neg(sp);
            let lp = in_support(b, inside, lp);
            sum_if_tensor(b, lp)
        }
        DistKind::CategoricalLogits => {
            let logits = params[0];
            let ty = b.ty(logits);
            if ty.shape.len() == 1 {
                categorical_logits_row(b, logits, v)
            } else {
                // One choice per row: Σᵣ log softmax(logits[r])[v[r]], as a
                // loop over the rows.
                let rows = ty.shape[0];
                let body = b.region(&[Type::i64(), Type::f64()], |b, p| {
                    let (r, acc) = (p[0], p[1]);
                    let row = b.prim(Prim::Index, &[logits, r]);
                    let vr = b.prim(Prim::Index, &[v, r]);
                    let lp = categorical_logits_row(b, row, vr);
                    vec![b.add(acc, lp)]
                });
                let lo = b.i64(0);
                let hi = b.i64(rows as i64);
                let zero = c(b, 0.0);
                b.for_(lo, hi, &[zero], body, Some(rows))[0]
            }
        }
    }
}

/// `p` broadcast to the value's type `ty` if it is a scalar.
fn broadcast_to_value(b: &mut Builder, p: ValueId, ty: &Type) -> ValueId {
    if b.ty(p).is_scalar() {
        b.broadcast_like(p, ty)
    } else {
        p
    }
}

/// The sum of the elements of `x`, or `x` for a scalar.
fn sum_if_tensor(b: &mut Builder, x: ValueId) -> ValueId {
    if b.ty(x).is_scalar() {
        x
    } else {
        b.un(Prim::Sum, x)
    }
}

/// `(v = 1, v ∈ {0, 1})` elementwise, as support tests.
fn binary_support(b: &mut Builder, v: ValueId) -> (ValueId, ValueId) {
    let zero = b.full_like(v, 0.0);
    let one = b.full_like(v, 1.0);
    support_test(b, |b| {
        let is_one = b.prim(Prim::Eq, &[v, one]);
        let is_zero = b.prim(Prim::Eq, &[v, zero]);
        let inside = b.prim(Prim::Or, &[is_one, is_zero]);
        (is_one, inside)
    })
}

/// `log softmax(logits)[v]` for a vector of logits and an integer `v`
/// (−∞ outside `0..len`).
fn categorical_logits_row(b: &mut Builder, logits: ValueId, v: ValueId) -> ValueId {
    let k = b.ty(logits).shape[0] as i64;
    let zero = b.i64(0);
    let kk = b.i64(k);
    let ge = support_test(b, |b| b.prim(Prim::Ge, &[v, zero]));
    let lt = support_test(b, |b| b.prim(Prim::Lt, &[v, kk]));
    let inside = support_test(b, |b| b.prim(Prim::And, &[ge, lt]));
    let km1 = b.i64(k - 1);
    let clamped = b.prim(Prim::Max, &[v, zero]);
    let clamped = b.prim(Prim::Min, &[clamped, km1]);
    let chosen = b.prim(Prim::Index, &[logits, clamped]);
    let normalizer = b.un(Prim::LogSumExp, logits);
    let lp = b.sub(chosen, normalizer);
    in_support(b, inside, lp)
}

/// The common shape of the tensor parameters of an elementwise
/// distribution (scalars broadcast; a scalar if every parameter is one),
/// or the first two shapes that differ.
pub fn elementwise_shape(param_types: &[Type]) -> Result<Vec<usize>, (Vec<usize>, Vec<usize>)> {
    let mut shape: Option<&Vec<usize>> = None;
    for t in param_types {
        if t.is_scalar() {
            continue;
        }
        match shape {
            None => shape = Some(&t.shape),
            Some(s) if *s == t.shape => {}
            Some(s) => return Err((s.clone(), t.shape.clone())),
        }
    }
    Ok(shape.cloned().unwrap_or_default())
}

/// The IR type of values of `dist` with parameter types `param_types`.
pub fn value_type(dist: DistKind, param_types: &[Type]) -> Type {
    use crate::dist::ValueKind;
    match dist.value_kind() {
        ValueKind::Real => Type::f64(),
        ValueKind::Int => Type::i64(),
        ValueKind::Bool => Type::bool(),
        ValueKind::Vector => Type::tensor(Elem::F64, param_types[0].shape.clone()),
        ValueKind::Tensor => {
            let shape = elementwise_shape(param_types).unwrap_or_else(|(first, _)| first);
            Type::tensor(Elem::F64, shape)
        }
        // A vector of logits is one choice; a matrix, one per row.
        ValueKind::IntPerRow => match param_types.first().map(|t| t.shape.as_slice()) {
            Some([rows, _]) => Type::tensor(Elem::I64, vec![*rows]),
            _ => Type::i64(),
        },
    }
}
