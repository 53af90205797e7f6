//! The table of learnable parameters.
//!
//! A `param` declared in a generative function belongs to that function
//! (its qualified name is `gen.name`); one declared at the top level is
//! global. Every parameter is stored *unconstrained*: a `positive`
//! parameter as its logarithm, a `unit_interval` one as its logit, and the
//! code reading it sees the constrained value. Optimizers work on the
//! unconstrained values.

use super::Program;
use super::consts::{self, ConstValue};
use super::meta::FnRef;
use crate::ir::Type;
use vprog_lang::ast::{Block, ExprKind, ParamDecl, StmtKind, TypeExprKind};
use vprog_lang::{Diagnostic, Span};

/// How a parameter's stored value maps to the value programs see.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// The identity.
    Real,
    /// `exp(raw)`.
    Positive,
    /// `sigmoid(raw)`.
    UnitInterval,
}

impl Constraint {
    /// The stored value of `x`, if `x` satisfies the constraint.
    pub fn unconstrain(self, x: f64) -> Option<f64> {
        match self {
            Constraint::Real => x.is_finite().then_some(x),
            Constraint::Positive => (x > 0.0 && x.is_finite()).then(|| x.ln()),
            Constraint::UnitInterval => (x > 0.0 && x < 1.0).then(|| (x / (1.0 - x)).ln()),
        }
    }

    /// The value programs see for stored value `raw`.
    pub fn constrain(self, raw: f64) -> f64 {
        match self {
            Constraint::Real => raw,
            Constraint::Positive => raw.exp(),
            Constraint::UnitInterval => crate::special::sigmoid(raw),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Constraint::Real => "real",
            Constraint::Positive => "positive",
            Constraint::UnitInterval => "unit_interval",
        }
    }
}

/// A random initial value (see `vprog_lang::check::RandomInit`): each
/// element an independent draw.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InitDraw {
    /// Uniform on `(−a, a)`, `a = √(6 / (fan_in + fan_out))`.
    Glorot,
    /// Normal with mean 0 and variance `2 / fan_in`.
    He,
    /// Normal with mean 0 and this standard deviation.
    Normal(f64),
}

impl InitDraw {
    /// The distribution of every element for a parameter of `shape`:
    /// `Ok(a)` for uniform on `(−a, a)`, `Err(σ)` for normal with standard
    /// deviation `σ`.
    pub fn element_law(self, shape: &[usize]) -> Result<f64, f64> {
        let (fan_in, fan_out) = vprog_lang::check::fans(shape);
        match self {
            InitDraw::Glorot => Ok((6.0 / (fan_in + fan_out).max(1) as f64).sqrt()),
            InitDraw::He => Err((2.0 / fan_in.max(1) as f64).sqrt()),
            InitDraw::Normal(sd) => Err(sd),
        }
    }
}

/// One learnable parameter.
#[derive(Clone, Debug)]
pub struct ParamInfo {
    /// `gen.name`, or `name` for a top-level parameter.
    pub qualified: String,
    /// The declared name.
    pub name: String,
    /// The module declaring it.
    pub module: usize,
    /// Its constraint.
    pub constraint: Constraint,
    /// The shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// The initial stored (unconstrained) value, flattened row-major
    /// (zeros when the parameter starts at a random draw).
    pub init: Vec<f64>,
    /// The random draw the parameter starts at instead of `init`
    /// (`glorot()`, `he()`, `normal(σ)`), made by the runtime from the
    /// run's seed.
    pub draw: Option<InitDraw>,
    /// The declaration.
    pub span: Span,
    /// The initializer expression.
    pub(crate) init_expr: vprog_lang::ast::Expr,
}

impl ParamInfo {
    /// The IR type of the stored value.
    pub fn ty(&self) -> Type {
        Type::tensor(crate::ir::Elem::F64, self.shape.clone())
    }
}

/// Records the parameter `decl` (owned by `owner`, or global).
pub(super) fn collect_param(
    module: usize,
    owner: Option<&str>,
    decl: &ParamDecl,
    params: &mut Vec<ParamInfo>,
    errors: &mut Vec<Diagnostic>,
) {
    let qualified = match owner {
        Some(g) => format!("{g}.{}", decl.name.name),
        None => decl.name.name.clone(),
    };
    if let Some(prev) = params
        .iter()
        .find(|p| p.qualified == qualified && p.module == module)
    {
        errors.push(
            Diagnostic::error(
                "E0105",
                format!("parameter `{qualified}` is declared twice"),
                decl.name.span,
            )
            .with_label(prev.span, "first declared here"),
        );
        return;
    }
    let (constraint, shape) = match &decl.ty {
        None => (Constraint::Real, Vec::new()),
        Some(t) => match &t.kind {
            TypeExprKind::Named { name, dims } => {
                let c = match name.name.as_str() {
                    "real" => Constraint::Real,
                    "positive" => Constraint::Positive,
                    "unit_interval" => Constraint::UnitInterval,
                    other => {
                        errors.push(
                            Diagnostic::error("E0106", format!("`{other}` is not a parameter constraint"), name.span)
                                .with_help("a parameter is `real`, `positive` or `unit_interval`, optionally with dimensions: `real[3]`"),
                        );
                        return;
                    }
                };
                (c, dims.iter().map(|&d| d as usize).collect())
            }
            _ => {
                errors.push(Diagnostic::error(
                    "E0106",
                    "a parameter's type must be `real`, `positive` or `unit_interval`",
                    t.span,
                ));
                return;
            }
        },
    };
    params.push(ParamInfo {
        qualified,
        name: decl.name.name.clone(),
        module,
        constraint,
        shape,
        init: Vec::new(),
        draw: None,
        span: decl.name.span,
        init_expr: decl.init.clone(),
    });
}

