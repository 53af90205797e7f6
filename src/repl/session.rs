//! The state of a REPL session and the evaluation of one entry.
//!
//! The session keeps the *definitions* accepted so far — the `gen`, `fn`,
//! `let`, `param` and `import` items of earlier entries, each parsed in
//! its own source file so that spans point into the entry that wrote them
//! — and the values of the parameters. An entry is evaluated by loading a
//! program made of the definitions and the entry:
//!
//! * **items** are appended; their `fit` and `report` statements (the only
//!   statements of that program) run in order, and the definitions join
//!   the session. A `gen`, `fn` or top-level `param` replaces an earlier
//!   one of the same name (and its parameters start again from their
//!   declared values); a `let` shadows an earlier one, as in a file;
//! * an **expression** becomes a hidden last `let` (so the type checker
//!   sees it) and is compiled as a `report` would be, then printed with
//!   its type: numbers, arrays, tuples and records by value, an
//!   `estimate(...)` as mean ± standard error, anything else by its type.
//!
//! A rejected entry leaves the session as it was. Parameters persist across
//! entries by qualified name, so a `fit` in one entry trains what the next
//! one reports.

use super::output::{Output, ReplSink, show_value};
use std::time::Instant;
use vprog::compiler::ir::print_function;
use vprog::compiler::lower::{CompiledValue, Program};
use vprog::lang::ast::{Expr, Ident, Item, ItemKind, LetStmt, Pattern, SourceFile};
use vprog::lang::parse::{ReplEntry, parse_file, parse_repl_entry};
use vprog::lang::{Diagnostic, FileId, SourceMap, Span};
use vprog::runtime::fit::{FitError, estimate};
use vprog::runtime::interp::{RunContext, run};
use vprog::runtime::params::ParamStore;
use vprog::runtime::rng::{RunKey, hash_words};
use vprog::runtime::session::Session;
use vprog::session_error_diagnostic;

/// The name of the hidden `let` an expression entry is checked as; it
/// cannot clash with a user's name.
const ENTRY_NAME: &str = "<entry>";

/// A REPL session: accepted definitions and parameter values.
pub struct ReplSession {
    sources: SourceMap,
    /// The (empty) file standing for the session's main module.
    main: FileId,
    definitions: Vec<Item>,
    /// The parameters' values after the last entry, by qualified name.
    params: ParamStore,
    seed: u64,
    entries: u64,
}

impl ReplSession {
    /// A fresh session whose randomness derives from `seed`.
    pub fn new(seed: u64) -> ReplSession {
        let mut sources = SourceMap::new();
        let main = sources.add("<session>", "");
        ReplSession {
            sources,
            main,
            definitions: Vec::new(),
            params: ParamStore { params: Vec::new() },
            seed,
            entries: 0,
        }
    }

    /// Forgets every definition and parameter value.
    pub fn reset(&mut self) {
        *self = ReplSession::new(self.seed);
    }

