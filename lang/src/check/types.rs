//! The checker's types, how they are written in messages, and the shape
//! arithmetic of numbers and arrays.
//!
//! A [`Ty`] says what the checker knows about a value, which is often less
//! than the lowering will know: array lengths computed from parameters,
//! the addresses of a choice map, and the element type of an integer-or-real
//! expression may all be unknown. Unknown parts are wildcards ([`Ty::Any`],
//! [`Elem::Unknown`], [`Shape::Unknown`], a `None` dimension) that agree
//! with everything, so the checker only reports what is definitely wrong.

use std::collections::BTreeMap;

use crate::ast::{TypeExpr, TypeExprKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// The id of a function declaration (`gen` or `fn`) among all modules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FuncId(pub usize);

/// A type variable: the type of an unannotated function parameter (or a
/// part of one), local to the function being checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct VarId(pub usize);

/// The element type of a number or an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Elem {
    /// `real`.
    Real,
    /// `int`.
    Int,
    /// `bool`.
    Bool,
    /// An integer or a real, not known which.
    Number,
    /// Not known at all: a number or a boolean.
    Unknown,
}

impl Elem {
    /// Whether the element is certainly a number (not a boolean).
    pub fn is_number(self) -> bool {
        matches!(self, Elem::Real | Elem::Int | Elem::Number)
    }

    /// The element of `a op b` for an arithmetic operator other than `/`
    /// and `^`: an integer meets a real as a real.
    pub fn arithmetic(a: Elem, b: Elem) -> Elem {
        match (a, b) {
            (Elem::Real, _) | (_, Elem::Real) => Elem::Real,
            (Elem::Int, Elem::Int) => Elem::Int,
            _ => Elem::Number,
        }
    }

    /// Whether two elements can be the same after promoting integers to
    /// reals (for `if` branches and array elements).
    pub fn agrees(a: Elem, b: Elem) -> bool {
        match (a, b) {
            (Elem::Unknown, _) | (_, Elem::Unknown) => true,
            (Elem::Bool, other) | (other, Elem::Bool) => other == Elem::Bool,
            _ => true,
        }
    }

    /// The common element of two agreeing elements.
    pub fn join(a: Elem, b: Elem) -> Elem {
        match (a, b) {
            (x, y) if x == y => x,
            (Elem::Unknown, other) | (other, Elem::Unknown) => other,
            (Elem::Bool, _) | (_, Elem::Bool) => Elem::Unknown,
            _ => Elem::arithmetic(a, b),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Elem::Real => "real",
            Elem::Int => "int",
            Elem::Bool => "bool",
            Elem::Number => "number",
            Elem::Unknown => "value",
        }
    }
}

/// A static shape: the dimensions of an array (none for a scalar), each
/// known or not, or nothing known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A scalar or an array of any rank.
    Unknown,
    /// The dimensions, outermost first; `None` is a length not known
    /// statically.
    Dims(Vec<Option<u64>>),
}

impl Shape {
    /// The shape of a scalar.
    pub fn scalar() -> Shape {
        Shape::Dims(Vec::new())
    }

    /// Whether the shape is certainly a scalar's.
    pub fn is_scalar(&self) -> bool {
        matches!(self, Shape::Dims(d) if d.is_empty())
    }

    /// The rank, if known.
    pub fn rank(&self) -> Option<usize> {
        match self {
            Shape::Unknown => None,
            Shape::Dims(d) => Some(d.len()),
        }
    }

    /// The shape of `a op b`: a scalar meets an array elementwise; two
    /// arrays must have one shape. `None` when they certainly do not.
    pub fn broadcast(&self, other: &Shape) -> Option<Shape> {
        match (self, other) {
            (Shape::Dims(a), _) if a.is_empty() => Some(other.clone()),
            (_, Shape::Dims(b)) if b.is_empty() => Some(self.clone()),
            _ => self.agree(other),
        }
    }

    /// The common shape of two values that must have one shape (the
    /// branches of an `if`, an assignment), or `None` when they certainly
    /// differ.
    pub fn agree(&self, other: &Shape) -> Option<Shape> {
        match (self, other) {
            (Shape::Unknown, s) | (s, Shape::Unknown) => Some(s.clone()),
            (Shape::Dims(a), Shape::Dims(b)) => {
                if a.len() != b.len() {
                    return None;
                }
                let mut dims = Vec::with_capacity(a.len());
                for (x, y) in a.iter().zip(b) {
                    match (x, y) {
                        (Some(x), Some(y)) if x != y => return None,
                        _ => dims.push(x.or(*y)),
                    }
                }
                Some(Shape::Dims(dims))
            }
        }
    }

    /// The shape of an array of `len` values of this shape.
    pub fn stacked(&self, len: Option<u64>) -> Shape {
        match self {
            Shape::Unknown => Shape::Unknown,
            Shape::Dims(d) => {
                let mut dims = vec![len];
                dims.extend(d);
                Shape::Dims(dims)
            }
        }
    }

