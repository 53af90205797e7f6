//! Lowering: from the checked AST to the core IR.
//!
//! A [`Program`] holds the parsed modules (the main file and the standard
//! library modules it imports), the global definitions of each module and
//! the table of learnable parameters. Its top-level statements (`fit`,
//! `report`) are executed by the runtime in order; for each one the runtime
//! asks the program to compile what it needs:
//!
//! * [`Program::compile_objective`] lowers an expectation into an IR
//!   function of the parameters (the "body", with random choices), checks
//!   the soundness of its pathwise sites, applies ADEV, and differentiates
//!   the estimator ([`objective::CompiledObjective`]);
//! * [`Program::compile_value`] lowers a deterministic expression of the
//!   parameters (a `report` of a number).
//!
//! The REPL and the embedding API ask for more (`entry.rs`): an
//! expression's value with its type ([`Program::compile_entry`]), the IR
//! after each pass ([`Program::compile_stages`]), and a generative function
//! compiled to run forward ([`Program::compile_simulation`]). Host functions
//! registered by an embedding are given to [`Program::load_with_host`] and
//! become the `host` primitive.
//!
//! Lowering is a staged evaluator (`ctx.rs`, `expr.rs`, `stmt.rs`): it runs
//! the program's structure at compile time — inlining every call,
//! specializing generative functions to simulate / density / generate
//! (`genfn.rs`), resolving records, choice maps and closures (`meta.rs`) —
//! and emits IR for the numeric computation only. This is where the
//! generative-function specialization of the design happens: doing it while
//! lowering keeps choice maps and first-class generative functions out of
//! the IR, so every IR pass works on tensors and structured control flow.

mod builtins;
mod consts;
mod ctx;
mod data;
mod dist_shapes;
mod entry;
mod expr;
mod genfn;
mod linearity;
pub mod meta;
mod objective;
mod params;
mod sir;
mod stmt;
mod tensor;

pub use consts::ConstValue;
pub use entry::{CompiledEntry, CompiledSimulation, SimulatedChoice, Stages, ValueType};
pub use objective::{CompiledObjective, CompiledValue};
pub use params::{Constraint, InitDraw, ParamInfo};

use meta::FnRef;
use std::collections::HashMap;
use std::path::PathBuf;
use std::rc::Rc;
use vprog_lang::ast::{Expr, FunctionKind, ItemKind, LetStmt, SourceFile};
use vprog_lang::check::HostSignature;
use vprog_lang::{Diagnostic, FileId, SourceMap, Span};

/// One parsed module.
#[derive(Clone, Debug)]
pub struct Module {
    /// The module's name (`main` for the program's own file).
    pub name: String,
    /// Its source file.
    pub file: FileId,
    /// Its syntax tree.
    pub ast: Rc<SourceFile>,
}

/// A top-level definition.
#[derive(Clone, Debug)]
pub(crate) enum Global {
    /// A `gen` or `fn`.
    Function(FnRef),
    /// A top-level `let`, evaluated where it is used.
    Let(Rc<LetStmt>),
    /// A top-level `param` (index into the parameter table).
    Param(usize),
}

/// A parsed program ready to be compiled statement by statement.
#[derive(Debug)]
pub struct Program {
    /// The modules; index 0 is the main file.
    pub modules: Vec<Module>,
    /// Per module: name → definitions with the index of the item defining
    /// them, in source order.
    pub(crate) globals: Vec<HashMap<String, Vec<(usize, Global)>>>,
    /// Per module: the modules it imports.
    pub(crate) imports: Vec<Vec<usize>>,
    /// The learnable parameters.
    pub params: Vec<ParamInfo>,
    /// The host functions the program may call; a call of `host[i]` is the
    /// primitive `host<id=i>`.
    pub host: Vec<HostSignature>,
    /// The directory that relative paths of `load_csv` and `load_npy` are
    /// read from: the main file's directory (from its name in the source
    /// map), or the current directory (the empty path) for a program
    /// without a file. A caller that names the program otherwise sets it.
    pub data_dir: PathBuf,
    /// The data files read so far, each read once.
    pub(crate) data: data::DataCache,
}

/// A top-level statement the runtime executes.
#[derive(Clone, Debug)]
pub enum Statement {
    /// `fit name with ...;`
    Fit(FitSpec),
    /// `report name = expr;`
    Report(ReportSpec),
}

