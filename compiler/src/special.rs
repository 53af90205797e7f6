//! Special functions on `f64`: the gamma family, the regularized incomplete
//! gamma function and its parameter derivative, and the log-space helpers
//! that densities and estimators are built from.
//!
//! These are the numeric primitives behind the `lgamma`, `digamma`, ...
//! operations of the IR and behind the implicit-reparameterization gradient
//! of the gamma distribution. They are pure functions of their arguments and
//! know nothing of the IR. Each function documents its algorithm, where it
//! comes from, and the accuracy its tests establish.
//!
//! * [`gamma_fn`]: `ln_gamma`, `digamma`, `polygamma`.
//! * [`incomplete_gamma`]: `gamma_p`, `gamma_q`, `gamma_p_dx`, `gamma_p_da`.
//! * [`log_space`]: `ln_beta`, `log1p_exp`, `log_sum_exp`, `sigmoid`.
//! * [`vector_math`]: `exp` and `ln(1 + y)` written to vectorize, and the
//!   softplus and sigmoid built from them.
//!
//! Everything is re-exported here, so callers write `special::digamma`.

pub mod gamma_fn;
pub mod incomplete_gamma;
pub mod log_space;
pub mod vector_math;

#[cfg(test)]
mod test_support;

pub use gamma_fn::{digamma, ln_gamma, polygamma};
pub use incomplete_gamma::{gamma_p, gamma_p_da, gamma_p_dx, gamma_q};
pub use log_space::{ln_beta, log_sum_exp, log1p_exp, sigmoid};
