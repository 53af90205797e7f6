//! Expressions: operators by precedence, postfix operators, primaries.

use std::sync::LazyLock;

use pest::iterators::Pair;
use pest::pratt_parser::{Assoc, Op, PrattParser};

use super::{Builder, Parenthesized, children, string_content};
use crate::ast::{Arg, BinaryOp, Block, Expr, ExprKind, NamedArg, UnaryOp};
use crate::parse::grammar::Rule;
use crate::span::Span;

/// Operator precedence, lowest first. Prefix `-` and `!` bind looser than
/// `^`, so `-x^2` is `-(x^2)`; `^` is right-associative and its right
/// operand may itself start with a prefix operator, so `2^-1` parses.
/// Postfix operators (calls, fields, indexing) are not in this table: the
/// grammar already groups them with their operand in `postfix_expr`.
static PRATT: LazyLock<PrattParser<Rule>> = LazyLock::new(|| {
    PrattParser::new()
        .op(Op::infix(Rule::or_op, Assoc::Left))
        .op(Op::infix(Rule::and_op, Assoc::Left))
        .op(Op::infix(Rule::eq_op, Assoc::Left)
            | Op::infix(Rule::ne_op, Assoc::Left)
            | Op::infix(Rule::lt_op, Assoc::Left)
            | Op::infix(Rule::le_op, Assoc::Left)
            | Op::infix(Rule::gt_op, Assoc::Left)
            | Op::infix(Rule::ge_op, Assoc::Left))
        .op(Op::infix(Rule::add_op, Assoc::Left) | Op::infix(Rule::sub_op, Assoc::Left))
        .op(Op::infix(Rule::mul_op, Assoc::Left) | Op::infix(Rule::div_op, Assoc::Left))
        .op(Op::prefix(Rule::neg_op) | Op::prefix(Rule::not_op))
        .op(Op::infix(Rule::pow_op, Assoc::Right))
});

/// The binary operator an operator rule stands for.
fn binary_op(rule: Rule) -> BinaryOp {
    match rule {
        Rule::or_op => BinaryOp::Or,
        Rule::and_op => BinaryOp::And,
        Rule::eq_op => BinaryOp::Eq,
        Rule::ne_op => BinaryOp::Ne,
        Rule::lt_op => BinaryOp::Lt,
        Rule::le_op => BinaryOp::Le,
        Rule::gt_op => BinaryOp::Gt,
        Rule::ge_op => BinaryOp::Ge,
        Rule::add_op => BinaryOp::Add,
        Rule::sub_op => BinaryOp::Sub,
        Rule::mul_op => BinaryOp::Mul,
        Rule::div_op => BinaryOp::Div,
        Rule::pow_op => BinaryOp::Pow,
        rule => unreachable!("the Pratt table has no infix operator {rule:?}"),
    }
}

