//! Lowering blocks, statements and structured control flow.
//!
//! `if` and `for` thread the mutable state (see `ctx.rs`): an `if` yields
//! its value, the state after each branch, and the choices each branch
//! made (a choice made in one branch only becomes conditional, with a
//! presence flag); a `for` carries the state and stacks, per iteration, the
//! choices made in its body and, for a comprehension, the body's value.

use super::ctx::{GenState, LResult, Lower, describe_type};
use super::meta::{Choice, Meta, Trace};
use crate::ir::{Region, Type, ValueId};
use crate::prim::Prim;
use crate::prim::eval::Scalar;
use vprog_lang::ast::{Block, Expr, Ident, Pattern, Stmt, StmtKind};
use vprog_lang::{Diagnostic, Span};

/// The IR leaves of a choice (value, then score and presence when known).
fn choice_leaves(c: &Choice) -> Vec<ValueId> {
    let mut v = vec![c.value];
    v.extend(c.score);
    v.extend(c.present);
    v
}

/// Rebuilds a choice of `like`'s layout from leaves.
fn choice_from(like: &Choice, leaves: &mut impl Iterator<Item = ValueId>) -> Choice {
    Choice {
        value: leaves.next().expect("leaf"),
        score: like.score.map(|_| leaves.next().expect("leaf")),
        present: like.present.map(|_| leaves.next().expect("leaf")),
        span: like.span,
    }
}

impl Lower<'_, '_> {
    /// Lowers a block in a new scope; its value is the tail expression's,
    /// or `()`.
    pub fn block(&mut self, block: &Block) -> LResult<Meta> {
        self.scoped(|this| {
            for s in &block.stmts {
                this.stmt(s)?;
            }
            match &block.tail {
                Some(e) => this.expr(e),
                None => Ok(Meta::Unit),
            }
        })
    }

    /// Binds a pattern to a value.
    pub fn bind_pattern(&mut self, pattern: &Pattern, m: Meta, mutable: bool) -> LResult<()> {
        match pattern {
            Pattern::Ident(name) => {
                self.bind(&name.name, m, mutable);
                Ok(())
            }
            Pattern::Wildcard(_) => Ok(()),
            Pattern::Tuple(parts, span) => match m {
                Meta::Tuple(items) if items.len() == parts.len() => {
                    for (p, item) in parts.iter().zip(items) {
                        self.bind_pattern(p, item, mutable)?;
                    }
                    Ok(())
                }
                Meta::Tuple(items) => self.err(
                    "E0250",
                    format!(
                        "this pattern has {} parts but the value has {}",
                        parts.len(),
                        items.len()
                    ),
                    *span,
                ),
                other => self.err(
                    "E0250",
                    format!("a tuple pattern needs a tuple, found {}", other.kind_name()),
                    *span,
                ),
            },
        }
    }

    fn stmt(&mut self, s: &Stmt) -> LResult<()> {
        self.at(s.span, self.site_path.last().cloned());
        match &s.kind {
            StmtKind::Let(l) => {
                let m = match self.data_let(&l.value, l.ty.as_ref())? {
                    Some(loaded) => loaded,
                    None => self.expr(&l.value)?,
                };
                let m = match &l.ty {
                    Some(ty) => self.check_let_type(m, ty, l.value.span)?,
                    None => m,
                };
                if l.mutable && m.leaves().is_none() {
                    return self.err(
                        "E0251",
                        format!(
                            "only numbers, tuples and records can be `mut`, not {}",
                            m.kind_name()
                        ),
                        l.value.span,
                    );
                }
                self.bind_pattern(&l.pattern, m, l.mutable)
            }
            StmtKind::Param(decl) => self.param_stmt(&decl.name),
            StmtKind::Sample(sample) => self.sample_stmt(sample, s.span),
            StmtKind::Assign { target, value } => self.assign(target, value),
            StmtKind::For {
                var,
                lo,
                hi,
                body,
                plate: None,
            } => {
                self.for_loop(var, lo, hi, body, false, s.span)?;
                Ok(())
            }
            StmtKind::For {
                var,
                lo,
                hi,
                body,
                plate: Some(plate),
            } => self.plate(var, lo, hi, body, plate, s.span),
            StmtKind::Expr(e) => {
                self.expr(e)?;
                Ok(())
            }
        }
    }

