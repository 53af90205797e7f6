//! Generative-function specialization: simulate, density (assess) and
//! generate, performed while lowering.
//!
//! A generative function's body is lowered once per use, under a handler
//! that says what its random choices do (`ctx::GenMode`):
//!
//! * **simulate** (`sim g(...)`): each choice becomes a `sample` operation
//!   with its gradient strategy; its log density is added to the running
//!   score; the choice map is built as the body runs;
//! * **assess** (`density(g(...), choices)`): each choice reads its value
//!   from the given choice map (indexing stacked values by the loop indices
//!   of its address) and adds its log density; afterwards every address of
//!   the choice map must have been read — an address the function never
//!   samples is an error, not silently ignored;
//! * **generate** (used by `marginal`): constrained choices are read and
//!   weighted, the others sampled.
//!
//! Inside a loop, a choice's address must be indexed by the loop variables
//! (`y[i]`); its values are stacked along the loop, so the choice map has a
//! static layout (an array per indexed address). Traced calls `a ~ g(...)`
//! nest the callee's choices under `a`.

use super::ctx::{GenMode, GenState, Handler, LResult, Lower, describe_type};
use super::meta::{Choice, GenValue, Meta, Trace};
use crate::density::{guard_params, log_density, value_type};
use crate::dist::{DistKind, StrategyKind};
use crate::ir::{OpKind, SiteInfo, Type, ValueId};
use crate::prim::Prim;
use crate::prim::eval::Scalar;
use std::collections::{BTreeMap, HashSet};
use vprog_lang::ast::{SampleStmt, Strategy};
use vprog_lang::{Diagnostic, Span};

/// What specializing a generative function produced.
pub(crate) struct GenRun {
    /// The function's return value.
    pub ret: Meta,
    /// The choices it made (simulate, generate).
    pub trace: Trace,
    /// The log density of all its choices.
    pub score: ValueId,
    /// The log density of the choices read from the choice map.
    pub weight: ValueId,
}

impl Lower<'_, '_> {
    /// Resolves the strategy of a choice from `by S` (checking that it
    /// applies to `dist`) or the distribution's default.
    fn strategy(
        &mut self,
        dist: DistKind,
        strategy: Option<&Strategy>,
        dist_span: Span,
    ) -> LResult<(StrategyKind, bool, Option<ValueId>)> {
        let Some(s) = strategy else {
            return Ok((dist.default_strategy(), false, None));
        };
        let Some(kind) = StrategyKind::from_name(&s.name.name) else {
            return Err(Diagnostic::error(
                "E0300",
                format!("unknown strategy `{}`", s.name.name),
                s.name.span,
            )
            .with_help("the strategies are reparam, implicit, reinforce, enum and mvd"));
        };
        if !dist.strategies().contains(&kind) {
            let (why, help) = match kind {
                StrategyKind::Reparam if dist.is_discrete() => (
                    format!(
                        "`by reparam` differentiates through the sampled value, but `{dist}` is discrete"
                    ),
                    "use `by enum`, `by mvd` or `by reinforce` for a discrete choice".to_string(),
                ),
                StrategyKind::Reparam => (
                    format!("`{dist}` has no explicit reparameterization"),
                    "use `by implicit` (implicit reparameterization) or `by reinforce`".to_string(),
                ),
                StrategyKind::Enum if !dist.is_discrete() => (
                    format!("`by enum` enumerates a finite support, but `{dist}` is continuous"),
                    "use `by reparam` or `by reinforce` for a continuous choice".to_string(),
                ),
                StrategyKind::Enum => (
                    format!(
                        "`by enum` needs a finite support, but `{dist}` has infinitely many values"
                    ),
                    "use `by mvd` or `by reinforce`".to_string(),
                ),
                StrategyKind::Mvd => (
                    format!(
                        "`by mvd` (a measure-valued derivative) is defined for discrete choices, not `{dist}`"
                    ),
                    format!("use `by {}` or `by reinforce`", dist.strategies()[0]),
                ),
                StrategyKind::Implicit => (
                    format!(
                        "`by implicit` applies to gamma, beta and dirichlet choices, not `{dist}`"
                    ),
                    format!("use `by {}` or `by reinforce`", dist.strategies()[0]),
                ),
                StrategyKind::Reinforce => unreachable!("reinforce applies to every distribution"),
            };
            return Err(Diagnostic::error("E0301", why, s.span)
                .with_label(dist_span, format!("a `{dist}` choice"))
                .with_help(help));
        }
        let mut baseline = None;
        for a in &s.args {
            match (&a.name, kind) {
                (Some(n), StrategyKind::Reinforce) if n.name == "baseline" => {
                    let m = self.expr(&a.value)?;
                    baseline = Some(self.real_scalar(m, a.value.span, "a baseline")?);
                }
                _ => {
                    return self
                        .err(
                            "E0302",
                            format!("`by {kind}` takes no such argument"),
                            a.value.span,
                        )
                        .map_err(|d| {
                            if kind == StrategyKind::Reinforce {
                                d.with_help("write `by reinforce(baseline = b)`")
                            } else {
                                d
                            }
                        });
                }
            }
        }
        Ok((kind, true, baseline))
    }

