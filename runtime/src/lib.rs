//! vprog's runtime: the IR interpreter, distributions, counter-based
//! randomness, optimizers and the training driver.
//!
//! The interpreter (`interp`) is the reference semantics of the IR. The
//! estimator driver (`estimator`) combines the runs that `enum` and `mvd`
//! sites need into one particle's estimate; `fit` averages particles and
//! steps an optimizer; `fold` computes what depends on constants alone
//! once, when an objective is prepared; `session` executes a program's `fit` and `report`
//! statements in order. Nothing here prints: results go to a
//! [`session::Sink`].
#![deny(missing_docs)]
// A session error carries a diagnostic; it is returned once per failed run.
#![allow(clippy::result_large_err)]

pub mod backend;
pub mod bench;
pub mod dist;
pub mod elementwise;
pub mod estimator;
pub mod fit;
pub mod fold;
pub mod host;
pub mod interp;
pub mod jit;
pub mod linalg;
pub mod optim;
pub mod params;
pub mod rng;
pub mod session;
pub mod value;
