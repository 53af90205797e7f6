//! The IR verifier: run after every pass in tests and debug builds.
//!
//! It checks that every value is defined once, before its uses, in the same
//! or an enclosing region (structured SSA scoping); that every primitive's
//! result type is what its type rule says; and that control-flow and effect
//! operations have well-formed operands, regions and results. Its errors
//! name the operation at fault by its id and printed head.

use super::print::op_head;
use super::{DYNAMIC, Elem, Function, Op, OpId, OpKind, Region, Type, ValueId};
use crate::dist::{DistKind, ParamKind, ValueKind};
use std::collections::HashSet;
use std::fmt;

/// A verifier failure.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifyError {
    /// What is wrong, naming the operation.
    pub message: String,
}

impl fmt::Display for VerifyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Types as printed IR shows them: `f64, i64[3]`.
fn show(types: &[Type]) -> String {
    types
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

struct Verifier<'f> {
    func: &'f Function,
    defined: HashSet<ValueId>,
    /// Values visible at the current point, as a stack of scopes.
    scopes: Vec<Vec<ValueId>>,
    visible: HashSet<ValueId>,
}

impl Verifier<'_> {
    fn fail<T>(&self, id: OpId, op: &Op, msg: impl fmt::Display) -> Result<T, VerifyError> {
        Err(VerifyError {
            message: format!("op #{} `{}`: {msg}", id.0, op_head(op)),
        })
    }

    fn define(&mut self, v: ValueId) -> Result<(), VerifyError> {
        if v.0 as usize >= self.func.values.len() {
            return Err(VerifyError {
                message: format!("value %{} is not in the arena", v.0),
            });
        }
        if !self.defined.insert(v) {
            return Err(VerifyError {
                message: format!("value #{} is defined twice", v.0),
            });
        }
        self.visible.insert(v);
        self.scopes.last_mut().expect("scope").push(v);
        Ok(())
    }

    fn ty(&self, v: ValueId) -> &Type {
        self.func.ty(v)
    }

    fn region(&mut self, region: &Region) -> Result<(), VerifyError> {
        self.scopes.push(Vec::new());
        for &p in &region.params {
            self.define(p)?;
        }
        for &id in &region.ops {
            if id.0 as usize >= self.func.ops.len() {
                return Err(VerifyError {
                    message: format!("op #{} is not in the arena", id.0),
                });
            }
            let op = self.func.op(id);
            for &a in &op.args {
                if !self.visible.contains(&a) {
                    return self.fail(
                        id,
                        op,
                        format!("uses value #{} before or outside its definition", a.0),
                    );
                }
            }
            self.check_op(id, op)?;
            for r in &op.regions {
                self.region(r)?;
            }
            for &r in &op.results {
                self.define(r)?;
            }
        }
        for &r in &region.results {
            if !self.visible.contains(&r) {
                return Err(VerifyError {
                    message: format!("region yields value #{} which is not visible", r.0),
                });
            }
        }
        for v in self.scopes.pop().expect("scope") {
            self.visible.remove(&v);
        }
        Ok(())
    }

    fn check_op(&self, id: OpId, op: &Op) -> Result<(), VerifyError> {
        let arg_types: Vec<Type> = op.args.iter().map(|&a| self.ty(a).clone()).collect();
        let result_types: Vec<Type> = op.results.iter().map(|&r| self.ty(r).clone()).collect();
        let region_count = match &op.kind {
            OpKind::If => 2,
            OpKind::For { .. } => 1,
            _ => 0,
        };
        if op.regions.len() != region_count {
            return self.fail(
                id,
                op,
                format!("has {} regions, expected {region_count}", op.regions.len()),
            );
        }
        match &op.kind {
            OpKind::Prim(p) => {
                let want = match p.result_type(&arg_types) {
                    Ok(t) => t,
                    Err(e) => return self.fail(id, op, e),
                };
                if result_types != [want.clone()] {
                    return self.fail(
                        id,
                        op,
                        format!("result types [{}], expected [{want}]", show(&result_types)),
                    );
                }
            }
            OpKind::If => {
                if arg_types != [Type::bool()] {
                    return self.fail(id, op, "condition must be one bool");
                }
                for r in &op.regions {
                    if !r.params.is_empty() {
                        return self.fail(id, op, "if regions take no parameters");
                    }
                    let yields: Vec<Type> = r.results.iter().map(|&v| self.ty(v).clone()).collect();
                    if yields != result_types {
                        return self.fail(
                            id,
                            op,
                            format!(
                                "a branch yields [{}], the if has [{}]",
                                show(&yields),
                                show(&result_types)
                            ),
                        );
                    }
                }
            }
            OpKind::For { stacked } => {
                let stacked = *stacked as usize;
                if arg_types.len() < 2 || arg_types[0] != Type::i64() || arg_types[1] != Type::i64()
                {
                    return self.fail(id, op, "bounds must be two i64 values");
                }
                let carries = &arg_types[2..];
                let body = &op.regions[0];
                let params: Vec<Type> = body.params.iter().map(|&v| self.ty(v).clone()).collect();
                if params.first() != Some(&Type::i64()) || params[1..] != *carries {
                    return self.fail(
                        id,
                        op,
                        format!(
                            "body params [{}] do not match index + carries [{}]",
                            show(&params),
                            show(carries)
                        ),
                    );
                }
                let yields: Vec<Type> = body.results.iter().map(|&v| self.ty(v).clone()).collect();
                if yields.len() != carries.len() + stacked || result_types.len() != yields.len() {
                    return self.fail(id, op, "yield/result counts do not match carries + stacked");
                }
                if yields[..carries.len()] != *carries || result_types[..carries.len()] != *carries
                {
                    return self.fail(id, op, "carried types change across iterations");
                }
                for (y, r) in yields[carries.len()..]
                    .iter()
                    .zip(&result_types[carries.len()..])
                {
                    let ok = r.elem == y.elem
                        && r.shape.len() == y.shape.len() + 1
                        && r.shape[1..] == y.shape[..];
                    if !ok {
                        return self.fail(id, op, format!("stacked result {r} does not stack {y}"));
                    }
                }
            }
            OpKind::Sample(site) => {
                let n = site.dist.param_kinds().len() + usize::from(site.has_baseline);
                if arg_types.len() != n {
                    return self.fail(
                        id,
                        op,
                        format!("takes {n} operands, got {}", arg_types.len()),
                    );
                }
                self.check_dist_params(
                    id,
                    op,
                    site.dist,
                    &arg_types[..site.dist.param_kinds().len()],
                )?;
                if site.has_baseline && arg_types[n - 1] != Type::f64() {
                    return self.fail(id, op, "baseline must be f64");
                }
                self.check_dist_value(id, op, site.dist, &arg_types, &result_types)?;
            }
            OpKind::AddCost => {
                if arg_types != [Type::f64()] || !result_types.is_empty() {
                    return self.fail(id, op, "add_cost takes one f64 and has no results");
                }
            }
            OpKind::Draw {
                dist,
                num_params,
                batch,
                ..
            } if *batch > 0 => {
                // Row types: each parameter and the result without its
                // leading axis of `batch` rows; indices scalar or per row.
                let n = *batch as usize;
                let np = *num_params as usize;
                if np != dist.param_kinds().len() || arg_types.len() < np {
                    return self.fail(id, op, "wrong number of distribution parameters");
                }
                let row = |t: &Type| {
                    (t.shape.first() == Some(&n))
                        .then(|| Type::tensor(t.elem, t.shape[1..].to_vec()))
                };
                let (Some(params), Some(result)) = (
                    arg_types[..np].iter().map(row).collect::<Option<Vec<_>>>(),
                    result_types.iter().map(row).collect::<Option<Vec<_>>>(),
                ) else {
                    return self.fail(
                        id,
                        op,
                        format!("the parameters and the result of a draw batched {n} times need a leading axis of {n}"),
                    );
                };
                self.check_dist_params(id, op, *dist, &params)?;
                let per_row = Type::tensor(Elem::I64, vec![n]);
                if arg_types[np..]
                    .iter()
                    .any(|t| *t != Type::i64() && *t != per_row)
                {
                    return self.fail(
                        id,
                        op,
                        format!("the indices of a batched draw must be i64 or i64[{n}]"),
                    );
                }
                self.check_dist_value(id, op, *dist, &params, &result)?;
            }
            OpKind::Draw {
                dist, num_params, ..
            }
            | OpKind::MvdValue {
                dist, num_params, ..
            } => {
                let np = *num_params as usize;
                if np != dist.param_kinds().len() || arg_types.len() < np {
                    return self.fail(id, op, "wrong number of distribution parameters");
                }
                self.check_dist_params(id, op, *dist, &arg_types[..np])?;
                self.check_indices(id, op, &arg_types[np..])?;
                self.check_dist_value(id, op, *dist, &arg_types, &result_types)?;
            }
            OpKind::EnumValue { boolean, .. } => {
                if arg_types.first() != Some(&Type::i64()) {
                    return self.fail(id, op, "the first operand is the support size (i64)");
                }
                self.check_indices(id, op, &arg_types[1..])?;
                let want = if *boolean { Type::bool() } else { Type::i64() };
                if result_types != [want] {
                    return self.fail(id, op, "wrong result type");
                }
            }
            OpKind::MvdCotangent { .. } => {
                self.check_indices(id, op, &arg_types)?;
                if result_types.len() != 1 || result_types[0].elem != Elem::F64 {
                    return self.fail(id, op, "result must be one f64 value");
                }
            }
            OpKind::Subsample { n, m } => {
                if !arg_types.is_empty() {
                    return self.fail(id, op, "subsample takes no operands");
                }
                if *m < 1 || m > n {
                    return self.fail(id, op, "the minibatch size must be in 1..=n");
                }
                if result_types != [Type::tensor(Elem::I64, vec![*m as usize])] {
                    return self.fail(id, op, "the result must be i64[m]");
                }
            }
        }
        Ok(())
    }

    fn check_indices(&self, id: OpId, op: &Op, types: &[Type]) -> Result<(), VerifyError> {
        if types.iter().any(|t| *t != Type::i64()) {
            return self.fail(id, op, "loop indices must be i64");
        }
        Ok(())
    }

    fn check_dist_params(
        &self,
        id: OpId,
        op: &Op,
        dist: DistKind,
        types: &[Type],
    ) -> Result<(), VerifyError> {
        for (t, k) in types.iter().zip(dist.param_kinds()) {
            let ok = match k {
                ParamKind::Real => *t == Type::f64(),
                ParamKind::Int => *t == Type::i64(),
                ParamKind::Vector => t.elem == Elem::F64 && t.shape.len() == 1,
                ParamKind::Matrix => t.elem == Elem::F64 && t.shape.len() == 2,
                ParamKind::Tensor => t.elem == Elem::F64 && !t.shape.contains(&DYNAMIC),
                ParamKind::Logits => {
                    t.elem == Elem::F64
                        && matches!(t.shape.len(), 1 | 2)
                        && !t.shape.contains(&DYNAMIC)
                }
            };
            if !ok {
                return self.fail(id, op, format!("parameter of type {t} does not fit {k:?}"));
            }
        }
        if dist.is_elementwise()
            && let Err((a, b)) = crate::density::elementwise_shape(types)
        {
            return self.fail(
                id,
                op,
                format!("tensor parameters of shapes {a:?} and {b:?} do not broadcast"),
            );
        }
        Ok(())
    }

    fn check_dist_value(
        &self,
        id: OpId,
        op: &Op,
        dist: DistKind,
        args: &[Type],
        results: &[Type],
    ) -> Result<(), VerifyError> {
        let want = match dist.value_kind() {
            ValueKind::Real => Type::f64(),
            ValueKind::Int => Type::i64(),
            ValueKind::Bool => Type::bool(),
            ValueKind::Vector => match args.first() {
                Some(t) if t.shape.len() == 1 && t.shape[0] != DYNAMIC => Type::vector(t.shape[0]),
                _ => return self.fail(id, op, "vector distribution without a vector parameter"),
            },
            ValueKind::Tensor | ValueKind::IntPerRow => {
                crate::density::value_type(dist, &args[..dist.param_kinds().len().min(args.len())])
            }
        };
        if results != [want.clone()] {
            return self.fail(
                id,
                op,
                format!("result types [{}], expected [{want}]", show(results)),
            );
        }
        Ok(())
    }
}

/// Verifies `func`, returning the first problem found.
pub fn verify(func: &Function) -> Result<(), VerifyError> {
    let mut v = Verifier {
        func,
        defined: HashSet::new(),
        scopes: Vec::new(),
        visible: HashSet::new(),
    };
    v.region(&func.body)
}
