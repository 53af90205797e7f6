//! Lowering IR to Cranelift: every operation, by an exhaustive `match`.
//!
//! The scalar rule of each primitive (`scalar`) is used both for scalar
//! operations and, inside a loop over elements, for elementwise operations
//! on tensors — one lowering per primitive, as the interpreter has one
//! kernel per primitive.

use super::helpers as h;
use super::layout::{Layout, layout};
use super::{
    BatchFn, BodyFn, EffectCall, Failure, Meta, Rt, ScalarDraw, TensorCall, Unsupported, byte_size,
};
use crate::elementwise::Kernel;
use cranelift_codegen::ir::condcodes::{FloatCC, IntCC};
use cranelift_codegen::ir::{
    AbiParam, Block, BlockArg, InstBuilder, MemFlagsData, SigRef, Signature, StackSlotData,
    StackSlotKind, Type as CType, UserFuncName, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use cranelift_jit::{JITBuilder, JITModule};
use cranelift_module::{Linkage, Module, default_libcall_names};
use std::collections::{HashMap, HashSet};
use std::mem::offset_of;
use vprog_compiler::dist::DistKind;
use vprog_compiler::ir::{Elem, Function, Op, OpId, OpKind, Region, Type, ValueId};
use vprog_compiler::prim::{AxisReduction, GuardKind, Prim};

/// What compiling produced.
pub(super) struct Compiled {
    pub module: JITModule,
    pub body: BodyFn,
    pub batch: BatchFn,
    pub sum: BatchFn,
    pub meta: Box<Meta>,
    pub frame_size: usize,
}

fn unsupported<T>(reason: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported {
        reason: reason.into(),
    })
}

fn ctype(e: Elem) -> CType {
    match e {
        Elem::F64 => types::F64,
        Elem::I64 => types::I64,
        Elem::Bool => types::I8,
    }
}

/// Fused runs of at least this many elements run block by block through
/// vector kernels (`Lowering::fused_blocks`); shorter ones as one scalar
/// loop.
const BLOCKS_FROM: i64 = 32;

/// The elements per block of a blockwise fused run: the scratch buffers
/// of a run's intermediates (`BLOCK` × 8 bytes each) stay in the L1 cache.
const BLOCK: i64 = 512;

/// Whether `op` is a guard.
fn is_guard(op: &Op) -> bool {
    matches!(op.kind, OpKind::Prim(Prim::Guard { .. }))
}

fn elem_bytes(e: Elem) -> i64 {
    match e {
        Elem::Bool => 1,
        _ => 8,
    }
}

/// A lowered value: a scalar, or the address of a tensor.
#[derive(Clone, Copy, Debug)]
enum V {
    S(Value),
    T(Value),
}

/// A tensor that an `expand` or a `broadcast` would materialize, left
/// for the fused runs that read it (all its readers are) to read in
/// place.
#[derive(Clone, Copy, Debug)]
enum Lazy {
    /// Every element is this scalar.
    Uniform(Value),
    /// The `w` elements at this address repeated (an `expand` along the
    /// first axis): element `k` is element `k mod w`.
    Rows(Value, i64),
}

/// What a blockwise fused run does for one operation.
#[derive(Clone, Copy, Debug)]
enum Blk {
    /// A vector kernel, with the scalar function of the `Call` kernels.
    Kernel(Kernel, usize),
    /// An elementwise guard: check the block, then copy it.
    Guard,
    /// A sum along an axis of a value of the run (`[_, len, inner]`): each
    /// block added into the sums (zeroed before the loop), in `sum_axis`'s
    /// order.
    Sum { len: i64, inner: i64 },
}

/// A run being gathered by `Lowering::schedule`, and what waits for it.
#[derive(Default)]
struct Open {
    run: Vec<OpId>,
    /// The run's element count, and whether it holds a guard.
    size: usize,
    guard: bool,
    postponed: Vec<OpId>,
    /// Values the run and the postponed operations compute.
    computed: HashSet<ValueId>,
    /// Values the postponed operations compute.
    later: HashSet<ValueId>,
}

/// The most elements of a `Lazy::Rows` value: its repeats fill a scratch
/// buffer of about `BLOCK + w` elements.
const MAX_ROW: i64 = 4096;

struct Lowering<'a, 'b> {
    f: &'a Function,
    b: FunctionBuilder<'b>,
    layout: &'a Layout,
    meta: &'a mut Meta,
    call_conv: CallConv,
    vals: HashMap<ValueId, V>,
    /// Known f64 constants (for the fast normal draw).
    consts: HashMap<ValueId, f64>,
    frame: Value,
    rt: Value,
    error_block: Block,
    sigs: HashMap<(Vec<CType>, Vec<CType>), SigRef>,
    /// The operations that read each value (at any depth), and the values
    /// some region yields: what a fused loop must still store.
    users: HashMap<ValueId, Vec<OpId>>,
    yielded: HashSet<ValueId>,
    /// Tensors known to hold one value in every element (uniform
    /// constants, broadcasts), with that value: fused loops read it as a
    /// scalar.
    uniform: HashMap<ValueId, Value>,
    /// Where the scratch area of fused loops starts in the frame (after
    /// the value slots), and the most any loop uses.
    scratch_at: i64,
    scratch_size: i64,
    /// The output buffer, and the word at which each tensor result that
    /// an operation computes straight into it starts (its slot is there,
    /// so it needs no copy at the end).
    outputs: Value,
    out_words: HashMap<ValueId, i64>,
    /// The output addresses handed out as slots, with their values.
    out_addrs: HashMap<Value, ValueId>,
    /// Values left unmaterialized for the fused runs that read them, with
    /// the operation that would compute them.
    deferred: HashMap<ValueId, (OpId, Lazy)>,
}

const PTR: CType = types::I64;

impl Lowering<'_, '_> {
    // ---- plumbing -----------------------------------------------------------

    fn sig(&mut self, params: &[CType], rets: &[CType]) -> SigRef {
        let key = (params.to_vec(), rets.to_vec());
        if let Some(&s) = self.sigs.get(&key) {
            return s;
        }
        let mut sig = Signature::new(self.call_conv);
        sig.params.extend(params.iter().map(|&t| AbiParam::new(t)));
        sig.returns.extend(rets.iter().map(|&t| AbiParam::new(t)));
        let s = self.b.import_signature(sig);
        self.sigs.insert(key, s);
        s
    }

    /// Calls the helper at `addr` with `args` of `params` types.
    fn call(
        &mut self,
        addr: usize,
        params: &[CType],
        rets: &[CType],
        args: &[Value],
    ) -> Vec<Value> {
        let sig = self.sig(params, rets);
        let callee = self.b.ins().iconst(PTR, addr as i64);
        let inst = self.b.ins().call_indirect(sig, callee, args);
        self.b.inst_results(inst).to_vec()
    }

    fn math1(&mut self, f: extern "C" fn(f64) -> f64, x: Value) -> Value {
        self.call(f as *const () as usize, &[types::F64], &[types::F64], &[x])[0]
    }

    fn math2(&mut self, f: extern "C" fn(f64, f64) -> f64, x: Value, y: Value) -> Value {
        self.call(
            f as *const () as usize,
            &[types::F64, types::F64],
            &[types::F64],
            &[x, y],
        )[0]
    }

    /// Branches to the error exit when `status` is nonzero.
    fn check_status(&mut self, status: Value) {
        let cont = self.b.create_block();
        self.b.ins().brif(status, self.error_block, &[], cont, &[]);
        self.b.switch_to_block(cont);
    }

    fn failure(&mut self, op: &Op, guard: Option<(GuardKind, String)>, ty: Type) -> u32 {
        let origin = self.f.origin(op.origin).clone();
        self.meta.failures.push(Failure {
            origin,
            guard,
            elem: ty.elem,
            ty,
        });
        (self.meta.failures.len() - 1) as u32
    }

    fn s(&self, v: ValueId) -> Result<Value, Unsupported> {
        match self.vals.get(&v) {
            Some(V::S(x)) => Ok(*x),
            _ => unsupported(format!("internal: value #{} is not a lowered scalar", v.0)),
        }
    }

    fn t(&self, v: ValueId) -> Result<Value, Unsupported> {
        match self.vals.get(&v) {
            Some(V::T(x)) => Ok(*x),
            _ => unsupported(format!("internal: value #{} is not a lowered tensor", v.0)),
        }
    }

    fn slot(&mut self, v: ValueId) -> Result<Value, Unsupported> {
        if let Some(&w) = self.out_words.get(&v) {
            let at = self.b.ins().iadd_imm_s(self.outputs, 8 * w);
            self.out_addrs.insert(at, v);
            return Ok(at);
        }
        let off = *self.layout.slots.get(&v).ok_or_else(|| Unsupported {
            reason: format!("internal: no slot for value #{}", v.0),
        })?;
        Ok(self.b.ins().iadd_imm_s(self.frame, off as i64))
    }

    fn load(&mut self, e: Elem, addr: Value, offset: i64) -> Value {
        self.b
            .ins()
            .load(ctype(e), MemFlagsData::trusted(), addr, offset as i32)
    }

    fn store(&mut self, v: Value, addr: Value, offset: i64) {
        self.b
            .ins()
            .store(MemFlagsData::trusted(), v, addr, offset as i32);
    }

    /// A scalar as a 64-bit word (for helpers).
    fn word(&mut self, v: Value, e: Elem) -> Value {
        match e {
            Elem::F64 => self.b.ins().bitcast(types::I64, MemFlagsData::new(), v),
            Elem::I64 => v,
            Elem::Bool => self.b.ins().uextend(types::I64, v),
        }
    }

    /// A stack array of 64-bit words holding `vals`, and its address.
    fn word_array(&mut self, words: &[Value]) -> Value {
        let size = (words.len().max(1) * 8) as u32;
        let slot = self.b.create_sized_stack_slot(StackSlotData::new(
            StackSlotKind::ExplicitSlot,
            size,
            3,
        ));
        for (k, &w) in words.iter().enumerate() {
            self.b.ins().stack_store(PTR, w, slot, (k * 8) as i32);
        }
        self.b.ins().stack_addr(PTR, slot, 0)
    }

    /// Copies a tensor of type `ty` from `src` to `dst`.
    fn copy(&mut self, dst: Value, src: Value, ty: &Type) {
        let n = ty.num_elements().unwrap_or(0) as i64;
        let eb = elem_bytes(ty.elem);
        self.for_each(n, |l, k| {
            let off = l.b.ins().imul_imm_s(k, eb);
            let s = l.b.ins().iadd(src, off);
            let d = l.b.ins().iadd(dst, off);
            let x = l.load(ty.elem, s, 0);
            l.store(x, d, 0);
            Ok(())
        })
        .expect("copy cannot fail");
    }

