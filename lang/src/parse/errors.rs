//! Syntax errors: from pest's error to a diagnostic a person can read.
//!
//! pest reports a failed parse as a position and what it tried there: the
//! rules that failed ("positives") and, with error detail enabled, the
//! literal tokens it attempted. Both lists are long and mechanical — after
//! `let x = 1` it lists every binary operator and postfix suffix besides
//! the `;` that is missing. This module turns them into a short message:
//!
//! 1. Each rule and each structural token (`;`, `)`, `}`, ...) becomes an
//!    [`Expected`] in words ("a statement", "an expression", "`;`").
//! 2. Broad expectations absorb the narrow ones they include: a statement
//!    can begin with an expression, an expression with an identifier or a
//!    `(`. "An operator" (an expression could continue) is dropped when
//!    anything else is expected, since the missing piece is nearly always
//!    the other one.
//! 3. The message is "expected A, B or C, found X", pointing at X: the
//!    token at the error position, or the end of input. Unterminated strings
//!    and comments and stray characters get messages of their own.

use pest::error::{Error, ErrorVariant, InputLocation};

use super::grammar::Rule;
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, TokenKind};
use crate::span::{FileId, Span};

/// The code of every syntax error.
pub(super) const SYNTAX_ERROR: &str = "E0001";
/// The code of items the parser refuses because they nest too deeply.
pub(super) const TOO_DEEP: &str = "E0003";

/// The tokens worth naming in "expected ..."; the others (operators,
/// letters, digits, whitespace) are covered by a broader expectation.
const STRUCTURAL_TOKENS: &[&str] = &[
    ";", ",", ":", "=", "~", "..", "->", "(", ")", "[", "]", "{", "}",
];

