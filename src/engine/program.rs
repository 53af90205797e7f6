//! A compiled program, its objectives, its parameters, and simulation.

use super::{Error, Params, Trace, Value, run_error};
use std::cell::{Ref, RefCell, RefMut};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use vprog_compiler::lower::{CompiledObjective, Program as Lowered};
use vprog_lang::ast::{Arg, Expr, ExprId, ExprKind, FunctionKind, Ident, ItemKind};
use vprog_lang::{SourceMap, Span};
use vprog_runtime::backend::{Backend, Prepared, Runs};
use vprog_runtime::host::HostRegistry;
use vprog_runtime::interp::{RunContext, run};
use vprog_runtime::params::ParamStore;
use vprog_runtime::rng::RunKey;

/// What a program and its objectives share.
pub(crate) struct Shared {
    pub(crate) lowered: Lowered,
    pub(crate) sources: SourceMap,
    pub(crate) host: Arc<HostRegistry>,
    params: RefCell<ParamStore>,
    /// The seed the random initial values were drawn with.
    init_seed: u64,
}

impl Shared {
    pub(crate) fn new(
        lowered: Lowered,
        sources: SourceMap,
        host: Arc<HostRegistry>,
        init_seed: u64,
    ) -> Shared {
        let params = RefCell::new(ParamStore::initial(&lowered, init_seed));
        Shared {
            lowered,
            sources,
            host,
            params,
            init_seed,
        }
    }

    pub(crate) fn params(&self) -> Ref<'_, ParamStore> {
        self.params.borrow()
    }

    pub(crate) fn params_mut(&self) -> RefMut<'_, ParamStore> {
        self.params.borrow_mut()
    }

    /// A compile error with its diagnostics rendered against this
    /// program's sources.
    pub(crate) fn compile_error(&self, diagnostics: Vec<vprog_lang::Diagnostic>) -> Error {
        let rendered = crate::render_diagnostics(&self.sources, &diagnostics, false);
        Error::Compile {
            diagnostics,
            rendered,
        }
    }
}

/// A compiled vprog program: its definitions, ready to be asked for
/// objectives and simulations, and the current values of its parameters.
///
/// Compile once, use many times: objectives share the program's parameters,
/// so a fit of one objective moves the parameters every other objective
/// (and [`Program::simulate`]) sees.
pub struct Program {
    pub(crate) shared: Rc<Shared>,
}

/// An objective of a program — an expectation `E { ... }`, written in
/// the program or taken from the standard library — compiled to its
/// estimator and gradient programs, and those to native code by the JIT
/// (or, for what the JIT cannot compile yet, left to the interpreter: see
/// [`Objective::fallback`]).
pub struct Objective {
    pub(crate) shared: Rc<Shared>,
    pub(crate) name: String,
    pub(crate) prepared: Prepared,
}

impl Objective {
    /// The objective's name in the program.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The compiled estimator and gradient programs (their IR).
    pub fn compiled(&self) -> &CompiledObjective {
        self.prepared.objective()
    }

    /// Why the objective runs on the interpreter rather than as native
    /// code, if it does.
    pub fn fallback(&self) -> Option<&str> {
        self.prepared.fallback.as_deref()
    }
}

impl Program {
    /// The program as the compiler sees it (the parsed modules, the
    /// parameter table).
    pub fn lowered(&self) -> &Lowered {
        &self.shared.lowered
    }

    /// The top-level definition `name` — a `let` of an expectation, such as
    /// `let elbo = elbo(model, guide, data);` — compiled as an objective.
    pub fn objective(&self, name: &str) -> Result<Objective, Error> {
        let defined =
            self.shared.lowered.modules[0]
                .ast
                .items
                .iter()
                .any(|item| match &item.kind {
                    ItemKind::Let(l) => {
                        matches!(&l.pattern, vprog_lang::ast::Pattern::Ident(n) if n.name == name)
                    }
                    _ => false,
                });
        if !defined {
            return Err(Error::NotFound {
                kind: "objective",
                name: name.to_string(),
            });
        }
        let compiled = self
            .shared
            .lowered
            .objective(name)
            .map_err(|d| self.shared.compile_error(vec![d]))?;
        Ok(Objective {
            shared: self.shared.clone(),
            name: name.to_string(),
            prepared: Prepared::new(compiled, Backend::default()),
        })
    }

