//! Parser tests: source in, printed AST or diagnostics out.
//!
//! Refresh the expectations with `UPDATE_EXPECT=1 cargo test -p vprog-lang`.

use expect_test::{Expect, expect};
use vprog_lang::ast::{ExprKind, ItemKind, StmtKind};
use vprog_lang::parse::{ReplEntry, parse_file, parse_repl_entry};
use vprog_lang::print::{print_expr, print_file};
use vprog_lang::{Diagnostic, FileId};

/// Parses `src` as a file and compares the printed items, then one line
/// per diagnostic (code, span, spanned text, message), with `expect`.
fn check(src: &str, expect: Expect) {
    let (file, diagnostics) = parse_file(FileId(0), src);
    let mut out = print_file(&file);
    push_diagnostics(&mut out, src, &diagnostics);
    expect.assert_eq(&out);
}

/// Parses `src` as a REPL entry and compares what it is (items or an
/// expression, printed) and its diagnostics with `expect`.
fn check_repl(src: &str, expect: Expect) {
    let (entry, diagnostics) = parse_repl_entry(FileId(0), src);
    let mut out = match entry {
        Some(ReplEntry::Items(items)) => {
            let file = vprog_lang::ast::SourceFile { items };
            format!("items\n{}", print_file(&file))
        }
        Some(ReplEntry::Expr(expr)) => format!("expr {}\n", print_expr(&expr)),
        None => "nothing\n".to_string(),
    };
    push_diagnostics(&mut out, src, &diagnostics);
    expect.assert_eq(&out);
}

fn push_diagnostics(out: &mut String, src: &str, diagnostics: &[Diagnostic]) {
    for diagnostic in diagnostics {
        let span = diagnostic.span;
        out.push_str(&format!(
            "{} {}..{} `{}`: {}\n",
            diagnostic.code,
            span.start,
            span.end,
            &src[span.range()],
            diagnostic.message
        ));
    }
}

/// The program of the language's overview, with every kind of item.
const REPRESENTATIVE: &str = include_str!("data/representative.vprog");

