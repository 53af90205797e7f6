//! Compiling what a `fit` or `report` needs: the pipeline from an
//! expression to estimator and gradient programs.
//!
//! For an objective (an expectation):
//!
//! 1. lower it into `body(params) -> ret`, with random choices and costs;
//! 2. check that nested expectations are used linearly (`linearity.rs`);
//! 3. check pathwise strategies (`adev::check_soundness`), falling back to
//!    `reinforce` for defaults and rejecting explicit unsound ones;
//! 4. ADEV: `estimator(params) -> (value, surrogate)`;
//! 5. vmap: independent loops (plates without draws) become batched
//!    straight-line code (`transform/vmap.rs`);
//! 6. reverse-mode AD: `gradient(params, seed) -> (value, surrogate,
//!    ∂surrogate/∂params...)`;
//!
//! with simplification after the transforms and the verifier after every
//! step.

use super::Program;
use super::ctx::{Handler, LResult, Lower};
use super::entry::{Stages, ValueType};
use super::meta::Meta;
use crate::ir::{Builder, Function, OpKind, Origin, ValueId, verify::verify};
use crate::transform::{adev, simplify::simplify, vjp::vjp, vmap::vmap};
use vprog_lang::ast::Expr;
use vprog_lang::{Diagnostic, Span};

/// An objective compiled to estimator programs.
#[derive(Clone, Debug)]
pub struct CompiledObjective {
    /// The expectation's body, before ADEV (random choices and costs).
    pub body: Function,
    /// `(params) -> (value, surrogate, total, log_weight)` (see `adev`).
    pub estimator: Function,
    /// `(params, seed) -> (value, surrogate, total, log_weight, gradient per
    /// parameter)`.
    pub gradient: Function,
    /// Which parameters the objective reads.
    pub params_used: Vec<bool>,
    /// Whether it has `enum` sites (the driver enumerates).
    pub has_enum: bool,
    /// Whether it has `mvd` sites (the driver runs branch evaluations).
    pub has_mvd: bool,
}

/// What a `report` compiles to.
#[derive(Clone, Debug)]
pub enum CompiledValue {
    /// `estimate(objective, samples = n)`.
    Estimate {
        /// The objective.
        objective: Box<CompiledObjective>,
        /// How many samples to average.
        samples: usize,
    },
    /// A deterministic value of the parameters: `(params) -> leaves`.
    Value(Function),
}

pub(super) fn internal(e: impl std::fmt::Display, span: Span) -> Diagnostic {
    Diagnostic::error("E0900", format!("internal compiler error: {e}"), span)
        .with_note("this is a bug in vprog; please report it with the program")
}

pub(super) fn checked(f: Function, span: Span) -> LResult<Function> {
    verify(&f)
        .map_err(|e| internal(format!("the IR of `{}` does not verify: {e}", f.name), span))?;
    Ok(f)
}

impl Program {
    pub(super) fn new_lower<'p, 'f>(
        &'p self,
        func: &'f mut Function,
        item: usize,
    ) -> (Lower<'p, 'f>, Vec<ValueId>) {
        let mut b = Builder::new(func);
        let params: Vec<ValueId> = self.params.iter().map(|p| b.fresh(p.ty())).collect();
        let lower = Lower {
            prog: self,
            b,
            module: 0,
            item,
            scopes: vec![Vec::new()],
            handlers: Vec::new(),
            next_site: 0,
            params: params.clone(),
            params_read: vec![false; self.params.len()],
            call_depth: 0,
            depth: 0,
            nested: Vec::new(),
            site_path: Vec::new(),
            consts: Default::default(),
            stop_params: 0,
            current_site: None,
        };
        (lower, params)
    }

    /// Lowers the body of the expectation `m` into `lower`'s function.
    pub(super) fn lower_expectation(
        lower: &mut Lower,
        m: Meta,
        span: Span,
        what: &str,
    ) -> LResult<ValueId> {
        let closure = match m {
            Meta::Expect(c) => c,
            other => {
                return Err(Diagnostic::error(
                    "E0500",
                    format!(
                        "{what} must be an expectation `E {{ ... }}`, found {}",
                        other.kind_name()
                    ),
                    span,
                )
                .with_help(
                    "library objectives such as `elbo(model, guide, data)` are expectations",
                ));
            }
        };
        lower.handlers.push(Handler::Expect);
        let captured = closure.captured.clone();
        let body = closure.body.clone();
        let r = lower.inline_body(
            closure.module,
            "E",
            Vec::new(),
            |this| {
                for (n, m) in captured {
                    this.bind(&n, m, false);
                }
                let m = this.block(&body)?;
                this.real_scalar(m, body.span, "the value of an expectation")
            },
            span,
        );
        lower.handlers.pop();
        r
    }

