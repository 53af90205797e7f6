//! Builtin functions: math, array reductions, distributions, choice-map
//! operations, `marginal`, `add_cost`, `stop_grad`, `grad`, `estimate`.
//! The tensor builtins (`matmul`, `reshape`, ..., and `axis = k`) are in
//! `tensor.rs`.

use super::ctx::{Handler, LResult, Lower, describe_type};
use super::meta::{Alg, Meta};
use crate::dist::{DistKind, ParamKind};
use crate::ir::{Elem, Function, OpKind, Type, ValueId};
use crate::prim::Prim;
use crate::prim::eval::Scalar;
use vprog_lang::ast::Arg;
use vprog_lang::{Diagnostic, Span};

impl Lower<'_, '_> {
    pub(super) fn arity(&self, name: &str, got: usize, want: usize, span: Span) -> LResult<()> {
        if got == want {
            Ok(())
        } else {
            self.err(
                "E0400",
                format!("`{name}` takes {want} argument(s), but {got} were given"),
                span,
            )
        }
    }

    pub(super) fn no_named(&self, name: &str, named: &[(String, Meta, Span)]) -> LResult<()> {
        match named.first() {
            Some((k, _, s)) => self.err("E0401", format!("`{name}` has no option `{k}`"), *s),
            None => Ok(()),
        }
    }

    /// A real scalar or tensor argument (integers promoted).
    fn real_arg(&mut self, m: Meta, span: Span, what: &str) -> LResult<ValueId> {
        let v = self.val(m, span, what)?;
        self.real(v, span, what)
    }

    fn vector_arg(&mut self, m: Meta, span: Span, what: &str) -> LResult<ValueId> {
        let v = self.real_arg(m, span, what)?;
        let ty = self.ty(v);
        if ty.shape.is_empty() {
            return self.err(
                "E0402",
                format!("{what} must be an array, found {}", describe_type(&ty)),
                span,
            );
        }
        Ok(v)
    }

    /// Calls host function `id`: real scalar arguments (integers
    /// promoted), one real result.
    pub fn host_call(&mut self, id: u32, args: &[Arg], span: Span) -> LResult<Meta> {
        let signature = &self.prog.host[id as usize];
        let (name, arity) = (signature.name.clone(), signature.arity);
        let (pos, named) = self.args(args)?;
        self.no_named(&name, &named)?;
        self.arity(&name, pos.len(), arity, span)?;
        let mut values = Vec::with_capacity(arity);
        for (m, s) in pos {
            values.push(self.real_scalar(m, s, &format!("an argument of `{name}`"))?);
        }
        self.at(span, None);
        Ok(Meta::Val(self.prim(
            Prim::Host {
                id,
                arity: arity as u32,
            },
            &values,
        )))
    }

