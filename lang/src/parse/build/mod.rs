//! From pest's parse tree to the AST: items, types, statements and
//! patterns here, expressions in [`expr`].
//!
//! The builder walks one successfully parsed item (or REPL entry) and
//! produces AST nodes with byte spans. It relies on the shape the grammar
//! guarantees — `let_stmt` always has a pattern and a value, and so on —
//! and reports only what the grammar cannot check: literals out of range.
//! Expression ids are left at zero here; [`super::numbering`] assigns them
//! once the whole file is built.
//!
//! Three conventions of the tree are decided here:
//! - Parentheses leave no node: `(e)` is `e` with its span widened to cover
//!   the parentheses; `(e,)` is a one-element tuple. The same holds for
//!   patterns (whose span is not widened) and types.
//! - A block's last statement, if it is an expression without a `;`, is
//!   the block's tail expression (the grammar lets an `expr_stmt` omit its
//!   `;` only before the closing brace; a block-like `block_expr_stmt` may
//!   omit it anywhere).
//! - `else if` is an `else` block holding only the nested `if` as its tail.

mod expr;

use pest::iterators::{Pair, Pairs};

use super::grammar::Rule;
use crate::ast::{
    Address, Block, Expr, ExprId, ExprKind, FitStmt, FnParam, FunctionDecl, FunctionKind, Ident,
    Item, ItemKind, LetStmt, ParamDecl, Pattern, Plate, ReportStmt, SampleStmt, Stmt, StmtKind,
    Strategy, TypeExpr, TypeExprKind,
};
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, TokenKind};
use crate::span::{FileId, Span};

/// The code of diagnostics about literals the AST cannot hold.
const LITERAL_OUT_OF_RANGE: &str = "E0002";

/// Keyword tokens that only mark which rule matched; the builder skips
/// them. (`mut_kw` is not among them: its presence is information.)
fn is_marker_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::gen_kw
            | Rule::fn_kw
            | Rule::let_kw
            | Rule::param_kw
            | Rule::fit_kw
            | Rule::report_kw
            | Rule::import_kw
            | Rule::with_kw
            | Rule::by_kw
            | Rule::if_kw
            | Rule::else_kw
            | Rule::for_kw
            | Rule::plate_kw
            | Rule::subsample_kw
            | Rule::in_kw
            | Rule::sim_kw
            | Rule::expect_kw
    )
}

/// The children of a pair that carry information, in source order.
struct Children<'i> {
    pairs: Pairs<'i, Rule>,
    peeked: Option<Pair<'i, Rule>>,
}

fn children(pair: Pair<'_, Rule>) -> Children<'_> {
    Children {
        pairs: pair.into_inner(),
        peeked: None,
    }
}

impl<'i> Iterator for Children<'i> {
    type Item = Pair<'i, Rule>;

    fn next(&mut self) -> Option<Pair<'i, Rule>> {
        if let Some(pair) = self.peeked.take() {
            return Some(pair);
        }
        self.pairs.find(|pair| !is_marker_keyword(pair.as_rule()))
    }
}

impl<'i> Children<'i> {
    /// The next child, which the grammar guarantees to exist.
    fn required(&mut self) -> Pair<'i, Rule> {
        self.next()
            .expect("the grammar guarantees this child; the builder disagrees with it")
    }

    /// The next child if it is a `rule`.
    fn optional(&mut self, rule: Rule) -> Option<Pair<'i, Rule>> {
        let pair = self.next()?;
        if pair.as_rule() == rule {
            Some(pair)
        } else {
            self.peeked = Some(pair);
            None
        }
    }
}

/// The contents of parentheses: one element without a trailing comma —
/// parentheses around an expression, pattern or type — or a tuple.
enum Parenthesized<T> {
    One(T),
    Tuple(Vec<T>),
}

/// Builds AST nodes from the parse tree of one slice of a file.
pub(super) struct Builder {
    file: FileId,
    /// Where the parsed slice starts in the file; pest's offsets are
    /// relative to the slice.
    base: usize,
    /// Literals out of range, in source order.
    pub(super) diagnostics: Vec<Diagnostic>,
}

