//! A token stream for the REPL: syntax highlighting and input completeness.
//!
//! The grammar in `spec/grammar.pest` is scannerless: pest reads
//! characters, not these tokens. The parser uses the lexer only around the
//! edges — to name the token at a syntax error, to find where to resume
//! after one, and to spot trailing commas among comments. The lexer
//! follows the grammar's lexical rules — whitespace is space, tab, CR
//! and LF; comments are `// ...` and non-nesting `/* ... */`; strings are
//! `"..."` on one line without escapes — so that what the REPL colours and
//! counts agrees with what the parser reads. It never fails: characters the
//! language does not use become [`TokenKind::Error`] tokens.

use std::ops::Range;

use logos::Logos;

/// The words the grammar reserves; none of them can be an identifier.
pub const KEYWORDS: &[&str] = &[
    "gen", "fn", "let", "mut", "param", "fit", "report", "import", "with", "by", "if", "else",
    "for", "plate", "in", "sim", "true", "false", "E",
];

/// What a token is, coarsely, for highlighting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A reserved word, see [`KEYWORDS`].
    Keyword,
    /// An identifier.
    Ident,
    /// An integer or real literal.
    Number,
    /// A string literal, possibly missing its closing quote.
    String,
    /// A line or block comment, possibly missing its closing `*/`.
    Comment,
    /// An operator: `+ - * / ^ == != < <= > >= && || ! = ~ -> ..`.
    Operator,
    /// A delimiter or separator: one of `( ) [ ] { } , ; : .`.
    Punct(char),
    /// A character the language does not use.
    Error,
}

/// The lexer proper. It distinguishes a little more than [`TokenKind`]
/// (unterminated strings and comments) because [`is_incomplete`] needs it.
#[derive(Logos, Clone, Copy, Debug, PartialEq, Eq)]
#[logos(skip r"[ \t\r\n]+")]
enum RawToken {
    #[token("gen")]
    #[token("fn")]
    #[token("let")]
    #[token("mut")]
    #[token("param")]
    #[token("fit")]
    #[token("report")]
    #[token("import")]
    #[token("with")]
    #[token("by")]
    #[token("if")]
    #[token("else")]
    #[token("for")]
    #[token("plate")]
    #[token("in")]
    #[token("sim")]
    #[token("true")]
    #[token("false")]
    #[token("E", priority = 5)]
    Keyword,

    #[regex("[A-Za-z_][A-Za-z0-9_]*")]
    Ident,

    #[regex(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")]
    Number,

    #[regex(r#""[^"\n]*""#)]
    String,

    /// A string cut off by the end of its line or of the input.
    #[regex(r#""[^"\n]*"#)]
    UnterminatedString,

    #[regex(r"//[^\n]*")]
    LineComment,

    /// `true` when the comment is closed by `*/`.
    #[token("/*", block_comment)]
    BlockComment(bool),

    #[token("==")]
    #[token("!=")]
    #[token("<=")]
    #[token(">=")]
    #[token("&&")]
    #[token("||")]
    #[token("->")]
    #[token("..")]
    #[token("+")]
    #[token("-")]
    #[token("*")]
    #[token("/")]
    #[token("^")]
    #[token("<")]
    #[token(">")]
    #[token("!")]
    #[token("=")]
    #[token("~")]
    Operator,

    #[token("(")]
    #[token(")")]
    #[token("[")]
    #[token("]")]
    #[token("{")]
    #[token("}")]
    #[token(",")]
    #[token(";")]
    #[token(":")]
    #[token(".")]
    Punct,
}

/// Skips a block comment's body after its `/*`; block comments do not nest.
fn block_comment(lexer: &mut logos::Lexer<RawToken>) -> bool {
    match lexer.remainder().find("*/") {
        Some(end) => {
            lexer.bump(end + 2);
            true
        }
        None => {
            lexer.bump(lexer.remainder().len());
            false
        }
    }
}

/// All raw tokens of `text` with their byte ranges; `None` marks a
/// character no token starts with.
fn raw_tokens(text: &str) -> impl Iterator<Item = (Option<RawToken>, Range<usize>)> + '_ {
    let mut lexer = RawToken::lexer(text);
    std::iter::from_fn(move || {
        let token = lexer.next()?;
        Some((token.ok(), lexer.span()))
    })
}

/// The tokens of `text` in order, with their byte ranges. Whitespace is
/// not a token; everything else is covered by exactly one token.
pub fn tokens(text: &str) -> Vec<(TokenKind, Range<usize>)> {
    raw_tokens(text)
        .map(|(token, range)| {
            let kind = match token {
                Some(RawToken::Keyword) => TokenKind::Keyword,
                Some(RawToken::Ident) => TokenKind::Ident,
                Some(RawToken::Number) => TokenKind::Number,
                Some(RawToken::String | RawToken::UnterminatedString) => TokenKind::String,
                Some(RawToken::LineComment | RawToken::BlockComment(_)) => TokenKind::Comment,
                Some(RawToken::Operator) => TokenKind::Operator,
                Some(RawToken::Punct) => match text[range.clone()].chars().next() {
                    Some(punct) => TokenKind::Punct(punct),
                    None => TokenKind::Error,
                },
                None => TokenKind::Error,
            };
            (kind, range)
        })
        .collect()
}

/// Whether the REPL should read another line before parsing `text`: some
/// `(`, `[` or `{` is still open, or a block comment is unterminated.
///
/// An unterminated string does *not* make the input incomplete: strings
/// cannot span lines, so no further line could close it, and the parser's
/// error is more useful than a continuation prompt. Mismatched or extra
/// closing brackets make the input complete (and wrong), for the same
/// reason.
pub fn is_incomplete(text: &str) -> bool {
    let mut open_brackets = Vec::new();
    for (token, range) in raw_tokens(text) {
        match token {
            Some(RawToken::BlockComment(false)) => return true,
            Some(RawToken::Punct) => {
                let punct = &text[range];
                let closing = match punct {
                    "(" => Some(")"),
                    "[" => Some("]"),
                    "{" => Some("}"),
                    _ => None,
                };
                if let Some(closing) = closing {
                    open_brackets.push(closing);
                } else if matches!(punct, ")" | "]" | "}") && open_brackets.pop() != Some(punct) {
                    return false;
                }
            }
            _ => {}
        }
    }
    !open_brackets.is_empty()
}

/// Whether a [`TokenKind::Comment`] token's text is a block comment
/// missing its `*/`.
pub(crate) fn is_unterminated_comment(comment: &str) -> bool {
    comment.starts_with("/*") && (comment.len() < 4 || !comment.ends_with("*/"))
}