    fn check_let_type(
        &mut self,
        m: Meta,
        ty: &vprog_lang::ast::TypeExpr,
        span: Span,
    ) -> LResult<Meta> {
        use vprog_lang::ast::TypeExprKind;
        if let TypeExprKind::Named { name, dims } = &ty.kind {
            let elem = match name.name.as_str() {
                "real" => crate::ir::Elem::F64,
                "int" => crate::ir::Elem::I64,
                "bool" => crate::ir::Elem::Bool,
                _ => return Ok(m),
            };
            let mut v = self.val(m, span, "this value")?;
            if elem == crate::ir::Elem::F64 {
                v = self.real(v, span, "this value")?;
            }
            let want = Type::tensor(elem, dims.iter().map(|&d| d as usize).collect());
            if self.ty(v) != want {
                return Err(Diagnostic::error(
                    "E0252",
                    format!(
                        "this value is {}, but the annotation says {}",
                        describe_type(&self.ty(v)),
                        describe_type(&want)
                    ),
                    span,
                )
                .with_label(ty.span, "annotation"));
            }
            return Ok(Meta::Val(v));
        }
        Ok(m)
    }

    fn param_stmt(&mut self, name: &Ident) -> LResult<()> {
        let owner = self.handlers.iter().rev().find_map(|h| match h {
            super::ctx::Handler::Gen(g) => Some((g.name.clone(), g.module)),
            _ => None,
        });
        let Some((owner_name, module)) = owner else {
            return self.err(
                "E0253",
                "a `param` can only be declared in a `gen` body or at the top level",
                name.span,
            );
        };
        let qualified = format!("{owner_name}.{}", name.name);
        let index = self
            .prog
            .params
            .iter()
            .position(|p| p.qualified == qualified && p.module == module);
        match index {
            Some(i) => {
                let v = self.param_value(i);
                self.bind(&name.name, v, false);
                Ok(())
            }
            None => self.err(
                "E0253",
                format!("internal error: parameter `{qualified}` was not collected"),
                name.span,
            ),
        }
    }

    fn assign(&mut self, target: &Ident, value: &Expr) -> LResult<()> {
        let m = self.expr(value)?;
        let Some(var) = self.local(&target.name).cloned() else {
            return self.err(
                "E0254",
                format!(
                    "cannot assign to `{}`: it is not a local variable",
                    target.name
                ),
                target.span,
            );
        };
        if !var.mutable {
            return Err(Diagnostic::error(
                "E0255",
                format!(
                    "cannot assign twice to immutable variable `{}`",
                    target.name
                ),
                target.span,
            )
            .with_help(format!("declare it with `let mut {}`", target.name)));
        }
        let old = var.meta.leaves().unwrap_or_default();
        let Some(new) = m.leaves() else {
            return self.err(
                "E0251",
                format!(
                    "only numbers, tuples and records can be assigned, not {}",
                    m.kind_name()
                ),
                value.span,
            );
        };
        if !var.meta.same_shape(&m) || old.len() != new.len() {
            return self.err(
                "E0256",
                format!("`{}` changes its structure in this assignment", target.name),
                value.span,
            );
        }
        let mut converted = Vec::new();
        for (&o, &n) in old.iter().zip(&new) {
            let (to, tn) = (self.ty(o), self.ty(n));
            let n = if to.elem == crate::ir::Elem::F64
                && tn.elem == crate::ir::Elem::I64
                && to.shape == tn.shape
            {
                self.prim(Prim::IntToF64, &[n])
            } else {
                n
            };
            if self.ty(n) != to {
                return Err(Diagnostic::error(
                    "E0257",
                    format!(
                        "`{}` is {}, but this value is {}",
                        target.name,
                        describe_type(&to),
                        describe_type(&self.ty(n))
                    ),
                    value.span,
                )
                .with_help(if to.elem == crate::ir::Elem::I64 {
                    "initialize it with a real, e.g. `0.0`, to accumulate reals"
                } else {
                    "a variable keeps its type"
                }));
            }
            converted.push(n);
        }
        let var = self.local_mut(&target.name).expect("checked above");
        var.meta = var.meta.with_leaves(&mut converted.into_iter());
        Ok(())
    }

