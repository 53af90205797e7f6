//! Derivative rules of every primitive: jvp (forward) and vjp (reverse).
//!
//! Both rules emit IR through a [`Builder`], so derivative programs are
//! ordinary programs and can be differentiated again (`grad` of `grad`).
//! Symbolic zeros are `None`, never a tensor of zeros: a rule receiving
//! `None` for an operand's tangent skips that term, and a vjp rule computes
//! cotangents only for the operands the caller marks as `needed` (so an
//! inactive operand's cotangent, which may be NaN — `ln a` for a negative
//! base — is never formed).
//!
//! The shape and linear-algebra primitives (`matmul`, `reshape`, `gather`,
//! the axis reductions, ...) have their rules in `tensor_ad.rs`.
//!
//! For linear primitives the vjp rule is the transpose of the jvp rule; the
//! tests in `runtime/tests/prim_rules.rs` check ⟨J v, u⟩ = ⟨v, Jᵀ u⟩ for every
//! primitive, and each jvp against num-dual and finite differences.

use super::Prim;
use crate::ir::{Builder, ValueId};
use std::fmt;

/// A primitive that has no derivative rule at the order asked for.
#[derive(Clone, Debug, PartialEq)]
pub struct NotDifferentiable {
    /// The primitive's name.
    pub prim: &'static str,
    /// Why, as a sentence fragment.
    pub why: &'static str,
}

impl fmt::Display for NotDifferentiable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot differentiate `{}`: {}", self.prim, self.why)
    }
}

fn ones_like(b: &mut Builder, like: ValueId) -> ValueId {
    b.full_like(like, 1.0)
}

/// `d · factor` where `d` may be a symbolic zero.
fn scale(
    b: &mut Builder,
    d: Option<ValueId>,
    factor: impl FnOnce(&mut Builder) -> ValueId,
) -> Option<ValueId> {
    d.map(|d| {
        let f = factor(b);
        b.mul(d, f)
    })
}

/// The derivative of a unary elementwise primitive at `x` with result `z`,
/// as an IR value (`None` for primitives with derivative zero).
fn unary_derivative(
    b: &mut Builder,
    prim: &Prim,
    x: ValueId,
    z: ValueId,
) -> Result<Option<ValueId>, NotDifferentiable> {
    Ok(Some(match prim {
        Prim::Neg => {
            let one = ones_like(b, x);
            b.neg(one)
        }
        Prim::Exp => z,
        Prim::Log => {
            let one = ones_like(b, x);
            b.div(one, x)
        }
        Prim::Log1p => {
            let one = ones_like(b, x);
            let d = b.add(one, x);
            b.div(one, d)
        }
        Prim::Expm1 => {
            let one = ones_like(b, x);
            b.add(z, one)
        }
        Prim::Sqrt => {
            let half = b.full_like(x, 0.5);
            b.div(half, z)
        }
        Prim::Sin => b.un(Prim::Cos, x),
        Prim::Cos => {
            let s = b.un(Prim::Sin, x);
            b.neg(s)
        }
        Prim::Tan => {
            let one = ones_like(b, x);
            let z2 = b.mul(z, z);
            b.add(one, z2)
        }
        Prim::Atan => {
            let one = ones_like(b, x);
            let x2 = b.mul(x, x);
            let d = b.add(one, x2);
            b.div(one, d)
        }
        Prim::Tanh => {
            let one = ones_like(b, x);
            let z2 = b.mul(z, z);
            b.sub(one, z2)
        }
        Prim::Sigmoid => {
            let one = ones_like(b, x);
            let c = b.sub(one, z);
            b.mul(z, c)
        }
        Prim::Softplus => b.un(Prim::Sigmoid, x),
        Prim::Abs => b.un(Prim::Sign, x),
        Prim::Lgamma => b.un(Prim::Digamma, x),
        Prim::Digamma => b.un(Prim::Polygamma(1), x),
        Prim::Polygamma(n) => b.un(Prim::Polygamma(n + 1), x),
        Prim::Sign | Prim::Floor | Prim::StopGrad => return Ok(None),
        Prim::Guard { .. } => ones_like(b, x),
        _ => unreachable!("{} is not a unary elementwise primitive", prim.name()),
    }))
}

