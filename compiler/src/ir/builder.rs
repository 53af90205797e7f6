//! Emitting IR: a cursor into the region under construction.
//!
//! A [`Builder`] appends operations to the innermost open region. Regions
//! nest: [`Builder::region`] opens one, runs a closure that emits its body,
//! and closes it. Type rules run as operations are emitted; an ill-typed
//! emission is a compiler bug and panics with the offending types (the CLI
//! reports such a panic as an internal compiler error).

use super::{Function, Op, OpId, OpKind, OriginId, Region, Type, ValueId};
use crate::prim::Prim;

/// A cursor that emits operations into a function.
pub struct Builder<'f> {
    /// The function being built.
    pub func: &'f mut Function,
    /// The operation lists of the open regions, innermost last.
    open: Vec<Vec<OpId>>,
    origin: OriginId,
}

impl<'f> Builder<'f> {
    /// A builder whose outermost open region will become `func`'s body when
    /// [`Builder::finish`] is called.
    pub fn new(func: &'f mut Function) -> Builder<'f> {
        Builder {
            func,
            open: vec![Vec::new()],
            origin: OriginId(0),
        }
    }

    /// Closes the outermost region as the function's body, with `params`
    /// and `results`.
    pub fn finish(mut self, params: Vec<ValueId>, results: Vec<ValueId>) {
        let ops = self.open.pop().unwrap_or_default();
        self.func.body = Region {
            params,
            ops,
            results,
        };
    }

    /// Sets the origin attached to subsequently emitted operations and
    /// returns the previous one.
    pub fn set_origin(&mut self, origin: OriginId) -> OriginId {
        std::mem::replace(&mut self.origin, origin)
    }

    /// The origin attached to emitted operations.
    pub fn origin(&self) -> OriginId {
        self.origin
    }

    /// A fresh value (a region parameter) of type `ty`.
    pub fn fresh(&mut self, ty: Type) -> ValueId {
        self.func.new_value(ty)
    }

    /// The type of `v`.
    pub fn ty(&self, v: ValueId) -> Type {
        self.func.ty(v).clone()
    }

    /// Emits an operation with results of `result_types` and returns them.
    pub fn push(
        &mut self,
        kind: OpKind,
        args: Vec<ValueId>,
        result_types: Vec<Type>,
        regions: Vec<Region>,
    ) -> Vec<ValueId> {
        let results: Vec<ValueId> = result_types
            .into_iter()
            .map(|t| self.func.new_value(t))
            .collect();
        let id = self.func.push_op(Op {
            kind,
            args,
            results: results.clone(),
            regions,
            origin: self.origin,
        });
        self.open
            .last_mut()
            .expect("builder has an open region")
            .push(id);
        results
    }

    /// Appends an existing arena operation to the open region (used by
    /// transforms that keep an operation as it is).
    pub fn append_existing(&mut self, op: OpId) {
        self.open
            .last_mut()
            .expect("builder has an open region")
            .push(op);
    }

    /// Emits a primitive and returns its result.
    ///
    /// # Panics
    /// If the operand types do not fit the primitive (a compiler bug).
    pub fn prim(&mut self, prim: Prim, args: &[ValueId]) -> ValueId {
        let types: Vec<Type> = args.iter().map(|&a| self.ty(a)).collect();
        let ty = match prim.result_type(&types) {
            Ok(ty) => ty,
            Err(e) => panic!("internal error: ill-typed IR emitted: {e}"),
        };
        self.push(OpKind::Prim(prim), args.to_vec(), vec![ty], vec![])[0]
    }

    /// Opens a region with parameters of `param_types` and returns them;
    /// operations are emitted into it until [`Builder::end_region`].
    pub fn begin_region(&mut self, param_types: &[Type]) -> Vec<ValueId> {
        self.open.push(Vec::new());
        param_types
            .iter()
            .map(|t| self.func.new_value(t.clone()))
            .collect()
    }

    /// Closes the region opened by the matching [`Builder::begin_region`].
    pub fn end_region(&mut self, params: Vec<ValueId>, results: Vec<ValueId>) -> Region {
        let ops = self.open.pop().expect("a region was opened");
        Region {
            params,
            ops,
            results,
        }
    }

    /// Opens a region with parameters of `param_types`, emits its body with
    /// `body` (which returns the yielded values) and closes it.
    pub fn region(
        &mut self,
        param_types: &[Type],
        body: impl FnOnce(&mut Self, &[ValueId]) -> Vec<ValueId>,
    ) -> Region {
        self.try_region(param_types, |b, p| {
            Ok::<_, std::convert::Infallible>(body(b, p))
        })
        .unwrap_or_else(|never| match never {})
    }

    /// [`Builder::region`] with a fallible body; on error the region's
    /// operations stay in the arena, unreachable.
    pub fn try_region<E>(
        &mut self,
        param_types: &[Type],
        body: impl FnOnce(&mut Self, &[ValueId]) -> Result<Vec<ValueId>, E>,
    ) -> Result<Region, E> {
        let params: Vec<ValueId> = param_types
            .iter()
            .map(|t| self.func.new_value(t.clone()))
            .collect();
        self.open.push(Vec::new());
        let results = body(self, &params);
        let ops = self.open.pop().expect("region was opened");
        Ok(Region {
            params,
            ops,
            results: results?,
        })
    }

    /// Emits `if cond { then } else { else }` and returns its results.
    pub fn if_(&mut self, cond: ValueId, then_region: Region, else_region: Region) -> Vec<ValueId> {
        let types: Vec<Type> = then_region.results.iter().map(|&v| self.ty(v)).collect();
        self.push(
            OpKind::If,
            vec![cond],
            types,
            vec![then_region, else_region],
        )
    }

    /// Emits a `for` loop over `lo..hi` with carries initialized to `inits`
    /// and a body region (params `[i, carries...]`, yields `[carries...,
    /// stacked...]`). `trip` is the static trip count, if known, which fixes
    /// the leading dimension of the stacked results.
    pub fn for_(
        &mut self,
        lo: ValueId,
        hi: ValueId,
        inits: &[ValueId],
        body: Region,
        trip: Option<usize>,
    ) -> Vec<ValueId> {
        let n_carry = inits.len();
        let stacked = body.results.len() - n_carry;
        let mut types: Vec<Type> = body.results[..n_carry]
            .iter()
            .map(|&v| self.ty(v))
            .collect();
        for &v in &body.results[n_carry..] {
            types.push(self.ty(v).stacked(trip.unwrap_or(super::DYNAMIC)));
        }
        let mut args = vec![lo, hi];
        args.extend_from_slice(inits);
        self.push(
            OpKind::For {
                stacked: stacked as u32,
            },
            args,
            types,
            vec![body],
        )
    }

    // ---- constants and shorthands -------------------------------------

    /// An `f64` constant.
    pub fn f64(&mut self, x: f64) -> ValueId {
        self.prim(Prim::ConstF64(x), &[])
    }

    /// An `i64` constant.
    pub fn i64(&mut self, x: i64) -> ValueId {
        self.prim(Prim::ConstI64(x), &[])
    }

    /// A `bool` constant.
    pub fn bool(&mut self, x: bool) -> ValueId {
        self.prim(Prim::ConstBool(x), &[])
    }

    /// An `f64` value of type `ty` with every element `x`.
    pub fn full(&mut self, ty: &Type, x: f64) -> ValueId {
        let c = self.f64(x);
        if ty.is_scalar() {
            c
        } else {
            self.prim(Prim::Broadcast(ty.shape.clone()), &[c])
        }
    }

    /// Zeros of type `ty` (which must be f64).
    pub fn zeros(&mut self, ty: &Type) -> ValueId {
        self.full(ty, 0.0)
    }

    /// `a + b`.
    pub fn add(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.prim(Prim::Add, &[a, b])
    }

    /// `a − b`.
    pub fn sub(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.prim(Prim::Sub, &[a, b])
    }

    /// `a · b`.
    pub fn mul(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.prim(Prim::Mul, &[a, b])
    }

    /// `a / b`.
    pub fn div(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.prim(Prim::Div, &[a, b])
    }

    /// `−a`.
    pub fn neg(&mut self, a: ValueId) -> ValueId {
        self.prim(Prim::Neg, &[a])
    }

    /// A unary primitive.
    pub fn un(&mut self, prim: Prim, a: ValueId) -> ValueId {
        self.prim(prim, &[a])
    }

    /// `a` with its derivative cut.
    pub fn stop(&mut self, a: ValueId) -> ValueId {
        self.prim(Prim::StopGrad, &[a])
    }

    /// `scalar` broadcast to the shape of `like` (the scalar itself when
    /// `like` is a scalar).
    pub fn broadcast_like(&mut self, scalar: ValueId, like: &Type) -> ValueId {
        if like.is_scalar() {
            scalar
        } else {
            self.prim(Prim::Broadcast(like.shape.clone()), &[scalar])
        }
    }

    /// An `f64` value shaped like `like` (whose shape may be dynamic) with
    /// every element `x`.
    pub fn full_like(&mut self, like: ValueId, x: f64) -> ValueId {
        let c = self.f64(x);
        self.broadcast_to(c, like)
    }

    /// Zeros shaped like `like`.
    pub fn zeros_like(&mut self, like: ValueId) -> ValueId {
        self.full_like(like, 0.0)
    }

    /// `scalar` repeated into the shape of `like` (itself when `like` is a
    /// scalar); a dynamic shape is read at run time.
    pub fn broadcast_to(&mut self, scalar: ValueId, like: ValueId) -> ValueId {
        let ty = self.ty(like);
        if ty.is_scalar() {
            scalar
        } else if ty.shape.contains(&super::DYNAMIC) {
            self.prim(Prim::BroadcastLike, &[scalar, like])
        } else {
            self.prim(Prim::Broadcast(ty.shape.clone()), &[scalar])
        }
    }

    /// `v`, or zeros shaped like `like` for a symbolic zero.
    pub fn materialize_like(&mut self, v: Option<ValueId>, like: ValueId) -> ValueId {
        match v {
            Some(v) => v,
            None => self.zeros_like(like),
        }
    }

    /// `a + b` where either may be a symbolic zero (`None`).
    pub fn add_opt(&mut self, a: Option<ValueId>, b: Option<ValueId>) -> Option<ValueId> {
        match (a, b) {
            (Some(a), Some(b)) => Some(self.add(a, b)),
            (a, None) => a,
            (None, b) => b,
        }
    }

    /// `v`, or zeros of `ty` for a symbolic zero.
    pub fn materialize(&mut self, v: Option<ValueId>, ty: &Type) -> ValueId {
        match v {
            Some(v) => v,
            None => self.zeros(ty),
        }
    }
}