    /// The shape of an element of an array of this shape, or `None` for a
    /// scalar.
    pub fn element(&self) -> Option<Shape> {
        match self {
            Shape::Unknown => Some(Shape::Unknown),
            Shape::Dims(d) if d.is_empty() => None,
            Shape::Dims(d) => Some(Shape::Dims(d[1..].to_vec())),
        }
    }

    /// The leading dimension, if known.
    pub fn first(&self) -> Option<u64> {
        match self {
            Shape::Dims(d) => d.first().copied().flatten(),
            Shape::Unknown => None,
        }
    }
}

/// A number, a boolean, or an array of them.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Num {
    /// The element type.
    pub elem: Elem,
    /// The shape.
    pub shape: Shape,
}

impl Num {
    /// A scalar of element `elem`.
    pub fn scalar(elem: Elem) -> Num {
        Num {
            elem,
            shape: Shape::scalar(),
        }
    }

    /// The same value with element `elem`.
    pub fn with_elem(&self, elem: Elem) -> Num {
        Num {
            elem,
            shape: self.shape.clone(),
        }
    }

    /// Nothing known: a number or boolean of any shape.
    pub fn unknown() -> Num {
        Num {
            elem: Elem::Unknown,
            shape: Shape::Unknown,
        }
    }
}

/// Whether a generative function value is applied to its arguments.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Applied {
    /// Not yet: `ring` for `gen ring(z)`.
    No,
    /// Applied to arguments of these types (none for a function without
    /// parameters, which is applied already).
    Yes(Vec<Ty>),
    /// Not known (an annotated `gen` parameter).
    Unknown,
}

/// What kind of generative function a value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GenKind {
    /// A `gen` declaration (or a `gen` parameter).
    Function,
    /// `marginal(g, keep = ...)`.
    Marginal,
    /// `normalize(target(model, data), via = ...)`.
    Normalized,
}

/// A generative function value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct GenTy {
    /// The declaration, when known.
    pub func: Option<FuncId>,
    /// Whether it is applied.
    pub applied: Applied,
    /// What kind it is: a marginal or a normalized target can be simulated
    /// and scored, but not traced, called or asked for its parameters.
    pub kind: GenKind,
}

impl GenTy {
    /// A generative function about which nothing is known.
    pub fn unknown() -> GenTy {
        GenTy {
            func: None,
            applied: Applied::Unknown,
            kind: GenKind::Function,
        }
    }
}

/// What a function value calls.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Callable {
    /// A `fn` declaration.
    User(FuncId),
    /// A builtin function.
    Builtin(&'static str),
    /// A host function (an index into the checker's host table).
    Host(usize),
}

/// The type of a value, as far as the checker knows it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Ty {
    /// Anything: a value whose type is not known here, or the result of an
    /// expression that already had an error (so errors do not cascade).
    Any,
    /// The type of an unannotated parameter, resolved through the
    /// function's variable table.
    Var(VarId),
    /// A number, a boolean, or an array of them.
    Num(Num),
    /// A tuple; `()` is the empty tuple.
    Tuple(Vec<Ty>),
    /// A record (also a choice map).
    Record(BTreeMap<String, Ty>),
    /// A choice map (its addresses are not tracked).
    Choices,
    /// A generative function.
    Gen(GenTy),
    /// A deterministic function or a builtin, when known.
    Func(Option<Callable>),
    /// A distribution (`None`: not known which) with its value type.
    Dist(Option<&'static str>, Box<Ty>),
    /// An expectation `E { ... }`.
    Expect,
    /// A string (an address in `keep = [...]`).
    Str,
    /// A list of strings.
    Names,
    /// An optimizer (`sgd(lr = 0.1)`).
    Optimizer,
    /// An inference algorithm (`sir(5)`), and whether it has a proposal
    /// (`sir(5, proposal = q)`).
    Alg(bool),
    /// `target(model, data)`: a model conditioned on data, to normalize.
    Target,
    /// `estimate(objective, samples = n)`.
    Estimate,
}

impl Ty {
    /// A real scalar.
    pub fn real() -> Ty {
        Ty::Num(Num::scalar(Elem::Real))
    }

    /// An integer scalar.
    pub fn int() -> Ty {
        Ty::Num(Num::scalar(Elem::Int))
    }

    /// A boolean scalar.
    pub fn bool() -> Ty {
        Ty::Num(Num::scalar(Elem::Bool))
    }

    /// `()`.
    pub fn unit() -> Ty {
        Ty::Tuple(Vec::new())
    }

    /// Whether values of this type are made only of numbers, tuples and
    /// records (what `let mut`, `if` branches and comprehensions hold).
    /// Unknown parts count as such.
    pub fn is_data(&self) -> bool {
        match self {
            Ty::Any | Ty::Var(_) | Ty::Num(_) => true,
            Ty::Tuple(items) => items.iter().all(Ty::is_data),
            Ty::Record(fields) => fields.values().all(Ty::is_data),
            _ => false,
        }
    }

