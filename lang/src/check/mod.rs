//! Name resolution and type checking: a checked program, or diagnostics.
//!
//! The checker runs on the parsed modules of a program (the main file and
//! the standard-library modules it imports) before lowering, and reports
//! the errors that are certain whatever the functions are later
//! instantiated with — including errors in functions that are never
//! called. Lowering instantiates every function at its call sites and
//! catches what depends on instantiation (array lengths, choice-map
//! addresses, constants); the checker's rule is therefore **no false
//! positives**: where it does not know, it accepts.
//!
//! The algorithm:
//!
//! 1. **Globals.** Each module's `gen` and `fn` declarations, top-level
//!    `let`s and `param`s go into a table by name (a second `gen`/`fn` of
//!    one name is E0103). Functions are visible in the whole module;
//!    top-level `let`s and `param`s to later items and to function bodies.
//!    A name is looked up in the local scopes, then the module's globals,
//!    then the imported modules', then the builtins.
//! 2. **Items in order.** Each item is checked once, in source order.
//!    The type of a top-level `let` or `param` and the *signature* of a
//!    function are computed on demand (when first referred to) and
//!    remembered, so every body is checked exactly once and its errors are
//!    reported once.
//! 3. **Functions are generic.** A function body is checked with its
//!    annotated parameter types and a fresh type variable for each
//!    unannotated parameter. A use that needs a particular kind of value
//!    (`x + 1` a number, `if x` a boolean, `sim x` a generative function,
//!    `let (a, b) = x` a pair) binds the variable, and a later conflicting
//!    use is an error. Uses inside an `if` branch bind nothing: a branch
//!    whose condition is constant at a call site may never be lowered, which
//!    is how a function handles arguments of several kinds.
//! 4. **Calls.** At a call site the arguments are matched against the
//!    callee's signature: the count (E0238), annotated types (E0240), and
//!    the kinds its body requires of unannotated parameters (E0240, with a
//!    label at the use that requires it). The result type is the
//!    signature's return type with the arguments' types substituted.
//!
//! Unknown names, and values whose type is not known (type variables,
//! fields of choice maps), have the type `Any`, which agrees with
//! everything, so one mistake yields one diagnostic. Codes and messages
//! are the lowering's where it reports the same error
//! (`spec/diagnostics.md`).
//!
//! **Left to lowering:** array lengths that depend on arguments, the
//! addresses of choice maps (a `density` whose choice map lacks or adds an
//! address, `merge` of choice maps that overlap, other than two record
//! literals), compile-time constants (parameter initializers, `fit`
//! options, `sir` particle counts, loop bounds of static arrays), the
//! linearity of nested expectations (E0501), the soundness of pathwise
//! strategies (E0502), and recursion (E0242).
//!
//! **Layout:** `scope.rs` holds the context of a body and name lookup;
//! `types.rs` the types; `require.rs` what operations require of their
//! operands; `expr.rs`, `control.rs`, `stmt.rs` and `sample.rs` check
//! expressions and statements; `call.rs` calls and signatures;
//! `builtins.rs`, `tensor.rs`, `distributions.rs`, `inference.rs` and
//! `data.rs` the builtins; `items.rs` the top-level items.

mod builtins;
mod call;
mod control;
mod data;
mod distributions;
mod expr;
mod inference;
mod init;
mod items;
mod require;
mod sample;
mod scope;
mod stmt;
mod tensor;
mod types;

use std::collections::HashMap;
use std::rc::Rc;

use crate::ast::{FunctionDecl, FunctionKind, ItemKind, SourceFile, StmtKind, TypeExprKind};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

pub use self::data::{DATA_BUILTINS, load_declared_type, load_needs_declared_type};
pub use self::init::{RandomInit, fans, random_initializer};
use self::scope::VarState;
use self::types::{FuncId, Ty};

/// One parsed module of a program.
#[derive(Clone, Debug)]
pub struct Module<'a> {
    /// The module's name (`main` for the program's own file, the import
    /// name for a standard-library module).
    pub name: &'a str,
    /// Its syntax tree.
    pub ast: &'a SourceFile,
    /// The indices (into the module slice) of the modules it imports.
    pub imports: Vec<usize>,
}

