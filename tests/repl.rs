//! `vprog repl`: at a terminal (driven in a pseudo-terminal) and reading a
//! pipe.

use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `vprog repl` with `input` on a pipe: (stdout, stderr, exit code).
fn piped(input: &str) -> (String, String, Option<i32>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vprog"))
        .arg("repl")
        .env("VPROG_HISTORY", history_file("piped"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start vprog repl");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("write the input");
    let out = child.wait_with_output().expect("wait for vprog repl");
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code(),
    )
}

fn history_file(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("vprog-repl-{name}-{}.history", std::process::id()))
}

#[test]
fn piped_input_prints_the_value_and_exits_0() {
    let (out, err, code) = piped("let x = 2.0;\nx * 3.0\n");
    assert_eq!(out, "6.0 : real\n", "stderr: {err}");
    assert_eq!(err, "");
    assert_eq!(code, Some(0));
}

#[test]
fn piped_entries_span_lines_and_errors_do_not_end_the_session() {
    let input = "gen g() {\n    param mu = 1.5;\n    x ~ normal(mu, 1.0);\n}\n\
                 g.mu * 2.0\n\
                 1.0 + true\n\
                 let v = [1.0,\n   2.0] ;\n\
                 :type v\n\
                 (v, 3, {a: true})\n\
                 let y = g.mu +\n    1.0;\n\
                 y\n\
                 :quit\n\
                 1.0\n";
    let (out, err, code) = piped(input);
    assert_eq!(
        out,
        "3.0 : real\n\
         real[2]\n\
         ([1.0, 2.0], 3, {a: true}) : (real[2], int, {a: bool})\n\
         2.5 : real\n"
    );
    assert!(
        err.contains("error[E0223]") || err.contains("[E0223] Error"),
        "{err}"
    );
    assert!(err.contains("<entry 3>:1:7"), "{err}");
    assert_eq!(code, Some(0));
}

#[test]
fn piped_fits_train_the_parameters_the_next_entries_see() {
    let input = "gen guide() {\n    param mu = 0.0;\n    x ~ normal(mu, 1.0) by reparam;\n}\n\
                 let objective = E { let (t, _) = sim guide; -(t.x - 3.0) ^ 2 };\n\
                 fit objective with sgd(lr = 0.05), steps = 300, particles = 8;\n\
                 guide.mu\n\
                 :reset\n\
                 guide.mu\n";
    let (out, err, code) = piped(input);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("fit objective: 300 steps"),
        "{out}\n{err}"
    );
    let mu: f64 = lines[1]
        .strip_suffix(" : real")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("a real: {out}"));
    assert!((mu - 3.0).abs() < 0.2, "mu = {mu}");
    assert_eq!(lines[2], "the session is reset");
    assert!(err.contains("cannot find `guide`"), "{err}");
    assert_eq!(code, Some(0));
}

/// The REPL at a terminal: a multi-line `gen`, an expression, `:type`, tab
/// completion, an entry with an error, an entry after it, `:quit`.
#[cfg(unix)]
#[test]
fn a_session_at_a_terminal_survives_an_error() {
    use rexpect::reader::Options;
    use rexpect::session::spawn_with_options;

    let history = history_file("pty");
    let mut command = Command::new(env!("CARGO_BIN_EXE_vprog"));
    command
        .arg("repl")
        .env("TERM", "xterm")
        .env("VPROG_HISTORY", &history)
        .env_remove("NO_COLOR");
    let options = Options::new()
        .timeout_ms(Some(30_000))
        .strip_ansi_escape_codes(true);
    let mut p = spawn_with_options(command, options).expect("start vprog repl in a pty");
    p.exp_string("vprog> ").expect("the prompt");

    // A generative function over several lines: an open `{` continues it.
    for line in [
        "gen g() {",
        "    param mu = 1.5;",
        "    x ~ normal(mu, 1.0);",
        "}",
    ] {
        p.send_line(line).expect("send");
    }
    p.send_line("g.mu * 2.0").expect("send");
    p.exp_string("3.0 : real")
        .expect("the expression's value and type");

    p.send_line(":type [1.0, 2.0]").expect("send");
    p.exp_string("real[2]").expect("the type");

    // Tab completes a name the session defined.
    p.send_line("let longname = 4.0;").expect("send");
    p.send("longn\t").expect("send");
    p.send_line(" * 2.0").expect("send");
    p.exp_string("8.0 : real")
        .expect("the completed name's value");

    p.send_line("1.0 + true").expect("send");
    p.exp_string("cannot combine real and bool")
        .expect("the error");
    p.exp_string("<entry").expect("a span into the entry");

    p.send_line("g.mu + 1.0").expect("send");
    p.exp_string("2.5 : real")
        .expect("the session survived the error");

    p.send_line(":quit").expect("send");
    p.exp_eof().expect("the REPL exits");

    let saved = std::fs::read_to_string(&history).unwrap_or_default();
    let _ = std::fs::remove_file(&history);
    assert!(saved.contains("g.mu + 1.0"), "history: {saved}");
}
