//! Where to resume after a syntax error.
//!
//! The parser reads a file one item at a time. When an item fails to
//! parse, it skips to the first line, after the error, that starts (after
//! indentation) with a keyword that begins an item, and parses items from
//! there; the skipped text yields only the one diagnostic.
//!
//! `gen`, `fn`, `fit`, `report` and `import` can only begin an item, so a
//! line starting with one of them is always a resumption point. `let` and
//! `param` also begin statements inside blocks, so a line starting with
//! them is one only outside every brace opened since the broken item began:
//! a missing `;` inside a function body then resumes after the function
//! rather than at its next statement. Tokens come from the lexer, so braces
//! and keywords inside strings and comments do not count.

use crate::lexer::{self, TokenKind};

/// Keywords that begin only items.
const ITEM_ONLY_KEYWORDS: &[&str] = &["gen", "fn", "fit", "report", "import"];
/// Keywords that begin items and statements.
const ITEM_OR_STATEMENT_KEYWORDS: &[&str] = &["let", "param"];

/// The byte offset to resume parsing at after a syntax error at
/// `error_position` in the item that starts at or after `item_offset`;
/// `None` if no item starts after the error. The offset is always past
/// the broken item's first token, so parsing makes progress.
pub(super) fn resume_offset(
    text: &str,
    item_offset: usize,
    error_position: usize,
) -> Option<usize> {
    let mut brace_depth = 0i64;
    let mut is_first_token = true;
    for (kind, range) in lexer::tokens(&text[item_offset..]) {
        if kind == TokenKind::Comment {
            continue;
        }
        let start = item_offset + range.start;
        let end = item_offset + range.end;
        if !is_first_token
            && kind == TokenKind::Keyword
            && start >= error_position
            && starts_line(text, start)
        {
            let word = &text[start..end];
            if ITEM_ONLY_KEYWORDS.contains(&word)
                || (ITEM_OR_STATEMENT_KEYWORDS.contains(&word) && brace_depth <= 0)
            {
                return Some(start);
            }
        }
        match kind {
            TokenKind::Punct('{') => brace_depth += 1,
            TokenKind::Punct('}') => brace_depth -= 1,
            _ => {}
        }
        is_first_token = false;
    }
    None
}

/// Whether only indentation precedes byte `position` on its line.
fn starts_line(text: &str, position: usize) -> bool {
    let line_start = text[..position]
        .rfind('\n')
        .map_or(0, |newline| newline + 1);
    text[line_start..position]
        .chars()
        .all(|c| c == ' ' || c == '\t' || c == '\r')
}
