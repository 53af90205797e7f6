//! The builtins of choice maps, inference and estimation: `merge`,
//! `density`, `stop_params`, `marginal`, `target`, `normalize`, `sir`,
//! `add_cost`, `estimate` and `grad`.

use super::builtins::Call;
use super::scope::{Base, Body};
use super::types::{Applied, Callable, GenKind, GenTy, Ty};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

impl Body<'_, '_> {
    /// `add_cost(w)` / `factor(w)` of a real scalar (E0415 where no
    /// expectation or generative function can receive it).
    pub fn add_cost(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if self.base == Base::Statement && self.expect_depth == 0 {
            self.report(Diagnostic::error(
                "E0415",
                format!(
                    "`{}` can only be used inside `E {{ }}` or a `gen` body",
                    call.name
                ),
                call.span,
            ));
        }
        if self.arity(call, 1) {
            let what = format!("the argument of `{}`", call.name);
            self.real_scalar(&call.pos[0].0, call.pos[0].1, &what);
        }
        Ty::unit()
    }

    /// `merge(a, b)` of two choice maps (E0314; E0315 for two records with
    /// a field in common).
    pub fn merge(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 2) {
            return Ty::Choices;
        }
        let (a, b) = (&call.pos[0], &call.pos[1]);
        self.choice_map(&a.0, a.1);
        self.choice_map(&b.0, b.1);
        if let (Ty::Record(x), Ty::Record(y)) = (self.resolve(&a.0), self.resolve(&b.0))
            && let Some(k) = x.keys().find(|k| y.contains_key(*k))
        {
            self.report(
                Diagnostic::error(
                    "E0315",
                    format!("`merge`: the address `{k}` is in both choice maps"),
                    a.1.to(b.1),
                )
                .with_label(a.1, "first choice map")
                .with_label(b.1, "second choice map"),
            );
        }
        Ty::Choices
    }

    /// `density(g, choices)`: a real.
    pub fn density(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if self.arity(call, 2) {
            let ((g, gs), (c, cs)) = (&call.pos[0], &call.pos[1]);
            self.applied_gen(g, *gs, "density", "E0316", false);
            self.choice_map(c, *cs);
        }
        Ty::real()
    }

    /// `stop_params(g)`: `g`, a generative function applied or not (E0433).
    pub fn stop_params(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let (ty, span) = &call.pos[0];
        match self.resolve(ty) {
            t @ Ty::Gen(GenTy {
                kind: GenKind::Function,
                ..
            }) => t,
            Ty::Any => Ty::Any,
            Ty::Var(v) => {
                self.bind(
                    v,
                    Ty::Gen(GenTy::unknown()),
                    *span,
                    "used as a generative function",
                );
                Ty::Any
            }
            other => {
                self.report(Diagnostic::error(
                    "E0433",
                    format!(
                        "`stop_params` needs a generative function, found {}",
                        other.describe()
                    ),
                    *span,
                ));
                Ty::Any
            }
        }
    }

    /// `sir(m)` or `sir(m, proposal = q)`: an inference algorithm with `m`
    /// particles (E0408).
    pub fn sir(&mut self, call: &Call<'_>) -> Ty {
        let mut proposal = false;
        for n in &call.named {
            if n.name.name == "proposal" {
                proposal = true;
                match self.resolve(&n.ty) {
                    Ty::Gen(GenTy {
                        kind: GenKind::Function,
                        applied,
                        ..
                    }) if applied != Applied::No => {}
                    Ty::Any | Ty::Var(_) => {}
                    Ty::Gen(GenTy {
                        kind: GenKind::Function,
                        func,
                        ..
                    }) => {
                        let name = func.map_or("g", |f| &self.ck.functions[f.0].decl.name.name);
                        let d = Diagnostic::error(
                            "E0408",
                            "`proposal` must be an applied generative function",
                            n.span,
                        )
                        .with_help(format!("apply it to its arguments: `{name}(...)`"));
                        self.report(d);
                    }
                    other => self.report(Diagnostic::error(
                        "E0408",
                        format!(
                            "`proposal` must be an applied generative function, found {}",
                            other.describe()
                        ),
                        n.span,
                    )),
                }
            } else {
                self.report(Diagnostic::error(
                    "E0401",
                    format!("`sir` has no option `{}`", n.name.name),
                    n.name.span,
                ));
            }
        }
        if self.arity(call, 1) {
            let (ty, span) = &call.pos[0];
            self.int_scalar(ty, *span, "the number of particles");
            if call.const_positional(0).is_some_and(|n| n < 1) {
                self.report(Diagnostic::error(
                    "E0408",
                    "`sir` needs a positive compile-time constant number of particles",
                    *span,
                ));
            }
        }
        Ty::Alg(proposal)
    }

    /// Checks a `via = ...` option: an inference algorithm (E0422).
    fn via(&mut self, ty: &Ty, span: Span, example: &str) -> Option<bool> {
        match self.resolve(ty) {
            Ty::Alg(proposal) => Some(proposal),
            Ty::Any | Ty::Var(_) => None,
            other => {
                self.report(Diagnostic::error(
                    "E0422",
                    format!(
                        "`via` needs an inference algorithm such as `{example}`, found {}",
                        other.describe()
                    ),
                    span,
                ));
                None
            }
        }
    }

    /// `marginal(g, keep = [...], via = alg)` (E0420 to E0423).
    pub fn marginal(&mut self, call: &Call<'_>) -> Ty {
        let mut func = None;
        if self.arity(call, 1) {
            let (g, span) = &call.pos[0];
            func = self
                .applied_gen(g, *span, "marginal", "E0420", true)
                .and_then(|g| g.func);
        }
        let mut has_keep = false;
        for n in &call.named {
            match n.name.name.as_str() {
                "keep" => {
                    has_keep = true;
                    let t = self.resolve(&n.ty);
                    if !matches!(t, Ty::Names | Ty::Str | Ty::Any | Ty::Var(_)) {
                        self.report(
                            Diagnostic::error(
                                "E0421",
                                format!(
                                    "`keep` must list addresses as strings, found {}",
                                    t.describe()
                                ),
                                n.span,
                            )
                            .with_help("write e.g. `keep = [\"x\", \"y\"]`"),
                        );
                    }
                }
                "via" => {
                    self.via(&n.ty, n.span, "sir(5)");
                }
                other => self.report(Diagnostic::error(
                    "E0401",
                    format!("`marginal` has no option `{other}`"),
                    n.name.span,
                )),
            }
        }
        if !has_keep {
            self.report(Diagnostic::error(
                "E0423",
                "`marginal` needs `keep = [...]`, the addresses to keep",
                call.span,
            ));
        }
        Ty::Gen(GenTy {
            func,
            applied: Applied::Unknown,
            kind: GenKind::Marginal,
        })
    }

    /// `target(model, data)`: an applied generative function conditioned on
    /// a choice map (E0425).
    pub fn target(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if self.arity(call, 2) {
            let ((g, gs), (d, ds)) = (&call.pos[0], &call.pos[1]);
            self.applied_gen(g, *gs, "target", "E0425", true);
            self.choice_map(d, *ds);
        }
        Ty::Target
    }

    /// `normalize(target, via = sir(m, proposal = q))`: a generative
    /// function that can be simulated and scored (E0426, E0427).
    pub fn normalize(&mut self, call: &Call<'_>) -> Ty {
        if self.arity(call, 1) {
            let (t, span) = &call.pos[0];
            match self.resolve(t) {
                Ty::Target | Ty::Any | Ty::Var(_) => {}
                other => self.report(Diagnostic::error(
                    "E0426",
                    format!(
                        "`normalize` needs a `target(model, data)`, found {}",
                        other.describe()
                    ),
                    *span,
                )),
            }
        }
        let mut proposal = None;
        for n in &call.named {
            if n.name.name == "via" {
                proposal = Some(self.via(&n.ty, n.span, "sir(10, proposal = q)"));
            } else {
                self.report(Diagnostic::error(
                    "E0401",
                    format!("`normalize` has no option `{}`", n.name.name),
                    n.name.span,
                ));
            }
        }
        if matches!(proposal, None | Some(Some(false))) {
            self.report(
                Diagnostic::error(
                    "E0427",
                    "`normalize` needs `via = sir(m, proposal = q)`",
                    call.span,
                )
                .with_help(
                    "the proposal is a generative function over the model's latent addresses",
                ),
            );
        }
        Ty::Gen(GenTy {
            func: None,
            applied: Applied::Unknown,
            kind: GenKind::Normalized,
        })
    }

    /// `estimate(objective, samples = n)` (E0409, E0500).
    pub fn estimate(&mut self, call: &Call<'_>) -> Ty {
        for n in &call.named {
            if n.name.name == "samples" {
                self.int_scalar(&n.ty, n.span, "`samples`");
                if call.const_named("samples").is_some_and(|k| k < 1) {
                    self.report(Diagnostic::error(
                        "E0409",
                        "`samples` must be a positive compile-time constant",
                        n.span,
                    ));
                }
            } else {
                self.report(Diagnostic::error(
                    "E0401",
                    format!("`estimate` has no option `{}`", n.name.name),
                    n.name.span,
                ));
            }
        }
        if self.arity(call, 1) {
            let (ty, span) = &call.pos[0];
            self.expectation_arg(ty, *span, "the argument of `estimate`");
        }
        Ty::Estimate
    }

    /// Checks that a value is an expectation (E0500).
    pub fn expectation_arg(&mut self, ty: &Ty, span: Span, what: &str) {
        let t = self.resolve(ty);
        if !matches!(t, Ty::Expect | Ty::Any | Ty::Var(_)) {
            self.report(
                Diagnostic::error(
                    "E0500",
                    format!(
                        "{what} must be an expectation `E {{ ... }}`, found {}",
                        t.describe()
                    ),
                    span,
                )
                .with_help(
                    "library objectives such as `elbo(model, guide, data)` are expectations",
                ),
            );
        }
    }

    /// `grad(f, x₁, ..., xₙ)`: the gradient of a `fn` of n arguments, one
    /// value per argument (E0430).
    pub fn grad(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        let Some((f, fs)) = call.pos.first() else {
            self.report(Diagnostic::error(
                "E0430",
                "`grad` needs a function and the point to differentiate at",
                call.span,
            ));
            return Ty::Any;
        };
        let mut grads = Vec::new();
        for (ty, s) in &call.pos[1..] {
            let n = self.real_value(ty, *s, "a point to differentiate at");
            grads.push(n.map_or(Ty::Any, Ty::Num));
        }
        match self.resolve(f) {
            Ty::Func(Some(Callable::User(id))) => {
                let decl = self.ck.functions[id.0].decl;
                if decl.params.len() != grads.len() {
                    self.report(Diagnostic::error(
                        "E0430",
                        format!(
                            "`{}` takes {} argument(s), but `grad` gave it {}",
                            decl.name.name,
                            decl.params.len(),
                            grads.len()
                        ),
                        call.span,
                    ));
                    return Ty::Any;
                }
            }
            Ty::Any | Ty::Var(_) | Ty::Func(None) => {}
            other => {
                self.report(Diagnostic::error(
                    "E0430",
                    format!("`grad` differentiates a `fn`, found {}", other.describe()),
                    *fs,
                ));
                return Ty::Any;
            }
        }
        if grads.len() == 1 {
            grads.pop().unwrap_or(Ty::Any)
        } else {
            Ty::Tuple(grads)
        }
    }
}
