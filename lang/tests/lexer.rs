//! Lexer tests: the token stream the REPL highlights, and when the REPL
//! asks for another line.

use expect_test::{Expect, expect};
use vprog_lang::lexer::{is_incomplete, tokens};

/// Lexes `src` and compares one line per token (kind and text).
fn check(src: &str, expect: Expect) {
    let out: String = tokens(src)
        .into_iter()
        .map(|(kind, range)| format!("{kind:?} {:?}\n", &src[range]))
        .collect();
    expect.assert_eq(&out);
}

#[test]
fn tokens_of_a_statement() {
    check(
        r#"let v = y[i] ~ normal(0.0, 1e-3) by reparam; // done"#,
        expect![[r#"
            Keyword "let"
            Ident "v"
            Operator "="
            Ident "y"
            Punct('[') "["
            Ident "i"
            Punct(']') "]"
            Operator "~"
            Ident "normal"
            Punct('(') "("
            Number "0.0"
            Punct(',') ","
            Number "1e-3"
            Punct(')') ")"
            Keyword "by"
            Ident "reparam"
            Punct(';') ";"
            Comment "// done"
        "#]],
    );
}

#[test]
fn keywords_identifiers_and_numbers() {
    check(
        "E Ex sim simple for 0..n x.0 1.5e+3 true",
        expect![[r#"
        Keyword "E"
        Ident "Ex"
        Keyword "sim"
        Ident "simple"
        Keyword "for"
        Number "0"
        Operator ".."
        Ident "n"
        Ident "x"
        Punct('.') "."
        Number "0"
        Number "1.5e+3"
        Keyword "true"
    "#]],
    );
}

#[test]
fn operators() {
    check(
        "a == b != c <= d >= e && f || !g -> h ^ -i / j * k = l",
        expect![[r#"
        Ident "a"
        Operator "=="
        Ident "b"
        Operator "!="
        Ident "c"
        Operator "<="
        Ident "d"
        Operator ">="
        Ident "e"
        Operator "&&"
        Ident "f"
        Operator "||"
        Operator "!"
        Ident "g"
        Operator "->"
        Ident "h"
        Operator "^"
        Operator "-"
        Ident "i"
        Operator "/"
        Ident "j"
        Operator "*"
        Ident "k"
        Operator "="
        Ident "l"
    "#]],
    );
}

#[test]
fn strings_comments_and_errors() {
    check(
        "\"a b\" /* c */ @ \"open\n/* open",
        expect![[r#"
        String "\"a b\""
        Comment "/* c */"
        Error "@"
        String "\"open"
        Comment "/* open"
    "#]],
    );
}

#[test]
fn incomplete_input() {
    assert!(is_incomplete("gen g() {"));
    assert!(is_incomplete("let x = f(1,"));
    assert!(is_incomplete("let x = [1, 2"));
    assert!(is_incomplete(
        "gen g() {\n  x ~ normal(0.0, 1.0);\n  if b {"
    ));
    assert!(is_incomplete("let x = 1; /* a comment"));
    assert!(is_incomplete("let s = \"}\"; {"));
}

#[test]
fn complete_input() {
    assert!(!is_incomplete(""));
    assert!(!is_incomplete("x * 3.0"));
    assert!(!is_incomplete("gen g() { x ~ normal(0.0, 1.0); }"));
    assert!(!is_incomplete("let s = \"{\";"));
    assert!(!is_incomplete("// {"));
    assert!(!is_incomplete("/* { */"));
    // Broken beyond what another line could fix: the parser reports these.
    assert!(!is_incomplete("let x = (1];"));
    assert!(!is_incomplete("let x = 1; } {"));
    // Strings cannot span lines, so a newline cannot complete one.
    assert!(!is_incomplete("report \"elbo"));
}