/// One thing the parser would have accepted, in the order messages list
/// them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Expected {
    Item,
    Statement,
    Expression,
    Pattern,
    Type,
    Parameter,
    RecordField,
    NamedArgument,
    Identifier,
    String,
    Integer,
    Keyword(&'static str),
    Token(&'static str),
    Operator,
    EndOfInput,
}

impl Expected {
    fn describe(self) -> String {
        match self {
            Expected::Item => "an item".to_string(),
            Expected::Statement => "a statement".to_string(),
            Expected::Expression => "an expression".to_string(),
            Expected::Pattern => "a pattern".to_string(),
            Expected::Type => "a type".to_string(),
            Expected::Parameter => "a parameter".to_string(),
            Expected::RecordField => "a field `name: value`".to_string(),
            Expected::NamedArgument => "a named argument `name = value`".to_string(),
            Expected::Identifier => "an identifier".to_string(),
            Expected::String => "a string".to_string(),
            Expected::Integer => "an integer".to_string(),
            Expected::Keyword(word) | Expected::Token(word) => format!("`{word}`"),
            Expected::Operator => "an operator".to_string(),
            Expected::EndOfInput => "end of input".to_string(),
        }
    }

    /// Whether `self`, when expected, makes mentioning `other` redundant.
    fn includes(self, other: Expected) -> bool {
        use Expected::*;
        match self {
            Item => matches!(other, Statement),
            Statement => matches!(
                other,
                Expression
                    | Identifier
                    | String
                    | Integer
                    | Keyword("let" | "param" | "for" | "plate")
                    | Token(";" | "(" | "[" | "{")
            ),
            Expression => matches!(
                other,
                Identifier | String | Integer | NamedArgument | Token("(" | "[" | "{")
            ),
            Pattern => matches!(other, Identifier | Keyword("mut") | Token("(")),
            Type => matches!(other, Identifier | Token("(" | "{")),
            Parameter => matches!(other, Identifier),
            // `(` and `[` also continue an expression as call and index.
            Operator => matches!(other, Token("(" | "[")),
            _ => false,
        }
    }
}

/// What a failed rule says the parser was looking for.
fn expected_for_rule(rule: Rule) -> &'static [Expected] {
    use Expected::*;
    match rule {
        Rule::next_item
        | Rule::import_item
        | Rule::gen_item
        | Rule::fn_item
        | Rule::fit_item
        | Rule::report_item
        | Rule::gen_kw
        | Rule::fn_kw
        | Rule::fit_kw
        | Rule::report_kw
        | Rule::import_kw => &[Item],
        // These begin items too; at the top level an `Item` alongside them
        // absorbs the `Statement`.
        Rule::let_stmt | Rule::param_stmt | Rule::let_kw | Rule::param_kw => &[Statement],
        // Only blocks hold these, and a block's closing brace could always
        // stand where a statement could. (pest's list often lacks the `}`:
        // it tries a keyword in a lookahead and then reports the furthest
        // position that lookahead reached.)
        Rule::let_sample_stmt
        | Rule::sample_stmt
        | Rule::assign_stmt
        | Rule::for_stmt
        | Rule::plate_stmt
        | Rule::block_expr_stmt
        | Rule::expr_stmt
        | Rule::empty_stmt => &[Statement, Token("}")],
        Rule::expr
        | Rule::postfix_expr
        | Rule::neg_op
        | Rule::not_op
        | Rule::float_lit
        | Rule::bool_lit
        | Rule::if_expr
        | Rule::if_kw
        | Rule::expect_expr
        | Rule::expect_kw
        | Rule::sim_expr
        | Rule::sim_kw
        | Rule::comprehension
        | Rule::array_lit
        | Rule::record_lit
        | Rule::paren_or_tuple
        | Rule::arg_list => &[Expression],
        Rule::or_op
        | Rule::and_op
        | Rule::eq_op
        | Rule::ne_op
        | Rule::le_op
        | Rule::ge_op
        | Rule::lt_op
        | Rule::gt_op
        | Rule::add_op
        | Rule::sub_op
        | Rule::mul_op
        | Rule::div_op
        | Rule::pow_op
        | Rule::call_suffix
        | Rule::tuple_field_suffix
        | Rule::field_suffix
        | Rule::index_suffix
        | Rule::block_expr_tail => &[Operator],
        Rule::pattern | Rule::tuple_pattern | Rule::wildcard => &[Pattern],
        Rule::type_expr | Rule::named_type | Rule::tuple_type | Rule::record_type => &[Type],
        Rule::param_list | Rule::fn_param => &[Parameter],
        Rule::record_field | Rule::record_type_field => &[RecordField],
        Rule::named_arg => &[NamedArgument],
        Rule::ident | Rule::address => &[Identifier],
        Rule::string => &[String],
        Rule::int_lit => &[Integer],
        Rule::block => &[Token("{")],
        Rule::semi => &[Token(";")],
        Rule::ret_type => &[Token("->")],
        Rule::strategy | Rule::by_kw => &[Keyword("by")],
        Rule::mut_kw => &[Keyword("mut")],
        Rule::with_kw => &[Keyword("with")],
        Rule::else_kw => &[Keyword("else")],
        Rule::for_kw => &[Keyword("for")],
        Rule::plate_kw => &[Keyword("plate")],
        Rule::subsample | Rule::subsample_kw => &[Keyword("subsample")],
        Rule::in_kw => &[Keyword("in")],
        Rule::repl_entry => &[Item, Expression],
        Rule::EOI => &[EndOfInput],
        _ => &[],
    }
}

