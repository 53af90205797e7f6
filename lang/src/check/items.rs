//! Checking top-level items: function bodies (into signatures),
//! top-level `let`s and `param`s, `fit` and `report`.

use super::scope::{Base, Body, LocalKind};
use super::types::{Ty, annotation_type, type_span};
use super::{Checker, FuncId, Signature};
use crate::ast::{Expr, ExprKind, FitStmt, FunctionKind, ItemKind, ReportStmt};
use crate::diagnostic::Diagnostic;

/// The optimizers and their options, the required one first.
const OPTIMIZERS: &[(&str, &[&str])] = &[
    ("sgd", &["lr"]),
    ("momentum", &["lr", "beta"]),
    ("adam", &["lr", "beta1", "beta2", "eps"]),
];

impl Checker<'_> {
    /// Checks the body of function `id` with a type variable for each
    /// unannotated parameter, and returns its signature.
    pub(crate) fn check_function(&mut self, id: FuncId) -> Signature {
        let module = self.functions[id.0].module;
        let decl = self.functions[id.0].decl;
        let mut body = Body::new(self, module, None, Base::Function(decl.kind));
        let mut params = Vec::new();
        for p in &decl.params {
            let ty = match &p.ty {
                Some(t) => match annotation_type(t) {
                    Ok(ty) => ty,
                    Err(d) => {
                        body.report(*d);
                        Ty::Any
                    }
                },
                None => body.fresh_var(),
            };
            params.push(ty.clone());
            body.declare(&p.name, ty, LocalKind::Parameter, false);
        }
        if decl.kind == FunctionKind::Gen {
            body.gen_frames.frames.push(Vec::new());
        }
        let mut ret = body.block(&decl.body);
        if let Some(annotation) = &decl.ret {
            match annotation_type(annotation) {
                Err(d) => body.report(*d),
                Ok(want) => {
                    if let Err(m) = body.accepts_annotation(&want, &ret) {
                        let span = decl.body.tail.as_ref().map_or(decl.body.span, |t| t.span);
                        body.report(
                            Diagnostic::error(
                                "E0252",
                                format!(
                                    "this value is {}, but the return type says {}",
                                    m.found, m.expected
                                ),
                                span,
                            )
                            .with_label(type_span(annotation), "return type"),
                        );
                    }
                    ret = want;
                }
            }
        }
        Signature {
            params,
            vars: body.vars,
            ret,
        }
    }

    /// Checks the top-level `let` or `param` at item `idx` of module `m`
    /// and returns its type.
    pub(crate) fn check_definition(&mut self, m: usize, idx: usize) -> Ty {
        let item = &self.modules[m].ast.items[idx];
        let mut body = Body::new(self, m, Some(idx), Base::Definition);
        match &item.kind {
            ItemKind::Let(l) => body.let_value(l),
            ItemKind::Param(decl) => body.param_type(decl),
            _ => Ty::Any,
        }
    }

    /// Checks `fit NAME with OPTIMIZER, options...;`.
    pub(crate) fn check_fit(&mut self, m: usize, idx: usize, fit: &FitStmt) {
        let mut body = Body::new(self, m, Some(idx), Base::Statement);
        let objective = body.lookup(&fit.objective);
        body.expectation_arg(
            &objective,
            fit.objective.span,
            &format!("the objective `{}`", fit.objective.name),
        );
        body.optimizer(&fit.optimizer);
        for option in &fit.options {
            let ty = body.expr(&option.value);
            let name = option.name.name.as_str();
            match name {
                "steps" | "particles" | "seed" => {
                    let resolved = body.resolve(&ty);
                    let is_int = match &resolved {
                        Ty::Num(n) => {
                            !matches!(n.elem, super::types::Elem::Real | super::types::Elem::Bool)
                                && n.shape.rank().is_none_or(|r| r == 0)
                        }
                        _ => resolved.is_unknown(),
                    };
                    if !is_int {
                        let needs = if name == "seed" {
                            "a non-negative integer"
                        } else {
                            "a positive integer"
                        };
                        body.report(Diagnostic::error(
                            "E0131",
                            format!("`{name}` must be {needs}, found {}", resolved.describe()),
                            option.value.span,
                        ));
                    }
                }
                "init" => {
                    let resolved = body.resolve(&ty);
                    if !matches!(resolved, Ty::Record(_)) && !resolved.is_unknown() {
                        body.report(
                            Diagnostic::error(
                                "E0132",
                                format!(
                                    "`init` must be a record of parameter values, found {}",
                                    resolved.describe()
                                ),
                                option.value.span,
                            )
                            .with_help("write e.g. `init = { mu: 0.0, s: 1.0 }`"),
                        );
                    }
                }
                other => body.report(
                    Diagnostic::error(
                        "E0133",
                        format!("`fit` has no option `{other}`"),
                        option.name.span,
                    )
                    .with_help("the options are: steps, particles, seed, init"),
                ),
            }
        }
    }

    /// Checks `report NAME = EXPR;`: a number, an array or a tuple of them,
    /// or an estimate (E0505, E0506).
    pub(crate) fn check_report(&mut self, m: usize, idx: usize, report: &ReportStmt) {
        let mut body = Body::new(self, m, Some(idx), Base::Statement);
        let ty = body.expr(&report.value);
        let ty = body.resolve(&ty);
        let span = report.value.span;
        match ty {
            Ty::Expect => body.report(
                Diagnostic::error("E0505", "an expectation cannot be reported directly", span)
                    .with_help("report `estimate(objective, samples = 1000)`"),
            ),
            Ty::Estimate => {}
            t if !t.is_data() || has_no_numbers(&body, &t) => body.report(
                Diagnostic::error("E0506", format!("cannot report {}", t.describe()), span)
                    .with_help("report a number, an array, or `estimate(objective, samples = n)`"),
            ),
            _ => {}
        }
    }
}