    /// Whether nothing is known about the value.
    pub fn is_unknown(&self) -> bool {
        matches!(self, Ty::Any | Ty::Var(_))
    }

    /// A short description of the kind of value, as in "found a tuple".
    pub fn kind_name(&self) -> &'static str {
        match self {
            Ty::Any | Ty::Var(_) => "a value",
            Ty::Num(n) if n.elem == Elem::Bool => "a boolean",
            Ty::Num(n) if n.shape.rank().is_some_and(|r| r > 0) => "an array",
            Ty::Num(_) => "a number",
            Ty::Tuple(items) if items.is_empty() => "`()`",
            Ty::Tuple(_) => "a tuple",
            Ty::Record(_) => "a record",
            Ty::Choices => "a choice map",
            Ty::Gen(g) if g.kind == GenKind::Marginal => "a marginal",
            Ty::Gen(g) if g.kind == GenKind::Normalized => "a normalized target",
            Ty::Gen(_) => "a generative function",
            Ty::Func(Some(Callable::Builtin(_))) => "a builtin function",
            Ty::Func(_) => "a function",
            Ty::Dist(..) => "a distribution",
            Ty::Expect => "an expectation",
            Ty::Str => "a string",
            Ty::Names => "a list of names",
            Ty::Optimizer => "an optimizer",
            Ty::Alg(_) => "an inference algorithm",
            Ty::Target => "a target",
            Ty::Estimate => "an estimate",
        }
    }

    /// The type as users read it: `real`, `int[3]`, `(real, bool)`, or the
    /// kind of value for the others.
    pub fn describe(&self) -> String {
        match self {
            Ty::Num(n) => describe_num(n),
            Ty::Tuple(items) if !items.is_empty() => format!(
                "({})",
                items
                    .iter()
                    .map(Ty::describe)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Ty::Record(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.describe()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.kind_name().to_string(),
        }
    }
}

/// A number's type as users read it: `real`, `int[3]`, `real[?, 2]`.
pub(crate) fn describe_num(n: &Num) -> String {
    let base = n.elem.name();
    match &n.shape {
        Shape::Dims(d) if !d.is_empty() => format!(
            "{base}[{}]",
            d.iter()
                .map(|x| x.map_or("?".to_string(), |x| x.to_string()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ if n.elem == Elem::Number => "a number".to_string(),
        _ if n.elem == Elem::Unknown => "a value".to_string(),
        _ => base.to_string(),
    }
}

/// The type a parameter annotation or a `let` annotation stands for.
///
/// `real`, `int` and `bool` take dimensions (`real[3]`); `gen`, `choices`,
/// `expect`, `dist` and `fn` name the other kinds of values; tuples and
/// records of types are types. An unknown name is an error (E0241).
pub(crate) fn annotation_type(ty: &TypeExpr) -> Result<Ty, Box<Diagnostic>> {
    match &ty.kind {
        TypeExprKind::Named { name, dims } => {
            let shape = Shape::Dims(dims.iter().map(|&d| Some(d)).collect());
            Ok(match name.name.as_str() {
                "real" => Ty::Num(Num {
                    elem: Elem::Real,
                    shape,
                }),
                "int" => Ty::Num(Num {
                    elem: Elem::Int,
                    shape,
                }),
                "bool" => Ty::Num(Num {
                    elem: Elem::Bool,
                    shape,
                }),
                "gen" => Ty::Gen(GenTy::unknown()),
                "choices" => Ty::Choices,
                "expect" => Ty::Expect,
                "dist" => Ty::Dist(None, Box::new(Ty::Any)),
                "fn" => Ty::Func(None),
                other => {
                    return Err(Box::new(Diagnostic::error(
                        "E0241",
                        format!("unknown type `{other}`"),
                        name.span,
                    )
                    .with_primary_label("not a type")
                    .with_help(
                        "the types are real, int, bool (with dimensions, e.g. `real[3]`), gen, choices, expect, dist, fn, tuples and records",
                    )));
                }
            })
        }
        TypeExprKind::Tuple(items) => Ok(Ty::Tuple(
            items
                .iter()
                .map(annotation_type)
                .collect::<Result<_, _>>()?,
        )),
        TypeExprKind::Record(fields) => {
            let mut out = BTreeMap::new();
            for (name, t) in fields {
                out.insert(name.name.clone(), annotation_type(t)?);
            }
            Ok(Ty::Record(out))
        }
    }
}

/// The span of a written type without the whitespace the parser may
/// include after a name (`int ` in `let x: int = 1;`).
pub(crate) fn type_span(ty: &TypeExpr) -> Span {
    match &ty.kind {
        TypeExprKind::Named { name, dims } if dims.is_empty() => name.span,
        _ => ty.span,
    }
}
