//! The builtins (spec §8): their names, and the types of calls of the math,
//! array and conversion functions. The tensor builtins (`matmul`,
//! `reshape`, ..., and `axis = k`) are in `tensor.rs`; distributions in
//! `distributions.rs`; choice-map, inference and estimation builtins in
//! `inference.rs`. The messages follow the lowering's.

use super::call::{Args, Named};
use super::distributions::distribution;
use super::expr::const_int;
use super::require::Want;
use super::scope::Body;
use super::types::{Callable, Elem, Num, Shape, Ty, describe_num};
use crate::ast::Arg;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// Every builtin name (functions and the constant `pi`).
pub(crate) const BUILTINS: &[&str] = &[
    "exp",
    "log",
    "log1p",
    "expm1",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "atan",
    "tanh",
    "sigmoid",
    "softplus",
    "abs",
    "floor",
    "lgamma",
    "digamma",
    "pow",
    "min",
    "max",
    "logsumexp",
    "sum",
    "mean",
    "len",
    "softmax",
    "log_softmax",
    "dot",
    "matvec",
    "matmul",
    "transpose",
    "reshape",
    "concat",
    "slice",
    "gather",
    "diag",
    "zeros",
    "ones",
    "real",
    "int",
    "pi",
    "density",
    "merge",
    "marginal",
    "target",
    "normalize",
    "sir",
    "stop_params",
    "load_csv",
    "load_npy",
    "add_cost",
    "factor",
    "stop_grad",
    "grad",
    "estimate",
    "sgd",
    "momentum",
    "adam",
    "normal",
    "lognormal",
    "uniform",
    "exponential",
    "gamma",
    "beta",
    "laplace",
    "cauchy",
    "student_t",
    "flip",
    "categorical",
    "geometric",
    "poisson",
    "binomial",
    "mv_normal_diag",
    "mv_normal",
    "dirichlet",
    "bernoulli",
    "bernoulli_logits",
    "categorical_logits",
];

/// The elementwise math functions of one argument.
const ELEMENTWISE: &[&str] = &[
    "exp", "log", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "atan", "tanh", "sigmoid",
    "softplus", "abs", "floor", "lgamma", "digamma",
];

/// The value of the builtin `name` used as a name.
pub(crate) fn builtin_value(name: &str) -> Option<Ty> {
    if name == "pi" {
        return Some(Ty::real());
    }
    let name = BUILTINS.iter().find(|b| **b == name)?;
    Some(Ty::Func(Some(Callable::Builtin(name))))
}

/// A call of a builtin with its arguments checked.
pub(crate) struct Call<'e> {
    /// The builtin.
    pub name: &'static str,
    /// The positional arguments' types and spans.
    pub pos: Vec<(Ty, Span)>,
    /// The named arguments.
    pub named: Vec<Named<'e>>,
    /// The arguments as written.
    pub args: &'e [Arg],
    /// The whole call.
    pub span: Span,
}

impl Call<'_> {
    /// The value of the `i`-th positional argument, if it is an integer
    /// literal (or arithmetic of them).
    pub fn const_positional(&self, i: usize) -> Option<i64> {
        let arg = self.args.iter().filter(|a| a.name.is_none()).nth(i)?;
        const_int(&arg.value)
    }

    /// The value of the named argument `name`, if it is an integer literal.
    pub fn const_named(&self, name: &str) -> Option<i64> {
        let arg = self
            .args
            .iter()
            .find(|a| a.name.as_ref().is_some_and(|n| n.name == name))?;
        const_int(&arg.value)
    }
}

impl Body<'_, '_> {
    /// Checks the number of positional arguments (E0400).
    pub fn arity(&mut self, call: &Call<'_>, want: usize) -> bool {
        let got = call.pos.len();
        if got != want {
            self.report(Diagnostic::error(
                "E0400",
                format!(
                    "`{}` takes {want} argument(s), but {got} were given",
                    call.name
                ),
                call.span,
            ));
        }
        got == want
    }

    /// Reports named arguments to a builtin that takes none (E0401).
    pub fn no_named(&mut self, call: &Call<'_>) {
        for n in &call.named {
            self.report(Diagnostic::error(
                "E0401",
                format!("`{}` has no option `{}`", call.name, n.name.name),
                n.name.span,
            ));
        }
    }

    /// An array of reals (E0402 for a scalar).
    fn vector_arg(&mut self, ty: &Ty, span: Span, what: &str) -> Option<Num> {
        let n = self.real_value(ty, span, what)?;
        if n.shape.is_scalar() {
            self.report(Diagnostic::error(
                "E0402",
                format!("{what} must be an array, found {}", describe_num(&n)),
                span,
            ));
            return None;
        }
        Some(n)
    }

