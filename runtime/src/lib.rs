//! vprog's runtime: the IR interpreter, distributions, counter-based
//! randomness, optimizers and the training driver.
#![deny(missing_docs)]

pub mod dist;
pub mod rng;
