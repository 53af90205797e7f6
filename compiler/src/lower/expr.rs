//! Lowering expressions.
//!
//! Numbers are promoted where a real is expected (`2 * x` with a real `x`,
//! `log(n)` with an integer `n`); `/` and `^` always produce reals; a scalar
//! meets a tensor by broadcasting. Arithmetic on constants is folded as it
//! is emitted, so loop bounds and array lengths computed from constants
//! stay known at compile time.

use super::ctx::{LResult, Lower, describe_type};
use super::meta::{Closure, Meta, Trace};
use crate::ir::{Elem, Type, ValueId};
use crate::prim::Prim;
use crate::prim::eval::Scalar;
use std::collections::BTreeMap;
use std::rc::Rc;
use vprog_lang::ast::{Arg, BinaryOp, Expr, ExprKind, UnaryOp};
use vprog_lang::{Diagnostic, Span};

/// Positional call arguments with their spans.
pub(crate) type Positional = Vec<(Meta, Span)>;
/// Named call arguments: name, value, span.
pub(crate) type Named = Vec<(String, Meta, Span)>;

impl Lower<'_, '_> {
    /// Lowers an expression to its compile-time value.
    pub fn expr(&mut self, e: &Expr) -> LResult<Meta> {
        self.at(
            e.span,
            self.current_site
                .clone()
                .or_else(|| self.site_path.last().cloned()),
        );
        match &e.kind {
            ExprKind::Real(x) => Ok(Meta::Val(self.constant(Scalar::F(*x)))),
            ExprKind::Int(x) => Ok(Meta::Val(self.constant(Scalar::I(*x)))),
            ExprKind::Bool(x) => Ok(Meta::Val(self.constant(Scalar::B(*x)))),
            ExprKind::Str(s) => Ok(Meta::Str(s.clone())),
            ExprKind::Var(name) => self.lookup(&name.name, e.span),
            ExprKind::Unary(op, inner) => {
                let m = self.expr(inner)?;
                let v = self.val(m, inner.span, "the operand")?;
                self.at(e.span, None);
                self.unary(*op, v, e.span)
            }
            ExprKind::Binary(op, l, r) => {
                let lm = self.expr(l)?;
                let lv = self.val(
                    lm,
                    l.span,
                    &format!("the left operand of `{}`", op.symbol()),
                )?;
                let rm = self.expr(r)?;
                let rv = self.val(
                    rm,
                    r.span,
                    &format!("the right operand of `{}`", op.symbol()),
                )?;
                self.at(e.span, None);
                self.binary(*op, lv, rv, l.span, r.span, e.span)
                    .map(Meta::Val)
            }
            ExprKind::Call { callee, args } => self.call(callee, args, e.span),
            ExprKind::Field(inner, name) => {
                let m = self.expr(inner)?;
                self.field(m, &name.name, inner.span, name.span)
            }
            ExprKind::TupleField(inner, k, kspan) => {
                let m = self.expr(inner)?;
                match m {
                    Meta::Tuple(items) => match items.get(*k as usize) {
                        Some(item) => Ok(item.clone()),
                        None => self.err(
                            "E0220",
                            format!(
                                "this tuple has {} components; there is no `.{k}`",
                                items.len()
                            ),
                            *kspan,
                        ),
                    },
                    other => self.err(
                        "E0220",
                        format!("`.{k}` needs a tuple, found {}", other.kind_name()),
                        inner.span,
                    ),
                }
            }
            ExprKind::Index(inner, index) => {
                let m = self.expr(inner)?;
                let im = self.expr(index)?;
                let i = self.int_scalar(im, index.span, "an index")?;
                self.index(m, i, inner.span, index.span)
            }
            ExprKind::Tuple(items) if items.is_empty() => Ok(Meta::Unit),
            ExprKind::Tuple(items) => {
                let metas = items
                    .iter()
                    .map(|i| self.expr(i))
                    .collect::<LResult<Vec<_>>>()?;
                Ok(Meta::Tuple(metas))
            }
            ExprKind::Array(items) => self.array(items, e.span),
            ExprKind::Comprehension { var, lo, hi, body } => {
                self.comprehension(var, lo, hi, body, e.span)
            }
            ExprKind::Record(fields) => {
                let mut map = BTreeMap::new();
                for (name, value) in fields {
                    if map.contains_key(&name.name) {
                        return self.err(
                            "E0221",
                            format!("field `{}` is given twice", name.name),
                            name.span,
                        );
                    }
                    let m = self.expr(value)?;
                    map.insert(name.name.clone(), m);
                }
                Ok(Meta::Record(map))
            }
            ExprKind::If {
                cond,
                then_branch,
                else_branch,
            } => self.if_expr(cond, then_branch, else_branch.as_ref(), e.span),
            ExprKind::Block(block) => self.block(block),
            ExprKind::Expect(body) => {
                let captured = self
                    .scopes
                    .iter()
                    .flat_map(|s| s.iter())
                    .map(|(n, v)| (n.clone(), v.meta.clone()))
                    .collect();
                Ok(Meta::Expect(Rc::new(Closure {
                    body: Rc::new(body.clone()),
                    module: self.module,
                    captured,
                    span: e.span,
                })))
            }
            ExprKind::Sim(inner) => {
                let g = self.expr(inner)?;
                self.sim(g, inner.span, e.span)
            }
        }
    }