/// Records the parameters of a generative function; they must be declared
/// at the top level of its body.
pub(super) fn collect_gen_params(
    module: usize,
    function: &FnRef,
    params: &mut Vec<ParamInfo>,
    errors: &mut Vec<Diagnostic>,
) {
    let owner = function.decl.name.name.clone();
    for stmt in &function.decl.body.stmts {
        match &stmt.kind {
            StmtKind::Param(decl) => collect_param(module, Some(&owner), decl, params, errors),
            _ => reject_nested(stmt_blocks(&stmt.kind), errors),
        }
    }
}

fn stmt_blocks(kind: &StmtKind) -> Vec<&Block> {
    match kind {
        StmtKind::For { body, .. } => vec![body],
        StmtKind::Expr(e) => match &e.kind {
            ExprKind::If {
                then_branch,
                else_branch,
                ..
            } => {
                let mut v = vec![then_branch];
                v.extend(else_branch.iter());
                v
            }
            ExprKind::Block(b) => vec![b],
            _ => vec![],
        },
        _ => vec![],
    }
}

fn reject_nested(blocks: Vec<&Block>, errors: &mut Vec<Diagnostic>) {
    for block in blocks {
        for stmt in &block.stmts {
            if let StmtKind::Param(decl) = &stmt.kind {
                errors.push(
                    Diagnostic::error(
                        "E0107",
                        "a `param` must be declared at the top level of a `gen` body",
                        decl.name.span,
                    )
                    .with_help("move the declaration to the start of the generative function"),
                );
            }
            reject_nested(stmt_blocks(&stmt.kind), errors);
        }
    }
}

/// Evaluates every parameter's initializer (a constant expression) and
/// stores it unconstrained.
pub(super) fn evaluate_inits(program: &mut Program, errors: &mut Vec<Diagnostic>) {
    for i in 0..program.params.len() {
        let p = &program.params[i];
        if let Some((form, _)) = vprog_lang::check::random_initializer(&p.init_expr) {
            if let Some(draw) = random_init(program, i, form, errors) {
                let p = &mut program.params[i];
                p.init = vec![0.0; p.shape.iter().product()];
                p.draw = Some(draw);
            }
            continue;
        }
        let value = match consts::eval(program, p.module, usize::MAX, &p.init_expr) {
            Ok(v) => v,
            Err(d) => {
                errors.push(d);
                continue;
            }
        };
        let span = p.init_expr.span;
        let (shape, data) = match value {
            ConstValue::Real(x) => (Vec::new(), vec![x]),
            ConstValue::Int(x) => (Vec::new(), vec![x as f64]),
            ConstValue::Tensor { shape, data } => (shape, data),
            other => {
                errors.push(Diagnostic::error(
                    "E0108",
                    format!("a parameter's initial value must be a number or an array of numbers, not {}", other.kind_name()),
                    span,
                ));
                continue;
            }
        };
        let p = &mut program.params[i];
        if !p.shape.is_empty() && p.shape != shape {
            errors.push(Diagnostic::error(
                "E0109",
                format!("parameter `{}` is declared with shape {:?} but its initial value has shape {:?}", p.qualified, p.shape, shape),
                span,
            ));
            continue;
        }
        p.shape = shape;
        let mut raw = Vec::with_capacity(data.len());
        for x in data {
            match p.constraint.unconstrain(x) {
                Some(r) => raw.push(r),
                None => {
                    errors.push(Diagnostic::error(
                        "E0110",
                        format!(
                            "the initial value {x} of `{}` is not {}",
                            p.qualified,
                            p.constraint.name()
                        ),
                        span,
                    ));
                    break;
                }
            }
        }
        p.init = raw;
    }
}

/// The draw of parameter `i`, initialized by `form`: its standard
/// deviation, for `normal(σ)`, must be a positive constant (E0110).
fn random_init(
    program: &Program,
    i: usize,
    form: vprog_lang::check::RandomInit<'_>,
    errors: &mut Vec<Diagnostic>,
) -> Option<InitDraw> {
    use vprog_lang::check::RandomInit;
    let p = &program.params[i];
    match form {
        RandomInit::Glorot => Some(InitDraw::Glorot),
        RandomInit::He => Some(InitDraw::He),
        RandomInit::Normal(scale) => {
            let sd = match consts::eval(program, p.module, usize::MAX, scale) {
                Ok(ConstValue::Real(x)) => x,
                Ok(ConstValue::Int(x)) => x as f64,
                Ok(other) => {
                    errors.push(Diagnostic::error(
                        "E0108",
                        format!(
                            "the standard deviation of `normal` must be a number, not {}",
                            other.kind_name()
                        ),
                        scale.span,
                    ));
                    return None;
                }
                Err(d) => {
                    errors.push(d);
                    return None;
                }
            };
            if !(sd > 0.0 && sd.is_finite()) {
                errors.push(Diagnostic::error(
                    "E0110",
                    format!(
                        "the standard deviation {sd} of `{}`'s initializer is not positive",
                        p.qualified
                    ),
                    scale.span,
                ));
                return None;
            }
            Some(InitDraw::Normal(sd))
        }
    }
}
