//! Typed host functions: Rust closures of real scalars, with their
//! derivatives, registered with one call.
//!
//! [`Engine::register_fn`](super::Engine::register_fn) takes a function of
//! one to four `f64` arguments and its derivative: for one argument a
//! function `f64 -> f64` (the derivative), for `n > 1` arguments a function
//! returning the `n` partial derivatives as `[f64; n]`. The argument count
//! is read off the closures' types, as rhai's `register_fn` does, so the
//! closures' parameters must be annotated (`|x: f64| x.sin()`).

use std::sync::Arc;
use vprog_runtime::host::{HostGradientFn, HostValueFn};

/// A Rust function of `f64` arguments returning an `f64`; `Args` is the
/// tuple of its argument types (a marker that selects the arity).
pub trait HostFn<Args>: Send + Sync + 'static {
    /// The number of arguments.
    const ARITY: usize;
    /// The function as a function of a slice of `ARITY` arguments.
    fn into_value(self) -> HostValueFn;
}

/// The derivative of a host function with arguments `Args`: `f64 -> f64`
/// for one argument, `(f64, ...) -> [f64; n]` (the partial derivatives)
/// for `n` arguments.
pub trait HostDerivative<Args>: Send + Sync + 'static {
    /// The derivative as a function from a slice of arguments to the
    /// gradient.
    fn into_gradient(self) -> HostGradientFn;
}

impl<F> HostFn<(f64,)> for F
where
    F: Fn(f64) -> f64 + Send + Sync + 'static,
{
    const ARITY: usize = 1;
    fn into_value(self) -> HostValueFn {
        Arc::new(move |a: &[f64]| self(a[0]))
    }
}

impl<F> HostDerivative<(f64,)> for F
where
    F: Fn(f64) -> f64 + Send + Sync + 'static,
{
    fn into_gradient(self) -> HostGradientFn {
        Arc::new(move |a: &[f64]| vec![self(a[0])])
    }
}

/// Implements both traits for functions of `n ≥ 2` arguments.
macro_rules! host_arity {
    ($n:literal; $($arg:ident: $i:literal),+) => {
        impl<F> HostFn<($($arg,)+)> for F
        where
            F: Fn($($arg),+) -> f64 + Send + Sync + 'static,
        {
            const ARITY: usize = $n;
            fn into_value(self) -> HostValueFn {
                Arc::new(move |a: &[f64]| self($(a[$i]),+))
            }
        }

        impl<F> HostDerivative<($($arg,)+)> for F
        where
            F: Fn($($arg),+) -> [f64; $n] + Send + Sync + 'static,
        {
            fn into_gradient(self) -> HostGradientFn {
                Arc::new(move |a: &[f64]| self($(a[$i]),+).to_vec())
            }
        }
    };
}

host_arity!(2; f64: 0, f64: 1);
host_arity!(3; f64: 0, f64: 1, f64: 2);
host_arity!(4; f64: 0, f64: 1, f64: 2, f64: 3);
