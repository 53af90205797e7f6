//! A compact, deterministic rendering of the AST, for snapshot tests.
//!
//! Every node prints as a parenthesized S-expression headed by what it is,
//! with no spans and no ids, so a test shows exactly how the parser grouped
//! the source:
//!
//! ```text
//! (gen cone ()
//!   (block
//!     (sample x (call normal 0.0 10.0))
//!     (let r (+ (* x x) (* y y)))))
//! ```
//!
//! Blocks put each statement on its own line, indented; everything else
//! stays on one line. A block's tail expression is its last line, printed
//! bare, while an expression statement prints as `(expr e)`. Reals print
//! with `{:?}`, so `1.0` stays `1.0` and `1e-3` becomes `0.001`.

use crate::ast::{
    Address, Arg, Block, Expr, ExprKind, FunctionKind, Item, ItemKind, LetStmt, ParamDecl, Pattern,
    SourceFile, Stmt, StmtKind, Strategy, TypeExpr, TypeExprKind, UnaryOp,
};

/// Prints every item of `file`, one per line (blocks add lines).
pub fn print_file(file: &SourceFile) -> String {
    let mut printer = Printer::default();
    for item in &file.items {
        printer.item(item);
        printer.out.push('\n');
    }
    printer.out
}

/// Prints one expression.
pub fn print_expr(expr: &Expr) -> String {
    let mut printer = Printer::default();
    printer.expr(expr);
    printer.out
}

#[derive(Default)]
struct Printer {
    out: String,
    /// The indentation of the line being printed, in spaces.
    indent: usize,
}

impl Printer {
    fn text(&mut self, text: &str) {
        self.out.push_str(text);
    }

    fn item(&mut self, item: &Item) {
        match &item.kind {
            ItemKind::Import(name) => {
                self.text("(import ");
                self.text(&name.name);
                self.text(")");
            }
            ItemKind::Function(function) => {
                self.text(match function.kind {
                    FunctionKind::Gen => "(gen ",
                    FunctionKind::Fn => "(fn ",
                });
                self.text(&function.name.name);
                self.text(" (");
                for (index, param) in function.params.iter().enumerate() {
                    if index > 0 {
                        self.text(" ");
                    }
                    match &param.ty {
                        Some(ty) => {
                            self.text("(");
                            self.text(&param.name.name);
                            self.text(" ");
                            self.type_expr(ty);
                            self.text(")");
                        }
                        None => self.text(&param.name.name),
                    }
                }
                self.text(")");
                if let Some(ret) = &function.ret {
                    self.text(" (-> ");
                    self.type_expr(ret);
                    self.text(")");
                }
                self.text(" ");
                self.block(&function.body);
                self.text(")");
            }
            ItemKind::Let(let_stmt) => self.let_stmt(let_stmt),
            ItemKind::Param(param) => self.param(param),
            ItemKind::Fit(fit) => {
                self.text("(fit ");
                self.text(&fit.objective.name);
                self.text(" ");
                self.expr(&fit.optimizer);
                for option in &fit.options {
                    self.text(" ");
                    self.named(&option.name.name, &option.value);
                }
                self.text(")");
            }
            ItemKind::Report(report) => {
                self.text("(report ");
                self.text(&report.name.name);
                self.text(" ");
                self.expr(&report.value);
                self.text(")");
            }
        }
    }

    fn let_stmt(&mut self, let_stmt: &LetStmt) {
        self.text(if let_stmt.mutable {
            "(let mut "
        } else {
            "(let "
        });
        self.pattern(&let_stmt.pattern);
        self.annotation(let_stmt.ty.as_ref());
        self.text(" ");
        self.expr(&let_stmt.value);
        self.text(")");
    }

    fn param(&mut self, param: &ParamDecl) {
        self.text("(param ");
        self.text(&param.name.name);
        self.annotation(param.ty.as_ref());
        self.text(" ");
        self.expr(&param.init);
        self.text(")");
    }

    /// ` (: type)` for an annotated binding.
    fn annotation(&mut self, ty: Option<&TypeExpr>) {
        if let Some(ty) = ty {
            self.text(" (: ");
            self.type_expr(ty);
            self.text(")");
        }
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        match &ty.kind {
            TypeExprKind::Named { name, dims } if dims.is_empty() => self.text(&name.name),
            TypeExprKind::Named { name, dims } => {
                self.text("(");
                self.text(&name.name);
                for dim in dims {
                    self.text(&format!(" {dim}"));
                }
                self.text(")");
            }
            TypeExprKind::Tuple(elements) => {
                self.text("(tuple");
                for element in elements {
                    self.text(" ");
                    self.type_expr(element);
                }
                self.text(")");
            }
            TypeExprKind::Record(fields) => {
                self.text("(record");
                for (name, field_ty) in fields {
                    self.text(" (");
                    self.text(&name.name);
                    self.text(" ");
                    self.type_expr(field_ty);
                    self.text(")");
                }
                self.text(")");
            }
        }
    }

    fn pattern(&mut self, pattern: &Pattern) {
        match pattern {
            Pattern::Ident(name) => self.text(&name.name),
            Pattern::Wildcard(_) => self.text("_"),
            Pattern::Tuple(elements, _) => {
                self.text("(tuple");
                for element in elements {
                    self.text(" ");
                    self.pattern(element);
                }
                self.text(")");
            }
        }
    }

    /// `(block` with each statement and the tail on lines of their own.
    fn block(&mut self, block: &Block) {
        self.text("(block");
        self.indent += 2;
        for stmt in &block.stmts {
            self.newline();
            self.stmt(stmt);
        }
        if let Some(tail) = &block.tail {
            self.newline();
            self.expr(tail);
        }
        self.indent -= 2;
        self.text(")");
    }