    fn unary(&mut self, op: UnaryOp, v: ValueId, span: Span) -> LResult<Meta> {
        let ty = self.ty(v);
        match op {
            UnaryOp::Neg if ty.elem != Elem::Bool => Ok(Meta::Val(self.prim(Prim::Neg, &[v]))),
            UnaryOp::Not if ty.elem == Elem::Bool => Ok(Meta::Val(self.prim(Prim::Not, &[v]))),
            UnaryOp::Neg => self.err("E0222", "`-` needs a number, found a boolean", span),
            UnaryOp::Not => self.err(
                "E0222",
                format!("`!` needs a boolean, found {}", describe_type(&ty)),
                span,
            ),
        }
    }

    /// Makes two operands of one type: integers meet reals as reals, a
    /// scalar meets a tensor by broadcasting.
    pub fn unify(
        &mut self,
        a: ValueId,
        b: ValueId,
        sa: Span,
        sb: Span,
        op: &str,
    ) -> LResult<(ValueId, ValueId)> {
        let (mut a, mut b) = (a, b);
        let (ta, tb) = (self.ty(a), self.ty(b));
        if ta.elem == Elem::F64 && tb.elem == Elem::I64 {
            b = self.prim(Prim::IntToF64, &[b]);
        } else if ta.elem == Elem::I64 && tb.elem == Elem::F64 {
            a = self.prim(Prim::IntToF64, &[a]);
        }
        let (ta, tb) = (self.ty(a), self.ty(b));
        if ta.elem != tb.elem {
            return Err(Diagnostic::error(
                "E0223",
                format!(
                    "`{op}` cannot combine {} and {}",
                    describe_type(&ta),
                    describe_type(&tb)
                ),
                sa.to(sb),
            )
            .with_label(sa, describe_type(&ta))
            .with_label(sb, describe_type(&tb)));
        }
        if ta.shape != tb.shape {
            if ta.is_scalar() {
                a = self.b.prim(Prim::Broadcast(tb.shape.clone()), &[a]);
            } else if tb.is_scalar() {
                b = self.b.prim(Prim::Broadcast(ta.shape.clone()), &[b]);
            } else {
                return Err(Diagnostic::error(
                    "E0224",
                    format!(
                        "`{op}` needs operands of one shape, found {} and {}",
                        describe_type(&ta),
                        describe_type(&tb)
                    ),
                    sa.to(sb),
                )
                .with_label(sa, describe_type(&ta))
                .with_label(sb, describe_type(&tb)));
            }
        }
        Ok((a, b))
    }

