//! Checking blocks, `if`, expectations `E { }` and `sim`.
//!
//! The branches of an `if` must have one type (integers meet reals as
//! reals). Inside a branch the function's type variables are not bound: a
//! branch whose condition is constant at a call site is the only one
//! lowered there, which is how a generic function handles arguments of
//! several kinds. An expectation's value must be a real scalar; the
//! random choices in it are sample sites, not entries of an enclosing
//! generative function's choice map.

use std::collections::BTreeMap;

use super::scope::Body;
use super::types::{Elem, Num, Ty, describe_num};
use crate::ast::{Block, Expr, ExprKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Why two values that must have one type do not.
pub(crate) enum Disagreement {
    /// Different structures (a number and a tuple, tuples of different
    /// lengths, records with different fields).
    Structure,
    /// Numbers of different types: the two leaves.
    Leaves(Num, Num),
}

impl Body<'_, '_> {
    pub fn if_expr(
        &mut self,
        cond: &Expr,
        then_b: &Block,
        else_b: Option<&Block>,
        span: Span,
    ) -> Ty {
        let ct = self.expr(cond);
        self.bool_scalar(&ct, cond.span, "the condition of `if`");
        let constant = match cond.kind {
            ExprKind::Bool(b) => Some(b),
            _ => None,
        };
        let in_gen = self.in_gen();
        self.branch_depth += 1;
        if in_gen {
            self.gen_frames.frames.push(Vec::new());
        }
        let then_ty = self.block(then_b);
        let then_frame = if in_gen {
            self.gen_frames.frames.pop()
        } else {
            None
        };
        if in_gen {
            self.gen_frames.frames.push(Vec::new());
        }
        let else_ty = match else_b {
            Some(b) => self.block(b),
            None => Ty::unit(),
        };
        let else_frame = if in_gen {
            self.gen_frames.frames.pop()
        } else {
            None
        };
        self.branch_depth -= 1;
        // The choices of the branch that runs (both, unless the condition
        // is a constant) are made at this level.
        let mut made = Vec::new();
        if constant != Some(false) {
            made.extend(then_frame.unwrap_or_default());
        }
        if constant != Some(true) {
            for (name, s) in else_frame.unwrap_or_default() {
                if !made.iter().any(|(n, _)| *n == name) {
                    made.push((name, s));
                }
            }
        }
        self.add_addresses(made);

        let (then_ty, else_ty) = (self.resolve(&then_ty), self.resolve(&else_ty));
        if !then_ty.is_data() || !else_ty.is_data() {
            // A constant condition may select between functions or
            // distributions; lowering decides.
            return if then_ty == else_ty { then_ty } else { Ty::Any };
        }
        let value_span = |b: &Block| b.tail.as_ref().map_or(b.span, |t| t.span);
        let else_span = else_b.map_or(span, value_span);
        match self.agree(&then_ty, &else_ty) {
            Ok(ty) => ty,
            Err(Disagreement::Structure) => {
                let mut d = Diagnostic::error(
                    "E0263",
                    "the branches of `if` produce values of different shapes",
                    span,
                )
                .with_label(value_span(then_b), then_ty.describe());
                d = match else_b {
                    Some(_) => d.with_label(else_span, else_ty.describe()),
                    None => d.with_help("without `else`, the `if` is `()`: add an `else` branch, or end the branch with `;`"),
                };
                self.report(d);
                Ty::Any
            }
            Err(Disagreement::Leaves(a, b)) => {
                self.report(
                    Diagnostic::error(
                        "E0264",
                        format!(
                            "the branches of `if` have different types: {} and {}",
                            describe_num(&a),
                            describe_num(&b)
                        ),
                        span,
                    )
                    .with_label(value_span(then_b), then_ty.describe())
                    .with_label(else_span, else_ty.describe()),
                );
                Ty::Any
            }
        }
    }

    /// The common type of two values that must have one type (the
    /// branches of an `if`): integers meet reals as reals; shapes must be
    /// equal. Unknown parts agree with everything.
    pub fn agree(&self, a: &Ty, b: &Ty) -> Result<Ty, Disagreement> {
        match (self.resolve(a), self.resolve(b)) {
            (Ty::Any | Ty::Var(_), _) | (_, Ty::Any | Ty::Var(_)) => Ok(Ty::Any),
            (Ty::Num(x), Ty::Num(y)) => {
                let shape = x.shape.agree(&y.shape);
                match shape {
                    Some(shape) if Elem::agrees(x.elem, y.elem) => Ok(Ty::Num(Num {
                        elem: Elem::join(x.elem, y.elem),
                        shape,
                    })),
                    _ => Err(Disagreement::Leaves(x, y)),
                }
            }
            (Ty::Tuple(x), Ty::Tuple(y)) if x.len() == y.len() => Ok(Ty::Tuple(
                x.iter()
                    .zip(&y)
                    .map(|(p, q)| self.agree(p, q))
                    .collect::<Result<_, _>>()?,
            )),
            (Ty::Record(x), Ty::Record(y)) if x.keys().eq(y.keys()) => {
                let mut out = BTreeMap::new();
                for ((k, p), q) in x.iter().zip(y.values()) {
                    out.insert(k.clone(), self.agree(p, q)?);
                }
                Ok(Ty::Record(out))
            }
            _ => Err(Disagreement::Structure),
        }
    }

    /// Checks a block in a new scope; its type is its tail's, or `()`.
    pub fn block(&mut self, block: &Block) -> Ty {
        self.block_depth += 1;
        let ty = self.scoped(|this| {
            for s in &block.stmts {
                this.stmt(s);
            }
            match &block.tail {
                Some(e) => this.expr(e),
                None => Ty::unit(),
            }
        });
        self.block_depth -= 1;
        ty
    }

    /// `E { body }`: the body may make random choices; its value must be a
    /// real scalar.
    pub fn expectation(&mut self, body: &Block) -> Ty {
        self.expect_depth += 1;
        // Choices inside an expectation are sample sites, not entries of
        // the enclosing generative function's choice map.
        let frames = std::mem::take(&mut self.gen_frames);
        let ty = self.block(body);
        self.gen_frames = frames;
        let span = body.tail.as_ref().map_or(body.span, |t| t.span);
        self.real_scalar(&ty, span, "the value of an expectation");
        self.expect_depth -= 1;
        Ty::Expect
    }

    /// `sim g`: `(choices, log density)`.
    pub fn sim(&mut self, inner: &Expr, span: Span) -> Ty {
        if !self.stochastic() {
            self.report(
                Diagnostic::error(
                    "E0312",
                    "`sim` can only be used inside `E { }` or a `gen` body",
                    span,
                )
                .with_help("wrap the computation in an expectation: `E { ... }`"),
            );
        }
        let ty = self.expr(inner);
        self.applied_gen(&ty, inner.span, "sim", "E0313", false);
        Ty::Tuple(vec![Ty::Choices, Ty::real()])
    }
}
