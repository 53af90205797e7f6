//! The lowering context: environment, handlers of random choices, and the
//! mutable state that structured control flow threads.
//!
//! **Environment.** Local variables live in a stack of scopes; a function
//! call swaps in a fresh stack (lexical scoping: a function sees its
//! parameters and the globals of its module, never its caller's locals).
//! Global names resolve to the module's functions, top-level `let`s
//! (lowered where used), parameters, imported modules' definitions, and
//! builtins, in that order.
//!
//! **Handlers.** What a random choice `x ~ d` does depends on the innermost
//! handler: directly inside an expectation it is a sample site; inside a
//! generative function being specialized (`genfn.rs`) it is simulated,
//! scored against a choice map, or constrained.
//!
//! **State.** Mutable locals and the handlers' running log densities are
//! the state an `if` or a `for` threads: [`Lower::state_leaves`] lists their
//! IR values in a canonical order and [`Lower::set_state_leaves`] rebinds
//! them, so control flow becomes branch results and loop carries.

use super::meta::{FnRef, GenValue, Meta, Trace};
use super::{Global, Program};
use crate::ir::{Builder, Elem, Op, OpKind, Origin, Region, Type, ValueId};
use crate::prim::Prim;
use crate::prim::eval::Scalar;
use std::collections::{HashMap, HashSet};
use vprog_lang::{Diagnostic, Span};

/// A local variable.
#[derive(Clone, Debug)]
pub(crate) struct Var {
    pub meta: Meta,
    pub mutable: bool,
}

/// How a generative function is being specialized.
#[derive(Clone, Debug)]
pub(crate) enum GenMode {
    /// Sample every choice (`sim`).
    Simulate,
    /// Score every choice against a complete choice map (`density`).
    Assess(Trace),
    /// Score the constrained choices, sample the others (`generate`).
    Generate(Trace),
}

/// The state of a generative function being specialized.
#[derive(Clone, Debug)]
pub(crate) struct GenState {
    /// The generative function's name.
    pub name: String,
    /// Its module.
    pub module: usize,
    pub mode: GenMode,
    /// The choices made in the current loop body or branch.
    pub frame: Trace,
    /// The running log density of all choices.
    pub score: ValueId,
    /// The running log density of the choices read from the choice map.
    pub weight: ValueId,
    /// The addresses read from the choice map.
    pub read: HashSet<Vec<String>>,
    /// The index values of the loops entered inside this function.
    pub loop_vars: Vec<ValueId>,
    /// The subsampled plates entered inside this function.
    pub plates: Vec<PlateFrame>,
}

/// A subsampled `plate` being lowered: its iterations run over the
/// minibatch's positions `k ∈ 0..m`, and its variable is the data index
/// `i = idx[k] ∈ 0..n`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlateFrame {
    /// The loop's index (the position in the minibatch).
    pub position: ValueId,
    /// The plate variable's value (the data index).
    pub data_index: ValueId,
    /// The size of the plate.
    pub n: usize,
    /// The size of the minibatch.
    pub m: usize,
}

/// What random choices do in the current context.
#[derive(Clone, Debug)]
pub(crate) enum Handler {
    /// Directly inside an expectation: each choice is a sample site.
    Expect,
    /// Inside a generative function being specialized.
    Gen(GenState),
}

/// The lowering context of one IR function.
pub(crate) struct Lower<'p, 'f> {
    pub prog: &'p Program,
    pub b: Builder<'f>,
    pub module: usize,
    /// The top-level item whose code is lowered (`usize::MAX` inside a
    /// function body), for the visibility of top-level `let`s.
    pub item: usize,
    pub scopes: Vec<Vec<(String, Var)>>,
    pub handlers: Vec<Handler>,
    pub next_site: u32,
    /// The stored parameter values (the function's parameters).
    pub params: Vec<ValueId>,
    /// Whether each parameter was read.
    pub params_read: Vec<bool>,
    pub call_depth: usize,
    /// The control-flow nesting depth.
    pub depth: usize,
    /// Values of nested expectations, for the linearity check.
    pub nested: Vec<(ValueId, Span)>,
    /// Names of the generative functions being specialized, for naming
    /// sites in run-time messages.
    pub site_path: Vec<String>,
    /// The scalar constants emitted, by value.
    pub consts: HashMap<ValueId, Scalar>,
    /// How many enclosing specializations hold parameters fixed.
    pub stop_params: usize,
    /// The site whose distribution is being lowered (`gen/address`), named
    /// in the origins of its operations.
    pub current_site: Option<String>,
}

