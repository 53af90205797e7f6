//! The REPL's session, commands and editor helpers, as data: a transcript
//! of entries and what they printed, compared with `expect![[...]]`
//! (`UPDATE_EXPECT=1` rewrites the expectations).

use super::editor::{complete, continues, highlight};
use super::output::Output;
use super::session::ReplSession;
use super::{Control, handle};
use expect_test::{Expect, expect};

/// Runs `entries` in a fresh session: each entry, then what it printed
/// (results as they are, errors prefixed by `! `).
fn transcript(entries: &[&str]) -> String {
    let mut session = ReplSession::new(0);
    let mut text = String::new();
    for entry in entries {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let control = {
            let mut output = Output {
                out: &mut out,
                err: &mut err,
                color: false,
                progress: false,
            };
            handle(&mut session, entry, &mut output)
        };
        text.push_str(&format!("> {}\n", entry.trim_end().replace('\n', "\n. ")));
        text.push_str(&String::from_utf8_lossy(&out));
        for line in String::from_utf8_lossy(&err).lines() {
            text.push_str(&format!("! {}\n", line.trim_end()));
        }
        if control == Control::Quit {
            text.push_str("(quit)\n");
            break;
        }
    }
    text
}

fn check(entries: &[&str], expected: Expect) {
    expected.assert_eq(&transcript(entries));
}

