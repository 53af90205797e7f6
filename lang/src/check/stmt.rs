//! Checking statements: `let` and patterns, `param`, assignments, `for`
//! loops and comprehensions. Random choices are in `sample.rs`.

use super::expr::const_int;
use super::init::{RandomInit, random_initializer};
use super::scope::{Base, Body, GenLoop, Local, LocalKind};
use super::types::{Elem, Num, Shape, Ty, annotation_type, describe_num, type_span};
use crate::ast::{
    Block, Expr, FunctionKind, Ident, LetStmt, ParamDecl, Pattern, Plate, Stmt, StmtKind,
    TypeExprKind,
};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

impl Body<'_, '_> {
    /// Checks a statement.
    pub fn stmt(&mut self, s: &Stmt) {
        match &s.kind {
            StmtKind::Let(l) => self.let_stmt(l),
            StmtKind::Param(decl) => {
                self.param_placement(decl);
                let ty = self.param_type(decl);
                self.declare(&decl.name, ty, LocalKind::Learned, false);
            }
            StmtKind::Sample(sample) => self.sample_stmt(sample, s.span),
            StmtKind::Assign { target, value } => self.assign(target, value),
            StmtKind::For {
                var,
                lo,
                hi,
                body,
                plate: None,
            } => {
                self.for_loop(var, lo, hi, body, false);
            }
            StmtKind::For {
                var,
                lo,
                hi,
                body,
                plate: Some(plate),
            } => self.plate(var, lo, hi, body, plate),
            StmtKind::Expr(e) => {
                self.expr(e);
            }
        }
    }

    fn let_stmt(&mut self, l: &LetStmt) {
        let ty = self.let_value(l);
        self.bind_pattern(&l.pattern, ty, LocalKind::Let, l.mutable);
    }

    /// The type of a `let`'s value, checked against its annotation and, for
    /// `let mut`, against what a mutable variable can hold.
    pub fn let_value(&mut self, l: &LetStmt) -> Ty {
        let mut ty = match self.data_let(l) {
            Some(loaded) => loaded,
            None => self.expr(&l.value),
        };
        if let Some(annotation) = &l.ty {
            match annotation_type(annotation) {
                Err(d) => self.report(*d),
                Ok(want) => {
                    if let Err(m) = self.accepts_annotation(&want, &ty) {
                        self.report(
                            Diagnostic::error(
                                "E0252",
                                format!(
                                    "this value is {}, but the annotation says {}",
                                    m.found, m.expected
                                ),
                                l.value.span,
                            )
                            .with_label(type_span(annotation), "annotation"),
                        );
                    }
                    ty = want;
                }
            }
        }
        let resolved = self.resolve(&ty);
        if l.mutable && !resolved.is_data() {
            self.report(Diagnostic::error(
                "E0251",
                format!(
                    "only numbers, tuples and records can be `mut`, not {}",
                    resolved.describe()
                ),
                l.value.span,
            ));
        }
        ty
    }

    /// Binds the names of `pattern` to the parts of a value of type `ty`.
    pub fn bind_pattern(&mut self, pattern: &Pattern, ty: Ty, kind: LocalKind, mutable: bool) {
        match pattern {
            Pattern::Ident(name) => self.declare(name, ty, kind, mutable),
            Pattern::Wildcard(_) => {}
            Pattern::Tuple(parts, span) => {
                let parts_ty: Vec<Ty> = match self.resolve(&ty) {
                    Ty::Tuple(items) if items.len() == parts.len() => items,
                    Ty::Tuple(items) => {
                        self.report(Diagnostic::error(
                            "E0250",
                            format!(
                                "this pattern has {} parts but the value has {}",
                                parts.len(),
                                items.len()
                            ),
                            *span,
                        ));
                        vec![Ty::Any; parts.len()]
                    }
                    Ty::Var(v) if self.branch_depth == 0 => {
                        let fresh: Vec<Ty> = parts.iter().map(|_| self.fresh_var()).collect();
                        self.bind(
                            v,
                            Ty::Tuple(fresh.clone()),
                            *span,
                            "destructured as a tuple",
                        );
                        fresh
                    }
                    Ty::Any | Ty::Var(_) => vec![Ty::Any; parts.len()],
                    other => {
                        self.report(Diagnostic::error(
                            "E0250",
                            format!("a tuple pattern needs a tuple, found {}", other.describe()),
                            *span,
                        ));
                        vec![Ty::Any; parts.len()]
                    }
                };
                for (p, t) in parts.iter().zip(parts_ty) {
                    self.bind_pattern(p, t, kind, mutable);
                }
            }
        }
    }

