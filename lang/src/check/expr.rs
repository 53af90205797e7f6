//! Checking expressions: literals, names, operators, fields, indexing,
//! arrays and records. Blocks, `if`, `E { }` and `sim` are in
//! `control.rs`.
//!
//! Numbers follow the language's rules (spec §2): an `int` meets a `real`
//! as a `real`; `/` and `^` give reals; a scalar meets an array
//! elementwise and two arrays must have one shape; booleans are never
//! numbers. Where an operand's type is not known the result is as precise
//! as the known operand allows.

use std::collections::BTreeMap;

use super::require::Want;
use super::scope::Body;
use super::types::{Elem, GenKind, Num, Shape, Ty, describe_num};
use crate::ast::{BinaryOp, Expr, ExprKind, Ident, UnaryOp};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

impl Body<'_, '_> {
    /// Checks an expression and returns its type.
    pub fn expr(&mut self, e: &Expr) -> Ty {
        self.ck.depth += 1;
        let ty = self.expr_kind(e);
        self.ck.depth -= 1;
        ty
    }

    fn expr_kind(&mut self, e: &Expr) -> Ty {
        match &e.kind {
            ExprKind::Real(_) => Ty::real(),
            ExprKind::Int(_) => Ty::int(),
            ExprKind::Bool(_) => Ty::bool(),
            ExprKind::Str(_) => Ty::Str,
            ExprKind::Var(name) => self.lookup(name),
            ExprKind::Unary(op, inner) => self.unary(*op, inner),
            ExprKind::Binary(op, l, r) => self.binary(*op, l, r, e.span),
            ExprKind::Call { callee, args } => self.call(callee, args, e.span),
            ExprKind::Field(inner, name) => self.field(inner, name),
            ExprKind::TupleField(inner, k, kspan) => self.tuple_field(inner, *k, *kspan),
            ExprKind::Index(inner, index) => self.index(inner, index),
            ExprKind::Tuple(items) => Ty::Tuple(items.iter().map(|i| self.expr(i)).collect()),
            ExprKind::Array(items) => self.array(items, e.span),
            ExprKind::Comprehension { var, lo, hi, body } => self.for_loop(var, lo, hi, body, true),
            ExprKind::Record(fields) => self.record(fields),
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => self.if_expr(cond, then_branch, else_branch.as_ref(), e.span),
            ExprKind::Block(block) => self.block(block),
            ExprKind::Expect(body) => self.expectation(body),
            ExprKind::Sim(inner) => self.sim(inner, e.span),
        }
    }

    fn unary(&mut self, op: UnaryOp, inner: &Expr) -> Ty {
        let ty = self.expr(inner);
        let want = match op {
            UnaryOp::Neg => Want::Number,
            UnaryOp::Not => Want::Bool,
        };
        let Some(n) = self.value(&ty, inner.span, "the operand", want) else {
            return Ty::Any;
        };
        match op {
            UnaryOp::Neg if n.elem == Elem::Bool => {
                self.report(
                    Diagnostic::error("E0222", "`-` needs a number, found a boolean", inner.span)
                        .with_primary_label(describe_num(&n)),
                );
                Ty::Any
            }
            UnaryOp::Not if n.elem.is_number() => {
                self.report(
                    Diagnostic::error(
                        "E0222",
                        format!("`!` needs a boolean, found {}", describe_num(&n)),
                        inner.span,
                    )
                    .with_primary_label(describe_num(&n)),
                );
                Ty::Any
            }
            UnaryOp::Neg => Ty::Num(n),
            UnaryOp::Not => Ty::Num(n.with_elem(Elem::Bool)),
        }
    }