    /// Calls the builtin `name`.
    pub fn builtin(
        &mut self,
        name: &'static str,
        args: &[Arg],
        name_span: Span,
        span: Span,
    ) -> LResult<Meta> {
        if name == "reshape" {
            // The new shape is read from the source (`tensor.rs`).
            return self.reshape(args, span);
        }
        // `stop_grad` detaches the choices its argument makes.
        let first_site = self.next_site;
        let (pos, named) = self.args(args)?;
        if let Some(kind) = DistKind::from_name(name) {
            self.no_named(name, &named)?;
            return self.distribution(kind, pos, span);
        }
        let unary = |p: Prim| Some(p);
        let elementwise = match name {
            "exp" => unary(Prim::Exp),
            "log" => unary(Prim::Log),
            "log1p" => unary(Prim::Log1p),
            "expm1" => unary(Prim::Expm1),
            "sqrt" => unary(Prim::Sqrt),
            "sin" => unary(Prim::Sin),
            "cos" => unary(Prim::Cos),
            "tan" => unary(Prim::Tan),
            "atan" => unary(Prim::Atan),
            "tanh" => unary(Prim::Tanh),
            "sigmoid" => unary(Prim::Sigmoid),
            "softplus" => unary(Prim::Softplus),
            "abs" => unary(Prim::Abs),
            "floor" => unary(Prim::Floor),
            "lgamma" => unary(Prim::Lgamma),
            "digamma" => unary(Prim::Digamma),
            _ => None,
        };
        if let Some(p) = elementwise {
            self.no_named(name, &named)?;
            self.arity(name, pos.len(), 1, span)?;
            let (m, s) = pos.into_iter().next().expect("one argument");
            let v = self.real_arg(m, s, &format!("the argument of `{name}`"))?;
            self.at(span, None);
            return Ok(Meta::Val(self.prim(p, &[v])));
        }
        match name {
            "pow" | "min" | "max" if pos.len() == 2 => {
                self.no_named(name, &named)?;
                let mut it = pos.into_iter();
                let (a, sa) = it.next().expect("two");
                let (b, sb) = it.next().expect("two");
                let av = self.val(a, sa, "an argument")?;
                let bv = self.val(b, sb, "an argument")?;
                let (mut av, mut bv) = self.unify(av, bv, sa, sb, name)?;
                if name == "pow" {
                    av = self.real(av, sa, "an argument")?;
                    bv = self.real(bv, sb, "an argument")?;
                }
                if self.ty(av).elem == Elem::Bool {
                    return self.err("E0403", format!("`{name}` needs numbers"), span);
                }
                let p = match name {
                    "pow" => Prim::Pow,
                    "min" => Prim::Min,
                    _ => Prim::Max,
                };
                Ok(Meta::Val(self.prim(p, &[av, bv])))
            }
            "sum" | "mean" | "logsumexp" | "max" if named.iter().any(|(k, _, _)| k == "axis") => {
                self.axis_reduction(name, pos, named, span)
            }
            "matmul" | "transpose" | "concat" | "slice" | "gather" => {
                self.tensor_builtin(name, pos, named, span)
            }
            "max" | "logsumexp" | "sum" | "mean" | "len" | "softmax" | "log_softmax" => {
                self.no_named(name, &named)?;
                self.arity(name, pos.len(), 1, span)?;
                let (m, s) = pos.into_iter().next().expect("one");
                if name == "len" {
                    let v = self.val(m, s, "the argument of `len`")?;
                    let ty = self.ty(v);
                    return match ty.shape.first() {
                        Some(&n) if n != crate::ir::DYNAMIC => {
                            Ok(Meta::Val(self.constant(Scalar::I(n as i64))))
                        }
                        Some(_) => self.err(
                            "E0404",
                            "the length of this array is only known at run time",
                            s,
                        ),
                        None => self.err(
                            "E0404",
                            format!("`len` needs an array, found {}", describe_type(&ty)),
                            s,
                        ),
                    };
                }
                if name == "sum" {
                    let v = self.val(m, s, "the argument of `sum`")?;
                    if self.ty(v).elem == Elem::Bool || self.ty(v).is_scalar() {
                        return self.err(
                            "E0402",
                            format!(
                                "`sum` needs an array of numbers, found {}",
                                describe_type(&self.ty(v))
                            ),
                            s,
                        );
                    }
                    return Ok(Meta::Val(self.b.un(Prim::Sum, v)));
                }
                let v = self.vector_arg(m, s, &format!("the argument of `{name}`"))?;
                let ty = self.ty(v);
                Ok(Meta::Val(match name {
                    "max" => self.b.un(Prim::ReduceMax, v),
                    "logsumexp" => self.b.un(Prim::LogSumExp, v),
                    "mean" => {
                        let n = ty.num_elements().unwrap_or(0) as f64;
                        let s = self.b.un(Prim::Sum, v);
                        let n = self.b.f64(n);
                        self.b.div(s, n)
                    }
                    "softmax" | "log_softmax" => {
                        let l = self.b.un(Prim::LogSumExp, v);
                        let l = self.b.broadcast_like(l, &ty);
                        let d = self.b.sub(v, l);
                        if name == "softmax" {
                            self.b.un(Prim::Exp, d)
                        } else {
                            d
                        }
                    }
                    _ => unreachable!(),
                }))
            }
            "dot" | "matvec" => {
                self.no_named(name, &named)?;
                self.arity(name, pos.len(), 2, span)?;
                let mut it = pos.into_iter();
                let (a, sa) = it.next().expect("two");
                let (b, sb) = it.next().expect("two");
                let av = self.vector_arg(a, sa, "an argument")?;
                let bv = self.vector_arg(b, sb, "an argument")?;
                let (ta, tb) = (self.ty(av), self.ty(bv));
                if name == "dot" {
                    if ta != tb || ta.shape.len() != 1 {
                        return self.err(
                            "E0405",
                            format!(
                                "`dot` needs two vectors of one length, found {} and {}",
                                describe_type(&ta),
                                describe_type(&tb)
                            ),
                            span,
                        );
                    }
                    let p = self.b.mul(av, bv);
                    return Ok(Meta::Val(self.b.un(Prim::Sum, p)));
                }
                if ta.shape.len() != 2 || tb.shape.len() != 1 || ta.shape[1] != tb.shape[0] {
                    return self.err(
                        "E0405",
                        format!(
                            "`matvec` needs an n×m matrix and an m-vector, found {} and {}",
                            describe_type(&ta),
                            describe_type(&tb)
                        ),
                        span,
                    );
                }
                Ok(Meta::Val(
                    self.b.prim(Prim::MatVec { transpose: false }, &[av, bv]),
                ))
            }
            "diag" => {
                self.arity(name, pos.len(), 1, span)?;
                let (m, s) = pos.into_iter().next().expect("one");
                let v = self.vector_arg(m, s, "the argument of `diag`")?;
                if self.ty(v).shape.len() != 1 {
                    return self.err("E0405", "`diag` needs a vector", s);
                }
                Ok(Meta::Val(self.b.un(Prim::DiagMatrix, v)))
            }
            "real" | "int" => {
                self.arity(name, pos.len(), 1, span)?;
                let (m, s) = pos.into_iter().next().expect("one");
                let v = self.val(m, s, "the argument")?;
                let ty = self.ty(v);
                Ok(Meta::Val(match (name, ty.elem) {
                    ("real", Elem::I64) => self.prim(Prim::IntToF64, &[v]),
                    ("real", Elem::Bool) => self.prim(Prim::BoolToF64, &[v]),
                    ("real", Elem::F64) | ("int", Elem::I64) => v,
                    ("int", Elem::F64) => self.prim(Prim::F64ToInt, &[v]),
                    _ => {
                        return self.err(
                            "E0406",
                            format!("`int` cannot convert {}", describe_type(&ty)),
                            s,
                        );
                    }
                }))
            }
            "zeros" | "ones" => {
                self.arity(name, pos.len(), 1, span)?;
                let (m, s) = pos.into_iter().next().expect("one");
                let n = self.int_scalar(m, s, "a length")?;
                let Some(n) = self.const_int(n).filter(|&n| n >= 0) else {
                    return self.err(
                        "E0407",
                        "an array length must be a non-negative compile-time constant",
                        s,
                    );
                };
                let ty = Type::vector(n as usize);
                Ok(Meta::Val(
                    self.b.full(&ty, if name == "zeros" { 0.0 } else { 1.0 }),
                ))
            }
            "stop_grad" => {
                self.arity(name, pos.len(), 1, span)?;
                let (m, _) = pos.into_iter().next().expect("one");
                // Choices made while evaluating the argument were emitted
                // before this call: detach them.
                self.detach_sites_from(first_site);
                Ok(self.stop_meta(m))
            }
            "add_cost" | "factor" => {
                self.no_named(name, &named)?;
                self.arity(name, pos.len(), 1, span)?;
                let (m, s) = pos.into_iter().next().expect("one");
                let w = self.real_scalar(m, s, &format!("the argument of `{name}`"))?;
                self.add_cost(w, span)?;
                Ok(Meta::Unit)
            }
            "merge" => {
                self.no_named(name, &named)?;
                self.arity(name, pos.len(), 2, span)?;
                let mut it = pos.into_iter();
                let (a, sa) = it.next().expect("two");
                let (b, sb) = it.next().expect("two");
                self.merge(a, b, sa, sb)
            }
            "density" => {
                self.no_named(name, &named)?;
                self.arity(name, pos.len(), 2, span)?;
                let mut it = pos.into_iter();
                let (g, sg) = it.next().expect("two");
                let (c, sc) = it.next().expect("two");
                self.density(g, c, sg, sc)
            }
            "sir" => {
                self.arity(name, pos.len(), 1, span)?;
                let mut proposal = None;
                for (k, m, s) in named {
                    match (k.as_str(), m) {
                        ("proposal", Meta::Gen(g)) if g.args.is_some() => {
                            proposal = Some(Box::new(g))
                        }
                        ("proposal", other) => {
                            return self.err(
                                "E0408",
                                format!(
                                    "`proposal` must be an applied generative function, found {}",
                                    other.kind_name()
                                ),
                                s,
                            );
                        }
                        (other, _) => {
                            return self.err("E0401", format!("`sir` has no option `{other}`"), s);
                        }
                    }
                }
                let (m, s) = pos.into_iter().next().expect("one");
                let n = self.int_scalar(m, s, "the number of particles")?;
                match self.const_int(n) {
                    Some(n) if n >= 1 => Ok(Meta::Alg(Alg::Sir {
                        particles: n as usize,
                        proposal,
                    })),
                    _ => self.err(
                        "E0408",
                        "`sir` needs a positive compile-time constant number of particles",
                        s,
                    ),
                }
            }
            "marginal" => self.marginal(pos, named, span),
            "target" => {
                self.no_named(name, &named)?;
                self.arity(name, pos.len(), 2, span)?;
                let mut it = pos.into_iter();
                let (g, gs) = it.next().expect("two");
                let (d, ds) = it.next().expect("two");
                let Meta::Gen(g) = g else {
                    return self.err(
                        "E0425",
                        format!(
                            "`target` needs a generative function, found {}",
                            g.kind_name()
                        ),
                        gs,
                    );
                };
                if g.args.is_none() {
                    return self.err(
                        "E0425",
                        format!("apply `{}` to its arguments first", g.func.decl.name.name),
                        gs,
                    );
                }
                let data = self.as_trace(d, ds)?;
                Ok(Meta::Target {
                    model: Box::new(g),
                    data,
                })
            }
            "normalize" => {
                self.arity(name, pos.len(), 1, span)?;
                let (t, ts) = pos.into_iter().next().expect("one");
                let Meta::Target { model, data } = t else {
                    return self.err(
                        "E0426",
                        format!(
                            "`normalize` needs a `target(model, data)`, found {}",
                            t.kind_name()
                        ),
                        ts,
                    );
                };
                let mut alg = None;
                for (k, m, s) in named {
                    match (k.as_str(), m) {
                        ("via", Meta::Alg(a)) => alg = Some(a),
                        ("via", other) => {
                            return self.err("E0422", format!("`via` needs an inference algorithm such as `sir(10, proposal = q)`, found {}", other.kind_name()), s);
                        }
                        (other, _) => {
                            return self.err(
                                "E0401",
                                format!("`normalize` has no option `{other}`"),
                                s,
                            );
                        }
                    }
                }
                match alg {
                    Some(Alg::Sir { particles, proposal: Some(proposal) }) => Ok(Meta::Normalized { model, data, particles, proposal }),
                    _ => self.err("E0427", "`normalize` needs `via = sir(m, proposal = q)`", span)
                        .map_err(|d| d.with_help("the proposal is a generative function over the model's latent addresses")),
                }
            }
            "estimate" => {
                let mut samples = None;
                for (k, m, s) in named {
                    match k.as_str() {
                        "samples" => {
                            let v = self.int_scalar(m, s, "`samples`")?;
                            samples = Some(
                                (self.const_int(v).filter(|&n| n >= 1).ok_or_else(|| {
                                    Diagnostic::error(
                                        "E0409",
                                        "`samples` must be a positive compile-time constant",
                                        s,
                                    )
                                })?) as usize,
                            );
                        }
                        other => {
                            return self.err(
                                "E0401",
                                format!("`estimate` has no option `{other}`"),
                                s,
                            );
                        }
                    }
                }
                self.arity(name, pos.len(), 1, span)?;
                let (obj, _) = pos.into_iter().next().expect("one");
                Ok(Meta::Estimate {
                    objective: Box::new(obj),
                    samples: samples.unwrap_or(1000),
                })
            }
            "grad" => self.grad(pos, named, span),
            // A load declared by its `let` is lowered by `data_let`.
            "load_csv" | "load_npy" => self.data_call_without_type(name, span),
            "stop_params" => {
                self.no_named(name, &named)?;
                self.arity(name, pos.len(), 1, span)?;
                match pos.into_iter().next().expect("one") {
                    (Meta::Gen(mut g), _) => {
                        g.stop_params = true;
                        Ok(Meta::Gen(g))
                    }
                    (other, s) => self.err(
                        "E0433",
                        format!(
                            "`stop_params` needs a generative function, found {}",
                            other.kind_name()
                        ),
                        s,
                    ),
                }
            }
            "sgd" | "momentum" | "adam" => self.err(
                "E0410",
                format!("`{name}` can only be used in a `fit` statement"),
                name_span,
            ),
            "pow" | "min" => self.err(
                "E0400",
                format!("`{name}` takes 2 arguments, but {} were given", pos.len()),
                span,
            ),
            _ => self.err(
                "E0411",
                format!("`{name}` cannot be called here"),
                name_span,
            ),
        }
    }

