//! Compile-time constants: parameter initializers and `fit` options.
//!
//! A small evaluator over the AST for the expressions that must be known
//! before any IR exists: literals, arithmetic, arrays and records of
//! constants, a few math functions, references to top-level `let`s of
//! constants, and optimizer constructors (`sgd(lr = 1e-3)`).

use super::meta::Optimizer;
use super::{FitSpec, Global, Program};
use crate::prim::Prim;
use crate::prim::eval::{self, Scalar};
use std::collections::BTreeMap;
use vprog_lang::ast::{BinaryOp, Expr, ExprKind, FitStmt, UnaryOp};
use vprog_lang::{Diagnostic, Span};

/// A compile-time constant.
#[derive(Clone, Debug, PartialEq)]
pub enum ConstValue {
    /// A real.
    Real(f64),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(String),
    /// A real tensor.
    Tensor {
        /// Its shape.
        shape: Vec<usize>,
        /// Its elements, row-major.
        data: Vec<f64>,
    },
    /// A list of non-numbers (strings, records).
    List(Vec<ConstValue>),
    /// A record.
    Record(BTreeMap<String, ConstValue>),
    /// An optimizer.
    Optimizer(Optimizer),
}

impl ConstValue {
    /// A short description of the value's kind.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ConstValue::Real(_) => "a real",
            ConstValue::Int(_) => "an integer",
            ConstValue::Bool(_) => "a boolean",
            ConstValue::Str(_) => "a string",
            ConstValue::Tensor { .. } => "an array",
            ConstValue::List(_) => "a list",
            ConstValue::Record(_) => "a record",
            ConstValue::Optimizer(_) => "an optimizer",
        }
    }

    /// The value as a real, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            ConstValue::Real(x) => Some(x),
            ConstValue::Int(x) => Some(x as f64),
            _ => None,
        }
    }
}

fn not_constant(span: Span, what: &str) -> Diagnostic {
    Diagnostic::error(
        "E0120",
        format!("{what} must be a compile-time constant"),
        span,
    )
    .with_primary_label("not a constant")
    .with_help(
        "use numbers, arithmetic, arrays and records of constants, or a top-level `let` of one",
    )
}

struct Eval<'p> {
    program: &'p Program,
    module: usize,
    item: usize,
    depth: usize,
}