    /// Emits `body(k)` for k in 0..n: unrolled for a few elements, a loop
    /// otherwise.
    fn for_each(
        &mut self,
        n: i64,
        mut body: impl FnMut(&mut Self, Value) -> Result<(), Unsupported>,
    ) -> Result<(), Unsupported> {
        if n <= 8 {
            for k in 0..n {
                let kv = self.b.ins().iconst(types::I64, k);
                body(self, kv)?;
            }
            return Ok(());
        }
        let header = self.b.create_block();
        self.b.append_block_param(header, types::I64);
        let body_b = self.b.create_block();
        let exit = self.b.create_block();
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(header, &[BlockArg::Value(zero)]);
        self.b.switch_to_block(header);
        let k = self.b.block_params(header)[0];
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, k, n);
        self.b.ins().brif(more, body_b, &[], exit, &[]);
        self.b.switch_to_block(body_b);
        body(self, k)?;
        let k1 = self.b.ins().iadd_imm_s(k, 1);
        self.b.ins().jump(header, &[BlockArg::Value(k1)]);
        self.b.switch_to_block(exit);
        Ok(())
    }

    // ---- operations -----------------------------------------------------------

    /// Lowers a region's operations (`schedule`).
    fn region_ops(&mut self, region: &Region) -> Result<(), Unsupported> {
        let here: HashSet<OpId> = region.ops.iter().copied().collect();
        self.schedule(&region.ops, &here)
    }

    /// Lowers `ops` (of the region whose operations are `here`), gathering
    /// elementwise tensor operations of one size into runs fused into one
    /// loop (`fused`). A run stays open past operations it can be
    /// reordered with, so that more of the same size can join it:
    ///
    /// * constants, and total operations (`total`: pure, cannot fail) that
    ///   read nothing the run or the postponed operations compute, are
    ///   emitted at once, ahead of the run's loop; so are other operations
    ///   reading none of it when the run holds no guard (the run then
    ///   cannot fail, so nothing that fails is reordered with a failure);
    /// * total operations that read what the run computes, and total
    ///   elementwise operations of another size, are postponed: scheduled
    ///   (the same way) after the run's loop;
    /// * anything else — an operation with regions, one that may fail and
    ///   reads the run, an elementwise one reading a postponed value —
    ///   ends the run.
    ///
    /// Failing operations and effects keep their order, and an operation
    /// is emitted after everything it reads, so the results are those of
    /// the operations in program order.
    fn schedule(&mut self, ops: &[OpId], here: &HashSet<OpId>) -> Result<(), Unsupported> {
        let mut work: std::collections::VecDeque<OpId> = ops.iter().copied().collect();
        let mut open = Open::default();
        loop {
            let Some(id) = work.pop_front() else {
                // The end: the open run's loop, then what it postponed.
                self.fused(&open.run)?;
                if open.postponed.is_empty() {
                    return Ok(());
                }
                work.extend(std::mem::take(&mut open).postponed);
                continue;
            };
            let op = self.f.op(id);
            if let Some(lazy) = self.deferrable(op, here) {
                // Computed by the runs that read it; does not end a run.
                let r = op.results[0];
                if let Lazy::Uniform(x) = lazy {
                    self.uniform.insert(r, x);
                }
                self.deferred.insert(r, (id, lazy));
                continue;
            }
            let reads = |set: &HashSet<ValueId>| {
                !op.regions.is_empty() || op.args.iter().any(|a| set.contains(a))
            };
            let total = self.total(op);
            if !open.run.is_empty() && self.run_sum(op, open.size, &open.later, &open.computed) {
                // Summed block by block; nothing in the run may read it.
                open.run.push(id);
                open.computed.extend(op.results.iter().copied());
                open.later.extend(op.results.iter().copied());
                continue;
            }
            let fusible = self.fusible(op);
            let joins = open.run.is_empty() || (fusible == Some(open.size) && !reads(&open.later));
            if let Some(n) = fusible
                && joins
            {
                if open.run.is_empty() {
                    open.size = n;
                }
                open.run.push(id);
                open.guard |= is_guard(op);
                open.computed.extend(op.results.iter().copied());
                continue;
            }
            let constant = matches!(
                op.kind,
                OpKind::Prim(
                    Prim::ConstF64(_)
                        | Prim::ConstI64(_)
                        | Prim::ConstBool(_)
                        | Prim::ConstTensor { .. }
                )
            );
            let ahead = fusible.is_none() && !reads(&open.computed) && (total || !open.guard);
            if constant || ahead || open.run.is_empty() {
                self.op(id)?;
            } else if total {
                open.postponed.push(id);
                open.computed.extend(op.results.iter().copied());
                open.later.extend(op.results.iter().copied());
            } else {
                // It ends the run: the run's loop, then what it postponed,
                // then this operation, then the rest.
                self.fused(&open.run)?;
                work.push_front(id);
                for &p in open.postponed.iter().rev() {
                    work.push_front(p);
                }
                open = Open::default();
            }
        }
    }

    /// Whether `op` is a sum along an axis of reals, into a tensor, of a
    /// value an open run of `size` elements computes (in `computed`, not
    /// postponed in `later`): it may join the run.
    fn run_sum(
        &self,
        op: &Op,
        size: usize,
        later: &HashSet<ValueId>,
        computed: &HashSet<ValueId>,
    ) -> bool {
        let OpKind::Prim(Prim::Reduce {
            op: AxisReduction::Sum,
            ..
        }) = op.kind
        else {
            return false;
        };
        let (a, r) = (op.args[0], op.results[0]);
        let (aty, rty) = (self.f.ty(a), self.f.ty(r));
        aty.elem == Elem::F64
            && !rty.is_scalar()
            && aty.num_elements() == Some(size)
            && computed.contains(&a)
            && !later.contains(&a)
            && !self.yielded.contains(&r)
    }

    /// Whether `op` is total: a primitive without regions that cannot
    /// fail and has no effect, on reals and booleans (integer operations
    /// may fail), so it may be emitted anywhere after what it reads.
    fn total(&self, op: &Op) -> bool {
        let OpKind::Prim(p) = &op.kind else {
            return false;
        };
        let integer = op
            .args
            .iter()
            .chain(&op.results)
            .any(|&v| self.f.ty(v).elem == Elem::I64);
        let kind = p.is_elementwise()
            || matches!(
                p,
                Prim::ConstF64(_)
                    | Prim::ConstBool(_)
                    | Prim::ConstTensor { .. }
                    | Prim::Broadcast(_)
                    | Prim::BroadcastLike
                    | Prim::Expand { .. }
                    | Prim::Pack
                    | Prim::Sum
                    | Prim::LogSumExp
                    | Prim::Reduce { .. }
                    | Prim::MatVec { .. }
                    | Prim::Outer
                    | Prim::MatMul { .. }
                    | Prim::Transpose
                    | Prim::Reshape(_)
                    | Prim::Concat
                    | Prim::StopGrad
            );
        kind && !integer && op.regions.is_empty()
    }

    /// Whether `op` (an `expand` or a `broadcast`) may be left to the
    /// blockwise runs that read its result, and as what: a uniform tensor
    /// (of a scalar, or of a uniform tensor) or repeated rows (an `expand`
    /// along the first axis of at most `MAX_ROW` elements). Every reader
    /// must be an elementwise operation of the same region with a vector
    /// kernel, and the result neither yielded nor short.
    fn deferrable(&self, op: &Op, here: &HashSet<OpId>) -> Option<Lazy> {
        let OpKind::Prim(p) = &op.kind else {
            return None;
        };
        if !matches!(
            p,
            Prim::Expand { .. } | Prim::Broadcast(_) | Prim::BroadcastLike
        ) {
            return None;
        }
        let r = op.results[0];
        let n = self.f.ty(r).num_elements()?;
        if (n as i64) < BLOCKS_FROM || self.yielded.contains(&r) {
            return None;
        }
        let read_by_kernels = self.users.get(&r)?.iter().all(|&u| {
            let user = self.f.op(u);
            here.contains(&u)
                && !is_guard(user)
                && self.fusible(user) == Some(n)
                && self.block_kernels(&[u]).is_some()
        });
        if !read_by_kernels {
            return None;
        }
        let a = op.args[0];
        match (self.vals.get(&a), self.uniform.get(&a)) {
            (Some(V::S(x)), _) | (_, Some(x)) => Some(Lazy::Uniform(*x)),
            (Some(V::T(t)), None) => {
                let w = self.f.ty(a).num_elements()? as i64;
                (matches!(p, Prim::Expand { axis: 0, .. }) && w <= MAX_ROW)
                    .then_some(Lazy::Rows(*t, w))
            }
            _ => None,
        }
    }

    /// Lowers the deferred operation that computes `v`, if any, here.
    fn materialize(&mut self, v: ValueId) -> Result<(), Unsupported> {
        match self.deferred.remove(&v) {
            Some((id, _)) => self.op(id),
            None => Ok(()),
        }
    }

    /// The element count of `op` if it is an elementwise primitive on
    /// tensors that a fused loop may compute — no integer operands or
    /// result, whose checks could fail in another order once fused — or
    /// an elementwise guard on reals (fused only blockwise).
    fn fusible(&self, op: &Op) -> Option<usize> {
        let OpKind::Prim(p) = &op.kind else {
            return None;
        };
        let rty = self.f.ty(op.results[0]);
        if let Prim::Guard { kind, .. } = p {
            let elementwise = matches!(
                kind,
                GuardKind::Positive
                    | GuardKind::NonNegative
                    | GuardKind::UnitInterval
                    | GuardKind::Finite
            );
            return (elementwise && rty.elem == Elem::F64 && !rty.is_scalar())
                .then(|| rty.num_elements().unwrap_or(0));
        }
        let integer =
            rty.elem == Elem::I64 || op.args.iter().any(|&a| self.f.ty(a).elem == Elem::I64);
        (p.is_elementwise() && !rty.is_scalar() && !integer)
            .then(|| rty.num_elements().unwrap_or(0))
    }

    fn op(&mut self, id: OpId) -> Result<(), Unsupported> {
        let op = self.f.op(id);
        match &op.kind {
            OpKind::Prim(p) => self.prim(id, op, p),
            OpKind::If => self.if_op(op),
            OpKind::For { stacked } => self.for_op(id, op, *stacked as usize),
            OpKind::Draw { .. }
            | OpKind::EnumValue { .. }
            | OpKind::MvdValue { .. }
            | OpKind::MvdCotangent { .. }
            | OpKind::Subsample { .. } => self.effect(op),
            OpKind::Sample(_) | OpKind::AddCost => unsupported("a random choice before ADEV"),
        }
    }

    fn if_op(&mut self, op: &Op) -> Result<(), Unsupported> {
        let cond = self.s(op.args[0])?;
        let then_b = self.b.create_block();
        let else_b = self.b.create_block();
        let merge = self.b.create_block();
        let scalar_results: Vec<(usize, CType)> = op
            .results
            .iter()
            .enumerate()
            .filter(|(_, r)| self.f.ty(**r).is_scalar())
            .map(|(k, r)| (k, ctype(self.f.ty(*r).elem)))
            .collect();
        for &(_, t) in &scalar_results {
            self.b.append_block_param(merge, t);
        }
        self.b.ins().brif(cond, then_b, &[], else_b, &[]);
        for (region, block) in op.regions.iter().zip([then_b, else_b]) {
            self.b.switch_to_block(block);
            self.region_ops(region)?;
            let mut args = Vec::new();
            for (k, &y) in region.results.iter().enumerate() {
                let ty = self.f.ty(op.results[k]).clone();
                if ty.is_scalar() {
                    args.push(BlockArg::Value(self.s(y)?));
                } else {
                    let dst = self.slot(op.results[k])?;
                    let src = self.t(y)?;
                    self.copy(dst, src, &ty);
                }
            }
            self.b.ins().jump(merge, &args);
        }
        self.b.switch_to_block(merge);
        let params = self.b.block_params(merge).to_vec();
        let mut it = params.into_iter();
        for (k, &r) in op.results.iter().enumerate() {
            if scalar_results.iter().any(|(j, _)| *j == k) {
                self.vals.insert(r, V::S(it.next().expect("merge param")));
            } else {
                let addr = self.slot(r)?;
                self.vals.insert(r, V::T(addr));
            }
        }
        Ok(())
    }

    fn for_op(&mut self, id: OpId, op: &Op, stacked: usize) -> Result<(), Unsupported> {
        let body = &op.regions[0];
        let n_carry = op.args.len() - 2;
        let lo = self.s(op.args[0])?;
        let hi = self.s(op.args[1])?;
        // Tensor carries start in their parameter slots.
        let mut scalar_inits = vec![BlockArg::Value(lo)];
        for k in 0..n_carry {
            let p = body.params[1 + k];
            let ty = self.f.ty(p).clone();
            if ty.is_scalar() {
                scalar_inits.push(BlockArg::Value(self.s(op.args[2 + k])?));
            } else {
                let dst = self.slot(p)?;
                let src = self.t(op.args[2 + k])?;
                self.copy(dst, src, &ty);
            }
        }
        let header = self.b.create_block();
        self.b.append_block_param(header, types::I64);
        let scalar_carries: Vec<usize> = (0..n_carry)
            .filter(|&k| self.f.ty(body.params[1 + k]).is_scalar())
            .collect();
        for &k in &scalar_carries {
            let t = ctype(self.f.ty(body.params[1 + k]).elem);
            self.b.append_block_param(header, t);
        }
        let body_b = self.b.create_block();
        let exit = self.b.create_block();
        for &k in &scalar_carries {
            let t = ctype(self.f.ty(body.params[1 + k]).elem);
            self.b.append_block_param(exit, t);
        }
        self.b.ins().jump(header, &scalar_inits);
        self.b.switch_to_block(header);
        let hp = self.b.block_params(header).to_vec();
        let i = hp[0];
        let more = self.b.ins().icmp(IntCC::SignedLessThan, i, hi);
        let carried: Vec<BlockArg> = hp[1..].iter().map(|&v| BlockArg::Value(v)).collect();
        self.b.ins().brif(more, body_b, &[], exit, &carried);
        self.b.switch_to_block(body_b);
        self.vals.insert(body.params[0], V::S(i));
        let mut scalar_params = hp[1..].iter();
        for k in 0..n_carry {
            let p = body.params[1 + k];
            if self.f.ty(p).is_scalar() {
                self.vals
                    .insert(p, V::S(*scalar_params.next().expect("carry")));
            } else {
                let addr = self.slot(p)?;
                self.vals.insert(p, V::T(addr));
            }
        }
        self.region_ops(body)?;
        // Stacked outputs: element i − lo of each result.
        let rel = self.b.ins().isub(i, lo);
        for s in 0..stacked {
            let y = body.results[n_carry + s];
            let r = op.results[n_carry + s];
            let yty = self.f.ty(y).clone();
            let elem_size = if yty.is_scalar() {
                elem_bytes(yty.elem)
            } else {
                byte_size(&yty).unwrap_or(0) as i64
            };
            let base = self.slot(r)?;
            let off = self.b.ins().imul_imm_s(rel, elem_size);
            let dst = self.b.ins().iadd(base, off);
            if yty.is_scalar() {
                let v = self.s(y)?;
                self.store(v, dst, 0);
            } else {
                let src = self.t(y)?;
                self.copy(dst, src, &yty);
            }
        }
        // Carries: scalars through the header's parameters; tensors through
        // their "next" slots, then over the parameter slots.
        let mut next_args = Vec::new();
        let i1 = self.b.ins().iadd_imm_s(i, 1);
        next_args.push(BlockArg::Value(i1));
        let mut tensor_moves = Vec::new();
        for k in 0..n_carry {
            let p = body.params[1 + k];
            let y = body.results[k];
            let ty = self.f.ty(p).clone();
            if ty.is_scalar() {
                next_args.push(BlockArg::Value(self.s(y)?));
            } else {
                let off = self.layout.next[&(id, k)];
                let next = self.b.ins().iadd_imm_s(self.frame, off as i64);
                let src = self.t(y)?;
                self.copy(next, src, &ty);
                tensor_moves.push((next, p, ty));
            }
        }
        for (next, p, ty) in tensor_moves {
            let dst = self.slot(p)?;
            self.copy(dst, next, &ty);
        }
        self.b.ins().jump(header, &next_args);
        self.b.switch_to_block(exit);
        let ep = self.b.block_params(exit).to_vec();
        let mut exits = ep.into_iter();
        for k in 0..n_carry {
            let p = body.params[1 + k];
            if self.f.ty(p).is_scalar() {
                self.vals
                    .insert(op.results[k], V::S(exits.next().expect("exit")));
            } else {
                // The final carry stays in the parameter slot.
                let addr = self.slot(p)?;
                self.vals.insert(op.results[k], V::T(addr));
            }
        }
        for s in 0..stacked {
            let r = op.results[n_carry + s];
            let addr = self.slot(r)?;
            self.vals.insert(r, V::T(addr));
        }
        Ok(())
    }

    /// The word form of an operand for a helper: a scalar's bits or a
    /// tensor's address.
    fn arg_word(&mut self, v: ValueId) -> Result<Value, Unsupported> {
        match self.vals.get(&v).copied() {
            Some(V::S(x)) => Ok(self.word(x, self.f.ty(v).elem)),
            Some(V::T(addr)) => Ok(addr),
            None => unsupported(format!("internal: value #{} not lowered", v.0)),
        }
    }

    /// Binds op's single result from a helper that wrote it to `out` (a
    /// stack word for a scalar, the result's slot for a tensor).
    fn result_from(&mut self, r: ValueId, out: Value, scalar_slot: bool) {
        let ty = self.f.ty(r).clone();
        if scalar_slot {
            let x = match ty.elem {
                Elem::F64 => self.load(Elem::F64, out, 0),
                Elem::I64 => self.load(Elem::I64, out, 0),
                Elem::Bool => self.load(Elem::Bool, out, 0),
            };
            self.vals.insert(r, V::S(x));
        } else {
            self.vals.insert(r, V::T(out));
        }
    }

    /// An output place for op's result: a stack word for a scalar, the
    /// result's slot for a tensor.
    fn out_place(&mut self, r: ValueId) -> Result<(Value, bool), Unsupported> {
        if self.f.ty(r).is_scalar() {
            let slot = self.b.create_sized_stack_slot(StackSlotData::new(
                StackSlotKind::ExplicitSlot,
                8,
                3,
            ));
            Ok((self.b.ins().stack_addr(PTR, slot, 0), true))
        } else {
            Ok((self.slot(r)?, false))
        }
    }

    fn effect(&mut self, op: &Op) -> Result<(), Unsupported> {
        let r = op.results[0];
        // Fast path: a normal draw with scalar parameters is
        // mean + scale · z, exactly as the sampler computes it.
        if let OpKind::Draw {
            dist: DistKind::Normal,
            site,
            stream,
            num_params: 2,
            batch: 0,
        } = op.kind
            && op.args[..2].iter().all(|&a| self.f.ty(a).is_scalar())
        {
            let mut idx = Vec::new();
            for &a in &op.args[2..] {
                idx.push(self.s(a)?);
            }
            let n = idx.len();
            let arr = self.word_array(&idx);
            let site_v = self.b.ins().iconst(types::I32, site as i64);
            let stream_v = self.b.ins().iconst(types::I32, stream as i64);
            let n_v = self.b.ins().iconst(types::I32, n as i64);
            let z = self.call(
                h::draw_std_normal as *const () as usize,
                &[PTR, types::I32, types::I32, PTR, types::I32],
                &[types::F64],
                &[self.rt, site_v, stream_v, arr, n_v],
            )[0];
            let consts = (
                self.consts.get(&op.args[0]).copied(),
                self.consts.get(&op.args[1]).copied(),
            );
            let v = if consts == (Some(0.0), Some(1.0)) {
                // 0 + 1·z = z exactly.
                z
            } else {
                let mean = self.s(op.args[0])?;
                let scale = self.s(op.args[1])?;
                let sz = self.b.ins().fmul(scale, z);
                self.b.ins().fadd(mean, sz)
            };
            self.vals.insert(r, V::S(v));
            return Ok(());
        }
        // Any other draw with scalar parameters and value: no allocation.
        if let OpKind::Draw {
            dist,
            site,
            stream,
            num_params,
            batch: 0,
        } = op.kind
        {
            let np = num_params as usize;
            if op.args[..np].iter().all(|&a| self.f.ty(a).is_scalar()) && self.f.ty(r).is_scalar() {
                let fail = self.failure(op, None, self.f.ty(r).clone());
                let elems: Vec<Elem> = op.args[..np].iter().map(|&a| self.f.ty(a).elem).collect();
                self.meta.scalar_draws.push(ScalarDraw {
                    dist,
                    site,
                    stream,
                    params: elems,
                    fail,
                });
                let index = (self.meta.scalar_draws.len() - 1) as i64;
                let mut words = Vec::new();
                for &a in &op.args[..np] {
                    words.push(self.arg_word(a)?);
                }
                let params = self.word_array(&words);
                let mut idx = Vec::new();
                for &a in &op.args[np..] {
                    idx.push(self.s(a)?);
                }
                let n = idx.len();
                let indices = self.word_array(&idx);
                let (out, _) = self.out_place(r)?;
                let idx_v = self.b.ins().iconst(types::I32, index);
                let n_v = self.b.ins().iconst(types::I32, n as i64);
                let status = self.call(
                    h::draw_scalar as *const () as usize,
                    &[PTR, types::I32, PTR, PTR, types::I32, PTR],
                    &[types::I32],
                    &[self.rt, idx_v, params, indices, n_v, out],
                )[0];
                self.check_status(status);
                self.result_from(r, out, true);
                return Ok(());
            }
        }
        let fail = self.failure(op, None, self.f.ty(r).clone());
        let arg_types: Vec<Type> = op.args.iter().map(|&a| self.f.ty(a).clone()).collect();
        self.meta.effects.push(EffectCall {
            kind: op.kind.clone(),
            arg_types,
            result: self.f.ty(r).clone(),
            fail,
        });
        let index = self.meta.effects.len() - 1;
        self.call_on_operands(op, h::effect as *const () as usize, index)
    }

    /// Calls the runtime helper at `helper` — `(rt, index, operand words,
    /// out) -> status` — for `op`, whose call record is entry `index` of
    /// the helper's table, and binds its single result.
    fn call_on_operands(
        &mut self,
        op: &Op,
        helper: usize,
        index: usize,
    ) -> Result<(), Unsupported> {
        let r = op.results[0];
        let mut words = Vec::new();
        for &a in &op.args {
            words.push(self.arg_word(a)?);
        }
        let arr = self.word_array(&words);
        let (out, scalar) = self.out_place(r)?;
        let idx_v = self.b.ins().iconst(types::I32, index as i64);
        let status = self.call(
            helper,
            &[PTR, types::I32, PTR, PTR],
            &[types::I32],
            &[self.rt, idx_v, arr, out],
        )[0];
        self.check_status(status);
        self.result_from(r, out, scalar);
        Ok(())
    }

    /// `r` (a tensor) with every element the scalar operand of `op`
    /// (`broadcast`, or `expand` of a scalar).
    fn fill(&mut self, op: &Op) -> Result<(), Unsupported> {
        let r = op.results[0];
        let rty = self.f.ty(r).clone();
        let x = self.s(op.args[0])?;
        let dst = self.slot(r)?;
        let n = rty.num_elements().unwrap_or(0) as i64;
        let eb = elem_bytes(rty.elem);
        self.for_each(n, |l, k| {
            let off = l.b.ins().imul_imm_s(k, eb);
            let d = l.b.ins().iadd(dst, off);
            l.store(x, d, 0);
            Ok(())
        })?;
        self.vals.insert(r, V::T(dst));
        self.uniform.insert(r, x);
        Ok(())
    }

    fn prim(&mut self, id: OpId, op: &Op, p: &Prim) -> Result<(), Unsupported> {
        let r = op.results[0];
        let rty = self.f.ty(r).clone();
        match p {
            Prim::ConstF64(x) => {
                let v = self.b.ins().f64const(*x);
                self.consts.insert(r, *x);
                self.vals.insert(r, V::S(v));
            }
            Prim::ConstI64(x) => {
                let v = self.b.ins().iconst(types::I64, *x);
                self.vals.insert(r, V::S(v));
            }
            Prim::ConstBool(x) => {
                let v = self.b.ins().iconst(types::I8, i64::from(*x));
                self.vals.insert(r, V::S(v));
            }
            Prim::ConstTensor { data, .. } => {
                if let Some(&x) = data.first()
                    && data.iter().all(|y| y.to_bits() == x.to_bits())
                {
                    let v = self.b.ins().f64const(x);
                    self.uniform.insert(r, v);
                }
                let boxed: Box<[f64]> = data.to_vec().into_boxed_slice();
                let addr = boxed.as_ptr() as i64;
                self.meta.consts.push(boxed);
                let v = self.b.ins().iconst(PTR, addr);
                self.vals.insert(r, V::T(v));
            }
            Prim::StopGrad => {
                let v = self.vals[&op.args[0]];
                self.vals.insert(r, v);
            }
            Prim::Guard { kind, what } => {
                self.guard(op, *kind, what)?;
                let v = self.vals[&op.args[0]];
                self.vals.insert(r, v);
            }
            Prim::Broadcast(_) | Prim::BroadcastLike => self.fill(op)?,
            Prim::Expand { .. } if self.f.ty(op.args[0]).is_scalar() => self.fill(op)?,
            Prim::Pack => {
                let dst = self.slot(r)?;
                let ety = self.f.ty(op.args[0]).clone();
                let size = if ety.is_scalar() {
                    elem_bytes(ety.elem)
                } else {
                    byte_size(&ety).unwrap_or(0) as i64
                };
                for (k, &a) in op.args.iter().enumerate() {
                    let at = self.b.ins().iadd_imm_s(dst, k as i64 * size);
                    if ety.is_scalar() {
                        let v = self.s(a)?;
                        self.store(v, at, 0);
                    } else {
                        let src = self.t(a)?;
                        self.copy(at, src, &ety);
                    }
                }
                self.vals.insert(r, V::T(dst));
            }
            Prim::Index => {
                let t = self.t(op.args[0])?;
                let i = self.s(op.args[1])?;
                let tty = self.f.ty(op.args[0]).clone();
                let len = tty.shape[0] as i64;
                let ok = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i, len);
                let fail = self.failure(op, None, Type::i64());
                self.fail_unless(ok, fail, |l, fail_v| {
                    let len_v = l.b.ins().iconst(types::I64, len);
                    l.call(
                        h::index_failed as *const () as usize,
                        &[PTR, types::I32, types::I64, types::I64],
                        &[types::I32],
                        &[l.rt, fail_v, i, len_v],
                    );
                });
                let size = if rty.is_scalar() {
                    elem_bytes(rty.elem)
                } else {
                    byte_size(&rty).unwrap_or(0) as i64
                };
                let off = self.b.ins().imul_imm_s(i, size);
                let at = self.b.ins().iadd(t, off);
                if rty.is_scalar() {
                    let v = self.load(rty.elem, at, 0);
                    self.vals.insert(r, V::S(v));
                } else {
                    // A view of the row: tensors are immutable.
                    self.vals.insert(r, V::T(at));
                }
            }
            Prim::IndexAdd => {
                let t = self.t(op.args[0])?;
                let i = self.s(op.args[1])?;
                let tty = self.f.ty(op.args[0]).clone();
                let dst = self.slot(r)?;
                self.copy(dst, t, &tty);
                let len = tty.shape[0] as i64;
                let ok = self.b.ins().icmp_imm_s(IntCC::UnsignedLessThan, i, len);
                let fail = self.failure(op, None, Type::i64());
                self.fail_unless(ok, fail, |l, fail_v| {
                    let len_v = l.b.ins().iconst(types::I64, len);
                    l.call(
                        h::index_failed as *const () as usize,
                        &[PTR, types::I32, types::I64, types::I64],
                        &[types::I32],
                        &[l.rt, fail_v, i, len_v],
                    );
                });
                let vty = self.f.ty(op.args[2]).clone();
                let row = if vty.is_scalar() {
                    8
                } else {
                    byte_size(&vty).unwrap_or(0) as i64
                };
                let off = self.b.ins().imul_imm_s(i, row);
                let at = self.b.ins().iadd(dst, off);
                if vty.is_scalar() {
                    let old = self.load(Elem::F64, at, 0);
                    let v = self.s(op.args[2])?;
                    let sum = self.b.ins().fadd(old, v);
                    self.store(sum, at, 0);
                } else {
                    let src = self.t(op.args[2])?;
                    let n = vty.num_elements().unwrap_or(0) as i64;
                    self.for_each(n, |l, k| {
                        let o = l.b.ins().imul_imm_s(k, 8);
                        let d = l.b.ins().iadd(at, o);
                        let s = l.b.ins().iadd(src, o);
                        let a = l.load(Elem::F64, d, 0);
                        let b = l.load(Elem::F64, s, 0);
                        let c = l.b.ins().fadd(a, b);
                        l.store(c, d, 0);
                        Ok(())
                    })?;
                }
                self.vals.insert(r, V::T(dst));
            }
            Prim::Sum => {
                let t = self.t(op.args[0])?;
                let aty = self.f.ty(op.args[0]).clone();
                let n = aty.num_elements().unwrap_or(0) as i64;
                // A sequential sum, in element order, as the interpreter's.
                let mut acc = match aty.elem {
                    Elem::F64 => self.b.ins().f64const(0.0),
                    _ => self.b.ins().iconst(types::I64, 0),
                };
                if n <= 64 {
                    for k in 0..n {
                        let x = self.load(aty.elem, t, 8 * k);
                        acc = match aty.elem {
                            Elem::F64 => self.b.ins().fadd(acc, x),
                            _ => self.b.ins().iadd(acc, x),
                        };
                    }
                } else {
                    let header = self.b.create_block();
                    self.b.append_block_param(header, types::I64);
                    self.b.append_block_param(header, ctype(aty.elem));
                    let body_b = self.b.create_block();
                    let exit = self.b.create_block();
                    self.b.append_block_param(exit, ctype(aty.elem));
                    let zero = self.b.ins().iconst(types::I64, 0);
                    self.b
                        .ins()
                        .jump(header, &[BlockArg::Value(zero), BlockArg::Value(acc)]);
                    self.b.switch_to_block(header);
                    let hp = self.b.block_params(header).to_vec();
                    let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, hp[0], n);
                    self.b
                        .ins()
                        .brif(more, body_b, &[], exit, &[BlockArg::Value(hp[1])]);
                    self.b.switch_to_block(body_b);
                    let off = self.b.ins().imul_imm_s(hp[0], 8);
                    let at = self.b.ins().iadd(t, off);
                    let x = self.load(aty.elem, at, 0);
                    let next = match aty.elem {
                        Elem::F64 => self.b.ins().fadd(hp[1], x),
                        _ => self.b.ins().iadd(hp[1], x),
                    };
                    let k1 = self.b.ins().iadd_imm_s(hp[0], 1);
                    self.b
                        .ins()
                        .jump(header, &[BlockArg::Value(k1), BlockArg::Value(next)]);
                    self.b.switch_to_block(exit);
                    acc = self.b.block_params(exit)[0];
                }
                self.vals.insert(r, V::S(acc));
            }
            Prim::LogSumExp | Prim::ReduceMax => {
                let t = self.t(op.args[0])?;
                let n = self.f.ty(op.args[0]).num_elements().unwrap_or(0) as i64;
                let len = self.b.ins().iconst(types::I64, n);
                let f = if matches!(p, Prim::LogSumExp) {
                    h::logsumexp as *const () as usize
                } else {
                    h::reduce_max as *const () as usize
                };
                let v = self.call(f, &[PTR, types::I64], &[types::F64], &[t, len])[0];
                self.vals.insert(r, V::S(v));
            }
            Prim::MatVec { transpose } => {
                // A direct call of the shared kernel on the operands' data:
                // no values built, nothing allocated.
                let (m, v) = (self.t(op.args[0])?, self.t(op.args[1])?);
                let (rows, cols) = match self.f.ty(op.args[0]).shape.as_slice() {
                    [r, c] => (*r as i64, *c as i64),
                    other => return unsupported(format!("matvec of shape {other:?}")),
                };
                let out = self.slot(r)?;
                let rows = self.b.ins().iconst(types::I64, rows);
                let cols = self.b.ins().iconst(types::I64, cols);
                let f = if *transpose {
                    h::matvec_t as *const () as usize
                } else {
                    h::matvec as *const () as usize
                };
                self.call(
                    f,
                    &[PTR, PTR, PTR, types::I64, types::I64],
                    &[],
                    &[m, v, out, rows, cols],
                );
                self.vals.insert(r, V::T(out));
            }
            Prim::Outer => {
                let (a, b) = (self.t(op.args[0])?, self.t(op.args[1])?);
                let n = self.f.ty(op.args[0]).num_elements().unwrap_or(0) as i64;
                let m = self.f.ty(op.args[1]).num_elements().unwrap_or(0) as i64;
                let out = self.slot(r)?;
                let n = self.b.ins().iconst(types::I64, n);
                let m = self.b.ins().iconst(types::I64, m);
                self.call(
                    h::outer as *const () as usize,
                    &[PTR, PTR, PTR, types::I64, types::I64],
                    &[],
                    &[a, b, out, n, m],
                );
                self.vals.insert(r, V::T(out));
            }
            Prim::MatMul {
                transpose_a,
                transpose_b,
            } if rty.elem == Elem::F64 => {
                let (a, b) = (self.t(op.args[0])?, self.t(op.args[1])?);
                let a_shape = &self.f.ty(op.args[0]).shape;
                let k = if *transpose_a { a_shape[0] } else { a_shape[1] };
                let dims = [rty.shape[0], k, rty.shape[1]];
                let flags = i64::from(*transpose_a) | (i64::from(*transpose_b) << 1);
                let out = self.slot(r)?;
                let mut args = vec![a, b, out];
                for d in dims {
                    args.push(self.b.ins().iconst(types::I64, d as i64));
                }
                args.push(self.b.ins().iconst(types::I32, flags));
                self.call(
                    h::matmul as *const () as usize,
                    &[
                        PTR,
                        PTR,
                        PTR,
                        types::I64,
                        types::I64,
                        types::I64,
                        types::I32,
                    ],
                    &[],
                    &args,
                );
                self.vals.insert(r, V::T(out));
            }
            Prim::Reduce {
                op: AxisReduction::Sum,
                axis,
            } if rty.elem == Elem::F64 => {
                let a = self.t(op.args[0])?;
                let shape = &self.f.ty(op.args[0]).shape;
                let dims = [
                    shape[..*axis].iter().product::<usize>(),
                    shape[*axis],
                    shape[axis + 1..].iter().product::<usize>(),
                ];
                let out = self.out_place(r)?;
                let mut args = vec![a, out.0];
                for d in dims {
                    args.push(self.b.ins().iconst(types::I64, d as i64));
                }
                self.call(
                    h::sum_axis as *const () as usize,
                    &[PTR, PTR, types::I64, types::I64, types::I64],
                    &[],
                    &args,
                );
                self.result_from(r, out.0, out.1);
            }
            Prim::Expand { axis, n } => {
                let a = self.t(op.args[0])?;
                let shape = &self.f.ty(op.args[0]).shape;
                let outer = shape[..*axis].iter().product::<usize>();
                let block =
                    shape[*axis..].iter().product::<usize>() * elem_bytes(rty.elem) as usize;
                let out = self.slot(r)?;
                let mut args = vec![a, out];
                for d in [outer, *n, block] {
                    args.push(self.b.ins().iconst(types::I64, d as i64));
                }
                self.call(
                    h::expand as *const () as usize,
                    &[PTR, PTR, types::I64, types::I64, types::I64],
                    &[],
                    &args,
                );
                self.vals.insert(r, V::T(out));
                if let Some(&x) = self.uniform.get(&op.args[0]) {
                    self.uniform.insert(r, x);
                }
            }
            Prim::Gather => {
                let (t, idx) = (self.t(op.args[0])?, self.t(op.args[1])?);
                let t_ty = self.f.ty(op.args[0]).clone();
                let n_idx = self.f.ty(op.args[1]).num_elements().unwrap_or(0);
                let t_bytes = byte_size(&t_ty).unwrap_or(0);
                let row = t_bytes / t_ty.shape[0].max(1);
                let fail = self.failure(op, None, rty.clone());
                let out = self.slot(r)?;
                let mut args = vec![self.rt];
                args.push(self.b.ins().iconst(types::I32, fail as i64));
                args.push(t);
                args.push(self.b.ins().iconst(types::I64, t_bytes as i64));
                args.push(idx);
                args.push(self.b.ins().iconst(types::I64, n_idx as i64));
                args.push(out);
                args.push(self.b.ins().iconst(types::I64, row as i64));
                let status = self.call(
                    h::gather as *const () as usize,
                    &[
                        PTR,
                        types::I32,
                        PTR,
                        types::I64,
                        PTR,
                        types::I64,
                        PTR,
                        types::I64,
                    ],
                    &[types::I32],
                    &args,
                )[0];
                self.check_status(status);
                self.vals.insert(r, V::T(out));
            }
            Prim::TriSolve { .. }
            | Prim::Tril
            | Prim::Diagonal
            | Prim::DiagMatrix
            | Prim::MatMul { .. }
            | Prim::Transpose
            | Prim::Reshape(_)
            | Prim::Concat
            | Prim::Slice { .. }
            | Prim::ScatterAdd
            | Prim::Reduce { .. } => {
                let fail = self.failure(op, None, rty.clone());
                self.meta.tensor_calls.push(TensorCall {
                    prim: p.clone(),
                    arg_types: op.args.iter().map(|&a| self.f.ty(a).clone()).collect(),
                    fail,
                });
                let index = self.meta.tensor_calls.len() - 1;
                self.call_on_operands(op, h::tensor_prim as *const () as usize, index)?;
            }
            Prim::Host { id, .. } | Prim::HostPartial { id, .. } => {
                // A call into the host function through the run's registry.
                let wrt = match p {
                    Prim::HostPartial { wrt, .. } => *wrt as i64,
                    _ => -1,
                };
                let fail = self.failure(op, None, rty.clone());
                let mut words = Vec::new();
                for &a in &op.args {
                    words.push(self.arg_word(a)?);
                }
                let n = words.len() as i64;
                let arr = self.word_array(&words);
                let (out, scalar) = self.out_place(r)?;
                let fail_v = self.b.ins().iconst(types::I32, fail as i64);
                let id_v = self.b.ins().iconst(types::I32, *id as i64);
                let wrt_v = self.b.ins().iconst(types::I32, wrt);
                let n_v = self.b.ins().iconst(types::I32, n);
                let status = self.call(
                    h::host as *const () as usize,
                    &[
                        PTR,
                        types::I32,
                        types::I32,
                        types::I32,
                        PTR,
                        types::I32,
                        PTR,
                    ],
                    &[types::I32],
                    &[self.rt, fail_v, id_v, wrt_v, arr, n_v, out],
                )[0];
                self.check_status(status);
                self.result_from(r, out, scalar);
            }
            _ if p.is_elementwise() => {
                if rty.is_scalar() {
                    let args: Vec<Value> = op
                        .args
                        .iter()
                        .map(|&a| self.s(a))
                        .collect::<Result<_, _>>()?;
                    let elems: Vec<Elem> = op.args.iter().map(|&a| self.f.ty(a).elem).collect();
                    let v = self.scalar(op, p, &args, &elems, rty.elem)?;
                    self.vals.insert(r, V::S(v));
                } else {
                    self.fused(&[id])?;
                }
            }
            other => return unsupported(format!("the primitive `{}`", other.name())),
        }
        Ok(())
    }

    /// Branches to a failure block unless `ok`; the block calls `report`
    /// (which records the error) and exits with status 1.
    fn fail_unless(&mut self, ok: Value, fail: u32, report: impl FnOnce(&mut Self, Value)) {
        let cont = self.b.create_block();
        let bad = self.b.create_block();
        self.b.ins().brif(ok, cont, &[], bad, &[]);
        self.b.switch_to_block(bad);
        let fail_v = self.b.ins().iconst(types::I32, fail as i64);
        report(self, fail_v);
        self.b.ins().jump(self.error_block, &[]);
        self.b.switch_to_block(cont);
    }

    fn guard(&mut self, op: &Op, kind: GuardKind, what: &str) -> Result<(), Unsupported> {
        let a = op.args[0];
        let ty = self.f.ty(a).clone();
        let fail = self.failure(op, Some((kind, what.to_string())), ty.clone());
        if !ty.is_scalar() {
            let t = self.t(a)?;
            let fail_v = self.b.ins().iconst(types::I32, fail as i64);
            let status = self.call(
                h::guard_tensor as *const () as usize,
                &[PTR, types::I32, PTR],
                &[types::I32],
                &[self.rt, fail_v, t],
            )[0];
            self.check_status(status);
            return Ok(());
        }
        let x = self.s(a)?;
        let finite = |l: &mut Self, x: Value| {
            let ax = l.b.ins().fabs(x);
            let inf = l.b.ins().f64const(f64::INFINITY);
            l.b.ins().fcmp(FloatCC::LessThan, ax, inf)
        };
        let ok = match kind {
            GuardKind::Positive => {
                let zero = self.b.ins().f64const(0.0);
                let pos = self.b.ins().fcmp(FloatCC::GreaterThan, x, zero);
                let fin = finite(self, x);
                self.b.ins().band(pos, fin)
            }
            GuardKind::NonNegative => {
                let zero = self.b.ins().f64const(0.0);
                let nn = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, zero);
                let fin = finite(self, x);
                self.b.ins().band(nn, fin)
            }
            GuardKind::UnitInterval => {
                let zero = self.b.ins().f64const(0.0);
                let one = self.b.ins().f64const(1.0);
                let lo = self.b.ins().fcmp(FloatCC::GreaterThanOrEqual, x, zero);
                let hi = self.b.ins().fcmp(FloatCC::LessThanOrEqual, x, one);
                self.b.ins().band(lo, hi)
            }
            GuardKind::Finite => finite(self, x),
            GuardKind::NonNegativeInt => {
                self.b
                    .ins()
                    .icmp_imm_s(IntCC::SignedGreaterThanOrEqual, x, 0)
            }
            GuardKind::Present => self.b.ins().icmp_imm_s(IntCC::NotEqual, x, 0),
            GuardKind::Probabilities | GuardKind::LowerTriangularPositiveDiagonal => {
                return unsupported("a tensor guard on a scalar");
            }
        };
        let w = self.word(x, ty.elem);
        self.fail_unless(ok, fail, |l, fail_v| {
            l.call(
                h::guard_failed as *const () as usize,
                &[PTR, types::I32, types::I64],
                &[types::I32],
                &[l.rt, fail_v, w],
            );
        });
        Ok(())
    }

    /// Elementwise tensor operations of one element count `n`, in order,
    /// as one loop over the elements: each element goes through the whole
    /// chain in registers, and only the results read outside the chain (or
    /// yielded) are stored to their slots. Every element is computed by the
    /// same scalar rule as unfused, so the numbers are the same.
    fn fused(&mut self, ops: &[OpId]) -> Result<(), Unsupported> {
        let Some(&first) = ops.first() else {
            return Ok(());
        };
        let n = self
            .f
            .ty(self.f.op(first).results[0])
            .num_elements()
            .unwrap_or(0) as i64;
        let guards: Vec<usize> = (0..ops.len())
            .filter(|&i| is_guard(self.f.op(ops[i])))
            .collect();
        if n >= BLOCKS_FROM
            && let Some(plan) = self.block_kernels(ops)
        {
            // One guard per blockwise run: with two, a block could fail the
            // second before another block fails the first, and report the
            // wrong error.
            if let Some(&second) = guards.get(1) {
                self.fused(&ops[..second])?;
                return self.fused(&ops[second..]);
            }
            return self.fused_blocks(ops, n, &plan);
        }
        // Element by element: sums of the run's values after its loop,
        // guards on whole tensors between loops.
        let is_sum =
            |l: &Self, id: OpId| matches!(l.f.op(id).kind, OpKind::Prim(Prim::Reduce { .. }));
        if ops.iter().any(|&id| is_sum(self, id)) {
            let (sums, rest): (Vec<OpId>, Vec<OpId>) =
                ops.iter().partition(|&&id| is_sum(self, id));
            self.fused(&rest)?;
            for id in sums {
                self.op(id)?;
            }
            return Ok(());
        }
        if let Some(&g) = guards.first() {
            self.fused(&ops[..g])?;
            self.op(ops[g])?;
            return self.fused(&ops[g + 1..]);
        }
        for &id in ops {
            for &a in &self.f.op(id).args {
                self.materialize(a)?;
            }
        }
        let mut stores = Vec::new();
        for id in self.stored(ops) {
            let r = self.f.op(id).results[0];
            let elem = self.f.ty(r).elem;
            stores.push((id, self.slot(r)?, elem));
        }
        self.for_each(n, |l, k| {
            let mut local: HashMap<ValueId, Value> = HashMap::new();
            for &id in ops {
                let op = l.f.op(id);
                let OpKind::Prim(p) = &op.kind else {
                    return unsupported("internal: a fused operation that is not a primitive");
                };
                let mut xs = Vec::with_capacity(op.args.len());
                let mut elems = Vec::with_capacity(op.args.len());
                for &a in &op.args {
                    let e = l.f.ty(a).elem;
                    elems.push(e);
                    xs.push(match (local.get(&a), l.vals.get(&a).copied()) {
                        (Some(&x), _) => x,
                        (None, Some(V::S(x))) => x,
                        (None, Some(V::T(t))) => {
                            let off = l.b.ins().imul_imm_s(k, elem_bytes(e));
                            let at = l.b.ins().iadd(t, off);
                            l.load(e, at, 0)
                        }
                        (None, None) => {
                            return unsupported(format!("internal: value #{} not lowered", a.0));
                        }
                    });
                }
                let out = l.f.ty(op.results[0]).elem;
                let y = l.scalar(op, p, &xs, &elems, out)?;
                local.insert(op.results[0], y);
            }
            for &(id, slot, elem) in &stores {
                let y = local[&l.f.op(id).results[0]];
                let off = l.b.ins().imul_imm_s(k, elem_bytes(elem));
                let at = l.b.ins().iadd(slot, off);
                l.store(y, at, 0);
            }
            Ok(())
        })?;
        for (id, slot, _) in stores {
            self.vals.insert(self.f.op(id).results[0], V::T(slot));
        }
        Ok(())
    }

    /// The operations of a fused run whose results are read after it (or
    /// yielded): those it must store.
    fn stored(&self, ops: &[OpId]) -> Vec<OpId> {
        let inside: HashSet<OpId> = ops.iter().copied().collect();
        ops.iter()
            .copied()
            .filter(|&id| {
                let r = self.f.op(id).results[0];
                let read_outside = self
                    .users
                    .get(&r)
                    .is_some_and(|us| us.iter().any(|u| !inside.contains(u)));
                read_outside || self.yielded.contains(&r)
            })
            .collect()
    }

    /// The vector kernel of each operation of a run (with the scalar
    /// function the `Call` kernels apply), or `None` if one has none.
    fn block_kernels(&self, ops: &[OpId]) -> Option<Vec<Blk>> {
        ops.iter()
            .map(|&id| {
                let op = self.f.op(id);
                let OpKind::Prim(p) = &op.kind else {
                    return None;
                };
                if let Prim::Guard { .. } = p {
                    return self.fusible(op).map(|_| Blk::Guard);
                }
                if let Prim::Reduce {
                    op: AxisReduction::Sum,
                    axis,
                } = p
                {
                    let shape = &self.f.ty(op.args[0]).shape;
                    return Some(Blk::Sum {
                        len: shape[*axis] as i64,
                        inner: shape[axis + 1..].iter().product::<usize>() as i64,
                    });
                }
                let real = op.args.iter().all(|&a| self.f.ty(a).elem == Elem::F64);
                let boolean = op.args.iter().all(|&a| self.f.ty(a).elem == Elem::Bool);
                let f1 = |f: extern "C" fn(f64) -> f64| (Kernel::Call1, f as *const () as usize);
                let f2 =
                    |f: extern "C" fn(f64, f64) -> f64| (Kernel::Call2, f as *const () as usize);
                let k = |k: Kernel| (k, 0);
                let (kernel, f) = match p {
                    _ if !real && !boolean && *p != Prim::Select => return None,
                    Prim::Neg if real => k(Kernel::Neg),
                    Prim::Abs if real => k(Kernel::Abs),
                    Prim::Sqrt => k(Kernel::Sqrt),
                    Prim::Floor => k(Kernel::Floor),
                    Prim::Sign => k(Kernel::Sign),
                    Prim::Softplus => k(Kernel::Softplus),
                    Prim::Sigmoid => k(Kernel::Sigmoid),
                    Prim::Exp => f1(h::exp),
                    Prim::Log => f1(h::ln),
                    Prim::Log1p => f1(h::ln_1p),
                    Prim::Expm1 => f1(h::exp_m1),
                    Prim::Sin => f1(h::sin),
                    Prim::Cos => f1(h::cos),
                    Prim::Tan => f1(h::tan),
                    Prim::Atan => f1(h::atan),
                    Prim::Tanh => f1(h::tanh),
                    Prim::Lgamma => f1(h::lgamma),
                    Prim::Digamma => f1(h::digamma),
                    Prim::Add if real => k(Kernel::Add),
                    Prim::Sub if real => k(Kernel::Sub),
                    Prim::Mul if real => k(Kernel::Mul),
                    Prim::Div if real => k(Kernel::Div),
                    Prim::Max if real => k(Kernel::Max),
                    Prim::Min if real => k(Kernel::Min),
                    Prim::Pow => f2(h::pow),
                    Prim::GammaP => f2(h::gamma_p),
                    Prim::GammaPDa => f2(h::gamma_p_da),
                    Prim::Lt if real => k(Kernel::Lt),
                    Prim::Le if real => k(Kernel::Le),
                    Prim::Gt if real => k(Kernel::Gt),
                    Prim::Ge if real => k(Kernel::Ge),
                    Prim::Eq if real => k(Kernel::Eq),
                    Prim::Ne if real => k(Kernel::Ne),
                    Prim::Eq => k(Kernel::EqB),
                    Prim::Ne => k(Kernel::NeB),
                    Prim::And => k(Kernel::And),
                    Prim::Or => k(Kernel::Or),
                    Prim::Not => k(Kernel::Not),
                    Prim::BoolToF64 => k(Kernel::BoolToF64),
                    Prim::Select => match self.f.ty(op.results[0]).elem {
                        Elem::F64 => k(Kernel::Select),
                        Elem::Bool => k(Kernel::SelectB),
                        Elem::I64 => return None,
                    },
                    Prim::StopGrad if real => k(Kernel::Copy),
                    _ => return None,
                };
                Some(Blk::Kernel(kernel, f))
            })
            .collect()
    }

    /// A fused run as a loop over blocks of `BLOCK` elements, each
    /// operation one call of its vector kernel (`elementwise`) per block:
    /// intermediates live in block-sized scratch buffers in the frame
    /// (reused once their last reader has run), results read after the
    /// run go straight to their slots, scalars and uniform tensors are
    /// read from a block of copies filled before the loop, and repeated
    /// rows (`Lazy::Rows`) from their repeats, at the block's offset in a
    /// row. A guard checks each block (`guard_block`) and copies it. Each
    /// kernel computes the interpreter's scalar rule, so the numbers are
    /// the same.
    fn fused_blocks(&mut self, ops: &[OpId], n: i64, plan: &[Blk]) -> Result<(), Unsupported> {
        /// Where an operand's block comes from.
        #[derive(Clone, Copy)]
        enum Src {
            /// A tensor's elements, from its base address.
            Tensor(Value),
            /// A scratch buffer (frame offset from the scratch start).
            Scratch(i64),
            /// The repeats of a row of `w` elements in scratch.
            Rows(i64, i64),
        }
        /// Scratch offsets: block buffers, reused through `free`, and
        /// buffers of other sizes, never given back.
        struct Scratch {
            used: i64,
            free: Vec<i64>,
        }
        impl Scratch {
            fn bytes(&mut self, bytes: i64) -> i64 {
                let at = self.used;
                self.used += (bytes + 63) / 64 * 64;
                at
            }
            fn block(&mut self) -> i64 {
                match self.free.pop() {
                    Some(at) => at,
                    None => self.bytes(BLOCK * 8),
                }
            }
        }
        let mut scratch = Scratch {
            used: 0,
            free: Vec::new(),
        };
        let stored: HashSet<OpId> = self.stored(ops).into_iter().collect();
        let position: HashMap<ValueId, usize> = ops
            .iter()
            .enumerate()
            .map(|(i, &id)| (self.f.op(id).results[0], i))
            .collect();
        // The last operation of the run that reads each value.
        let mut last_read: HashMap<ValueId, usize> = HashMap::new();
        for (i, &id) in ops.iter().enumerate() {
            for &a in &self.f.op(id).args {
                last_read.insert(a, i);
            }
        }
        // Operands from before the run: tensors read in place; scalars and
        // uniform tensors as a block of copies, repeated rows as their
        // repeats, both filled once.
        let mut src: HashMap<ValueId, Src> = HashMap::new();
        let mut fills: Vec<(i64, Value, Elem)> = Vec::new();
        let mut tiles: Vec<(i64, Value, i64, Elem)> = Vec::new();
        for &id in ops {
            for &a in &self.f.op(id).args {
                if src.contains_key(&a) || position.contains_key(&a) {
                    continue;
                }
                let elem = self.f.ty(a).elem;
                let scalar = match self.vals.get(&a) {
                    Some(V::S(x)) => Some(*x),
                    _ => self.uniform.get(&a).copied(),
                };
                let rows = match self.deferred.get(&a) {
                    Some(&(_, Lazy::Rows(t, w))) => Some((t, w)),
                    _ => None,
                };
                let from = match (scalar, rows, self.vals.get(&a)) {
                    (Some(x), _, _) => {
                        let at = scratch.block();
                        fills.push((at, x, elem));
                        Src::Scratch(at)
                    }
                    (None, Some((t, w)), _) => {
                        // Enough repeats to read a block from any offset.
                        let repeats = (BLOCK + w - 2) / w + 1;
                        let at = scratch.bytes(repeats * w * elem_bytes(elem));
                        tiles.push((at, t, w, elem));
                        Src::Rows(at, w)
                    }
                    (None, None, Some(V::T(t))) => Src::Tensor(*t),
                    _ => return unsupported(format!("internal: value #{} not lowered", a.0)),
                };
                src.insert(a, from);
            }
        }
        // Each result's place: its slot if stored, else a scratch buffer
        // taken when computed and given back after its last reader.
        let mut places: Vec<Src> = Vec::with_capacity(ops.len());
        for (i, &id) in ops.iter().enumerate() {
            let r = self.f.op(id).results[0];
            let place = if stored.contains(&id) || matches!(plan[i], Blk::Sum { .. }) {
                Src::Tensor(self.slot(r)?)
            } else {
                Src::Scratch(scratch.block())
            };
            places.push(place);
            src.insert(r, place);
            for &a in &self.f.op(id).args {
                if let (Some(&p), Some(Src::Scratch(at))) = (position.get(&a), src.get(&a))
                    && last_read.get(&a) == Some(&i)
                    && !stored.contains(&ops[p])
                    && !scratch.free.contains(at)
                {
                    scratch.free.push(*at);
                }
            }
            // A result nothing in the run reads frees its buffer at once.
            if let Src::Scratch(at) = place
                && !last_read.contains_key(&r)
            {
                scratch.free.push(at);
            }
        }
        self.scratch_size = self.scratch_size.max(scratch.used);
        let failures: Vec<Option<u32>> = ops
            .iter()
            .zip(plan)
            .map(|(&id, blk)| match (blk, &self.f.op(id).kind) {
                (Blk::Guard, OpKind::Prim(Prim::Guard { kind, what })) => {
                    let op = self.f.op(id);
                    let ty = self.f.ty(op.args[0]).clone();
                    Some(self.failure(op, Some((*kind, what.clone())), ty))
                }
                _ => None,
            })
            .collect();
        let entry = self
            .b
            .ins()
            .iconst(PTR, crate::elementwise::entry() as usize as i64);
        let sig = self.sig(&[types::I32, types::I64, PTR, PTR, PTR, PTR], &[]);
        let base = self.b.ins().iadd_imm_s(self.frame, self.scratch_at);
        let null = self.b.ins().iconst(PTR, 0);
        let block_n = self.b.ins().iconst(types::I64, BLOCK);
        for (at, x, elem) in fills {
            let w = self.word(x, elem);
            let one = self.word_array(&[w]);
            let out = self.b.ins().iadd_imm_s(base, at);
            let code = if elem == Elem::Bool {
                Kernel::Fill8
            } else {
                Kernel::Fill64
            };
            let code = self.b.ins().iconst(types::I32, code as i64);
            self.b
                .ins()
                .call_indirect(sig, entry, &[code, block_n, out, one, null, null]);
        }
        for (at, t, w, elem) in tiles {
            let out = self.b.ins().iadd_imm_s(base, at);
            let repeats = (BLOCK + w - 2) / w + 1;
            let mut args = vec![t, out];
            for d in [1, repeats, w * elem_bytes(elem)] {
                args.push(self.b.ins().iconst(types::I64, d));
            }
            self.call(
                h::expand as *const () as usize,
                &[PTR, PTR, types::I64, types::I64, types::I64],
                &[],
                &args,
            );
        }
        // The sums start at zero.
        for (i, &id) in ops.iter().enumerate() {
            if let (Blk::Sum { .. }, Src::Tensor(sums)) = (plan[i], places[i]) {
                let count = self
                    .f
                    .ty(self.f.op(id).results[0])
                    .num_elements()
                    .unwrap_or(0);
                let zero = self.b.ins().iconst(types::I64, 0);
                let word = self.word_array(&[zero]);
                let count = self.b.ins().iconst(types::I64, count as i64);
                let code = self.b.ins().iconst(types::I32, Kernel::Fill64 as i64);
                self.b
                    .ins()
                    .call_indirect(sig, entry, &[code, count, sums, word, null, null]);
            }
        }
        // for k0 in (0..n).step_by(BLOCK)
        let header = self.b.create_block();
        self.b.append_block_param(header, types::I64);
        let body = self.b.create_block();
        let exit = self.b.create_block();
        let zero = self.b.ins().iconst(types::I64, 0);
        self.b.ins().jump(header, &[BlockArg::Value(zero)]);
        self.b.switch_to_block(header);
        let k0 = self.b.block_params(header)[0];
        let more = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, k0, n);
        self.b.ins().brif(more, body, &[], exit, &[]);
        self.b.switch_to_block(body);
        let n_v = self.b.ins().iconst(types::I64, n);
        let rest = self.b.ins().isub(n_v, k0);
        let len = self.b.ins().smin(rest, block_n);
        let addr = |l: &mut Self, s: Src, elem: Elem| match s {
            Src::Tensor(t) => {
                let off = l.b.ins().imul_imm_s(k0, elem_bytes(elem));
                l.b.ins().iadd(t, off)
            }
            Src::Scratch(at) => l.b.ins().iadd_imm_s(base, at),
            Src::Rows(at, w) => {
                let in_row = l.b.ins().urem_imm_s(k0, w);
                let off = l.b.ins().imul_imm_s(in_row, elem_bytes(elem));
                let row = l.b.ins().iadd_imm_s(base, at);
                l.b.ins().iadd(row, off)
            }
        };
        for (i, &id) in ops.iter().enumerate() {
            let op = self.f.op(id);
            let mut operands = [null; 3];
            for (j, &a) in op.args.iter().enumerate() {
                operands[j] = addr(self, src[&a], self.f.ty(a).elem);
            }
            if let (Blk::Sum { len: lanes, inner }, Src::Tensor(sums)) = (plan[i], places[i]) {
                let outer = self.f.ty(op.results[0]).num_elements().unwrap_or(0) as i64 / inner;
                let mut args = vec![operands[0], sums, k0, len];
                for d in [lanes, inner, outer] {
                    args.push(self.b.ins().iconst(types::I64, d));
                }
                self.call(
                    h::sum_block as *const () as usize,
                    &[
                        PTR,
                        PTR,
                        types::I64,
                        types::I64,
                        types::I64,
                        types::I64,
                        types::I64,
                    ],
                    &[],
                    &args,
                );
                continue;
            }
            let out = addr(self, places[i], self.f.ty(op.results[0]).elem);
            let kernel = match plan[i] {
                Blk::Kernel(kernel, f) => {
                    if f != 0 {
                        // The `Call` kernels' function is their last operand.
                        operands[2] = self.b.ins().iconst(PTR, f as i64);
                    }
                    kernel
                }
                Blk::Guard => {
                    let fail = failures[i].unwrap_or(0);
                    let fail_v = self.b.ins().iconst(types::I32, fail as i64);
                    let status = self.call(
                        h::guard_block as *const () as usize,
                        &[PTR, types::I32, PTR, types::I64],
                        &[types::I32],
                        &[self.rt, fail_v, operands[0], len],
                    )[0];
                    self.check_status(status);
                    Kernel::Copy
                }
                Blk::Sum { .. } => {
                    return unsupported("internal: a blockwise sum without its slot");
                }
            };
            let code = self.b.ins().iconst(types::I32, kernel as i64);
            self.b.ins().call_indirect(
                sig,
                entry,
                &[code, len, out, operands[0], operands[1], operands[2]],
            );
        }
        let next = self.b.ins().iadd_imm_s(k0, BLOCK);
        self.b.ins().jump(header, &[BlockArg::Value(next)]);
        self.b.switch_to_block(exit);
        for (i, &id) in ops.iter().enumerate() {
            if let Src::Tensor(slot) = places[i] {
                self.vals.insert(self.f.op(id).results[0], V::T(slot));
            }
        }
        Ok(())
    }

    /// The scalar rule of an elementwise primitive.
    fn scalar(
        &mut self,
        op: &Op,
        p: &Prim,
        x: &[Value],
        elems: &[Elem],
        out: Elem,
    ) -> Result<Value, Unsupported> {
        let f = elems.first().copied() == Some(Elem::F64);
        Ok(match p {
            Prim::Neg => {
                if f {
                    self.b.ins().fneg(x[0])
                } else {
                    self.b.ins().ineg(x[0])
                }
            }
            Prim::Abs => {
                if f {
                    self.b.ins().fabs(x[0])
                } else {
                    let neg = self.b.ins().ineg(x[0]);
                    let lt = self.b.ins().icmp_imm_s(IntCC::SignedLessThan, x[0], 0);
                    self.b.ins().select(lt, neg, x[0])
                }
            }
            Prim::Exp => self.math1(h::exp, x[0]),
            Prim::Log => self.math1(h::ln, x[0]),
            Prim::Log1p => self.math1(h::ln_1p, x[0]),
            Prim::Expm1 => self.math1(h::exp_m1, x[0]),
            Prim::Sqrt => self.b.ins().sqrt(x[0]),
            Prim::Sin => self.math1(h::sin, x[0]),
            Prim::Cos => self.math1(h::cos, x[0]),
            Prim::Tan => self.math1(h::tan, x[0]),
            Prim::Atan => self.math1(h::atan, x[0]),
            Prim::Tanh => self.math1(h::tanh, x[0]),
            Prim::Sigmoid => self.math1(h::sigmoid, x[0]),
            Prim::Softplus => self.math1(h::softplus, x[0]),
            Prim::Sign => self.math1(h::sign, x[0]),
            Prim::Floor => self.b.ins().floor(x[0]),
            Prim::Lgamma => self.math1(h::lgamma, x[0]),
            Prim::Digamma => self.math1(h::digamma, x[0]),
            Prim::Polygamma(n) => {
                let nv = self.b.ins().iconst(types::I64, *n as i64);
                self.call(
                    h::polygamma as *const () as usize,
                    &[types::I64, types::F64],
                    &[types::F64],
                    &[nv, x[0]],
                )[0]
            }
            Prim::Add => {
                if f {
                    self.b.ins().fadd(x[0], x[1])
                } else {
                    self.b.ins().iadd(x[0], x[1])
                }
            }
            Prim::Sub => {
                if f {
                    self.b.ins().fsub(x[0], x[1])
                } else {
                    self.b.ins().isub(x[0], x[1])
                }
            }
            Prim::Mul => {
                if f {
                    self.b.ins().fmul(x[0], x[1])
                } else {
                    self.b.ins().imul(x[0], x[1])
                }
            }
            Prim::Div if f => self.b.ins().fdiv(x[0], x[1]),
            Prim::Div | Prim::Rem | Prim::F64ToInt => self.checked(op, p, x, elems, out)?,
            Prim::Pow => self.math2(h::pow, x[0], x[1]),
            Prim::GammaP => self.math2(h::gamma_p, x[0], x[1]),
            Prim::GammaPDa => self.math2(h::gamma_p_da, x[0], x[1]),
            Prim::Max | Prim::Min => {
                let max = matches!(p, Prim::Max);
                if f {
                    if max {
                        self.b.ins().fmax(x[0], x[1])
                    } else {
                        self.b.ins().fmin(x[0], x[1])
                    }
                } else {
                    let cc = if max {
                        IntCC::SignedGreaterThan
                    } else {
                        IntCC::SignedLessThan
                    };
                    let c = self.b.ins().icmp(cc, x[0], x[1]);
                    self.b.ins().select(c, x[0], x[1])
                }
            }
            Prim::Lt | Prim::Le | Prim::Gt | Prim::Ge | Prim::Eq | Prim::Ne => {
                if f {
                    let cc = match p {
                        Prim::Lt => FloatCC::LessThan,
                        Prim::Le => FloatCC::LessThanOrEqual,
                        Prim::Gt => FloatCC::GreaterThan,
                        Prim::Ge => FloatCC::GreaterThanOrEqual,
                        Prim::Eq => FloatCC::Equal,
                        _ => FloatCC::NotEqual,
                    };
                    self.b.ins().fcmp(cc, x[0], x[1])
                } else {
                    let cc = match p {
                        Prim::Lt => IntCC::SignedLessThan,
                        Prim::Le => IntCC::SignedLessThanOrEqual,
                        Prim::Gt => IntCC::SignedGreaterThan,
                        Prim::Ge => IntCC::SignedGreaterThanOrEqual,
                        Prim::Eq => IntCC::Equal,
                        _ => IntCC::NotEqual,
                    };
                    self.b.ins().icmp(cc, x[0], x[1])
                }
            }
            Prim::And => self.b.ins().band(x[0], x[1]),
            Prim::Or => self.b.ins().bor(x[0], x[1]),
            Prim::Not => self.b.ins().bxor_imm_s(x[0], 1),
            Prim::Select => self.b.ins().select(x[0], x[1], x[2]),
            Prim::IntToF64 => self.b.ins().fcvt_from_sint(types::F64, x[0]),
            Prim::BoolToF64 => self.b.ins().fcvt_from_uint(types::F64, x[0]),
            Prim::StopGrad => x[0],
            other => return unsupported(format!("the elementwise primitive `{}`", other.name())),
        })
    }

    /// An integer operation that can fail, through the interpreter's kernel.
    fn checked(
        &mut self,
        op: &Op,
        p: &Prim,
        x: &[Value],
        elems: &[Elem],
        out: Elem,
    ) -> Result<Value, Unsupported> {
        let fail = self.failure(op, None, Type::scalar(out));
        self.meta.checked_prims.push((p.clone(), elems.to_vec()));
        let index = (self.meta.checked_prims.len() - 1) as i64;
        let a = self.word(x[0], elems[0]);
        let b = if x.len() > 1 {
            self.word(x[1], elems[1])
        } else {
            self.b.ins().iconst(types::I64, 0)
        };
        let slot =
            self.b
                .create_sized_stack_slot(StackSlotData::new(StackSlotKind::ExplicitSlot, 8, 3));
        let out_addr = self.b.ins().stack_addr(PTR, slot, 0);
        let fail_v = self.b.ins().iconst(types::I32, fail as i64);
        let idx_v = self.b.ins().iconst(types::I32, index);
        let status = self.call(
            h::scalar_checked as *const () as usize,
            &[PTR, types::I32, types::I32, types::I64, types::I64, PTR],
            &[types::I32],
            &[self.rt, fail_v, idx_v, a, b, out_addr],
        )[0];
        self.check_status(status);
        Ok(self.load(out, out_addr, 0))
    }
}

