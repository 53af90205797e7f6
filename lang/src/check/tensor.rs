//! The tensor builtins (spec §8): `matmul`, `transpose`, `reshape`,
//! `concat`, `slice`, `gather`, and the `axis = k` option of `sum`,
//! `mean`, `logsumexp` and `max`.
//!
//! Their errors are all about shapes, so each message names the shapes
//! involved (`real[2, 3]`). Dimensions the checker does not know (`?`)
//! agree with everything; lowering, which knows every shape, reports the
//! same errors with the same codes and messages (E0450–E0457).

use super::builtins::Call;
use super::expr::const_int;
use super::require::Want;
use super::scope::Body;
use super::types::{Elem, Num, Shape, Ty, describe_num};
use crate::ast::ExprKind;
use crate::diagnostic::Diagnostic;
use crate::span::Span;

/// The dimensions of a shape whose rank is known.
fn dims(n: &Num) -> Option<&[Option<u64>]> {
    match &n.shape {
        Shape::Dims(d) => Some(d),
        Shape::Unknown => None,
    }
}

/// `[4, 2]` for a list of known dimensions.
fn show_dims(d: &[u64]) -> String {
    let shown: Vec<String> = d.iter().map(u64::to_string).collect();
    format!("[{}]", shown.join(", "))
}

/// A `real` array of `shape`.
fn reals(shape: Vec<Option<u64>>) -> Ty {
    Ty::Num(Num {
        elem: Elem::Real,
        shape: Shape::Dims(shape),
    })
}

impl Body<'_, '_> {
    /// The `i`-th positional argument as an array (of any element type, or
    /// of reals with integers promoted when `real`): E0402 for a scalar.
    fn array_arg(&mut self, call: &Call<'_>, i: usize, what: &str, real: bool) -> Option<Num> {
        let (ty, span) = &call.pos[i];
        let n = if real {
            self.real_value(ty, *span, what)?
        } else {
            self.value(ty, *span, what, Want::Value)?
        };
        if n.shape.is_scalar() {
            self.report(Diagnostic::error(
                "E0402",
                format!("{what} must be an array, found {}", describe_num(&n)),
                *span,
            ));
            return None;
        }
        Some(n)
    }

    /// A shape error of a call at its argument `b` (the one that does not
    /// fit), labelled with its type, and `a`'s type as a second label.
    fn shape_error(&mut self, code: &'static str, message: String, labels: [(Span, &Num); 2]) {
        let [(sa, a), (sb, b)] = labels;
        self.report(
            Diagnostic::error(code, message, sb)
                .with_primary_label(describe_num(b))
                .with_label(sa, describe_num(a)),
        );
    }