    /// `d(args)`: a distribution value, with its parameters checked.
    fn distribution(
        &mut self,
        kind: DistKind,
        pos: Vec<(Meta, Span)>,
        span: Span,
    ) -> LResult<Meta> {
        let kinds = kind.param_kinds();
        if pos.len() != kinds.len() {
            return Err(Diagnostic::error(
                "E0412",
                format!(
                    "`{kind}` takes {} parameter(s) ({}), but {} were given",
                    kinds.len(),
                    kind.param_names().join(", "),
                    pos.len()
                ),
                span,
            ));
        }
        let mut params = Vec::new();
        for ((m, s), (pk, pname)) in pos.into_iter().zip(kinds.iter().zip(kind.param_names())) {
            let what = format!("the `{pname}` of `{kind}`");
            let v = self.val(m, s, &what)?;
            let v = match pk {
                ParamKind::Real => {
                    let v = self.real(v, s, &what)?;
                    if !self.ty(v).is_scalar() {
                        return self.err(
                            "E0413",
                            format!(
                                "{what} must be a scalar, found {}",
                                describe_type(&self.ty(v))
                            ),
                            s,
                        );
                    }
                    v
                }
                ParamKind::Int => {
                    if self.ty(v) != Type::i64() {
                        return self.err(
                            "E0413",
                            format!(
                                "{what} must be an integer, found {}",
                                describe_type(&self.ty(v))
                            ),
                            s,
                        );
                    }
                    v
                }
                ParamKind::Vector | ParamKind::Matrix => {
                    let v = self.real(v, s, &what)?;
                    let rank = if *pk == ParamKind::Vector { 1 } else { 2 };
                    let ty = self.ty(v);
                    if ty.shape.len() != rank || ty.shape.contains(&crate::ir::DYNAMIC) {
                        return self.err(
                            "E0413",
                            format!(
                                "{what} must be a {} of static size, found {}",
                                if rank == 1 { "vector" } else { "matrix" },
                                describe_type(&ty)
                            ),
                            s,
                        );
                    }
                    v
                }
                ParamKind::Tensor | ParamKind::Logits => {
                    let v = self.real(v, s, &what)?;
                    let ty = self.ty(v);
                    let rank_ok = *pk == ParamKind::Tensor || matches!(ty.shape.len(), 1 | 2);
                    if !rank_ok || ty.shape.contains(&crate::ir::DYNAMIC) {
                        let needs = if *pk == ParamKind::Tensor {
                            "a real scalar or a real array of static shape"
                        } else {
                            "a vector (one choice) or a matrix (one choice per row) of static size"
                        };
                        return self.err(
                            "E0413",
                            format!("{what} must be {needs}, found {}", describe_type(&ty)),
                            s,
                        );
                    }
                    v
                }
            };
            params.push((v, s));
        }
        if let Some(e) = self.tensor_distribution_shapes(kind, &params) {
            return Err(e);
        }
        // Dimensions must agree.
        if kind == DistKind::MvNormal {
            let n = self.ty(params[0].0).shape[0];
            let other = self.ty(params[1].0);
            let ok = other.shape == [n, n];
            if !ok {
                return self.err(
                    "E0414",
                    format!(
                        "`{kind}`: the mean has length {n} but the {} is {}",
                        kind.param_names()[1],
                        describe_type(&other)
                    ),
                    params[1].1,
                );
            }
        }
        if kind == DistKind::Categorical && self.ty(params[0].0).shape[0] == 0 {
            return self.err(
                "E0414",
                "`categorical` needs at least one probability",
                params[0].1,
            );
        }
        Ok(Meta::Dist(
            kind,
            params.into_iter().map(|(v, _)| v).collect(),
        ))
    }