fn cl<T: std::fmt::Display>(e: T) -> Unsupported {
    Unsupported {
        reason: format!("Cranelift: {e}"),
    }
}

/// Compiles `f` into a module with the body and batch entry points.
pub(super) fn compile(
    f: &Function,
    in_words: usize,
    out_words: usize,
) -> Result<Compiled, Unsupported> {
    if f.any_op(|op| matches!(op.kind, OpKind::Sample(_) | OpKind::AddCost)) {
        return unsupported("random choices before ADEV");
    }
    let layout = layout(f)?;
    let mut flags = settings::builder();
    flags.set("use_colocated_libcalls", "false").map_err(cl)?;
    flags.set("is_pic", "false").map_err(cl)?;
    flags.set("opt_level", "speed").map_err(cl)?;
    let isa = cranelift_native::builder()
        .map_err(cl)?
        .finish(settings::Flags::new(flags))
        .map_err(cl)?;
    let call_conv = isa.default_call_conv();
    let mut module = JITModule::new(JITBuilder::with_isa(isa, default_libcall_names()));
    let target = module.target_config();
    let mut meta = Box::new(Meta::default());

    // body(inputs, outputs, rt) -> status
    let mut body_sig = module.make_signature();
    for _ in 0..3 {
        body_sig.params.push(AbiParam::new(PTR));
    }
    body_sig.returns.push(AbiParam::new(types::I32));
    let body_id = module
        .declare_function("vprog_body", Linkage::Local, &body_sig)
        .map_err(cl)?;
    let mut ctx = module.make_context();
    ctx.func.signature = body_sig.clone();
    ctx.func.name = UserFuncName::user(0, body_id.as_u32());
    let mut fctx = FunctionBuilderContext::new();
    let frame_size;
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, &mut fctx);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let params = b.block_params(entry).to_vec();
        let (inputs, outputs, rt) = (params[0], params[1], params[2]);
        let frame = b.ins().load(
            PTR,
            MemFlagsData::trusted(),
            rt,
            offset_of!(Rt, frame) as i32,
        );
        let error_block = b.create_block();
        let mut l = Lowering {
            f,
            b,
            layout: &layout,
            meta: &mut meta,
            call_conv,
            vals: HashMap::new(),
            consts: HashMap::new(),
            frame,
            rt,
            error_block,
            sigs: HashMap::new(),
            users: HashMap::new(),
            yielded: f.body.results.iter().copied().collect(),
            uniform: HashMap::new(),
            scratch_at: layout.size.div_ceil(64) as i64 * 64,
            scratch_size: 0,
            outputs,
            out_words: direct_outputs(f),
            out_addrs: HashMap::new(),
            deferred: HashMap::new(),
        };
        f.walk_ops(|id, op| {
            for &a in &op.args {
                l.users.entry(a).or_default().push(id);
            }
            for r in &op.regions {
                l.yielded.extend(r.results.iter().copied());
            }
        });
        // Parameters: one input word each, a scalar's bits or the address
        // of a tensor's data (read in place, never written).
        let mut at = 0i64;
        for &p in &f.body.params {
            let ty = f.ty(p).clone();
            if ty.is_scalar() {
                let v = l.load(ty.elem, inputs, 8 * at);
                l.vals.insert(p, V::S(v));
            } else {
                let addr = l.load(Elem::I64, inputs, 8 * at);
                l.vals.insert(p, V::T(addr));
            }
            at += 1;
        }
        debug_assert_eq!(at as usize, in_words);
        l.region_ops(&f.body)?;
        let mut at = 0i64;
        for &r in &f.body.results {
            let ty = f.ty(r).clone();
            if ty.is_scalar() {
                let v = l.s(r)?;
                let w = l.word(v, ty.elem);
                l.store(w, outputs, 8 * at);
                at += 1;
            } else {
                let src = l.t(r)?;
                // Computed in place, unless it is a value computed
                // elsewhere (a parameter, an alias) or a second copy.
                if l.out_addrs.get(&src) != Some(&r) || l.out_words.get(&r) != Some(&at) {
                    let dst = l.b.ins().iadd_imm_s(outputs, 8 * at);
                    l.copy(dst, src, &ty);
                }
                at += (byte_size(&ty).unwrap_or(0) as i64 + 7) / 8;
            }
        }
        debug_assert_eq!(at as usize, out_words);
        frame_size = (l.scratch_at + l.scratch_size) as usize;
        let zero = l.b.ins().iconst(types::I32, 0);
        l.b.ins().return_(&[zero]);
        l.b.switch_to_block(error_block);
        let one = l.b.ins().iconst(types::I32, 1);
        l.b.ins().return_(&[one]);
        l.b.seal_all_blocks();
        l.b.finalize(target);
    }
    module.define_function(body_id, &mut ctx).map_err(cl)?;
    module.clear_context(&mut ctx);

    // batch(inputs, outputs, rt, start, end, row) -> status: row k of
    // `outputs` for particle start + k.
    let batch_id = particle_loop(&mut module, &mut ctx, &mut fctx, body_id, out_words, None)?;
    // sum(inputs, sums, rt, start, end, row) -> status: the real output
    // words summed over the particles in order into `sums` (zeroed by the
    // caller), each particle's outputs written to the scratch `row`.
    let real_words: Vec<usize> = real_output_words(f);
    let sum_id = particle_loop(
        &mut module,
        &mut ctx,
        &mut fctx,
        body_id,
        out_words,
        Some(&real_words),
    )?;
    module.finalize_definitions().map_err(cl)?;
    let body_ptr = module.get_finalized_function(body_id);
    let batch_ptr = module.get_finalized_function(batch_id);
    let sum_ptr = module.get_finalized_function(sum_id);
    // SAFETY: the functions were defined with exactly these signatures.
    let body: BodyFn = unsafe { std::mem::transmute::<*const u8, BodyFn>(body_ptr) };
    let batch: BatchFn = unsafe { std::mem::transmute::<*const u8, BatchFn>(batch_ptr) };
    let sum: BatchFn = unsafe { std::mem::transmute::<*const u8, BatchFn>(sum_ptr) };
    Ok(Compiled {
        module,
        body,
        batch,
        sum,
        meta,
        frame_size,
    })
}