    /// Checks that the state after a region has the types it had before.
    fn check_state(&self, before: &[ValueId], after: &[ValueId], span: Span) -> LResult<()> {
        if before.len() == after.len()
            && before
                .iter()
                .zip(after)
                .all(|(a, b)| self.ty(*a) == self.ty(*b))
        {
            return Ok(());
        }
        let names = self.state_names();
        let mut pos = 0;
        for (name, n) in names {
            let changed = (pos..pos + n)
                .any(|i| before.get(i).map(|&v| self.ty(v)) != after.get(i).map(|&v| self.ty(v)));
            if changed {
                return self.err(
                    "E0258",
                    format!("`{name}` changes its type inside this block"),
                    span,
                );
            }
            pos += n;
        }
        self.err(
            "E0258",
            "a variable changes its type inside this block",
            span,
        )
    }

    /// Takes the innermost generative function's current frame of choices,
    /// leaving an empty one.
    fn take_frame(&mut self) -> Option<Trace> {
        self.gen_state()
            .map(|g: &mut GenState| std::mem::take(&mut g.frame))
    }

    /// Adds `choices` to the innermost generative function's frame.
    fn add_to_frame(&mut self, choices: Trace, span: Span) -> LResult<()> {
        let Some(g) = self.gen_state() else {
            return Ok(());
        };
        for (path, c) in choices.choices {
            if g.frame.choices.contains_key(&path) {
                let shown = Trace::show(&path);
                return self.err(
                    "E0259",
                    format!("the address `{shown}` is sampled more than once"),
                    c.span.unwrap_or(span),
                );
            }
            g.frame.choices.insert(path, c);
        }
        Ok(())
    }

    /// Lowers `plate var in 0..n [(subsample m)] { body }`: a loop whose
    /// iterations are conditionally independent. With a subsample, the
    /// loop runs over the positions `k ∈ 0..m` of a minibatch `idx` (a
    /// `subsample` op: `m` distinct indices of `0..n`, the same for every
    /// plate over `0..n` with subsample `m` in a run), `var` is the data
    /// index `idx[k]`, and everything the body adds to the log densities
    /// is scaled by `n/m`, so that the density — and every estimate built
    /// from it — stays unbiased for the whole plate.
    fn plate(
        &mut self,
        var: &Ident,
        lo: &Expr,
        hi: &Expr,
        body: &Block,
        plate: &vprog_lang::ast::Plate,
        span: Span,
    ) -> LResult<()> {
        if self.gen_state().is_none() {
            return self.err(
                "E0284",
                "a `plate` holds the conditionally independent choices of a generative function, but this is not a `gen` body",
                plate.span,
            );
        }
        let lo_m = self.expr(lo)?;
        let lo_v = self.int_scalar(lo_m, lo.span, "a plate bound")?;
        let hi_m = self.expr(hi)?;
        let hi_v = self.int_scalar(hi_m, hi.span, "a plate bound")?;
        let n = match (self.const_int(lo_v), self.const_int(hi_v)) {
            (Some(0), Some(n)) if n >= 0 => n as usize,
            (lo_c, _) => {
                let at = if lo_c != Some(0) { lo.span } else { hi.span };
                return Err(Diagnostic::error(
                    "E0281",
                    "a `plate` runs over `0..N` with a constant `N`",
                    at,
                )
                .with_help("write the size as a constant, e.g. `plate i in 0..1500`"));
            }
        };
        let m = match &plate.subsample {
            None => n,
            Some(e) => {
                let mm = self.expr(e)?;
                let mv = self.int_scalar(mm, e.span, "a subsample size")?;
                match self.const_int(mv) {
                    None => {
                        return self.err(
                            "E0280",
                            "the subsample size must be an integer constant",
                            e.span,
                        );
                    }
                    Some(k) if k < 1 || k as usize > n => {
                        return self.err(
                            "E0282",
                            format!(
                                "a subsample of {k} out of {n} iterations: it must be between 1 and {n}"
                            ),
                            e.span,
                        );
                    }
                    Some(k) => k as usize,
                }
            }
        };
        if m == n {
            // Every iteration runs: a loop whose densities need no scale.
            self.for_loop(var, lo, hi, body, false, span)?;
            return Ok(());
        }
        self.at(span, None);
        let idx = self.b.push(
            crate::ir::OpKind::Subsample {
                n: n as u32,
                m: m as u32,
            },
            vec![],
            vec![Type::tensor(crate::ir::Elem::I64, vec![m])],
            vec![],
        )[0];
        // The body's densities are summed from zero, then scaled by n/m.
        let outer = self.handler_scores();
        let zero = self.constant(Scalar::F(0.0));
        let zeros = vec![(zero, zero); outer.len()];
        self.set_handler_scores(&zeros);
        let lo0 = self.constant(Scalar::I(0));
        let m_v = self.constant(Scalar::I(m as i64));
        let frame = PlateLoop { idx, n, m };
        self.loop_body(var, lo0, m_v, Some(m), body, false, Some(frame), span)?;
        let inner = self.handler_scores();
        let scale = self.constant(Scalar::F(n as f64 / m as f64));
        let scaled: Vec<(ValueId, ValueId)> = outer
            .iter()
            .zip(&inner)
            .map(|(&(s0, w0), &(s, w))| {
                let ss = self.b.mul(scale, s);
                let ws = self.b.mul(scale, w);
                (self.b.add(s0, ss), self.b.add(w0, ws))
            })
            .collect();
        self.set_handler_scores(&scaled);
        Ok(())
    }