/// Resolves names and checks types in `modules`: `modules[0]` is the main
/// file, the standard-library modules it imports follow. Returns every
/// error found, ordered by position; an empty list means the program
/// checked clean. Nothing is printed.
///
/// ```
/// use vprog_lang::FileId;
/// use vprog_lang::check::{Module, check_program};
/// use vprog_lang::parse::parse_file;
///
/// let (ast, _) = parse_file(FileId(0), "let x = 1.0 + true;");
/// let main = Module { name: "main", ast: &ast, imports: vec![] };
/// let diagnostics = check_program(&[main]);
/// assert_eq!(diagnostics[0].message, "`+` cannot combine real and bool");
/// ```
pub fn check_program(modules: &[Module<'_>]) -> Vec<Diagnostic> {
    check_program_with_host(modules, &[])
}

/// Every builtin name (spec §8): functions, distributions, optimizers and
/// the constant `pi`.
pub fn builtin_names() -> &'static [&'static str] {
    builtins::BUILTINS
}

/// A function the embedding Rust program provides (a *host function*):
/// programs call it by name with `arity` real scalars and get a real.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSignature {
    /// The name programs call it by.
    pub name: String,
    /// The number of real arguments.
    pub arity: usize,
}

/// [`check_program`] for a program that may also call the host functions
/// `host` (each `fn(real, ..., real) -> real`). A host function is found
/// after the program's own definitions and the builtins; when two have one
/// name, the later one counts.
pub fn check_program_with_host(modules: &[Module<'_>], host: &[HostSignature]) -> Vec<Diagnostic> {
    let mut checker = Checker::new(modules);
    checker.host = host;
    checker.run();
    let mut diagnostics = checker.diagnostics;
    diagnostics.sort_by_key(|d| (d.span.file, d.span.start, d.span.end));
    diagnostics
}

/// A top-level definition.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Global {
    /// A `gen` or `fn`.
    Function(FuncId),
    /// A top-level `let` (the item's index).
    Let(usize),
    /// A top-level `param` (the item's index).
    Param(usize),
}

/// A learnable parameter declared in a `gen` body.
#[derive(Clone, Debug)]
pub(crate) struct LearnedParam {
    /// Its name.
    pub name: String,
    /// Its declared dimensions (`real[3]`), if any.
    pub dims: Option<Vec<u64>>,
}

/// A result computed on demand and remembered.
#[derive(Clone, Debug)]
pub(crate) enum Memo<T> {
    /// Not computed yet.
    Todo,
    /// Being computed (a reference back to it is a cycle).
    InProgress,
    /// Computed.
    Done(T),
}

/// What callers need to know about a function: its parameters' types and
/// its return type, in terms of the type variables of its body.
#[derive(Clone, Debug)]
pub(crate) struct Signature {
    /// Per parameter: its annotated type, or the type variable of an
    /// unannotated one.
    pub params: Vec<Ty>,
    /// The function's type variables after checking its body: what the
    /// body requires of each.
    pub vars: Vec<VarState>,
    /// The type of the body's value.
    pub ret: Ty,
}

/// A `gen` or `fn` declaration and its checking state.
pub(crate) struct FunctionInfo<'a> {
    /// The module declaring it.
    pub module: usize,
    /// The declaration.
    pub decl: &'a FunctionDecl,
    /// For a `gen`, its learnable parameters.
    pub learned: Vec<LearnedParam>,
    /// Its signature, once its body is checked.
    pub signature: Memo<Rc<Signature>>,
}

/// The state of a whole check.
pub(crate) struct Checker<'a> {
    /// The modules.
    pub modules: &'a [Module<'a>],
    /// Per module: the global definitions by name, in source order.
    pub globals: Vec<HashMap<&'a str, Vec<Global>>>,
    /// Every function declaration of every module.
    pub functions: Vec<FunctionInfo<'a>>,
    /// Per module and item: the type of a top-level `let` or `param`.
    pub item_types: Vec<Vec<Memo<Ty>>>,
    /// The errors found so far.
    pub diagnostics: Vec<Diagnostic>,
    /// How deep the checker is: expressions being checked, one inside
    /// another, across the bodies checked on demand.
    pub depth: usize,
    /// The host functions programs may call.
    pub host: &'a [HostSignature],
}