    /// `matmul(a, b)`: an n×k and a k×m matrix of reals give an n×m one
    /// (E0450).
    pub(super) fn matmul(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 2) {
            return Ty::Any;
        }
        let a = self.array_arg(call, 0, "an argument of `matmul`", true);
        let b = self.array_arg(call, 1, "an argument of `matmul`", true);
        let (Some(a), Some(b)) = (a, b) else {
            return Ty::Any;
        };
        let (sa, sb) = (call.pos[0].1, call.pos[1].1);
        match (dims(&a), dims(&b)) {
            (Some(x), Some(y)) if x.len() == 2 && y.len() == 2 => {
                if let (Some(k), Some(k2)) = (x[1], y[0])
                    && k != k2
                {
                    let message = format!(
                        "`matmul`: the left operand is {} but the right is {}; the inner dimensions must agree",
                        describe_num(&a),
                        describe_num(&b)
                    );
                    self.shape_error("E0450", message, [(sa, &a), (sb, &b)]);
                    return Ty::Any;
                }
                reals(vec![x[0], y[1]])
            }
            (x, y) if x.is_some_and(|d| d.len() != 2) || y.is_some_and(|d| d.len() != 2) => {
                let message = format!(
                    "`matmul` needs two matrices, found {} and {}",
                    describe_num(&a),
                    describe_num(&b)
                );
                self.shape_error("E0450", message, [(sa, &a), (sb, &b)]);
                Ty::Any
            }
            _ => reals(vec![None, None]),
        }
    }

    /// `transpose(m)`: an n×m matrix becomes an m×n one (E0451).
    pub(super) fn transpose(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let Some(m) = self.array_arg(call, 0, "the argument of `transpose`", false) else {
            return Ty::Any;
        };
        match dims(&m) {
            Some(d) if d.len() == 2 => Ty::Num(Num {
                elem: m.elem,
                shape: Shape::Dims(vec![d[1], d[0]]),
            }),
            Some(_) => {
                self.report(Diagnostic::error(
                    "E0451",
                    format!("`transpose` needs a matrix, found {}", describe_num(&m)),
                    call.pos[0].1,
                ));
                Ty::Any
            }
            None => Ty::Num(Num {
                elem: m.elem,
                shape: Shape::Dims(vec![None, None]),
            }),
        }
    }

    /// `reshape(x, [d₀, d₁, ...])`: the elements of `x`, row-major, in a
    /// shape written as an array of integer constants with as many elements
    /// (E0452).
    pub(super) fn reshape(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 2) {
            return Ty::Any;
        }
        let (ty, span) = &call.pos[0];
        let x = self.value(ty, *span, "the argument of `reshape`", Want::Value);
        let shape_span = call.pos[1].1;
        let bad_shape = || {
            Diagnostic::error(
                "E0452",
                "`reshape` needs the new shape as an array of non-negative integer constants",
                shape_span,
            )
            .with_help("write e.g. `reshape(x, [2, 3])`")
        };
        let written = call.args.iter().filter(|a| a.name.is_none()).nth(1);
        let Some(ExprKind::Array(items)) = written.map(|a| &a.value.kind) else {
            self.report(bad_shape());
            return Ty::Any;
        };
        let shape_is_ints = matches!(
            &call.pos[1].0,
            Ty::Num(n) if matches!(n.elem, Elem::Int | Elem::Unknown)
        ) || call.pos[1].0.is_unknown();
        let new: Vec<Option<i64>> = items.iter().map(const_int).collect();
        if !shape_is_ints || new.iter().any(|d| d.is_some_and(|d| d < 0)) {
            self.report(bad_shape());
            return Ty::Any;
        }
        let new: Vec<Option<u64>> = new.into_iter().map(|d| d.map(|d| d as u64)).collect();
        let Some(x) = x else {
            return Ty::Any;
        };
        let known_new: Option<Vec<u64>> = new.iter().copied().collect();
        let old_count = dims(&x).and_then(|d| {
            d.iter()
                .try_fold(1u64, |n, &d| d.and_then(|d| n.checked_mul(d)))
        });
        if let (Some(known_new), Some(old_count)) = (known_new, old_count) {
            let new_count = known_new.iter().try_fold(1u64, |n, &d| n.checked_mul(d));
            if new_count != Some(old_count) {
                let new_count =
                    new_count.map_or("more than can be counted".to_string(), |n| n.to_string());
                self.report(Diagnostic::error(
                    "E0452",
                    format!(
                        "`reshape`: {} has {old_count} element(s) but the shape {} holds {new_count}",
                        describe_num(&x),
                        show_dims(&known_new)
                    ),
                    call.span,
                ));
                return Ty::Any;
            }
        }
        Ty::Num(Num {
            elem: x.elem,
            shape: Shape::Dims(new),
        })
    }

    /// `concat(a, b, ...)`: two or more arrays joined along their leading
    /// dimension; the other dimensions and the element type must agree
    /// (E0453; integers meet reals as reals).
    pub(super) fn concat(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if call.pos.len() < 2 {
            self.report(Diagnostic::error(
                "E0400",
                format!(
                    "`concat` takes at least 2 arguments, but {} were given",
                    call.pos.len()
                ),
                call.span,
            ));
            return Ty::Any;
        }
        let mut parts = Vec::with_capacity(call.pos.len());
        for i in 0..call.pos.len() {
            parts.push(self.array_arg(call, i, "an argument of `concat`", false));
        }
        let Some(parts) = parts.into_iter().collect::<Option<Vec<Num>>>() else {
            return Ty::Any;
        };
        let first = &parts[0];
        let mut elem = first.elem;
        let mut shape = first.shape.clone();
        let mut leading = Some(0u64);
        for (i, part) in parts.iter().enumerate() {
            let ordinal = i + 1;
            if !Elem::agrees(first.elem, part.elem) {
                let message = format!(
                    "`concat`: the first argument is {} but argument {ordinal} is {}; the elements must have one type",
                    describe_num(first),
                    describe_num(part)
                );
                self.shape_error(
                    "E0453",
                    message,
                    [(call.pos[0].1, first), (call.pos[i].1, part)],
                );
                return Ty::Any;
            }
            elem = Elem::join(elem, part.elem);
            let rows = part.shape.element();
            let joined = shape.element().zip(rows).and_then(|(s, r)| s.agree(&r));
            match joined {
                Some(rest) => shape = rest.stacked(None),
                None => {
                    let message = format!(
                        "`concat`: the first argument is {} but argument {ordinal} is {}; all dimensions but the first must agree",
                        describe_num(first),
                        describe_num(part)
                    );
                    self.shape_error(
                        "E0453",
                        message,
                        [(call.pos[0].1, first), (call.pos[i].1, part)],
                    );
                    return Ty::Any;
                }
            }
            leading = leading.zip(part.shape.first()).map(|(a, b)| a + b);
        }
        let shape = match shape {
            Shape::Dims(mut d) => {
                d[0] = leading;
                Shape::Dims(d)
            }
            Shape::Unknown => Shape::Unknown,
        };
        Ty::Num(Num { elem, shape })
    }

    /// `slice(x, start, len)`: rows `start .. start + len` of an array, with
    /// constant bounds inside its leading dimension (E0454).
    pub(super) fn slice(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 3) {
            return Ty::Any;
        }
        let x = self.array_arg(call, 0, "the first argument of `slice`", false);
        let mut bounds = [None, None];
        for (k, what) in [(1, "the start of `slice`"), (2, "the length of `slice`")] {
            let (ty, span) = &call.pos[k];
            self.int_scalar(ty, *span, what);
            match call.const_positional(k) {
                Some(v) if v < 0 => {
                    self.report(Diagnostic::error(
                        "E0454",
                        format!("{what} must be a non-negative compile-time constant"),
                        *span,
                    ));
                    return Ty::Any;
                }
                v => bounds[k - 1] = v.map(|v| v as u64),
            }
        }
        let Some(x) = x else {
            return Ty::Any;
        };
        if let ([Some(start), Some(len)], Some(n)) = (bounds, x.shape.first())
            && start + len > n
        {
            self.report(Diagnostic::error(
                "E0454",
                format!(
                    "`slice`: rows {start}..{} are out of range for {}",
                    start + len,
                    describe_num(&x)
                ),
                call.span,
            ));
            return Ty::Any;
        }
        let shape = match &x.shape {
            Shape::Dims(d) => {
                let mut d = d.clone();
                d[0] = bounds[1];
                Shape::Dims(d)
            }
            Shape::Unknown => Shape::Unknown,
        };
        Ty::Num(Num {
            elem: x.elem,
            shape,
        })
    }

    /// `gather(x, idx)`: the rows `x[idx[0]], x[idx[1]], ...` of an array,
    /// for a vector of integer indices (E0455; the indices are checked at
    /// run time).
    pub(super) fn gather(&mut self, call: &Call<'_>) -> Ty {
        self.no_named(call);
        if !self.arity(call, 2) {
            return Ty::Any;
        }
        let x = self.array_arg(call, 0, "the first argument of `gather`", false);
        let (ty, span) = &call.pos[1];
        let idx = self.value(ty, *span, "the indices of `gather`", Want::Number);
        let (Some(x), Some(idx)) = (x, idx) else {
            return Ty::Any;
        };
        let int_elem = matches!(idx.elem, Elem::Int | Elem::Unknown | Elem::Number);
        if !int_elem || idx.shape.rank().is_some_and(|r| r != 1) {
            self.report(Diagnostic::error(
                "E0455",
                format!(
                    "the indices of `gather` must be a vector of integers, found {}",
                    describe_num(&idx)
                ),
                *span,
            ));
            return Ty::Any;
        }
        let count = match &idx.shape {
            Shape::Dims(d) => d[0],
            Shape::Unknown => None,
        };
        let shape = x
            .shape
            .element()
            .map_or(Shape::Unknown, |rows| rows.stacked(count));
        Ty::Num(Num {
            elem: x.elem,
            shape,
        })
    }

    /// `sum(x, axis = k)`, `mean`, `logsumexp`, `max`: the reduction along
    /// axis `k` of an array, which drops that axis (E0456 for an axis that
    /// is not a constant inside the array's rank).
    pub(super) fn axis_reduction(&mut self, call: &Call<'_>) -> Ty {
        let mut axis = None;
        for named in &call.named {
            if named.name.name == "axis" {
                self.int_scalar(&named.ty, named.span, "`axis`");
                axis = Some((call.const_named("axis"), named.span));
            } else {
                self.report(Diagnostic::error(
                    "E0401",
                    format!("`{}` has no option `{}`", call.name, named.name.name),
                    named.name.span,
                ));
            }
        }
        if !self.arity(call, 1) {
            return Ty::Any;
        }
        let is_sum = call.name == "sum";
        let what = format!("the argument of `{}`", call.name);
        let x = if is_sum {
            self.array_arg(call, 0, &what, false)
        } else {
            self.array_arg(call, 0, &what, true)
        };
        let Some(x) = x else {
            return Ty::Any;
        };
        if is_sum && x.elem == Elem::Bool {
            self.report(Diagnostic::error(
                "E0402",
                format!(
                    "`sum` needs an array of numbers, found {}",
                    describe_num(&x)
                ),
                call.pos[0].1,
            ));
            return Ty::Any;
        }
        let elem = match x.elem {
            Elem::Int if is_sum => Elem::Int,
            Elem::Real => Elem::Real,
            _ if is_sum => Elem::Number,
            _ => Elem::Real,
        };
        let Some((Some(k), axis_span)) = axis else {
            return Ty::Num(Num {
                elem,
                shape: Shape::Unknown,
            });
        };
        let rank = x.shape.rank();
        if k < 0 || rank.is_some_and(|r| k as usize >= r) {
            let message = if k < 0 {
                "`axis` must be a non-negative compile-time constant".to_string()
            } else {
                format!(
                    "`{}`: axis {k} is out of range for {}",
                    call.name,
                    describe_num(&x)
                )
            };
            self.report(Diagnostic::error("E0456", message, axis_span));
            return Ty::Any;
        }
        let shape = match x.shape {
            Shape::Dims(mut d) => {
                d.remove(k as usize);
                Shape::Dims(d)
            }
            Shape::Unknown => Shape::Unknown,
        };
        Ty::Num(Num { elem, shape })
    }
}
