//! Expression ids in source order.
//!
//! The builder creates expressions bottom-up (an operator's operands exist
//! before the operator), so it cannot hand out ids in source order. This
//! pass walks the finished tree in pre-order — a node before its children,
//! children left to right — and numbers every expression from 0. Ids then
//! increase with the start of the expression's span, a parent before its
//! first child.

use crate::ast::{Arg, Block, Expr, ExprId, ExprKind, Item, ItemKind, Stmt, StmtKind};

/// Numbers the expressions of `items` from 0 in source order.
pub(super) fn number_items(items: &mut [Item]) {
    let mut next = 0;
    for item in items {
        number_item(item, &mut next);
    }
}

/// Numbers the expressions of one expression from 0 in source order.
pub(super) fn number_expr_tree(expr: &mut Expr) {
    number_expr(expr, &mut 0);
}

fn number_item(item: &mut Item, next: &mut u32) {
    match &mut item.kind {
        ItemKind::Import(_) => {}
        ItemKind::Function(function) => number_block(&mut function.body, next),
        ItemKind::Let(let_stmt) => number_expr(&mut let_stmt.value, next),
        ItemKind::Param(param) => number_expr(&mut param.init, next),
        ItemKind::Fit(fit) => {
            number_expr(&mut fit.optimizer, next);
            for option in &mut fit.options {
                number_expr(&mut option.value, next);
            }
        }
        ItemKind::Report(report) => number_expr(&mut report.value, next),
    }
}

fn number_block(block: &mut Block, next: &mut u32) {
    for stmt in &mut block.stmts {
        number_stmt(stmt, next);
    }
    if let Some(tail) = &mut block.tail {
        number_expr(tail, next);
    }
}

fn number_stmt(stmt: &mut Stmt, next: &mut u32) {
    match &mut stmt.kind {
        StmtKind::Let(let_stmt) => number_expr(&mut let_stmt.value, next),
        StmtKind::Param(param) => number_expr(&mut param.init, next),
        StmtKind::Sample(sample) => {
            for index in &mut sample.address.indices {
                number_expr(index, next);
            }
            number_expr(&mut sample.dist, next);
            if let Some(strategy) = &mut sample.strategy {
                number_args(&mut strategy.args, next);
            }
        }
        StmtKind::Assign { value, .. } => number_expr(value, next),
        StmtKind::For {
            lo,
            hi,
            body,
            plate,
            ..
        } => {
            number_expr(lo, next);
            number_expr(hi, next);
            if let Some(m) = plate.as_mut().and_then(|p| p.subsample.as_mut()) {
                number_expr(m, next);
            }
            number_block(body, next);
        }
        StmtKind::Expr(expr) => number_expr(expr, next),
    }
}

fn number_args(args: &mut [Arg], next: &mut u32) {
    for arg in args {
        number_expr(&mut arg.value, next);
    }
}

fn number_expr(expr: &mut Expr, next: &mut u32) {
    expr.id = ExprId(*next);
    *next += 1;
    match &mut expr.kind {
        ExprKind::Real(_)
        | ExprKind::Int(_)
        | ExprKind::Bool(_)
        | ExprKind::Str(_)
        | ExprKind::Var(_) => {}
        ExprKind::Unary(_, operand) => number_expr(operand, next),
        ExprKind::Binary(_, lhs, rhs) | ExprKind::Index(lhs, rhs) => {
            number_expr(lhs, next);
            number_expr(rhs, next);
        }
        ExprKind::Call { callee, args } => {
            number_expr(callee, next);
            number_args(args, next);
        }
        ExprKind::Field(inner, _) | ExprKind::TupleField(inner, _, _) | ExprKind::Sim(inner) => {
            number_expr(inner, next)
        }
        ExprKind::Tuple(elements) | ExprKind::Array(elements) => {
            for element in elements {
                number_expr(element, next);
            }
        }
        ExprKind::Comprehension { lo, hi, body, .. } => {
            number_expr(lo, next);
            number_expr(hi, next);
            number_block(body, next);
        }
        ExprKind::Record(fields) => {
            for (_, value) in fields {
                number_expr(value, next);
            }
        }
        ExprKind::If {
            cond,
            then_branch,
            else_branch,
        } => {
            number_expr(cond, next);
            number_block(then_branch, next);
            if let Some(else_branch) = else_branch {
                number_block(else_branch, next);
            }
        }
        ExprKind::Block(block) | ExprKind::Expect(block) => number_block(block, next),
    }
}
