//! `marginal(g, keep = [...], via = sir(m))`: a generative function over
//! the kept addresses whose density is estimated by importance sampling.
//!
//! Write `x` for the kept choices and `u` for the others, and let the
//! proposal for `u` be `g`'s own prior (its choices sampled given `x`, as
//! `generate` does), so that the importance weight of a particle `uₖ` is
//! `q(x | uₖ)`, the density of the kept choices given the rest.
//!
//! * **Simulate** (`sim`): run `g` to get `(x, u₀)`; `u₀` is an exact sample
//!   of `q(u | x)`. Draw `u₁ … u_{m−1}` from the prior and return `x` with
//!   `log q̂(x) = log (1/m) Σₖ q(x | uₖ)`. Given `x`, `E[1 / q̂(x)] = 1 / q(x)`
//!   (the retained particle makes the reciprocal unbiased; Sobolev & Vetrov
//!   2019), so `E[log p − log q̂]` is a lower bound on the ELBO of the true
//!   marginal: with `m = 1` this is HVI (Ranganath et al. 2016) with the
//!   prior as reverse model, with `m > 1` IWHVI.
//! * **Density** (`density`): draw `u₀ … u_{m−1}` from the prior and return
//!   `log (1/m) Σₖ q(x | uₖ)`, whose exponential is unbiased for `q(x)`.
//!
//! This is the SIR estimator of GenJAX's programmable VI (Becker et al.,
//! PLDI 2024), where `m` counts the particles including the retained one.

use super::ctx::{GenMode, LResult, Lower};
use super::meta::{Alg, Choice, GenValue, Meta, Trace};
use crate::ir::{Type, ValueId};
use crate::prim::Prim;
use vprog_lang::{Diagnostic, Span};