/// The tensor results that operations of `f`'s body compute straight
/// into the output buffer, by their first word there: each result's first
/// occurrence, if a primitive of the body defines it.
fn direct_outputs(f: &Function) -> HashMap<ValueId, i64> {
    let defined: HashSet<ValueId> = f
        .body
        .ops
        .iter()
        .map(|&id| f.op(id))
        .filter(|op| matches!(op.kind, OpKind::Prim(_)))
        .flat_map(|op| op.results.iter().copied())
        .collect();
    let mut out = HashMap::new();
    let mut at = 0i64;
    for &r in &f.body.results {
        let ty = f.ty(r);
        if ty.is_scalar() {
            at += 1;
            continue;
        }
        if defined.contains(&r) {
            out.entry(r).or_insert(at);
        }
        at += byte_size(ty).unwrap_or(0).div_ceil(8) as i64;
    }
    out
}

/// The words of `f`'s outputs that hold reals (in the output layout).
fn real_output_words(f: &Function) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 0;
    for &r in &f.body.results {
        let ty = f.ty(r);
        let n = if ty.is_scalar() {
            1
        } else {
            byte_size(ty).unwrap_or(0).div_ceil(8)
        };
        if ty.elem == Elem::F64 {
            out.extend(at..at + n);
        }
        at += n;
    }
    out
}

