//! Property tests: the parser, the printer and the lexer never panic, and
//! every span they report lies on character boundaries of the input.

use proptest::prelude::*;
use vprog_lang::FileId;
use vprog_lang::lexer::{is_incomplete, tokens};
use vprog_lang::parse::{ReplEntry, parse_file, parse_repl_entry};
use vprog_lang::print::{print_expr, print_file};

const REPRESENTATIVE: &str = include_str!("data/representative.vprog");

/// Fragments that make random text look like vprog, so that random inputs
/// get past the first token.
const FRAGMENTS: &[&str] = &[
    "gen ", "fn ", "let ", "mut ", "param ", "fit ", "report ", "import ", " with ", " by ", "if ",
    "else ", "for ", " in ", "sim ", "E ", "true", "x", "y", "_", "normal", "0", "1.5", "1e-3",
    "\"s\"", "\"", "(", ")", "[", "]", "{", "}", ",", ";", ":", ".", "..", "->", "=", "==", "~",
    "+", "-", "*", "/", "^", "!", "&&", "||", "<", ">=", " ", "\n", "//", "/*", "*/", "é", "@",
];

/// Runs everything on `text` and checks the spans.
fn exercise(text: &str) {
    let (file, diagnostics) = parse_file(FileId(0), text);
    let _ = print_file(&file);
    for diagnostic in &diagnostics {
        assert_span(text, diagnostic.span.range());
    }
    for item in &file.items {
        assert_span(text, item.span.range());
    }
    let (entry, diagnostics) = parse_repl_entry(FileId(0), text);
    match entry {
        Some(ReplEntry::Expr(expr)) => {
            assert_span(text, expr.span.range());
            let _ = print_expr(&expr);
        }
        Some(ReplEntry::Items(items)) => {
            for item in &items {
                assert_span(text, item.span.range());
            }
        }
        None => {}
    }
    for diagnostic in &diagnostics {
        assert_span(text, diagnostic.span.range());
    }
    let mut covered = 0;
    for (_, range) in tokens(text) {
        assert_span(text, range.clone());
        assert!(range.start >= covered, "tokens overlap");
        covered = range.end;
    }
    let _ = is_incomplete(text);
}

fn assert_span(text: &str, range: std::ops::Range<usize>) {
    assert!(
        range.start <= range.end && range.end <= text.len(),
        "{range:?} in {text:?}"
    );
    assert!(text.is_char_boundary(range.start) && text.is_char_boundary(range.end));
}

/// One edit of a text: delete some bytes, or insert a fragment.
#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, fragment: &'static str },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1..4usize).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), prop::sample::select(FRAGMENTS))
            .prop_map(|(at, fragment)| Edit::Insert { at, fragment }),
    ]
}

/// `text` with `edits` applied, each at a character boundary.
fn apply(text: &str, edits: &[Edit]) -> String {
    let mut text = text.to_string();
    for edit in edits {
        let boundary = |text: &str, at: usize| {
            let mut at = at % (text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            at
        };
        match edit {
            Edit::Delete { at, len } => {
                let start = boundary(&text, *at);
                let end = boundary(&text, (start + len).min(text.len()));
                text.replace_range(start..end, "");
            }
            Edit::Insert { at, fragment } => {
                let at = boundary(&text, *at);
                text.insert_str(at, fragment);
            }
        }
    }
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings(text in any::<String>()) {
        exercise(&text);
    }

    #[test]
    fn fragment_soup(fragments in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..60)) {
        exercise(&fragments.concat());
    }

    #[test]
    fn mutations_of_a_valid_program(edits in prop::collection::vec(edit(), 1..6)) {
        exercise(&apply(REPRESENTATIVE, &edits));
    }
}