    /// Runs the passes after lowering on the body of an objective. With
    /// `stages`, records the IR after each named pass (for the REPL's
    /// `:ir`).
    pub(super) fn finish_objective(
        &self,
        mut body: Function,
        nested: Vec<(ValueId, Span)>,
        params_used: Vec<bool>,
        span: Span,
        mut stages: Option<&mut Stages>,
    ) -> LResult<CompiledObjective> {
        let mut record = |name: &'static str, f: &Function| {
            if let Some(stages) = stages.as_deref_mut() {
                stages.push((name, f.clone()));
            }
        };
        body = checked(body, span)?;
        record("lower", &body);
        let nested_values: Vec<ValueId> = nested.iter().map(|(v, _)| *v).collect();
        if let Some((i, origin)) = super::linearity::check(&body, &nested_values) {
            let use_span = body.origin(origin).span.unwrap_or(span);
            return Err(Diagnostic::error(
                "E0501",
                "a nested expectation is used non-linearly, which would make the estimate biased",
                nested[i].1,
            )
            .with_primary_label("this expectation's value is one random sample")
            .with_label(use_span, "used non-linearly here")
            .with_help("a nested expectation may only be added, subtracted, scaled, or passed to `add_cost`; write the whole computation as one `E { ... }`"));
        }
        let problems = adev::check_soundness(&mut body);
        record("soundness", &body);
        if let Some(p) = problems.first() {
            let site: &Origin = body.origin(p.site);
            let site_span = site.span.unwrap_or(span);
            let use_span = body.origin(p.use_origin).span.unwrap_or(span);
            let name = site.site.clone().unwrap_or_else(|| "this choice".into());
            return Err(Diagnostic::error(
                "E0502",
                format!(
                    "`by {}` differentiates through the value of `{name}`, but it reaches {}, so the pathwise gradient would be biased",
                    p.strategy, p.use_kind
                ),
                site_span,
            )
            .with_primary_label(format!("`{name}` is sampled here"))
            .with_label(use_span, p.use_kind)
            .with_help(format!("use `by reinforce` for `{name}`: the score-function estimator is unbiased whatever the continuation")));
        }
        if let Some(m) = adev::check_moving_supports(&body).first() {
            let site = body.origin(m.site);
            let name = site.site.clone().unwrap_or_else(|| "this choice".into());
            let mut d = Diagnostic::error(
                "E0507",
                format!("`reinforce` on `{name}` would be biased: its `uniform` bounds depend on the parameters, so its support moves with them"),
                site.span.unwrap_or(span),
            )
            .with_primary_label(format!("`{name}` is sampled here"))
            .with_help("use `by reparam` (keeping the value away from comparisons), or make the bounds constant");
            if !m.explicit {
                d = d.with_note("the default `reparam` fell back to `reinforce` because the value reaches a comparison, a rounding or an integer conversion");
            }
            return Err(d);
        }
        let estimator = adev::adev(&body).map_err(|e| {
            let s = body.origin(e.origin).span.unwrap_or(span);
            Diagnostic::error("E0503", e.message, s)
        })?;
        let estimator = checked(estimator, span)?;
        record("adev", &estimator);
        let estimator = checked(simplify(&estimator), span)?;
        record("simplify", &estimator);
        let estimator = checked(vmap(&estimator), span)?;
        record("vmap", &estimator);
        let estimator = checked(simplify(&estimator), span)?;
        record("simplify", &estimator);
        let wrt = vec![true; estimator.body.params.len()];
        let gradient = vjp(&estimator, &wrt, &[false, true, false, false]).map_err(|e| {
            let s = estimator.origin(e.origin).span.unwrap_or(span);
            Diagnostic::error("E0504", e.message, s)
        })?;
        let gradient = checked(gradient, span)?;
        record("vjp", &gradient);
        let gradient = checked(simplify(&gradient), span)?;
        record("simplify", &gradient);
        let has_enum = estimator.any_op(|op| matches!(op.kind, OpKind::EnumValue { .. }));
        let has_mvd = estimator.any_op(|op| matches!(op.kind, OpKind::MvdValue { .. }));
        Ok(CompiledObjective {
            body,
            estimator,
            gradient,
            params_used,
            has_enum,
            has_mvd,
        })
    }

    /// Compiles the objective `expr` (seen from top-level item `item`) for
    /// a `fit` called `name`.
    pub fn compile_objective(
        &self,
        item: usize,
        name: &str,
        expr: &Expr,
    ) -> LResult<CompiledObjective> {
        self.compile_objective_staged(item, name, expr, None)
    }

    /// [`Program::compile_objective`], recording the IR after each pass in
    /// `stages`.
    pub(super) fn compile_objective_staged(
        &self,
        item: usize,
        name: &str,
        expr: &Expr,
        stages: Option<&mut Stages>,
    ) -> LResult<CompiledObjective> {
        let mut func = Function::new(name);
        let (mut lower, params) = self.new_lower(&mut func, item);
        let m = lower.expr(expr)?;
        let ret =
            Self::lower_expectation(&mut lower, m, expr.span, &format!("the objective `{name}`"))?;
        let nested = std::mem::take(&mut lower.nested);
        let used = lower.params_read.clone();
        lower.b.finish(params, vec![ret]);
        self.finish_objective(func, nested, used, expr.span, stages)
    }

    /// Compiles the top-level definition `name` of the main module (as seen
    /// after every item) as an objective.
    pub fn objective(&self, name: &str) -> LResult<CompiledObjective> {
        let expr = Expr {
            id: vprog_lang::ast::ExprId(u32::MAX),
            kind: vprog_lang::ast::ExprKind::Var(vprog_lang::ast::Ident {
                name: name.to_string(),
                span: Span::default(),
            }),
            span: Span::default(),
        };
        self.compile_objective(self.modules[0].ast.items.len(), name, &expr)
    }

    /// Compiles the value of a `report`.
    pub fn compile_value(&self, item: usize, name: &str, expr: &Expr) -> LResult<CompiledValue> {
        self.lower_value(item, name, expr, None)?.1
    }

    /// Lowers the value of `expr` (seen from top-level item `item`): its
    /// type, and what a `report` of it compiles to — or the error a
    /// `report` of it gives, for a value that cannot be reported (an
    /// expectation, a generative function). The outer error is an error in
    /// the expression itself. With `stages`, records the IR after each
    /// named pass.
    pub(super) fn lower_value(
        &self,
        item: usize,
        name: &str,
        expr: &Expr,
        mut stages: Option<&mut Stages>,
    ) -> LResult<(ValueType, LResult<CompiledValue>)> {
        let mut func = Function::new(name);
        let (mut lower, params) = self.new_lower(&mut func, item);
        let m = lower.expr(expr)?;
        let ty = ValueType::of(&lower, &m);
        let compiled = match m {
            Meta::Estimate { objective, samples } => {
                let ret = Self::lower_expectation(
                    &mut lower,
                    *objective,
                    expr.span,
                    "the argument of `estimate`",
                )?;
                let nested = std::mem::take(&mut lower.nested);
                let used = lower.params_read.clone();
                lower.b.finish(params, vec![ret]);
                let objective =
                    self.finish_objective(func, nested, used, expr.span, stages.as_deref_mut())?;
                Ok(CompiledValue::Estimate {
                    objective: Box::new(objective),
                    samples,
                })
            }
            Meta::Expect(_) => Err(Diagnostic::error(
                "E0505",
                "an expectation cannot be reported directly",
                expr.span,
            )
            .with_help("report `estimate(objective, samples = 1000)`")),
            other => match other.leaves() {
                Some(leaves) if !leaves.is_empty() => {
                    lower.b.finish(params, leaves);
                    let func = checked(func, expr.span)?;
                    if let Some(stages) = stages.as_deref_mut() {
                        stages.push(("lower", func.clone()));
                    }
                    let func = checked(simplify(&func), expr.span)?;
                    if let Some(stages) = stages {
                        stages.push(("simplify", func.clone()));
                    }
                    Ok(CompiledValue::Value(func))
                }
                _ => Err(Diagnostic::error(
                    "E0506",
                    format!("cannot report {}", other.kind_name()),
                    expr.span,
                )
                .with_help("report a number, an array, or `estimate(objective, samples = n)`")),
            },
        };
        Ok((ty, compiled))
    }
}