/// Whether a value of data type `ty` certainly holds no number (`()`).
fn has_no_numbers(body: &Body<'_, '_>, ty: &Ty) -> bool {
    match body.resolve(ty) {
        Ty::Tuple(items) => items.iter().all(|i| has_no_numbers(body, i)),
        Ty::Record(fields) => fields.values().all(|f| has_no_numbers(body, f)),
        _ => false,
    }
}

impl Body<'_, '_> {
    /// Checks the optimizer of a `fit`: `sgd`, `momentum` or `adam` with
    /// named numeric options (E0124, E0125), or a value that is one
    /// (E0130).
    fn optimizer(&mut self, e: &Expr) {
        if let ExprKind::Call { callee, args } = &e.kind
            && let ExprKind::Var(name) = &callee.kind
        {
            {
                let builtin = self.local(&name.name).is_none()
                    && matches!(
                        self.global(&name.name, name.span),
                        Some(Ty::Func(Some(super::types::Callable::Builtin(_))))
                    );
                if let Some((_, options)) = OPTIMIZERS
                    .iter()
                    .find(|(n, _)| *n == name.name)
                    .filter(|_| builtin)
                {
                    let mut has_first = false;
                    for a in args {
                        let ty = self.expr(&a.value);
                        self.number(&ty, a.value.span, "an optimizer option");
                        match &a.name {
                            None => self.report(
                                Diagnostic::error(
                                    "E0125",
                                    format!("`{}` takes only named options", name.name),
                                    a.value.span,
                                )
                                .with_help(format!(
                                    "write e.g. `{}({} = ...)`",
                                    name.name, options[0]
                                )),
                            ),
                            Some(k) if !options.contains(&k.name.as_str()) => self.report(
                                Diagnostic::error(
                                    "E0125",
                                    format!("`{}` has no option `{}`", name.name, k.name),
                                    k.span,
                                )
                                .with_help(format!("its options are: {}", options.join(", "))),
                            ),
                            Some(k) => has_first |= k.name == options[0],
                        }
                    }
                    if !has_first {
                        self.report(Diagnostic::error(
                            "E0124",
                            format!("`{}` needs the option `{} = ...`", name.name, options[0]),
                            e.span,
                        ));
                    }
                    return;
                }
            }
        }
        let ty = self.expr(e);
        let ty = self.resolve(&ty);
        if !matches!(ty, Ty::Optimizer) && !ty.is_unknown() {
            self.report(
                Diagnostic::error(
                    "E0130",
                    format!("`fit ... with` needs an optimizer, found {}", ty.describe()),
                    e.span,
                )
                .with_help("write e.g. `with sgd(lr = 1e-3)`, `with momentum(lr = 1e-3)` or `with adam(lr = 1e-3)`"),
            );
        }
    }
}
