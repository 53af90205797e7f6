//! Checking random choices: `address ~ dist [by strategy];`, their
//! addresses and their strategies.
//!
//! In a `gen` body (outside expectations) a random choice's address goes
//! into the function's choice map, so the checker follows the lowering's
//! rules for addresses: inside the function's loops an address is indexed
//! by the loops' variables in order (E0306) and the loops start at 0
//! (E0260); an address is made at most once per run (E0259), where a
//! choice made in a loop body counts once for the loop, and the choices of
//! the two branches of an `if` count once for the `if`.

use super::distributions::{self, DistInfo};
use super::scope::{Body, LocalKind};
use super::types::{Applied, GenKind, Ty};
use crate::ast::{ExprKind, SampleStmt, Strategy};
use crate::diagnostic::Diagnostic;
use crate::span::Span;

impl Body<'_, '_> {
    /// `address ~ dist [by strategy];` and `let pattern = address ~ ...;`.
    pub fn sample_stmt(&mut self, sample: &SampleStmt, span: Span) {
        if !self.stochastic() {
            self.report(
                Diagnostic::error(
                    "E0303",
                    "a random choice can only be made in a `gen` body or inside `E { }`",
                    span,
                )
                .with_help("move it into a generative function or an expectation"),
            );
        }
        let dist_ty = self.expr(&sample.dist);
        for ix in &sample.address.indices {
            let t = self.expr(ix);
            self.int_scalar(&t, ix.span, "an address index");
        }
        let value = match self.resolve(&dist_ty) {
            Ty::Dist(kind, value) => {
                if let Some(s) = &sample.strategy {
                    let dist = kind.and_then(distributions::distribution);
                    self.strategy(dist, s, sample.dist.span);
                    if let Some(dist) = dist
                        && s.name.name == "enum"
                        && let Some((why, help)) = distributions::enum_too_large(dist, &value)
                    {
                        self.report(
                            Diagnostic::error("E0301", why, s.span)
                                .with_label(sample.dist.span, format!("a `{}` choice", dist.name))
                                .with_help(help),
                        );
                    }
                }
                *value
            }
            Ty::Gen(g) if g.kind == GenKind::Function => {
                if let Some(s) = &sample.strategy {
                    self.report(Diagnostic::error(
                        "E0304",
                        "a traced call takes no strategy: each choice inside it has its own",
                        s.span,
                    ));
                }
                if g.applied == Applied::No {
                    self.applied_gen(&Ty::Gen(g), sample.dist.span, "~", "E0305", false);
                    Ty::Any
                } else {
                    self.gen_return(&g)
                }
            }
            Ty::Any | Ty::Var(_) => {
                if let Some(s) = &sample.strategy {
                    self.strategy(None, s, sample.dist.span);
                }
                Ty::Any
            }
            other => {
                self.report(Diagnostic::error(
                    "E0305",
                    format!(
                        "`~` needs a distribution or an applied generative function, found {}",
                        other.describe()
                    ),
                    sample.dist.span,
                ));
                Ty::Any
            }
        };
        if self.in_gen() {
            self.check_address(sample);
        }
        match &sample.bind {
            Some(p) => self.bind_pattern(p, value, LocalKind::Choice, false),
            None if sample.address.indices.is_empty() => {
                self.declare(&sample.address.name, value, LocalKind::Choice, false)
            }
            None => {}
        }
    }

