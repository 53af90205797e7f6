//! vprog's middle: the core IR, lowering from the checked AST, and the
//! IR → IR transforms (generative-function specialization happens in
//! lowering; ADEV, reverse-mode AD, simplification are passes).
#![deny(missing_docs)]

pub mod dist;
pub mod special;