pub(crate) type LResult<T> = Result<T, Diagnostic>;

/// The builtin names (functions and constants).
pub(crate) const BUILTINS: &[&str] = &[
    "exp",
    "log",
    "log1p",
    "expm1",
    "sqrt",
    "sin",
    "cos",
    "tan",
    "atan",
    "tanh",
    "sigmoid",
    "softplus",
    "abs",
    "floor",
    "lgamma",
    "digamma",
    "pow",
    "min",
    "max",
    "logsumexp",
    "sum",
    "mean",
    "len",
    "stop_grad",
    "real",
    "int",
    "pi",
    "density",
    "merge",
    "marginal",
    "sir",
    "add_cost",
    "factor",
    "estimate",
    "grad",
    "zeros",
    "ones",
    "sgd",
    "momentum",
    "adam",
    "stop_params",
    "target",
    "normalize",
    "load_csv",
    "load_npy",
    "normal",
    "lognormal",
    "uniform",
    "exponential",
    "gamma",
    "beta",
    "laplace",
    "cauchy",
    "student_t",
    "flip",
    "categorical",
    "geometric",
    "poisson",
    "binomial",
    "mv_normal_diag",
    "mv_normal",
    "dirichlet",
    "bernoulli",
    "bernoulli_logits",
    "categorical_logits",
    "softmax",
    "log_softmax",
    "dot",
    "matvec",
    "diag",
    "matmul",
    "transpose",
    "reshape",
    "concat",
    "slice",
    "gather",
];

/// Levenshtein distance, for "did you mean" suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

impl<'p, 'f> Lower<'p, 'f> {
    // ---- diagnostics ----------------------------------------------------

    /// An error diagnostic.
    pub fn err<T>(&self, code: &'static str, msg: impl Into<String>, span: Span) -> LResult<T> {
        Err(Diagnostic::error(code, msg, span))
    }

    /// Sets the origin of subsequently emitted operations to `span` (and
    /// the current site name, if `site` is given).
    pub fn at(&mut self, span: Span, site: Option<String>) {
        let origin = self.b.func.add_origin(Origin {
            span: Some(span),
            site,
            support_check: false,
        });
        self.b.set_origin(origin);
    }

    // ---- environment ----------------------------------------------------

    /// Binds `name` in the innermost scope.
    pub fn bind(&mut self, name: &str, meta: Meta, mutable: bool) {
        self.scopes
            .last_mut()
            .expect("a scope")
            .push((name.to_string(), Var { meta, mutable }));
    }

    /// The local variable `name`, innermost first.
    pub fn local(&self, name: &str) -> Option<&Var> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// The local variable `name`, mutably.
    pub fn local_mut(&mut self, name: &str) -> Option<&mut Var> {
        self.scopes
            .iter_mut()
            .rev()
            .flat_map(|s| s.iter_mut().rev())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }

