//! vprog's middle: the core IR, lowering from the checked AST, and the
//! IR → IR transforms (ADEV, forward and reverse AD, simplification).
//!
//! This crate knows the language only through `vprog-lang`'s AST and the IR
//! it defines; it never executes programs (the runtime does) and never
//! touches Cranelift.
#![deny(missing_docs)]
// Diagnostics travel on the cold error path of lowering; boxing them at the
// hundreds of `Err` sites would add noise for no measurable gain.
#![allow(clippy::result_large_err)]

pub mod data;
pub mod density;
pub mod dist;
pub mod ir;
pub mod lower;
pub mod prim;
pub mod special;
pub mod transform;
