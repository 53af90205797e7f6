//! Data loading: `load_csv(path, header = false)` and `load_npy(path)`.
//!
//! The file is read when the program is compiled, so the checker cannot
//! know its shape; the program declares it. A load is therefore checked as
//! the value of a `let` with a declared type — `let d: real[1797, 65] =
//! load_csv("digits.csv", header = true);` — whose type is the load's; a
//! load anywhere else is E0800. The declared type must be an array of
//! reals, integers or booleans (of one or two dimensions for a CSV file;
//! E0801). The lowering reads the file and checks it against the
//! declaration (E0803–E0809). The diagnostics both report are built here.

use super::builtins::Call;
use super::scope::Body;
use super::types::{Callable, Elem, Ty, annotation_type, describe_num};
use crate::ast::{ExprKind, LetStmt, TypeExpr, TypeExprKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// The builtins that load data files.
pub const DATA_BUILTINS: &[&str] = &["load_csv", "load_npy"];

/// The element type (`real`, `int` or `bool`) and dimensions of the
/// declared type `ty` of the data `load` (`load_csv` or `load_npy`)
/// reads, or E0801 for a type that data cannot have.
// The diagnostic is the cold path; the lowering forwards it as it is.
#[allow(clippy::result_large_err)]
pub fn load_declared_type(
    load: &str,
    ty: &TypeExpr,
) -> Result<(&'static str, Vec<u64>), Diagnostic> {
    let max_rank = if load == "load_csv" { 2 } else { usize::MAX };
    if let TypeExprKind::Named { name, dims } = &ty.kind {
        let elem = ["real", "int", "bool"]
            .into_iter()
            .find(|e| *e == name.name);
        if let Some(elem) = elem
            && !dims.is_empty()
            && dims.len() <= max_rank
        {
            return Ok((elem, dims.clone()));
        }
    }
    let (what, example) = if load == "load_csv" {
        (
            "a vector or a matrix",
            "`real[ROWS, COLUMNS]` (or `real[N]` for one column or one row)",
        )
    } else {
        ("an array", "`real[N, M]` with the array's dimensions")
    };
    Err(Diagnostic::error(
        "E0801",
        format!("the data `{load}` reads is {what} of reals, integers or booleans"),
        ty.span,
    )
    .with_primary_label("not such an array")
    .with_help(format!("declare it as {example}")))
}

/// E0800: a load of data whose shape is not declared.
pub fn load_needs_declared_type(load: &str, span: Span) -> Diagnostic {
    let dims = if load == "load_csv" {
        "ROWS, COLUMNS"
    } else {
        "N, M"
    };
    Diagnostic::error(
        "E0800",
        format!("`{load}` needs the type of its data, declared on a `let`"),
        span,
    )
    .with_primary_label("the shape of this data is not declared")
    .with_help(format!(
        "bind it with a declared type: `let data: real[{dims}] = {load}(...);`"
    ))
}

impl Body<'_, '_> {
    /// The type of a `let` whose value is a load (of the builtin, not a
    /// local of that name) and that declares a type; `None` for any other
    /// `let`. The declared type is the load's (a type that is not one is
    /// reported by the `let`).
    pub fn data_let(&mut self, l: &LetStmt) -> Option<Ty> {
        let declared = l.ty.as_ref()?;
        let ExprKind::Call { callee, args } = &l.value.kind else {
            return None;
        };
        let ExprKind::Var(name) = &callee.kind else {
            return None;
        };
        if !DATA_BUILTINS.contains(&name.name.as_str()) {
            return None;
        }
        let callee_ty = self.expr(callee);
        let Ty::Func(Some(Callable::Builtin(load))) = self.resolve(&callee_ty) else {
            return None;
        };
        let checked = self.args(args);
        let call = Call {
            name: load,
            pos: checked.positional,
            named: checked.named,
            args,
            span: l.value.span,
        };
        Some(self.data_call(&call, Some(declared)))
    }

    /// A call of `load_csv` or `load_npy`, declared by its `let` as
    /// `declared` (E0800 without).
    pub fn data_call(&mut self, call: &Call<'_>, declared: Option<&TypeExpr>) -> Ty {
        if self.arity(call, 1) {
            let (ty, span) = &call.pos[0];
            let ty = self.resolve(ty);
            if !matches!(ty, Ty::Str | Ty::Any | Ty::Var(_)) {
                self.report(Diagnostic::error(
                    "E0802",
                    format!(
                        "the path of `{}` must be a string, found {}",
                        call.name,
                        ty.describe()
                    ),
                    *span,
                ));
            }
        }
        for option in &call.named {
            if call.name != "load_csv" || option.name.name != "header" {
                self.report(Diagnostic::error(
                    "E0401",
                    format!("`{}` has no option `{}`", call.name, option.name.name),
                    option.name.span,
                ));
                continue;
            }
            let is_bool = match self.resolve(&option.ty) {
                Ty::Num(n) => n.shape.is_scalar() && matches!(n.elem, Elem::Bool | Elem::Unknown),
                Ty::Any | Ty::Var(_) => true,
                _ => false,
            };
            if !is_bool {
                let found = match self.resolve(&option.ty) {
                    Ty::Num(n) => describe_num(&n),
                    other => other.describe(),
                };
                self.report(Diagnostic::error(
                    "E0802",
                    format!("`header` must be `true` or `false`, found {found}"),
                    option.span,
                ));
            }
        }
        let Some(declared) = declared else {
            self.report(load_needs_declared_type(call.name, call.span));
            return Ty::Any;
        };
        if let Err(d) = load_declared_type(call.name, declared) {
            // An unknown type name is the `let`'s to report.
            if annotation_type(declared).is_ok() {
                self.report(d);
            }
            return Ty::Any;
        }
        annotation_type(declared).unwrap_or(Ty::Any)
    }
}
