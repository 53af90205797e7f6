//! The core IR: flat SSA in A-normal form with structured control flow.
//!
//! A [`Function`] owns two arenas — values and operations — addressed by
//! `u32` ids. Its body is a [`Region`]: a list of block parameters, a list of
//! operations in execution order, and the values the region yields. Control
//! flow is structured: an `if` operation holds two regions, a `for` holds
//! one; there are no jumps. A value defined in a region is visible in that
//! region after its definition and in every region nested inside it, never
//! outside (the verifier checks this).
//!
//! Every value is a tensor with a static [`Type`]. Operations are either
//! primitives ([`Prim`], pure functions with rules in `prim/`), structured
//! control flow, or effects: random choices and costs before ADEV, keyed
//! draws and forcing-table reads after it. Records, choice maps, generative
//! functions and closures never reach the IR — lowering resolves them at
//! compile time.

mod builder;
mod print;
mod read;
mod types;
pub mod verify;

pub use builder::Builder;
pub use print::print_function;
pub use read::{ReadError, read_function};
pub use types::{DYNAMIC, Elem, Type};

use crate::dist::{DistKind, StrategyKind};
use crate::prim::Prim;
use vprog_lang::Span;

/// The id of a value within its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ValueId(pub u32);

/// The id of an operation within its function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(pub u32);

/// The id of a source origin (span and site) within its function; `0` is
/// "no origin".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct OriginId(pub u32);

/// Where an operation came from, for run-time error messages.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Origin {
    /// The source span, if known.
    pub span: Option<Span>,
    /// The address of the random choice the operation belongs to, if any
    /// (e.g. `guide/x`), used to name the site of run-time errors.
    pub site: Option<String>,
    /// Whether the operation tests a value against a distribution's
    /// support. Such a test never biases a pathwise gradient — a value
    /// leaving the support makes the log density −∞, which the driver
    /// reports — so the soundness check does not count it as a
    /// non-differentiable use.
    pub support_check: bool,
}

/// What is known about one value.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueInfo {
    /// The value's type.
    pub ty: Type,
}

/// A region: block parameters, operations in order, yielded values.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Region {
    /// The block parameters (for a `for` body: the index, then the carries).
    pub params: Vec<ValueId>,
    /// The operations, in execution order.
    pub ops: Vec<OpId>,
    /// The values the region yields to its parent operation.
    pub results: Vec<ValueId>,
}

/// A random choice before ADEV: where it is and how its gradient is
/// estimated.
#[derive(Clone, Debug, PartialEq)]
pub struct SiteInfo {
    /// A static id unique within the function; with the enclosing loop
    /// indices it keys the site's randomness.
    pub site: u32,
    /// The distribution family; the operation's arguments are its parameters.
    pub dist: DistKind,
    /// The gradient strategy.
    pub strategy: StrategyKind,
    /// Whether the strategy was written by the user (`by S`) rather than
    /// the distribution's default.
    pub explicit_strategy: bool,
    /// Whether a `reinforce` baseline is the last argument.
    pub has_baseline: bool,
    /// Whether the choice is inside `stop_grad(...)`: drawn with no
    /// gradient contribution at all.
    pub detached: bool,
}

/// The kinds of operations.
#[derive(Clone, Debug, PartialEq)]
pub enum OpKind {
    /// A pure primitive: one result.
    Prim(Prim),
    /// `args = [cond]`; `regions = [then, else]`, each yielding the results.
    If,
    /// A counted loop. `args = [lo, hi, carry inits...]`; the single region
    /// has params `[i, carries...]` and yields `[carries..., stacked...]`;
    /// the op's results are the final carries, then one stacked value (with
    /// a new leading dimension of `hi - lo`) per per-iteration output.
    For {
        /// How many of the region's yields are stacked per-iteration outputs.
        stacked: u32,
    },
    /// A random choice (before ADEV): `args` are the distribution's
    /// parameters (then the baseline, if any); the result is the value.
    Sample(SiteInfo),
    /// `add_cost(w)` (before ADEV): `args = [w]`, no results.
    AddCost,
    /// A keyed draw from a distribution, without derivative (after ADEV).
    /// `args` are the distribution's parameters, then the indices of the
    /// enclosing loops; the stream of randomness is keyed by the run, the
    /// site, the sub-stream and the indices.
    ///
    /// A *batched* draw (`batch = n > 0`, made by vmap from a draw in the
    /// body of a loop of `n` iterations) is `n` draws at once: every
    /// parameter has a leading axis of `n` rows, each index is an `i64`
    /// (the same in every row) or an `i64[n]` (one per row), and the
    /// result has a leading axis of `n` whose row `j` is exactly the draw
    /// of the unbatched operation given row `j` of each parameter and
    /// element `j` of each `i64[n]` index — the same stream, so the same
    /// numbers as the loop.
    Draw {
        /// The distribution.
        dist: DistKind,
        /// The site id.
        site: u32,
        /// The sub-stream within the site.
        stream: u32,
        /// How many of the arguments are distribution parameters.
        num_params: u32,
        /// `0` for one draw, else the number of rows of a batched draw.
        batch: u32,
    },
    /// The value of an `enum` site in the current run (after ADEV): the
    /// value the run is forced to, or else the first value of the support,
    /// recorded so the driver enumerates the others.
    /// `args = [support size, loop indices...]`; result `i64` or `bool`.
    EnumValue {
        /// The site id.
        site: u32,
        /// Whether the site's values are booleans (flip).
        boolean: bool,
    },
    /// The value of an `mvd` site in the current run (after ADEV): a keyed
    /// draw in the main run, the forced alternative in a branch run.
    /// `args` are the distribution's parameters then the loop indices.
    MvdValue {
        /// The distribution.
        dist: DistKind,
        /// The site id.
        site: u32,
        /// How many of the arguments are distribution parameters.
        num_params: u32,
    },
    /// The weak-derivative cotangent of an `mvd` site (after ADEV): zero in
    /// value runs, the coupled difference of the branch runs in the
    /// gradient run. `args` are the loop indices; the result has the type of
    /// the site's differentiated parameter.
    MvdCotangent {
        /// The site id.
        site: u32,
    },
    /// The minibatch of a subsampled `plate` over `0..n`: `m` distinct
    /// indices drawn uniformly (a random subset, in random order), keyed by
    /// the run and `(n, m)` only — so every plate over `0..n` with
    /// subsample `m` in one run, the model's and the guide's alike, sees
    /// the same indices. No arguments; the result is `i64[m]`.
    Subsample {
        /// The size of the plate.
        n: u32,
        /// The size of the minibatch.
        m: u32,
    },
}