    fn binary(&mut self, op: BinaryOp, l: &Expr, r: &Expr, span: Span) -> Ty {
        let lt = self.expr(l);
        let rt = self.expr(r);
        let sym = op.symbol();
        let logical = matches!(op, BinaryOp::And | BinaryOp::Or);
        let equality = matches!(op, BinaryOp::Eq | BinaryOp::Ne);
        let want = if logical {
            Want::Bool
        } else if equality {
            Want::Value
        } else {
            Want::Number
        };
        let ln = self.value(&lt, l.span, &format!("the left operand of `{sym}`"), want);
        let rn = self.value(&rt, r.span, &format!("the right operand of `{sym}`"), want);
        let result_elem = |a: Elem, b: Elem| match op {
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => Elem::arithmetic(a, b),
            BinaryOp::Div | BinaryOp::Pow => Elem::Real,
            _ => Elem::Bool,
        };
        let (Some(ln), Some(rn)) = (ln, rn) else {
            return match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => Ty::Any,
                _ => Ty::Num(Num {
                    elem: result_elem(Elem::Unknown, Elem::Unknown),
                    shape: Shape::Unknown,
                }),
            };
        };
        let (lb, rb) = (ln.elem == Elem::Bool, rn.elem == Elem::Bool);
        let (ld, rd) = (describe_num(&ln), describe_num(&rn));
        let combine = || format!("`{sym}` cannot combine {ld} and {rd}");
        let mut ok = true;
        if logical {
            if ln.elem.is_number() && rn.elem.is_number() {
                self.report(
                    Diagnostic::error("E0226", format!("`{sym}` needs booleans, found {ld}"), span)
                        .with_label(l.span, ld.clone())
                        .with_label(r.span, rd.clone()),
                );
                ok = false;
            } else if ln.elem.is_number() && rb || lb && rn.elem.is_number() {
                let (bad, bad_ty, other, other_ty) = if lb {
                    (r.span, &rd, l.span, &ld)
                } else {
                    (l.span, &ld, r.span, &rd)
                };
                self.report(
                    Diagnostic::error("E0223", combine(), bad)
                        .with_primary_label(bad_ty.clone())
                        .with_label(other, other_ty.clone()),
                );
                ok = false;
            }
        } else if equality {
            if lb && rn.elem.is_number() || ln.elem.is_number() && rb {
                self.report(
                    Diagnostic::error("E0223", combine(), l.span.to(r.span))
                        .with_label(l.span, ld.clone())
                        .with_label(r.span, rd.clone()),
                );
                ok = false;
            }
        } else if lb && rb {
            self.report(
                Diagnostic::error(
                    "E0225",
                    format!("`{sym}` needs numbers, found booleans"),
                    span,
                )
                .with_label(l.span, ld.clone())
                .with_label(r.span, rd.clone()),
            );
            ok = false;
        } else if lb && rn.elem.is_number() || ln.elem.is_number() && rb {
            let (bad, bad_ty, other, other_ty) = if lb {
                (l.span, &ld, r.span, &rd)
            } else {
                (r.span, &rd, l.span, &ld)
            };
            self.report(
                Diagnostic::error("E0223", combine(), bad)
                    .with_primary_label(bad_ty.clone())
                    .with_label(other, other_ty.clone()),
            );
            ok = false;
        }
        let shape = match ln.shape.broadcast(&rn.shape) {
            Some(shape) => shape,
            None => {
                if ok {
                    self.report(
                        Diagnostic::error(
                            "E0224",
                            format!("`{sym}` needs operands of one shape, found {ld} and {rd}"),
                            l.span.to(r.span),
                        )
                        .with_label(l.span, ld.clone())
                        .with_label(r.span, rd.clone()),
                    );
                }
                Shape::Unknown
            }
        };
        if !ok {
            return match op {
                BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul => Ty::Any,
                _ => Ty::Num(Num {
                    elem: result_elem(Elem::Unknown, Elem::Unknown),
                    shape,
                }),
            };
        }
        Ty::Num(Num {
            elem: result_elem(ln.elem, rn.elem),
            shape,
        })
    }

    fn field(&mut self, inner: &Expr, name: &Ident) -> Ty {
        let ty = self.expr(inner);
        match self.resolve(&ty) {
            Ty::Record(fields) => match fields.get(&name.name) {
                Some(t) => t.clone(),
                None => {
                    let have: Vec<String> = fields.keys().map(|k| format!("`{k}`")).collect();
                    self.report(Diagnostic::error(
                        "E0227",
                        format!(
                            "this record has no field `{}`; its fields are {}",
                            name.name,
                            if have.is_empty() {
                                "none".to_string()
                            } else {
                                have.join(", ")
                            }
                        ),
                        name.span,
                    ));
                    Ty::Any
                }
            },
            // `g.p`: the current value of the parameter `p` of `g`.
            Ty::Gen(g) if g.kind == GenKind::Function => {
                let Some(f) = g.func else {
                    return Ty::Any;
                };
                let info = &self.ck.functions[f.0];
                match info.learned.iter().find(|p| p.name == name.name) {
                    Some(p) => Ty::Num(Num {
                        elem: Elem::Real,
                        shape: p.dims.as_ref().map_or(Shape::Unknown, |d| {
                            Shape::Dims(d.iter().map(|&x| Some(x)).collect())
                        }),
                    }),
                    None => {
                        let gen_name = info.decl.name.name.clone();
                        let gen_span = info.decl.name.span;
                        self.report(
                            Diagnostic::error(
                                "E0227",
                                format!("`{gen_name}` has no parameter `{}`", name.name),
                                name.span,
                            )
                            .with_label(gen_span, format!("`{gen_name}` is defined here")),
                        );
                        Ty::Any
                    }
                }
            }
            Ty::Any | Ty::Var(_) | Ty::Choices => Ty::Any,
            other => {
                self.report(Diagnostic::error(
                    "E0227",
                    format!(
                        "`.{}` needs a record or a choice map, found {}",
                        name.name,
                        other.describe()
                    ),
                    inner.span,
                ));
                Ty::Any
            }
        }
    }

    fn tuple_field(&mut self, inner: &Expr, k: u32, kspan: Span) -> Ty {
        let ty = self.expr(inner);
        match self.resolve(&ty) {
            Ty::Tuple(items) if !items.is_empty() => match items.get(k as usize) {
                Some(t) => t.clone(),
                None => {
                    self.report(Diagnostic::error(
                        "E0220",
                        format!(
                            "this tuple has {} components; there is no `.{k}`",
                            items.len()
                        ),
                        kspan,
                    ));
                    Ty::Any
                }
            },
            Ty::Any | Ty::Var(_) => Ty::Any,
            other => {
                self.report(Diagnostic::error(
                    "E0220",
                    format!("`.{k}` needs a tuple, found {}", other.describe()),
                    inner.span,
                ));
                Ty::Any
            }
        }
    }

    fn index(&mut self, inner: &Expr, index: &Expr) -> Ty {
        let ty = self.expr(inner);
        let it = self.expr(index);
        self.int_scalar(&it, index.span, "an index");
        match self.resolve(&ty) {
            Ty::Num(n) => match n.shape.element() {
                None => {
                    self.report(Diagnostic::error(
                        "E0230",
                        format!("cannot index {}", describe_num(&n)),
                        inner.span,
                    ));
                    Ty::Any
                }
                Some(shape) => {
                    if let (Some(k), Some(len)) = (const_int(index), n.shape.first())
                        && (k < 0 || k as u64 >= len)
                    {
                        self.report(Diagnostic::error(
                            "E0231",
                            format!("index {k} is out of range for length {len}"),
                            index.span,
                        ));
                    }
                    Ty::Num(Num {
                        elem: n.elem,
                        shape,
                    })
                }
            },
            Ty::Names => Ty::Str,
            Ty::Any | Ty::Var(_) => Ty::Any,
            other => {
                self.report(Diagnostic::error(
                    "E0230",
                    format!("cannot index {}", other.describe()),
                    inner.span,
                ));
                Ty::Any
            }
        }
    }

    fn array(&mut self, items: &[Expr], span: Span) -> Ty {
        let types: Vec<Ty> = items.iter().map(|i| self.expr(i)).collect();
        if items.is_empty() {
            self.report(Diagnostic::error(
                "E0232",
                "an empty array has no type; use `zeros(0)`",
                span,
            ));
            return Ty::Any;
        }
        let resolved: Vec<Ty> = types.iter().map(|t| self.resolve(t)).collect();
        // A list of strings names addresses (`keep = ["x", "y"]`).
        if resolved.contains(&Ty::Str)
            && resolved
                .iter()
                .all(|t| matches!(t, Ty::Str | Ty::Any | Ty::Var(_)))
        {
            return Ty::Names;
        }
        if resolved.iter().all(Ty::is_unknown) {
            // Numbers or names: not known which.
            return Ty::Any;
        }
        let mut nums: Vec<Option<Num>> = Vec::new();
        for (t, e) in types.iter().zip(items) {
            nums.push(self.value(t, e.span, "an array element", Want::Value));
        }
        if nums.iter().any(Option::is_none) {
            return Ty::Any;
        }
        let nums: Vec<(Num, Span)> = nums
            .into_iter()
            .flatten()
            .zip(items.iter().map(|e| e.span))
            .collect();
        let any_real = nums.iter().any(|(n, _)| n.elem == Elem::Real);
        let mut elem = Elem::Unknown;
        let mut shape = Shape::Unknown;
        let mut first: Option<&Num> = None;
        for (n, s) in &nums {
            if any_real && n.elem == Elem::Bool {
                self.report(Diagnostic::error(
                    "E0211",
                    "an array element must be a real, found a boolean",
                    *s,
                ));
                return Ty::Any;
            }
            let agreed = shape.agree(&n.shape);
            if !Elem::agrees(elem, n.elem) || agreed.is_none() {
                let first = first.map_or_else(|| "a value".to_string(), describe_num);
                self.report(Diagnostic::error(
                    "E0233",
                    format!(
                        "the elements of an array must have one type: {first} and {}",
                        describe_num(n)
                    ),
                    *s,
                ));
                return Ty::Any;
            }
            elem = Elem::join(elem, n.elem);
            shape = agreed.unwrap_or(Shape::Unknown);
            if first.is_none() && n.elem != Elem::Unknown {
                first = Some(n);
            }
        }
        Ty::Num(Num {
            elem,
            shape: shape.stacked(Some(items.len() as u64)),
        })
    }

    fn record(&mut self, fields: &[(Ident, Expr)]) -> Ty {
        let mut out = BTreeMap::new();
        for (name, value) in fields {
            let ty = self.expr(value);
            if out.contains_key(&name.name) {
                self.report(Diagnostic::error(
                    "E0221",
                    format!("field `{}` is given twice", name.name),
                    name.span,
                ));
                continue;
            }
            out.insert(name.name.clone(), ty);
        }
        Ty::Record(out)
    }
}

/// The value of an integer expression made of literals and `+ - *`.
pub(crate) fn const_int(e: &Expr) -> Option<i64> {
    match &e.kind {
        ExprKind::Int(x) => Some(*x),
        ExprKind::Unary(UnaryOp::Neg, inner) => const_int(inner)?.checked_neg(),
        ExprKind::Binary(op, l, r) => {
            let (a, b) = (const_int(l)?, const_int(r)?);
            match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                BinaryOp::Mul => a.checked_mul(b),
                _ => None,
            }
        }
        ExprKind::Block(b) if b.stmts.is_empty() => const_int(b.tail.as_ref()?),
        _ => None,
    }
}