    /// Checks where a `param` is declared: at the top level of a `gen`
    /// body (E0107 elsewhere in one; E0253 outside).
    fn param_placement(&mut self, decl: &ParamDecl) {
        if self.base == Base::Function(FunctionKind::Gen) {
            if self.expect_depth > 0 || self.block_depth > 1 {
                self.report(
                    Diagnostic::error(
                        "E0107",
                        "a `param` must be declared at the top level of a `gen` body",
                        decl.name.span,
                    )
                    .with_help("move the declaration to the start of the generative function"),
                );
            }
        } else {
            self.report(Diagnostic::error(
                "E0253",
                "a `param` can only be declared in a `gen` body or at the top level",
                decl.name.span,
            ));
        }
    }

    /// The type of a learnable parameter: a real, or an array of reals of
    /// the declared dimensions or the initial value's shape.
    pub fn param_type(&mut self, decl: &ParamDecl) -> Ty {
        let declared = decl.ty.as_ref().and_then(|t| match &t.kind {
            TypeExprKind::Named { dims, .. } if !dims.is_empty() => {
                Some(Shape::Dims(dims.iter().map(|&d| Some(d)).collect()))
            }
            _ => None,
        });
        if let Some((form, name_span)) = random_initializer(&decl.init) {
            return self.random_param(decl, form, name_span, declared);
        }
        self.in_param_init = true;
        let init = self.expr(&decl.init);
        self.in_param_init = false;
        let init_shape = match self.resolve(&init) {
            Ty::Num(n) if n.elem != Elem::Bool => n.shape,
            Ty::Any | Ty::Var(_) => Shape::Unknown,
            other => {
                self.report(Diagnostic::error(
                    "E0108",
                    format!(
                        "a parameter's initial value must be a number or an array of numbers, not {}",
                        other.describe()
                    ),
                    decl.init.span,
                ));
                Shape::Unknown
            }
        };
        let shape = match declared {
            Some(declared) => {
                let init_is_array = init_shape.rank().is_some_and(|r| r > 0);
                if init_is_array && declared.agree(&init_shape).is_none() {
                    let show = |s: &Shape| {
                        describe_num(&Num {
                            elem: Elem::Real,
                            shape: s.clone(),
                        })
                    };
                    self.report(Diagnostic::error(
                        "E0109",
                        format!(
                            "parameter `{}` is declared as {} but its initial value is {}",
                            decl.name.name,
                            show(&declared),
                            show(&init_shape)
                        ),
                        decl.init.span,
                    ));
                }
                declared
            }
            None => init_shape,
        };
        Ty::Num(Num {
            elem: Elem::Real,
            shape,
        })
    }

    /// The type of a parameter initialized by a draw (`glorot()`, `he()`,
    /// `normal(σ)`): its declared shape (a scalar without one). The
    /// constraint must be `real` — a draw around 0 is no value for a
    /// `positive` or `unit_interval` parameter — and `σ` a constant number.
    fn random_param(
        &mut self,
        decl: &ParamDecl,
        form: RandomInit<'_>,
        name_span: Span,
        declared: Option<Shape>,
    ) -> Ty {
        if let Some(TypeExprKind::Named { name, .. }) = decl.ty.as_ref().map(|t| &t.kind)
            && name.name != "real"
        {
            self.report(
                Diagnostic::error(
                    "E0111",
                    format!(
                        "`{}()` draws around 0, which is no initial value for a `{}` parameter",
                        form.name(),
                        name.name
                    ),
                    name_span,
                )
                .with_label(name.span, "the constraint")
                .with_help(
                    "random initializers are for `real` parameters; give a constant instead",
                ),
            );
        }
        if let RandomInit::Normal(scale) = form {
            self.in_param_init = true;
            let ty = self.expr(scale);
            self.in_param_init = false;
            self.real_scalar(&ty, scale.span, "the standard deviation of `normal`");
        }
        Ty::Num(Num {
            elem: Elem::Real,
            shape: declared.unwrap_or_else(|| Shape::Dims(Vec::new())),
        })
    }