/// An operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// What the operation does.
    pub kind: OpKind,
    /// Its operands.
    pub args: Vec<ValueId>,
    /// Its results.
    pub results: Vec<ValueId>,
    /// Nested regions (`if`, `for`).
    pub regions: Vec<Region>,
    /// Where it came from.
    pub origin: OriginId,
}

/// An IR function: arenas of values and operations, and a body region whose
/// params are the function's parameters and whose results are its results.
#[derive(Clone, Debug, PartialEq)]
pub struct Function {
    /// The function's name (for printing).
    pub name: String,
    /// The value arena.
    pub values: Vec<ValueInfo>,
    /// The operation arena (may hold dead operations not in any region).
    pub ops: Vec<Op>,
    /// Origins; index 0 is the empty origin.
    pub origins: Vec<Origin>,
    /// The body.
    pub body: Region,
}

impl Function {
    /// An empty function called `name`.
    pub fn new(name: impl Into<String>) -> Function {
        Function {
            name: name.into(),
            values: Vec::new(),
            ops: Vec::new(),
            origins: vec![Origin::default()],
            body: Region::default(),
        }
    }

    /// The type of `v`.
    pub fn ty(&self, v: ValueId) -> &Type {
        &self.values[v.0 as usize].ty
    }

    /// The operation `op`.
    pub fn op(&self, op: OpId) -> &Op {
        &self.ops[op.0 as usize]
    }

    /// The operation `op`, mutably.
    pub fn op_mut(&mut self, op: OpId) -> &mut Op {
        &mut self.ops[op.0 as usize]
    }

    /// A fresh value of type `ty`.
    pub fn new_value(&mut self, ty: Type) -> ValueId {
        self.values.push(ValueInfo { ty });
        ValueId((self.values.len() - 1) as u32)
    }

    /// Adds an operation to the arena (not to any region) and returns it.
    pub fn push_op(&mut self, op: Op) -> OpId {
        self.ops.push(op);
        OpId((self.ops.len() - 1) as u32)
    }

    /// Registers an origin and returns its id.
    pub fn add_origin(&mut self, origin: Origin) -> OriginId {
        if origin == Origin::default() {
            return OriginId(0);
        }
        if let Some(i) = self.origins.iter().position(|o| *o == origin) {
            return OriginId(i as u32);
        }
        self.origins.push(origin);
        OriginId((self.origins.len() - 1) as u32)
    }

    /// The origin `id`.
    pub fn origin(&self, id: OriginId) -> &Origin {
        &self.origins[id.0 as usize]
    }

    /// The types of the function's parameters.
    pub fn param_types(&self) -> Vec<Type> {
        self.body
            .params
            .iter()
            .map(|&v| self.ty(v).clone())
            .collect()
    }

    /// The types of the function's results.
    pub fn result_types(&self) -> Vec<Type> {
        self.body
            .results
            .iter()
            .map(|&v| self.ty(v).clone())
            .collect()
    }

    /// Calls `visit` on every operation reachable from the body, in
    /// execution order, parents before the operations in their regions.
    pub fn walk_ops(&self, mut visit: impl FnMut(OpId, &Op)) {
        fn walk(f: &Function, region: &Region, visit: &mut dyn FnMut(OpId, &Op)) {
            for &id in &region.ops {
                let op = f.op(id);
                visit(id, op);
                for r in &op.regions {
                    walk(f, r, visit);
                }
            }
        }
        walk(self, &self.body, &mut visit);
    }

    /// Whether any reachable operation satisfies `pred`.
    pub fn any_op(&self, mut pred: impl FnMut(&Op) -> bool) -> bool {
        let mut found = false;
        self.walk_ops(|_, op| found |= pred(op));
        found
    }
}
