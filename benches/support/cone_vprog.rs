//! vprog's side of the noisy-cone comparison: `examples/cone.vprog`'s
//! `fit elbo`, prepared exactly as `vprog run` prepares it (objective
//! compiled, `init` applied, the statement's seed), for either back end.
//! Shared by `benches/cone_baseline.rs` and `tests/cone_baseline.rs`.

#![allow(dead_code)]

use vprog::compiler::lower::{CompiledObjective, Statement};
use vprog::runtime::backend::{Backend, Prepared, Runs};
use vprog::runtime::fit::FitOptions;
use vprog::runtime::session::Session;

/// The name of the fit, in the example, that the baseline reproduces.
pub const FIT: &str = "elbo";

/// A prepared fit.
pub struct PreparedFit {
    /// The session, its parameters set by the fit's `init` option.
    pub session: Session,
    /// The compiled objective (its IR).
    pub objective: CompiledObjective,
    /// The fit's options (optimizer, steps, particles, seed).
    pub options: FitOptions,
}

impl PreparedFit {
    /// The objective prepared for `backend` (compiled by the JIT, or not).
    pub fn on(&self, backend: Backend) -> Prepared {
        Prepared::new(self.objective.clone(), backend)
    }

    /// The index of the parameter whose qualified name is `qualified`
    /// (`naive.mu1`, ...).
    pub fn param_index(&self, qualified: &str) -> usize {
        self.session
            .program
            .params
            .iter()
            .position(|p| p.qualified == qualified)
            .unwrap_or_else(|| panic!("the example has no parameter `{qualified}`"))
    }
}

/// Loads `examples/cone.vprog` and prepares its `fit elbo`.
pub fn cone_elbo() -> PreparedFit {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cone.vprog");
    let text = std::fs::read_to_string(path).expect("read examples/cone.vprog");
    let mut sources = vprog::lang::SourceMap::new();
    let program = vprog::load(&mut sources, "cone.vprog", &text)
        .unwrap_or_else(|d| panic!("{}", vprog::render_diagnostics(&sources, &d, false)));
    let statements = program.statements().expect("the example's statements");
    let mut session = Session::new(program, 0);
    for (index, statement) in statements.into_iter().enumerate() {
        if let Statement::Fit(spec) = statement
            && spec.name == FIT
        {
            let (prepared, options) = session
                .prepare_fit(index, &spec)
                .unwrap_or_else(|_| panic!("`fit {FIT}` does not compile"));
            return PreparedFit {
                objective: prepared.objective().clone(),
                session,
                options,
            };
        }
    }
    panic!("examples/cone.vprog has no `fit {FIT}`")
}
