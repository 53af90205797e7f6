//! The abstract syntax tree of vprog, with byte spans on every node.
//!
//! The tree mirrors the surface syntax of `spec/grammar.pest` closely; it
//! carries no types and no resolution results (those live in side tables of
//! the checker). Every expression has an [`ExprId`] unique within its
//! [`SourceFile`], so later phases can attach facts to it without mutating
//! the tree.

use crate::span::Span;

/// A unique id of an expression within one parsed file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub u32);

/// An identifier with the span it was written at.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    /// The identifier's text.
    pub name: String,
    /// Where it was written.
    pub span: Span,
}

/// A parsed file: the items in source order.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceFile {
    /// Top-level items in source order.
    pub items: Vec<Item>,
}

/// A top-level item.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// What the item is.
    pub kind: ItemKind,
    /// The whole item.
    pub span: Span,
}

/// The kinds of top-level items.
#[derive(Clone, Debug, PartialEq)]
pub enum ItemKind {
    /// `import name;`
    Import(Ident),
    /// `gen name(...) { ... }` or `fn name(...) { ... }`.
    Function(FunctionDecl),
    /// A top-level `let`.
    Let(LetStmt),
    /// A top-level `param`.
    Param(ParamDecl),
    /// `fit name with optimizer, options...;`
    Fit(FitStmt),
    /// `report name = expr;`
    Report(ReportStmt),
}

/// Whether a function is generative (`gen`) or deterministic (`fn`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FunctionKind {
    /// `gen`: may contain random choices and `param` declarations.
    Gen,
    /// `fn`: deterministic (it may still build expectations and call `sim`).
    Fn,
}

/// A `gen` or `fn` declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDecl {
    /// `gen` or `fn`.
    pub kind: FunctionKind,
    /// The function's name.
    pub name: Ident,
    /// Its parameters, each optionally annotated with a type.
    pub params: Vec<FnParam>,
    /// The annotated return type, if any.
    pub ret: Option<TypeExpr>,
    /// The body.
    pub body: Block,
}

/// One parameter of a function.
#[derive(Clone, Debug, PartialEq)]
pub struct FnParam {
    /// The parameter's name.
    pub name: Ident,
    /// Its annotated type; unannotated parameters are generic.
    pub ty: Option<TypeExpr>,
}

/// A type as written in the source.
#[derive(Clone, Debug, PartialEq)]
pub struct TypeExpr {
    /// The type's shape.
    pub kind: TypeExprKind,
    /// Where it was written.
    pub span: Span,
}

/// The kinds of written types.
#[derive(Clone, Debug, PartialEq)]
pub enum TypeExprKind {
    /// `real`, `int`, `bool`, `gen`, `positive`, ... optionally with
    /// dimensions: `real[3]`, `real[2, 2]`.
    Named {
        /// The type's name.
        name: Ident,
        /// The dimensions, empty for scalars.
        dims: Vec<u64>,
    },
    /// `(T, U)`.
    Tuple(Vec<TypeExpr>),
    /// `{a: T, b: U}`.
    Record(Vec<(Ident, TypeExpr)>),
}

/// `fit name with optimizer, key = value, ...;`
#[derive(Clone, Debug, PartialEq)]
pub struct FitStmt {
    /// The name of the objective to fit (also the fit's reported name).
    pub objective: Ident,
    /// The optimizer expression, e.g. `sgd(lr = 1e-3)`.
    pub optimizer: Expr,
    /// The remaining options: `steps`, `particles`, `seed`, `init`, ...
    pub options: Vec<NamedArg>,
}

/// `report name = expr;`
#[derive(Clone, Debug, PartialEq)]
pub struct ReportStmt {
    /// The report's name (an identifier or a string, without quotes).
    pub name: Ident,
    /// The reported value.
    pub value: Expr,
}

/// A block `{ stmts; tail }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Block {
    /// The statements in order.
    pub stmts: Vec<Stmt>,
    /// The value of the block, if it ends in an expression.
    pub tail: Option<Box<Expr>>,
    /// The whole block including braces.
    pub span: Span,
}

/// A statement.
#[derive(Clone, Debug, PartialEq)]
pub struct Stmt {
    /// What the statement is.
    pub kind: StmtKind,
    /// The whole statement.
    pub span: Span,
}

/// The kinds of statements.
#[derive(Clone, Debug, PartialEq)]
pub enum StmtKind {
    /// `let [mut] pattern [: type] = value;`
    Let(LetStmt),
    /// `param name [: constraint] = init;`
    Param(ParamDecl),
    /// `address ~ dist [by strategy];` or `let pattern = address ~ dist ...;`
    Sample(SampleStmt),
    /// `name = value;` (to a `let mut` variable).
    Assign {
        /// The assigned variable.
        target: Ident,
        /// The new value.
        value: Expr,
    },
    /// `for var in lo..hi { body }`, or `plate var in lo..hi [(subsample
    /// m)] { body }`.
    For {
        /// The loop variable.
        var: Ident,
        /// Inclusive lower bound.
        lo: Expr,
        /// Exclusive upper bound.
        hi: Expr,
        /// The body.
        body: Block,
        /// For a `plate`: its keyword's span and the subsample size.
        plate: Option<Plate>,
    },
    /// An expression evaluated for its effect (`add_cost(w);`, `if ...`).
    Expr(Expr),
}

