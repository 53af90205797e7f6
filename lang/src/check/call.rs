//! Calls of functions and applications of generative functions.
//!
//! A call's arguments are bound to the callee's parameters (positional
//! first, then named; E0234, E0235, E0238, E0239) and matched against its
//! [`Signature`]: an annotated parameter's type (E0240, an `int` passes for
//! a `real`), or what the callee's body requires of an unannotated one
//! (E0240, with a label at the use that requires it). Matching maps the
//! callee's type variables to the arguments' types; the call's type is the
//! callee's return type with that substitution, so a generic function used
//! at two types gives two result types.

use std::collections::HashMap;

use super::Signature;
use super::scope::{Body, VarState};
use super::types::{
    Applied, Callable, Elem, FuncId, GenKind, GenTy, Num, Shape, Ty, VarId, annotation_type,
    describe_num, type_span,
};
use crate::ast::{Arg, Expr, Ident};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Why a value does not fit where it is passed.
#[derive(Clone, Debug)]
pub(crate) struct Mismatch {
    /// What was expected, as users read it.
    pub expected: String,
    /// What was found.
    pub found: String,
    /// For a requirement of a function body: the use that requires it and
    /// how it uses the value.
    pub because: Option<(Span, String)>,
}

/// A named argument `name = value`.
pub(crate) struct Named<'e> {
    /// The name as written.
    pub name: &'e Ident,
    /// The value's type.
    pub ty: Ty,
    /// The value's span.
    pub span: Span,
}

/// The checked arguments of a call.
pub(crate) struct Args<'e> {
    /// The positional arguments with their spans.
    pub positional: Vec<(Ty, Span)>,
    /// The named arguments.
    pub named: Vec<Named<'e>>,
    /// Whether a name was given twice or a positional argument came after
    /// a named one (already reported): the arguments cannot be matched to
    /// parameters reliably.
    pub malformed: bool,
}