    /// Runs the generative function `gen_name` on `args` with randomness
    /// `seed` and returns its trace: every choice drawn from its
    /// distribution (whatever its gradient strategy), with the parameters'
    /// current values.
    pub fn simulate(&self, gen_name: &str, args: &[Value], seed: u64) -> Result<Trace, Error> {
        let is_gen = self.shared.lowered.modules[0]
            .ast
            .items
            .iter()
            .any(|item| matches!(&item.kind, ItemKind::Function(f) if f.kind == FunctionKind::Gen && f.name.name == gen_name));
        if !is_gen {
            return Err(Error::NotFound {
                kind: "generative function",
                name: gen_name.to_string(),
            });
        }
        let callee = expr(ExprKind::Var(Ident {
            name: gen_name.to_string(),
            span: Span::default(),
        }));
        let applied = if args.is_empty() {
            callee
        } else {
            expr(ExprKind::Call {
                callee: Box::new(callee),
                args: args
                    .iter()
                    .map(|a| Arg {
                        name: None,
                        value: literal(a),
                    })
                    .collect(),
            })
        };
        let sim = self
            .shared
            .lowered
            .compile_simulation(&applied)
            .map_err(|d| self.shared.compile_error(vec![d]))?;
        let mut ctx = RunContext::new(RunKey::new(seed, 0, 0));
        ctx.host = Some(self.shared.host.clone());
        let outs = run(&sim.function, &self.shared.params().values(), &mut ctx)
            .map_err(|e| run_error(&self.shared.sources, "E0700", e.message, e.origin))?;
        let mut outs = outs.iter();
        let mut next = || {
            outs.next()
                .map(Value::from)
                .unwrap_or(Value::Real(f64::NAN))
        };
        let mut choices = BTreeMap::new();
        let mut made = BTreeMap::new();
        for choice in &sim.choices {
            let value = next();
            if !choice.has_presence {
                choices.insert(choice.address.clone(), value);
                continue;
            }
            match next() {
                Value::Bool(true) => {
                    choices.insert(choice.address.clone(), value);
                }
                Value::Bool(false) => {}
                flags => {
                    let flags: Vec<bool> = flags.to_f64_vec().iter().map(|&f| f != 0.0).collect();
                    choices.insert(choice.address.clone(), value);
                    made.insert(choice.address.clone(), flags);
                }
            }
        }
        let log_density = next().as_f64().unwrap_or(f64::NAN);
        let rest: Vec<Value> = outs.map(Value::from).collect();
        let retval = if !sim.return_type.is_numeric() || rest.is_empty() {
            None
        } else if rest.len() == 1 {
            rest.into_iter().next()
        } else {
            Some(Value::reals(
                &rest.iter().flat_map(Value::to_f64_vec).collect::<Vec<_>>(),
            ))
        };
        Ok(Trace {
            choices,
            made,
            log_density,
            retval,
        })
    }

    /// The parameters' current values.
    pub fn params(&self) -> Params {
        Params {
            store: self.shared.params().clone(),
        }
    }

    /// Sets the parameters to `params` (saved from this program or from
    /// one with the same parameters). Every parameter of `params` must be
    /// one of the program's, with the same shape; the program's other
    /// parameters keep their values.
    pub fn set_params(&self, params: &Params) -> Result<(), Error> {
        let mut store = self.shared.params_mut();
        let mut updated = store.clone();
        for p in &params.store.params {
            let Some(mine) = updated.params.iter_mut().find(|q| q.name == p.name) else {
                return Err(Error::NotFound {
                    kind: "parameter",
                    name: p.name.clone(),
                });
            };
            if mine.shape != p.shape || mine.raw.len() != p.raw.len() {
                return Err(Error::invalid(format!(
                    "parameter `{}` has shape {:?}, the saved value has shape {:?}",
                    p.name, mine.shape, p.shape
                )));
            }
            mine.raw = p.raw.clone();
        }
        *store = updated;
        Ok(())
    }

    /// Sets every parameter back to its declared initial value; those
    /// initialized by a draw (`glorot()`, ...) are drawn again with the seed
    /// the engine had when it compiled the program, so they start where
    /// they started.
    pub fn reset_params(&self) {
        self.reset_params_seeded(self.shared.init_seed);
    }

    /// Sets every parameter back to its declared initial value, drawing
    /// the randomly initialized ones (`glorot()`, `he()`, `normal(σ)`) from
    /// `seed`.
    pub fn reset_params_seeded(&self, seed: u64) {
        *self.shared.params_mut() = ParamStore::initial(&self.shared.lowered, seed);
    }

    /// The value of parameter `name` (qualified, `guide.mu`, or a bare name
    /// when it is unambiguous) as programs see it: constrained, `exp` of
    /// the stored value for a `positive` parameter.
    pub fn param(&self, name: &str) -> Result<Value, Error> {
        let lowered = &self.shared.lowered;
        let index = lowered
            .param_index(name, &[])
            .map_err(|_| Error::NotFound {
                kind: "parameter",
                name: name.to_string(),
            })?;
        let values = self.shared.params().constrained(lowered, index);
        let shape = lowered.params[index].shape.clone();
        Ok(if shape.is_empty() {
            Value::Real(values.first().copied().unwrap_or(f64::NAN))
        } else {
            Value::Array {
                shape,
                elements: values.into_iter().map(Value::Real).collect(),
            }
        })
    }

    /// The qualified names of the program's parameters.
    pub fn param_names(&self) -> Vec<String> {
        self.shared
            .lowered
            .params
            .iter()
            .map(|p| p.qualified.clone())
            .collect()
    }
}

fn expr(kind: ExprKind) -> Expr {
    Expr {
        id: ExprId(u32::MAX),
        kind,
        span: Span::default(),
    }
}

/// The literal expression of a value.
fn literal(v: &Value) -> Expr {
    match v {
        Value::Real(x) => expr(ExprKind::Real(*x)),
        Value::Int(i) => expr(ExprKind::Int(*i)),
        Value::Bool(b) => expr(ExprKind::Bool(*b)),
        Value::Array { shape, .. } => {
            let n = shape.first().copied().unwrap_or(0);
            expr(ExprKind::Array(
                (0..n)
                    .filter_map(|i| v.index(i))
                    .map(|e| literal(&e))
                    .collect(),
            ))
        }
    }
}