impl Eval<'_> {
    fn eval(&mut self, e: &Expr) -> Result<ConstValue, Diagnostic> {
        Ok(match &e.kind {
            ExprKind::Real(x) => ConstValue::Real(*x),
            ExprKind::Int(x) => ConstValue::Int(*x),
            ExprKind::Bool(x) => ConstValue::Bool(*x),
            ExprKind::Str(s) => ConstValue::Str(s.clone()),
            ExprKind::Var(name) => self.var(&name.name, e.span)?,
            ExprKind::Unary(op, inner) => {
                let v = self.eval(inner)?;
                match (op, v) {
                    (UnaryOp::Neg, ConstValue::Real(x)) => ConstValue::Real(-x),
                    (UnaryOp::Neg, ConstValue::Int(x)) => ConstValue::Int(x.wrapping_neg()),
                    (UnaryOp::Neg, ConstValue::Tensor { shape, data }) => ConstValue::Tensor {
                        shape,
                        data: data.into_iter().map(|x| -x).collect(),
                    },
                    (UnaryOp::Not, ConstValue::Bool(b)) => ConstValue::Bool(!b),
                    (_, v) => {
                        return Err(Diagnostic::error(
                            "E0121",
                            format!("this operator cannot apply to {}", v.kind_name()),
                            e.span,
                        ));
                    }
                }
            }
            ExprKind::Binary(op, l, r) => {
                let (a, b) = (self.eval(l)?, self.eval(r)?);
                self.binary(*op, a, b, e.span)?
            }
            ExprKind::Array(items) => {
                let vals: Vec<ConstValue> = items
                    .iter()
                    .map(|i| self.eval(i))
                    .collect::<Result<_, _>>()?;
                array(vals, e.span)?
            }
            ExprKind::Record(fields) => {
                let mut map = BTreeMap::new();
                for (name, value) in fields {
                    map.insert(name.name.clone(), self.eval(value)?);
                }
                ConstValue::Record(map)
            }
            ExprKind::Call { callee, args } => self.call(callee, args, e.span)?,
            ExprKind::Block(block) if block.stmts.is_empty() && block.tail.is_some() => {
                self.eval(block.tail.as_ref().expect("tail"))?
            }
            _ => return Err(not_constant(e.span, "this value")),
        })
    }

    fn var(&mut self, name: &str, span: Span) -> Result<ConstValue, Diagnostic> {
        if name == "pi" {
            return Ok(ConstValue::Real(std::f64::consts::PI));
        }
        let defs = self.program.globals[self.module].get(name);
        let found = defs.and_then(|defs| {
            defs.iter().rev().find(|(idx, g)| {
                (*idx < self.item || self.item == usize::MAX) && matches!(g, Global::Let(_))
            })
        });
        match found {
            Some((idx, Global::Let(stmt))) => {
                if self.depth > 64 {
                    return Err(Diagnostic::error(
                        "E0122",
                        format!("the definition of `{name}` refers to itself"),
                        span,
                    ));
                }
                let saved = self.item;
                self.item = *idx;
                self.depth += 1;
                let v = self.eval(&stmt.value);
                self.depth -= 1;
                self.item = saved;
                v
            }
            _ => Err(not_constant(span, &format!("`{name}`"))),
        }
    }

    fn binary(
        &self,
        op: BinaryOp,
        a: ConstValue,
        b: ConstValue,
        span: Span,
    ) -> Result<ConstValue, Diagnostic> {
        let prim = match op {
            BinaryOp::Add => Prim::Add,
            BinaryOp::Sub => Prim::Sub,
            BinaryOp::Mul => Prim::Mul,
            BinaryOp::Div => Prim::Div,
            BinaryOp::Pow => Prim::Pow,
            BinaryOp::Lt => Prim::Lt,
            BinaryOp::Le => Prim::Le,
            BinaryOp::Gt => Prim::Gt,
            BinaryOp::Ge => Prim::Ge,
            BinaryOp::Eq => Prim::Eq,
            BinaryOp::Ne => Prim::Ne,
            BinaryOp::And => Prim::And,
            BinaryOp::Or => Prim::Or,
        };
        let scalar = |v: &ConstValue| match *v {
            ConstValue::Real(x) => Some(Scalar::F(x)),
            ConstValue::Int(x) => Some(Scalar::I(x)),
            ConstValue::Bool(x) => Some(Scalar::B(x)),
            _ => None,
        };
        let (Some(mut x), Some(mut y)) = (scalar(&a), scalar(&b)) else {
            return Err(Diagnostic::error(
                "E0121",
                format!(
                    "`{}` cannot combine {} and {} in a constant",
                    op.symbol(),
                    a.kind_name(),
                    b.kind_name()
                ),
                span,
            ));
        };
        // Integers meet reals as reals; `^` is always real.
        if matches!(
            (x, y),
            (Scalar::I(_), Scalar::F(_)) | (Scalar::F(_), Scalar::I(_))
        ) || prim == Prim::Pow
        {
            x = Scalar::F(x.as_f64());
            y = Scalar::F(y.as_f64());
        }
        match eval::scalar(&prim, &[x, y]) {
            Ok(Scalar::F(v)) => Ok(ConstValue::Real(v)),
            Ok(Scalar::I(v)) => Ok(ConstValue::Int(v)),
            Ok(Scalar::B(v)) => Ok(ConstValue::Bool(v)),
            Err(e) => Err(Diagnostic::error("E0121", e.0, span)),
        }
    }

    fn call(
        &mut self,
        callee: &Expr,
        args: &[vprog_lang::ast::Arg],
        span: Span,
    ) -> Result<ConstValue, Diagnostic> {
        let ExprKind::Var(name) = &callee.kind else {
            return Err(not_constant(span, "this call"));
        };
        let mut positional = Vec::new();
        let mut named = BTreeMap::new();
        for a in args {
            let v = self.eval(&a.value)?;
            match &a.name {
                Some(n) => {
                    named.insert(n.name.clone(), (v, a.value.span));
                }
                None => positional.push((v, a.value.span)),
            }
        }
        let real = |v: &(ConstValue, Span)| {
            v.0.as_f64().ok_or_else(|| {
                Diagnostic::error(
                    "E0123",
                    format!("expected a number, found {}", v.0.kind_name()),
                    v.1,
                )
            })
        };
        let opt = |named: &BTreeMap<String, (ConstValue, Span)>,
                   key: &str,
                   default: Option<f64>|
         -> Result<f64, Diagnostic> {
            match named.get(key) {
                Some(v) => real(v),
                None => default.ok_or_else(|| {
                    Diagnostic::error(
                        "E0124",
                        format!("`{}` needs the option `{key} = ...`", name.name),
                        span,
                    )
                }),
            }
        };
        let check_names = |allowed: &[&str]| -> Result<(), Diagnostic> {
            for (k, (_, s)) in &named {
                if !allowed.contains(&k.as_str()) {
                    return Err(Diagnostic::error(
                        "E0125",
                        format!("`{}` has no option `{k}`", name.name),
                        *s,
                    )
                    .with_help(format!("its options are: {}", allowed.join(", "))));
                }
            }
            if !positional.is_empty() {
                return Err(Diagnostic::error(
                    "E0125",
                    format!("`{}` takes only named options", name.name),
                    positional[0].1,
                )
                .with_help(format!("write e.g. `{}({} = ...)`", name.name, allowed[0])));
            }
            Ok(())
        };
        let math = |f: fn(f64) -> f64,
                    positional: &[(ConstValue, Span)]|
         -> Result<ConstValue, Diagnostic> {
            match positional {
                [v] => Ok(ConstValue::Real(f(real(v)?))),
                _ => Err(Diagnostic::error(
                    "E0126",
                    format!("`{}` takes one argument", name.name),
                    span,
                )),
            }
        };
        Ok(match name.name.as_str() {
            "sgd" => {
                check_names(&["lr"])?;
                ConstValue::Optimizer(Optimizer::Sgd {
                    lr: opt(&named, "lr", None)?,
                })
            }
            "momentum" => {
                check_names(&["lr", "beta"])?;
                ConstValue::Optimizer(Optimizer::Momentum {
                    lr: opt(&named, "lr", None)?,
                    beta: opt(&named, "beta", Some(0.9))?,
                })
            }
            "adam" => {
                check_names(&["lr", "beta1", "beta2", "eps"])?;
                ConstValue::Optimizer(Optimizer::Adam {
                    lr: opt(&named, "lr", None)?,
                    beta1: opt(&named, "beta1", Some(0.9))?,
                    beta2: opt(&named, "beta2", Some(0.999))?,
                    eps: opt(&named, "eps", Some(1e-8))?,
                })
            }
            "exp" => math(f64::exp, &positional)?,
            "log" => math(f64::ln, &positional)?,
            "sqrt" => math(f64::sqrt, &positional)?,
            "sin" => math(f64::sin, &positional)?,
            "cos" => math(f64::cos, &positional)?,
            "zeros" | "ones" => match positional.as_slice() {
                [(ConstValue::Int(n), _)] if *n >= 0 => ConstValue::Tensor {
                    shape: vec![*n as usize],
                    data: vec![if name.name == "zeros" { 0.0 } else { 1.0 }; *n as usize],
                },
                _ => {
                    return Err(Diagnostic::error(
                        "E0126",
                        format!("`{}` takes one non-negative integer", name.name),
                        span,
                    ));
                }
            },
            _ => return Err(not_constant(span, "this call")),
        })
    }
}