    /// `add_cost(w)`: in an expectation, adds `w` to its value; in a
    /// generative function, adds `w` to its log density (a factor).
    fn add_cost(&mut self, w: ValueId, span: Span) -> LResult<()> {
        match self.handlers.last() {
            None => self.err(
                "E0415",
                "`add_cost` can only be used inside `E { }` or a `gen` body",
                span,
            ),
            Some(Handler::Expect) => {
                self.b.push(OpKind::AddCost, vec![w], vec![], vec![]);
                Ok(())
            }
            Some(Handler::Gen(_)) => {
                let g = self.gen_state().expect("gen");
                let (s, wt) = (g.score, g.weight);
                let s = self.b.add(s, w);
                let wt = self.b.add(wt, w);
                let g = self.gen_state().expect("gen");
                g.score = s;
                g.weight = wt;
                Ok(())
            }
        }
    }

    /// Marks the sample sites with ids ≥ `first` as detached.
    fn detach_sites_from(&mut self, first: u32) {
        for op in self.b.func.ops.iter_mut() {
            if let OpKind::Sample(s) = &mut op.kind
                && s.site >= first
            {
                s.detached = true;
            }
        }
    }

    /// `m` with every IR leaf's derivative cut.
    fn stop_meta(&mut self, m: Meta) -> Meta {
        match m {
            Meta::Val(v) if self.ty(v).elem == Elem::F64 => Meta::Val(self.b.stop(v)),
            Meta::Tuple(items) => {
                Meta::Tuple(items.into_iter().map(|i| self.stop_meta(i)).collect())
            }
            Meta::Record(f) => {
                Meta::Record(f.into_iter().map(|(k, v)| (k, self.stop_meta(v))).collect())
            }
            Meta::Choices(mut t) => {
                for c in t.choices.values_mut() {
                    if self.ty(c.value).elem == Elem::F64 {
                        c.value = self.b.stop(c.value);
                    }
                    c.score = c.score.map(|s| self.b.stop(s));
                }
                Meta::Choices(t)
            }
            other => other,
        }
    }