    /// Lowers `for var in lo..hi { body }`; with `collect`, the body's value
    /// is stacked (a comprehension) and returned.
    pub fn for_loop(
        &mut self,
        var: &Ident,
        lo: &Expr,
        hi: &Expr,
        body: &Block,
        collect: bool,
        span: Span,
    ) -> LResult<Meta> {
        let lo_m = self.expr(lo)?;
        let lo_v = self.int_scalar(lo_m, lo.span, "a loop bound")?;
        let hi_m = self.expr(hi)?;
        let hi_v = self.int_scalar(hi_m, hi.span, "a loop bound")?;
        let trip = match (self.const_int(lo_v), self.const_int(hi_v)) {
            (Some(l), Some(h)) => Some((h - l).max(0) as usize),
            _ => None,
        };
        let in_gen = self.gen_state().is_some();
        if in_gen && self.const_int(lo_v) != Some(0) {
            let simulating = self
                .gen_state()
                .is_some_and(|g| !matches!(g.mode, super::ctx::GenMode::Assess(_)));
            if simulating {
                return self.err(
                    "E0260",
                    "in a generative function, a `for` loop must start at 0 so that `y[i]` addresses line up with the loop",
                    lo.span,
                );
            }
        }
        self.loop_body(var, lo_v, hi_v, trip, body, collect, None, span)
    }

    /// The loop of [`Lower::for_loop`] over `lo_v..hi_v` (`trip`
    /// iterations if static) — or, with `plate`, over a subsampled plate's
    /// minibatch positions, binding `var` to the data index.
    #[allow(clippy::too_many_arguments)]
    fn loop_body(
        &mut self,
        var: &Ident,
        lo_v: ValueId,
        hi_v: ValueId,
        trip: Option<usize>,
        body: &Block,
        collect: bool,
        plate: Option<PlateLoop>,
        span: Span,
    ) -> LResult<Meta> {
        let state0 = self.state_leaves();
        let outer_frame = self.take_frame();
        let mut types = vec![Type::i64()];
        types.extend(state0.iter().map(|&v| self.ty(v)));
        self.depth += 1;
        let params = self.b.begin_region(&types);
        self.set_state_leaves(&params[1..]);
        let bound = match plate {
            Some(p) => {
                let i = self.b.prim(Prim::Index, &[p.idx, params[0]]);
                if let Some(g) = self.gen_state() {
                    g.plates.push(super::ctx::PlateFrame {
                        position: params[0],
                        data_index: i,
                        n: p.n,
                        m: p.m,
                    });
                }
                i
            }
            None => params[0],
        };
        if let Some(g) = self.gen_state() {
            g.loop_vars.push(params[0]);
        }
        let body_result = self.scoped(|this| {
            this.bind(&var.name, Meta::Val(bound), false);
            this.block(body)
        });
        if let Some(g) = self.gen_state() {
            g.loop_vars.pop();
            if plate.is_some() {
                g.plates.pop();
            }
        }
        self.depth -= 1;
        let value = body_result?;
        let state1 = self.state_leaves();
        self.check_state(&params[1..], &state1, body.span)?;
        let value_leaves = if collect {
            match value.leaves() {
                Some(l) if !l.is_empty() => l,
                _ => {
                    return self.err(
                        "E0261",
                        format!(
                            "a comprehension collects numbers, tuples or records, not {}",
                            value.kind_name()
                        ),
                        body.span,
                    );
                }
            }
        } else {
            Vec::new()
        };
        let frame = self.take_frame().unwrap_or_default();
        let mut yields = state1.clone();
        yields.extend(&value_leaves);
        for c in frame.choices.values() {
            yields.extend(choice_leaves(c));
        }
        let region: Region = self.b.end_region(params, yields);
        self.at(span, None);
        let outs = self.b.for_(lo_v, hi_v, &state0, region, trip);
        let ns = state0.len();
        self.set_state_leaves(&outs[..ns]);
        let mut rest = outs[ns..].iter().copied();
        let result = if collect {
            value.with_leaves(&mut rest)
        } else {
            Meta::Unit
        };
        if let Some(g) = self.gen_state() {
            g.frame = outer_frame.unwrap_or_default();
        }
        let stacked = Trace {
            choices: frame
                .choices
                .iter()
                .map(|(p, c)| (p.clone(), choice_from(c, &mut rest)))
                .collect(),
        };
        self.add_to_frame(stacked, span)?;
        Ok(result)
    }

