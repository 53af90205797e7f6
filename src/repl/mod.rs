//! `vprog repl`: experiments at a prompt.
//!
//! On a terminal the REPL reads entries with rustyline (history, syntax
//! highlighting, tab-completion; an open bracket, or a trailing operator or
//! comma, continues the entry on the next line). With standard input from a pipe or a file it reads lines
//! plainly, grouping them into entries by the same rule, prints only
//! results (errors on standard error), and exits 0 at the end of input.
//!
//! The session itself — definitions, parameters, how an entry is
//! evaluated — is in `session.rs`; the editor's helper in `editor.rs`; the
//! `:commands` in `commands.rs`; how results are shown in `output.rs`.
//! An error in an entry is printed and the session goes on.

mod commands;
mod editor;
mod output;
mod session;
#[cfg(test)]
mod tests;

use commands::Command;
use editor::{ReplHelper, history_path};
use output::Output;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;
use rustyline::{CompletionType, Config, Editor};
use session::ReplSession;
use std::io::{BufRead, IsTerminal};
use std::process::ExitCode;

/// The prompt.
const PROMPT: &str = "vprog> ";

/// Whether the session should go on after an entry.
#[derive(Debug, PartialEq)]
enum Control {
    Continue,
    Quit,
}

/// Runs the REPL until `:quit` or the end of input.
pub fn main(seed: u64) -> ExitCode {
    let mut session = ReplSession::new(seed);
    if std::io::stdin().is_terminal() {
        interactive(&mut session)
    } else {
        piped(&mut session)
    }
}

/// Whether colors are wanted on a stream that is a terminal.
fn colors(is_terminal: bool) -> bool {
    is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Evaluates one entry or command. A panic — a bug in vprog — is reported
/// (by the panic hook) and the session goes on: an entry changes the
/// session only once it has been accepted.
fn handle(session: &mut ReplSession, text: &str, out: &mut Output) -> Control {
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        handle_entry(session, text, out)
    }));
    caught.unwrap_or(Control::Continue)
}

/// [`handle`] without the safety net.
fn handle_entry(session: &mut ReplSession, text: &str, out: &mut Output) -> Control {
    let trimmed = text.trim();
    if !trimmed.starts_with(':') {
        session.eval(text, out);
        return Control::Continue;
    }
    match commands::parse(trimmed) {
        Err(message) => out.error(&format!("error: {message}\n")),
        Ok(Command::Quit) => return Control::Quit,
        Ok(Command::Help) => out.text(&commands::help()),
        Ok(Command::Reset) => {
            session.reset();
            out.line("the session is reset");
        }
        Ok(Command::Type(expr)) => {
            session.type_of(expr, out);
        }
        Ok(Command::Ir(expr)) => {
            session.ir_of(expr, out);
        }
        Ok(Command::Time(entry)) => {
            session.time(entry, out);
        }
        Ok(Command::Load(path)) => match std::fs::read_to_string(path) {
            Ok(text) => {
                session.load_file(path, &text, out);
            }
            Err(e) => out.error(&format!("error: cannot read `{path}`: {e}\n")),
        },
    }
    Control::Continue
}

/// The REPL on a terminal, with rustyline.
fn interactive(session: &mut ReplSession) -> ExitCode {
    let config = Config::builder()
        .auto_add_history(true)
        .completion_type(CompletionType::List)
        .build();
    let mut editor: Editor<ReplHelper, DefaultHistory> = match Editor::with_config(config) {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("error: cannot start the line editor: {e}");
            return ExitCode::from(1);
        }
    };
    editor.set_helper(Some(ReplHelper {
        names: Vec::new(),
        color: colors(std::io::stdout().is_terminal()),
    }));
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is the normal first run.
        let _ = editor.load_history(path);
    }
    println!(
        "vprog {} — enter items or expressions; :help for help, :quit to leave",
        env!("CARGO_PKG_VERSION")
    );
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut out = Output {
        out: &mut stdout,
        err: &mut stderr,
        color: colors(std::io::stderr().is_terminal()),
        progress: std::io::stderr().is_terminal(),
    };
    loop {
        match editor.readline(PROMPT) {
            Ok(text) => {
                if text.trim().is_empty() {
                    continue;
                }
                if handle(session, &text, &mut out) == Control::Quit {
                    break;
                }
                if let Some(helper) = editor.helper_mut() {
                    helper.names = session.names();
                }
            }
            // Ctrl-C abandons the line being edited.
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                out.error(&format!("error: cannot read the input: {e}\n"));
                break;
            }
        }
    }
    if let Some(path) = &history
        && let Err(e) = editor.save_history(path)
    {
        out.error(&format!(
            "warning: cannot save the history to `{}`: {e}\n",
            path.display()
        ));
    }
    ExitCode::SUCCESS
}

/// The REPL reading a pipe or a file: no prompt, results on standard
/// output, errors on standard error, exit 0 at the end of the input.
fn piped(session: &mut ReplSession) -> ExitCode {
    let (mut stdout, mut stderr) = (std::io::stdout(), std::io::stderr());
    let mut out = Output {
        out: &mut stdout,
        err: &mut stderr,
        color: false,
        progress: false,
    };
    let mut entry = String::new();
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                out.error(&format!("error: cannot read the input: {e}\n"));
                return ExitCode::from(1);
            }
        };
        entry.push_str(&line);
        entry.push('\n');
        if editor::continues(&entry) {
            continue;
        }
        let text = std::mem::take(&mut entry);
        if !text.trim().is_empty() && handle(session, &text, &mut out) == Control::Quit {
            return ExitCode::SUCCESS;
        }
    }
    // An entry still open at the end of the input: its syntax error says
    // what is missing.
    if !entry.trim().is_empty() {
        handle(session, &entry, &mut out);
    }
    ExitCode::SUCCESS
}