    /// The names the session defines (for completion).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .definitions
            .iter()
            .filter_map(|item| match &item.kind {
                ItemKind::Function(f) => Some(f.name.name.clone()),
                ItemKind::Let(l) => match &l.pattern {
                    Pattern::Ident(n) => Some(n.name.clone()),
                    _ => None,
                },
                ItemKind::Param(p) => Some(p.name.name.clone()),
                ItemKind::Import(_) | ItemKind::Fit(_) | ItemKind::Report(_) => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Evaluates one entry; returns whether it succeeded. Output and errors
    /// go to `out`.
    pub fn eval(&mut self, text: &str, out: &mut Output) -> bool {
        let file = self.new_file(text);
        let (entry, diagnostics) = parse_repl_entry(file, text);
        if diagnostics.iter().any(Diagnostic::is_error) {
            self.render(&diagnostics, out);
            return false;
        }
        match entry {
            None => true,
            Some(ReplEntry::Items(items)) => self.run_items(items, out),
            Some(ReplEntry::Expr(expr)) => self.eval_expr(&expr, out),
        }
    }

    /// Loads the file `name` with text `text` as if its items were entered.
    pub fn load_file(&mut self, name: &str, text: &str, out: &mut Output) -> bool {
        let file = self.sources.add(name, text);
        let (ast, diagnostics) = parse_file(file, text);
        if diagnostics.iter().any(Diagnostic::is_error) {
            self.render(&diagnostics, out);
            return false;
        }
        self.run_items(ast.items, out)
    }

    /// Prints the type of the expression `text`.
    pub fn type_of(&mut self, text: &str, out: &mut Output) -> bool {
        let Some((program, item, expr)) = self.expression(text, out) else {
            return false;
        };
        match program.compile_entry(item, "entry", &expr) {
            Ok(entry) => {
                out.line(&entry.ty.to_string());
                true
            }
            Err(d) => {
                self.render(&[d], out);
                false
            }
        }
    }

    /// Prints the IR of the expression `text` after each named pass.
    pub fn ir_of(&mut self, text: &str, out: &mut Output) -> bool {
        let Some((program, item, expr)) = self.expression(text, out) else {
            return false;
        };
        match program.compile_stages(item, "entry", &expr) {
            Ok(stages) => {
                for (name, func) in stages {
                    out.line(&format!("── after {name} ──"));
                    out.text(&print_function(&func));
                }
                true
            }
            Err(d) => {
                self.render(&[d], out);
                false
            }
        }
    }

    /// Evaluates an entry and prints how long it took.
    pub fn time(&mut self, text: &str, out: &mut Output) -> bool {
        let start = Instant::now();
        let ok = self.eval(text, out);
        out.line(&format!("time: {:.3} s", start.elapsed().as_secs_f64()));
        ok
    }

    // ---- evaluation -----------------------------------------------------

    fn new_file(&mut self, text: &str) -> FileId {
        self.entries += 1;
        self.sources.add(format!("<entry {}>", self.entries), text)
    }

    /// The seed of the current entry's statements.
    fn entry_seed(&self) -> u64 {
        hash_words(&[self.seed, self.entries, 0x7265_706c])
    }

    fn render(&self, diagnostics: &[Diagnostic], out: &mut Output) {
        let text = vprog::render_diagnostics(&self.sources, diagnostics, out.color);
        out.error(&text);
    }

    fn load(&mut self, items: Vec<Item>) -> Result<Program, Vec<Diagnostic>> {
        Program::load(&mut self.sources, self.main, SourceFile { items })
    }

    /// The definitions, without those that `items` replace: functions and
    /// top-level parameters of the same name.
    fn definitions_replaced_by(&self, items: &[Item]) -> Vec<Item> {
        let replaced = |old: &Item| {
            items.iter().any(|new| match (&old.kind, &new.kind) {
                (ItemKind::Function(a), ItemKind::Function(b)) => a.name.name == b.name.name,
                (ItemKind::Param(a), ItemKind::Param(b)) => a.name.name == b.name.name,
                (ItemKind::Import(a), ItemKind::Import(b)) => a.name == b.name,
                _ => false,
            })
        };
        self.definitions
            .iter()
            .filter(|old| !replaced(old))
            .cloned()
            .collect()
    }

    /// The parameters of `program`, at their values from earlier entries
    /// unless `fresh` names their owner (a redefined `gen` or `param`).
    fn carried_params(&self, program: &Program, fresh: &[String]) -> ParamStore {
        let mut store = ParamStore::initial(program, self.seed);
        for p in &mut store.params {
            let owner = p.name.split('.').next().unwrap_or(&p.name);
            if fresh.iter().any(|f| f == owner) {
                continue;
            }
            if let Some(old) = self
                .params
                .params
                .iter()
                .find(|q| q.name == p.name && q.shape == p.shape)
            {
                p.raw = old.raw.clone();
            }
        }
        store
    }

    fn run_items(&mut self, items: Vec<Item>, out: &mut Output) -> bool {
        let mut program_items = self.definitions_replaced_by(&items);
        program_items.extend(items.iter().cloned());
        let program = match self.load(program_items) {
            Ok(p) => p,
            Err(diagnostics) => {
                self.render(&diagnostics, out);
                return false;
            }
        };
        let fresh: Vec<String> = items
            .iter()
            .filter_map(|item| match &item.kind {
                ItemKind::Function(f) => Some(f.name.name.clone()),
                ItemKind::Param(p) => Some(p.name.name.clone()),
                _ => None,
            })
            .collect();
        let store = self.carried_params(&program, &fresh);
        let mut session = Session::new(program, self.entry_seed());
        session.store = store;
        let result = session.run(&mut ReplSink::new(out));
        // The entry's definitions were accepted (the program loaded); its
        // fits changed the parameters even if a later statement failed.
        let mut definitions = self.definitions_replaced_by(&items);
        definitions.extend(
            items
                .into_iter()
                .filter(|item| !matches!(item.kind, ItemKind::Fit(_) | ItemKind::Report(_))),
        );
        self.definitions = definitions;
        self.params = session.store;
        match result {
            Ok(()) => true,
            Err(e) => {
                self.render(&[session_error_diagnostic(&e)], out);
                false
            }
        }
    }

    /// Parses `text` as an expression entry and loads it with the
    /// definitions: the program, the item index the expression is seen
    /// from, and the expression.
    fn expression(&mut self, text: &str, out: &mut Output) -> Option<(Program, usize, Expr)> {
        let file = self.new_file(text);
        let (entry, diagnostics) = parse_repl_entry(file, text);
        if diagnostics.iter().any(Diagnostic::is_error) {
            self.render(&diagnostics, out);
            return None;
        }
        let expr = match entry {
            Some(ReplEntry::Expr(expr)) => expr,
            Some(ReplEntry::Items(_)) => {
                let span = Span::new(file, 0, text.trim_end().len());
                let d = Diagnostic::error("E0001", "expected an expression", span)
                    .with_primary_label("declarations, not an expression")
                    .with_help("this command takes an expression");
                self.render(&[d], out);
                return None;
            }
            None => {
                out.error("error: this command needs an expression\n");
                return None;
            }
        };
        self.load_expression(&expr, out)
            .map(|(program, item)| (program, item, expr))
    }

    /// Loads the definitions followed by a hidden `let` of `expr`.
    fn load_expression(&mut self, expr: &Expr, out: &mut Output) -> Option<(Program, usize)> {
        let mut items = self.definitions.clone();
        let item = items.len();
        items.push(Item {
            kind: ItemKind::Let(LetStmt {
                mutable: false,
                pattern: Pattern::Ident(Ident {
                    name: ENTRY_NAME.to_string(),
                    span: expr.span,
                }),
                ty: None,
                value: expr.clone(),
            }),
            span: expr.span,
        });
        match self.load(items) {
            Ok(program) => Some((program, item)),
            Err(diagnostics) => {
                self.render(&diagnostics, out);
                None
            }
        }
    }

    fn eval_expr(&mut self, expr: &Expr, out: &mut Output) -> bool {
        let Some((program, item)) = self.load_expression(expr, out) else {
            return false;
        };
        let entry = match program.compile_entry(item, "entry", expr) {
            Ok(entry) => entry,
            Err(d) => {
                self.render(&[d], out);
                return false;
            }
        };
        let store = self.carried_params(&program, &[]);
        let seed = self.entry_seed();
        let shown = match &entry.value {
            None if entry.ty.is_numeric() => Ok(show_value(&entry.ty, &[])),
            None => Ok(format!("<{}>", entry.ty)),
            Some(CompiledValue::Estimate { objective, samples }) => {
                estimate(&**objective, &store, *samples, seed)
                    .map(|e| format!("{:.4} ± {:.4} ({} samples)", e.mean, e.stderr, e.samples))
                    .map_err(|e| match e {
                        FitError::Run { error, .. } => (error.to_string(), error.origin.span),
                        FitError::NonFinite { ref origin, .. } => {
                            (e.to_string(), origin.as_ref().and_then(|o| o.span))
                        }
                    })
            }
            Some(CompiledValue::Value(func)) => {
                let mut ctx = RunContext::new(RunKey::new(seed, 0, 0));
                run(func, &store.values(), &mut ctx)
                    .map(|leaves| show_value(&entry.ty, &leaves))
                    .map_err(|error| (error.to_string(), error.origin.span))
            }
        };
        match shown {
            Ok(text) => {
                out.line(&format!("{text} : {}", entry.ty));
                true
            }
            Err((message, at)) => {
                let at = at.unwrap_or(expr.span);
                let mut d = Diagnostic::error("E0700", format!("evaluation failed: {message}"), at);
                if at != expr.span {
                    d = d
                        .with_primary_label("failed here")
                        .with_label(expr.span, "while evaluating this expression");
                }
                self.render(&[d], out);
                false
            }
        }
    }
}
