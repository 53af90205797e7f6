//! The pest parser generated from `spec/grammar.pest`.
//!
//! pest_derive resolves a relative `grammar` path against the crate's
//! manifest directory first and only then against `src/`, so the path below
//! is written relative to `lang/`: written relative to `src/` it would be
//! looked up outside the repository first.

/// The parser for vprog's grammar; see `spec/grammar.pest`.
#[derive(pest_derive::Parser)]
#[grammar = "../spec/grammar.pest"]
pub(crate) struct VprogParser;