    /// Lowers `a op b`.
    pub fn binary(
        &mut self,
        op: BinaryOp,
        a: ValueId,
        b: ValueId,
        sa: Span,
        sb: Span,
        span: Span,
    ) -> LResult<ValueId> {
        let sym = op.symbol();
        let (mut a, mut b) = self.unify(a, b, sa, sb, sym)?;
        let elem = self.ty(a).elem;
        let numeric = |this: &Self| -> LResult<()> {
            if elem == Elem::Bool {
                this.err(
                    "E0225",
                    format!("`{sym}` needs numbers, found booleans"),
                    span,
                )
            } else {
                Ok(())
            }
        };
        let prim = match op {
            BinaryOp::Add => Prim::Add,
            BinaryOp::Sub => Prim::Sub,
            BinaryOp::Mul => Prim::Mul,
            BinaryOp::Div | BinaryOp::Pow => {
                numeric(self)?;
                if elem == Elem::I64 {
                    a = self.prim(Prim::IntToF64, &[a]);
                    b = self.prim(Prim::IntToF64, &[b]);
                }
                let p = if op == BinaryOp::Div {
                    Prim::Div
                } else {
                    Prim::Pow
                };
                return Ok(self.prim(p, &[a, b]));
            }
            BinaryOp::Lt => Prim::Lt,
            BinaryOp::Le => Prim::Le,
            BinaryOp::Gt => Prim::Gt,
            BinaryOp::Ge => Prim::Ge,
            BinaryOp::Eq => Prim::Eq,
            BinaryOp::Ne => Prim::Ne,
            BinaryOp::And | BinaryOp::Or => {
                if elem != Elem::Bool {
                    return self.err(
                        "E0226",
                        format!(
                            "`{sym}` needs booleans, found {}",
                            describe_type(&self.ty(a))
                        ),
                        span,
                    );
                }
                return Ok(self.prim(
                    if op == BinaryOp::And {
                        Prim::And
                    } else {
                        Prim::Or
                    },
                    &[a, b],
                ));
            }
        };
        if matches!(
            prim,
            Prim::Add | Prim::Sub | Prim::Mul | Prim::Lt | Prim::Le | Prim::Gt | Prim::Ge
        ) {
            numeric(self)?;
        }
        Ok(self.prim(prim, &[a, b]))
    }