/// The forward-mode rule: the tangent of `prim`'s result given its operands
/// `args`, its result `z`, and the operands' tangents (`None` = zero).
/// Returns `None` for a zero tangent.
pub fn jvp(
    b: &mut Builder,
    prim: &Prim,
    args: &[ValueId],
    z: ValueId,
    tangents: &[Option<ValueId>],
) -> Result<Option<ValueId>, NotDifferentiable> {
    if tangents.iter().all(Option::is_none) {
        return Ok(None);
    }
    let t = |i: usize| tangents.get(i).copied().flatten();
    let out = match prim {
        Prim::ConstF64(_)
        | Prim::ConstI64(_)
        | Prim::ConstBool(_)
        | Prim::ConstTensor { .. }
        | Prim::Sign
        | Prim::Floor
        | Prim::StopGrad
        | Prim::Lt
        | Prim::Le
        | Prim::Gt
        | Prim::Ge
        | Prim::Eq
        | Prim::Ne
        | Prim::And
        | Prim::Or
        | Prim::Not
        | Prim::IntToF64
        | Prim::BoolToF64
        | Prim::F64ToInt
        | Prim::Rem => None,
        Prim::Guard { .. } => t(0),
        Prim::Neg => t(0).map(|d| b.neg(d)),
        Prim::Exp
        | Prim::Log
        | Prim::Log1p
        | Prim::Expm1
        | Prim::Sqrt
        | Prim::Sin
        | Prim::Cos
        | Prim::Tan
        | Prim::Atan
        | Prim::Tanh
        | Prim::Sigmoid
        | Prim::Softplus
        | Prim::Abs
        | Prim::Lgamma
        | Prim::Digamma
        | Prim::Polygamma(_) => match unary_derivative(b, prim, args[0], z)? {
            Some(deriv) => t(0).map(|d| b.mul(d, deriv)),
            None => None,
        },
        Prim::Add => b.add_opt(t(0), t(1)),
        Prim::Sub => {
            let nb = t(1).map(|d| b.neg(d));
            b.add_opt(t(0), nb)
        }
        Prim::Mul => {
            let (x, y) = (args[0], args[1]);
            let l = scale(b, t(0), |_| y);
            let r = scale(b, t(1), |_| x);
            b.add_opt(l, r)
        }
        Prim::Div => {
            // z = x / y: dz = (dx − z·dy) / y
            let y = args[1];
            let zdy = scale(b, t(1), |_| z).map(|v| b.neg(v));
            let num = b.add_opt(t(0), zdy);
            num.map(|n| b.div(n, y))
        }
        Prim::Pow => {
            // z = x^y: dz = y·x^(y−1)·dx + z·ln(x)·dy
            let (x, y) = (args[0], args[1]);
            let l = scale(b, t(0), |b| {
                let one = ones_like(b, y);
                let ym1 = b.sub(y, one);
                let p = b.prim(Prim::Pow, &[x, ym1]);
                b.mul(y, p)
            });
            let r = scale(b, t(1), |b| {
                let lx = b.un(Prim::Log, x);
                b.mul(z, lx)
            });
            b.add_opt(l, r)
        }
        Prim::Max | Prim::Min => {
            let (x, y) = (args[0], args[1]);
            let cmp = if matches!(prim, Prim::Max) {
                Prim::Ge
            } else {
                Prim::Le
            };
            let c = b.prim(cmp, &[x, y]);
            let dx = b.materialize_like(t(0), x);
            let dy = b.materialize_like(t(1), x);
            Some(b.prim(Prim::Select, &[c, dx, dy]))
        }
        Prim::GammaP => {
            // P(a, x): ∂a = gamma_p_da(a, x); ∂x = x^(a−1) e^(−x) / Γ(a).
            let (a, x) = (args[0], args[1]);
            let l = scale(b, t(0), |b| b.prim(Prim::GammaPDa, &[a, x]));
            let r = scale(b, t(1), |b| gamma_p_dx(b, a, x));
            b.add_opt(l, r)
        }
        Prim::GammaPDa => {
            return Err(NotDifferentiable {
                prim: "gamma_p_da",
                why: "second derivatives of the regularized incomplete gamma function \
                      in its shape are not implemented (implicit gamma/beta/dirichlet \
                      gradients cannot be differentiated twice)",
            });
        }
        Prim::Select => {
            let c = args[0];
            if t(1).is_none() && t(2).is_none() {
                None
            } else {
                let da = b.materialize_like(t(1), args[1]);
                let db = b.materialize_like(t(2), args[1]);
                Some(b.prim(Prim::Select, &[c, da, db]))
            }
        }
        Prim::Broadcast(shape) => t(0).map(|d| b.prim(Prim::Broadcast(shape.clone()), &[d])),
        Prim::BroadcastLike => t(0).map(|d| b.prim(Prim::BroadcastLike, &[d, args[1]])),
        Prim::Pack => {
            let ds: Vec<ValueId> = (0..args.len())
                .map(|i| b.materialize_like(t(i), args[i]))
                .collect();
            Some(b.prim(Prim::Pack, &ds))
        }
        Prim::Index => t(0).map(|d| b.prim(Prim::Index, &[d, args[1]])),
        Prim::IndexAdd => {
            let dt = b.materialize_like(t(0), args[0]);
            let dv = b.materialize_like(t(2), args[2]);
            Some(b.prim(Prim::IndexAdd, &[dt, args[1], dv]))
        }
        Prim::Sum => t(0).map(|d| b.un(Prim::Sum, d)),
        Prim::LogSumExp => t(0).map(|d| {
            let w = softmax_weights(b, args[0], z);
            let wd = b.mul(w, d);
            b.un(Prim::Sum, wd)
        }),
        Prim::ReduceMax => t(0).map(|d| {
            let w = argmax_weights(b, args[0], z);
            let wd = b.mul(w, d);
            b.un(Prim::Sum, wd)
        }),
        Prim::MatVec { transpose } => {
            let (m, v) = (args[0], args[1]);
            let l = t(0).map(|dm| {
                b.prim(
                    Prim::MatVec {
                        transpose: *transpose,
                    },
                    &[dm, v],
                )
            });
            let r = t(1).map(|dv| {
                b.prim(
                    Prim::MatVec {
                        transpose: *transpose,
                    },
                    &[m, dv],
                )
            });
            b.add_opt(l, r)
        }
        Prim::Outer => {
            let (x, y) = (args[0], args[1]);
            let l = t(0).map(|dx| b.prim(Prim::Outer, &[dx, y]));
            let r = t(1).map(|dy| b.prim(Prim::Outer, &[x, dy]));
            b.add_opt(l, r)
        }
        Prim::TriSolve { transpose } => {
            // z = L⁻¹ r: dz = L⁻¹ (dr − dL z); z = L⁻ᵀ r: dz = L⁻ᵀ (dr − dLᵀ z).
            let l = args[0];
            let dl_z = t(0).map(|dl| {
                let dl = b.un(Prim::Tril, dl);
                let m = b.prim(
                    Prim::MatVec {
                        transpose: *transpose,
                    },
                    &[dl, z],
                );
                b.neg(m)
            });
            let rhs = b.add_opt(t(1), dl_z);
            rhs.map(|r| {
                b.prim(
                    Prim::TriSolve {
                        transpose: *transpose,
                    },
                    &[l, r],
                )
            })
        }
        Prim::Tril | Prim::Diagonal | Prim::DiagMatrix => t(0).map(|d| b.un(prim.clone(), d)),
        Prim::MatMul { .. }
        | Prim::Transpose
        | Prim::Reshape(_)
        | Prim::Concat
        | Prim::Slice { .. }
        | Prim::Gather
        | Prim::ScatterAdd
        | Prim::Reduce { .. }
        | Prim::Expand { .. } => super::tensor_ad::jvp(b, prim, args, z, tangents),
        Prim::Host { id, arity } => {
            // df = Σₖ ∂f/∂xₖ · dxₖ, with the partials the host supplies.
            let mut sum = None;
            for k in 0..*arity {
                let term = scale(b, t(k as usize), |b| {
                    b.prim(host_partial(*id, *arity, k), args)
                });
                sum = b.add_opt(sum, term);
            }
            sum
        }
        Prim::HostPartial { .. } => return Err(host_partial_not_differentiable()),
    };
    Ok(out)
}

