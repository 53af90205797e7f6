//! The checking context of one body, and name resolution.
//!
//! A [`Body`] checks one top-level definition, statement or function body.
//! It holds the local scopes, the type variables of the function's
//! unannotated parameters, and where the code is: in a `gen` body (random
//! choices allowed, `param` declarations at the top), inside `E { }`
//! (random choices allowed, a nested expectation is a number), in an `if`
//! branch (type variables are not bound), in a `fit` or `report`
//! (evaluated outside any expectation).
//!
//! Names resolve innermost first: locals (`let`, patterns, parameters,
//! loop variables, `param`s of the `gen` body, sampled addresses), then the
//! module's globals (functions everywhere; top-level `let`s and `param`s
//! only after their definition, except in function bodies, which see them
//! all), then the imported modules' globals, then the builtins.

use std::sync::OnceLock;

use super::builtins;
use super::types::{Applied, Callable, FuncId, GenKind, GenTy, Ty, VarId};
use super::{Checker, Global};
use crate::ast::{FunctionKind, Ident, ItemKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// What the body of a function requires of one of its type variables.
#[derive(Clone, Debug)]
pub(crate) enum VarState {
    /// Nothing yet.
    Free,
    /// A type, required by the use at `span` (`why` says how it is used:
    /// "used as a number").
    Bound {
        /// The required type (possibly with further variables inside).
        ty: Ty,
        /// The first use that required it.
        span: Span,
        /// How that use used the value.
        why: &'static str,
    },
}

/// What kind of code a body is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Base {
    /// A top-level `let` or `param`: evaluated where it is used.
    Definition,
    /// A `fit` or `report` statement: evaluated outside any expectation.
    Statement,
    /// The body of a `gen` or `fn`.
    Function(FunctionKind),
}

/// What binds a local variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LocalKind {
    /// `let` (or `let mut`).
    Let,
    /// A function parameter.
    Parameter,
    /// A `for` loop or comprehension variable.
    LoopVariable,
    /// A random choice `x ~ d` or `let v = y[i] ~ d`.
    Choice,
    /// A learnable parameter of a `gen` body.
    Learned,
}

/// A local variable.
#[derive(Clone, Debug)]
pub(crate) struct Local {
    /// Its name.
    pub name: String,
    /// Its type.
    pub ty: Ty,
    /// What bound it.
    pub kind: LocalKind,
    /// Whether it was declared `let mut`.
    pub mutable: bool,
    /// Where it was bound.
    pub span: Span,
    /// How many expectations enclosed its binding (an expectation captures
    /// the variables around it by value).
    pub expect_depth: u32,
    /// For the variable of a loop of a `gen` body, the loop's id.
    pub gen_loop: Option<u32>,
}

/// A `for` loop (or comprehension) of a `gen` body, outside expectations.
#[derive(Clone, Debug)]
pub(crate) struct GenLoop {
    /// The loop's id (its variable's [`Local::gen_loop`]).
    pub id: u32,
    /// The loop variable's name, for messages.
    pub var: String,
    /// The lower bound, when it is a constant other than 0.
    pub nonzero_start: Option<Span>,
}

/// The addresses a `gen` body makes, for its loops and branches.
#[derive(Clone, Debug, Default)]
pub(crate) struct GenFrames {
    /// The loops around the current code, outermost first.
    pub loops: Vec<GenLoop>,
    /// The addresses made in the current loop body or branch (innermost
    /// last), with where each was made.
    pub frames: Vec<Vec<(String, Span)>>,
}

/// The checking context of one body.
pub(crate) struct Body<'c, 'a> {
    /// The whole check.
    pub ck: &'c mut Checker<'a>,
    /// The module of the code.
    pub module: usize,
    /// The top-level item being checked, or `None` in a function body
    /// (which sees every top-level definition of its module).
    pub item: Option<usize>,
    /// What kind of code this is.
    pub base: Base,
    /// The local scopes, innermost last.
    pub scopes: Vec<Vec<Local>>,
    /// The type variables of the function's unannotated parameters.
    pub vars: Vec<VarState>,
    /// How many `if` branches enclose the code.
    pub branch_depth: u32,
    /// How many expectations enclose the code.
    pub expect_depth: u32,
    /// How many blocks enclose the code inside the body's own block.
    pub block_depth: u32,
    /// The loops and addresses of a `gen` body.
    pub gen_frames: GenFrames,
    /// Whether a `param` initializer is being checked (it must be a
    /// constant, so locals are out of reach).
    pub in_param_init: bool,
    /// The next loop id.
    pub next_loop: u32,
    /// For each enclosing `plate`, how many scopes were open at its entry
    /// (the variables of those scopes cannot be assigned inside it).
    pub plate_scopes: Vec<usize>,
}