#[test]
fn representative_program() {
    check(
        REPRESENTATIVE,
        expect![[r#"
            (import objectives)
            (gen cone () (block
              (sample x (call normal 0.0 10.0))
              (sample y (call normal 0.0 10.0))
              (let r (+ (* x x) (* y y)))
              (sample z (call normal r (+ 0.1 (/ r 100.0))))))
            (gen ring ((z real)) (block
              (param s1 0.0)
              (param s2 (: positive) 1.0)
              (sample u (call uniform 0.0 1.0) (by reparam))
              (let t (* (* 2.0 pi) u))
              (sample x (call normal (* (call sqrt z) (call cos t)) (call exp s1)) (by reparam))
              (sample y (call normal (* (call sqrt z) (call sin t)) s2) (by reinforce (= baseline 0.5)))))
            (fn iw (model guide data (n int)) (block
              (E (block
                (let ws (comprehension i 0 n (block
                  (let (tuple tr lq) (sim guide))
                  (- (call density model (call merge tr data)) lq))))
                (- (call logsumexp ws) (call log n))))))
            (let obs (record (z 5.0)))
            (let hvi (call elbo cone (call marginal (call ring 5.0) (= keep (array "x" "y")) (= via (call sir 1))) obs))
            (fit hvi (call sgd (= lr 0.001)) (= steps 5000) (= particles 64) (= init (record (s1 0.0))))
            (report hvi (call estimate hvi (= samples 5000)))
            (let e (E (block
              (sample b (call flip 0.3) (by enum))
              (let mut acc 0.0)
              (for i 0 3 (block
                (let-sample v (addr y i) (call normal 0.0 1.0))
                (assign acc (+ acc v))))
              (if b (block
                acc) (block
                (- (^ acc 2)))))))
        "#]],
    );
}

// ---------------------------------------------------------------- items

#[test]
fn import_item() {
    check(
        "import objectives;",
        expect![[r#"
        (import objectives)
    "#]],
    );
}

#[test]
fn gen_and_fn_items() {
    check(
        "gen g() {} fn f(a, b: real,) -> real { a } gen h(x: real[3], y: (real, int)) -> {m: real, s: positive} { {m: 0.0, s: 1.0} }",
        expect![[r#"
            (gen g () (block))
            (fn f (a (b real)) (-> real) (block
              a))
            (gen h ((x (real 3)) (y (tuple real int))) (-> (record (m real) (s positive))) (block
              (record (m 0.0) (s 1.0))))
        "#]],
    );
}

#[test]
fn types() {
    check(
        "fn f(a: real, b: real[3], c: real[2, 2], d: (real, int), e: (real), f: (real,), g: (), h: {x: real, y: (int, bool)}) {}",
        expect![[r#"
            (fn f ((a real) (b (real 3)) (c (real 2 2)) (d (tuple real int)) (e real) (f (tuple real)) (g (tuple)) (h (record (x real) (y (tuple int bool))))) (block))
        "#]],
    );
}

#[test]
fn top_level_let_and_param() {
    check(
        "let x = 1.0; let y: real = 2.0; let (a, _) = (1, 2); param s: positive = 1.0; param w: real[3] = zeros(3); param m = 0.0;",
        expect![[r#"
            (let x 1.0)
            (let y (: real) 2.0)
            (let (tuple a _) (tuple 1 2))
            (param s (: positive) 1.0)
            (param w (: (real 3)) (call zeros 3))
            (param m 0.0)
        "#]],
    );
}

#[test]
fn fit_items() {
    check(
        "fit hvi with adam(); fit hvi with sgd(lr = 1e-3), steps = 5000, particles = 64, init = { mu1: 3.0, mu2: -1.0 };",
        expect![[r#"
            (fit hvi (call adam))
            (fit hvi (call sgd (= lr 0.001)) (= steps 5000) (= particles 64) (= init (record (mu1 3.0) (mu2 (- 1.0)))))
        "#]],
    );
}

#[test]
fn report_items() {
    check(
        r#"report elbo = estimate(elbo, samples = 5000); report "elbo" = estimate(elbo, samples = 5000);"#,
        expect![[r#"
            (report elbo (call estimate elbo (= samples 5000)))
            (report elbo (call estimate elbo (= samples 5000)))
        "#]],
    );
}

// ---------------------------------------------------------------- statements

#[test]
fn let_statements() {
    check(
        "fn f() { let a = 1; let mut b = 2; let c: int = 3; let (d, (e, _)) = t; let (g) = 4; let (h,) = u; let _ = 5; }",
        expect![[r#"
            (fn f () (block
              (let a 1)
              (let mut b 2)
              (let c (: int) 3)
              (let (tuple d (tuple e _)) t)
              (let g 4)
              (let (tuple h) u)
              (let _ 5)))
        "#]],
    );
}

#[test]
fn param_statements() {
    check(
        "gen g() { param s1 = 0.0; param s2: positive = 1.0; param w: real[2, 3] = zeros(2, 3); }",
        expect![[r#"
            (gen g () (block
              (param s1 0.0)
              (param s2 (: positive) 1.0)
              (param w (: (real 2 3)) (call zeros 2 3))))
        "#]],
    );
}

#[test]
fn sample_statements() {
    check(
        "gen g() { x ~ normal(0.0, 1.0); u ~ uniform(0.0, 1.0) by reparam; y ~ normal(x, 1.0) by reinforce(baseline = 0.5); y[i][j] ~ normal(0.0, 1.0); a ~ h(x, y); b ~ flip(0.3) by enum; }",
        expect![[r#"
            (gen g () (block
              (sample x (call normal 0.0 1.0))
              (sample u (call uniform 0.0 1.0) (by reparam))
              (sample y (call normal x 1.0) (by reinforce (= baseline 0.5)))
              (sample (addr y i j) (call normal 0.0 1.0))
              (sample a (call h x y))
              (sample b (call flip 0.3) (by enum))))
        "#]],
    );
}

#[test]
fn let_sample_statements() {
    check(
        "gen g() { let v = y[i] ~ normal(0.0, 1.0); let w = z ~ normal(0.0, 1.0) by reparam; let (a, b) = p ~ pair(); }",
        expect![[r#"
            (gen g () (block
              (let-sample v (addr y i) (call normal 0.0 1.0))
              (let-sample w z (call normal 0.0 1.0) (by reparam))
              (let-sample (tuple a b) p (call pair))))
        "#]],
    );
}

#[test]
fn assign_for_and_expression_statements() {
    check(
        "fn f() { let mut acc = 0.0; for i in 0..n { acc = acc + i; } add_cost(acc); ;; }",
        expect![[r#"
            (fn f () (block
              (let mut acc 0.0)
              (for i 0 n (block
                (assign acc (+ acc i))))
              (expr (call add_cost acc))))
        "#]],
    );
}

#[test]
fn tail_expression_versus_statement() {
    check(
        "fn f() { a; b } fn g() { a; b; } fn h() { 1 } fn k() { }",
        expect![[r#"
            (fn f () (block
              (expr a)
              b))
            (fn g () (block
              (expr a)
              (expr b)))
            (fn h () (block
              1))
            (fn k () (block))
        "#]],
    );
}

#[test]
fn block_like_statements_need_no_semicolon() {
    check(
        "fn f() { if a { b(); } { c(); } E { d } g(); if x { 1 } else { 2 }; { 3 }; E { 4 }; }",
        expect![[r#"
            (fn f () (block
              (expr (if a (block
                (expr (call b)))))
              (expr (block
                (expr (call c))))
              (expr (E (block
                d)))
              (expr (call g))
              (expr (if x (block
                1) (block
                2)))
              (expr (block
                3))
              (expr (E (block
                4)))))
        "#]],
    );
}

#[test]
fn trailing_block_like_statement_is_the_tail() {
    check(
        "fn f() { x(); if a { 1 } else { 2 } } fn g() { { 3 } } fn h() { E { 4 } } fn k() { if a { 1 } else { 2 }; }",
        expect![[r#"
            (fn f () (block
              (expr (call x))
              (if a (block
                1) (block
                2))))
            (fn g () (block
              (block
                3)))
            (fn h () (block
              (E (block
                4))))
            (fn k () (block
              (expr (if a (block
                1) (block
                2)))))
        "#]],
    );
}

#[test]
fn block_like_expression_continued_by_operators() {
    check(
        "fn f() { if a { 1 } else { 2 } + 1 } fn g() { if a { 1 } else { 2 } * 3; E { x }.mean; { y }[0] - 1; } fn h() { { f }(x) }",
        expect![[r#"
            (fn f () (block
              (+ (if a (block
                1) (block
                2)) 1)))
            (fn g () (block
              (expr (* (if a (block
                1) (block
                2)) 3))
              (expr (. (E (block
                x)) mean))
              (expr (- (index (block
                y) 0) 1))))
            (fn h () (block
              (call (block
                f) x)))
        "#]],
    );
}

#[test]
fn else_if_chains() {
    check(
        "fn f() { if a { 1 } else if b { 2 } else if c { 3 } else { 4 } }",
        expect![[r#"
            (fn f () (block
              (if a (block
                1) (block
                (if b (block
                  2) (block
                  (if c (block
                    3) (block
                    4))))))))
        "#]],
    );
}

#[test]
fn records_versus_blocks() {
    check(
        "fn f() { let r = { a: 1, b: 2, }; let e = {}; let b = { a }; let c = { a; b }; { z: 5.0 } } fn g() { { a: 1 }.a; {} }",
        expect![[r#"
            (fn f () (block
              (let r (record (a 1) (b 2)))
              (let e (record))
              (let b (block
                a))
              (let c (block
                (expr a)
                b))
              (record (z 5.0))))
            (fn g () (block
              (expr (. (record (a 1)) a))
              (block)))
        "#]],
    );
}

// ---------------------------------------------------------------- expressions

#[test]
fn literals() {
    check(
        r#"let a = (0, 42, 1.5, 1e-3, 2.5E+10, 3e2, true, false, "a string", "", (), (1,), (1, 2), (1));"#,
        expect![[r#"
            (let a (tuple 0 42 1.5 0.001 25000000000.0 300.0 true false "a string" "" (tuple) (tuple 1) (tuple 1 2) 1))
        "#]],
    );
}

#[test]
fn precedence_of_binary_operators() {
    check(
        "let a = x || y && z; let b = x == y + z * w; let c = x < y && y <= z || x > z && z >= y != w; let d = a + b / c - d * e;",
        expect![[r#"
            (let a (|| x (&& y z)))
            (let b (== x (+ y (* z w))))
            (let c (|| (&& (< x y) (<= y z)) (&& (> x z) (!= (>= z y) w))))
            (let d (- (+ a (/ b c)) (* d e)))
        "#]],
    );
}

#[test]
fn associativity() {
    check(
        "let a = x - y - z; let b = x / y / z; let c = x ^ y ^ z; let d = x == y == z;",
        expect![[r#"
            (let a (- (- x y) z))
            (let b (/ (/ x y) z))
            (let c (^ x (^ y z)))
            (let d (== (== x y) z))
        "#]],
    );
}

#[test]
fn prefix_operators_and_power() {
    check(
        "let a = -x ^ 2; let b = 2 ^ -1; let c = -2 * 3; let d = !a && b; let e = --x; let f = x ^ -y ^ z; let g = -f(x)[0]; let h = !!b;",
        expect![[r#"
            (let a (- (^ x 2)))
            (let b (^ 2 (- 1)))
            (let c (* (- 2) 3))
            (let d (&& (! a) b))
            (let e (- (- x)))
            (let f (^ x (- (^ y z))))
            (let g (- (index (call f x) 0)))
            (let h (! (! b)))
        "#]],
    );
}

#[test]
fn parentheses() {
    check(
        "let a = (x + y) * z; let b = -(x ^ 2); let c = ((x));",
        expect![[r#"
        (let a (* (+ x y) z))
        (let b (- (^ x 2)))
        (let c x)
    "#]],
    );
}

#[test]
fn postfix_operators() {
    check(
        "let a = f(x).0.y[1]; let b = t.0.1; let c = m[i][j]; let d = f()(); let e = r.a.b; let f = g(x,);",
        expect![[r#"
            (let a (index (. (. (call f x) 0) y) 1))
            (let b (. (. t 0) 1))
            (let c (index (index m i) j))
            (let d (call (call f)))
            (let e (. (. r a) b))
            (let f (call g x))
        "#]],
    );
}

#[test]
fn calls_with_named_arguments() {
    check(
        "let a = marginal(ring(5.0), keep = [\"x\", \"y\"], via = sir(1)); let b = f(a == b, c = d == e);",
        expect![[r#"
            (let a (call marginal (call ring 5.0) (= keep (array "x" "y")) (= via (call sir 1))))
            (let b (call f (== a b) (= c (== d e))))
        "#]],
    );
}

#[test]
fn arrays_and_comprehensions() {
    check(
        "let a = []; let b = [1, 2, 3,]; let c = [for i in 0..n { i * 2 }]; let d = [for i in a.0..len(xs) { let y = i; y }];",
        expect![[r#"
            (let a (array))
            (let b (array 1 2 3))
            (let c (comprehension i 0 n (block
              (* i 2))))
            (let d (comprehension i (. a 0) (call len xs) (block
              (let y i)
              y)))
        "#]],
    );
}

#[test]
fn expectations_and_simulation() {
    check(
        "let a = E { x ~ normal(0.0, 1.0); x * x }; let b = sim guide; let c = sim g(x, y); let d = sim g(x).0; let e = (sim g()).0;",
        expect![[r#"
            (let a (E (block
              (sample x (call normal 0.0 1.0))
              (* x x))))
            (let b (sim guide))
            (let c (sim (call g x y)))
            (let d (sim (. (call g x) 0)))
            (let e (. (sim (call g)) 0))
        "#]],
    );
}

#[test]
fn if_expressions() {
    check(
        "let a = if x > 0.0 { x } else { -x }; let b = if c { 1 }; let c = if f(x) { 1 } else { 2 } + 3;",
        expect![[r#"
            (let a (if (> x 0.0) (block
              x) (block
              (- x))))
            (let b (if c (block
              1)))
            (let c (+ (if (call f x) (block
              1) (block
              2)) 3))
        "#]],
    );
}

#[test]
fn keywords_need_a_word_boundary() {
    check(
        "fn f() { letter = 1; let mutable = 2; parameter = 3; format = 4; for index in 0..inner { simple = iffy + Ex + by_ + elsewhere + fitness; } let _x = import_; }",
        expect![[r#"
            (fn f () (block
              (assign letter 1)
              (let mutable 2)
              (assign parameter 3)
              (assign format 4)
              (for index 0 inner (block
                (assign simple (+ (+ (+ (+ iffy Ex) by_) elsewhere) fitness))))
              (let _x import_)))
        "#]],
    );
}

#[test]
fn comments_are_whitespace() {
    check(
        "// a line comment\nlet /* inline */ x = 1; /* a\nblock */ let y = 2; // end",
        expect![[r#"
            (let x 1)
            (let y 2)
        "#]],
    );
}

// ---------------------------------------------------------------- spans and ids

/// The source text under a span.
fn text_at(src: &str, span: vprog_lang::Span) -> &str {
    &src[span.range()]
}

#[test]
fn spans_of_items_statements_and_expressions() {
    let src = "import m;\ngen g(z: real) {\n    let r = (x + 1.0) * y;\n    y[i] ~ normal(r, 1.0) by reparam;\n    r\n}\nreport \"r\" = f(1).0;\n";
    let (file, diagnostics) = parse_file(FileId(0), src);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    let spans: Vec<&str> = file
        .items
        .iter()
        .map(|item| text_at(src, item.span))
        .collect();
    assert_eq!(
        spans,
        [
            "import m;",
            "gen g(z: real) {\n    let r = (x + 1.0) * y;\n    y[i] ~ normal(r, 1.0) by reparam;\n    r\n}",
            "report \"r\" = f(1).0;",
        ]
    );
    let ItemKind::Function(function) = &file.items[1].kind else {
        panic!("not a function");
    };
    assert_eq!(text_at(src, function.params[0].name.span), "z");
    assert_eq!(
        text_at(src, function.params[0].ty.as_ref().unwrap().span),
        "real"
    );
    let body = &function.body;
    assert_eq!(text_at(src, body.stmts[0].span), "let r = (x + 1.0) * y;");
    let StmtKind::Let(let_stmt) = &body.stmts[0].kind else {
        panic!("not a let");
    };
    assert_eq!(text_at(src, let_stmt.value.span), "(x + 1.0) * y");
    let ExprKind::Binary(_, lhs, _) = &let_stmt.value.kind else {
        panic!("not a binary expression");
    };
    // Parentheses leave no node; the expression inside covers them.
    assert_eq!(text_at(src, lhs.span), "(x + 1.0)");
    let StmtKind::Sample(sample) = &body.stmts[1].kind else {
        panic!("not a sample");
    };
    assert_eq!(
        text_at(src, body.stmts[1].span),
        "y[i] ~ normal(r, 1.0) by reparam;"
    );
    assert_eq!(text_at(src, sample.address.span), "y[i]");
    assert_eq!(text_at(src, sample.dist.span), "normal(r, 1.0)");
    assert_eq!(
        text_at(src, sample.strategy.as_ref().unwrap().span),
        "by reparam"
    );
    assert_eq!(text_at(src, body.tail.as_ref().unwrap().span), "r");
    let ItemKind::Report(report) = &file.items[2].kind else {
        panic!("not a report");
    };
    assert_eq!(report.name.name, "r");
    assert_eq!(text_at(src, report.name.span), "\"r\"");
    assert_eq!(text_at(src, report.value.span), "f(1).0");
    let ExprKind::TupleField(_, 0, index_span) = &report.value.kind else {
        panic!("not a tuple field");
    };
    assert_eq!(text_at(src, *index_span), "0");
}

#[test]
fn spans_of_unary_and_else_if() {
    let src = "let a = -x ^ 2; let b = if p { 1 } else if q { 2 } else { 3 };";
    let (file, _) = parse_file(FileId(0), src);
    let ItemKind::Let(a) = &file.items[0].kind else {
        panic!("not a let");
    };
    assert_eq!(text_at(src, a.value.span), "-x ^ 2");
    let ItemKind::Let(b) = &file.items[1].kind else {
        panic!("not a let");
    };
    let ExprKind::If { else_branch, .. } = &b.value.kind else {
        panic!("not an if");
    };
    // The `else if` block is the nested `if`, which is its tail.
    let else_branch = else_branch.as_ref().unwrap();
    assert_eq!(text_at(src, else_branch.span), "if q { 2 } else { 3 }");
    assert_eq!(
        text_at(src, else_branch.tail.as_ref().unwrap().span),
        "if q { 2 } else { 3 }"
    );
}

#[test]
fn expression_ids_follow_source_order() {
    // Pre-order: an expression before its operands, operands left to right,
    // numbering continuing across items.
    let src = "let a = x + y * z; let b = f(w);";
    let (file, _) = parse_file(FileId(0), src);
    let mut seen = Vec::new();
    for item in &file.items {
        let ItemKind::Let(let_stmt) = &item.kind else {
            panic!("not a let");
        };
        collect_ids(src, &let_stmt.value, &mut seen);
    }
    assert_eq!(
        seen,
        [
            (0, "x + y * z"),
            (1, "x"),
            (2, "y * z"),
            (3, "y"),
            (4, "z"),
            (5, "f(w)"),
            (6, "f"),
            (7, "w"),
        ]
    );
}

/// The ids and texts of the binary, call and variable expressions under
/// `expr`, in pre-order.
fn collect_ids<'s>(src: &'s str, expr: &vprog_lang::ast::Expr, seen: &mut Vec<(u32, &'s str)>) {
    seen.push((expr.id.0, text_at(src, expr.span)));
    match &expr.kind {
        ExprKind::Binary(_, lhs, rhs) => {
            collect_ids(src, lhs, seen);
            collect_ids(src, rhs, seen);
        }
        ExprKind::Call { callee, args } => {
            collect_ids(src, callee, seen);
            for arg in args {
                collect_ids(src, &arg.value, seen);
            }
        }
        _ => {}
    }
}

// ---------------------------------------------------------------- syntax errors

#[test]
fn missing_semicolon_at_top_level() {
    check(
        "let x = 1\nlet y = 2;\n",
        expect![[r#"
            (let y 2)
            E0001 10..13 `let`: expected `;`, found `let`
        "#]],
    );
}

#[test]
fn missing_semicolon_in_a_body_resumes_after_the_body() {
    check(
        "gen g() {\n    x ~ normal(0.0, 1.0)\n    let y = 2;\n}\nlet z = 3;\n",
        expect![[r#"
            (let z 3)
            E0001 39..42 `let`: expected `by` or `;`, found `let`
        "#]],
    );
}

#[test]
fn missing_semicolon_after_a_sample_mentions_by() {
    check(
        "gen g() { x ~ normal(0.0, 1.0) y ~ normal(0.0, 1.0); }",
        expect![[r#"
        E0001 31..32 `y`: expected `by` or `;`, found `y`
    "#]],
    );
}

#[test]
fn unclosed_brace() {
    check(
        "gen g() {\n    x ~ normal(0.0, 1.0);\n\nfn f() { 1 }\n",
        expect![[r#"
            (fn f () (block
              1))
            E0001 37..39 `fn`: expected a statement or `}`, found `fn`
        "#]],
    );
}

#[test]
fn unclosed_brace_at_end_of_input() {
    check(
        "gen g() {\n    x ~ normal(0.0, 1.0);\n",
        expect![[r#"
        E0001 36..36 ``: expected a statement or `}`, found end of input
    "#]],
    );
}

#[test]
fn extra_closing_brace() {
    check(
        "fn f() { 1 } }\nlet x = 1;",
        expect![[r#"
        (fn f () (block
          1))
        (let x 1)
        E0001 13..14 `}`: expected an item or end of input, found `}`
    "#]],
    );
}

#[test]
fn unexpected_token_in_an_expression() {
    check(
        "let x = );",
        expect![[r#"
        E0001 8..9 `)`: expected an expression, found `)`
    "#]],
    );
}

#[test]
fn stray_character() {
    check(
        "let x = 1 @ 2;",
        expect![[r#"
        E0001 10..11 `@`: unexpected character `@`
    "#]],
    );
}

#[test]
fn unterminated_string() {
    check(
        "report \"elbo = 1;\nlet x = 2;",
        expect![[r#"
        (let x 2)
        E0001 7..17 `"elbo = 1;`: this string is not terminated
    "#]],
    );
}

#[test]
fn unterminated_comment() {
    check(
        "let x = 1; /* no end\nlet y = 2;",
        expect![[r#"
        (let x 1)
        E0001 11..31 `/* no end
        let y = 2;`: this comment is not terminated
    "#]],
    );
}

#[test]
fn two_broken_items_and_intact_ones() {
    check(
        "import m;\nlet a = ;\ngen g() {\n    x ~ normal(0.0 1.0);\n}\nfn f() { 1 }\nlet b = 2;\n",
        expect![[r#"
            (import m)
            (fn f () (block
              1))
            (let b 2)
            E0001 18..19 `;`: expected an expression, found `;`
            E0001 49..52 `1.0`: expected `)` or `,`, found `1.0`
        "#]],
    );
}

#[test]
fn junk_between_items() {
    check(
        "let a = 1;\n) ( ]\nlet b = 2;",
        expect![[r#"
        (let a 1)
        (let b 2)
        E0001 11..12 `)`: expected an item or end of input, found `)`
    "#]],
    );
}

#[test]
fn keyword_where_a_name_belongs() {
    check(
        "let if = 3;\nfn f(x, ) {}\nfn g(, x) {}",
        expect![[r#"
        (fn f (x) (block))
        E0001 4..6 `if`: expected a pattern, found `if`
        E0001 30..31 `,`: expected an identifier or `)`, found `,`
    "#]],
    );
}

#[test]
fn missing_pieces() {
    check(
        "gen g( { }\nfit x with sgd(), 3;\nlet r = { a: 1, b };\nlet c = [1, 2;\nlet d = f(1, 2;\nlet e = if x 1 else 2;\nlet f = sim ;\nfor i in 0..3 {}\n",
        expect![[r#"
            E0001 7..8 `{`: expected an identifier or `)`, found `{`
            E0001 29..30 `3`: expected an identifier, found `3`
            E0001 50..51 `}`: expected `:`, found `}`
            E0001 66..67 `;`: expected `,` or `]`, found `;`
            E0001 82..83 `;`: expected `)` or `,`, found `;`
            E0001 97..98 `1`: expected `{`, found `1`
            E0001 119..120 `;`: expected an expression, found `;`
        "#]],
    );
}

#[test]
fn statement_at_the_top_level() {
    check(
        "for i in 0..3 {}\nx ~ normal(0.0, 1.0);\nlet a = 1;",
        expect![[r#"
        (let a 1)
        E0001 0..3 `for`: expected an item, found `for`
    "#]],
    );
}

#[test]
fn two_expressions_without_a_semicolon() {
    check(
        "fn f() { let x = 1; x y }",
        expect![[r#"
        E0001 22..23 `y`: expected `;`, `=`, `}` or `~`, found `y`
    "#]],
    );
}

#[test]
fn strategy_without_a_name() {
    check(
        "gen g() { x ~ normal(0.0, 1.0) by ; }",
        expect![[r#"
        E0001 34..35 `;`: expected an identifier, found `;`
    "#]],
    );
}

#[test]
fn recovery_needs_a_new_line() {
    // The second `let` does not start a line, so it is skipped with the
    // broken item; parsing resumes at the next line.
    check(
        "let x = 1 let y = 2;\nlet z = 3;",
        expect![[r#"
        (let z 3)
        E0001 10..13 `let`: expected `;`, found `let`
    "#]],
    );
}

#[test]
fn recovery_ignores_keywords_in_comments() {
    check(
        "let a = ;\n/*\nlet b = 1;\n*/\n// let c = 1;\nlet d = 2;",
        expect![[r#"
            (let d 2)
            E0001 8..9 `;`: expected an expression, found `;`
        "#]],
    );
}

#[test]
fn empty_and_blank_files() {
    check("", expect![[r#""#]]);
    check("  // nothing here\n/* at all */\n", expect![[r#""#]]);
}

#[test]
fn literals_out_of_range() {
    check(
        "let a = 99999999999999999999; let b = 1e999; let c = t.99999999999; let d: real[99999999999999999999] = 0; let e = 9223372036854775807;",
        expect![[r#"
            (let a 0)
            (let b 0.0)
            (let c (. t 0))
            (let d (: (real 0)) 0)
            (let e 9223372036854775807)
            E0002 8..28 `99999999999999999999`: this integer literal does not fit in 64 bits
            E0002 38..43 `1e999`: this real literal is out of range
            E0002 55..66 `99999999999`: this tuple index is too large
            E0002 80..100 `99999999999999999999`: this dimension is too large
        "#]],
    );
}

#[test]
fn nesting_too_deep() {
    let src = format!(
        "let ok = 1;\nlet x = {}1{};\nlet y = 2;",
        "(".repeat(300),
        ")".repeat(300)
    );
    let (file, diagnostics) = parse_file(FileId(0), &src);
    assert_eq!(print_file(&file), "(let ok 1)\n(let y 2)\n");
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(diagnostics[0].code, "E0003");
    let long_sum = format!("let x = 1{};", " + 1".repeat(1000));
    let (_, diagnostics) = parse_file(FileId(0), &long_sum);
    assert_eq!(diagnostics[0].code, "E0003");
}

#[test]
fn deep_but_reasonable_nesting_is_accepted() {
    let src = format!("fn f() {{ {}x{} }}", "g({ ".repeat(40), " })".repeat(40));
    let (file, diagnostics) = parse_file(FileId(0), &src);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert_eq!(file.items.len(), 1);
}

#[test]
fn broken_nesting_parses_in_linear_time() {
    // A backtracking parser that retried each failed block would need
    // 2^40 steps here and give up with E0003; the grammar avoids retries.
    for opener in [
        "{ ",
        "if c { ",
        "E { ",
        "f({ ",
        "[for i in 0..n { ",
        "x = { ",
    ] {
        let src = format!("fn f() {{ {}", opener.repeat(40));
        let (_, diagnostics) = parse_file(FileId(0), &src);
        assert_eq!(diagnostics.len(), 1, "{opener}");
        assert_eq!(
            diagnostics[0].code, "E0001",
            "{opener}: {}",
            diagnostics[0].message
        );
    }
}

// ---------------------------------------------------------------- REPL entries

#[test]
fn repl_expression() {
    check_repl(
        "x * 3.0",
        expect![[r#"
        expr (* x 3.0)
    "#]],
    );
    check_repl(
        "x * 3.0;",
        expect![[r#"
        expr (* x 3.0)
    "#]],
    );
    check_repl(
        "E { y ~ normal(0.0, 1.0); y }",
        expect![[r#"
        expr (E (block
          (sample y (call normal 0.0 1.0))
          y))
    "#]],
    );
}

#[test]
fn repl_items() {
    check_repl(
        "let x = 2.0;",
        expect![[r#"
        items
        (let x 2.0)
    "#]],
    );
    check_repl(
        "gen g() { x ~ normal(0.0, 1.0); }\nlet y = 1;",
        expect![[r#"
        items
        (gen g () (block
          (sample x (call normal 0.0 1.0))))
        (let y 1)
    "#]],
    );
}

#[test]
fn repl_blank() {
    check_repl(
        "",
        expect![[r#"
        nothing
    "#]],
    );
    check_repl(
        "  // just a comment",
        expect![[r#"
        nothing
    "#]],
    );
}

#[test]
fn repl_errors() {
    check_repl(
        "let x = 2.0",
        expect![[r#"
        nothing
        E0001 11..11 ``: expected `;`, found end of input
    "#]],
    );
    check_repl(
        "let x = 1; x",
        expect![[r#"
        nothing
        E0001 11..12 `x`: expected an item or end of input, found `x`
    "#]],
    );
    check_repl(
        "x ~ normal(0.0, 1.0);",
        expect![[r#"
        nothing
        E0001 2..3 `~`: expected `;` or end of input, found `~`
    "#]],
    );
    check_repl(
        ")",
        expect![[r#"
        nothing
        E0001 0..1 `)`: expected an item or an expression, found `)`
    "#]],
    );
    check_repl(
        "1 + 99999999999999999999",
        expect![[r#"
        expr (+ 1 0)
        E0002 4..24 `99999999999999999999`: this integer literal does not fit in 64 bits
    "#]],
    );
}