impl Lower<'_, '_> {
    /// Splits `trace` into the kept choices and the rest.
    fn split_kept(
        &self,
        trace: Trace,
        keep: &[String],
        g: &GenValue,
        span: Span,
    ) -> LResult<Trace> {
        let prefixes: Vec<Vec<String>> = keep
            .iter()
            .map(|k| k.split('/').map(str::to_string).collect())
            .collect();
        for (k, p) in keep.iter().zip(&prefixes) {
            if !trace.choices.keys().any(|path| path.starts_with(p)) {
                return Err(Diagnostic::error(
                    "E0440",
                    format!(
                        "`keep` names `{k}`, which `{}` does not sample",
                        g.func.decl.name.name
                    ),
                    span,
                )
                .with_note(format!(
                    "it samples {}",
                    trace
                        .choices
                        .keys()
                        .map(|p| format!("`{}`", Trace::show(p)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(Trace {
            choices: trace
                .choices
                .into_iter()
                .filter(|(path, _)| prefixes.iter().any(|p| path.starts_with(p)))
                .collect(),
        })
    }

    /// The total log density of the choices of `trace` (summing stacked
    /// scores, counting absent conditional choices as zero).
    fn total_score(&mut self, trace: &Trace) -> ValueId {
        let mut total = self.b.f64(0.0);
        for c in trace.choices.values() {
            let Some(mut s) = c.score else { continue };
            if let Some(p) = c.present {
                let ty = self.ty(s);
                let zero = self.b.zeros(&ty);
                s = self.b.prim(Prim::Select, &[p, s, zero]);
            }
            if !self.ty(s).is_scalar() {
                s = self.b.un(Prim::Sum, s);
            }
            total = self.b.add(total, s);
        }
        total
    }

    /// Runs `body` once per particle in a loop over `n` particles (so each
    /// particle's choices have their own randomness) and returns the
    /// stacked outputs of `body` and its stacked choices.
    fn particle_loop(
        &mut self,
        n: usize,
        mut body: impl FnMut(&mut Self) -> LResult<(Vec<ValueId>, Trace)>,
    ) -> LResult<(Vec<ValueId>, Trace)> {
        let lo = self.b.i64(0);
        let hi = self.b.i64(n as i64);
        let state0 = self.state_leaves();
        let mut types = vec![Type::i64()];
        types.extend(state0.iter().map(|&v| self.ty(v)));
        let params = self.b.begin_region(&types);
        self.set_state_leaves(&params[1..]);
        self.depth += 1;
        let r = body(self);
        self.depth -= 1;
        let (outs, trace) = r?;
        let mut yields = self.state_leaves();
        yields.extend(&outs);
        for c in trace.choices.values() {
            yields.push(c.value);
        }
        let region = self.b.end_region(params, yields);
        let results = self.b.for_(lo, hi, &state0, region, Some(n));
        self.set_state_leaves(&results[..state0.len()]);
        let mut rest = results[state0.len()..].iter().copied();
        let stacked_outs: Vec<ValueId> = (0..outs.len())
            .map(|_| rest.next().expect("output"))
            .collect();
        let stacked = Trace {
            choices: trace
                .choices
                .into_iter()
                .map(|(p, c)| {
                    let value = rest.next().expect("choice");
                    (
                        p,
                        Choice {
                            value,
                            score: None,
                            present: None,
                            span: c.span,
                        },
                    )
                })
                .collect(),
        };
        Ok((stacked_outs, stacked))
    }

    /// The weights `log q(x | uₖ)` of `n` particles drawn from `g`'s prior
    /// given the kept choices `x`, as a vector.
    fn prior_weights(&mut self, g: &GenValue, x: &Trace, n: usize, span: Span) -> LResult<ValueId> {
        let (outs, _) = self.particle_loop(n, |this| {
            let run = this.run_gen(g, GenMode::Generate(x.clone()), span)?;
            Ok((vec![run.weight], Trace::default()))
        })?;
        Ok(outs[0])
    }

    /// `log p(x, data) − log q(x)` for a choice map `x` of the proposal,
    /// and `log p(x, data)`.
    fn sir_weight(
        &mut self,
        model: &GenValue,
        data: &Trace,
        x: &Trace,
        log_q: ValueId,
        span: Span,
    ) -> LResult<(ValueId, ValueId)> {
        let mut joint = x.clone();
        for (k, c) in &data.choices {
            if joint.choices.insert(k.clone(), c.clone()).is_some() {
                return self.err(
                    "E0443",
                    format!(
                        "the proposal samples `{}`, which the target observes",
                        Trace::show(k)
                    ),
                    span,
                );
            }
        }
        let lp = self.run_gen(model, GenMode::Assess(joint), span)?.score;
        Ok((self.b.sub(lp, log_q), lp))
    }

    fn require_stochastic(&self, what: &str, span: Span) -> LResult<()> {
        if self.stochastic() {
            Ok(())
        } else {
            Err(Diagnostic::error(
                "E0441",
                format!(
                    "{what} of a marginal draws particles, so it can only be used inside `E {{ }}` or a `gen` body"
                ),
                span,
            ))
        }
    }

    /// `sim marginal(g, keep, sir(m))`: `(x, log q̂(x))`.
    pub fn sim_marginal(
        &mut self,
        g: &GenValue,
        keep: &[String],
        alg: &Alg,
        span: Span,
    ) -> LResult<Meta> {
        self.require_stochastic("`sim`", span)?;
        let Alg::Sir { particles: m, .. } = *alg;
        let run = self.run_gen(g, GenMode::Simulate, span)?;
        let kept = self.split_kept(run.trace, keep, g, span)?;
        let w0 = self.total_score(&kept);
        let log_q = if m == 1 {
            w0
        } else {
            let ws = self.prior_weights(g, &kept, m - 1, span)?;
            let mut all = vec![w0];
            for k in 0..m - 1 {
                let i = self.b.i64(k as i64);
                all.push(self.b.prim(Prim::Index, &[ws, i]));
            }
            let packed = self.b.prim(Prim::Pack, &all);
            let lse = self.b.un(Prim::LogSumExp, packed);
            let lm = self.b.f64((m as f64).ln());
            self.b.sub(lse, lm)
        };
        let mut x = kept;
        for c in x.choices.values_mut() {
            c.score = None;
        }
        Ok(Meta::Tuple(vec![Meta::Choices(x), Meta::Val(log_q)]))
    }

    /// `density(marginal(g, keep, sir(m)), x)`: `log (1/m) Σₖ q(x | uₖ)`.
    pub fn density_marginal(
        &mut self,
        g: &GenValue,
        keep: &[String],
        alg: &Alg,
        x: Trace,
        span: Span,
    ) -> LResult<Meta> {
        self.require_stochastic("`density`", span)?;
        let Alg::Sir { particles: m, .. } = *alg;
        let prefixes: Vec<Vec<String>> = keep
            .iter()
            .map(|k| k.split('/').map(str::to_string).collect())
            .collect();
        for (path, c) in &x.choices {
            if !prefixes.iter().any(|p| path.starts_with(p)) {
                return Err(Diagnostic::error(
                    "E0442",
                    format!(
                        "the choice map has `{}`, which the marginal does not keep",
                        Trace::show(path)
                    ),
                    c.span.unwrap_or(span),
                ));
            }
        }
        let ws = self.prior_weights(g, &x, m, span)?;
        let lse = self.b.un(Prim::LogSumExp, ws);
        let lm = self.b.f64((m as f64).ln());
        Ok(Meta::Val(self.b.sub(lse, lm)))
    }
}

impl Lower<'_, '_> {
    /// `sim normalize(target(p, d), via = sir(m, proposal = q))`: draws
    /// `x₀ … x_{m−1}` from `q`, weights them by `wₖ = p(xₖ, d) / q(xₖ)`,
    /// resamples one, `xⱼ` with probability `wⱼ / Σ w` (a categorical
    /// choice with the default strategy), and returns it with
    /// `log q̂(xⱼ) = log p(xⱼ, d) − log (1/m) Σₖ wₖ`, whose reciprocal is
    /// unbiased for the reciprocal of the SIR distribution's density.
    pub fn sim_normalized(
        &mut self,
        model: &GenValue,
        data: &Trace,
        m: usize,
        proposal: &GenValue,
        span: Span,
    ) -> LResult<Meta> {
        self.require_stochastic("`sim`", span)?;
        let (outs, stacked) = self.particle_loop(m, |this| {
            let run = this.run_gen(proposal, GenMode::Simulate, span)?;
            let (w, lp) = this.sir_weight(model, data, &run.trace, run.score, span)?;
            Ok((vec![w, lp], run.trace))
        })?;
        let (ws, lps) = (outs[0], outs[1]);
        let lse = self.b.un(Prim::LogSumExp, ws);
        let ty = self.ty(ws);
        let l = self.b.broadcast_like(lse, &ty);
        let centered = self.b.sub(ws, l);
        let probs = self.b.un(Prim::Exp, centered);
        let site = self.fresh_site();
        self.at(
            span,
            Some(format!("{}/resample", model.func.decl.name.name)),
        );
        let j = self.b.push(
            crate::ir::OpKind::Sample(crate::ir::SiteInfo {
                site,
                dist: crate::dist::DistKind::Categorical,
                strategy: crate::dist::DistKind::Categorical.default_strategy(),
                explicit_strategy: false,
                has_baseline: false,
                detached: false,
            }),
            vec![probs],
            vec![Type::i64()],
            vec![],
        )[0];
        let mut x = stacked;
        for c in x.choices.values_mut() {
            c.value = self.b.prim(Prim::Index, &[c.value, j]);
        }
        let lp = self.b.prim(Prim::Index, &[lps, j]);
        let lm = self.b.f64((m as f64).ln());
        let log_z = self.b.sub(lse, lm);
        let log_q = self.b.sub(lp, log_z);
        Ok(Meta::Tuple(vec![Meta::Choices(x), Meta::Val(log_q)]))
    }

    /// `density(normalize(...), x)`: conditional SIR with `x` as the
    /// retained particle: `log p(x, d) − log (1/m) Σₖ wₖ` with `w₀` the
    /// weight of `x` and `w₁ … w_{m−1}` of fresh proposals.
    pub fn density_normalized(
        &mut self,
        model: &GenValue,
        data: &Trace,
        m: usize,
        proposal: &GenValue,
        x: Trace,
        span: Span,
    ) -> LResult<Meta> {
        self.require_stochastic("`density`", span)?;
        let lq0 = self
            .run_gen(proposal, GenMode::Assess(x.clone()), span)?
            .score;
        let (w0, lp0) = self.sir_weight(model, data, &x, lq0, span)?;
        let mut all = vec![w0];
        if m > 1 {
            let (outs, _) = self.particle_loop(m - 1, |this| {
                let run = this.run_gen(proposal, GenMode::Simulate, span)?;
                let (w, _) = this.sir_weight(model, data, &run.trace, run.score, span)?;
                Ok((vec![w], Trace::default()))
            })?;
            for k in 0..m - 1 {
                let i = self.b.i64(k as i64);
                all.push(self.b.prim(Prim::Index, &[outs[0], i]));
            }
        }
        let packed = self.b.prim(Prim::Pack, &all);
        let lse = self.b.un(Prim::LogSumExp, packed);
        let lm = self.b.f64((m as f64).ln());
        let log_z = self.b.sub(lse, lm);
        Ok(Meta::Val(self.b.sub(lp0, log_z)))
    }
}