impl<'c, 'a> Body<'c, 'a> {
    /// A body in `module`, for top-level item `item` (or a function body).
    pub fn new(ck: &'c mut Checker<'a>, module: usize, item: Option<usize>, base: Base) -> Self {
        Body {
            ck,
            module,
            item,
            base,
            scopes: vec![Vec::new()],
            vars: Vec::new(),
            branch_depth: 0,
            expect_depth: 0,
            block_depth: 0,
            gen_frames: GenFrames::default(),
            in_param_init: false,
            next_loop: 0,
            plate_scopes: Vec::new(),
        }
    }

    // ---- diagnostics and context ------------------------------------------

    /// Reports an error.
    pub fn report(&mut self, diagnostic: Diagnostic) {
        self.ck.diagnostics.push(diagnostic);
    }

    /// Whether random choices and `sim` are allowed here: in a `gen` body
    /// or inside an expectation.
    pub fn stochastic(&self) -> bool {
        self.base == Base::Function(FunctionKind::Gen) || self.expect_depth > 0
    }

    /// Whether the code is directly in a `gen` body (not inside an
    /// expectation in it), where choices go into the choice map.
    pub fn in_gen(&self) -> bool {
        self.base == Base::Function(FunctionKind::Gen) && self.expect_depth == 0
    }

    /// Whether an expectation used as a number is one sample of its body:
    /// everywhere except directly in a `fit` or `report` (function bodies
    /// and top-level `let`s may be used inside an expectation).
    pub fn expectation_is_number(&self) -> bool {
        self.base != Base::Statement || self.expect_depth > 0
    }

    // ---- type variables ---------------------------------------------------

    /// A fresh type variable.
    pub fn fresh_var(&mut self) -> Ty {
        self.vars.push(VarState::Free);
        Ty::Var(VarId(self.vars.len() - 1))
    }

    /// `ty` with its outer type variables replaced by what they are bound
    /// to (a free variable stays).
    pub fn resolve(&self, ty: &Ty) -> Ty {
        let mut ty = ty.clone();
        while let Ty::Var(v) = ty {
            match self.vars.get(v.0) {
                Some(VarState::Bound { ty: bound, .. }) => ty = bound.clone(),
                _ => return Ty::Var(v),
            }
        }
        ty
    }

    /// Binds the free variable `v` to `ty` because of the use at `span`,
    /// unless the use is inside an `if` branch. Returns what `v` stands
    /// for afterwards (`Any` when it stays free).
    pub fn bind(&mut self, v: VarId, ty: Ty, span: Span, why: &'static str) -> Ty {
        if self.branch_depth > 0 {
            return Ty::Any;
        }
        if let Some(state @ VarState::Free) = self.vars.get_mut(v.0) {
            *state = VarState::Bound {
                ty: ty.clone(),
                span,
                why,
            };
        }
        self.resolve(&Ty::Var(v))
    }

    /// Replaces the binding of `v` with a more precise one (an integer
    /// where a number was required), outside `if` branches.
    pub fn refine(&mut self, v: VarId, ty: Ty) {
        if self.branch_depth > 0 {
            return;
        }
        if let Some(VarState::Bound { ty: bound, .. }) = self.vars.get_mut(v.0) {
            *bound = ty;
        }
    }

    /// The variable that `ty` resolves through last, if it is one.
    pub fn last_var(&self, ty: &Ty) -> Option<VarId> {
        let mut ty = ty.clone();
        let mut last = None;
        while let Ty::Var(v) = ty {
            last = Some(v);
            match self.vars.get(v.0) {
                Some(VarState::Bound { ty: bound, .. }) => ty = bound.clone(),
                _ => break,
            }
        }
        last
    }