/// The reverse-mode rule: cotangent contributions for `prim`'s operands
/// given the result's cotangent `ct`. Entry `i` is `None` when operand `i`
/// is not `needed` or receives a zero cotangent.
pub fn vjp(
    b: &mut Builder,
    prim: &Prim,
    args: &[ValueId],
    z: ValueId,
    ct: ValueId,
    needed: &[bool],
) -> Result<Vec<Option<ValueId>>, NotDifferentiable> {
    let need = |i: usize| needed.get(i).copied().unwrap_or(false);
    let mut out: Vec<Option<ValueId>> = vec![None; args.len()];
    match prim {
        Prim::ConstF64(_)
        | Prim::ConstI64(_)
        | Prim::ConstBool(_)
        | Prim::ConstTensor { .. }
        | Prim::Sign
        | Prim::Floor
        | Prim::StopGrad
        | Prim::Lt
        | Prim::Le
        | Prim::Gt
        | Prim::Ge
        | Prim::Eq
        | Prim::Ne
        | Prim::And
        | Prim::Or
        | Prim::Not
        | Prim::IntToF64
        | Prim::BoolToF64
        | Prim::F64ToInt
        | Prim::Rem => {}
        Prim::Guard { .. } => out[0] = Some(ct),
        Prim::Neg => {
            if need(0) {
                out[0] = Some(b.neg(ct));
            }
        }
        Prim::Exp
        | Prim::Log
        | Prim::Log1p
        | Prim::Expm1
        | Prim::Sqrt
        | Prim::Sin
        | Prim::Cos
        | Prim::Tan
        | Prim::Atan
        | Prim::Tanh
        | Prim::Sigmoid
        | Prim::Softplus
        | Prim::Abs
        | Prim::Lgamma
        | Prim::Digamma
        | Prim::Polygamma(_) => {
            if need(0)
                && let Some(deriv) = unary_derivative(b, prim, args[0], z)?
            {
                out[0] = Some(b.mul(ct, deriv));
            }
        }
        Prim::Add => {
            out[0] = need(0).then_some(ct);
            out[1] = need(1).then_some(ct);
        }
        Prim::Sub => {
            out[0] = need(0).then_some(ct);
            if need(1) {
                out[1] = Some(b.neg(ct));
            }
        }
        Prim::Mul => {
            if need(0) {
                out[0] = Some(b.mul(ct, args[1]));
            }
            if need(1) {
                out[1] = Some(b.mul(ct, args[0]));
            }
        }
        Prim::Div => {
            let y = args[1];
            let ct_y = b.div(ct, y);
            if need(0) {
                out[0] = Some(ct_y);
            }
            if need(1) {
                let m = b.mul(ct_y, z);
                out[1] = Some(b.neg(m));
            }
        }
        Prim::Pow => {
            let (x, y) = (args[0], args[1]);
            if need(0) {
                let one = ones_like(b, y);
                let ym1 = b.sub(y, one);
                let p = b.prim(Prim::Pow, &[x, ym1]);
                let d = b.mul(y, p);
                out[0] = Some(b.mul(ct, d));
            }
            if need(1) {
                let lx = b.un(Prim::Log, x);
                let d = b.mul(z, lx);
                out[1] = Some(b.mul(ct, d));
            }
        }
        Prim::Max | Prim::Min => {
            let (x, y) = (args[0], args[1]);
            let cmp = if matches!(prim, Prim::Max) {
                Prim::Ge
            } else {
                Prim::Le
            };
            let c = b.prim(cmp, &[x, y]);
            let zero = b.zeros_like(x);
            if need(0) {
                out[0] = Some(b.prim(Prim::Select, &[c, ct, zero]));
            }
            if need(1) {
                out[1] = Some(b.prim(Prim::Select, &[c, zero, ct]));
            }
        }
        Prim::GammaP => {
            let (a, x) = (args[0], args[1]);
            if need(0) {
                let d = b.prim(Prim::GammaPDa, &[a, x]);
                out[0] = Some(b.mul(ct, d));
            }
            if need(1) {
                let d = gamma_p_dx(b, a, x);
                out[1] = Some(b.mul(ct, d));
            }
        }
        Prim::GammaPDa => {
            if need(0) || need(1) {
                return Err(NotDifferentiable {
                    prim: "gamma_p_da",
                    why: "second derivatives of the regularized incomplete gamma function \
                          in its shape are not implemented (implicit gamma/beta/dirichlet \
                          gradients cannot be differentiated twice)",
                });
            }
        }
        Prim::Select => {
            let c = args[0];
            let zero = b.zeros_like(args[1]);
            if need(1) {
                out[1] = Some(b.prim(Prim::Select, &[c, ct, zero]));
            }
            if need(2) {
                out[2] = Some(b.prim(Prim::Select, &[c, zero, ct]));
            }
        }
        Prim::Broadcast(_) | Prim::BroadcastLike => {
            if need(0) {
                out[0] = Some(b.un(Prim::Sum, ct));
            }
        }
        Prim::Pack => {
            for (i, slot) in out.iter_mut().enumerate() {
                if need(i) {
                    let idx = b.i64(i as i64);
                    *slot = Some(b.prim(Prim::Index, &[ct, idx]));
                }
            }
        }
        Prim::Index => {
            if need(0) {
                let zeros = b.zeros_like(args[0]);
                out[0] = Some(b.prim(Prim::IndexAdd, &[zeros, args[1], ct]));
            }
        }
        Prim::IndexAdd => {
            out[0] = need(0).then_some(ct);
            if need(2) {
                out[2] = Some(b.prim(Prim::Index, &[ct, args[1]]));
            }
        }
        Prim::Sum => {
            if need(0) {
                out[0] = Some(b.broadcast_to(ct, args[0]));
            }
        }
        Prim::LogSumExp => {
            if need(0) {
                let w = softmax_weights(b, args[0], z);
                let c = b.broadcast_to(ct, args[0]);
                out[0] = Some(b.mul(c, w));
            }
        }
        Prim::ReduceMax => {
            if need(0) {
                let w = argmax_weights(b, args[0], z);
                let c = b.broadcast_to(ct, args[0]);
                out[0] = Some(b.mul(c, w));
            }
        }
        Prim::MatVec { transpose } => {
            let (m, v) = (args[0], args[1]);
            if need(0) {
                // z = M v: M̄ = z̄ vᵀ; z = Mᵀ v: M̄ = v z̄ᵀ.
                out[0] = Some(if *transpose {
                    b.prim(Prim::Outer, &[v, ct])
                } else {
                    b.prim(Prim::Outer, &[ct, v])
                });
            }
            if need(1) {
                out[1] = Some(b.prim(
                    Prim::MatVec {
                        transpose: !transpose,
                    },
                    &[m, ct],
                ));
            }
        }
        Prim::Outer => {
            let (x, y) = (args[0], args[1]);
            if need(0) {
                out[0] = Some(b.prim(Prim::MatVec { transpose: false }, &[ct, y]));
            }
            if need(1) {
                out[1] = Some(b.prim(Prim::MatVec { transpose: true }, &[ct, x]));
            }
        }
        Prim::TriSolve { transpose } => {
            // z = L⁻¹ r: r̄ = L⁻ᵀ z̄, L̄ = −tril(r̄ zᵀ);
            // z = L⁻ᵀ r: r̄ = L⁻¹ z̄, L̄ = −tril(z r̄ᵀ).
            let l = args[0];
            let r_bar = b.prim(
                Prim::TriSolve {
                    transpose: !transpose,
                },
                &[l, ct],
            );
            if need(1) {
                out[1] = Some(r_bar);
            }
            if need(0) {
                let o = if *transpose {
                    b.prim(Prim::Outer, &[z, r_bar])
                } else {
                    b.prim(Prim::Outer, &[r_bar, z])
                };
                let o = b.un(Prim::Tril, o);
                out[0] = Some(b.neg(o));
            }
        }
        Prim::Tril => {
            if need(0) {
                out[0] = Some(b.un(Prim::Tril, ct));
            }
        }
        Prim::Diagonal => {
            if need(0) {
                out[0] = Some(b.un(Prim::DiagMatrix, ct));
            }
        }
        Prim::DiagMatrix => {
            if need(0) {
                out[0] = Some(b.un(Prim::Diagonal, ct));
            }
        }
        Prim::MatMul { .. }
        | Prim::Transpose
        | Prim::Reshape(_)
        | Prim::Concat
        | Prim::Slice { .. }
        | Prim::Gather
        | Prim::ScatterAdd
        | Prim::Reduce { .. }
        | Prim::Expand { .. } => super::tensor_ad::vjp(b, prim, args, z, ct, needed, &mut out),
        Prim::Host { id, arity } => {
            // x̄ₖ = z̄ · ∂f/∂xₖ.
            for (k, slot) in out.iter_mut().enumerate() {
                if need(k) {
                    let partial = b.prim(host_partial(*id, *arity, k as u32), args);
                    *slot = Some(b.mul(ct, partial));
                }
            }
        }
        Prim::HostPartial { .. } => {
            if (0..args.len()).any(need) {
                return Err(host_partial_not_differentiable());
            }
        }
    }
    Ok(out)
}

