//! Name-resolution and type-checking tests: a program in, its diagnostics
//! out, one per line (`code: message @ "spanned text"`, then its labels,
//! help and notes, indented).
//!
//! Refresh the expectations with `UPDATE_EXPECT=1 cargo test -p vprog-lang`.

use expect_test::{Expect, expect};
use vprog_lang::ast::{ItemKind, SourceFile};
use vprog_lang::check::{Module, check_program};
use vprog_lang::parse::parse_file;
use vprog_lang::{Diagnostic, SourceMap};

/// Parses `src` as the main module, loads the standard-library modules it
/// imports (as `vprog::load` does), and checks the program.
fn diagnostics(src: &str) -> (SourceMap, Vec<Diagnostic>) {
    let mut sources = SourceMap::new();
    let main = sources.add("main.vprog", src);
    let (ast, parse_errors) = parse_file(main, src);
    assert!(
        parse_errors.is_empty(),
        "the test program does not parse: {parse_errors:?}"
    );
    let mut names = vec!["main".to_string()];
    let mut asts: Vec<SourceFile> = vec![ast];
    let mut imports: Vec<Vec<usize>> = Vec::new();
    let mut i = 0;
    while i < asts.len() {
        let mut mine = Vec::new();
        let wanted: Vec<String> = asts[i]
            .items
            .iter()
            .filter_map(|item| match &item.kind {
                ItemKind::Import(name) => Some(name.name.clone()),
                _ => None,
            })
            .collect();
        for name in wanted {
            if let Some(j) = names.iter().position(|n| *n == name) {
                mine.push(j);
                continue;
            }
            let module = vprog_stdlib::module(&name).expect("a standard-library module");
            let file = sources.add(module.file_name, module.source);
            let (ast, errors) = parse_file(file, module.source);
            assert!(errors.is_empty(), "the standard library does not parse");
            names.push(name);
            asts.push(ast);
            mine.push(asts.len() - 1);
        }
        imports.push(mine);
        i += 1;
    }
    let modules: Vec<Module> = asts
        .iter()
        .zip(&names)
        .zip(imports)
        .map(|((ast, name), imports)| Module { name, ast, imports })
        .collect();
    let diagnostics = check_program(&modules);
    (sources, diagnostics)
}

/// Checks `src` and compares its diagnostics (or `ok`) with `expect`.
fn check(src: &str, expect: Expect) {
    let (sources, diagnostics) = diagnostics(src);
    let mut out = String::new();
    for d in &diagnostics {
        out.push_str(&format!(
            "{}: {} @ {:?}\n",
            d.code,
            d.message,
            sources.snippet(d.span)
        ));
        if !d.primary_label.is_empty() {
            out.push_str(&format!("  primary: {}\n", d.primary_label));
        }
        for label in &d.labels {
            out.push_str(&format!(
                "  label: {} @ {:?}\n",
                label.message,
                sources.snippet(label.span)
            ));
        }
        if let Some(help) = &d.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        for note in &d.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
    }
    if diagnostics.is_empty() {
        out.push_str("ok\n");
    }
    expect.assert_eq(&out);
}

/// Asserts that `src` checks clean.
fn check_ok(name: &str, src: &str) {
    let (sources, diagnostics) = diagnostics(src);
    let shown: Vec<String> = diagnostics
        .iter()
        .map(|d| format!("{}: {} @ {:?}", d.code, d.message, sources.snippet(d.span)))
        .collect();
    assert!(
        shown.is_empty(),
        "{name} should check clean:\n{}",
        shown.join("\n")
    );
}

// ---- valid programs ------------------------------------------------------

#[test]
fn corpus_checks_clean() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/check_data");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("the corpus directory") {
        let path = entry.expect("a corpus entry").path();
        if path.extension().is_some_and(|e| e == "vprog") {
            let src = std::fs::read_to_string(&path).expect("a corpus file");
            check_ok(&path.display().to_string(), &src);
            count += 1;
        }
    }
    assert!(count >= 5);
}

#[test]
fn examples_check_clean() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("an example").path();
        if path.extension().is_some_and(|e| e == "vprog") {
            let src = std::fs::read_to_string(&path).expect("an example file");
            check_ok(&path.display().to_string(), &src);
        }
    }
}

#[test]
fn stdlib_modules_check_clean() {
    for module in vprog_stdlib::MODULES {
        check_ok(module.file_name, module.source);
    }
}

#[test]
fn parser_corpus_checks_clean() {
    check_ok("representative", include_str!("data/representative.vprog"));
}