    // ---- scopes -----------------------------------------------------------

    /// Runs `f` in a new innermost scope.
    pub fn scoped<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> T {
        self.scopes.push(Vec::new());
        let r = f(self);
        self.scopes.pop();
        r
    }

    /// Binds a local variable in the innermost scope.
    pub fn declare(&mut self, name: &Ident, ty: Ty, kind: LocalKind, mutable: bool) {
        self.declare_local(Local {
            name: name.name.clone(),
            ty,
            kind,
            mutable,
            span: name.span,
            expect_depth: self.expect_depth,
            gen_loop: None,
        });
    }

    /// Binds a local variable described in full.
    pub fn declare_local(&mut self, local: Local) {
        if let Some(scope) = self.scopes.last_mut() {
            scope.push(local);
        }
    }

    /// The local variable `name`, innermost first.
    /// The index of the scope that declares the local `name`.
    pub fn local_scope(&self, name: &str) -> Option<usize> {
        self.scopes
            .iter()
            .rposition(|s| s.iter().any(|l| l.name == name))
    }

    pub fn local(&self, name: &str) -> Option<&Local> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .find(|l| l.name == name)
    }

    // ---- name resolution --------------------------------------------------

    /// The type of the variable, global or builtin `name`, or `Any` after
    /// reporting that it does not exist (E0200).
    pub fn lookup(&mut self, name: &Ident) -> Ty {
        if let Some(local) = self.local(&name.name) {
            let ty = local.ty.clone();
            if self.in_param_init {
                self.report(
                    Diagnostic::error(
                        "E0120",
                        format!("`{}` must be a compile-time constant", name.name),
                        name.span,
                    )
                    .with_primary_label("not a constant")
                    .with_help("a parameter's initial value is computed before the program runs: use numbers, arithmetic, arrays and records of constants, or a top-level `let` of one"),
                );
                return Ty::Any;
            }
            return ty;
        }
        match self.global(&name.name, name.span) {
            Some(ty) => ty,
            None => {
                let diagnostic = self.unknown_name(&name.name, name.span);
                self.report(diagnostic);
                Ty::Any
            }
        }
    }

    /// The modules whose globals this code sees: its own, then its imports.
    fn visible_modules(&self) -> Vec<usize> {
        let mut modules = vec![self.module];
        modules.extend(self.ck.modules[self.module].imports.iter().copied());
        modules
    }

    /// The global (or builtin) `name`, if there is one.
    pub fn global(&mut self, name: &str, span: Span) -> Option<Ty> {
        for m in self.visible_modules() {
            let Some(defs) = self.ck.globals[m].get(name) else {
                continue;
            };
            let defs = defs.clone();
            if let Some(id) = defs.iter().find_map(|g| match g {
                Global::Function(id) => Some(*id),
                _ => None,
            }) {
                return Some(self.function_value(id));
            }
            let restricted = m == self.module && self.item.is_some();
            let visible: Vec<Global> = match self.item {
                Some(item) if restricted => defs
                    .iter()
                    .copied()
                    .filter(|g| matches!(g, Global::Let(i) | Global::Param(i) if *i < item))
                    .collect(),
                _ => defs,
            };
            let chosen = match visible.as_slice() {
                [] => continue,
                [.., last] if restricted => *last,
                [only] => *only,
                _ => {
                    self.report(Diagnostic::error(
                        "E0201",
                        format!("`{name}` is defined more than once at the top level, so a function cannot refer to it"),
                        span,
                    ).with_help("rename one of the definitions"));
                    return Some(Ty::Any);
                }
            };
            return Some(match chosen {
                Global::Let(idx) | Global::Param(idx) => self.ck.item_type(m, idx),
                Global::Function(id) => self.function_value(id),
            });
        }
        builtins::builtin_value(name).or_else(|| {
            let host = self.ck.host.iter().rposition(|h| h.name == name)?;
            Some(Ty::Func(Some(Callable::Host(host))))
        })
    }

    /// The value of a function declaration used by name.
    pub fn function_value(&self, id: FuncId) -> Ty {
        let decl = self.ck.functions[id.0].decl;
        match decl.kind {
            FunctionKind::Fn => Ty::Func(Some(Callable::User(id))),
            FunctionKind::Gen => Ty::Gen(GenTy {
                func: Some(id),
                // A generative function without parameters is applied already.
                applied: if decl.params.is_empty() {
                    Applied::Yes(Vec::new())
                } else {
                    Applied::No
                },
                kind: GenKind::Function,
            }),
        }
    }

    /// The diagnostic for an unknown name, with a suggestion: a name that
    /// a missing `import` would bring in, or a near miss.
    pub fn unknown_name(&self, name: &str, span: Span) -> Diagnostic {
        let diagnostic =
            Diagnostic::error("E0200", format!("cannot find `{name}` in this scope"), span)
                .with_primary_label("not found");
        let imported: Vec<&str> = self.ck.modules[self.module]
            .imports
            .iter()
            .map(|&m| self.ck.modules[m].name)
            .collect();
        if matches!(name, "glorot" | "he") {
            return diagnostic.with_help(format!(
                "`{name}()` is a random initializer: it can only be the whole initial value of a `param`, as in `param w: real[200, 64] = {name}();`"
            ));
        }
        if let Some(module) = stdlib_module_defining(name).filter(|m| !imported.contains(m)) {
            return diagnostic.with_help(format!(
                "`{name}` is in the standard library: add `import {module};`"
            ));
        }
        let defined_later = self.item.is_some_and(|item| {
            self.ck.globals[self.module].get(name).is_some_and(|defs| {
                defs.iter()
                    .any(|g| matches!(g, Global::Let(i) | Global::Param(i) if *i >= item))
            })
        });
        if defined_later {
            return diagnostic.with_help(format!(
                "`{name}` is defined further down: a top-level `let` or `param` is visible only to the items after it"
            ));
        }
        match self.closest_name(name) {
            Some(best) => diagnostic.with_help(format!("did you mean `{best}`?")),
            None => diagnostic,
        }
    }

    /// The visible name closest to `name`, if one is close enough to be a
    /// likely typo.
    fn closest_name(&self, name: &str) -> Option<String> {
        let mut candidates: Vec<String> = Vec::new();
        for scope in self.scopes.iter().rev() {
            candidates.extend(scope.iter().rev().map(|l| l.name.clone()));
        }
        for m in self.visible_modules() {
            let mut names: Vec<&str> = self.ck.globals[m]
                .iter()
                .filter(|(_, defs)| {
                    defs.iter().any(|g| match (g, self.item) {
                        (Global::Let(i) | Global::Param(i), Some(item)) if m == self.module => {
                            *i < item
                        }
                        _ => true,
                    })
                })
                .map(|(n, _)| *n)
                .collect();
            names.sort_unstable();
            candidates.extend(names.into_iter().map(str::to_string));
        }
        candidates.extend(builtins::BUILTINS.iter().map(|b| b.to_string()));
        candidates.extend(self.ck.host.iter().map(|h| h.name.clone()));
        let limit = name.chars().count().max(3) / 3;
        candidates
            .into_iter()
            .filter(|c| c != name)
            .map(|c| (edit_distance(&c.to_lowercase(), &name.to_lowercase()), c))
            .filter(|(d, _)| *d <= limit && *d < name.chars().count())
            .min_by_key(|(d, _)| *d)
            .map(|(_, c)| c)
    }
}

/// The standard-library module that defines the global `name`, if any.
fn stdlib_module_defining(name: &str) -> Option<&'static str> {
    static NAMES: OnceLock<Vec<(&'static str, Vec<String>)>> = OnceLock::new();
    let modules = NAMES.get_or_init(|| {
        vprog_stdlib::MODULES
            .iter()
            .map(|module| {
                let (ast, _) = crate::parse::parse_file(crate::span::FileId(0), module.source);
                let names = ast
                    .items
                    .iter()
                    .filter_map(|item| match &item.kind {
                        ItemKind::Function(f) => Some(f.name.name.clone()),
                        ItemKind::Let(l) => match &l.pattern {
                            crate::ast::Pattern::Ident(n) => Some(n.name.clone()),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect();
                (module.name, names)
            })
            .collect()
    });
    modules
        .iter()
        .find(|(_, names)| names.iter().any(|n| n == name))
        .map(|(module, _)| *module)
}

/// The Levenshtein distance between two strings.
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