    /// Lowers `[for var in lo..hi { body }]`.
    pub fn comprehension(
        &mut self,
        var: &Ident,
        lo: &Expr,
        hi: &Expr,
        body: &Block,
        span: Span,
    ) -> LResult<Meta> {
        self.for_loop(var, lo, hi, body, true, span)
    }

    /// Lowers one branch of an `if`: its value's leaves, the state after
    /// it, and its choices.
    fn branch(
        &mut self,
        block: Option<&Block>,
        state0: &[ValueId],
    ) -> LResult<(Meta, Region, Vec<ValueId>, Trace)> {
        self.set_state_leaves(state0);
        let params = self.b.begin_region(&[]);
        let value = match block {
            Some(b) => self.block(b)?,
            None => Meta::Unit,
        };
        let state = self.state_leaves();
        self.check_state(state0, &state, block.map_or(Span::default(), |b| b.span))?;
        let frame = self.take_frame().unwrap_or_default();
        let leaves = value.leaves().unwrap_or_default();
        let region = self.b.end_region(params, leaves);
        Ok((value, region, state, frame))
    }

    /// Lowers `if cond { then } else { else }`.
    pub fn if_expr(
        &mut self,
        cond: &Expr,
        then_b: &Block,
        else_b: Option<&Block>,
        span: Span,
    ) -> LResult<Meta> {
        let cm = self.expr(cond)?;
        let c = self.bool_scalar(cm, cond.span, "the condition of `if`")?;
        // A constant condition selects its branch at compile time.
        if let Some(Scalar::B(k)) = self.consts.get(&c).copied() {
            return match (k, else_b) {
                (true, _) => self.block(then_b),
                (false, Some(e)) => self.block(e),
                (false, None) => Ok(Meta::Unit),
            };
        }
        let state0 = self.state_leaves();
        let outer_frame = self.take_frame();
        self.depth += 1;
        let then_r = self.branch(Some(then_b), &state0);
        let else_r = then_r.as_ref().ok().map(|_| self.branch(else_b, &state0));
        self.depth -= 1;
        let (tv, mut tr, ts, tf) = then_r?;
        let (ev, mut er, es, ef) = else_r.expect("else lowered")?;
        // The branches' values must have one structure and type.
        let both_unit = matches!((&tv, &ev), (Meta::Unit, Meta::Unit));
        if !both_unit {
            if tv.leaves().is_none() || ev.leaves().is_none() {
                let bad = if tv.leaves().is_none() { &tv } else { &ev };
                return self.err(
                    "E0262",
                    format!(
                        "the branches of `if` must produce numbers, tuples or records, not {}",
                        bad.kind_name()
                    ),
                    span,
                );
            }
            if !tv.same_shape(&ev) {
                return Err(Diagnostic::error(
                    "E0263",
                    "the branches of `if` produce values of different shapes",
                    span,
                )
                .with_label(then_b.span, tv.kind_name())
                .with_label(else_b.map_or(span, |b| b.span), ev.kind_name()));
            }
            for k in 0..tr.results.len() {
                let (a, b) = (tr.results[k], er.results[k]);
                let (ta, tb) = (self.ty(a), self.ty(b));
                if ta == tb {
                    continue;
                }
                if ta.shape == tb.shape
                    && ta.elem == crate::ir::Elem::I64
                    && tb.elem == crate::ir::Elem::F64
                {
                    tr.results[k] = self.append_to_region(&mut tr, Prim::IntToF64, &[a]);
                } else if ta.shape == tb.shape
                    && ta.elem == crate::ir::Elem::F64
                    && tb.elem == crate::ir::Elem::I64
                {
                    er.results[k] = self.append_to_region(&mut er, Prim::IntToF64, &[b]);
                } else {
                    return Err(Diagnostic::error(
                        "E0264",
                        format!(
                            "the branches of `if` have different types: {} and {}",
                            describe_type(&ta),
                            describe_type(&tb)
                        ),
                        span,
                    )
                    .with_label(then_b.span, describe_type(&ta))
                    .with_label(else_b.map_or(span, |b| b.span), describe_type(&tb)));
                }
            }
        }
        let nv = tr.results.len();
        tr.results.extend(&ts);
        er.results.extend(&es);
        // Align the choices of the two branches.
        let mut paths: Vec<Vec<String>> = tf.choices.keys().cloned().collect();
        for p in ef.choices.keys() {
            if !tf.choices.contains_key(p) {
                paths.push(p.clone());
            }
        }
        paths.sort();
        let mut layout: Vec<Choice> = Vec::new();
        for p in &paths {
            let (t, e) = (tf.choices.get(p), ef.choices.get(p));
            let like = t.or(e).expect("in one branch");
            let ty = self.ty(like.value);
            if let (Some(t), Some(e)) = (t, e)
                && self.ty(t.value) != self.ty(e.value)
            {
                return self.err(
                    "E0265",
                    format!(
                        "the choice `{}` has different types in the two branches",
                        Trace::show(p)
                    ),
                    span,
                );
            }
            let conditional = t.is_none()
                || e.is_none()
                || t.is_some_and(|c| c.present.is_some())
                || e.is_some_and(|c| c.present.is_some());
            let has_score = like.score.is_some();
            for (region, side) in [(&mut tr, t), (&mut er, e)] {
                let value = match side {
                    Some(c) => c.value,
                    None => self.zero_of(&ty),
                };
                region.results.push(value);
                if has_score {
                    let s = match side.and_then(|c| c.score) {
                        Some(s) => s,
                        None => self.constant(Scalar::F(0.0)),
                    };
                    region.results.push(s);
                }
                if conditional {
                    let present = match side {
                        Some(c) => match c.present {
                            Some(p) => p,
                            None => self.constant(Scalar::B(true)),
                        },
                        None => self.constant(Scalar::B(false)),
                    };
                    region.results.push(present);
                }
            }
            layout.push(Choice {
                value: like.value,
                score: has_score.then_some(like.value),
                present: conditional.then_some(like.value),
                span: like.span,
            });
        }
        self.at(span, None);
        let outs = self.b.if_(c, tr, er);
        let ns = ts.len();
        let value = if both_unit {
            Meta::Unit
        } else {
            tv.with_leaves(&mut outs[..nv].iter().copied())
        };
        self.set_state_leaves(&outs[nv..nv + ns]);
        let mut rest = outs[nv + ns..].iter().copied();
        let merged = Trace {
            choices: paths
                .into_iter()
                .zip(&layout)
                .map(|(p, like)| (p, choice_from(like, &mut rest)))
                .collect(),
        };
        if let Some(g) = self.gen_state() {
            g.frame = outer_frame.unwrap_or_default();
        }
        self.add_to_frame(merged, span)?;
        Ok(value)
    }

    /// A zero of type `ty` (for the branch that did not make a choice).
    pub fn zero_of(&mut self, ty: &Type) -> ValueId {
        let z = match ty.elem {
            crate::ir::Elem::F64 => self.constant(Scalar::F(0.0)),
            crate::ir::Elem::I64 => self.constant(Scalar::I(0)),
            crate::ir::Elem::Bool => self.constant(Scalar::B(false)),
        };
        if ty.is_scalar() {
            z
        } else {
            self.b.prim(Prim::Broadcast(ty.shape.clone()), &[z])
        }
    }
}

/// A subsampled plate's loop: its minibatch and sizes.
#[derive(Clone, Copy, Debug)]
struct PlateLoop {
    /// The minibatch: `m` data indices.
    idx: ValueId,
    /// The size of the plate.
    n: usize,
    /// The size of the minibatch.
    m: usize,
}