    fn assign(&mut self, target: &Ident, value: &Expr) {
        let new = self.expr(value);
        let Some(local) = self.local(&target.name).cloned() else {
            self.report(
                Diagnostic::error(
                    "E0254",
                    format!(
                        "cannot assign to `{}`: it is not a local variable",
                        target.name
                    ),
                    target.span,
                )
                .with_help(format!(
                    "declare a local variable first: `let mut {} = ...;`",
                    target.name
                )),
            );
            return;
        };
        if local.mutable
            && let (Some(&entry), Some(declared)) =
                (self.plate_scopes.last(), self.local_scope(&target.name))
            && declared < entry
        {
            self.report(
                Diagnostic::error(
                    "E0283",
                    format!(
                        "cannot assign to `{}` inside a `plate`: its iterations are independent",
                        target.name
                    ),
                    target.span,
                )
                .with_label(local.span, format!("`{}` is declared here", target.name))
                .with_help("use a `for` loop to carry a value from one iteration to the next"),
            );
            return;
        }
        if !local.mutable || local.expect_depth < self.expect_depth {
            let mut d = Diagnostic::error(
                "E0255",
                format!(
                    "cannot assign twice to immutable variable `{}`",
                    target.name
                ),
                target.span,
            )
            .with_label(local.span, format!("`{}` is declared here", target.name));
            let name = &target.name;
            d = match local.kind {
                _ if local.mutable => d.with_note(
                    "an expectation captures the variables around it by value, so it cannot assign to them",
                ),
                LocalKind::Let => d.with_help(format!("declare it with `let mut {name}`")),
                LocalKind::Learned => {
                    d.with_help("a learnable parameter changes only when a `fit` trains it")
                }
                LocalKind::Parameter | LocalKind::LoopVariable | LocalKind::Choice => d.with_help(
                    format!("copy it into a mutable variable first: `let mut {name} = {name};`"),
                ),
            };
            self.report(d);
            return;
        }
        let new_resolved = self.resolve(&new);
        if !new_resolved.is_data() {
            self.report(Diagnostic::error(
                "E0251",
                format!(
                    "only numbers, tuples and records can be assigned, not {}",
                    new_resolved.describe()
                ),
                value.span,
            ));
            return;
        }
        match self.assignable(&local.ty, &new) {
            Ok(()) => {}
            Err(None) => self.report(
                Diagnostic::error(
                    "E0256",
                    format!("`{}` changes its structure in this assignment", target.name),
                    value.span,
                )
                .with_label(local.span, format!("`{}` is declared here", target.name)),
            ),
            Err(Some((old, new))) => {
                let help = if old.elem == Elem::Int && new.elem == Elem::Real {
                    "initialize it with a real, e.g. `0.0`, to accumulate reals"
                } else {
                    "a variable keeps its type"
                };
                self.report(
                    Diagnostic::error(
                        "E0257",
                        format!(
                            "`{}` is {}, but this value is {}",
                            target.name,
                            describe_num(&old),
                            describe_num(&new)
                        ),
                        value.span,
                    )
                    .with_label(local.span, format!("`{}` is declared here", target.name))
                    .with_help(help),
                );
            }
        }
    }

    /// Whether a value of type `new` can be assigned to a variable of type
    /// `old`: the same structure, and numbers of the same type and shape (an
    /// integer may become a real, not the reverse). `Err(None)` for a
    /// different structure, `Err(Some(leaves))` for different numbers.
    fn assignable(&self, old: &Ty, new: &Ty) -> Result<(), Option<(Num, Num)>> {
        match (self.resolve(old), self.resolve(new)) {
            (Ty::Any | Ty::Var(_), _) | (_, Ty::Any | Ty::Var(_)) => Ok(()),
            (Ty::Num(a), Ty::Num(b)) => {
                let elem_ok = match (a.elem, b.elem) {
                    (Elem::Int, Elem::Real) => false,
                    (x, y) => Elem::agrees(x, y),
                };
                if elem_ok && a.shape.agree(&b.shape).is_some() {
                    Ok(())
                } else {
                    Err(Some((a, b)))
                }
            }
            (Ty::Tuple(a), Ty::Tuple(b)) if a.len() == b.len() => a
                .iter()
                .zip(&b)
                .try_for_each(|(x, y)| self.assignable(x, y)),
            (Ty::Record(a), Ty::Record(b)) if a.keys().eq(b.keys()) => a
                .values()
                .zip(b.values())
                .try_for_each(|(x, y)| self.assignable(x, y)),
            _ => Err(None),
        }
    }

