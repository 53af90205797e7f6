//! The line editor's helper: syntax highlighting and input completeness
//! from the lexer, tab-completion of names, and the history file.
//!
//! Highlighting and the decision whether Enter ends an entry both use
//! `vprog_lang::lexer`, the same token rules the parser follows, so an
//! open `(`, `[`, `{` or block comment continues the entry on the next line
//! exactly when the parser would need more input.

use super::commands::COMMANDS;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::{CmdKind, Highlighter};
use rustyline::hint::Hinter;
use rustyline::validate::{ValidationContext, ValidationResult, Validator};
use rustyline::{Context, Helper};
use std::borrow::Cow;
use std::path::PathBuf;
use vprog::lang::lexer::{KEYWORDS, TokenKind, is_incomplete, tokens};

/// The REPL's helper for rustyline.
pub struct ReplHelper {
    /// The names the session defines, refreshed after every entry.
    pub names: Vec<String>,
    /// Whether to color the input.
    pub color: bool,
}

impl ReplHelper {
    /// Every name completion offers for a word: keywords, builtins, the
    /// session's names.
    fn candidates(&self) -> impl Iterator<Item = &str> {
        KEYWORDS
            .iter()
            .copied()
            .chain(vprog::lang::check::builtin_names().iter().copied())
            .chain(self.names.iter().map(String::as_str))
    }
}

/// `line` with ANSI colors by token kind (the display width is unchanged:
/// only escape sequences are inserted). A leading `:command` is bold.
pub fn highlight(line: &str) -> String {
    let (command, code) = match line.strip_prefix(':') {
        Some(rest) => {
            let end = rest.find(char::is_whitespace).map_or(line.len(), |i| i + 1);
            (&line[..end], &line[end..])
        }
        None => ("", line),
    };
    let mut out = String::with_capacity(line.len() * 2);
    if !command.is_empty() {
        out.push_str("\x1b[1m");
        out.push_str(command);
        out.push_str("\x1b[0m");
    }
    let mut last = 0;
    for (kind, range) in tokens(code) {
        out.push_str(&code[last..range.start]);
        let text = &code[range.clone()];
        let style = match kind {
            TokenKind::Keyword => Some("\x1b[1;35m"),
            TokenKind::Number => Some("\x1b[36m"),
            TokenKind::String => Some("\x1b[32m"),
            TokenKind::Comment => Some("\x1b[90m"),
            TokenKind::Error => Some("\x1b[31m"),
            TokenKind::Ident if vprog::lang::check::builtin_names().contains(&text) => {
                Some("\x1b[34m")
            }
            TokenKind::Ident | TokenKind::Operator | TokenKind::Punct(_) => None,
        };
        match style {
            Some(style) => {
                out.push_str(style);
                out.push_str(text);
                out.push_str("\x1b[0m");
            }
            None => out.push_str(text),
        }
        last = range.end;
    }
    out.push_str(&code[last..]);
    out
}

/// Whether an entry needs another line: a bracket or block comment is
/// still open (the lexer's [`is_incomplete`]), or the last token is a `,`
/// or an operator, which no entry can end with — so a `fit` whose options
/// go on over several lines reads as one entry.
pub fn continues(text: &str) -> bool {
    if is_incomplete(text) {
        return true;
    }
    let last = tokens(text)
        .into_iter()
        .rev()
        .find(|(kind, _)| *kind != TokenKind::Comment);
    matches!(last, Some((TokenKind::Operator | TokenKind::Punct(','), _)))
}

/// The start of the word ending at `pos` and the candidates completing it.
pub fn complete<'c>(
    line: &str,
    pos: usize,
    candidates: impl Iterator<Item = &'c str>,
) -> (usize, Vec<String>) {
    let before = &line[..pos];
    if let Some(command) = before.strip_prefix(':')
        && !command.contains(char::is_whitespace)
    {
        let found = COMMANDS
            .iter()
            .filter(|c| c.name.starts_with(before))
            .map(|c| c.name.to_string())
            .collect();
        return (0, found);
    }
    let start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || *c == '_')
        .last()
        .map_or(pos, |(i, _)| i);
    let word = &before[start..];
    if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
        return (pos, Vec::new());
    }
    let mut found: Vec<String> = candidates
        .filter(|c| c.starts_with(word))
        .map(str::to_string)
        .collect();
    found.sort();
    found.dedup();
    (start, found)
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, found) = complete(line, pos, self.candidates());
        Ok((
            start,
            found
                .into_iter()
                .map(|c| Pair {
                    display: c.clone(),
                    replacement: c,
                })
                .collect(),
        ))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}

impl Highlighter for ReplHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        if self.color {
            Cow::Owned(highlight(line))
        } else {
            Cow::Borrowed(line)
        }
    }

    fn highlight_char(&self, _line: &str, _pos: usize, kind: CmdKind) -> bool {
        // Any edit can change how the rest of the line lexes (an opened
        // comment or string), so the whole line is highlighted again.
        self.color && kind != CmdKind::MoveCursor
    }
}

impl Validator for ReplHelper {
    fn validate(&self, ctx: &mut ValidationContext) -> rustyline::Result<ValidationResult> {
        Ok(if continues(ctx.input()) {
            ValidationResult::Incomplete
        } else {
            ValidationResult::Valid(None)
        })
    }
}

impl Helper for ReplHelper {}

/// The history file: `$VPROG_HISTORY`, or `.vprog_history` in the home
/// directory; `None` when neither is known (history is then not saved).
pub fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("VPROG_HISTORY") {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))?;
    Some(PathBuf::from(home).join(".vprog_history"))
}