/// How deep the checker may be when it starts checking another body on
/// demand (for a call of a function not checked yet). Deeper, the call is
/// typed `Any` and the callee is checked when its own item comes, so a
/// long chain of calls cannot exhaust the stack.
const MAX_DEPTH: usize = 320;

/// What starting a body on demand adds to the depth.
const BODY_DEPTH: usize = 8;

impl<'a> Checker<'a> {
    fn new(modules: &'a [Module<'a>]) -> Checker<'a> {
        let mut checker = Checker {
            modules,
            globals: Vec::new(),
            functions: Vec::new(),
            item_types: Vec::new(),
            diagnostics: Vec::new(),
            depth: 0,
            host: &[],
        };
        for m in 0..modules.len() {
            checker.collect_globals(m);
        }
        checker
    }

    /// Builds the global table of module `m`, reporting duplicate
    /// functions (E0103), top-level tuple `let`s (E0104) and duplicate
    /// parameters (E0105).
    fn collect_globals(&mut self, m: usize) {
        let ast = self.modules[m].ast;
        let mut table: HashMap<&'a str, Vec<Global>> = HashMap::new();
        let mut top_params: Vec<(&str, Span)> = Vec::new();
        for (idx, item) in ast.items.iter().enumerate() {
            match &item.kind {
                ItemKind::Function(decl) => {
                    let id = FuncId(self.functions.len());
                    let learned = match decl.kind {
                        FunctionKind::Gen => self.collect_learned(decl),
                        FunctionKind::Fn => Vec::new(),
                    };
                    self.functions.push(FunctionInfo {
                        module: m,
                        decl,
                        learned,
                        signature: Memo::Todo,
                    });
                    let defs = table.entry(decl.name.name.as_str()).or_default();
                    let first = defs.iter().find_map(|g| match g {
                        Global::Function(f) => Some(*f),
                        _ => None,
                    });
                    match first {
                        Some(first) => {
                            let first_span = self.functions[first.0].decl.name.span;
                            self.diagnostics.push(
                                Diagnostic::error(
                                    "E0103",
                                    format!("`{}` is defined twice", decl.name.name),
                                    decl.name.span,
                                )
                                .with_primary_label("second definition")
                                .with_label(first_span, "first definition"),
                            );
                        }
                        None => defs.push(Global::Function(id)),
                    }
                }
                ItemKind::Let(stmt) => match &stmt.pattern {
                    crate::ast::Pattern::Ident(name) => {
                        table
                            .entry(name.name.as_str())
                            .or_default()
                            .push(Global::Let(idx));
                    }
                    other => self.diagnostics.push(Diagnostic::error(
                        "E0104",
                        "a top-level `let` must bind a single name",
                        other.span(),
                    )),
                },
                ItemKind::Param(decl) => {
                    self.check_constraint(decl.ty.as_ref());
                    match top_params.iter().find(|(n, _)| *n == decl.name.name) {
                        Some((_, first)) => {
                            self.duplicate_param(&decl.name.name, decl.name.span, *first)
                        }
                        None => top_params.push((&decl.name.name, decl.name.span)),
                    }
                    table
                        .entry(decl.name.name.as_str())
                        .or_default()
                        .push(Global::Param(idx));
                }
                _ => {}
            }
        }
        self.globals.push(table);
        self.item_types
            .push(ast.items.iter().map(|_| Memo::Todo).collect());
    }

    /// The learnable parameters declared at the top of a `gen` body.
    fn collect_learned(&mut self, decl: &FunctionDecl) -> Vec<LearnedParam> {
        let mut learned: Vec<LearnedParam> = Vec::new();
        let mut spans: Vec<Span> = Vec::new();
        for stmt in &decl.body.stmts {
            let StmtKind::Param(p) = &stmt.kind else {
                continue;
            };
            self.check_constraint(p.ty.as_ref());
            if let Some(i) = learned.iter().position(|l| l.name == p.name.name) {
                let qualified = format!("{}.{}", decl.name.name, p.name.name);
                self.duplicate_param(&qualified, p.name.span, spans[i]);
                continue;
            }
            let dims = p.ty.as_ref().and_then(|t| match &t.kind {
                TypeExprKind::Named { dims, .. } if !dims.is_empty() => Some(dims.clone()),
                _ => None,
            });
            learned.push(LearnedParam {
                name: p.name.name.clone(),
                dims,
            });
            spans.push(p.name.span);
        }
        learned
    }

    fn duplicate_param(&mut self, qualified: &str, span: Span, first: Span) {
        self.diagnostics.push(
            Diagnostic::error(
                "E0105",
                format!("parameter `{qualified}` is declared twice"),
                span,
            )
            .with_label(first, "first declared here"),
        );
    }

    /// Checks a parameter's constraint: `real`, `positive` or
    /// `unit_interval`, with optional dimensions (E0106).
    fn check_constraint(&mut self, ty: Option<&crate::ast::TypeExpr>) {
        let Some(ty) = ty else {
            return;
        };
        match &ty.kind {
            TypeExprKind::Named { name, .. } => {
                if !["real", "positive", "unit_interval"].contains(&name.name.as_str()) {
                    self.diagnostics.push(
                        Diagnostic::error(
                            "E0106",
                            format!("`{}` is not a parameter constraint", name.name),
                            name.span,
                        )
                        .with_help("a parameter is `real`, `positive` or `unit_interval`, optionally with dimensions: `real[3]`"),
                    );
                }
            }
            _ => self.diagnostics.push(Diagnostic::error(
                "E0106",
                "a parameter's type must be `real`, `positive` or `unit_interval`",
                ty.span,
            )),
        }
    }

    /// Checks every item of every module in source order.
    fn run(&mut self) {
        let mut next_function = 0;
        for m in 0..self.modules.len() {
            let ast = self.modules[m].ast;
            for (idx, item) in ast.items.iter().enumerate() {
                match &item.kind {
                    ItemKind::Import(_) => {}
                    ItemKind::Function(_) => {
                        self.signature(FuncId(next_function));
                        next_function += 1;
                    }
                    ItemKind::Let(_) | ItemKind::Param(_) => {
                        self.item_type(m, idx);
                    }
                    ItemKind::Fit(fit) => self.check_fit(m, idx, fit),
                    ItemKind::Report(report) => self.check_report(m, idx, report),
                }
            }
        }
    }

    /// The signature of function `id`, checking its body the first time;
    /// `None` while its body is being checked (a recursive reference).
    pub(crate) fn signature(&mut self, id: FuncId) -> Option<Rc<Signature>> {
        match &self.functions[id.0].signature {
            Memo::Done(sig) => return Some(sig.clone()),
            Memo::InProgress => return None,
            Memo::Todo if self.depth >= MAX_DEPTH => return None,
            Memo::Todo => {}
        }
        self.functions[id.0].signature = Memo::InProgress;
        self.depth += BODY_DEPTH;
        let sig = Rc::new(self.check_function(id));
        self.depth -= BODY_DEPTH;
        self.functions[id.0].signature = Memo::Done(sig.clone());
        Some(sig)
    }

    /// The type of the top-level `let` or `param` at item `idx` of module
    /// `m`, checking it the first time (`Any` for a cyclic reference).
    pub(crate) fn item_type(&mut self, m: usize, idx: usize) -> Ty {
        match &self.item_types[m][idx] {
            Memo::Done(ty) => return ty.clone(),
            Memo::InProgress => return Ty::Any,
            Memo::Todo if self.depth >= MAX_DEPTH => return Ty::Any,
            Memo::Todo => {}
        }
        self.item_types[m][idx] = Memo::InProgress;
        self.depth += BODY_DEPTH;
        let ty = self.check_definition(m, idx);
        self.depth -= BODY_DEPTH;
        self.item_types[m][idx] = Memo::Done(ty.clone());
        ty
    }
}
