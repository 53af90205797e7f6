//! The front end of vprog: text in, a checked AST and diagnostics out.
//!
//! This crate owns the surface language: the pest grammar (`spec/grammar.pest`,
//! included verbatim), the AST with byte spans, name resolution, type
//! checking and diagnostics as data. It knows nothing of the core IR, of
//! gradient estimation or of execution; it never prints.
#![deny(missing_docs)]

pub mod ast;
pub mod check;
pub mod diagnostic;
pub mod lexer;
pub mod parse;
pub mod print;
pub mod span;

pub use diagnostic::{Diagnostic, Label, Severity};
pub use span::{FileId, SourceMap, Span};