    /// Checks an address made directly in a `gen` body against the loops
    /// around it, and records it.
    fn check_address(&mut self, sample: &SampleStmt) {
        let address = &sample.address;
        let name = &address.name.name;
        // Without indices, the address's span may end in whitespace.
        let address_span = if address.indices.is_empty() {
            address.name.span
        } else {
            address.span
        };
        let loops = self.gen_frames.loops.clone();
        let indexed = format!(
            "{name}{}",
            loops
                .iter()
                .map(|l| format!("[{}]", l.var))
                .collect::<String>()
        );
        let message = if address.indices.len() != loops.len() {
            Some(if loops.is_empty() {
                format!(
                    "the address `{name}` has indices but is not inside a `for` loop of this generative function"
                )
            } else if address.indices.is_empty() {
                format!(
                    "the address `{name}` is inside a `for` loop, so each iteration would sample it again"
                )
            } else {
                format!(
                    "the address `{name}` must be indexed by the variables of its enclosing loops, in order"
                )
            })
        } else {
            let wrong_var = address
                .indices
                .iter()
                .zip(&loops)
                .any(|(ix, l)| match &ix.kind {
                    ExprKind::Var(v) => self
                        .local(&v.name)
                        .and_then(|local| local.gen_loop)
                        .is_some_and(|id| id != l.id),
                    _ => false,
                });
            wrong_var.then(|| {
                format!("the address `{name}` must be indexed by the variables of its enclosing loops, in order")
            })
        };
        if let Some(message) = message {
            let help = if loops.is_empty() {
                format!("write `{name} ~ ...`, or make the choice inside a `for` loop")
            } else {
                format!("index the address by the loop variables: `{indexed} ~ ...`")
            };
            self.report(Diagnostic::error("E0306", message, address_span).with_help(help));
        }
        for l in self.gen_frames.loops.iter_mut() {
            if let Some(start) = l.nonzero_start.take() {
                self.ck.diagnostics.push(Diagnostic::error(
                    "E0260",
                    format!("in a generative function, a `for` loop must start at 0 so that `{indexed}` addresses line up with the loop"),
                    start,
                ).with_label(address_span, "the address is made here"));
            }
        }
        self.add_addresses(vec![(name.clone(), address_span)]);
    }

    /// Adds addresses made by a statement, a loop or an `if` to the current
    /// frame of the `gen` body, reporting one made twice (E0259).
    pub fn add_addresses(&mut self, made: Vec<(String, Span)>) {
        let Some(frame) = self.gen_frames.frames.last_mut() else {
            return;
        };
        let mut errors = Vec::new();
        for (name, span) in made {
            match frame.iter().find(|(n, _)| *n == name) {
                Some((_, first)) => errors.push(
                    Diagnostic::error(
                        "E0259",
                        format!("the address `{name}` is sampled more than once"),
                        span,
                    )
                    .with_label(*first, "first sampled here")
                    .with_help(
                        "an address is made at most once per run: rename one of the choices",
                    ),
                ),
                None => frame.push((name, span)),
            }
        }
        self.ck.diagnostics.extend(errors);
    }

    /// Checks `by strategy` for a choice from `dist` (when known).
    fn strategy(&mut self, dist: Option<&'static DistInfo>, s: &Strategy, dist_span: Span) {
        let name = s.name.name.as_str();
        for a in &s.args {
            let ty = self.expr(&a.value);
            let is_baseline =
                name == "reinforce" && a.name.as_ref().is_some_and(|n| n.name == "baseline");
            if is_baseline {
                self.real_scalar(&ty, a.value.span, "a baseline");
            } else {
                let mut d = Diagnostic::error(
                    "E0302",
                    format!("`by {name}` takes no such argument"),
                    a.value.span,
                );
                if name == "reinforce" {
                    d = d.with_help("write `by reinforce(baseline = b)`");
                }
                self.report(d);
            }
        }
        if !distributions::STRATEGIES.contains(&name) {
            self.report(
                Diagnostic::error("E0300", format!("unknown strategy `{name}`"), s.name.span)
                    .with_help("the strategies are reparam, implicit, reinforce, enum and mvd"),
            );
            return;
        }
        if let Some(dist) = dist
            && let Some((why, help)) = distributions::inapplicable_strategy(dist, name)
        {
            self.report(
                Diagnostic::error("E0301", why, s.span)
                    .with_label(dist_span, format!("a `{}` choice", dist.name))
                    .with_help(help),
            );
        }
    }
}