fn host_partial(id: u32, arity: u32, wrt: u32) -> Prim {
    Prim::HostPartial { id, arity, wrt }
}

/// A host function is registered with its first derivative only.
fn host_partial_not_differentiable() -> NotDifferentiable {
    NotDifferentiable {
        prim: "host_partial",
        why: "a host function is registered with its first derivative only, \
              so it cannot be differentiated twice",
    }
}

/// ∂P(a, x)/∂x = exp((a − 1) ln x − x − ln Γ(a)).
fn gamma_p_dx(b: &mut Builder, a: ValueId, x: ValueId) -> ValueId {
    let one = ones_like(b, a);
    let am1 = b.sub(a, one);
    let lx = b.un(Prim::Log, x);
    let t = b.mul(am1, lx);
    let t = b.sub(t, x);
    let lg = b.un(Prim::Lgamma, a);
    let t = b.sub(t, lg);
    b.un(Prim::Exp, t)
}

/// `exp(x − logsumexp(x))`, the weights of logsumexp's derivative.
fn softmax_weights(b: &mut Builder, x: ValueId, lse: ValueId) -> ValueId {
    let l = b.broadcast_to(lse, x);
    let d = b.sub(x, l);
    b.un(Prim::Exp, d)
}

/// The indicator of the maximal elements, normalized to sum to 1 (the
/// derivative of `reduce_max` splits evenly between ties).
fn argmax_weights(b: &mut Builder, x: ValueId, max: ValueId) -> ValueId {
    let m = b.broadcast_to(max, x);
    let is_max = b.prim(Prim::Eq, &[x, m]);
    let w = b.un(Prim::BoolToF64, is_max);
    let n = b.un(Prim::Sum, w);
    let n = b.broadcast_to(n, x);
    b.div(w, n)
}
