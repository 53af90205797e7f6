//! What operations require of their operands: a number, a boolean, an
//! integer index, a real scalar, a generative function, a choice map.
//!
//! Each helper takes the operand's type and span and a description of the
//! operand for messages ("the left operand of `+`"), reports what is
//! certainly wrong, and returns what is known of the operand. A free type
//! variable is bound to what the operation requires (outside `if`
//! branches), so a later conflicting use of the same parameter is found.
//! The messages follow the lowering's, which reports the same errors when
//! it meets them at a call site.

use super::scope::Body;
use super::types::{Applied, Elem, GenKind, GenTy, Num, Shape, Ty};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// What kind of scalar-or-array value an operation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// A number (an integer or a real), e.g. an operand of `+`.
    Number,
    /// A boolean, e.g. an operand of `&&`.
    Bool,
    /// A number or a boolean, e.g. an operand of `==`.
    Value,
}

impl Body<'_, '_> {
    /// The operand as a number or boolean value (or array of them): an
    /// expectation where it stands for one sample of its value, `None`
    /// after reporting any other kind of value (E0210).
    pub fn value(&mut self, ty: &Ty, span: Span, what: &str, want: Want) -> Option<Num> {
        match self.resolve(ty) {
            Ty::Num(n) => Some(n),
            Ty::Any => Some(Num::unknown()),
            Ty::Var(v) => {
                let (bound, why) = match want {
                    Want::Number => (Elem::Number, "used as a number"),
                    Want::Bool => (Elem::Bool, "used as a boolean"),
                    Want::Value => return Some(Num::unknown()),
                };
                let required = Ty::Num(Num {
                    elem: bound,
                    shape: Shape::Unknown,
                });
                match self.bind(v, required, span, why) {
                    Ty::Num(n) => Some(n),
                    _ => Some(Num::unknown()),
                }
            }
            Ty::Expect if self.expectation_is_number() => Some(Num::scalar(Elem::Real)),
            Ty::Expect => {
                self.report(
                    Diagnostic::error(
                        "E0210",
                        format!("{what} must be a number, but this is an expectation"),
                        span,
                    )
                    .with_help("use `estimate(objective, samples = n)` to estimate its value"),
                );
                None
            }
            other => {
                let (code, needs) = match want {
                    Want::Bool => ("E0214", "a boolean"),
                    _ => ("E0210", "a number"),
                };
                self.report(Diagnostic::error(
                    code,
                    format!("{what} must be {needs}, found {}", other.describe()),
                    span,
                ));
                None
            }
        }
    }

    /// Checks that a value is usable as a number, for options and other
    /// places that only need one.
    pub fn number(&mut self, ty: &Ty, span: Span, what: &str) -> Option<Num> {
        self.value(ty, span, what, Want::Number)
    }

    /// The operand as a real or an array of reals (integers are promoted;
    /// a boolean is an error, E0211).
    pub fn real_value(&mut self, ty: &Ty, span: Span, what: &str) -> Option<Num> {
        let n = self.value(ty, span, what, Want::Number)?;
        if n.elem == Elem::Bool {
            self.report(Diagnostic::error(
                "E0211",
                format!("{what} must be a real, found a boolean"),
                span,
            ));
            return None;
        }
        Some(n.with_elem(Elem::Real))
    }

    /// The operand as a real scalar (E0212 for an array).
    pub fn real_scalar(&mut self, ty: &Ty, span: Span, what: &str) {
        let Some(n) = self.real_value(ty, span, what) else {
            return;
        };
        if n.shape.rank().is_some_and(|r| r > 0) {
            self.report(Diagnostic::error(
                "E0212",
                format!(
                    "{what} must be a scalar real, found {}",
                    super::types::describe_num(&n)
                ),
                span,
            ));
        }
    }