    fn marginal(
        &mut self,
        pos: Vec<(Meta, Span)>,
        named: Vec<(String, Meta, Span)>,
        span: Span,
    ) -> LResult<Meta> {
        self.arity("marginal", pos.len(), 1, span)?;
        let (g, gs) = pos.into_iter().next().expect("one");
        let Meta::Gen(g) = g else {
            return self.err(
                "E0420",
                format!(
                    "`marginal` needs a generative function, found {}",
                    g.kind_name()
                ),
                gs,
            );
        };
        if g.args.is_none() {
            return self.err(
                "E0420",
                format!("apply `{}` to its arguments first", g.func.decl.name.name),
                gs,
            );
        }
        let mut keep = None;
        let mut alg = None;
        for (k, m, s) in named {
            match (k.as_str(), m) {
                ("keep", Meta::Tuple(items)) if items.iter().all(|i| matches!(i, Meta::Str(_))) => {
                    keep = Some(
                        items
                            .into_iter()
                            .map(|i| {
                                if let Meta::Str(s) = i {
                                    s
                                } else {
                                    unreachable!()
                                }
                            })
                            .collect::<Vec<_>>(),
                    );
                }
                ("keep", Meta::Str(s1)) => keep = Some(vec![s1]),
                ("keep", other) => {
                    return Err(Diagnostic::error(
                        "E0421",
                        format!(
                            "`keep` must list addresses as strings, found {}",
                            other.kind_name()
                        ),
                        s,
                    )
                    .with_help("write e.g. `keep = [\"x\", \"y\"]`"));
                }
                ("via", Meta::Alg(a)) => alg = Some(a),
                ("via", other) => {
                    return self.err(
                        "E0422",
                        format!(
                            "`via` needs an inference algorithm such as `sir(5)`, found {}",
                            other.kind_name()
                        ),
                        s,
                    );
                }
                (other, _) => {
                    return self.err("E0401", format!("`marginal` has no option `{other}`"), s);
                }
            }
        }
        let Some(keep) = keep else {
            return self.err(
                "E0423",
                "`marginal` needs `keep = [...]`, the addresses to keep",
                span,
            );
        };
        if keep.is_empty() {
            return self.err("E0423", "`keep` must name at least one address", span);
        }
        let alg = alg.unwrap_or(Alg::Sir {
            particles: 1,
            proposal: None,
        });
        if let Alg::Sir {
            proposal: Some(_), ..
        } = alg
        {
            return self.err(
                "E0424",
                "`marginal` estimates its density with the generative function's own prior; it takes no proposal",
                span,
            );
        }
        Ok(Meta::Marginal {
            model: Box::new(g),
            keep,
            alg,
        })
    }

