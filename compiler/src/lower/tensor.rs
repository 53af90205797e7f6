//! The tensor builtins: `matmul`, `transpose`, `reshape`, `concat`,
//! `slice`, `gather`, and `sum` / `mean` / `logsumexp` / `max` with
//! `axis = k`.
//!
//! Each lowers to one shape primitive (`mean` to a sum divided by the
//! axis's length). Lowering knows every shape, so it reports every shape
//! error — with the checker's codes and messages (E0450–E0456), since the
//! checker reports the same ones when the shapes are visible in the source
//! — and one the checker cannot see: an array whose length is known only at
//! run time (a loop with non-constant bounds) given to a builtin whose
//! derivative needs its shape at compile time (E0457).

use super::ctx::{LResult, Lower, describe_type};
use super::meta::Meta;
use crate::ir::{DYNAMIC, Elem, Type, ValueId};
use crate::prim::{AxisReduction, Prim};
use vprog_lang::ast::{Arg, ExprKind};
use vprog_lang::{Diagnostic, Span};

type Positional = Vec<(Meta, Span)>;
type Named = Vec<(String, Meta, Span)>;

/// A shape error of a call at its argument `b` (the one that does not
/// fit), labelled with its type, and `a`'s type as a second label (as the
/// checker reports it).
fn shape_error(code: &'static str, message: String, labels: [(Span, &Type); 2]) -> Diagnostic {
    let [(sa, a), (sb, b)] = labels;
    Diagnostic::error(code, message, sb)
        .with_primary_label(describe_type(b))
        .with_label(sa, describe_type(a))
}

impl Lower<'_, '_> {
    /// Calls the tensor builtin `name` (other than `reshape`, which reads
    /// its shape from the source, and the axis reductions).
    pub(super) fn tensor_builtin(
        &mut self,
        name: &str,
        pos: Positional,
        named: Named,
        span: Span,
    ) -> LResult<Meta> {
        self.no_named(name, &named)?;
        let value = match name {
            "matmul" => self.matmul(pos, span)?,
            "transpose" => {
                self.arity(name, pos.len(), 1, span)?;
                let (m, s) = pos.into_iter().next().expect("one");
                let v = self.array_arg(m, s, "the argument of `transpose`", false)?;
                let ty = self.ty(v);
                if ty.shape.len() != 2 {
                    return self.err(
                        "E0451",
                        format!("`transpose` needs a matrix, found {}", describe_type(&ty)),
                        s,
                    );
                }
                self.b.un(Prim::Transpose, v)
            }
            "concat" => self.concat(pos, span)?,
            "slice" => self.slice(pos, span)?,
            "gather" => {
                self.arity(name, pos.len(), 2, span)?;
                let mut it = pos.into_iter();
                let (x, sx) = it.next().expect("two");
                let (i, si) = it.next().expect("two");
                let x = self.array_arg(x, sx, "the first argument of `gather`", false)?;
                let i = self.val(i, si, "the indices of `gather`")?;
                let ty = self.ty(i);
                if ty.elem != Elem::I64 || ty.shape.len() != 1 {
                    return self.err(
                        "E0455",
                        format!(
                            "the indices of `gather` must be a vector of integers, found {}",
                            describe_type(&ty)
                        ),
                        si,
                    );
                }
                // An index out of range is a run-time error at this call.
                self.at(span, None);
                self.b.prim(Prim::Gather, &[x, i])
            }
            other => unreachable!("`{other}` is not a tensor builtin"),
        };
        Ok(Meta::Val(value))
    }