    /// The operand as an integer scalar (an index, a loop bound, a length):
    /// E0213 otherwise.
    pub fn int_scalar(&mut self, ty: &Ty, span: Span, what: &str) {
        let var = self.last_var(ty);
        let int = Ty::Num(Num::scalar(Elem::Int));
        if let Some(v) = var
            && let Ty::Var(_) = self.resolve(ty)
        {
            self.bind(v, int, span, "used as an integer");
            return;
        }
        let Some(n) = self.value(ty, span, what, Want::Number) else {
            return;
        };
        let wrong_elem = matches!(n.elem, Elem::Real | Elem::Bool);
        let wrong_shape = n.shape.rank().is_some_and(|r| r > 0);
        if wrong_elem || wrong_shape {
            self.report(Diagnostic::error(
                "E0213",
                format!(
                    "{what} must be an integer, found {}",
                    super::types::describe_num(&n)
                ),
                span,
            ));
        } else if let Some(v) = var {
            // A parameter required to be a number is now known to be an
            // integer scalar.
            self.refine(v, int);
        }
    }

    /// The operand as a boolean scalar (a condition): E0214 otherwise.
    pub fn bool_scalar(&mut self, ty: &Ty, span: Span, what: &str) {
        if let Ty::Var(v) = self.resolve(ty) {
            self.bind(v, Ty::bool(), span, "used as a boolean");
            return;
        }
        let Some(n) = self.value(ty, span, what, Want::Bool) else {
            return;
        };
        let wrong_elem = n.elem.is_number();
        let wrong_shape = n.shape.rank().is_some_and(|r| r > 0);
        if wrong_elem || wrong_shape {
            self.report(Diagnostic::error(
                "E0214",
                format!(
                    "{what} must be a boolean, found {}",
                    super::types::describe_num(&n)
                ),
                span,
            ));
        }
    }

    /// The operand as a generative function applied to its arguments (for
    /// `sim`, `density`, `~`, `marginal`, `target`). Reports another kind of
    /// value (`code`: "`{op}` needs a generative function"), a marginal or
    /// normalized target where only a `gen` will do (`only_functions`), and
    /// one not applied yet (E0310, or `code` with "apply `g` to its
    /// arguments first" for `marginal` and `target`). Returns what is known
    /// of it.
    pub fn applied_gen(
        &mut self,
        ty: &Ty,
        span: Span,
        op: &str,
        code: &'static str,
        only_functions: bool,
    ) -> Option<GenTy> {
        match self.resolve(ty) {
            Ty::Gen(g) if g.kind != GenKind::Function && only_functions => {
                let found = Ty::Gen(g).kind_name();
                self.report(Diagnostic::error(
                    code,
                    format!("`{op}` needs a generative function, found {found}"),
                    span,
                ));
                None
            }
            Ty::Gen(g) if g.applied == Applied::No => {
                let name = g.func.map_or_else(
                    || "g".to_string(),
                    |f| self.ck.functions[f.0].decl.name.name.clone(),
                );
                let d = if only_functions {
                    Diagnostic::error(code, format!("apply `{name}` to its arguments first"), span)
                } else {
                    Diagnostic::error(
                        "E0310",
                        format!("`{name}` must be applied to its arguments first"),
                        span,
                    )
                };
                self.report(d.with_help(format!("write `{name}(...)`")));
                None
            }
            Ty::Gen(g) => Some(g),
            Ty::Var(v) => {
                self.bind(
                    v,
                    Ty::Gen(GenTy::unknown()),
                    span,
                    "used as a generative function",
                );
                None
            }
            Ty::Any => None,
            other => {
                self.report(Diagnostic::error(
                    code,
                    format!(
                        "`{op}` needs a generative function, found {}",
                        other.describe()
                    ),
                    span,
                ));
                None
            }
        }
    }

    /// Checks that the operand can be a choice map: a choice map, or a
    /// record of numbers and choice maps (E0314).
    pub fn choice_map(&mut self, ty: &Ty, span: Span) {
        if let Some(bad) = self.not_choice_map(ty) {
            self.report(Diagnostic::error(
                "E0314",
                format!("a choice map holds numbers and choice maps, not {bad}"),
                span,
            ));
        }
    }

    /// What in `ty` cannot be part of a choice map, if anything.
    pub fn not_choice_map(&self, ty: &Ty) -> Option<String> {
        match self.resolve(ty) {
            Ty::Any | Ty::Var(_) | Ty::Choices | Ty::Num(_) => None,
            Ty::Record(fields) => fields.values().find_map(|f| self.not_choice_map(f)),
            other => Some(other.describe()),
        }
    }
}