    /// A call of the builtin `name`.
    pub fn builtin_call(
        &mut self,
        name: &'static str,
        args: &[Arg],
        name_span: Span,
        span: Span,
    ) -> Ty {
        let Args {
            positional, named, ..
        } = self.args(args);
        let call = Call {
            name,
            pos: positional,
            named,
            args,
            span,
        };
        if let Some(d) = distribution(name) {
            self.no_named(&call);
            return self.distribution(d, &call.pos, span);
        }
        match name {
            _ if ELEMENTWISE.contains(&name) => self.elementwise(&call),
            "pow" | "min" | "max" if call.pos.len() == 2 => self.binary_math(&call),
            "pow" | "min" => {
                self.report(Diagnostic::error(
                    "E0400",
                    format!(
                        "`{name}` takes 2 arguments, but {} were given",
                        call.pos.len()
                    ),
                    span,
                ));
                Ty::Any
            }
            "sum" | "mean" | "logsumexp" | "max"
                if call.named.iter().any(|n| n.name.name == "axis") =>
            {
                self.axis_reduction(&call)
            }
            "max" | "logsumexp" | "mean" | "softmax" | "log_softmax" => self.reduction(&call),
            "sum" | "len" => self.sum_or_len(&call),
            "dot" | "matvec" => self.product(&call),
            "matmul" => self.matmul(&call),
            "transpose" => self.transpose(&call),
            "reshape" => self.reshape(&call),
            "concat" => self.concat(&call),
            "slice" => self.slice(&call),
            "gather" => self.gather(&call),
            "diag" => self.diag(&call),
            "real" | "int" => self.conversion(&call),
            "zeros" | "ones" => self.filled(&call),
            "stop_grad" if self.arity(&call, 1) => call.pos[0].0.clone(),
            "add_cost" | "factor" => self.add_cost(&call),
            "merge" => self.merge(&call),
            "density" => self.density(&call),
            "sir" => self.sir(&call),
            "marginal" => self.marginal(&call),
            "target" => self.target(&call),
            "normalize" => self.normalize(&call),
            "estimate" => self.estimate(&call),
            "grad" => self.grad(&call),
            "stop_params" => self.stop_params(&call),
            // A load declared by its `let` is checked by `data_let`.
            "load_csv" | "load_npy" => self.data_call(&call, None),
            "sgd" | "momentum" | "adam" => {
                self.report(Diagnostic::error(
                    "E0410",
                    format!("`{name}` can only be used in a `fit` statement"),
                    name_span,
                ));
                Ty::Optimizer
            }
            "stop_grad" => Ty::Any,
            _ => {
                self.report(Diagnostic::error(
                    "E0411",
                    format!("`{name}` cannot be called here"),
                    name_span,
                ));
                Ty::Any
            }
        }
    }

    /// `exp(x)` and the other elementwise functions: reals of `x`'s shape.
    fn elementwise(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let what = format!("the argument of `{}`", call.name);
        match self.real_value(&call.pos[0].0, call.pos[0].1, &what) {
            Some(n) => Ty::Num(n),
            None => Ty::Any,
        }
    }

    /// `pow(a, b)`, `min(a, b)`, `max(a, b)`: elementwise, broadcast.
    fn binary_math(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        let ((ta, sa), (tb, sb)) = (&call.pos[0], &call.pos[1]);
        let a = self.value(ta, *sa, "an argument", Want::Number);
        let b = self.value(tb, *sb, "an argument", Want::Number);
        let (Some(a), Some(b)) = (a, b) else {
            return Ty::Any;
        };
        let name = call.name;
        if a.elem == Elem::Bool || b.elem == Elem::Bool {
            self.report(Diagnostic::error(
                "E0403",
                format!("`{name}` needs numbers"),
                call.span,
            ));
            return Ty::Any;
        }
        let Some(shape) = a.shape.broadcast(&b.shape) else {
            let (da, db) = (describe_num(&a), describe_num(&b));
            self.report(
                Diagnostic::error(
                    "E0224",
                    format!("`{name}` needs operands of one shape, found {da} and {db}"),
                    sa.to(*sb),
                )
                .with_label(*sa, da)
                .with_label(*sb, db),
            );
            return Ty::Any;
        };
        let elem = if name == "pow" {
            Elem::Real
        } else {
            Elem::arithmetic(a.elem, b.elem)
        };
        Ty::Num(Num { elem, shape })
    }

    /// `max(v)`, `logsumexp(v)`, `mean(v)` (reals) and `softmax(v)`,
    /// `log_softmax(v)` (arrays of `v`'s shape), of an array `v`.
    fn reduction(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        let keeps_shape = matches!(call.name, "softmax" | "log_softmax");
        if !self.arity(call, 1) {
            return if keeps_shape { Ty::Any } else { Ty::real() };
        }
        let what = format!("the argument of `{}`", call.name);
        match self.vector_arg(&call.pos[0].0, call.pos[0].1, &what) {
            Some(n) if keeps_shape => Ty::Num(n),
            _ if keeps_shape => Ty::Any,
            _ => Ty::real(),
        }
    }