    /// `for var in lo..hi { body }`; with `collect`, a comprehension, whose
    /// type is returned (an array per number of the body's value).
    /// Checks `plate var in lo..hi [(subsample m)] { body }`: a loop inside
    /// a generative function whose body assigns no variable from outside
    /// it. (That the range is `0..N` and `m` is a constant in `1..=N` needs
    /// the values of constants, and is checked by the lowering.)
    fn plate(&mut self, var: &Ident, lo: &Expr, hi: &Expr, body: &Block, plate: &Plate) {
        if !self.in_gen() {
            self.report(
                Diagnostic::error(
                    "E0284",
                    "a `plate` holds the conditionally independent choices of a generative function, but this is not a `gen` body",
                    plate.span,
                )
                .with_help("use a `for` loop here"),
            );
        }
        if let Some(m) = &plate.subsample {
            let m_ty = self.expr(m);
            self.int_scalar(&m_ty, m.span, "a subsample size");
        }
        self.plate_scopes.push(self.scopes.len());
        self.for_loop(var, lo, hi, body, false);
        self.plate_scopes.pop();
    }

    pub fn for_loop(
        &mut self,
        var: &Ident,
        lo: &Expr,
        hi: &Expr,
        body: &Block,
        collect: bool,
    ) -> Ty {
        let lo_ty = self.expr(lo);
        self.int_scalar(&lo_ty, lo.span, "a loop bound");
        let hi_ty = self.expr(hi);
        self.int_scalar(&hi_ty, hi.span, "a loop bound");
        let len = match (const_int(lo), const_int(hi)) {
            (Some(l), Some(h)) => Some(h.saturating_sub(l).max(0) as u64),
            _ => None,
        };
        let in_gen = self.in_gen();
        let id = self.next_loop;
        self.next_loop += 1;
        if in_gen {
            self.gen_frames.loops.push(GenLoop {
                id,
                var: var.name.clone(),
                nonzero_start: const_int(lo).filter(|&k| k != 0).map(|_| lo.span),
            });
            self.gen_frames.frames.push(Vec::new());
        }
        let value = self.scoped(|this| {
            this.declare_local(Local {
                name: var.name.clone(),
                ty: Ty::int(),
                kind: LocalKind::LoopVariable,
                mutable: false,
                span: var.span,
                expect_depth: this.expect_depth,
                gen_loop: in_gen.then_some(id),
            });
            this.block(body)
        });
        if in_gen {
            self.gen_frames.loops.pop();
            let made = self.gen_frames.frames.pop().unwrap_or_default();
            self.add_addresses(made);
        }
        if !collect {
            return Ty::unit();
        }
        match self.stacked(&value, len) {
            Some(ty) => ty,
            None => {
                let span = body.tail.as_ref().map_or(body.span, |t| t.span);
                self.report(Diagnostic::error(
                    "E0261",
                    format!(
                        "a comprehension collects numbers, tuples or records, not {}",
                        self.resolve(&value).describe()
                    ),
                    span,
                ));
                Ty::Any
            }
        }
    }

    /// The type of `len` values of type `ty` collected by a comprehension:
    /// numbers become arrays, tuples and records collect per component.
    fn stacked(&self, ty: &Ty, len: Option<u64>) -> Option<Ty> {
        match self.resolve(ty) {
            Ty::Any | Ty::Var(_) => Some(Ty::Any),
            Ty::Num(n) => Some(Ty::Num(Num {
                elem: n.elem,
                shape: n.shape.stacked(len),
            })),
            Ty::Tuple(items) if !items.is_empty() => Some(Ty::Tuple(
                items
                    .iter()
                    .map(|i| match self.resolve(i) {
                        Ty::Tuple(inner) if inner.is_empty() => Some(Ty::unit()),
                        _ => self.stacked(i, len),
                    })
                    .collect::<Option<_>>()?,
            )),
            Ty::Record(fields) if !fields.is_empty() => Some(Ty::Record(
                fields
                    .iter()
                    .map(|(k, v)| Some((k.clone(), self.stacked(v, len)?)))
                    .collect::<Option<_>>()?,
            )),
            _ => None,
        }
    }
}