/// Every builtin of spec/language.md §8 and every distribution of
/// spec/strategies.md is known to the checker.
#[test]
fn spec_builtins_are_known() {
    let spec = |name: &str| {
        std::fs::read_to_string(format!("{}/../spec/{name}", env!("CARGO_MANIFEST_DIR")))
            .expect("the spec")
    };
    let language = spec("language.md");
    let builtins = language
        .split("## 8. Builtins")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("a builtins section");
    let strategies = spec("strategies.md");
    let distributions = strategies
        .split("## Strategies")
        .next()
        .expect("a distributions section");
    let mut names: Vec<String> = Vec::new();
    for section in [builtins, distributions] {
        for row in section.lines().filter(|l| l.starts_with("| ")) {
            let cells: Vec<&str> = row.split('|').collect();
            let listed = if section == builtins {
                cells.get(2).copied().unwrap_or("")
            } else {
                cells.get(1).copied().unwrap_or("")
            };
            for code in listed.split('`').skip(1).step_by(2) {
                let name = code.split('(').next().unwrap_or("");
                let identifiers = name
                    .split_whitespace()
                    .filter(|w| w.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
                    // "(in `fit` only)" names a statement, not a builtin.
                    .filter(|w| *w != "fit");
                names.extend(identifiers.map(str::to_string));
            }
        }
    }
    assert!(names.len() > 50, "found only {names:?}");
    for name in names {
        let (_, diagnostics) = diagnostics(&format!("let f = {name};"));
        assert!(diagnostics.is_empty(), "`{name}` is not a known builtin");
    }
}

#[test]
fn noisy_cone() {
    check(
        include_str!("check_data/cone.vprog"),
        expect![[r#"
        ok
    "#]],
    );
}

#[test]
fn polymorphic_function_at_two_types() {
    check(
        r#"
fn id(x) { x }
fn add(a, b) { a + b }
let r = id(1.0) + 2.0;
let b = id(true) && false;
let i = add(1, 2);
let x = add(1.5, [1.0, 2.0]);
report out = (r, i, x);
"#,
        expect![[r#"
            ok
        "#]],
    );
}

#[test]
fn polymorphic_result_types_are_tracked() {
    check(
        r#"
fn id(x) { x }
let b = id(true) + 1.0;
"#,
        expect![[r#"
            E0223: `+` cannot combine bool and real @ "id(true)"
              primary: bool
              label: real @ "1.0"
        "#]],
    );
}

#[test]
fn int_meets_real_as_real() {
    check(
        r#"
fn f(x: real, v: real[2]) { x + v[0] }
let a = f(1, [1, 2]);
let b = 1 + 2.5;
let c = [1, 2.5, 3];
let d = 3 < 2.5;
let e = if b > 2.0 { 1 } else { 2.5 };
let g = E { x ~ normal(0, 1); x };
report out = (a, b, c, d, e);
"#,
        expect![[r#"
            ok
        "#]],
    );
}

#[test]
fn nested_records_and_tuples() {
    check(
        r#"
let r = { a: { b: (1.0, { c: 2 }) } };
let x = r.a.b.1.c + 1;
let y = r.a.b.0 * 2.0;
let t = ((1, 2.0), (true, [1.0]));
let z = t.1.1[0] + t.0.1;
report out = (x, y, z);
let bad = r.a.b.1.d;
let bad2 = t.0.2;
"#,
        expect![[r#"
            E0227: this record has no field `d`; its fields are `c` @ "d"
            E0220: this tuple has 2 components; there is no `.2` @ "2"
        "#]],
    );
}

#[test]
fn comprehension_over_tuples() {
    check(
        r#"
fn f(n: int) {
    let x = 1.0;
    let y = 2;
    let (a, b) = [for i in 0..n { (x, y) }];
    a[0] + real(b[1]) + sum(a)
}
fn g() {
    let (a, b) = [for i in 0..3 { (1.0, 2.0) }];
    let (p, q, r) = [for i in 0..3 { (1.0, 2.0) }];
    a[5]
}
"#,
        expect![[r#"
            E0250: this pattern has 3 parts but the value has 2 @ "(p, q, r)"
            E0231: index 5 is out of range for length 3 @ "5"
        "#]],
    );
}

#[test]
fn sampled_value_bound_in_loops() {
    check(
        r#"
gen model(n: int) {
    let mut total = 0.0;
    for i in 0..n {
        let v = y[i] ~ normal(0.0, 1.0);
        total = total + v;
    }
    total
}
let objective = E {
    let mut acc = 0.0;
    for i in 0..3 {
        let v = z[i] ~ normal(0.0, 1.0);
        acc = acc + v;
    }
    acc
};
"#,
        expect![[r#"
            ok
        "#]],
    );
}

#[test]
fn traced_calls() {
    check(
        r#"
gen inner(mu: real) { x ~ normal(mu, 1.0); (x, true) }
gen leaf() { y ~ normal(0.0, 1.0); y }
gen outer() {
    a ~ inner(0.0);
    d ~ leaf();
    e ~ leaf;
    let sum = d + e;
    let (x, flag) = a;
    b ~ inner(x);
    if b.1 && flag { 1.0 } else { 0.0 }
}
gen bad() {
    c ~ inner(0.0);
    c + 1.0
}
"#,
        expect![[r#"
            E0210: the left operand of `+` must be a number, found (real, bool) @ "c"
        "#]],
    );
}

// ---- name resolution -----------------------------------------------------

#[test]
fn unknown_name_with_suggestion() {
    check(
        r#"
gen model() {
    mean_value ~ normal(0.0, 1.0);
    y ~ nromal(mean_valeu, 1.0);
}
"#,
        expect![[r#"
            E0200: cannot find `nromal` in this scope @ "nromal"
              primary: not found
              help: did you mean `normal`?
            E0200: cannot find `mean_valeu` in this scope @ "mean_valeu"
              primary: not found
              help: did you mean `mean_value`?
        "#]],
    );
}

#[test]
fn unknown_objective_without_import() {
    check(
        r#"
gen m() { x ~ normal(0.0, 1.0); }
let objective = elbo(m, m, {});
fit objective with sgd(lr = 0.1);
"#,
        expect![[r#"
            E0200: cannot find `elbo` in this scope @ "elbo"
              primary: not found
              help: `elbo` is in the standard library: add `import objectives;`
        "#]],
    );
}

#[test]
fn imported_objective_resolves() {
    check(
        r#"
import objectives;
gen m() { x ~ normal(0.0, 1.0); }
let objective = elbo(m, m, {});
fit objective with sgd(lr = 0.1);
"#,
        expect![[r#"
            ok
        "#]],
    );
}

#[test]
fn top_level_let_visible_only_after_definition() {
    check(
        r#"
let a = b + 1.0;
let b = 2.0;
let c = b + 1.0;
fn f() { late * 2.0 }
let late = 3.0;
"#,
        expect![[r#"
            E0200: cannot find `b` in this scope @ "b"
              primary: not found
              help: `b` is defined further down: a top-level `let` or `param` is visible only to the items after it
        "#]],
    );
}

#[test]
fn functions_are_visible_everywhere() {
    check(
        r#"
let x = later(1.0);
fn later(y) { helper(y) + 1.0 }
fn helper(z) { z * 2.0 }
"#,
        expect![[r#"
            ok
        "#]],
    );
}

#[test]
fn local_scopes_end_with_their_block() {
    check(
        r#"
fn f() {
    { let inner = 1.0; }
    for i in 0..3 { let j = i; }
    inner + real(i) + real(j)
}
"#,
        expect![[r#"
            E0200: cannot find `inner` in this scope @ "inner"
              primary: not found
            E0200: cannot find `i` in this scope @ "i"
              primary: not found
            E0200: cannot find `j` in this scope @ "j"
              primary: not found
        "#]],
    );
}

#[test]
fn function_bodies_do_not_see_caller_locals() {
    check(
        r#"
fn g() { secret }
fn f() { let secret = 1.0; g() }
"#,
        expect![[r#"
            E0200: cannot find `secret` in this scope @ "secret"
              primary: not found
        "#]],
    );
}

#[test]
fn duplicate_functions() {
    check(
        r#"
fn f() { 1.0 }
gen f() { x ~ normal(0.0, 1.0); }
"#,
        expect![[r#"
            E0103: `f` is defined twice @ "f"
              primary: second definition
              label: first definition @ "f"
        "#]],
    );
}

#[test]
fn function_referring_to_a_redefined_let() {
    check(
        r#"
let x = 1.0;
let x = 2.0;
fn f() { x }
let ok = x + 1.0;
"#,
        expect![[r#"
            E0201: `x` is defined more than once at the top level, so a function cannot refer to it @ "x"
              help: rename one of the definitions
        "#]],
    );
}

#[test]
fn top_level_let_with_tuple_pattern() {
    check(
        r#"
let (a, b) = (1.0, 2.0);
"#,
        expect![[r#"
            E0104: a top-level `let` must bind a single name @ "(a, b)"
        "#]],
    );
}

#[test]
fn duplicate_and_unknown_parameters() {
    check(
        r#"
param mu = 0.0;
param mu = 1.0;
param s: wide = 1.0;
gen g() {
    param p = 0.0;
    param p = 1.0;
    x ~ normal(p, 1.0);
}
"#,
        expect![[r#"
            E0105: parameter `mu` is declared twice @ "mu"
              label: first declared here @ "mu"
            E0106: `wide` is not a parameter constraint @ "wide"
              help: a parameter is `real`, `positive` or `unit_interval`, optionally with dimensions: `real[3]`
            E0105: parameter `g.p` is declared twice @ "p"
              label: first declared here @ "p"
        "#]],
    );
}

#[test]
fn assignment_to_immutable_variable() {
    check(
        r#"
fn f(n: int) {
    let x = 0.0;
    x = x + 1.0;
    n = 3;
    for i in 0..3 { i = 0; }
    x
}
"#,
        expect![[r#"
            E0255: cannot assign twice to immutable variable `x` @ "x"
              label: `x` is declared here @ "x"
              help: declare it with `let mut x`
            E0255: cannot assign twice to immutable variable `n` @ "n"
              label: `n` is declared here @ "n"
              help: copy it into a mutable variable first: `let mut n = n;`
            E0255: cannot assign twice to immutable variable `i` @ "i"
              label: `i` is declared here @ "i"
              help: copy it into a mutable variable first: `let mut i = i;`
        "#]],
    );
}

#[test]
fn assignment_to_non_local() {
    check(
        r#"
let g = 1.0;
fn f() {
    g = 2.0;
    nowhere = 1.0;
    pi = 3.0;
}
"#,
        expect![[r#"
            E0254: cannot assign to `g`: it is not a local variable @ "g"
              help: declare a local variable first: `let mut g = ...;`
            E0254: cannot assign to `nowhere`: it is not a local variable @ "nowhere"
              help: declare a local variable first: `let mut nowhere = ...;`
            E0254: cannot assign to `pi`: it is not a local variable @ "pi"
              help: declare a local variable first: `let mut pi = ...;`
        "#]],
    );
}

#[test]
fn assignment_inside_expectation_to_captured_variable() {
    check(
        r#"
fn f() {
    let mut count = 0.0;
    let e = E { count = count + 1.0; count };
    e
}
"#,
        expect![[r#"
            E0255: cannot assign twice to immutable variable `count` @ "count"
              label: `count` is declared here @ "count"
              note: an expectation captures the variables around it by value, so it cannot assign to them
        "#]],
    );
}

#[test]
fn assignment_changing_type() {
    check(
        r#"
fn f() {
    let mut total = 0;
    for i in 0..3 { total = total + 0.5; }
    let mut pair = (1.0, 2.0);
    pair = (1.0, 2.0, 3.0);
    let mut v = [1.0, 2.0];
    v = [1.0, 2.0, 3.0];
    let mut flag = true;
    flag = 1;
    let mut real_total = 0.0;
    real_total = real_total + 1;
    total
}
"#,
        expect![[r#"
            E0257: `total` is int, but this value is real @ "total + 0.5"
              label: `total` is declared here @ "total"
              help: initialize it with a real, e.g. `0.0`, to accumulate reals
            E0256: `pair` changes its structure in this assignment @ "(1.0, 2.0, 3.0)"
              label: `pair` is declared here @ "pair"
            E0257: `v` is real[2], but this value is real[3] @ "[1.0, 2.0, 3.0]"
              label: `v` is declared here @ "v"
              help: a variable keeps its type
            E0257: `flag` is bool, but this value is int @ "1"
              label: `flag` is declared here @ "flag"
              help: a variable keeps its type
        "#]],
    );
}

#[test]
fn mutable_non_data() {
    check(
        r#"
gen g() { x ~ normal(0.0, 1.0); }
fn f() {
    let mut h = g;
    let mut d = normal(0.0, 1.0);
    let mut ok = (1.0, { a: 2 });
    0.0
}
"#,
        expect![[r#"
            E0251: only numbers, tuples and records can be `mut`, not a generative function @ "g"
            E0251: only numbers, tuples and records can be `mut`, not a distribution @ "normal(0.0, 1.0)"
        "#]],
    );
}

#[test]
fn param_placement() {
    check(
        r#"
gen g(flag: bool) {
    param top = 0.0;
    if flag { param nested = 1.0; }
    for i in 0..2 { param looped = 1.0; }
    let e = E { param inner = 1.0; 0.0 };
    x ~ normal(top, 1.0);
}
fn f() {
    param not_here = 0.0;
    1.0
}
let e = E { param nor_here = 0.0; 1.0 };
param fine = 1.0;
"#,
        expect![[r#"
            E0107: a `param` must be declared at the top level of a `gen` body @ "nested"
              help: move the declaration to the start of the generative function
            E0107: a `param` must be declared at the top level of a `gen` body @ "looped"
              help: move the declaration to the start of the generative function
            E0107: a `param` must be declared at the top level of a `gen` body @ "inner"
              help: move the declaration to the start of the generative function
            E0253: a `param` can only be declared in a `gen` body or at the top level @ "not_here"
            E0253: a `param` can only be declared in a `gen` body or at the top level @ "nor_here"
        "#]],
    );
}

#[test]
fn param_initializer_must_be_constant() {
    check(
        r#"
gen g(z: real) {
    param p = z;
    param q: real[2] = [1.0, 2.0, 3.0];
    param r = (1.0, 2.0);
    x ~ normal(p, 1.0);
}
"#,
        expect![[r#"
            E0120: `z` must be a compile-time constant @ "z"
              primary: not a constant
              help: a parameter's initial value is computed before the program runs: use numbers, arithmetic, arrays and records of constants, or a top-level `let` of one
            E0109: parameter `q` is declared as real[2] but its initial value is real[3] @ "[1.0, 2.0, 3.0]"
            E0108: a parameter's initial value must be a number or an array of numbers, not (real, real) @ "(1.0, 2.0)"
        "#]],
    );
}

#[test]
fn random_initializers_belong_to_real_params() {
    check(
        r#"
gen g() {
    param w: real[3, 2] = glorot();
    param s: positive[3] = he();
    param n: real[4] = normal(true);
    let v = glorot();
    x ~ normal(w[0][0], 1.0);
}
"#,
        expect![[r#"
            E0111: `he()` draws around 0, which is no initial value for a `positive` parameter @ "he"
              label: the constraint @ "positive"
              help: random initializers are for `real` parameters; give a constant instead
            E0211: the standard deviation of `normal` must be a real, found a boolean @ "true"
            E0200: cannot find `glorot` in this scope @ "glorot"
              primary: not found
              help: `glorot()` is a random initializer: it can only be the whole initial value of a `param`, as in `param w: real[200, 64] = glorot();`
        "#]],
    );
}

#[test]
fn random_choice_outside_gen_or_expectation() {
    check(
        r#"
fn f() {
    x ~ normal(0.0, 1.0);
    x
}
let y = { z ~ normal(0.0, 1.0); z };
let fine = E { w ~ normal(0.0, 1.0); w };
fn g() { E { v ~ normal(0.0, 1.0); v } }
"#,
        expect![[r#"
            E0303: a random choice can only be made in a `gen` body or inside `E { }` @ "x ~ normal(0.0, 1.0);"
              help: move it into a generative function or an expectation
            E0303: a random choice can only be made in a `gen` body or inside `E { }` @ "z ~ normal(0.0, 1.0);"
              help: move it into a generative function or an expectation
        "#]],
    );
}

#[test]
fn sim_outside_gen_or_expectation() {
    check(
        r#"
gen m() { x ~ normal(0.0, 1.0); }
fn f() { sim m() }
let s = sim m;
report r = density(m, { x: 1.0 });
let fine = E { let (tr, w) = sim m; w };
gen uses_sim() { let (tr, w) = sim m; w }
"#,
        expect![[r#"
            E0312: `sim` can only be used inside `E { }` or a `gen` body @ "sim m()"
              help: wrap the computation in an expectation: `E { ... }`
            E0312: `sim` can only be used inside `E { }` or a `gen` body @ "sim m"
              help: wrap the computation in an expectation: `E { ... }`
        "#]],
    );
}

#[test]
fn fit_of_a_non_expectation() {
    check(
        r#"
gen m() { x ~ normal(0.0, 1.0); }
fn f() { E { 1.0 } }
let number = 1.0;
fit number with sgd(lr = 0.1);
fit m with sgd(lr = 0.1);
fit f with sgd(lr = 0.1);
let ok = f();
fit ok with sgd(lr = 0.1);
fit missing with sgd(lr = 0.1);
"#,
        expect![[r#"
            E0500: the objective `number` must be an expectation `E { ... }`, found real @ "number"
              help: library objectives such as `elbo(model, guide, data)` are expectations
            E0500: the objective `m` must be an expectation `E { ... }`, found a generative function @ "m"
              help: library objectives such as `elbo(model, guide, data)` are expectations
            E0500: the objective `f` must be an expectation `E { ... }`, found a function @ "f"
              help: library objectives such as `elbo(model, guide, data)` are expectations
            E0200: cannot find `missing` in this scope @ "missing"
              primary: not found
        "#]],
    );
}

#[test]
fn fit_options() {
    check(
        r#"
let obj = E { 1.0 };
fit obj with sgd(lr = 0.1), steps = 1.5, particles = 2, seed = 3, init = 4.0, speed = 2;
fit obj with sgd(0.1);
fit obj with adam(lr = 0.1, gamma = 0.2);
fit obj with momentum(beta = 0.5);
fit obj with 3.0;
let opt = sgd(lr = 0.1);
"#,
        expect![[r#"
            E0131: `steps` must be a positive integer, found real @ "1.5"
            E0132: `init` must be a record of parameter values, found real @ "4.0"
              help: write e.g. `init = { mu: 0.0, s: 1.0 }`
            E0133: `fit` has no option `speed` @ "speed"
              help: the options are: steps, particles, seed, init
            E0124: `sgd` needs the option `lr = ...` @ "sgd(0.1)"
            E0125: `sgd` takes only named options @ "0.1"
              help: write e.g. `sgd(lr = ...)`
            E0125: `adam` has no option `gamma` @ "gamma"
              help: its options are: lr, beta1, beta2, eps
            E0124: `momentum` needs the option `lr = ...` @ "momentum(beta = 0.5)"
            E0130: `fit ... with` needs an optimizer, found real @ "3.0"
              help: write e.g. `with sgd(lr = 1e-3)`, `with momentum(lr = 1e-3)` or `with adam(lr = 1e-3)`
            E0410: `sgd` can only be used in a `fit` statement @ "sgd"
        "#]],
    );
}

#[test]
fn report_values() {
    check(
        r#"
gen m() { x ~ normal(0.0, 1.0); }
let obj = E { 1.0 };
report a = obj;
report b = m;
report c = estimate(obj, samples = 10);
report d = (1.0, [1, 2]);
report e = ();
report f = estimate(1.0);
report g = obj + 1.0;
"#,
        expect![[r#"
            E0505: an expectation cannot be reported directly @ "obj"
              help: report `estimate(objective, samples = 1000)`
            E0506: cannot report a generative function @ "m"
              help: report a number, an array, or `estimate(objective, samples = n)`
            E0506: cannot report `()` @ "()"
              help: report a number, an array, or `estimate(objective, samples = n)`
            E0500: the argument of `estimate` must be an expectation `E { ... }`, found real @ "1.0"
              help: library objectives such as `elbo(model, guide, data)` are expectations
            E0210: the left operand of `+` must be a number, but this is an expectation @ "obj"
              help: use `estimate(objective, samples = n)` to estimate its value
        "#]],
    );
}

// ---- type errors -------------------------------------------------------------

#[test]
fn errors_in_uncalled_functions() {
    check(
        r#"
fn never_called(x: real) {
    let flag = x > 1.0;
    flag + 1.0
}
gen never_simulated() {
    z ~ normal(0.0, true);
}
"#,
        expect![[r#"
            E0223: `+` cannot combine bool and real @ "flag"
              primary: bool
              label: real @ "1.0"
            E0211: the `scale` of `normal` must be a real, found a boolean @ "true"
        "#]],
    );
}

#[test]
fn arithmetic_on_booleans() {
    check(
        r#"
let a = 1.0 + true;
let b = true * false;
let c = -true;
let d = !1.0;
let e = 1.0 && true;
let f = 1 || 2;
let g = true < 1.0;
let h = 1.0 == true;
let ok = (true == false) && (1 != 2);
"#,
        expect![[r#"
            E0223: `+` cannot combine real and bool @ "true"
              primary: bool
              label: real @ "1.0"
            E0225: `*` needs numbers, found booleans @ "true * false"
              label: bool @ "true"
              label: bool @ "false"
            E0222: `-` needs a number, found a boolean @ "true"
              primary: bool
            E0222: `!` needs a boolean, found real @ "1.0"
              primary: real
            E0223: `&&` cannot combine real and bool @ "1.0"
              primary: real
              label: bool @ "true"
            E0226: `||` needs booleans, found int @ "1 || 2"
              label: int @ "1"
              label: int @ "2"
            E0223: `<` cannot combine bool and real @ "true"
              primary: bool
              label: real @ "1.0"
            E0223: `==` cannot combine real and bool @ "1.0 == true"
              label: real @ "1.0"
              label: bool @ "true"
        "#]],
    );
}

#[test]
fn operands_that_are_not_numbers() {
    check(
        r#"
gen m() { x ~ normal(0.0, 1.0); }
let a = m + 1.0;
let b = (1.0, 2.0) * 2.0;
let c = { a: 1.0 } - 1.0;
let d = normal(0.0, 1.0) / 2.0;
let e = "x" + 1.0;
"#,
        expect![[r#"
            E0210: the left operand of `+` must be a number, found a generative function @ "m"
            E0210: the left operand of `*` must be a number, found (real, real) @ "(1.0, 2.0)"
            E0210: the left operand of `-` must be a number, found {a: real} @ "{ a: 1.0 }"
            E0210: the left operand of `/` must be a number, found a distribution @ "normal(0.0, 1.0)"
            E0210: the left operand of `+` must be a number, found a string @ "\"x\""
        "#]],
    );
}

#[test]
fn shapes_of_operands() {
    check(
        r#"
let a = [1.0, 2.0] + [1.0, 2.0, 3.0];
let b = [1.0, 2.0] + 1.0;
let m = [[1.0, 2.0], [3.0, 4.0]];
let c = m * [1.0, 2.0];
let d = m * 2;
"#,
        expect![[r#"
            E0224: `+` needs operands of one shape, found real[2] and real[3] @ "[1.0, 2.0] + [1.0, 2.0, 3.0]"
              label: real[2] @ "[1.0, 2.0]"
              label: real[3] @ "[1.0, 2.0, 3.0]"
            E0224: `*` needs operands of one shape, found real[2, 2] and real[2] @ "m * [1.0, 2.0]"
              label: real[2, 2] @ "m"
              label: real[2] @ "[1.0, 2.0]"
        "#]],
    );
}

#[test]
fn if_conditions_and_branches() {
    check(
        r#"
fn f(x: real) {
    let a = if x { 1.0 } else { 2.0 };
    let b = if x > 0.0 { 1 } else { true };
    let c = if x > 0.0 { (1.0, 2.0) } else { 1.0 };
    let d = if x > 0.0 { [1.0, 2.0] } else { [1.0, 2.0, 3.0] };
    let e = if x > 0.0 { 1.0 };
    let ok = if x > 0.0 { 1 } else { 2.0 };
    0.0
}
"#,
        expect![[r#"
            E0214: the condition of `if` must be a boolean, found real @ "x"
            E0264: the branches of `if` have different types: int and bool @ "if x > 0.0 { 1 } else { true }"
              label: int @ "1"
              label: bool @ "true"
            E0263: the branches of `if` produce values of different shapes @ "if x > 0.0 { (1.0, 2.0) } else { 1.0 }"
              label: (real, real) @ "(1.0, 2.0)"
              label: real @ "1.0"
            E0264: the branches of `if` have different types: real[2] and real[3] @ "if x > 0.0 { [1.0, 2.0] } else { [1.0, 2.0, 3.0] }"
              label: real[2] @ "[1.0, 2.0]"
              label: real[3] @ "[1.0, 2.0, 3.0]"
            E0263: the branches of `if` produce values of different shapes @ "if x > 0.0 { 1.0 }"
              label: real @ "1.0"
              help: without `else`, the `if` is `()`: add an `else` branch, or end the branch with `;`
        "#]],
    );
}

#[test]
fn indexing() {
    check(
        r#"
fn f(v: real[3]) {
    let a = v[1.0];
    let b = v[3];
    let c = v[-1];
    let x = 1.0;
    let d = x[0];
    let e = (1.0, 2.0)[0];
    let ok = v[2] + [[1, 2], [3, 4]][1][0];
    0.0
}
"#,
        expect![[r#"
            E0213: an index must be an integer, found real @ "1.0"
            E0231: index 3 is out of range for length 3 @ "3"
            E0231: index -1 is out of range for length 3 @ "-1"
            E0230: cannot index real @ "x"
            E0230: cannot index (real, real) @ "(1.0, 2.0)"
        "#]],
    );
}

#[test]
fn arrays() {
    check(
        r#"
let a = [];
let b = [1.0, true];
let c = [1, true];
let d = [[1.0, 2.0], [1.0]];
let e = [(1.0, 2.0)];
let names = ["x", "y"];
let f = [1.0, "x"];
"#,
        expect![[r#"
            E0232: an empty array has no type; use `zeros(0)` @ "[]"
            E0211: an array element must be a real, found a boolean @ "true"
            E0233: the elements of an array must have one type: int and bool @ "true"
            E0233: the elements of an array must have one type: real[2] and real[1] @ "[1.0]"
            E0210: an array element must be a number, found (real, real) @ "(1.0, 2.0)"
            E0210: an array element must be a number, found a string @ "\"x\""
        "#]],
    );
}

#[test]
fn records_and_fields() {
    check(
        r#"
gen g() { param p = 0.0; x ~ normal(p, 1.0); }
let r = { a: 1.0, a: 2.0 };
let s = { a: 1.0 }.b;
let t = (1.0).a;
let u = g.q;
let ok = g.p + { a: 1.0 }.a;
"#,
        expect![[r#"
            E0221: field `a` is given twice @ "a"
            E0227: this record has no field `b`; its fields are `a` @ "b"
            E0227: `.a` needs a record or a choice map, found real @ "(1.0)"
            E0227: `g` has no parameter `q` @ "q"
              label: `g` is defined here @ "g"
        "#]],
    );
}

#[test]
fn tuple_fields_and_patterns() {
    check(
        r#"
fn f() {
    let t = (1.0, 2.0);
    let a = t.2;
    let b = (1.0).0;
    let (x, y, z) = t;
    let (p, q) = 1.0;
    let (u, (v, w)) = (1.0, (2.0, 3.0));
    u + v + w
}
"#,
        expect![[r#"
            E0220: this tuple has 2 components; there is no `.2` @ "2"
            E0220: `.0` needs a tuple, found real @ "(1.0)"
            E0250: this pattern has 3 parts but the value has 2 @ "(x, y, z)"
            E0250: a tuple pattern needs a tuple, found real @ "(p, q)"
        "#]],
    );
}

#[test]
fn calls_with_wrong_arguments() {
    check(
        r#"
fn f(a, b: real) { a + b }
gen g(mu: real) { x ~ normal(mu, 1.0); }
let a = f(1.0);
let b = f(1.0, 2.0, 3.0);
let c = f(1.0, b = true);
let d = f(1.0, c = 2.0);
let e = f(a = 1.0, 2.0);
let h = g(1.0)(2.0);
let i = 1.0(2.0);
let ok = f(b = 1.0, a = 2);
"#,
        expect![[r#"
            E0238: `f` is missing the argument `b` @ "f(1.0)"
              label: defined here @ "f"
            E0238: `f` takes 2 argument(s), but 3 were given @ "f(1.0, 2.0, 3.0)"
              label: defined here @ "f"
            E0240: argument `b` must be real, found bool @ "true"
              label: declared here @ "real"
            E0238: `f` is missing the argument `b` @ "f(1.0, c = 2.0)"
              label: defined here @ "f"
            E0239: `f` has no parameter `c` @ "c"
              label: defined here @ "f"
            E0235: positional arguments must come before named ones @ "2.0"
            E0236: `g` is already applied to its arguments @ "g(1.0)"
            E0237: real cannot be called @ "1.0"
        "#]],
    );
}

#[test]
fn call_violating_what_the_body_requires() {
    check(
        r#"
fn increment(x) { x + 1.0 }
fn negate(b) { !b }
fn split(p) { let (a, b) = p; a }
let a = increment(true);
let b = negate(1.0);
let c = split(1.0);
let ok = increment(2) + increment([1.0, 2.0])[0];
let e = E { increment(E { y ~ normal(0.0, 1.0); y }) };
"#,
        expect![[r#"
            E0240: argument `x` of `increment` must be a number, found bool @ "true"
              label: `x` is used as a number here @ "x"
            E0240: argument `b` of `negate` must be a boolean, found real @ "1.0"
              label: `b` is used as a boolean here @ "b"
            E0240: argument `p` of `split` must be a tuple of 2, found real @ "1.0"
              label: `p` is destructured as a tuple here @ "(a, b)"
        "#]],
    );
}

#[test]
fn conflicting_uses_of_a_parameter() {
    check(
        r#"
fn conflict(x) {
    let y = x + 1.0;
    x && true
}
fn branches_do_not_bind(x, vector) {
    if vector { sum(x) } else { x && true }
}
"#,
        expect![[r#"
            E0223: `&&` cannot combine a number and bool @ "x"
              primary: a number
              label: bool @ "true"
            E0264: the branches of `if` have different types: a number and bool @ "if vector { sum(x) } else { x && true }"
              label: a number @ "sum(x)"
              label: bool @ "x && true"
        "#]],
    );
}

#[test]
fn expectation_values() {
    check(
        r#"
let a = E { [1.0, 2.0] };
let b = E { true };
let c = E { y ~ normal(0.0, 1.0); };
let d = E { E { 1.0 } };
let e = E { (1.0, 2.0) };
"#,
        expect![[r#"
            E0212: the value of an expectation must be a scalar real, found real[2] @ "[1.0, 2.0]"
            E0211: the value of an expectation must be a real, found a boolean @ "true"
            E0210: the value of an expectation must be a number, found `()` @ "{ y ~ normal(0.0, 1.0); }"
            E0210: the value of an expectation must be a number, found (real, real) @ "(1.0, 2.0)"
        "#]],
    );
}

#[test]
fn expectation_as_a_number_in_a_report() {
    check(
        r#"
let obj = E { 1.0 };
report r = obj * 2.0;
let inside = E { obj * 2.0 };
"#,
        expect![[r#"
            E0210: the left operand of `*` must be a number, but this is an expectation @ "obj"
              help: use `estimate(objective, samples = n)` to estimate its value
        "#]],
    );
}

#[test]
fn annotations() {
    check(
        r#"
fn f(x: vector) { x }
let a: int = 1.0;
let b: real = true;
let c: real[2] = [1.0, 2.0, 3.0];
fn g() -> bool { 1.0 }
let ok: real = 1;
"#,
        expect![[r#"
            E0241: unknown type `vector` @ "vector"
              primary: not a type
              help: the types are real, int, bool (with dimensions, e.g. `real[3]`), gen, choices, expect, dist, fn, tuples and records
            E0252: this value is real, but the annotation says int @ "1.0"
              label: annotation @ "int"
            E0252: this value is bool, but the annotation says real @ "true"
              label: annotation @ "real"
            E0252: this value is real[3], but the annotation says real[2] @ "[1.0, 2.0, 3.0]"
              label: annotation @ "real[2]"
            E0252: this value is real, but the return type says bool @ "1.0"
              label: return type @ "bool"
        "#]],
    );
}

#[test]
fn annotated_argument_types() {
    check(
        r#"
fn f(n: int, v: real[2], c: choices, e: expect) { 0.0 }
gen m() { x ~ normal(0.0, 1.0); }
let a = f(1.5, [1.0, 2.0], {}, E { 1.0 });
let b = f(1, [1.0, 2.0, 3.0], {}, E { 1.0 });
let c = f(1, [1.0, 2.0], 1.0, E { 1.0 });
let d = f(1, [1.0, 2.0], { x: 1.0 }, 1.0);
let e = f(1, [1.0, 2.0], { x: { y: sum } }, E { 1.0 });
"#,
        expect![[r#"
            E0240: argument `n` must be int, found real @ "1.5"
              label: declared here @ "int"
            E0240: argument `v` must be real[2], found real[3] @ "[1.0, 2.0, 3.0]"
              label: declared here @ "real[2]"
            E0240: argument `c` must be a choice map, found real @ "1.0"
              label: declared here @ "choices"
            E0240: argument `e` must be an expectation, found real @ "1.0"
              label: declared here @ "expect"
            E0240: argument `c` must be a choice map, found a record holding a builtin function @ "{ x: { y: sum } }"
              label: declared here @ "choices"
        "#]],
    );
}

// ---- random choices ------------------------------------------------------------

#[test]
fn distributions() {
    check(
        r#"
let e = E {
    a ~ normal(0.0);
    b ~ normal([0.0, 1.0], 1.0);
    c ~ binomial(2.5, 0.5);
    d ~ categorical(0.5);
    f ~ mv_normal_diag(zeros(3), ones(2));
    g ~ mv_normal(zeros(2), diag(ones(3)));
    h ~ flip(true);
    i ~ normal(0.0, 1.0, mean = 2.0);
    j ~ categorical(zeros(0));
    0.0
};
"#,
        expect![[r#"
            E0412: `normal` takes 2 parameter(s) (mean, scale), but 1 were given @ "normal(0.0)"
            E0413: the `n` of `binomial` must be an integer, found real @ "2.5"
            E0413: the `probs` of `categorical` must be a vector of static size, found real @ "0.5"
            E0414: `mv_normal_diag`: the mean is real[3] but the scale is real[2] @ "ones(2)"
              label: the mean is real[3] @ "zeros(3)"
              help: the parameters must have one shape, the value's; a scalar parameter is broadcast to it
            E0414: `mv_normal`: the mean has length 2 but the scale_tril is real[3, 3] @ "diag(ones(3))"
            E0211: the `p` of `flip` must be a real, found a boolean @ "true"
            E0401: `normal` has no option `mean` @ "mean"
            E0414: `categorical` needs at least one probability @ "zeros(0)"
        "#]],
    );
}

#[test]
fn sampled_values_have_the_distribution_value_type() {
    check(
        r#"
let e = E {
    b ~ flip(0.5);
    k ~ poisson(2.0);
    v ~ dirichlet([1.0, 1.0]);
    x ~ normal(0.0, 1.0);
    let ok = if b { real(k) } else { v[0] + x };
    let bad1 = b + 1.0;
    let bad2 = x && true;
    let bad3 = v[2];
    ok
};
"#,
        expect![[r#"
            E0223: `+` cannot combine bool and real @ "b"
              primary: bool
              label: real @ "1.0"
            E0223: `&&` cannot combine real and bool @ "x"
              primary: real
              label: bool @ "true"
            E0231: index 2 is out of range for length 2 @ "2"
        "#]],
    );
}

#[test]
fn strategies() {
    check(
        r#"
let e = E {
    a ~ normal(0.0, 1.0) by magic;
    b ~ flip(0.5) by reparam;
    c ~ gamma(1.0, 1.0) by reparam;
    d ~ normal(0.0, 1.0) by enum;
    f ~ poisson(1.0) by enum;
    g ~ normal(0.0, 1.0) by mvd;
    h ~ flip(0.5) by implicit;
    i ~ normal(0.0, 1.0) by reinforce(baseline = true);
    j ~ normal(0.0, 1.0) by reparam(baseline = 1.0);
    k ~ normal(0.0, 1.0) by reinforce(offset = 1.0);
    ok ~ gamma(1.0, 1.0) by implicit;
    0.0
};
"#,
        expect![[r#"
            E0300: unknown strategy `magic` @ "magic"
              help: the strategies are reparam, implicit, reinforce, enum and mvd
            E0301: `by reparam` differentiates through the sampled value, but `flip` is discrete @ "by reparam"
              label: a `flip` choice @ "flip(0.5)"
              help: use `by enum`, `by mvd` or `by reinforce` for a discrete choice
            E0301: `gamma` has no explicit reparameterization @ "by reparam"
              label: a `gamma` choice @ "gamma(1.0, 1.0)"
              help: use `by implicit` (implicit reparameterization) or `by reinforce`
            E0301: `by enum` enumerates a finite support, but `normal` is continuous @ "by enum"
              label: a `normal` choice @ "normal(0.0, 1.0)"
              help: use `by reparam` or `by reinforce` for a continuous choice
            E0301: `by enum` needs a finite support, but `poisson` has infinitely many values @ "by enum"
              label: a `poisson` choice @ "poisson(1.0)"
              help: use `by mvd` or `by reinforce`
            E0301: `by mvd` (a measure-valued derivative) is defined for discrete choices, not `normal` @ "by mvd"
              label: a `normal` choice @ "normal(0.0, 1.0)"
              help: use `by reparam` or `by reinforce`
            E0301: `by implicit` applies to gamma, beta and dirichlet choices, not `flip` @ "by implicit"
              label: a `flip` choice @ "flip(0.5)"
              help: use `by enum` or `by reinforce`
            E0211: a baseline must be a real, found a boolean @ "true"
            E0302: `by reparam` takes no such argument @ "1.0"
            E0302: `by reinforce` takes no such argument @ "1.0"
              help: write `by reinforce(baseline = b)`
        "#]],
    );
}

#[test]
fn tilde_needs_a_distribution_or_gen() {
    check(
        r#"
gen g(mu: real) { x ~ normal(mu, 1.0); }
gen h() {
    a ~ 1.0;
    b ~ g;
    c ~ g(1.0) by reparam;
    d ~ marginal(g(1.0), keep = ["x"]);
}
"#,
        expect![[r#"
            E0305: `~` needs a distribution or an applied generative function, found real @ "1.0"
            E0310: `g` must be applied to its arguments first @ "g"
              help: write `g(...)`
            E0304: a traced call takes no strategy: each choice inside it has its own @ "by reparam"
            E0305: `~` needs a distribution or an applied generative function, found a marginal @ "marginal(g(1.0), keep = [\"x\"])"
        "#]],
    );
}

#[test]
fn addresses_in_gen_loops() {
    check(
        r#"
gen g(n: int) {
    for i in 0..n {
        x ~ normal(0.0, 1.0);
        y[i] ~ normal(0.0, 1.0);
        for j in 0..2 {
            z[j][i] ~ normal(0.0, 1.0);
            w[i][j] ~ normal(0.0, 1.0);
        }
    }
    u[0] ~ normal(0.0, 1.0);
    for k in 1..3 {
        v[k] ~ normal(0.0, 1.0);
    }
    y2[1.5] ~ normal(0.0, 1.0);
}
"#,
        expect![[r#"
            E0306: the address `x` is inside a `for` loop, so each iteration would sample it again @ "x"
              help: index the address by the loop variables: `x[i] ~ ...`
            E0306: the address `z` must be indexed by the variables of its enclosing loops, in order @ "z[j][i]"
              help: index the address by the loop variables: `z[i][j] ~ ...`
            E0306: the address `u` has indices but is not inside a `for` loop of this generative function @ "u[0]"
              help: write `u ~ ...`, or make the choice inside a `for` loop
            E0260: in a generative function, a `for` loop must start at 0 so that `v[k]` addresses line up with the loop @ "1"
              label: the address is made here @ "v[k]"
            E0306: the address `y2` has indices but is not inside a `for` loop of this generative function @ "y2[1.5]"
              help: write `y2 ~ ...`, or make the choice inside a `for` loop
            E0213: an address index must be an integer, found real @ "1.5"
        "#]],
    );
}

#[test]
fn addresses_made_twice() {
    check(
        r#"
gen g(c: bool) {
    x ~ normal(0.0, 1.0);
    x ~ normal(0.0, 1.0);
    if c { y ~ normal(0.0, 1.0); } else { y ~ normal(1.0, 1.0); }
    for i in 0..3 { z[i] ~ normal(0.0, 1.0); }
    z ~ normal(0.0, 1.0);
    if c { y ~ normal(0.0, 1.0); }
}
let e = E { a ~ normal(0.0, 1.0); a ~ normal(0.0, 1.0); a };
"#,
        expect![[r#"
            E0259: the address `x` is sampled more than once @ "x"
              label: first sampled here @ "x"
              help: an address is made at most once per run: rename one of the choices
            E0259: the address `z` is sampled more than once @ "z"
              label: first sampled here @ "z[i]"
              help: an address is made at most once per run: rename one of the choices
            E0259: the address `y` is sampled more than once @ "y"
              label: first sampled here @ "y"
              help: an address is made at most once per run: rename one of the choices
        "#]],
    );
}

#[test]
fn choice_map_operations() {
    check(
        r#"
gen g(mu: real) { x ~ normal(mu, 1.0); }
let e = E {
    let (tr, w) = sim g;
    let d = density(g(1.0), (1.0, 2.0));
    let m = merge(tr, { x: "a" });
    let clash = merge({ x: 1.0 }, { x: 2.0 });
    let s = sim 1.0;
    let p = density(normal(0.0, 1.0), tr);
    let q = stop_params(1.0);
    w
};
"#,
        expect![[r#"
            E0310: `g` must be applied to its arguments first @ "g"
              help: write `g(...)`
            E0314: a choice map holds numbers and choice maps, not (real, real) @ "(1.0, 2.0)"
            E0314: a choice map holds numbers and choice maps, not a string @ "{ x: \"a\" }"
            E0315: `merge`: the address `x` is in both choice maps @ "{ x: 1.0 }, { x: 2.0 }"
              label: first choice map @ "{ x: 1.0 }"
              label: second choice map @ "{ x: 2.0 }"
            E0313: `sim` needs a generative function, found real @ "1.0"
            E0316: `density` needs a generative function, found a distribution @ "normal(0.0, 1.0)"
            E0433: `stop_params` needs a generative function, found real @ "1.0"
        "#]],
    );
}

#[test]
fn marginal_arguments() {
    check(
        r#"
gen g(mu: real) { x ~ normal(mu, 1.0); y ~ normal(x, 1.0); }
let a = marginal(g, keep = ["x"]);
let b = marginal(g(1.0), keep = 1.0);
let c = marginal(g(1.0), keep = ["x"], via = 3);
let d = marginal(g(1.0));
let e = marginal(g(1.0), keep = ["x"], size = 2);
let f = marginal(1.0, keep = ["x"]);
let ok = marginal(g(1.0), keep = ["x"], via = sir(3));
let h = sir(0);
let i = sir(1.5);
"#,
        expect![[r#"
            E0420: apply `g` to its arguments first @ "g"
              help: write `g(...)`
            E0421: `keep` must list addresses as strings, found real @ "1.0"
              help: write e.g. `keep = ["x", "y"]`
            E0422: `via` needs an inference algorithm such as `sir(5)`, found int @ "3"
            E0423: `marginal` needs `keep = [...]`, the addresses to keep @ "marginal(g(1.0))"
            E0401: `marginal` has no option `size` @ "size"
            E0420: `marginal` needs a generative function, found real @ "1.0"
            E0408: `sir` needs a positive compile-time constant number of particles @ "0"
            E0213: the number of particles must be an integer, found real @ "1.5"
        "#]],
    );
}

#[test]
fn normalized_targets() {
    check(
        r#"
gen model() { x ~ normal(0.0, 1.0); z ~ normal(x, 0.5); }
gen proposal() { param m = 0.0; x ~ normal(m, 1.0); }
let data = { z: 1.0 };
let ok = normalize(target(model(), data), via = sir(10, proposal = proposal()));
let e = E { let (tr, lq) = sim ok; density(ok, tr) - lq };
let a = normalize(model(), via = sir(10, proposal = proposal()));
let b = normalize(target(model(), data), via = sir(10));
let c = normalize(target(model(), data));
gen shifted(s: real) { x ~ normal(s, 1.0); }
let d = target(shifted, data);
let f = target(model(), (1.0, 2.0));
let g = sir(10, proposal = shifted);
let h = sir(10, particles = 3);
let i = E { a ~ ok; 0.0 };
"#,
        expect![[r#"
            E0426: `normalize` needs a `target(model, data)`, found a generative function @ "model()"
            E0427: `normalize` needs `via = sir(m, proposal = q)` @ "normalize(target(model(), data), via = sir(10))"
              help: the proposal is a generative function over the model's latent addresses
            E0427: `normalize` needs `via = sir(m, proposal = q)` @ "normalize(target(model(), data))"
              help: the proposal is a generative function over the model's latent addresses
            E0425: apply `shifted` to its arguments first @ "shifted"
              help: write `shifted(...)`
            E0314: a choice map holds numbers and choice maps, not (real, real) @ "(1.0, 2.0)"
            E0408: `proposal` must be an applied generative function @ "shifted"
              help: apply it to its arguments: `shifted(...)`
            E0401: `sir` has no option `particles` @ "particles"
            E0305: `~` needs a distribution or an applied generative function, found a normalized target @ "ok"
        "#]],
    );
}

#[test]
fn builtin_arguments() {
    check(
        r#"
let a = exp(1.0, 2.0);
let b = log(true);
let c = sum(1.0);
let d = len(2);
let e = logsumexp(1.0);
let f = dot([1.0, 2.0], [1.0, 2.0, 3.0]);
let g = matvec([1.0, 2.0], [1.0, 2.0]);
let h = zeros(2.0);
let i = zeros(-1);
let j = int(true);
let k = min(1.0, true);
let l = pow(2.0);
let m = exp(1.0, base = 2.0);
let n = stop_grad(1.0, 2.0);
report o = add_cost(1.0);
let ok = (real(true), int(2.5), exp([1.0, 2.0])[0], len(zeros(3)), stop_grad((1.0, 2)));
"#,
        expect![[r#"
            E0400: `exp` takes 1 argument(s), but 2 were given @ "exp(1.0, 2.0)"
            E0211: the argument of `log` must be a real, found a boolean @ "true"
            E0402: `sum` needs an array of numbers, found real @ "1.0"
            E0404: `len` needs an array, found int @ "2"
            E0402: the argument of `logsumexp` must be an array, found real @ "1.0"
            E0405: `dot` needs two vectors of one length, found real[2] and real[3] @ "dot([1.0, 2.0], [1.0, 2.0, 3.0])"
            E0405: `matvec` needs an n×m matrix and an m-vector, found real[2] and real[2] @ "matvec([1.0, 2.0], [1.0, 2.0])"
            E0213: a length must be an integer, found real @ "2.0"
            E0407: an array length must be a non-negative compile-time constant @ "-1"
            E0406: `int` cannot convert bool @ "true"
            E0403: `min` needs numbers @ "min(1.0, true)"
            E0400: `pow` takes 2 arguments, but 1 were given @ "pow(2.0)"
            E0401: `exp` has no option `base` @ "base"
            E0400: `stop_grad` takes 1 argument(s), but 2 were given @ "stop_grad(1.0, 2.0)"
            E0415: `add_cost` can only be used inside `E { }` or a `gen` body @ "add_cost(1.0)"
            E0506: cannot report `()` @ "add_cost(1.0)"
              help: report a number, an array, or `estimate(objective, samples = n)`
        "#]],
    );
}

#[test]
fn grad_and_estimate() {
    check(
        r#"
fn f(x) { x * x }
gen g() { x ~ normal(0.0, 1.0); }
let a = grad(f, 1.0, 2.0);
let b = grad(g, 1.0);
let c = grad(f, true);
let d = grad();
let e = estimate(1.0);
let h = estimate(E { 1.0 }, samples = 2.5);
let i = estimate(E { 1.0 }, samples = 0);
let j = estimate(E { 1.0 }, n = 3);
let ok = grad(f, 2.0) + 1.0;
"#,
        expect![[r#"
            E0430: `f` takes 1 argument(s), but `grad` gave it 2 @ "grad(f, 1.0, 2.0)"
            E0430: `grad` differentiates a `fn`, found a generative function @ "g"
            E0211: a point to differentiate at must be a real, found a boolean @ "true"
            E0430: `grad` needs a function and the point to differentiate at @ "grad()"
            E0500: the argument of `estimate` must be an expectation `E { ... }`, found real @ "1.0"
              help: library objectives such as `elbo(model, guide, data)` are expectations
            E0213: `samples` must be an integer, found real @ "2.5"
            E0409: `samples` must be a positive compile-time constant @ "0"
            E0401: `estimate` has no option `n` @ "n"
        "#]],
    );
}

#[test]
fn gen_values_and_applications() {
    check(
        r#"
gen g(mu: real) { x ~ normal(mu, 1.0); mu }
gen h() { y ~ normal(0.0, 1.0); }
let e = E {
    let (a, w) = sim g(1.0);
    let (b, v) = sim h;
    let (c, u) = sim h();
    let d = density(g, a);
    w + v + u + g.nothing
};
"#,
        expect![[r#"
            E0310: `g` must be applied to its arguments first @ "g"
              help: write `g(...)`
            E0227: `g` has no parameter `nothing` @ "nothing"
              label: `g` is defined here @ "g"
        "#]],
    );
}

#[test]
fn cascades_are_avoided() {
    check(
        r#"
fn f() {
    let x = missing + 1.0;
    let y = x * 2.0 + 1.0;
    let z = undefined_fn(1.0).field[0];
    z && y > 0.0
}
"#,
        expect![[r#"
            E0200: cannot find `missing` in this scope @ "missing"
              primary: not found
            E0200: cannot find `undefined_fn` in this scope @ "undefined_fn"
              primary: not found
        "#]],
    );
}

#[test]
fn diagnostics_are_data_in_source_order() {
    let (_, diagnostics) =
        diagnostics("let b = true + 1.0;\nfn f() { later_error + 1.0 }\nlet a = f();\n");
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0223", "E0200"]);
    assert!(diagnostics.iter().all(Diagnostic::is_error));
}

#[test]
fn long_call_chains_do_not_exhaust_the_stack() {
    let mut src = String::new();
    for i in 0..400 {
        src.push_str(&format!(
            "fn f{i}(x) {{ let y = if x > 0.0 {{ [x, x] }} else {{ [0.0, x] }}; f{}(y[0] + 1.0) }}\n",
            i + 1
        ));
    }
    src.push_str("fn f400(x) { let z = 1.0 && true; x }\n");
    src.push_str("report r = f0(1.0) + f400(1.0) + true;\n");
    let (_, diagnostics) = diagnostics(&src);
    let codes: Vec<&str> = diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0223", "E0223"]);
}

#[test]
fn deeply_nested_items_are_checked() {
    for (open, close) in [
        ("{ ", " }"),
        ("[", "]"),
        ("if true { ", " } else { 0.0 }"),
        ("-(", ")"),
        ("E { ", " }"),
    ] {
        for depth in [50, 120, 240] {
            let src = format!(
                "fn f(x) {{ {}x{} }}\nlet y = {}1.0{};\n",
                open.repeat(depth),
                close.repeat(depth),
                open.repeat(depth),
                close.repeat(depth)
            );
            let (_, parse_errors) = parse_file(vprog_lang::FileId(0), &src);
            if parse_errors.is_empty() {
                diagnostics(&src);
            }
        }
    }
}

#[test]
fn deeply_nested_call_chains_do_not_exhaust_the_stack() {
    let depth = 120;
    let mut src = String::new();
    for i in 0..60 {
        src.push_str(&format!(
            "fn f{i}(x) {{ {}f{}(x){} }}\n",
            "-(".repeat(depth),
            i + 1,
            ")".repeat(depth)
        ));
    }
    src.push_str("fn f60(x) { x }\nreport r = f0(1.0);\n");
    let (_, diagnostics) = diagnostics(&src);
    assert!(diagnostics.is_empty());
}

// ---- host functions ----------------------------------------------------------

/// The diagnostics of a program without imports that may call the host
/// functions `warp(x, a)` and `cube(x)`.
fn host_diagnostics(src: &str) -> String {
    use vprog_lang::check::{HostSignature, check_program_with_host};
    let mut sources = SourceMap::new();
    let main = sources.add("main.vprog", src);
    let (ast, parse_errors) = parse_file(main, src);
    assert!(parse_errors.is_empty(), "{parse_errors:?}");
    let host = [
        HostSignature {
            name: "warp".into(),
            arity: 2,
        },
        HostSignature {
            name: "cube".into(),
            arity: 1,
        },
    ];
    let modules = [Module {
        name: "main",
        ast: &ast,
        imports: vec![],
    }];
    check_program_with_host(&modules, &host)
        .iter()
        .map(|d| {
            format!(
                "{}: {} @ {:?}\n",
                d.code,
                d.message,
                sources.snippet(d.span)
            )
        })
        .collect()
}

#[test]
fn host_functions_are_functions_of_real_scalars() {
    expect![[""]].assert_eq(&host_diagnostics(
        "let a = warp(1.0, 2) + cube(3.0);\nlet e = E { x ~ normal(0.0, 1.0); cube(x) };",
    ));
    expect![[r#"
        E0400: `warp` takes 2 argument(s), but 1 were given @ "warp(1.0)"
        E0211: an argument of `cube` must be a real, found a boolean @ "true"
        E0212: an argument of `cube` must be a scalar real, found real[2] @ "[1.0, 2.0]"
        E0400: `cube` takes 1 argument(s), but 0 were given @ "cube(x = 1.0)"
        E0401: `cube` has no option `x` @ "x"
        E0200: cannot find `cub` in this scope @ "cub"
    "#]].assert_eq(&host_diagnostics(
        "let a = warp(1.0);\nlet b = cube(true);\nlet c = cube([1.0, 2.0]);\nlet d = cube(x = 1.0);\nlet e = cub(1.0);",
    ));
}

// ---- tensor builtins ----------------------------------------------------

/// The result shapes of the tensor builtins, through annotated `let`s
/// (E0252 would report a disagreement).
#[test]
fn tensor_builtins_have_the_shapes_of_their_results() {
    check_ok(
        "tensor shapes",
        r#"
let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
let flags = [[true, false, true], [false, true, false]];
let ints = [[1, 2, 3], [4, 5, 6]];
let a: real[2, 2] = matmul(m, transpose(m));
let b: real[3, 3] = matmul(transpose(m), m);
let c: bool[3, 2] = transpose(flags);
let d: real[3, 2] = reshape(m, [3, 2]);
let e: real[6] = reshape(m, [6]);
let f: real[1, 6, 1] = reshape(m, [1, 6, 1]);
let g: real[6, 3] = concat(m, m, m);
let h: real[4, 3] = concat(ints, m);
let i: int[4, 3] = concat(ints, ints);
let j: real[1, 3] = slice(m, 1, 1);
let k: real[2] = slice([1.0, 2.0, 3.0], 1, 2);
let l: real[3, 3] = gather(m, [1, 0, 1]);
let n: bool[1, 3] = gather(flags, [1]);
let o: real[3] = sum(m, axis = 0);
let p: int[2] = sum(ints, axis = 1);
let q: real[3] = mean(ints, axis = 0);
let r: real[2] = logsumexp(m, axis = 1);
let s: real = max([1.0, 2.0], axis = 0);
"#,
    );
}

#[test]
fn matmul_and_transpose_shape_errors() {
    check(
        r#"
let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
let n = [[1.0, 2.0], [3.0, 4.0]];
let a = matmul(m, n);
let b = matmul(m, [1.0, 2.0, 3.0]);
let c = matmul(1.0, n);
let d = transpose([1.0, 2.0]);
let e = transpose(m, m);
"#,
        expect![[r#"
            E0450: `matmul`: the left operand is real[2, 3] but the right is real[2, 2]; the inner dimensions must agree @ "n"
              primary: real[2, 2]
              label: real[2, 3] @ "m"
            E0450: `matmul` needs two matrices, found real[2, 3] and real[3] @ "[1.0, 2.0, 3.0]"
              primary: real[3]
              label: real[2, 3] @ "m"
            E0402: an argument of `matmul` must be an array, found real @ "1.0"
            E0451: `transpose` needs a matrix, found real[2] @ "[1.0, 2.0]"
            E0400: `transpose` takes 1 argument(s), but 2 were given @ "transpose(m, m)"
        "#]],
    );
}

#[test]
fn reshape_shape_errors() {
    check(
        r#"
let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
let s = [3, 2];
let a = reshape(m, [4, 2]);
let b = reshape(m, 6);
let c = reshape(m, s);
let d = reshape(m, [2.0, 3.0]);
let e = reshape(m, [-6, -1]);
let f = reshape(m);
"#,
        expect![[r#"
            E0452: `reshape`: real[2, 3] has 6 element(s) but the shape [4, 2] holds 8 @ "reshape(m, [4, 2])"
            E0452: `reshape` needs the new shape as an array of non-negative integer constants @ "6"
              help: write e.g. `reshape(x, [2, 3])`
            E0452: `reshape` needs the new shape as an array of non-negative integer constants @ "s"
              help: write e.g. `reshape(x, [2, 3])`
            E0452: `reshape` needs the new shape as an array of non-negative integer constants @ "[2.0, 3.0]"
              help: write e.g. `reshape(x, [2, 3])`
            E0452: `reshape` needs the new shape as an array of non-negative integer constants @ "[-6, -1]"
              help: write e.g. `reshape(x, [2, 3])`
            E0400: `reshape` takes 2 argument(s), but 1 were given @ "reshape(m)"
        "#]],
    );
}

#[test]
fn concat_shape_errors() {
    check(
        r#"
let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
let n = [[1.0, 2.0], [3.0, 4.0]];
let a = concat(m, n);
let b = concat([1.0, 2.0], [true]);
let c = concat(m);
let d = concat(m, 1.0);
let e = concat([1.0], [2.0], [[3.0]]);
"#,
        expect![[r#"
            E0453: `concat`: the first argument is real[2, 3] but argument 2 is real[2, 2]; all dimensions but the first must agree @ "n"
              primary: real[2, 2]
              label: real[2, 3] @ "m"
            E0453: `concat`: the first argument is real[2] but argument 2 is bool[1]; the elements must have one type @ "[true]"
              primary: bool[1]
              label: real[2] @ "[1.0, 2.0]"
            E0400: `concat` takes at least 2 arguments, but 1 were given @ "concat(m)"
            E0402: an argument of `concat` must be an array, found real @ "1.0"
            E0453: `concat`: the first argument is real[1] but argument 3 is real[1, 1]; all dimensions but the first must agree @ "[[3.0]]"
              primary: real[1, 1]
              label: real[1] @ "[1.0]"
        "#]],
    );
}

#[test]
fn slice_bound_errors() {
    check(
        r#"
let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
let a = slice(m, 1, 2);
let b = slice(m, -1, 1);
let c = slice(m, 0, 1.5);
let d = slice(2.0, 0, 1);
"#,
        expect![[r#"
            E0454: `slice`: rows 1..3 are out of range for real[2, 3] @ "slice(m, 1, 2)"
            E0454: the start of `slice` must be a non-negative compile-time constant @ "-1"
            E0213: the length of `slice` must be an integer, found real @ "1.5"
            E0402: the first argument of `slice` must be an array, found real @ "2.0"
        "#]],
    );
}

#[test]
fn gather_index_errors() {
    check(
        r#"
let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
let a = gather(m, [0.5, 1.0]);
let b = gather(m, 1);
let c = gather(m, [[0, 1]]);
let d = gather(1.0, [0]);
"#,
        expect![[r#"
            E0455: the indices of `gather` must be a vector of integers, found real[2] @ "[0.5, 1.0]"
            E0455: the indices of `gather` must be a vector of integers, found int @ "1"
            E0455: the indices of `gather` must be a vector of integers, found int[1, 2] @ "[[0, 1]]"
            E0402: the first argument of `gather` must be an array, found real @ "1.0"
        "#]],
    );
}

#[test]
fn axis_reduction_errors() {
    check(
        r#"
let m = [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]];
let a = sum(m, axis = 2);
let b = max(m, axis = -1);
let c = mean(m, axis = 0, keep = 1);
let d = logsumexp(m, axis = 1.0);
let e = sum([true, false], axis = 0);
let f = max(m, m, axis = 0);
let g = softmax(m, axis = 0);
"#,
        expect![[r#"
            E0456: `sum`: axis 2 is out of range for real[2, 3] @ "2"
            E0456: `axis` must be a non-negative compile-time constant @ "-1"
            E0401: `mean` has no option `keep` @ "keep"
            E0213: `axis` must be an integer, found real @ "1.0"
            E0402: `sum` needs an array of numbers, found bool[2] @ "[true, false]"
            E0401: `max` has no option `axis` @ "axis"
            E0401: `softmax` has no option `axis` @ "axis"
        "#]],
    );
}