#[test]
fn expressions_print_their_value_and_type() {
    check(
        &[
            "1 + 2",
            "7 / 2",
            "[1.0, 2.0] * 2.0",
            "[[1, 2], [3, 4]]",
            "(1.5, true, {b: 2, a: [0.5]})",
            "()",
            "exp(0.0) == 1.0;",
        ],
        expect![[r#"
            > 1 + 2
            3 : int
            > 7 / 2
            3.5 : real
            > [1.0, 2.0] * 2.0
            [2.0, 4.0] : real[2]
            > [[1, 2], [3, 4]]
            [[1, 2], [3, 4]] : int[2, 2]
            > (1.5, true, {b: 2, a: [0.5]})
            (1.5, true, {a: [0.5], b: 2}) : (real, bool, {a: real[1], b: int})
            > ()
            () : ()
            > exp(0.0) == 1.0;
            true : bool
        "#]],
    );
}

#[test]
fn definitions_persist_and_later_ones_shadow_or_replace() {
    check(
        &[
            "let x = 2.0;",
            "x * 3.0",
            "fn twice(v) { 2.0 * v }",
            "twice(x)",
            "let x = 10.0;",
            "twice(x)",
            "fn twice(v) { 3.0 * v }",
            "twice(x)",
        ],
        expect![[r#"
            > let x = 2.0;
            > x * 3.0
            6.0 : real
            > fn twice(v) { 2.0 * v }
            > twice(x)
            4.0 : real
            > let x = 10.0;
            > twice(x)
            20.0 : real
            > fn twice(v) { 3.0 * v }
            > twice(x)
            30.0 : real
        "#]],
    );
}

#[test]
fn values_that_are_not_numbers_print_their_kind() {
    check(
        &[
            "gen g(m: real) { x ~ normal(m, 1.0); }",
            "g",
            "g(1.0)",
            "E { x ~ normal(0.0, 1.0); x }",
            "normal(0.0, 1.0)",
            "exp",
            ":type g(2.0)",
        ],
        expect![[r#"
            > gen g(m: real) { x ~ normal(m, 1.0); }
            > g
            <gen> : gen
            > g(1.0)
            <gen> : gen
            > E { x ~ normal(0.0, 1.0); x }
            <expect> : expect
            > normal(0.0, 1.0)
            <dist> : dist
            > exp
            <fn> : fn
            > :type g(2.0)
            gen
        "#]],
    );
}

#[test]
fn errors_point_into_the_entry_and_the_session_goes_on() {
    check(
        &["let a = 1.0;", "a + true", "let b = ;", "nope(1.0)", "a"],
        expect![[r#"
            > let a = 1.0;
            > a + true
            ! [E0223] Error: `+` cannot combine real and bool
            !    ╭─[ <entry 2>:1:5 ]
            !    │
            !  1 │ a + true
            !    │ ┬   ──┬─
            !    │ │     ╰─── bool
            !    │ │
            !    │ ╰───────── real
            ! ───╯
            > let b = ;
            ! [E0001] Error: expected an expression, found `;`
            !    ╭─[ <entry 3>:1:9 ]
            !    │
            !  1 │ let b = ;
            !    │         ┬
            !    │         ╰──
            ! ───╯
            > nope(1.0)
            ! [E0200] Error: cannot find `nope` in this scope
            !    ╭─[ <entry 4>:1:1 ]
            !    │
            !  1 │ nope(1.0)
            !    │ ──┬─
            !    │   ╰─── not found
            ! ───╯
            > a
            1.0 : real
        "#]],
    );
}

#[test]
fn a_rejected_entry_defines_nothing() {
    check(
        &["let ok = 1.0;\nlet bad = ok + true;", "bad", "ok"],
        expect![[r#"
            > let ok = 1.0;
            . let bad = ok + true;
            ! [E0223] Error: `+` cannot combine real and bool
            !    ╭─[ <entry 1>:2:16 ]
            !    │
            !  2 │ let bad = ok + true;
            !    │           ─┬   ──┬─
            !    │            │     ╰─── bool
            !    │            │
            !    │            ╰───────── real
            ! ───╯
            > bad
            ! [E0200] Error: cannot find `bad` in this scope
            !    ╭─[ <entry 2>:1:1 ]
            !    │
            !  1 │ bad
            !    │ ─┬─
            !    │  ╰─── not found
            ! ───╯
            > ok
            ! [E0200] Error: cannot find `ok` in this scope
            !    ╭─[ <entry 3>:1:1 ]
            !    │
            !  1 │ ok
            !    │ ─┬
            !    │  ╰── not found
            ! ───╯
        "#]],
    );
}

#[test]
fn reports_fits_and_estimates_run_with_persistent_parameters() {
    let text = transcript(&[
        "gen guide() {\n    param mu = 0.0;\n    x ~ normal(mu, 1.0) by reparam;\n}",
        "let objective = E { let (t, _) = sim guide; -(t.x - 2.0) ^ 2 };",
        "fit objective with sgd(lr = 0.05), steps = 200, particles = 8;",
        "report mu = guide.mu;",
        "estimate(objective, samples = 2000)",
        "gen guide() {\n    param mu = 0.0;\n    x ~ normal(mu, 1.0) by reparam;\n}",
        "guide.mu",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[6].starts_with("fit objective: 200 steps, objective "),
        "{text}"
    );
    let mu: f64 = lines[8]
        .strip_prefix("report mu = ")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((mu - 2.0).abs() < 0.2, "{text}");
    // E[-(x - 2)²] = -1 at the optimum.
    assert!(lines[10].ends_with("(2000 samples) : real"), "{text}");
    let estimate: f64 = lines[10].split(' ').next().unwrap().parse().unwrap();
    assert!((estimate + 1.0).abs() < 0.2, "{text}");
    // Redefining the guide starts its parameters again.
    assert_eq!(lines.last(), Some(&"0.0 : real"), "{text}");
}

#[test]
fn commands() {
    check(
        &[
            ":type [1, 2, 3]",
            ":type (1.0, {a: true})",
            ":ir 1.0 + 2.0 * 3.0",
            ":frob",
            ":type let x = 1;",
            ":reset",
            ":quit",
            "1.0",
        ],
        expect![[r#"
            > :type [1, 2, 3]
            int[3]
            > :type (1.0, {a: true})
            (real, {a: bool})
            > :ir 1.0 + 2.0 * 3.0
            ── after lower ──
            func @entry() -> (f64) {
              %0 = const 1.0 : f64
              %1 = const 2.0 : f64
              %2 = const 3.0 : f64
              %3 = const 6.0 : f64
              %4 = const 7.0 : f64
              return %4
            }
            ── after simplify ──
            func @entry() -> (f64) {
              %0 = const 7.0 : f64
              return %0
            }
            > :frob
            ! error: unknown command `:frob`; `:help` lists the commands
            > :type let x = 1;
            ! [E0001] Error: expected an expression
            !    ╭─[ <entry 4>:1:1 ]
            !    │
            !  1 │ let x = 1;
            !    │ ─────┬────
            !    │      ╰────── declarations, not an expression
            !    │
            !    │ Help: this command takes an expression
            ! ───╯
            > :reset
            the session is reset
            > :quit
            (quit)
        "#]],
    );
}

#[test]
fn ir_shows_every_pass_of_an_objective() {
    let text = transcript(&[
        "gen g() { param mu = 0.0; x ~ normal(mu, 1.0) by reparam; }",
        ":ir E { let (t, _) = sim g; t.x }",
    ]);
    let passes: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("── after "))
        .collect();
    assert_eq!(
        passes,
        [
            "lower ──",
            "soundness ──",
            "adev ──",
            "simplify ──",
            "vmap ──",
            "simplify ──",
            "vjp ──",
            "simplify ──"
        ],
        "{text}"
    );
    assert!(
        text.contains("sample<normal, site=0, reparam, explicit>"),
        "{text}"
    );
    assert!(text.contains("draw<normal"), "{text}");
}

#[test]
fn load_runs_a_files_items() {
    let path = std::env::temp_dir().join(format!("vprog-repl-load-{}.vprog", std::process::id()));
    std::fs::write(&path, "let base = 4.0;\nreport doubled = 2.0 * base;\n").unwrap();
    let text = transcript(&[&format!(":load {}", path.display()), "base + 1.0"]);
    let _ = std::fs::remove_file(&path);
    assert!(text.contains("report doubled = 8.0\n"), "{text}");
    assert!(text.contains("5.0 : real\n"), "{text}");
    let missing = transcript(&[":load /nonexistent/file.vprog"]);
    assert!(
        missing.contains("! error: cannot read `/nonexistent/file.vprog`"),
        "{missing}"
    );
}

#[test]
fn entries_continue_while_a_bracket_is_open_or_an_operator_trails() {
    assert!(continues("gen g() {"));
    assert!(continues("let v = [1.0,"));
    assert!(continues("let y = x +"));
    assert!(continues("fit e with sgd(lr = 0.1), steps = 10,"));
    assert!(continues("/* a comment"));
    assert!(!continues("let x = 2.0;"));
    assert!(!continues("x * 3.0"));
    assert!(!continues("x * 3.0 // a comment +"));
    assert!(!continues("}"));
    assert!(!continues(""));
}

/// `text` without ANSI escape sequences.
fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn highlighting_colors_tokens_and_keeps_the_text() {
    for line in [
        "gen g() { x ~ normal(0.0, 1.0) by reparam; } // done",
        ":type [1, 2] $",
        "let s = \"x\"; /* open",
        "",
    ] {
        assert_eq!(strip_ansi(&highlight(line)), line);
    }
    assert_eq!(
        highlight("let x = exp(1.5);"),
        "\x1b[1;35mlet\x1b[0m x = \x1b[34mexp\x1b[0m(\x1b[36m1.5\x1b[0m);"
    );
    assert_eq!(highlight(":ir x"), "\x1b[1m:ir\x1b[0m x");
}

#[test]
fn completion_offers_names_in_scope_and_commands() {
    let names = ["longname", "lower", "guide"];
    let (start, found) = complete("2.0 * lo", 8, names.iter().copied());
    assert_eq!(
        (start, found),
        (6, vec!["longname".to_string(), "lower".to_string()])
    );
    let (start, found) = complete(":ty", 3, names.iter().copied());
    assert_eq!((start, found), (0, vec![":type".to_string()]));
    let (_, found) = complete("x + 1", 5, names.iter().copied());
    assert!(found.is_empty());
}