    /// `sum(v)` (of `v`'s element type) and `len(v)` (an integer).
    fn sum_or_len(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let (ty, span) = &call.pos[0];
        let what = format!("the argument of `{}`", call.name);
        let Some(n) = self.value(ty, *span, &what, Want::Number) else {
            return Ty::Any;
        };
        let is_len = call.name == "len";
        if n.shape.is_scalar() || (!is_len && n.elem == Elem::Bool) {
            let (code, needs) = if is_len {
                ("E0404", "an array")
            } else {
                ("E0402", "an array of numbers")
            };
            self.report(Diagnostic::error(
                code,
                format!("`{}` needs {needs}, found {}", call.name, describe_num(&n)),
                *span,
            ));
            return Ty::Any;
        }
        if is_len {
            return Ty::int();
        }
        Ty::Num(Num::scalar(match n.elem {
            Elem::Real | Elem::Int => n.elem,
            _ => Elem::Number,
        }))
    }

    /// `dot(u, v)` of two vectors of one length; `matvec(m, v)` of an n×m
    /// matrix and an m-vector (E0405).
    fn product(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        let is_dot = call.name == "dot";
        if !self.arity(call, 2) {
            return if is_dot { Ty::real() } else { Ty::Any };
        }
        let a = self.vector_arg(&call.pos[0].0, call.pos[0].1, "an argument");
        let b = self.vector_arg(&call.pos[1].0, call.pos[1].1, "an argument");
        let (Some(a), Some(b)) = (a, b) else {
            return if is_dot { Ty::real() } else { Ty::Any };
        };
        let (da, db) = (describe_num(&a), describe_num(&b));
        if is_dot {
            let vectors =
                a.shape.rank().is_none_or(|r| r == 1) && b.shape.rank().is_none_or(|r| r == 1);
            if !vectors || a.shape.agree(&b.shape).is_none() {
                self.report(Diagnostic::error(
                    "E0405",
                    format!("`dot` needs two vectors of one length, found {da} and {db}"),
                    call.span,
                ));
            }
            return Ty::real();
        }
        let rows = match (&a.shape, &b.shape) {
            (Shape::Dims(m), Shape::Dims(v)) if m.len() == 2 && v.len() == 1 => {
                match (m[1], v[0]) {
                    (Some(x), Some(y)) if x != y => Err(()),
                    _ => Ok(m[0]),
                }
            }
            (Shape::Dims(m), _) if m.len() != 2 => Err(()),
            (_, Shape::Dims(v)) if v.len() != 1 => Err(()),
            _ => Ok(None),
        };
        match rows {
            Ok(rows) => Ty::Num(Num {
                elem: Elem::Real,
                shape: Shape::Dims(vec![rows]),
            }),
            Err(()) => {
                self.report(Diagnostic::error(
                    "E0405",
                    format!("`matvec` needs an n×m matrix and an m-vector, found {da} and {db}"),
                    call.span,
                ));
                Ty::Any
            }
        }
    }

    /// `diag(v)`: the n×n matrix with the vector `v` on its diagonal.
    fn diag(&mut self, call: &Call<'_>) -> Ty {
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let (ty, span) = &call.pos[0];
        let Some(v) = self.vector_arg(ty, *span, "the argument of `diag`") else {
            return Ty::Any;
        };
        match v.shape {
            Shape::Dims(d) if d.len() == 1 => Ty::Num(Num {
                elem: Elem::Real,
                shape: Shape::Dims(vec![d[0], d[0]]),
            }),
            Shape::Dims(_) => {
                self.report(Diagnostic::error("E0405", "`diag` needs a vector", *span));
                Ty::Any
            }
            Shape::Unknown => Ty::Num(Num {
                elem: Elem::Real,
                shape: Shape::Dims(vec![None, None]),
            }),
        }
    }

    /// `real(x)` of a number or boolean; `int(x)` of a number (E0406).
    fn conversion(&mut self, call: &Call<'_>) -> Ty {
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let (ty, span) = &call.pos[0];
        let Some(n) = self.value(ty, *span, "the argument", Want::Value) else {
            return Ty::Any;
        };
        if call.name == "int" && n.elem == Elem::Bool {
            self.report(Diagnostic::error(
                "E0406",
                format!("`int` cannot convert {}", describe_num(&n)),
                *span,
            ));
            return Ty::Any;
        }
        let elem = if call.name == "real" {
            Elem::Real
        } else {
            Elem::Int
        };
        Ty::Num(n.with_elem(elem))
    }

    /// `zeros(n)`, `ones(n)`: a vector of `n` reals (E0407).
    fn filled(&mut self, call: &Call<'_>) -> Ty {
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let (ty, span) = &call.pos[0];
        self.int_scalar(ty, *span, "a length");
        let len = call.const_positional(0);
        if len.is_some_and(|n| n < 0) {
            self.report(Diagnostic::error(
                "E0407",
                "an array length must be a non-negative compile-time constant",
                *span,
            ));
            return Ty::Any;
        }
        Ty::Num(Num {
            elem: Elem::Real,
            shape: Shape::Dims(vec![len.map(|n| n as u64)]),
        })
    }
}