    /// An array argument (E0402 for a scalar), of reals (integers
    /// promoted) when `real`.
    fn array_arg(&mut self, m: Meta, span: Span, what: &str, real: bool) -> LResult<ValueId> {
        let mut v = self.val(m, span, what)?;
        if real {
            v = self.real(v, span, what)?;
        }
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

    /// E0457 unless every dimension of `v` is known at compile time.
    fn static_shape(&self, name: &str, v: ValueId, span: Span) -> LResult<()> {
        if self.ty(v).shape.contains(&DYNAMIC) {
            return Err(Diagnostic::error(
                "E0457",
                format!(
                    "`{name}` needs an array whose shape is known at compile time, but the length of this array is only known at run time"
                ),
                span,
            )
            .with_primary_label("made by a loop whose bounds are not constant")
            .with_help("give the loop that makes the array constant bounds"));
        }
        Ok(())
    }

    /// A compile-time constant integer ≥ 0, or `error` with `code` at
    /// `span`.
    fn const_index(
        &mut self,
        m: Meta,
        span: Span,
        what: &str,
        code: &'static str,
    ) -> LResult<usize> {
        let v = self.int_scalar(m, span, what)?;
        match self.const_int(v) {
            Some(k) if k >= 0 => Ok(k as usize),
            _ => self.err(
                code,
                format!("{what} must be a non-negative compile-time constant"),
                span,
            ),
        }
    }

    /// `matmul(a, b)` of an n×k and a k×m matrix (E0450).
    fn matmul(&mut self, pos: Positional, span: Span) -> LResult<ValueId> {
        self.arity("matmul", pos.len(), 2, span)?;
        let mut it = pos.into_iter();
        let (a, sa) = it.next().expect("two");
        let (b, sb) = it.next().expect("two");
        let a = self.array_arg(a, sa, "an argument of `matmul`", true)?;
        let b = self.array_arg(b, sb, "an argument of `matmul`", true)?;
        let (ta, tb) = (self.ty(a), self.ty(b));
        let (da, db) = (describe_type(&ta), describe_type(&tb));
        if ta.shape.len() != 2 || tb.shape.len() != 2 {
            let message = format!("`matmul` needs two matrices, found {da} and {db}");
            return Err(shape_error("E0450", message, [(sa, &ta), (sb, &tb)]));
        }
        if ta.shape[1] != tb.shape[0] {
            let message = format!(
                "`matmul`: the left operand is {da} but the right is {db}; the inner dimensions must agree"
            );
            return Err(shape_error("E0450", message, [(sa, &ta), (sb, &tb)]));
        }
        Ok(self.b.prim(
            Prim::MatMul {
                transpose_a: false,
                transpose_b: false,
            },
            &[a, b],
        ))
    }

    /// `concat(a, b, ...)` of arrays agreeing in all but their leading
    /// dimension (E0453; integers meet reals as reals).
    fn concat(&mut self, pos: Positional, span: Span) -> LResult<ValueId> {
        if pos.len() < 2 {
            return self.err(
                "E0400",
                format!(
                    "`concat` takes at least 2 arguments, but {} were given",
                    pos.len()
                ),
                span,
            );
        }
        let mut parts = Vec::with_capacity(pos.len());
        for (m, s) in pos {
            parts.push((self.array_arg(m, s, "an argument of `concat`", false)?, s));
        }
        let any_real = parts.iter().any(|&(v, _)| self.ty(v).elem == Elem::F64);
        let first = self.ty(parts[0].0);
        for (k, &(v, s)) in parts.iter().enumerate() {
            let ty = self.ty(v);
            let numbers = first.elem != Elem::Bool && ty.elem != Elem::Bool;
            let why = if !(numbers || ty.elem == first.elem) {
                "the elements must have one type"
            } else if ty.shape[1..] != first.shape[1..] {
                "all dimensions but the first must agree"
            } else {
                continue;
            };
            let message = format!(
                "`concat`: the first argument is {} but argument {} is {}; {why}",
                describe_type(&first),
                k + 1,
                describe_type(&ty)
            );
            return Err(shape_error(
                "E0453",
                message,
                [(parts[0].1, &first), (s, &ty)],
            ));
        }
        let mut values = Vec::with_capacity(parts.len());
        for (v, s) in parts {
            self.static_shape("concat", v, s)?;
            values.push(if any_real {
                self.real(v, s, "an argument of `concat`")?
            } else {
                v
            });
        }
        Ok(self.b.prim(Prim::Concat, &values))
    }

    /// `slice(x, start, len)` with constant bounds inside the leading
    /// dimension (E0454).
    fn slice(&mut self, pos: Positional, span: Span) -> LResult<ValueId> {
        self.arity("slice", pos.len(), 3, span)?;
        let mut it = pos.into_iter();
        let (x, sx) = it.next().expect("three");
        let (start, ss) = it.next().expect("three");
        let (len, sl) = it.next().expect("three");
        let x = self.array_arg(x, sx, "the first argument of `slice`", false)?;
        let start = self.const_index(start, ss, "the start of `slice`", "E0454")?;
        let len = self.const_index(len, sl, "the length of `slice`", "E0454")?;
        self.static_shape("slice", x, sx)?;
        let ty = self.ty(x);
        if start + len > ty.shape[0] {
            return self.err(
                "E0454",
                format!(
                    "`slice`: rows {start}..{} are out of range for {}",
                    start + len,
                    describe_type(&ty)
                ),
                span,
            );
        }
        if start == 0 && len == ty.shape[0] {
            return Ok(x);
        }
        Ok(self.b.un(Prim::Slice { start, len }, x))
    }

    /// `reshape(x, [d₀, d₁, ...])`, whose shape must be written as an array
    /// of integer constants: its elements are read one by one from the
    /// source rather than from a lowered array (E0452).
    pub(super) fn reshape(&mut self, args: &[Arg], span: Span) -> LResult<Meta> {
        if let Some(n) = args.iter().find_map(|a| a.name.as_ref()) {
            return self.err(
                "E0401",
                format!("`reshape` has no option `{}`", n.name),
                n.span,
            );
        }
        self.arity("reshape", args.len(), 2, span)?;
        let (x_expr, shape_expr) = (&args[0].value, &args[1].value);
        let x = self.expr(x_expr)?;
        let x = self.val(x, x_expr.span, "the argument of `reshape`")?;
        let bad_shape = || {
            Diagnostic::error(
                "E0452",
                "`reshape` needs the new shape as an array of non-negative integer constants",
                shape_expr.span,
            )
            .with_help("write e.g. `reshape(x, [2, 3])`")
        };
        let ExprKind::Array(items) = &shape_expr.kind else {
            return Err(bad_shape());
        };
        let mut shape = Vec::with_capacity(items.len());
        for item in items {
            let d = self.expr(item)?;
            let d = self.val(d, item.span, "a dimension")?;
            match self.const_int(d) {
                Some(d) if d >= 0 => shape.push(d as usize),
                _ => return Err(bad_shape()),
            }
        }
        self.static_shape("reshape", x, x_expr.span)?;
        let ty = self.ty(x);
        let old = ty.num_elements().unwrap_or(0);
        let new = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        if new != Some(old) {
            let holds = new.map_or("more than can be counted".to_string(), |n| n.to_string());
            return self.err(
                "E0452",
                format!(
                    "`reshape`: {} has {old} element(s) but the shape {shape:?} holds {holds}",
                    describe_type(&ty)
                ),
                span,
            );
        }
        if ty.shape == shape {
            return Ok(Meta::Val(x));
        }
        Ok(Meta::Val(self.b.un(Prim::Reshape(shape), x)))
    }

    /// `sum(x, axis = k)`, `mean`, `logsumexp`, `max`: a reduction along
    /// axis `k`, which the result drops (E0456).
    pub(super) fn axis_reduction(
        &mut self,
        name: &str,
        pos: Positional,
        named: Named,
        span: Span,
    ) -> LResult<Meta> {
        let mut axis = None;
        for (k, m, s) in named {
            if k != "axis" {
                return self.err("E0401", format!("`{name}` has no option `{k}`"), s);
            }
            axis = Some((self.const_index(m, s, "`axis`", "E0456")?, s));
        }
        let Some((axis, axis_span)) = axis else {
            unreachable!("an axis reduction has an `axis` option");
        };
        self.arity(name, pos.len(), 1, span)?;
        let (m, s) = pos.into_iter().next().expect("one");
        let what = format!("the argument of `{name}`");
        let x = self.array_arg(m, s, &what, name != "sum")?;
        let ty = self.ty(x);
        if ty.elem == Elem::Bool {
            return self.err(
                "E0402",
                format!(
                    "`sum` needs an array of numbers, found {}",
                    describe_type(&ty)
                ),
                s,
            );
        }
        if axis >= ty.shape.len() {
            return self.err(
                "E0456",
                format!(
                    "`{name}`: axis {axis} is out of range for {}",
                    describe_type(&ty)
                ),
                axis_span,
            );
        }
        self.static_shape(name, x, s)?;
        let op = match name {
            "logsumexp" => AxisReduction::LogSumExp,
            "max" => AxisReduction::Max,
            _ => AxisReduction::Sum,
        };
        let reduced = self.b.un(Prim::Reduce { op, axis }, x);
        if name != "mean" {
            return Ok(Meta::Val(reduced));
        }
        let count = ty.shape[axis] as f64;
        let rty = self.ty(reduced);
        let count = self.b.full(&rty, count);
        Ok(Meta::Val(self.b.div(reduced, count)))
    }
}