/// Combines the elements of an array literal.
fn array(vals: Vec<ConstValue>, span: Span) -> Result<ConstValue, Diagnostic> {
    if vals.iter().all(|v| v.as_f64().is_some()) {
        return Ok(ConstValue::Tensor {
            shape: vec![vals.len()],
            data: vals.iter().filter_map(ConstValue::as_f64).collect(),
        });
    }
    if let Some(ConstValue::Tensor { shape: inner, .. }) = vals.first() {
        let inner = inner.clone();
        let mut data = Vec::new();
        for v in &vals {
            match v {
                ConstValue::Tensor { shape, data: d } if *shape == inner => {
                    data.extend_from_slice(d)
                }
                _ => {
                    return Err(Diagnostic::error(
                        "E0127",
                        "the rows of an array must have one shape",
                        span,
                    ));
                }
            }
        }
        let mut shape = vec![vals.len()];
        shape.extend(inner);
        return Ok(ConstValue::Tensor { shape, data });
    }
    Ok(ConstValue::List(vals))
}

/// Evaluates `e` (in `module`, as seen from top-level item `item`, or from
/// anywhere when `item` is `usize::MAX`) to a constant.
pub fn eval(
    program: &Program,
    module: usize,
    item: usize,
    e: &Expr,
) -> Result<ConstValue, Diagnostic> {
    Eval {
        program,
        module,
        item,
        depth: 0,
    }
    .eval(e)
}