impl Body<'_, '_> {
    /// Checks call arguments, split into positional and named (E0234 for a
    /// name given twice, E0235 for a positional argument after a named one).
    pub fn args<'e>(&mut self, args: &'e [Arg]) -> Args<'e> {
        let mut out = Args {
            positional: Vec::new(),
            named: Vec::new(),
            malformed: false,
        };
        for a in args {
            let ty = self.expr(&a.value);
            match &a.name {
                Some(n) => {
                    if out.named.iter().any(|k| k.name.name == n.name) {
                        self.report(Diagnostic::error(
                            "E0234",
                            format!("argument `{}` is given twice", n.name),
                            n.span,
                        ));
                        out.malformed = true;
                        continue;
                    }
                    out.named.push(Named {
                        name: n,
                        ty,
                        span: a.value.span,
                    });
                }
                None => {
                    if !out.named.is_empty() {
                        self.report(Diagnostic::error(
                            "E0235",
                            "positional arguments must come before named ones",
                            a.value.span,
                        ));
                        out.malformed = true;
                    }
                    out.positional.push((ty, a.value.span));
                }
            }
        }
        out
    }

    /// `callee(args)`.
    pub fn call(&mut self, callee: &Expr, args: &[Arg], span: Span) -> Ty {
        let callee_ty = self.expr(callee);
        match self.resolve(&callee_ty) {
            Ty::Func(Some(Callable::Builtin(name))) => {
                self.builtin_call(name, args, callee.span, span)
            }
            Ty::Func(Some(Callable::User(id))) => {
                let args = self.args(args);
                self.call_function(id, args, span)
            }
            Ty::Func(Some(Callable::Host(host))) => {
                let args = self.args(args);
                self.call_host(host, args, span)
            }
            Ty::Gen(g) => {
                let args = self.args(args);
                self.apply_gen(g, args, callee.span, span)
            }
            Ty::Any | Ty::Var(_) | Ty::Func(None) => {
                self.args(args);
                Ty::Any
            }
            other => {
                self.args(args);
                self.report(Diagnostic::error(
                    "E0237",
                    format!("{} cannot be called", other.describe()),
                    callee.span,
                ));
                Ty::Any
            }
        }
    }

    /// A call of host function `host`: `arity` real scalars (E0400,
    /// E0401, E0212), a real result.
    fn call_host(&mut self, host: usize, args: Args<'_>, span: Span) -> Ty {
        let signature = &self.ck.host[host];
        let (name, arity) = (signature.name.clone(), signature.arity);
        for named in &args.named {
            self.report(Diagnostic::error(
                "E0401",
                format!("`{name}` has no option `{}`", named.name.name),
                named.name.span,
            ));
        }
        if args.positional.len() != arity {
            self.report(Diagnostic::error(
                "E0400",
                format!(
                    "`{name}` takes {arity} argument(s), but {} were given",
                    args.positional.len()
                ),
                span,
            ));
            return Ty::real();
        }
        for (ty, arg_span) in &args.positional {
            self.real_scalar(ty, *arg_span, &format!("an argument of `{name}`"));
        }
        Ty::real()
    }

    /// A call of the `fn` `id`.
    fn call_function(&mut self, id: FuncId, args: Args<'_>, span: Span) -> Ty {
        let (slots, complete) = self.bind_args(id, args, span);
        let signature = self.ck.signature(id);
        let map = self.check_args(id, signature.as_deref(), &slots);
        match signature {
            Some(sig) if complete => self.instantiate(&sig, &sig.ret, &map),
            _ => Ty::Any,
        }
    }

    /// Applies a generative function to arguments: `ring(5.0)`.
    fn apply_gen(&mut self, g: GenTy, args: Args<'_>, callee_span: Span, span: Span) -> Ty {
        if g.kind != GenKind::Function {
            self.report(Diagnostic::error(
                "E0237",
                format!("{} cannot be called", Ty::Gen(g).kind_name()),
                callee_span,
            ));
            return Ty::Any;
        }
        let Some(id) = g.func else {
            // A generative function passed as a `gen` parameter: nothing is
            // known of its parameters.
            return Ty::Gen(GenTy {
                func: None,
                applied: Applied::Unknown,
                kind: GenKind::Function,
            });
        };
        let decl = self.ck.functions[id.0].decl;
        if !decl.params.is_empty() && matches!(g.applied, Applied::Yes(_)) {
            self.report(Diagnostic::error(
                "E0236",
                format!("`{}` is already applied to its arguments", decl.name.name),
                callee_span,
            ));
            return Ty::Any;
        }
        let (slots, complete) = self.bind_args(id, args, span);
        let signature = self.ck.signature(id);
        self.check_args(id, signature.as_deref(), &slots);
        if !complete {
            return Ty::Any;
        }
        Ty::Gen(GenTy {
            func: Some(id),
            applied: Applied::Yes(
                slots
                    .into_iter()
                    .map(|s| s.map_or(Ty::Any, |(t, _)| t))
                    .collect(),
            ),
            kind: GenKind::Function,
        })
    }

    /// Matches arguments to the parameters of function `id`: per
    /// parameter, the argument and its span, and whether every parameter
    /// got exactly one.
    fn bind_args(
        &mut self,
        id: FuncId,
        args: Args<'_>,
        span: Span,
    ) -> (Vec<Option<(Ty, Span)>>, bool) {
        let decl = self.ck.functions[id.0].decl;
        let name = &decl.name.name;
        let params = &decl.params;
        if args.malformed {
            return (vec![None; params.len()], false);
        }
        let Args {
            positional, named, ..
        } = args;
        let given = positional.len() + named.len();
        if positional.len() > params.len() {
            self.report(
                Diagnostic::error(
                    "E0238",
                    format!(
                        "`{name}` takes {} argument(s), but {given} were given",
                        params.len()
                    ),
                    span,
                )
                .with_label(decl.name.span, "defined here"),
            );
            return (vec![None; params.len()], false);
        }
        let mut complete = true;
        let mut slots: Vec<Option<(Ty, Span)>> = vec![None; params.len()];
        for (i, arg) in positional.into_iter().enumerate() {
            slots[i] = Some(arg);
        }
        for arg in named {
            let k = &arg.name.name;
            match params.iter().position(|p| p.name.name == *k) {
                Some(i) if slots[i].is_none() => slots[i] = Some((arg.ty, arg.span)),
                Some(_) => {
                    complete = false;
                    self.report(Diagnostic::error(
                        "E0234",
                        format!("argument `{k}` is given twice"),
                        arg.name.span,
                    ));
                }
                None => {
                    complete = false;
                    self.report(
                        Diagnostic::error(
                            "E0239",
                            format!("`{name}` has no parameter `{k}`"),
                            arg.name.span,
                        )
                        .with_label(decl.name.span, "defined here"),
                    );
                }
            }
        }
        if let Some(missing) = params.iter().zip(&slots).find(|(_, s)| s.is_none()) {
            complete = false;
            self.report(
                Diagnostic::error(
                    "E0238",
                    format!("`{name}` is missing the argument `{}`", missing.0.name.name),
                    span,
                )
                .with_label(decl.name.span, "defined here"),
            );
        }
        (slots, complete)
    }

    /// Checks each argument against its parameter's annotation or what the
    /// body requires of it (E0240); returns the callee's type variables
    /// mapped to the arguments' types.
    fn check_args(
        &mut self,
        id: FuncId,
        signature: Option<&Signature>,
        slots: &[Option<(Ty, Span)>],
    ) -> HashMap<VarId, Ty> {
        let decl = self.ck.functions[id.0].decl;
        let mut map = HashMap::new();
        let no_vars = Vec::new();
        let vars = signature.map_or(&no_vars, |s| &s.vars);
        for (i, (param, slot)) in decl.params.iter().zip(slots).enumerate() {
            let Some((arg, arg_span)) = slot else {
                continue;
            };
            let annotated = param
                .ty
                .as_ref()
                .map(|t| (annotation_type(t), type_span(t)));
            let pattern = match &annotated {
                Some((Ok(t), _)) => t.clone(),
                Some((Err(_), _)) => Ty::Any,
                None => signature.map_or(Ty::Any, |s| s.params[i].clone()),
            };
            let requirement = annotated.is_none();
            let Err(m) = self.matches(vars, &pattern, arg, &mut map, requirement) else {
                continue;
            };
            let pname = &param.name.name;
            let mut d = if requirement {
                Diagnostic::error(
                    "E0240",
                    format!(
                        "argument `{pname}` of `{}` must be {}, found {}",
                        decl.name.name, m.expected, m.found
                    ),
                    *arg_span,
                )
            } else {
                Diagnostic::error(
                    "E0240",
                    format!(
                        "argument `{pname}` must be {}, found {}",
                        m.expected, m.found
                    ),
                    *arg_span,
                )
            };
            if let Some((_, annotation_span)) = annotated {
                d = d.with_label(annotation_span, "declared here");
            }
            if let Some((use_span, why)) = m.because {
                d = d.with_label(use_span, format!("`{pname}` is {why} here"));
            }
            self.report(d);
        }
        map
    }

    /// Whether a value of type `found` fits the annotation `want` (for a
    /// `let` annotation).
    pub fn accepts_annotation(&self, want: &Ty, found: &Ty) -> Result<(), Mismatch> {
        let requirement = self.expectation_is_number() && matches!(want, Ty::Num(_));
        self.matches(&[], want, found, &mut HashMap::new(), requirement)
            .map_err(|mut m| {
                m.expected = want.describe();
                m
            })
    }

    /// Whether `arg` (a type of this body) fits `pattern` (a type of a
    /// callee's signature, whose variables are `vars`), recording what the
    /// callee's variables stand for in `map`. With `requirement`, the
    /// pattern is what a body requires (an expectation then passes for a
    /// number); otherwise it is an annotation.
    fn matches(
        &self,
        vars: &[VarState],
        pattern: &Ty,
        arg: &Ty,
        map: &mut HashMap<VarId, Ty>,
        requirement: bool,
    ) -> Result<(), Mismatch> {
        if let Ty::Var(v) = pattern {
            map.entry(*v).or_insert_with(|| arg.clone());
            if let Some(VarState::Bound { ty, span, why }) = vars.get(v.0) {
                return self.matches(vars, ty, arg, map, true).map_err(|mut m| {
                    if m.because.is_none() {
                        m.because = Some((*span, why.to_string()));
                    }
                    m
                });
            }
            return Ok(());
        }
        let found = self.resolve(arg);
        let mismatch = || Mismatch {
            expected: expected_name(pattern),
            found: found.describe(),
            because: None,
        };
        match (pattern, &found) {
            (Ty::Any, _) | (_, Ty::Any | Ty::Var(_)) => Ok(()),
            (Ty::Num(p), Ty::Num(a)) => {
                let elem_ok = match (p.elem, a.elem) {
                    (_, Elem::Unknown) | (Elem::Unknown, _) => true,
                    (Elem::Real | Elem::Number, a) => a.is_number(),
                    (Elem::Int, a) => matches!(a, Elem::Int | Elem::Number),
                    (Elem::Bool, a) => a == Elem::Bool,
                };
                if elem_ok && p.shape.agree(&a.shape).is_some() {
                    Ok(())
                } else {
                    Err(mismatch())
                }
            }
            (Ty::Num(_), Ty::Expect) if requirement => Ok(()),
            (Ty::Tuple(ps), Ty::Tuple(fs)) if ps.len() == fs.len() => {
                for (p, f) in ps.iter().zip(fs) {
                    self.matches(vars, p, f, map, requirement)?;
                }
                Ok(())
            }
            (Ty::Record(ps), Ty::Record(fs)) if ps.keys().eq(fs.keys()) => {
                for (p, f) in ps.values().zip(fs.values()) {
                    self.matches(vars, p, f, map, requirement)?;
                }
                Ok(())
            }
            (Ty::Choices, Ty::Record(_)) => match self.not_choice_map(&found) {
                None => Ok(()),
                Some(bad) => Err(Mismatch {
                    expected: "a choice map".to_string(),
                    found: format!("a record holding {bad}"),
                    because: None,
                }),
            },
            (Ty::Record(_), Ty::Choices)
            | (Ty::Choices, Ty::Choices)
            | (Ty::Gen(_), Ty::Gen(_))
            | (Ty::Func(_), Ty::Func(_))
            | (Ty::Dist(..), Ty::Dist(..))
            | (Ty::Expect, Ty::Expect)
            | (Ty::Str, Ty::Str)
            | (Ty::Names, Ty::Names)
            | (Ty::Optimizer, Ty::Optimizer)
            | (Ty::Alg(_), Ty::Alg(_))
            | (Ty::Target, Ty::Target)
            | (Ty::Estimate, Ty::Estimate) => Ok(()),
            _ => Err(mismatch()),
        }
    }

    /// The type of the value of the applied generative function `g`.
    pub fn gen_return(&mut self, g: &GenTy) -> Ty {
        let (Some(id), Applied::Yes(args)) = (g.func, &g.applied) else {
            return Ty::Any;
        };
        let Some(sig) = self.ck.signature(id) else {
            return Ty::Any;
        };
        let mut map = HashMap::new();
        for (pattern, arg) in sig.params.iter().zip(args) {
            // The arguments were checked when the function was applied.
            let _ = self.matches(&sig.vars, pattern, arg, &mut map, true);
        }
        self.instantiate(&sig, &sig.ret, &map)
    }

    /// `ty`, a type of the signature `sig`, with the callee's variables
    /// replaced by what `map` says they stand for (or what the callee's
    /// body requires of them, or `Any`).
    fn instantiate(&self, sig: &Signature, ty: &Ty, map: &HashMap<VarId, Ty>) -> Ty {
        match ty {
            Ty::Var(v) => match map.get(v) {
                Some(t) => t.clone(),
                None => match sig.vars.get(v.0) {
                    Some(VarState::Bound { ty, .. }) => self.instantiate(sig, ty, map),
                    _ => Ty::Any,
                },
            },
            Ty::Tuple(items) => Ty::Tuple(
                items
                    .iter()
                    .map(|i| self.instantiate(sig, i, map))
                    .collect(),
            ),
            Ty::Record(fields) => Ty::Record(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), self.instantiate(sig, v, map)))
                    .collect(),
            ),
            Ty::Gen(g) => Ty::Gen(GenTy {
                func: g.func,
                applied: match &g.applied {
                    Applied::Yes(args) => {
                        Applied::Yes(args.iter().map(|a| self.instantiate(sig, a, map)).collect())
                    }
                    other => other.clone(),
                },
                kind: g.kind,
            }),
            Ty::Dist(kind, value) => Ty::Dist(*kind, Box::new(self.instantiate(sig, value, map))),
            other => other.clone(),
        }
    }
}

/// What a pattern asks for, as users read it: `real[3]`, or for a
/// requirement of unknown shape, "a number", "a boolean", "an integer".
fn expected_name(pattern: &Ty) -> String {
    match pattern {
        Ty::Num(Num {
            elem,
            shape: Shape::Unknown,
        }) => match elem {
            Elem::Real => "a real",
            Elem::Int => "an integer",
            Elem::Bool => "a boolean",
            Elem::Number => "a number",
            Elem::Unknown => "a number or a boolean",
        }
        .to_string(),
        Ty::Num(n) => describe_num(n),
        Ty::Tuple(items) if items.iter().all(|i| matches!(i, Ty::Var(_))) => {
            format!("a tuple of {}", items.len())
        }
        other => other.describe(),
    }
}
