//! Tests of the runtime distributions: reference densities against statrs
//! and closed forms, samplers against their CDFs and mass functions with
//! seeded goodness-of-fit tests, and parameter validation messages.

#[path = "dist/densities.rs"]
mod densities;
#[path = "dist/errors.rs"]
mod errors;
#[path = "dist/fit.rs"]
mod fit;
#[path = "dist/samplers.rs"]
mod samplers;