impl Builder {
    /// An `expr`: operands and operators, grouped by [`PRATT`].
    pub(in crate::parse) fn expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        self.operators(pair.into_inner(), None)
    }

    /// Groups a sequence of operands (`postfix_expr`s) and prefix and
    /// binary operators by precedence. If `first` is given, the sequence's
    /// first operand is some other pair, which `first` stands for.
    fn operators<'i>(
        &mut self,
        pairs: impl Iterator<Item = Pair<'i, Rule>>,
        mut first: Option<Expr>,
    ) -> Expr {
        let (file, base) = (self.file, self.base);
        PRATT
            .map_primary(|operand| match first.take() {
                Some(first) => first,
                None => self.postfix_expr(operand),
            })
            .map_prefix(|op, operand| {
                let op_start = base + op.as_span().start();
                let span = Span::new(file, op_start, operand.span.end as usize);
                let op = match op.as_rule() {
                    Rule::neg_op => UnaryOp::Neg,
                    _ => UnaryOp::Not,
                };
                Builder::expr_node(ExprKind::Unary(op, Box::new(operand)), span)
            })
            .map_infix(|lhs, op, rhs| {
                let span = lhs.span.to(rhs.span);
                let kind = ExprKind::Binary(binary_op(op.as_rule()), Box::new(lhs), Box::new(rhs));
                Builder::expr_node(kind, span)
            })
            .parse(pairs)
    }

    /// A primary expression followed by calls, fields and indices.
    fn postfix_expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let mut parts = children(pair);
        let primary = self.primary(parts.required());
        parts.fold(primary, |expr, suffix| self.suffix(expr, suffix))
    }

    /// The expression of an `expr_stmt` or a `block_expr_stmt`.
    pub(super) fn statement_expr(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let mut parts = children(pair);
        let head = parts.required();
        if head.as_rule() == Rule::expr {
            return self.expr(head);
        }
        match parts.optional(Rule::block_expr_tail) {
            Some(tail) => self.continued_expr(head, tail),
            None => self.primary(head),
        }
    }

    /// A block-like statement continued as an expression: `head` is the
    /// `if`, block or `E { }`, `tail` its `block_expr_tail` — postfix
    /// operators on `head`, then binary operators and operands as in `expr`.
    fn continued_expr(&mut self, head: Pair<'_, Rule>, tail: Pair<'_, Rule>) -> Expr {
        let mut rest = tail.into_inner().peekable();
        let mut first = self.primary(head.clone());
        while let Some(suffix) = rest.next_if(|pair| is_suffix(pair.as_rule())) {
            first = self.suffix(first, suffix);
        }
        self.operators(std::iter::once(head).chain(rest), Some(first))
    }

    /// `expr` with one postfix operator applied.
    fn suffix(&mut self, expr: Expr, suffix: Pair<'_, Rule>) -> Expr {
        let span = Span::new(
            self.file,
            expr.span.start as usize,
            self.base + suffix.as_span().end(),
        );
        let kind = match suffix.as_rule() {
            Rule::call_suffix => {
                let args = match children(suffix).next() {
                    Some(list) => self.args(list),
                    None => Vec::new(),
                };
                ExprKind::Call {
                    callee: Box::new(expr),
                    args,
                }
            }
            Rule::field_suffix => {
                ExprKind::Field(Box::new(expr), self.ident(children(suffix).required()))
            }
            Rule::tuple_field_suffix => {
                let index = children(suffix).required();
                let position = match index.as_str().parse::<u32>() {
                    Ok(position) => position,
                    Err(_) => {
                        self.out_of_range("this tuple index is too large", &index);
                        0
                    }
                };
                ExprKind::TupleField(Box::new(expr), position, self.span(&index))
            }
            Rule::index_suffix => {
                let index = self.expr(children(suffix).required());
                ExprKind::Index(Box::new(expr), Box::new(index))
            }
            rule => unreachable!("the grammar has no postfix operator {rule:?}"),
        };
        Builder::expr_node(kind, span)
    }

    pub(super) fn args(&mut self, list: Pair<'_, Rule>) -> Vec<Arg> {
        children(list)
            .map(|arg| match arg.as_rule() {
                Rule::named_arg => {
                    let NamedArg { name, value } = self.named_arg(arg);
                    Arg {
                        name: Some(name),
                        value,
                    }
                }
                _ => Arg {
                    name: None,
                    value: self.expr(arg),
                },
            })
            .collect()
    }

    pub(super) fn named_arg(&mut self, pair: Pair<'_, Rule>) -> NamedArg {
        let mut parts = children(pair);
        let name = self.ident(parts.required());
        let value = self.expr(parts.required());
        NamedArg { name, value }
    }

    /// Any alternative of the grammar's (silent) `primary` rule.
    pub(super) fn primary(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        let kind = match pair.as_rule() {
            Rule::float_lit => match pair.as_str().parse::<f64>() {
                Ok(value) if value.is_finite() => ExprKind::Real(value),
                _ => {
                    self.out_of_range("this real literal is out of range", &pair);
                    ExprKind::Real(0.0)
                }
            },
            Rule::int_lit => match pair.as_str().parse::<i64>() {
                Ok(value) => ExprKind::Int(value),
                Err(_) => {
                    self.out_of_range("this integer literal does not fit in 64 bits", &pair);
                    ExprKind::Int(0)
                }
            },
            Rule::bool_lit => ExprKind::Bool(pair.as_str() == "true"),
            Rule::string => ExprKind::Str(string_content(pair.as_str()).to_string()),
            Rule::ident => ExprKind::Var(self.ident(pair)),
            Rule::if_expr => self.if_expr(pair),
            Rule::expect_expr => ExprKind::Expect(self.block(children(pair).required())),
            Rule::sim_expr => ExprKind::Sim(Box::new(self.postfix_expr(children(pair).required()))),
            Rule::comprehension => {
                let mut parts = children(pair);
                let var = self.ident(parts.required());
                let lo = Box::new(self.expr(parts.required()));
                let hi = Box::new(self.expr(parts.required()));
                let body = self.block(parts.required());
                ExprKind::Comprehension { var, lo, hi, body }
            }
            Rule::array_lit => {
                ExprKind::Array(children(pair).map(|element| self.expr(element)).collect())
            }
            Rule::record_lit => ExprKind::Record(
                children(pair)
                    .map(|field| {
                        let mut parts = children(field);
                        let name = self.ident(parts.required());
                        let value = self.expr(parts.required());
                        (name, value)
                    })
                    .collect(),
            ),
            Rule::block => ExprKind::Block(self.block(pair)),
            Rule::paren_or_tuple => return self.paren_or_tuple(pair),
            rule => unreachable!("the grammar has no primary expression {rule:?}"),
        };
        Builder::expr_node(kind, span)
    }

    fn if_expr(&mut self, pair: Pair<'_, Rule>) -> ExprKind {
        let mut parts = children(pair);
        let cond = Box::new(self.expr(parts.required()));
        let then_branch = self.block(parts.required());
        let else_branch = parts.next().map(|branch| match branch.as_rule() {
            Rule::if_expr => {
                let nested = self.primary(branch);
                Block {
                    stmts: Vec::new(),
                    span: nested.span,
                    tail: Some(Box::new(nested)),
                }
            }
            _ => self.block(branch),
        });
        ExprKind::If {
            cond,
            then_branch,
            else_branch,
        }
    }

    /// `()`, `(e)` (which is `e`, its span widened to the parentheses) and
    /// tuples `(e,)`, `(a, b)`.
    fn paren_or_tuple(&mut self, pair: Pair<'_, Rule>) -> Expr {
        let span = self.span(&pair);
        match self.parenthesized(pair, Builder::expr) {
            Parenthesized::One(inner) => Expr { span, ..inner },
            Parenthesized::Tuple(exprs) => Builder::expr_node(ExprKind::Tuple(exprs), span),
        }
    }
}

/// Whether `rule` is a postfix operator: a call, field or index.
fn is_suffix(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::call_suffix | Rule::tuple_field_suffix | Rule::field_suffix | Rule::index_suffix
    )
}