/// A `fit` statement with its options evaluated.
#[derive(Clone, Debug)]
pub struct FitSpec {
    /// The objective's name (also the fit's reported name).
    pub name: String,
    /// The index of the statement's item in the main module.
    pub item: usize,
    /// The whole statement.
    pub span: Span,
    /// The objective expression (the name).
    pub objective: Rc<Expr>,
    /// The optimizer.
    pub optimizer: meta::Optimizer,
    /// Optimization steps.
    pub steps: usize,
    /// Independent estimates averaged per step.
    pub particles: usize,
    /// The seed, if the statement sets one.
    pub seed: Option<u64>,
    /// Parameters to set before training: `(name, where written, value)`.
    /// A name is a parameter's own name, resolved among the parameters the
    /// objective uses, or `gen.name`.
    pub init: Vec<(String, Span, ConstValue)>,
}

/// A `report` statement.
#[derive(Clone, Debug)]
pub struct ReportSpec {
    /// The report's name.
    pub name: String,
    /// The index of the statement's item in the main module.
    pub item: usize,
    /// The whole statement.
    pub span: Span,
    /// The reported expression.
    pub expr: Rc<Expr>,
}

/// Parses `source` as a standard-library module.
fn parse_module(
    sources: &mut SourceMap,
    name: &str,
) -> Option<Result<(FileId, SourceFile), Vec<Diagnostic>>> {
    let module = vprog_stdlib::module(name)?;
    let file = sources.add(module.file_name, module.source);
    let (ast, diags) = vprog_lang::parse::parse_file(file, module.source);
    Some(if diags.iter().any(Diagnostic::is_error) {
        Err(diags)
    } else {
        Ok((file, ast))
    })
}

impl Program {
    /// Builds a program from the parsed main file, loading the standard
    /// library modules it imports and collecting definitions and
    /// parameters.
    pub fn load(
        sources: &mut SourceMap,
        main: FileId,
        ast: SourceFile,
    ) -> Result<Program, Vec<Diagnostic>> {
        Program::load_with_host(sources, main, ast, &[])
    }