/// Evaluates the options of a `fit` statement.
pub(super) fn fit_spec(
    program: &Program,
    item: usize,
    span: Span,
    fit: &FitStmt,
) -> Result<FitSpec, Diagnostic> {
    let optimizer = match eval(program, 0, item, &fit.optimizer)? {
        ConstValue::Optimizer(o) => o,
        other => {
            return Err(Diagnostic::error(
                "E0130",
                format!("`fit ... with` needs an optimizer, found {}", other.kind_name()),
                fit.optimizer.span,
            )
            .with_help("write e.g. `with sgd(lr = 1e-3)`, `with momentum(lr = 1e-3)` or `with adam(lr = 1e-3)`"));
        }
    };
    let mut spec = FitSpec {
        name: fit.objective.name.clone(),
        item,
        span,
        objective: std::rc::Rc::new(Expr {
            id: vprog_lang::ast::ExprId(u32::MAX),
            kind: ExprKind::Var(fit.objective.clone()),
            span: fit.objective.span,
        }),
        optimizer,
        steps: 1000,
        particles: 1,
        seed: None,
        init: Vec::new(),
    };
    let positive_int = |v: &ConstValue, s: Span, what: &str| -> Result<usize, Diagnostic> {
        match *v {
            ConstValue::Int(n) if n >= 1 => Ok(n as usize),
            _ => Err(Diagnostic::error(
                "E0131",
                format!("`{what}` must be a positive integer, found {}", show(v)),
                s,
            )),
        }
    };
    for opt in &fit.options {
        let v = eval(program, 0, item, &opt.value)?;
        let s = opt.value.span;
        match opt.name.name.as_str() {
            "steps" => spec.steps = positive_int(&v, s, "steps")?,
            "particles" => spec.particles = positive_int(&v, s, "particles")?,
            "seed" => match v {
                ConstValue::Int(n) if n >= 0 => spec.seed = Some(n as u64),
                _ => {
                    return Err(Diagnostic::error(
                        "E0131",
                        "`seed` must be a non-negative integer",
                        s,
                    ));
                }
            },
            "init" => match v {
                ConstValue::Record(fields) => {
                    for (k, v) in fields {
                        match v {
                            ConstValue::Record(inner) => {
                                for (k2, v2) in inner {
                                    spec.init.push((format!("{k}.{k2}"), s, v2));
                                }
                            }
                            v => spec.init.push((k, s, v)),
                        }
                    }
                }
                other => {
                    return Err(Diagnostic::error(
                        "E0132",
                        format!(
                            "`init` must be a record of parameter values, found {}",
                            other.kind_name()
                        ),
                        s,
                    )
                    .with_help("write e.g. `init = { mu: 0.0, s: 1.0 }`"));
                }
            },
            other => {
                return Err(Diagnostic::error(
                    "E0133",
                    format!("`fit` has no option `{other}`"),
                    opt.name.span,
                )
                .with_help("the options are: steps, particles, seed, init"));
            }
        }
    }
    Ok(spec)
}

fn show(v: &ConstValue) -> String {
    match v {
        ConstValue::Real(x) => format!("{x}"),
        ConstValue::Int(x) => format!("{x}"),
        other => other.kind_name().to_string(),
    }
}