/// Defines a particle loop `(inputs, outputs, rt, start, end, row) ->
/// status` calling the body once per particle `start..end` (after pointing
/// `rt` at the particle). Without `summed`, particle `start + k` writes
/// row `k` of `outputs`; with it, each particle writes the scratch `row`
/// and the words `summed` of that row are added, in particle order, to
/// those of `outputs`.
fn particle_loop(
    module: &mut JITModule,
    ctx: &mut cranelift_codegen::Context,
    fctx: &mut FunctionBuilderContext,
    body_id: cranelift_module::FuncId,
    out_words: usize,
    summed: Option<&[usize]>,
) -> Result<cranelift_module::FuncId, Unsupported> {
    let call_conv = module.isa().default_call_conv();
    let target = module.target_config();
    let mut sig = module.make_signature();
    for _ in 0..3 {
        sig.params.push(AbiParam::new(PTR));
    }
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(types::I64));
    sig.params.push(AbiParam::new(PTR));
    sig.returns.push(AbiParam::new(types::I32));
    let name = if summed.is_some() {
        "vprog_sum"
    } else {
        "vprog_batch"
    };
    let id = module
        .declare_function(name, Linkage::Local, &sig)
        .map_err(cl)?;
    ctx.func.signature = sig;
    ctx.func.name = UserFuncName::user(0, id.as_u32());
    {
        let mut b = FunctionBuilder::new(&mut ctx.func, fctx);
        let body_ref = module.declare_func_in_func(body_id, b.func);
        let mut set_sig = Signature::new(call_conv);
        set_sig.params.push(AbiParam::new(PTR));
        set_sig.params.push(AbiParam::new(types::I64));
        let set_sig = b.import_signature(set_sig);
        let entry = b.create_block();
        b.append_block_params_for_function_params(entry);
        b.switch_to_block(entry);
        let p = b.block_params(entry).to_vec();
        let (inputs, outputs, rt, start, end, scratch) = (p[0], p[1], p[2], p[3], p[4], p[5]);
        let header = b.create_block();
        b.append_block_param(header, types::I64);
        let body_b = b.create_block();
        let done = b.create_block();
        let failed = b.create_block();
        b.append_block_param(failed, types::I32);
        b.ins().jump(header, &[BlockArg::Value(start)]);
        b.switch_to_block(header);
        let k = b.block_params(header)[0];
        let more = b.ins().icmp(IntCC::SignedLessThan, k, end);
        b.ins().brif(more, body_b, &[], done, &[]);
        b.switch_to_block(body_b);
        let set = b
            .ins()
            .iconst(PTR, h::set_particle as *const () as usize as i64);
        b.ins().call_indirect(set_sig, set, &[rt, k]);
        let out_row = match summed {
            Some(_) => scratch,
            None => {
                let rel = b.ins().isub(k, start);
                let row = b.ins().imul_imm_s(rel, 8 * out_words as i64);
                b.ins().iadd(outputs, row)
            }
        };
        let call = b.ins().call(body_ref, &[inputs, out_row, rt]);
        let status = b.inst_results(call)[0];
        let next = b.create_block();
        b.ins()
            .brif(status, failed, &[BlockArg::Value(status)], next, &[]);
        b.switch_to_block(next);
        // The summed words come in runs (a tensor output is one run of
        // consecutive words): a short run is added word by word, a long one
        // (a gradient with 10⁵ elements) by a loop, so the code stays
        // small whatever the outputs' sizes.
        let flags = MemFlagsData::trusted();
        for (first, len) in word_runs(summed.unwrap_or(&[])) {
            if len <= 8 {
                for w in first..first + len {
                    let off = (8 * w) as i32;
                    let acc = b.ins().load(types::F64, flags, outputs, off);
                    let x = b.ins().load(types::F64, flags, scratch, off);
                    let total = b.ins().fadd(acc, x);
                    b.ins().store(flags, total, outputs, off);
                }
                continue;
            }
            let run_header = b.create_block();
            b.append_block_param(run_header, types::I64);
            let run_body = b.create_block();
            let run_done = b.create_block();
            let begin = b.ins().iconst(types::I64, (8 * first) as i64);
            b.ins().jump(run_header, &[BlockArg::Value(begin)]);
            b.switch_to_block(run_header);
            let off = b.block_params(run_header)[0];
            let in_run = b
                .ins()
                .icmp_imm_s(IntCC::SignedLessThan, off, (8 * (first + len)) as i64);
            b.ins().brif(in_run, run_body, &[], run_done, &[]);
            b.switch_to_block(run_body);
            let acc_at = b.ins().iadd(outputs, off);
            let x_at = b.ins().iadd(scratch, off);
            let acc = b.ins().load(types::F64, flags, acc_at, 0);
            let x = b.ins().load(types::F64, flags, x_at, 0);
            let total = b.ins().fadd(acc, x);
            b.ins().store(flags, total, acc_at, 0);
            let next_off = b.ins().iadd_imm_s(off, 8);
            b.ins().jump(run_header, &[BlockArg::Value(next_off)]);
            b.switch_to_block(run_done);
        }
        let k1 = b.ins().iadd_imm_s(k, 1);
        b.ins().jump(header, &[BlockArg::Value(k1)]);
        b.switch_to_block(done);
        let zero = b.ins().iconst(types::I32, 0);
        b.ins().return_(&[zero]);
        b.switch_to_block(failed);
        let s = b.block_params(failed)[0];
        b.ins().return_(&[s]);
        b.seal_all_blocks();
        b.finalize(target);
    }
    module.define_function(id, ctx).map_err(cl)?;
    module.clear_context(ctx);
    Ok(id)
}

/// `words` (ascending) as runs of consecutive words: `(first, length)`.
fn word_runs(words: &[usize]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &w in words {
        match runs.last_mut() {
            Some((first, len)) if *first + *len == w => *len += 1,
            _ => runs.push((w, 1)),
        }
    }
    runs
}
