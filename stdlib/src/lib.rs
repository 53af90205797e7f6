//! vprog's standard library, written in vprog.
//!
//! The library modules are `.vprog` files under `stdlib/vprog/`, compiled
//! into the binary as text. `import objectives;` in a program brings the
//! module `objectives` into scope. Nothing here is Rust but this index.
#![deny(missing_docs)]

/// A standard-library module: its name and its source text.
#[derive(Clone, Copy, Debug)]
pub struct Module {
    /// The name used in `import NAME;`.
    pub name: &'static str,
    /// The file name shown in diagnostics.
    pub file_name: &'static str,
    /// The module's vprog source.
    pub source: &'static str,
}

/// All standard-library modules.
pub const MODULES: &[Module] = &[
    Module {
        name: "objectives",
        file_name: "<std>/objectives.vprog",
        source: include_str!("../vprog/objectives.vprog"),
    },
    Module {
        name: "nn",
        file_name: "<std>/nn.vprog",
        source: include_str!("../vprog/nn.vprog"),
    },
];

/// The module named `name`, if the standard library has one.
pub fn module(name: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.name == name)
}