/// What makes a loop a `plate`: conditionally independent iterations.
#[derive(Clone, Debug, PartialEq)]
pub struct Plate {
    /// The `plate` keyword.
    pub span: Span,
    /// `(subsample m)`: the size of the minibatch drawn per run.
    pub subsample: Option<Expr>,
}

/// `let [mut] pattern [: type] = value;`
#[derive(Clone, Debug, PartialEq)]
pub struct LetStmt {
    /// Whether the binding is `mut`.
    pub mutable: bool,
    /// The bound pattern.
    pub pattern: Pattern,
    /// The annotated type.
    pub ty: Option<TypeExpr>,
    /// The value.
    pub value: Expr,
}

/// `param name [: constraint] = init;`
#[derive(Clone, Debug, PartialEq)]
pub struct ParamDecl {
    /// The parameter's name.
    pub name: Ident,
    /// The constraint/type (`real`, `positive`, `unit_interval`, `real[3]`).
    pub ty: Option<TypeExpr>,
    /// The initial value.
    pub init: Expr,
}

/// A random choice: `address ~ dist [by strategy];`.
#[derive(Clone, Debug, PartialEq)]
pub struct SampleStmt {
    /// `let pattern =` in front of the choice, if any.
    pub bind: Option<Pattern>,
    /// The address the choice is made at.
    pub address: Address,
    /// The distribution or generative-function application.
    pub dist: Expr,
    /// The gradient strategy, if one is given.
    pub strategy: Option<Strategy>,
}

/// An address: a name with optional computed indices, `y[i][j]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    /// The address's name.
    pub name: Ident,
    /// The computed indices.
    pub indices: Vec<Expr>,
    /// The whole address.
    pub span: Span,
}

/// `by name` or `by name(args)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Strategy {
    /// The strategy's name: `reparam`, `reinforce`, `enum`, `mvd`, `implicit`.
    pub name: Ident,
    /// Its arguments, e.g. `baseline = 0.5`.
    pub args: Vec<Arg>,
    /// The whole annotation.
    pub span: Span,
}

/// A binding pattern.
#[derive(Clone, Debug, PartialEq)]
pub enum Pattern {
    /// A name.
    Ident(Ident),
    /// `_`.
    Wildcard(Span),
    /// `(a, b, ...)`.
    Tuple(Vec<Pattern>, Span),
}

impl Pattern {
    /// The span of the whole pattern.
    pub fn span(&self) -> Span {
        match self {
            Pattern::Ident(ident) => ident.span,
            Pattern::Wildcard(span) | Pattern::Tuple(_, span) => *span,
        }
    }
}

/// An expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    /// Unique within the file.
    pub id: ExprId,
    /// What the expression is.
    pub kind: ExprKind,
    /// The whole expression.
    pub span: Span,
}

/// Unary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `!b`
    Not,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `^` (power, right-associative)
    Pow,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `&&`
    And,
    /// `||`
    Or,
}

impl BinaryOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Pow => "^",
            BinaryOp::Eq => "==",
            BinaryOp::Ne => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::And => "&&",
            BinaryOp::Or => "||",
        }
    }
}

/// A call argument, positional or named.
#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `Some(name)` for `name = value`.
    pub name: Option<Ident>,
    /// The argument's value.
    pub value: Expr,
}

/// A named argument `name = value` (in `fit` options).
#[derive(Clone, Debug, PartialEq)]
pub struct NamedArg {
    /// The option's name.
    pub name: Ident,
    /// Its value.
    pub value: Expr,
}

/// The kinds of expressions.
#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    /// A real literal, `1.5`, `1e-3`.
    Real(f64),
    /// An integer literal, `3`.
    Int(i64),
    /// `true` / `false`.
    Bool(bool),
    /// A string literal (an address or a name), without the quotes.
    Str(String),
    /// A variable or function name.
    Var(Ident),
    /// `-e`, `!e`.
    Unary(UnaryOp, Box<Expr>),
    /// `l op r`.
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    /// `callee(args)`.
    Call {
        /// What is called: a function, a generative function, a builtin.
        callee: Box<Expr>,
        /// The arguments.
        args: Vec<Arg>,
    },
    /// `e.name` (a record field or a choice-map address).
    Field(Box<Expr>, Ident),
    /// `e.0` (a tuple component).
    TupleField(Box<Expr>, u32, Span),
    /// `e[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `(a, b, ...)`; `()` is the unit value.
    Tuple(Vec<Expr>),
    /// `[a, b, ...]`.
    Array(Vec<Expr>),
    /// `[for var in lo..hi { body }]`.
    Comprehension {
        /// The loop variable.
        var: Ident,
        /// Inclusive lower bound.
        lo: Box<Expr>,
        /// Exclusive upper bound.
        hi: Box<Expr>,
        /// The body, whose value is collected.
        body: Block,
    },
    /// `{ a: e, b: e }` — a record, which is also a choice map.
    Record(Vec<(Ident, Expr)>),
    /// `if cond { .. } else { .. }`; `else if` nests another `If`.
    If {
        /// The condition.
        cond: Box<Expr>,
        /// The `then` branch.
        then_branch: Block,
        /// The `else` branch (an `if` chain is a block holding an `If`).
        else_branch: Option<Block>,
    },
    /// A block expression.
    Block(Block),
    /// `E { body }`: an expectation.
    Expect(Block),
    /// `sim g(args)`: simulate a generative function.
    Sim(Box<Expr>),
}