    fn newline(&mut self) {
        self.out.push('\n');
        for _ in 0..self.indent {
            self.out.push(' ');
        }
    }

    fn stmt(&mut self, stmt: &Stmt) {
        match &stmt.kind {
            StmtKind::Let(let_stmt) => self.let_stmt(let_stmt),
            StmtKind::Param(param) => self.param(param),
            StmtKind::Sample(sample) => {
                match &sample.bind {
                    Some(pattern) => {
                        self.text("(let-sample ");
                        self.pattern(pattern);
                        self.text(" ");
                    }
                    None => self.text("(sample "),
                }
                self.address(&sample.address);
                self.text(" ");
                self.expr(&sample.dist);
                if let Some(strategy) = &sample.strategy {
                    self.text(" ");
                    self.strategy(strategy);
                }
                self.text(")");
            }
            StmtKind::Assign { target, value } => {
                self.text("(assign ");
                self.text(&target.name);
                self.text(" ");
                self.expr(value);
                self.text(")");
            }
            StmtKind::For {
                var,
                lo,
                hi,
                body,
                plate,
            } => {
                self.text(if plate.is_some() { "(plate " } else { "(for " });
                self.text(&var.name);
                self.text(" ");
                self.expr(lo);
                self.text(" ");
                self.expr(hi);
                self.text(" ");
                if let Some(m) = plate.as_ref().and_then(|p| p.subsample.as_ref()) {
                    self.text("(subsample ");
                    self.expr(m);
                    self.text(") ");
                }
                self.block(body);
                self.text(")");
            }
            StmtKind::Expr(expr) => {
                self.text("(expr ");
                self.expr(expr);
                self.text(")");
            }
        }
    }

    /// `x`, or `(addr y i j)` for `y[i][j]`.
    fn address(&mut self, address: &Address) {
        if address.indices.is_empty() {
            self.text(&address.name.name);
            return;
        }
        self.text("(addr ");
        self.text(&address.name.name);
        for index in &address.indices {
            self.text(" ");
            self.expr(index);
        }
        self.text(")");
    }

    fn strategy(&mut self, strategy: &Strategy) {
        self.text("(by ");
        self.text(&strategy.name.name);
        self.args(&strategy.args);
        self.text(")");
    }

    /// The arguments, each preceded by a space.
    fn args(&mut self, args: &[Arg]) {
        for arg in args {
            self.text(" ");
            match &arg.name {
                Some(name) => self.named(&name.name, &arg.value),
                None => self.expr(&arg.value),
            }
        }
    }

    /// `(= name value)`.
    fn named(&mut self, name: &str, value: &Expr) {
        self.text("(= ");
        self.text(name);
        self.text(" ");
        self.expr(value);
        self.text(")");
    }

    /// `(head e1 e2 ...)`.
    fn list(&mut self, head: &str, elements: &[Expr]) {
        self.text("(");
        self.text(head);
        for element in elements {
            self.text(" ");
            self.expr(element);
        }
        self.text(")");
    }

    fn expr(&mut self, expr: &Expr) {
        match &expr.kind {
            ExprKind::Real(value) => self.text(&format!("{value:?}")),
            ExprKind::Int(value) => self.text(&value.to_string()),
            ExprKind::Bool(value) => self.text(&value.to_string()),
            ExprKind::Str(value) => self.text(&format!("\"{value}\"")),
            ExprKind::Var(name) => self.text(&name.name),
            ExprKind::Unary(op, operand) => {
                self.text(match op {
                    UnaryOp::Neg => "(- ",
                    UnaryOp::Not => "(! ",
                });
                self.expr(operand);
                self.text(")");
            }
            ExprKind::Binary(op, lhs, rhs) => {
                self.text("(");
                self.text(op.symbol());
                self.text(" ");
                self.expr(lhs);
                self.text(" ");
                self.expr(rhs);
                self.text(")");
            }
            ExprKind::Call { callee, args } => {
                self.text("(call ");
                self.expr(callee);
                self.args(args);
                self.text(")");
            }
            ExprKind::Field(inner, name) => {
                self.text("(. ");
                self.expr(inner);
                self.text(" ");
                self.text(&name.name);
                self.text(")");
            }
            ExprKind::TupleField(inner, position, _) => {
                self.text("(. ");
                self.expr(inner);
                self.text(&format!(" {position})"));
            }
            ExprKind::Index(inner, index) => {
                self.text("(index ");
                self.expr(inner);
                self.text(" ");
                self.expr(index);
                self.text(")");
            }
            ExprKind::Tuple(elements) => self.list("tuple", elements),
            ExprKind::Array(elements) => self.list("array", elements),
            ExprKind::Comprehension { var, lo, hi, body } => {
                self.text("(comprehension ");
                self.text(&var.name);
                self.text(" ");
                self.expr(lo);
                self.text(" ");
                self.expr(hi);
                self.text(" ");
                self.block(body);
                self.text(")");
            }
            ExprKind::Record(fields) => {
                self.text("(record");
                for (name, value) in fields {
                    self.text(" (");
                    self.text(&name.name);
                    self.text(" ");
                    self.expr(value);
                    self.text(")");
                }
                self.text(")");
            }
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => {
                self.text("(if ");
                self.expr(cond);
                self.text(" ");
                self.block(then_branch);
                if let Some(else_branch) = else_branch {
                    self.text(" ");
                    self.block(else_branch);
                }
                self.text(")");
            }
            ExprKind::Block(block) => self.block(block),
            ExprKind::Expect(block) => {
                self.text("(E ");
                self.block(block);
                self.text(")");
            }
            ExprKind::Sim(inner) => {
                self.text("(sim ");
                self.expr(inner);
                self.text(")");
            }
        }
    }
}