    /// [`Program::load`] for a program that may call the host functions
    /// `host` (see `vprog_lang::check::HostSignature`); the index of a
    /// function in `host` is its id in the IR and in the runtime's host
    /// registry.
    pub fn load_with_host(
        sources: &mut SourceMap,
        main: FileId,
        ast: SourceFile,
        host: &[HostSignature],
    ) -> Result<Program, Vec<Diagnostic>> {
        let mut modules = vec![Module {
            name: "main".into(),
            file: main,
            ast: Rc::new(ast),
        }];
        let mut imports: Vec<Vec<usize>> = Vec::new();
        let mut errors = Vec::new();
        let mut i = 0;
        while i < modules.len() {
            let mut mine = Vec::new();
            let ast = modules[i].ast.clone();
            for item in &ast.items {
                if let ItemKind::Import(name) = &item.kind {
                    if let Some(j) = modules.iter().position(|m| m.name == name.name) {
                        mine.push(j);
                        continue;
                    }
                    match parse_module(sources, &name.name) {
                        None => errors.push(
                            Diagnostic::error(
                                "E0102",
                                format!("there is no standard-library module `{}`", name.name),
                                name.span,
                            )
                            .with_primary_label("unknown module")
                            .with_help(format!(
                                "the modules are: {}",
                                vprog_stdlib::MODULES
                                    .iter()
                                    .map(|m| m.name)
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )),
                        ),
                        Some(Err(diags)) => errors.extend(diags),
                        Some(Ok((file, ast))) => {
                            modules.push(Module {
                                name: name.name.clone(),
                                file,
                                ast: Rc::new(ast),
                            });
                            mine.push(modules.len() - 1);
                        }
                    }
                }
            }
            imports.push(mine);
            i += 1;
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Names and types, over every module, before anything is lowered.
        let checked: Vec<vprog_lang::check::Module> = modules
            .iter()
            .zip(&imports)
            .map(|(m, imports)| vprog_lang::check::Module {
                name: &m.name,
                ast: &m.ast,
                imports: imports.clone(),
            })
            .collect();
        let type_errors: Vec<Diagnostic> =
            vprog_lang::check::check_program_with_host(&checked, host)
                .into_iter()
                .filter(Diagnostic::is_error)
                .collect();
        if !type_errors.is_empty() {
            return Err(type_errors);
        }
        let mut globals = Vec::new();
        let mut params = Vec::new();
        for (m, module) in modules.iter().enumerate() {
            let mut table: HashMap<String, Vec<(usize, Global)>> = HashMap::new();
            for (idx, item) in module.ast.items.iter().enumerate() {
                match &item.kind {
                    ItemKind::Function(decl) => {
                        let prior = table.get(&decl.name.name).and_then(|defs| {
                            defs.iter().find(|(_, g)| matches!(g, Global::Function(_)))
                        });
                        if let Some((_, Global::Function(f))) = prior {
                            errors.push(
                                Diagnostic::error(
                                    "E0103",
                                    format!("`{}` is defined twice", decl.name.name),
                                    decl.name.span,
                                )
                                .with_primary_label("second definition")
                                .with_label(f.decl.name.span, "first definition"),
                            );
                            continue;
                        }
                        let fref = FnRef {
                            decl: Rc::new(decl.clone()),
                            module: m,
                        };
                        if decl.kind == FunctionKind::Gen {
                            params::collect_gen_params(m, &fref, &mut params, &mut errors);
                        }
                        table
                            .entry(decl.name.name.clone())
                            .or_default()
                            .push((idx, Global::Function(fref)));
                    }
                    ItemKind::Let(stmt) => {
                        if let vprog_lang::ast::Pattern::Ident(name) = &stmt.pattern {
                            table
                                .entry(name.name.clone())
                                .or_default()
                                .push((idx, Global::Let(Rc::new(stmt.clone()))));
                        } else {
                            errors.push(Diagnostic::error(
                                "E0104",
                                "a top-level `let` must bind a single name",
                                stmt.pattern.span(),
                            ));
                        }
                    }
                    ItemKind::Param(decl) => {
                        let index = params.len();
                        params::collect_param(m, None, decl, &mut params, &mut errors);
                        if params.len() > index {
                            table
                                .entry(decl.name.name.clone())
                                .or_default()
                                .push((idx, Global::Param(index)));
                        }
                    }
                    _ => {}
                }
            }
            globals.push(table);
        }
        let mut program = Program {
            modules,
            globals,
            imports,
            params,
            host: host.to_vec(),
            data_dir: data::data_dir_of(&sources.get(main).name),
            data: data::DataCache::default(),
        };
        if errors.is_empty() {
            params::evaluate_inits(&mut program, &mut errors);
        }
        if errors.is_empty() {
            Ok(program)
        } else {
            Err(errors)
        }
    }

    /// The main module's `fit` and `report` statements, in order, with the
    /// fit options evaluated.
    pub fn statements(&self) -> Result<Vec<Statement>, Diagnostic> {
        let mut out = Vec::new();
        for (idx, item) in self.modules[0].ast.items.iter().enumerate() {
            match &item.kind {
                ItemKind::Fit(fit) => {
                    out.push(Statement::Fit(consts::fit_spec(self, idx, item.span, fit)?))
                }
                ItemKind::Report(report) => out.push(Statement::Report(ReportSpec {
                    name: report.name.name.clone(),
                    item: idx,
                    span: item.span,
                    expr: Rc::new(report.value.clone()),
                })),
                _ => {}
            }
        }
        Ok(out)
    }

    /// The index of the parameter called `name`: a qualified `gen.name`,
    /// or a bare name, resolved among the parameters marked in `among`
    /// when that is unambiguous.
    pub fn param_index(&self, name: &str, among: &[bool]) -> Result<usize, String> {
        if let Some(i) = self.params.iter().position(|p| p.qualified == name) {
            return Ok(i);
        }
        let all: Vec<usize> = (0..self.params.len())
            .filter(|&i| self.params[i].name == name)
            .collect();
        let used: Vec<usize> = all
            .iter()
            .copied()
            .filter(|&i| among.get(i).copied().unwrap_or(false))
            .collect();
        match (used.as_slice(), all.as_slice()) {
            ([i], _) | ([], [i]) => Ok(*i),
            (_, []) => Err(format!("there is no parameter `{name}`")),
            (many, all) => {
                let list = if many.is_empty() { all } else { many };
                Err(format!(
                    "`{name}` is ambiguous: it names {}; write `{{ gen: {{ {name}: ... }} }}` to choose",
                    list.iter()
                        .map(|&i| format!("`{}`", self.params[i].qualified))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            }
        }
    }
}