    /// Runs `f` in a new innermost scope.
    pub fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> LResult<T>) -> LResult<T> {
        self.scopes.push(Vec::new());
        let r = f(self);
        self.scopes.pop();
        r
    }

    /// The value of a stored parameter as programs see it.
    pub fn param_value(&mut self, index: usize) -> Meta {
        self.params_read[index] = true;
        let raw = self.params[index];
        let info = &self.prog.params[index];
        let v = match info.constraint {
            super::Constraint::Real => raw,
            super::Constraint::Positive => self.b.un(Prim::Exp, raw),
            super::Constraint::UnitInterval => self.b.un(Prim::Sigmoid, raw),
        };
        Meta::Val(if self.stop_params > 0 {
            self.b.stop(v)
        } else {
            v
        })
    }

    /// Resolves a global (non-local) name.
    pub fn global(&mut self, name: &str, span: Span) -> LResult<Meta> {
        let mut modules = vec![self.module];
        modules.extend(self.prog.imports[self.module].iter().copied());
        for m in modules {
            let Some(defs) = self.prog.globals[m].get(name) else {
                continue;
            };
            if let Some((_, Global::Function(f))) =
                defs.iter().find(|(_, g)| matches!(g, Global::Function(_)))
            {
                return Ok(self.function_value(f.clone()));
            }
            let visible: Vec<&(usize, Global)> = if m == self.module && self.item != usize::MAX {
                defs.iter().filter(|(idx, _)| *idx < self.item).collect()
            } else {
                defs.iter().collect()
            };
            let chosen = if m == self.module && self.item != usize::MAX {
                visible.last().copied()
            } else if visible.len() == 1 {
                visible.first().copied()
            } else if visible.is_empty() {
                None
            } else {
                return self.err(
                    "E0201",
                    format!("`{name}` is defined more than once at the top level, so a function cannot refer to it"),
                    span,
                );
            };
            match chosen {
                Some((idx, Global::Let(stmt))) => {
                    return self.top_level_let(m, *idx, stmt.clone(), name, span);
                }
                Some((_, Global::Param(i))) => return Ok(self.param_value(*i)),
                _ => {}
            }
        }
        if BUILTINS.contains(&name) {
            if name == "pi" {
                return Ok(Meta::Val(self.b.f64(std::f64::consts::PI)));
            }
            let static_name = BUILTINS.iter().find(|b| **b == name).expect("builtin");
            return Ok(Meta::Builtin(super::meta::Builtin(static_name)));
        }
        if let Some(id) = self.prog.host.iter().rposition(|h| h.name == name) {
            return Ok(Meta::Host(id as u32));
        }
        let mut d = Diagnostic::error("E0200", format!("cannot find `{name}` in this scope"), span)
            .with_primary_label("not found");
        let mut candidates: Vec<String> = BUILTINS.iter().map(|s| s.to_string()).collect();
        for scope in &self.scopes {
            candidates.extend(scope.iter().map(|(n, _)| n.clone()));
        }
        for m in std::iter::once(self.module).chain(self.prog.imports[self.module].iter().copied())
        {
            candidates.extend(self.prog.globals[m].keys().cloned());
        }
        if let Some(best) = candidates
            .iter()
            .filter(|c| edit_distance(c, name) <= 2.max(name.len() / 4))
            .min_by_key(|c| edit_distance(c, name))
        {
            d = d.with_help(format!("did you mean `{best}`?"));
        } else if self.prog.modules.len() == 1
            && ["elbo", "iwelbo", "hvi", "iwhvi", "diwhvi", "vimco", "renyi"].contains(&name)
        {
            d = d.with_help(
                "the library objectives are in the standard library: add `import objectives;`",
            );
        }
        Err(d)
    }

    fn function_value(&self, f: FnRef) -> Meta {
        match f.decl.kind {
            vprog_lang::ast::FunctionKind::Gen => {
                // A generative function without parameters is already closed.
                let args = f.decl.params.is_empty().then(Vec::new);
                Meta::Gen(GenValue {
                    func: f,
                    args,
                    stop_params: false,
                })
            }
            vprog_lang::ast::FunctionKind::Fn => Meta::Fn(f),
        }
    }

    /// Lowers a top-level `let` where it is used, in its own (global)
    /// environment.
    fn top_level_let(
        &mut self,
        module: usize,
        item: usize,
        stmt: std::rc::Rc<vprog_lang::ast::LetStmt>,
        name: &str,
        span: Span,
    ) -> LResult<Meta> {
        if self.call_depth > 64 {
            return self.err(
                "E0202",
                format!("the definition of `{name}` refers to itself"),
                span,
            );
        }
        let scopes = std::mem::replace(&mut self.scopes, vec![Vec::new()]);
        let saved_module = std::mem::replace(&mut self.module, module);
        let saved_item = std::mem::replace(&mut self.item, item);
        let saved_depth = std::mem::replace(&mut self.depth, 0);
        self.call_depth += 1;
        let r = match self.data_let(&stmt.value, stmt.ty.as_ref()) {
            Ok(Some(loaded)) => Ok(loaded),
            Ok(None) => self.expr(&stmt.value),
            Err(e) => Err(e),
        };
        self.call_depth -= 1;
        self.scopes = scopes;
        self.module = saved_module;
        self.item = saved_item;
        self.depth = saved_depth;
        r
    }

    /// Looks `name` up: locals, then globals.
    pub fn lookup(&mut self, name: &str, span: Span) -> LResult<Meta> {
        if let Some(v) = self.local(name) {
            return Ok(v.meta.clone());
        }
        self.global(name, span)
    }

    // ---- values -----------------------------------------------------------

    /// The type of an IR value.
    pub fn ty(&self, v: ValueId) -> Type {
        self.b.ty(v)
    }

    /// Whether random choices are allowed here.
    pub fn stochastic(&self) -> bool {
        !self.handlers.is_empty()
    }

    /// The IR value of `m`, which must be a number (or a nested expectation
    /// in a stochastic context, which is inlined).
    pub fn val(&mut self, m: Meta, span: Span, what: &str) -> LResult<ValueId> {
        match m {
            Meta::Val(v) => Ok(v),
            Meta::Expect(closure) if self.stochastic() => self.inline_expectation(&closure, span),
            Meta::Expect(_) => self
                .err(
                    "E0210",
                    format!("{what} must be a number, but this is an expectation"),
                    span,
                )
                .map_err(|d| {
                    d.with_help("use `estimate(objective, samples = n)` to estimate its value")
                }),
            other => self.err(
                "E0210",
                format!("{what} must be a number, found {}", other.kind_name()),
                span,
            ),
        }
    }

    /// `v` as an `f64` value (integers are converted; booleans rejected).
    pub fn real(&mut self, v: ValueId, span: Span, what: &str) -> LResult<ValueId> {
        let ty = self.ty(v);
        match ty.elem {
            Elem::F64 => Ok(v),
            Elem::I64 => Ok(self.b.un(Prim::IntToF64, v)),
            Elem::Bool => self.err(
                "E0211",
                format!("{what} must be a real, found a boolean"),
                span,
            ),
        }
    }

    /// A real scalar from a meta.
    pub fn real_scalar(&mut self, m: Meta, span: Span, what: &str) -> LResult<ValueId> {
        let v = self.val(m, span, what)?;
        let v = self.real(v, span, what)?;
        if !self.ty(v).is_scalar() {
            return self.err(
                "E0212",
                format!("{what} must be a scalar real, found {}", self.ty(v)),
                span,
            );
        }
        Ok(v)
    }

    /// An integer scalar from a meta.
    pub fn int_scalar(&mut self, m: Meta, span: Span, what: &str) -> LResult<ValueId> {
        let v = self.val(m, span, what)?;
        if self.ty(v) != Type::i64() {
            return self.err(
                "E0213",
                format!(
                    "{what} must be an integer, found {}",
                    describe_type(&self.ty(v))
                ),
                span,
            );
        }
        Ok(v)
    }

    /// A boolean scalar from a meta.
    pub fn bool_scalar(&mut self, m: Meta, span: Span, what: &str) -> LResult<ValueId> {
        let v = self.val(m, span, what)?;
        if self.ty(v) != Type::bool() {
            return self.err(
                "E0214",
                format!(
                    "{what} must be a boolean, found {}",
                    describe_type(&self.ty(v))
                ),
                span,
            );
        }
        Ok(v)
    }

    /// Emits a scalar constant.
    pub fn constant(&mut self, s: Scalar) -> ValueId {
        let v = match s {
            Scalar::F(x) => self.b.f64(x),
            Scalar::I(x) => self.b.i64(x),
            Scalar::B(x) => self.b.bool(x),
        };
        self.consts.insert(v, s);
        v
    }

    /// The compile-time value of an integer IR value, if it is a constant.
    pub fn const_int(&self, v: ValueId) -> Option<i64> {
        match self.consts.get(&v) {
            Some(Scalar::I(x)) => Some(*x),
            _ => None,
        }
    }

    /// Emits `prim(args)`, folding it when every operand is a constant.
    pub fn prim(&mut self, prim: Prim, args: &[ValueId]) -> ValueId {
        if prim.is_elementwise() && !args.is_empty() {
            let scalars: Option<Vec<Scalar>> =
                args.iter().map(|a| self.consts.get(a).copied()).collect();
            if let Some(scalars) = scalars
                && let Ok(r) = crate::prim::eval::scalar(&prim, &scalars)
            {
                return self.constant(r);
            }
        }
        self.b.prim(prim, args)
    }

    /// Appends a primitive to an already built region, yielding nothing
    /// (used to convert a branch result after the branch was closed).
    pub fn append_to_region(
        &mut self,
        region: &mut Region,
        prim: Prim,
        args: &[ValueId],
    ) -> ValueId {
        let types: Vec<Type> = args.iter().map(|&a| self.ty(a)).collect();
        let ty = prim
            .result_type(&types)
            .unwrap_or_else(|e| panic!("internal error: {e}"));
        let result = self.b.func.new_value(ty);
        let origin = self.b.origin();
        let op = self.b.func.push_op(Op {
            kind: OpKind::Prim(prim),
            args: args.to_vec(),
            results: vec![result],
            regions: vec![],
            origin,
        });
        region.ops.push(op);
        result
    }

    // ---- state threaded through control flow ------------------------------

    /// The IR values of the mutable state (handlers' accumulators, then
    /// mutable locals whose values are numbers, tuples or records).
    pub fn state_leaves(&self) -> Vec<ValueId> {
        let mut out = Vec::new();
        for h in &self.handlers {
            if let Handler::Gen(g) = h {
                out.push(g.score);
                out.push(g.weight);
            }
        }
        for scope in &self.scopes {
            for (_, var) in scope {
                if var.mutable
                    && let Some(leaves) = var.meta.leaves()
                {
                    out.extend(leaves);
                }
            }
        }
        out
    }

    /// The running log densities `(score, weight)` of every generative
    /// function being specialized, outermost first.
    pub fn handler_scores(&self) -> Vec<(ValueId, ValueId)> {
        self.handlers
            .iter()
            .filter_map(|h| match h {
                Handler::Gen(g) => Some((g.score, g.weight)),
                Handler::Expect => None,
            })
            .collect()
    }

    /// Sets the running log densities (in [`Lower::handler_scores`] order).
    pub fn set_handler_scores(&mut self, scores: &[(ValueId, ValueId)]) {
        let mut it = scores.iter();
        for h in &mut self.handlers {
            if let Handler::Gen(g) = h {
                (g.score, g.weight) = *it.next().expect("a score per handler");
            }
        }
    }

    /// Rebinds the mutable state to `leaves` (in [`Lower::state_leaves`]
    /// order).
    pub fn set_state_leaves(&mut self, leaves: &[ValueId]) {
        let mut it = leaves.iter().copied();
        for h in &mut self.handlers {
            if let Handler::Gen(g) = h {
                g.score = it.next().expect("state leaf");
                g.weight = it.next().expect("state leaf");
            }
        }
        for scope in &mut self.scopes {
            for (_, var) in scope.iter_mut() {
                if var.mutable && var.meta.leaves().is_some() {
                    var.meta = var.meta.with_leaves(&mut it);
                }
            }
        }
    }

    /// The names of the mutable locals, in state order, with their leaf
    /// counts (for messages about state that changes type).
    pub fn state_names(&self) -> Vec<(String, usize)> {
        let mut out = Vec::new();
        for h in &self.handlers {
            if let Handler::Gen(_) = h {
                out.push(("the log density".to_string(), 2));
            }
        }
        for scope in &self.scopes {
            for (name, var) in scope {
                if var.mutable
                    && let Some(l) = var.meta.leaves()
                {
                    out.push((name.clone(), l.len()));
                }
            }
        }
        out
    }

    /// The innermost handler's generative-function state, if it is one.
    pub fn gen_state(&mut self) -> Option<&mut GenState> {
        match self.handlers.last_mut() {
            Some(Handler::Gen(g)) => Some(g),
            _ => None,
        }
    }

    /// A fresh site id.
    pub fn fresh_site(&mut self) -> u32 {
        self.next_site += 1;
        self.next_site - 1
    }
}

/// A type as users read it: `real`, `int`, `bool`, `real[3]`.
pub(crate) fn describe_type(t: &Type) -> String {
    let base = match t.elem {
        Elem::F64 => "real",
        Elem::I64 => "int",
        Elem::Bool => "bool",
    };
    if t.shape.is_empty() {
        base.to_string()
    } else {
        format!(
            "{base}[{}]",
            t.shape
                .iter()
                .map(|d| if *d == crate::ir::DYNAMIC {
                    "?".to_string()
                } else {
                    d.to_string()
                })
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