/// A syntax error in `text` (the whole file) from a parse that began at
/// byte `base`, and the byte offset of the error in `text`.
pub(super) fn syntax_error(
    file: FileId,
    text: &str,
    base: usize,
    error: &Error<Rule>,
) -> (Diagnostic, usize) {
    let rule_position = base
        + match error.location {
            InputLocation::Pos(position) => position,
            InputLocation::Span((start, _)) => start,
        };
    let positives = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => positives.as_slice(),
        ErrorVariant::CustomError { .. } => {
            // pest gave up: its call budget or its stack ran out.
            let span = found_token(file, text, base).0;
            let message = "this item is too large or nests too deeply to parse";
            return (Diagnostic::error(TOO_DEEP, message, span), base);
        }
    };
    let mut expected: Vec<Expected> = positives
        .iter()
        .flat_map(|rule| expected_for_rule(*rule).iter().copied())
        .collect();
    let mut position = rule_position;

    // Literal tokens pest attempted, possibly further than any rule got.
    if let Some(attempts) = error.parse_attempts() {
        let token_position = base + attempts.max_position;
        let tokens: Vec<Expected> = attempts
            .expected_tokens()
            .iter()
            .filter_map(|token| {
                let text = token.to_string();
                STRUCTURAL_TOKENS
                    .iter()
                    .find(|structural| **structural == text)
                    .map(|structural| Expected::Token(structural))
            })
            .collect();
        if token_position > position && !tokens.is_empty() {
            position = token_position;
            expected = tokens;
        } else if token_position == position {
            expected.extend(tokens);
        }
    }

    let (span, found) = found_token(file, text, position);
    let message = match found {
        Found::UnterminatedString => "this string is not terminated".to_string(),
        Found::UnterminatedComment => "this comment is not terminated".to_string(),
        Found::Stray(character) => format!("unexpected character `{character}`"),
        Found::Token(token) => match summarize(expected) {
            Some(expected) => format!("expected {expected}, found `{token}`"),
            None => format!("unexpected `{token}`"),
        },
        Found::EndOfInput => match summarize(expected) {
            Some(expected) => format!("expected {expected}, found end of input"),
            None => "unexpected end of input".to_string(),
        },
    };
    (Diagnostic::error(SYNTAX_ERROR, message, span), position)
}

/// "A, B or C" for the expectations that remain after the broad absorb
/// the narrow; `None` when nothing is left to say.
fn summarize(mut expected: Vec<Expected>) -> Option<String> {
    expected.sort();
    expected.dedup();
    let all = expected.clone();
    expected.retain(|narrow| !all.iter().any(|broad| broad.includes(*narrow)));
    if expected.iter().any(|item| *item != Expected::Operator) {
        expected.retain(|item| *item != Expected::Operator);
    }
    let words: Vec<String> = expected.into_iter().map(Expected::describe).collect();
    match words.as_slice() {
        [] => None,
        [only] => Some(only.clone()),
        [init @ .., last] => Some(format!("{} or {last}", init.join(", "))),
    }
}

/// What stands at the error position.
enum Found {
    Token(String),
    UnterminatedString,
    UnterminatedComment,
    Stray(String),
    EndOfInput,
}

/// The token at or after byte `position` of `text` (skipping whitespace),
/// with its span; an empty span at the end for the end of input.
fn found_token(file: FileId, text: &str, position: usize) -> (Span, Found) {
    let position = position.min(text.len());
    // A comment at the position is one pest skipped after its last attempt;
    // an unterminated one is what stopped it, and is kept.
    let first = lexer::tokens(&text[position..])
        .into_iter()
        .find(|(kind, range)| {
            let token = &text[position + range.start..position + range.end];
            *kind != TokenKind::Comment || lexer::is_unterminated_comment(token)
        });
    let Some((kind, range)) = first else {
        return (Span::new(file, text.len(), text.len()), Found::EndOfInput);
    };
    let (start, end) = (position + range.start, position + range.end);
    let token = &text[start..end];
    let found = match kind {
        TokenKind::String if token.len() < 2 || !token.ends_with('"') => Found::UnterminatedString,
        TokenKind::Comment => Found::UnterminatedComment,
        TokenKind::Error => Found::Stray(token.to_string()),
        _ => Found::Token(abbreviate(token)),
    };
    (Span::new(file, start, end), found)
}

/// A long token cut to its first few characters, for a message.
fn abbreviate(token: &str) -> String {
    const MAX_CHARS: usize = 24;
    if token.chars().count() <= MAX_CHARS {
        token.to_string()
    } else {
        let prefix: String = token.chars().take(MAX_CHARS - 3).collect();
        format!("{prefix}...")
    }
}