    /// The name of a site in run-time messages: `gen/address`.
    fn site_name(&self, address: &str) -> String {
        match self.site_path.last() {
            Some(g) => format!("{g}/{address}"),
            None => address.to_string(),
        }
    }

    /// Emits a random choice in simulate position (a sample site).
    fn sample_site(
        &mut self,
        dist: DistKind,
        params: &[ValueId],
        strategy: (StrategyKind, bool, Option<ValueId>),
        address: &str,
        span: Span,
    ) -> ValueId {
        let site = self.fresh_site();
        self.at(span, Some(self.site_name(address)));
        let types: Vec<Type> = params.iter().map(|&p| self.ty(p)).collect();
        let ty = value_type(dist, &types);
        let mut args = params.to_vec();
        args.extend(strategy.2);
        self.b.push(
            OpKind::Sample(SiteInfo {
                site,
                dist,
                strategy: strategy.0,
                explicit_strategy: strategy.1,
                has_baseline: strategy.2.is_some(),
                detached: false,
            }),
            args,
            vec![ty],
            vec![],
        )[0]
    }

    /// Lowers `address ~ expr [by S];` (and `let p = address ~ ...;`).
    pub fn sample_stmt(&mut self, stmt: &SampleStmt, span: Span) -> LResult<()> {
        if !self.stochastic() {
            return Err(Diagnostic::error(
                "E0303",
                "a random choice can only be made in a `gen` body or inside `E { }`",
                span,
            )
            .with_help("move it into a generative function or an expectation"));
        }
        let site = self.site_name(&stmt.address.name.name);
        let saved = self.current_site.replace(site);
        let dist_meta = self.expr(&stmt.dist);
        self.current_site = saved;
        let dist_meta = dist_meta?;
        let mut indices = Vec::new();
        for ix in &stmt.address.indices {
            let m = self.expr(ix)?;
            let v = self.int_scalar(m, ix.span, "an address index")?;
            // In a subsampled plate, `y[i]` is the choice at the minibatch
            // position of data index `i`.
            indices.push(self.plate_position(v));
        }
        let name = stmt.address.name.name.clone();
        let value = match dist_meta {
            Meta::Dist(kind, params) => {
                let strategy = self.strategy(kind, stmt.strategy.as_ref(), stmt.dist.span)?;
                if let Some(s) = &stmt.strategy {
                    self.check_strategy_shape(kind, strategy.0, &params, s.span, stmt.dist.span)?;
                }
                self.choice(
                    kind,
                    &params,
                    strategy,
                    &name,
                    &indices,
                    stmt.address.span,
                    span,
                )?
            }
            Meta::Gen(g) => {
                if let Some(s) = &stmt.strategy {
                    return self.err(
                        "E0304",
                        "a traced call takes no strategy: each choice inside it has its own",
                        s.span,
                    );
                }
                self.traced_call(&g, &name, &indices, stmt.address.span, stmt.dist.span)?
            }
            other => {
                return self.err(
                    "E0305",
                    format!(
                        "`~` needs a distribution or an applied generative function, found {}",
                        other.kind_name()
                    ),
                    stmt.dist.span,
                );
            }
        };
        match &stmt.bind {
            Some(p) => self.bind_pattern(p, value, false),
            None if stmt.address.indices.is_empty() => {
                self.bind(&name, value, false);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Checks that a choice's address inside a generative function's loops
    /// is indexed by those loops' variables.
    fn check_indices(
        &self,
        g: &GenState,
        name: &str,
        indices: &[ValueId],
        span: Span,
    ) -> LResult<()> {
        if indices == g.loop_vars.as_slice() {
            return Ok(());
        }
        let msg = if g.loop_vars.is_empty() {
            format!(
                "the address `{name}` has indices but is not inside a `for` loop of this generative function"
            )
        } else if indices.is_empty() {
            format!(
                "the address `{name}` is inside a `for` loop, so each iteration would sample it again"
            )
        } else {
            format!(
                "the address `{name}` must be indexed by the variables of its enclosing loops, in order"
            )
        };
        Err(Diagnostic::error("E0306", msg, span).with_help(format!(
            "index the address by the loop variables, e.g. `{name}[i] ~ ...`",
        )))
    }

    /// The minibatch position standing for `v` if `v` is the data index of
    /// an enclosing subsampled plate, else `v`.
    fn plate_position(&mut self, v: ValueId) -> ValueId {
        self.gen_state()
            .and_then(|g| g.plates.iter().find(|p| p.data_index == v))
            .map_or(v, |p| p.position)
    }

    /// The index that reads a choice map's array of extent `extent` at
    /// loop index `i`: in a subsampled plate over `0..n`, an array of the
    /// whole plate (`extent == n`, observed data) is read at the data
    /// index, an array of the minibatch (a trace made by the same plate) at
    /// the position.
    fn choice_map_index(&mut self, i: ValueId, extent: usize) -> ValueId {
        self.gen_state()
            .and_then(|g| g.plates.iter().find(|p| p.position == i))
            .filter(|p| extent == p.n && p.n != p.m)
            .map_or(i, |p| p.data_index)
    }

    /// A choice's value read from a choice map, indexed by `indices`.
    fn read_choice(
        &mut self,
        c: &Choice,
        indices: &[ValueId],
        name: &str,
        want: &Type,
        span: Span,
    ) -> LResult<ValueId> {
        let mut v = c.value;
        // The index of each dimension (see `choice_map_index`).
        let mut at = Vec::with_capacity(indices.len());
        for &i in indices {
            let ty = self.ty(v);
            if ty.is_scalar() {
                return self.err(
                    "E0307",
                    format!(
                        "the choice map's `{name}` has fewer dimensions than the address's indices"
                    ),
                    span,
                );
            }
            let i = self.choice_map_index(i, ty.shape[0]);
            at.push(i);
            v = self.b.prim(Prim::Index, &[v, i]);
        }
        if let Some(present) = c.present {
            let mut p = present;
            for &i in &at {
                p = self.b.prim(Prim::Index, &[p, i]);
            }
            // A run that reaches this choice needs it in the choice map.
            self.b.prim(
                Prim::Guard {
                    kind: crate::prim::GuardKind::Present,
                    what: format!("choice `{name}` of the choice map"),
                },
                &[p],
            );
        }
        let mut got = self.ty(v);
        if got.elem == crate::ir::Elem::I64 && want.elem == crate::ir::Elem::F64 {
            v = self.b.un(Prim::IntToF64, v);
            got = self.ty(v);
        }
        if got != *want {
            return self.err(
                "E0308",
                format!(
                    "the choice map gives `{name}` as {}, but it is sampled as {}",
                    describe_type(&got),
                    describe_type(want)
                ),
                span,
            );
        }
        Ok(v)
    }

    /// One random choice from a distribution.
    #[allow(clippy::too_many_arguments)]
    fn choice(
        &mut self,
        dist: DistKind,
        params: &[ValueId],
        strategy: (StrategyKind, bool, Option<ValueId>),
        name: &str,
        indices: &[ValueId],
        addr_span: Span,
        span: Span,
    ) -> LResult<Meta> {
        let Some(Handler::Gen(g)) = self.handlers.last().cloned() else {
            // Directly in an expectation: a sample site, no choice map.
            let v = self.sample_site(dist, params, strategy, name, span);
            return Ok(Meta::Val(v));
        };
        let types: Vec<Type> = params.iter().map(|&p| self.ty(p)).collect();
        let want = value_type(dist, &types);
        let path = vec![name.to_string()];
        let given = match &g.mode {
            GenMode::Simulate => None,
            GenMode::Assess(choices) => match choices.choices.get(&path) {
                Some(c) => Some(c.clone()),
                None => {
                    let have: Vec<String> = choices
                        .choices
                        .keys()
                        .map(|k| format!("`{}`", Trace::show(k)))
                        .collect();
                    return Err(Diagnostic::error(
                        "E0309",
                        format!(
                            "`{}` samples `{name}`, but the choice map has no value for it",
                            g.name
                        ),
                        addr_span,
                    )
                    .with_note(format!(
                        "the choice map has {}",
                        if have.is_empty() {
                            "no addresses".into()
                        } else {
                            have.join(", ")
                        }
                    ))
                    .with_help(
                        "a density needs a complete choice map: merge the missing values in",
                    ));
                }
            },
            GenMode::Generate(cons) => cons.choices.get(&path).cloned(),
        };
        if given.is_none() {
            self.check_indices(&g, name, indices, addr_span)?;
        }
        self.at(span, Some(self.site_name(name)));
        let (value, constrained) = match &given {
            Some(c) => (self.read_choice(c, indices, name, &want, addr_span)?, true),
            None => (self.sample_site(dist, params, strategy, name, span), false),
        };
        let guarded = if constrained {
            guard_params(&mut self.b, dist, params)
        } else {
            params.to_vec()
        };
        let lp = log_density(&mut self.b, dist, &guarded, value);
        let (score, weight) = (state_score(self), state_weight(self));
        let new_score = self.b.add(score, lp);
        let new_weight = if constrained {
            self.b.add(weight, lp)
        } else {
            weight
        };
        let state = self.gen_state().expect("gen handler");
        state.score = new_score;
        state.weight = new_weight;
        if constrained {
            state.read.insert(path.clone());
        }
        let records = !matches!(state.mode, GenMode::Assess(_));
        if records {
            let mut frame = Trace::default();
            frame.choices.insert(
                path,
                Choice {
                    value,
                    score: Some(lp),
                    present: None,
                    span: Some(addr_span),
                },
            );
            self.add_choices(frame, addr_span)?;
        }
        Ok(Meta::Val(value))
    }

    /// Adds choices to the innermost generative function's frame, rejecting
    /// an address made twice.
    fn add_choices(&mut self, choices: Trace, span: Span) -> LResult<()> {
        let g = self.gen_state().expect("gen handler");
        for (path, c) in choices.choices {
            if g.frame.choices.contains_key(&path) {
                return self.err(
                    "E0259",
                    format!(
                        "the address `{}` is sampled more than once",
                        Trace::show(&path)
                    ),
                    c.span.unwrap_or(span),
                );
            }
            g.frame.choices.insert(path, c);
        }
        Ok(())
    }

    /// `a ~ g(args)`: specializes `g` in the current mode with its choices
    /// under `a`.
    fn traced_call(
        &mut self,
        g: &GenValue,
        name: &str,
        indices: &[ValueId],
        addr_span: Span,
        call_span: Span,
    ) -> LResult<Meta> {
        let Some(Handler::Gen(state)) = self.handlers.last().cloned() else {
            // In an expectation: run it for its value.
            let run = self.run_gen(g, GenMode::Simulate, call_span)?;
            return Ok(run.ret);
        };
        let sub = |t: &Trace| Trace {
            choices: t
                .choices
                .iter()
                .filter(|(k, _)| k.len() > 1 && k[0] == name)
                .map(|(k, v)| (k[1..].to_vec(), v.clone()))
                .collect(),
        };
        let mode = match &state.mode {
            GenMode::Simulate => {
                self.check_indices(&state, name, indices, addr_span)?;
                GenMode::Simulate
            }
            GenMode::Assess(c) => {
                let mut s = sub(c);
                // Index stacked sub-choices by the address's indices.
                for choice in s.choices.values_mut() {
                    for &i in indices {
                        let extent = self.ty(choice.value).shape.first().copied().unwrap_or(0);
                        let i = self.choice_map_index(i, extent);
                        choice.value = self.b.prim(Prim::Index, &[choice.value, i]);
                    }
                }
                GenMode::Assess(s)
            }
            GenMode::Generate(c) => {
                self.check_indices(&state, name, indices, addr_span)?;
                GenMode::Generate(sub(c))
            }
        };
        let read_before: Vec<Vec<String>> = match &mode {
            GenMode::Assess(s) | GenMode::Generate(s) => s.choices.keys().cloned().collect(),
            GenMode::Simulate => Vec::new(),
        };
        let run = self.run_gen(g, mode, call_span)?;
        let (score, weight) = (state_score(self), state_weight(self));
        let new_score = self.b.add(score, run.score);
        let new_weight = self.b.add(weight, run.weight);
        let st = self.gen_state().expect("gen handler");
        st.score = new_score;
        st.weight = new_weight;
        for p in read_before {
            let mut full = vec![name.to_string()];
            full.extend(p);
            st.read.insert(full);
        }
        if !matches!(st.mode, GenMode::Assess(_)) {
            let nested = Trace {
                choices: run
                    .trace
                    .choices
                    .into_iter()
                    .map(|(k, v)| {
                        let mut p = vec![name.to_string()];
                        p.extend(k);
                        (p, v)
                    })
                    .collect(),
            };
            self.add_choices(nested, addr_span)?;
        }
        Ok(run.ret)
    }

    /// Specializes the applied generative function `g` in `mode`.
    pub(crate) fn run_gen(&mut self, g: &GenValue, mode: GenMode, span: Span) -> LResult<GenRun> {
        let Some(args) = &g.args else {
            return Err(Diagnostic::error(
                "E0310",
                format!(
                    "`{}` must be applied to its arguments first",
                    g.func.decl.name.name
                ),
                span,
            )
            .with_help(format!("write `{}(...)`", g.func.decl.name.name)));
        };
        let bound: Vec<(String, Meta)> = g
            .func
            .decl
            .params
            .iter()
            .map(|p| p.name.name.clone())
            .zip(args.iter().cloned())
            .collect();
        let zero = self.constant(Scalar::F(0.0));
        let assess_choices = match &mode {
            GenMode::Assess(c) | GenMode::Generate(c) => Some(c.clone()),
            GenMode::Simulate => None,
        };
        let is_assess = matches!(mode, GenMode::Assess(_));
        self.handlers.push(Handler::Gen(GenState {
            name: g.func.decl.name.name.clone(),
            module: g.func.module,
            mode,
            frame: Trace::default(),
            score: zero,
            weight: zero,
            read: HashSet::new(),
            loop_vars: Vec::new(),
            plates: Vec::new(),
        }));
        self.site_path.push(g.func.decl.name.name.clone());
        self.stop_params += usize::from(g.stop_params);
        let body = g.func.decl.body.clone();
        let ret = self.inline_body(
            g.func.module,
            &g.func.decl.name.name,
            bound,
            |this| this.block(&body),
            span,
        );
        self.stop_params -= usize::from(g.stop_params);
        self.site_path.pop();
        let Some(Handler::Gen(state)) = self.handlers.pop() else {
            unreachable!("the handler pushed above")
        };
        let ret = ret?;
        if is_assess && let Some(choices) = assess_choices {
            for (path, c) in &choices.choices {
                if !state.read.contains(path) {
                    let mut d = Diagnostic::error(
                        "E0311",
                        format!(
                            "the choice map has the address `{}`, which `{}` never samples",
                            Trace::show(path),
                            state.name
                        ),
                        c.span.unwrap_or(span),
                    )
                    .with_label(
                        span,
                        format!("the density of `{}` is taken here", state.name),
                    )
                    .with_label(
                        g.func.decl.name.span,
                        format!("`{}` is defined here", state.name),
                    );
                    if c.span.is_some() {
                        d = d.with_primary_label("sampled here").with_help("a guide must sample only addresses the model has; rename or remove this choice");
                    }
                    return Err(d);
                }
            }
        }
        Ok(GenRun {
            ret,
            trace: state.frame,
            score: state.score,
            weight: state.weight,
        })
    }

    /// `sim g`: `(choices, log density)`.
    pub fn sim(&mut self, g: Meta, gspan: Span, span: Span) -> LResult<Meta> {
        if !self.stochastic() {
            return Err(Diagnostic::error(
                "E0312",
                "`sim` can only be used inside `E { }` or a `gen` body",
                span,
            )
            .with_help("wrap the computation in an expectation: `E { ... }`"));
        }
        match g {
            Meta::Gen(g) => {
                let run = self.run_gen(&g, GenMode::Simulate, gspan)?;
                Ok(Meta::Tuple(vec![
                    Meta::Choices(run.trace),
                    Meta::Val(run.score),
                ]))
            }
            Meta::Marginal { model, keep, alg } => self.sim_marginal(&model, &keep, &alg, gspan),
            Meta::Normalized {
                model,
                data,
                particles,
                proposal,
            } => self.sim_normalized(&model, &data, particles, &proposal, gspan),
            other => self.err(
                "E0313",
                format!(
                    "`sim` needs a generative function, found {}",
                    other.kind_name()
                ),
                gspan,
            ),
        }
    }

    /// Converts a record or choice map to a choice map.
    pub fn as_trace(&mut self, m: Meta, span: Span) -> LResult<Trace> {
        fn walk(
            this: &mut Lower,
            m: Meta,
            prefix: &[String],
            out: &mut BTreeMap<Vec<String>, Choice>,
            span: Span,
        ) -> LResult<()> {
            match m {
                Meta::Val(v) => {
                    out.insert(
                        prefix.to_vec(),
                        Choice {
                            value: v,
                            score: None,
                            present: None,
                            span: None,
                        },
                    );
                    Ok(())
                }
                Meta::Record(fields) => {
                    for (k, v) in fields {
                        let mut p = prefix.to_vec();
                        p.push(k);
                        walk(this, v, &p, out, span)?;
                    }
                    Ok(())
                }
                Meta::Choices(t) => {
                    for (k, c) in t.choices {
                        let mut p = prefix.to_vec();
                        p.extend(k);
                        out.insert(p, c);
                    }
                    Ok(())
                }
                other => this.err(
                    "E0314",
                    format!(
                        "a choice map holds numbers and choice maps, not {}",
                        other.kind_name()
                    ),
                    span,
                ),
            }
        }
        let mut out = BTreeMap::new();
        walk(self, m, &[], &mut out, span)?;
        Ok(Trace { choices: out })
    }

    /// `merge(a, b)`: the union of two choice maps with no address in both.
    pub fn merge(&mut self, a: Meta, b: Meta, sa: Span, sb: Span) -> LResult<Meta> {
        let ta = self.as_trace(a, sa)?;
        let tb = self.as_trace(b, sb)?;
        let mut out = ta;
        for (k, c) in tb.choices {
            let clash = out
                .choices
                .keys()
                .find(|p| p.starts_with(&k) || k.starts_with(p))
                .cloned();
            if let Some(p) = clash {
                return Err(Diagnostic::error(
                    "E0315",
                    format!(
                        "`merge`: the address `{}` is in both choice maps",
                        Trace::show(&p)
                    ),
                    sa.to(sb),
                )
                .with_label(sa, "first choice map")
                .with_label(sb, "second choice map"));
            }
            out.choices.insert(k, c);
        }
        Ok(Meta::Choices(out))
    }

    /// `density(g, choices)`: the log density of a complete choice map.
    pub fn density(&mut self, g: Meta, choices: Meta, gspan: Span, cspan: Span) -> LResult<Meta> {
        let trace = self.as_trace(choices, cspan)?;
        match g {
            Meta::Gen(g) => {
                let run = self.run_gen(&g, GenMode::Assess(trace), gspan)?;
                Ok(Meta::Val(run.score))
            }
            Meta::Marginal { model, keep, alg } => {
                self.density_marginal(&model, &keep, &alg, trace, gspan)
            }
            Meta::Normalized {
                model,
                data,
                particles,
                proposal,
            } => self.density_normalized(&model, &data, particles, &proposal, trace, gspan),
            other => self.err(
                "E0316",
                format!(
                    "`density` needs a generative function, found {}",
                    other.kind_name()
                ),
                gspan,
            ),
        }
    }
}

fn state_score(l: &mut Lower) -> ValueId {
    l.gen_state().expect("gen handler").score
}

fn state_weight(l: &mut Lower) -> ValueId {
    l.gen_state().expect("gen handler").weight
}