    fn field(&mut self, m: Meta, name: &str, span: Span, name_span: Span) -> LResult<Meta> {
        match m {
            Meta::Record(fields) => match fields.get(name) {
                Some(v) => Ok(v.clone()),
                None => self.err(
                    "E0227",
                    format!(
                        "this record has no field `{name}`; its fields are {}",
                        fields
                            .keys()
                            .map(|k| format!("`{k}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    name_span,
                ),
            },
            Meta::Choices(trace) => self.choices_field(&trace, name, name_span),
            // `g.p`: the parameter `p` of generative function `g`.
            Meta::Gen(g) => {
                let qualified = format!("{}.{name}", g.func.decl.name.name);
                match self
                    .prog
                    .params
                    .iter()
                    .position(|p| p.qualified == qualified && p.module == g.func.module)
                {
                    Some(i) => Ok(self.param_value(i)),
                    None => self.err(
                        "E0227",
                        format!("`{}` has no parameter `{name}`", g.func.decl.name.name),
                        name_span,
                    ),
                }
            }
            other => self.err(
                "E0227",
                format!(
                    "`.{name}` needs a record or a choice map, found {}",
                    other.kind_name()
                ),
                span,
            ),
        }
    }

    /// The entry `name` of a choice map: a value, or the choice map of a
    /// traced call.
    fn choices_field(&mut self, trace: &Trace, name: &str, span: Span) -> LResult<Meta> {
        let key = vec![name.to_string()];
        if let Some(choice) = trace.choices.get(&key) {
            if choice.present.is_some() {
                return self.err(
                    "E0228",
                    format!("the choice `{name}` is made only on some paths (under an `if`), so it cannot be read directly"),
                    span,
                );
            }
            return Ok(Meta::Val(choice.value));
        }
        let sub: Trace = Trace {
            choices: trace
                .choices
                .iter()
                .filter(|(k, _)| k.len() > 1 && k[0] == name)
                .map(|(k, v)| (k[1..].to_vec(), v.clone()))
                .collect(),
        };
        if sub.choices.is_empty() {
            let have: Vec<String> = trace
                .choices
                .keys()
                .map(|k| format!("`{}`", Trace::show(k)))
                .collect();
            return self.err(
                "E0229",
                format!(
                    "the choice map has no address `{name}`; it has {}",
                    if have.is_empty() {
                        "none".into()
                    } else {
                        have.join(", ")
                    }
                ),
                span,
            );
        }
        Ok(Meta::Choices(sub))
    }

    fn index(&mut self, m: Meta, i: ValueId, span: Span, ispan: Span) -> LResult<Meta> {
        match m {
            Meta::Val(t) => {
                let ty = self.ty(t);
                if ty.is_scalar() {
                    return self.err(
                        "E0230",
                        format!("cannot index {}", describe_type(&ty)),
                        span,
                    );
                }
                if let (Some(k), Some(&n)) = (self.const_int(i), ty.shape.first())
                    && n != crate::ir::DYNAMIC
                    && (k < 0 || k as usize >= n)
                {
                    return self.err(
                        "E0231",
                        format!("index {k} is out of range for length {n}"),
                        ispan,
                    );
                }
                Ok(Meta::Val(self.b.prim(Prim::Index, &[t, i])))
            }
            Meta::Tuple(items) if items.iter().all(|x| matches!(x, Meta::Str(_))) => {
                match self
                    .const_int(i)
                    .and_then(|k| items.get(usize::try_from(k).ok()?))
                {
                    Some(item) => Ok(item.clone()),
                    None => self.err(
                        "E0231",
                        "a list of names can only be indexed by a constant in range",
                        ispan,
                    ),
                }
            }
            other => self.err("E0230", format!("cannot index {}", other.kind_name()), span),
        }
    }

    fn array(&mut self, items: &[Expr], span: Span) -> LResult<Meta> {
        let metas = items
            .iter()
            .map(|i| self.expr(i))
            .collect::<LResult<Vec<_>>>()?;
        if metas.is_empty() {
            return self.err("E0232", "an empty array has no type; use `zeros(0)`", span);
        }
        if metas.iter().all(|m| matches!(m, Meta::Str(_))) {
            return Ok(Meta::Tuple(metas));
        }
        let mut vals = Vec::new();
        for (m, e) in metas.into_iter().zip(items) {
            vals.push(self.val(m, e.span, "an array element")?);
        }
        // Promote to real when any element is real.
        if vals.iter().any(|&v| self.ty(v).elem == Elem::F64) {
            for (v, e) in vals.iter_mut().zip(items) {
                *v = self.real(*v, e.span, "an array element")?;
            }
        }
        let t0 = self.ty(vals[0]);
        for (v, e) in vals.iter().zip(items) {
            if self.ty(*v) != t0 {
                return self.err(
                    "E0233",
                    format!(
                        "the elements of an array must have one type: {} and {}",
                        describe_type(&t0),
                        describe_type(&self.ty(*v))
                    ),
                    e.span,
                );
            }
        }
        Ok(Meta::Val(self.b.prim(Prim::Pack, &vals)))
    }

    /// Splits call arguments into positional and named.
    pub fn args(&mut self, args: &[Arg]) -> LResult<(Positional, Named)> {
        let mut positional = Vec::new();
        let mut named: Vec<(String, Meta, Span)> = Vec::new();
        for a in args {
            match &a.name {
                Some(n) => {
                    if named.iter().any(|(k, _, _)| *k == n.name) {
                        return self.err(
                            "E0234",
                            format!("argument `{}` is given twice", n.name),
                            n.span,
                        );
                    }
                    // `keep = [x, y]` names addresses, not variables.
                    let m = self.expr(&a.value)?;
                    named.push((n.name.clone(), m, a.value.span));
                }
                None => {
                    if !named.is_empty() {
                        return self.err(
                            "E0235",
                            "positional arguments must come before named ones",
                            a.value.span,
                        );
                    }
                    let m = self.expr(&a.value)?;
                    positional.push((m, a.value.span));
                }
            }
        }
        Ok((positional, named))
    }

    fn call(&mut self, callee: &Expr, args: &[Arg], span: Span) -> LResult<Meta> {
        let f = self.expr(callee)?;
        match f {
            Meta::Builtin(b) => self.builtin(b.0, args, callee.span, span),
            Meta::Host(id) => self.host_call(id, args, span),
            Meta::Fn(fref) => {
                let (pos, named) = self.args(args)?;
                self.call_function(&fref, pos, named, span)
            }
            Meta::Gen(g) => {
                let (pos, named) = self.args(args)?;
                if g.args.is_some() && !g.func.decl.params.is_empty() {
                    return self.err(
                        "E0236",
                        format!(
                            "`{}` is already applied to its arguments",
                            g.func.decl.name.name
                        ),
                        callee.span,
                    );
                }
                let bound = self.bind_args(&g.func, pos, named, span)?;
                Ok(Meta::Gen(super::meta::GenValue {
                    stop_params: g.stop_params,
                    func: g.func,
                    args: Some(bound.into_iter().map(|(_, m)| m).collect()),
                }))
            }
            other => self.err(
                "E0237",
                format!("{} cannot be called", other.kind_name()),
                callee.span,
            ),
        }
    }

    /// Matches call arguments to a function's parameters.
    pub fn bind_args(
        &mut self,
        f: &super::meta::FnRef,
        pos: Vec<(Meta, Span)>,
        named: Vec<(String, Meta, Span)>,
        span: Span,
    ) -> LResult<Vec<(String, Meta)>> {
        let params = &f.decl.params;
        let name = &f.decl.name.name;
        if pos.len() > params.len() {
            return Err(Diagnostic::error(
                "E0238",
                format!(
                    "`{name}` takes {} argument(s), but {} were given",
                    params.len(),
                    pos.len() + named.len()
                ),
                span,
            )
            .with_label(f.decl.name.span, "defined here"));
        }
        let mut slots: Vec<Option<Meta>> = vec![None; params.len()];
        for (i, (m, _)) in pos.into_iter().enumerate() {
            slots[i] = Some(m);
        }
        for (k, m, s) in named {
            match params.iter().position(|p| p.name.name == k) {
                Some(i) if slots[i].is_none() => slots[i] = Some(m),
                Some(_) => return self.err("E0234", format!("argument `{k}` is given twice"), s),
                None => {
                    return Err(Diagnostic::error(
                        "E0239",
                        format!("`{name}` has no parameter `{k}`"),
                        s,
                    )
                    .with_label(f.decl.name.span, "defined here"));
                }
            }
        }
        let mut out = Vec::new();
        for (p, slot) in params.iter().zip(slots) {
            match slot {
                Some(m) => {
                    let m = self.check_annotation(m, p.ty.as_ref(), &p.name.name, span)?;
                    out.push((p.name.name.clone(), m));
                }
                None => {
                    return Err(Diagnostic::error(
                        "E0238",
                        format!("`{name}` is missing the argument `{}`", p.name.name),
                        span,
                    )
                    .with_label(f.decl.name.span, "defined here"));
                }
            }
        }
        Ok(out)
    }

    /// Checks (and converts) an argument against a parameter's annotation.
    fn check_annotation(
        &mut self,
        m: Meta,
        ty: Option<&vprog_lang::ast::TypeExpr>,
        name: &str,
        span: Span,
    ) -> LResult<Meta> {
        let Some(ty) = ty else {
            return Ok(m);
        };
        use vprog_lang::ast::TypeExprKind;
        let TypeExprKind::Named { name: tn, dims } = &ty.kind else {
            return Ok(m);
        };
        let mismatch = |_: &Self, found: String| -> LResult<Meta> {
            Err(Diagnostic::error(
                "E0240",
                format!("argument `{name}` must be {}, found {found}", tn.name),
                span,
            )
            .with_label(ty.span, "declared here"))
        };
        match tn.name.as_str() {
            "real" | "int" | "bool" => {
                let v = match m {
                    Meta::Val(v) => v,
                    other => return mismatch(self, other.kind_name().to_string()),
                };
                let want_elem = match tn.name.as_str() {
                    "real" => Elem::F64,
                    "int" => Elem::I64,
                    _ => Elem::Bool,
                };
                let mut v = v;
                if want_elem == Elem::F64 && self.ty(v).elem == Elem::I64 {
                    v = self.prim(Prim::IntToF64, &[v]);
                }
                let want = Type::tensor(want_elem, dims.iter().map(|&d| d as usize).collect());
                if self.ty(v) != want {
                    return mismatch(self, describe_type(&self.ty(v)));
                }
                Ok(Meta::Val(v))
            }
            "gen" => match m {
                Meta::Gen(_) | Meta::Marginal { .. } => Ok(m),
                other => mismatch(self, other.kind_name().to_string()),
            },
            "choices" => match m {
                Meta::Choices(_) | Meta::Record(_) => Ok(m),
                other => mismatch(self, other.kind_name().to_string()),
            },
            "expect" => match m {
                Meta::Expect(_) => Ok(m),
                other => mismatch(self, other.kind_name().to_string()),
            },
            "dist" => match m {
                Meta::Dist(..) => Ok(m),
                other => mismatch(self, other.kind_name().to_string()),
            },
            other => self.err("E0241", format!("unknown type `{other}`"), tn.span),
        }
    }

    /// Inlines a call of a deterministic function.
    pub fn call_function(
        &mut self,
        f: &super::meta::FnRef,
        pos: Vec<(Meta, Span)>,
        named: Vec<(String, Meta, Span)>,
        span: Span,
    ) -> LResult<Meta> {
        let bound = self.bind_args(f, pos, named, span)?;
        self.inline_body(
            f.module,
            &f.decl.name.name,
            bound,
            |this| this.block(&f.decl.body),
            span,
        )
    }

    /// Runs `body` as the body of a function in `module` with `bound`
    /// parameters: a fresh lexical environment, a recursion guard.
    pub fn inline_body<T>(
        &mut self,
        module: usize,
        name: &str,
        bound: Vec<(String, Meta)>,
        body: impl FnOnce(&mut Self) -> LResult<T>,
        span: Span,
    ) -> LResult<T> {
        if self.call_depth >= 64 {
            return Err(Diagnostic::error(
                "E0242",
                format!("calls nest too deep at `{name}`: recursion is not supported"),
                span,
            )
            .with_help("write the repetition as a `for` loop"));
        }
        let scopes = std::mem::replace(&mut self.scopes, vec![Vec::new()]);
        let saved_module = std::mem::replace(&mut self.module, module);
        let saved_item = std::mem::replace(&mut self.item, usize::MAX);
        let saved_depth = std::mem::replace(&mut self.depth, 0);
        for (n, m) in bound {
            self.bind(&n, m, false);
        }
        self.call_depth += 1;
        let r = body(self);
        self.call_depth -= 1;
        self.scopes = scopes;
        self.module = saved_module;
        self.item = saved_item;
        self.depth = saved_depth;
        r
    }

    /// Inlines the body of a nested expectation (its value is one unbiased
    /// sample, which the linearity check keeps to linear uses).
    pub fn inline_expectation(&mut self, closure: &Closure, span: Span) -> LResult<ValueId> {
        let captured = closure.captured.clone();
        let body = closure.body.clone();
        self.handlers.push(super::ctx::Handler::Expect);
        let r = self.inline_body(
            closure.module,
            "E",
            Vec::new(),
            |this| {
                for (n, m) in captured {
                    this.bind(&n, m, false);
                }
                let m = this.block(&body)?;
                this.real_scalar(m, body.span, "the value of an expectation")
            },
            span,
        );
        self.handlers.pop();
        let v = r?;
        self.nested.push((v, span));
        Ok(v)
    }
}