    /// `grad(f, x₁, …, xₙ)`: the gradient of the real-valued function `f`
    /// at the arguments, as a tuple (one value for one argument). `f` is
    /// lowered into its own IR function, differentiated by the reverse-mode
    /// transform, and the derivative program inlined here — so `grad` of a
    /// function that itself uses `grad` works.
    fn grad(
        &mut self,
        pos: Vec<(Meta, Span)>,
        named: Vec<(String, Meta, Span)>,
        span: Span,
    ) -> LResult<Meta> {
        self.no_named("grad", &named)?;
        let mut it = pos.into_iter();
        let Some((f, fs)) = it.next() else {
            return self.err(
                "E0430",
                "`grad` needs a function and the point to differentiate at",
                span,
            );
        };
        let Meta::Fn(fref) = f else {
            return self.err(
                "E0430",
                format!("`grad` differentiates a `fn`, found {}", f.kind_name()),
                fs,
            );
        };
        let mut args = Vec::new();
        for (m, s) in it {
            let v = self.val(m, s, "a point to differentiate at")?;
            args.push(self.real(v, s, "a point to differentiate at")?);
        }
        if args.len() != fref.decl.params.len() {
            return self.err(
                "E0430",
                format!(
                    "`{}` takes {} argument(s), but `grad` gave it {}",
                    fref.decl.name.name,
                    fref.decl.params.len(),
                    args.len()
                ),
                span,
            );
        }
        // Lower f alone, as a function of its arguments.
        let mut inner = Function::new(format!("grad_{}", fref.decl.name.name));
        let mut sub = Lower {
            prog: self.prog,
            b: crate::ir::Builder::new(&mut inner),
            module: fref.module,
            item: usize::MAX,
            scopes: vec![Vec::new()],
            handlers: Vec::new(),
            next_site: 0,
            params: self
                .params
                .iter()
                .map(|_| crate::ir::ValueId(u32::MAX))
                .collect(),
            params_read: vec![false; self.params.len()],
            call_depth: self.call_depth + 1,
            depth: 0,
            nested: Vec::new(),
            site_path: Vec::new(),
            consts: Default::default(),
            stop_params: 0,
            current_site: None,
        };
        let mut params = Vec::new();
        let mut bound = Vec::new();
        for (p, &a) in fref.decl.params.iter().zip(&args) {
            let v = sub.b.fresh(self.ty(a));
            params.push(v);
            bound.push((p.name.name.clone(), Meta::Val(v)));
        }
        let body = fref.decl.body.clone();
        let result = sub.inline_body(
            fref.module,
            &fref.decl.name.name,
            bound,
            |this| this.block(&body),
            span,
        )?;
        if sub.params_read.iter().any(|&r| r) {
            return self.err("E0431", format!("`grad` differentiates pure functions of their arguments, but `{}` reads a learnable parameter", fref.decl.name.name), fs);
        }
        let result = sub.real_scalar(result, span, "the value of a function passed to `grad`")?;
        sub.b.finish(params, vec![result]);
        let wrt = vec![true; args.len()];
        let vjp = crate::transform::vjp::vjp(&inner, &wrt, &[true])
            .map_err(|e| Diagnostic::error("E0432", e.message, fs))?;
        let vjp = crate::transform::simplify::simplify(&vjp);
        // Inline the derivative program.
        let mut env = crate::transform::Env::new();
        for (&p, &a) in vjp.body.params.iter().zip(&args) {
            env.insert(p, a);
        }
        let one = self.b.f64(1.0);
        env.insert(*vjp.body.params.last().expect("seed"), one);
        for &id in &vjp.body.ops {
            crate::transform::copy_op(&mut self.b, &vjp, vjp.op(id), &mut env);
        }
        let grads: Vec<Meta> = vjp.body.results[1..]
            .iter()
            .map(|&r| Meta::Val(crate::transform::lookup(&env, r)))
            .collect();
        Ok(if grads.len() == 1 {
            grads.into_iter().next().expect("one")
        } else {
            Meta::Tuple(grads)
        })
    }
}