impl Builder {
    /// A builder for a parse of `file`'s text from byte `base` on.
    pub(super) fn new(file: FileId, base: usize) -> Builder {
        Builder {
            file,
            base,
            diagnostics: Vec::new(),
        }
    }

    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let span = pair.as_span();
        Span::new(self.file, self.base + span.start(), self.base + span.end())
    }

    fn ident(&self, pair: Pair<'_, Rule>) -> Ident {
        Ident {
            name: pair.as_str().to_string(),
            span: self.span(&pair),
        }
    }

    fn expr_node(kind: ExprKind, span: Span) -> Expr {
        Expr {
            id: ExprId(0),
            kind,
            span,
        }
    }

    // ------------------------------------------------------------ items

    /// One top-level item: any rule of the grammar's `item`.
    pub(super) fn item(&mut self, pair: Pair<'_, Rule>) -> Item {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::import_item => ItemKind::Import(self.ident(children(pair).required())),
            Rule::gen_item => ItemKind::Function(self.function(FunctionKind::Gen, pair)),
            Rule::fn_item => ItemKind::Function(self.function(FunctionKind::Fn, pair)),
            Rule::let_stmt => ItemKind::Let(self.let_stmt(pair)),
            Rule::param_stmt => ItemKind::Param(self.param(pair)),
            Rule::fit_item => ItemKind::Fit(self.fit(pair)),
            Rule::report_item => ItemKind::Report(self.report(pair)),
            rule => unreachable!("the grammar has no item {rule:?}"),
        };
        Item { kind, span }
    }

    fn function(&mut self, kind: FunctionKind, pair: Pair<'_, Rule>) -> FunctionDecl {
        let mut parts = children(pair);
        let name = self.ident(parts.required());
        let params = match parts.optional(Rule::param_list) {
            Some(list) => children(list).map(|param| self.fn_param(param)).collect(),
            None => Vec::new(),
        };
        let ret = parts
            .optional(Rule::ret_type)
            .map(|ret| self.type_expr(children(ret).required()));
        let body = self.block(parts.required());
        FunctionDecl {
            kind,
            name,
            params,
            ret,
            body,
        }
    }

    fn fn_param(&mut self, pair: Pair<'_, Rule>) -> FnParam {
        let mut parts = children(pair);
        let name = self.ident(parts.required());
        let ty = parts.next().map(|ty| self.type_expr(ty));
        FnParam { name, ty }
    }

    fn fit(&mut self, pair: Pair<'_, Rule>) -> FitStmt {
        let mut parts = children(pair);
        let objective = self.ident(parts.required());
        let optimizer = self.expr(parts.required());
        let options = parts.map(|option| self.named_arg(option)).collect();
        FitStmt {
            objective,
            optimizer,
            options,
        }
    }

    fn report(&mut self, pair: Pair<'_, Rule>) -> ReportStmt {
        let mut parts = children(pair);
        let name_pair = parts.required();
        let name = match name_pair.as_rule() {
            // A quoted name: the identifier is the text between the quotes,
            // its span the whole string token.
            Rule::string => Ident {
                name: string_content(name_pair.as_str()).to_string(),
                span: self.span(&name_pair),
            },
            _ => self.ident(name_pair),
        };
        let value = self.expr(parts.required());
        ReportStmt { name, value }
    }

    // ------------------------------------------------------------ types

    fn type_expr(&mut self, pair: Pair<'_, Rule>) -> TypeExpr {
        // `type_expr` wraps exactly one of the three shapes.
        let span = self.span(&pair);
        let shape = match pair.as_rule() {
            Rule::type_expr => children(pair).required(),
            _ => pair,
        };
        match shape.as_rule() {
            Rule::named_type => self.named_type(shape),
            Rule::tuple_type => match self.parenthesized(shape, Builder::type_expr) {
                Parenthesized::One(inner) => TypeExpr { span, ..inner },
                Parenthesized::Tuple(types) => TypeExpr {
                    kind: TypeExprKind::Tuple(types),
                    span,
                },
            },
            Rule::record_type => {
                let fields = children(shape)
                    .map(|field| {
                        let mut parts = children(field);
                        let name = self.ident(parts.required());
                        let ty = self.type_expr(parts.required());
                        (name, ty)
                    })
                    .collect();
                TypeExpr {
                    kind: TypeExprKind::Record(fields),
                    span,
                }
            }
            rule => unreachable!("the grammar has no type {rule:?}"),
        }
    }

    fn named_type(&mut self, pair: Pair<'_, Rule>) -> TypeExpr {
        let span = self.span(&pair);
        let mut parts = children(pair);
        let name = self.ident(parts.required());
        let dims = parts
            .map(|dim| match dim.as_str().parse::<u64>() {
                Ok(dim) => dim,
                Err(_) => {
                    self.out_of_range("this dimension is too large", &dim);
                    0
                }
            })
            .collect();
        TypeExpr {
            kind: TypeExprKind::Named { name, dims },
            span,
        }
    }

    // ------------------------------------------------------------ statements

    fn block(&mut self, pair: Pair<'_, Rule>) -> Block {
        let span = self.span(&pair);
        let parts: Vec<Pair<'_, Rule>> = children(pair).collect();
        let count = parts.len();
        let mut stmts = Vec::new();
        let mut tail = None;
        for (index, part) in parts.into_iter().enumerate() {
            let is_last = index + 1 == count;
            let is_value = matches!(part.as_rule(), Rule::expr_stmt | Rule::block_expr_stmt)
                && is_last
                && !has_semi(&part);
            if is_value {
                tail = Some(Box::new(self.statement_expr(part)));
            } else {
                stmts.extend(self.stmt(part));
            }
        }
        Block { stmts, tail, span }
    }

    /// One statement; `None` for an empty statement `;`.
    fn stmt(&mut self, pair: Pair<'_, Rule>) -> Option<Stmt> {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::let_sample_stmt => {
                let mut parts = children(pair);
                let bind = Some(self.pattern(parts.required()));
                StmtKind::Sample(self.sample(bind, parts))
            }
            Rule::sample_stmt => StmtKind::Sample(self.sample(None, children(pair))),
            Rule::let_stmt => StmtKind::Let(self.let_stmt(pair)),
            Rule::param_stmt => StmtKind::Param(self.param(pair)),
            Rule::assign_stmt => {
                let mut parts = children(pair);
                let target = self.ident(parts.required());
                let value = self.expr(parts.required());
                StmtKind::Assign { target, value }
            }
            Rule::for_stmt => {
                let mut parts = children(pair);
                let var = self.ident(parts.required());
                let lo = self.expr(parts.required());
                let hi = self.expr(parts.required());
                let body = self.block(parts.required());
                StmtKind::For {
                    var,
                    lo,
                    hi,
                    body,
                    plate: None,
                }
            }
            Rule::plate_stmt => {
                let whole = self.span(&pair);
                let keyword = Span::new(
                    whole.file,
                    whole.start as usize,
                    whole.start as usize + "plate".len(),
                );
                let mut parts = children(pair);
                let var = self.ident(parts.required());
                let lo = self.expr(parts.required());
                let hi = self.expr(parts.required());
                let next = parts.required();
                let (subsample, block) = if next.as_rule() == Rule::subsample {
                    let m = self.expr(children(next).required());
                    (Some(m), parts.required())
                } else {
                    (None, next)
                };
                let body = self.block(block);
                StmtKind::For {
                    var,
                    lo,
                    hi,
                    body,
                    plate: Some(Plate {
                        span: keyword,
                        subsample,
                    }),
                }
            }
            Rule::block_expr_stmt | Rule::expr_stmt => StmtKind::Expr(self.statement_expr(pair)),
            Rule::empty_stmt => return None,
            rule => unreachable!("the grammar has no statement {rule:?}"),
        };
        Some(Stmt { kind, span })
    }

    /// The rest of a sample statement after its optional `let pattern =`.
    fn sample(&mut self, bind: Option<Pattern>, mut parts: Children<'_>) -> SampleStmt {
        let address = self.address(parts.required());
        let dist = self.expr(parts.required());
        let strategy = parts.next().map(|strategy| self.strategy(strategy));
        SampleStmt {
            bind,
            address,
            dist,
            strategy,
        }
    }

    fn address(&mut self, pair: Pair<'_, Rule>) -> Address {
        let span = self.span(&pair);
        let mut parts = children(pair);
        let name = self.ident(parts.required());
        let indices = parts.map(|index| self.expr(index)).collect();
        Address {
            name,
            indices,
            span,
        }
    }

    fn strategy(&mut self, pair: Pair<'_, Rule>) -> Strategy {
        let span = self.span(&pair);
        let mut parts = children(pair);
        let name = self.ident(parts.required());
        let args = match parts.next() {
            Some(list) => self.args(list),
            None => Vec::new(),
        };
        Strategy { name, args, span }
    }

    fn let_stmt(&mut self, pair: Pair<'_, Rule>) -> LetStmt {
        let mut parts = children(pair);
        let mutable = parts.optional(Rule::mut_kw).is_some();
        let pattern = self.pattern(parts.required());
        let ty = parts.optional(Rule::type_expr).map(|ty| self.type_expr(ty));
        let value = self.expr(parts.required());
        LetStmt {
            mutable,
            pattern,
            ty,
            value,
        }
    }

    fn param(&mut self, pair: Pair<'_, Rule>) -> ParamDecl {
        let mut parts = children(pair);
        let name = self.ident(parts.required());
        let ty = parts
            .optional(Rule::named_type)
            .map(|ty| self.named_type(ty));
        let init = self.expr(parts.required());
        ParamDecl { name, ty, init }
    }

    fn pattern(&mut self, pair: Pair<'_, Rule>) -> Pattern {
        let shape = match pair.as_rule() {
            Rule::pattern => children(pair).required(),
            _ => pair,
        };
        match shape.as_rule() {
            Rule::wildcard => Pattern::Wildcard(self.span(&shape)),
            Rule::ident => Pattern::Ident(self.ident(shape)),
            Rule::tuple_pattern => {
                let span = self.span(&shape);
                match self.parenthesized(shape, Builder::pattern) {
                    Parenthesized::One(inner) => inner,
                    Parenthesized::Tuple(patterns) => Pattern::Tuple(patterns, span),
                }
            }
            rule => unreachable!("the grammar has no pattern {rule:?}"),
        }
    }

    /// The elements of a parenthesized list `pair` (a `tuple_type`,
    /// `tuple_pattern` or `paren_or_tuple`), each built by `element`.
    fn parenthesized<'i, T>(
        &mut self,
        pair: Pair<'i, Rule>,
        mut element: impl FnMut(&mut Builder, Pair<'i, Rule>) -> T,
    ) -> Parenthesized<T> {
        let text = pair.as_str();
        let start = pair.as_span().start();
        let parts: Vec<Pair<'i, Rule>> = children(pair).collect();
        // What follows the only element, up to the closing parenthesis, may
        // hold comments as well as the comma; hence the lexer.
        let is_one = match parts.as_slice() {
            [only] => !lexer::tokens(&text[only.as_span().end() - start..])
                .iter()
                .any(|(kind, _)| *kind == TokenKind::Punct(',')),
            _ => false,
        };
        let mut elements: Vec<T> = parts.into_iter().map(|part| element(self, part)).collect();
        match elements.pop() {
            Some(only) if is_one => Parenthesized::One(only),
            last => {
                elements.extend(last);
                Parenthesized::Tuple(elements)
            }
        }
    }

    fn out_of_range(&mut self, message: &str, pair: &Pair<'_, Rule>) {
        self.diagnostics.push(Diagnostic::error(
            LITERAL_OUT_OF_RANGE,
            message,
            self.span(pair),
        ));
    }
}

/// Whether an `expr_stmt` or a `block_expr_stmt` ends in a `;`.
fn has_semi(pair: &Pair<'_, Rule>) -> bool {
    pair.clone()
        .into_inner()
        .any(|part| part.as_rule() == Rule::semi)
}

/// The text of a string literal between its quotes. Strings have no escape
/// sequences: the grammar admits any character but `"` and a newline.
fn string_content(literal: &str) -> &str {
    literal
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(literal)
}
