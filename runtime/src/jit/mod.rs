//! The Cranelift JIT: the fast path over the same IR the interpreter runs.
//!
//! This module is the only place in vprog that touches Cranelift. It lowers
//! a verified IR function (after ADEV, reverse-mode AD and simplification)
//! to native code:
//!
//! * **Values.** Scalars live in Cranelift SSA values (`f64`, `i64`, `i8`
//!   for booleans). Every tensor value has a fixed slot in a per-call frame
//!   (shapes are static, so the layout is computed once, `layout.rs`);
//!   operations that only view a tensor — indexing the leading dimension,
//!   `stop_grad`, a passing guard, constants — alias it instead of copying.
//!   There is no allocation on the hot path and no hashing: traces were
//!   resolved into flat values by the compiler. Parameters arrive as one
//!   word each — a scalar's bits, or the address of a tensor argument's
//!   own row-major data, read in place.
//! * **Control flow.** `if` becomes a diamond of blocks, `for` a loop whose
//!   header carries the scalar loop-carried values as block parameters;
//!   tensor carries are copied into their slots at the back edge.
//! * **Fused elementwise loops.** A run of elementwise tensor operations of
//!   one size (constants may sit between them) becomes one loop. A short
//!   run loops over the elements, each passing through the whole chain in
//!   registers; a longer one loops over blocks of 512 elements, calling
//!   each operation's vector kernel (`elementwise`, AVX-512 / AVX2 loops of
//!   the interpreter's scalar rules) once per block, with intermediates in
//!   block-sized scratch buffers that stay in the L1 cache, and scalars and
//!   uniform tensors (constants of one value, broadcasts) read from a block
//!   of copies. Either way only the values read after the run are stored.
//!   Integer operations, whose checks could fail in another order, stay
//!   unfused. A blockwise run also reads `expand`s and broadcasts in place
//!   (repeated rows, uniform tensors; materialized only for a run that
//!   goes element by element) and
//!   checks an elementwise guard block by block (one guard per run, so
//!   errors come in program order); an axis sum of a value the run
//!   computes joins it, adding each block into the sums in `sum_axis`'s
//!   order (`linalg::sum_axis_part`), so that value need not be stored. Runs stay open past operations they
//!   may be reordered with (`lower::Lowering::schedule`): pure operations
//!   that read nothing of the run are emitted ahead of its loop, pure ones
//!   that read it are postponed after it — so the forward and backward
//!   halves of a likelihood become one loop.
//! * **Outputs.** A tensor result an operation computes is computed
//!   straight into the output row (its slot is there), not copied at the
//!   end.
//! * **Frames** are kept across calls (a batched network's frame holds
//!   megabytes; fresh zeroed memory per step costs page faults). Compiled
//!   code writes every slot before reading it.
//! * **Calls into the runtime** (`helpers.rs`): transcendental functions,
//!   keyed draws, the forcing tables of `enum` and `mvd` sites, tensor
//!   primitives worth a call, and checks that fail. Helpers reuse the
//!   interpreter's kernels, so both back ends compute the same numbers and
//!   raise the same errors; a failing check records its error with the
//!   operation's origin and the compiled code returns a nonzero status.
//! * **The particle loop.** Besides the function itself, two entry points
//!   run a range of particles inside compiled code: *batch* writes each
//!   particle's outputs to its own row, so the driver can spread ranges over
//!   threads and still sum in particle order; *sum* adds every particle's
//!   real outputs, in particle order, into one row — the gradient
//!   accumulation of a step on one thread, with nothing per particle left
//!   to the driver. Both orders are the same, so the results are identical
//!   whatever the thread count.
//!
//! Host functions are called through the run's registry (`helpers::host`).
//! What the JIT cannot compile (dynamic shapes), it
//! reports as [`Unsupported`], and the driver falls back to the interpreter.

mod helpers;
mod layout;
mod lower;

use crate::interp::{RunContext, RunError};
use crate::rng::RunKey;
use crate::value::{Tensor, Value};
use cranelift_jit::JITModule;
use std::fmt;
use vprog_compiler::ir::{Elem, Function, OpKind, Origin, Type};
use vprog_compiler::prim::{GuardKind, Prim};

/// Why a function cannot be compiled (the driver then interprets it).
#[derive(Clone, Debug, PartialEq)]
pub struct Unsupported {
    /// What is not supported.
    pub reason: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A place where compiled code can fail, and what to say then.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    /// The failing operation's origin.
    pub origin: Origin,
    /// For a guard: its kind and what it checks.
    pub guard: Option<(GuardKind, String)>,
    /// The element type of the checked scalar.
    pub elem: Elem,
    /// The checked value's type (tensor guards).
    pub ty: Type,
}

/// A runtime call evaluating an effect operation.
#[derive(Clone, Debug)]
pub(crate) struct EffectCall {
    pub kind: OpKind,
    pub arg_types: Vec<Type>,
    pub result: Type,
    pub fail: u32,
}

/// A keyed draw from a distribution with scalar parameters and a scalar
/// value (no allocation on this path).
#[derive(Clone, Debug)]
pub(crate) struct ScalarDraw {
    pub dist: vprog_compiler::dist::DistKind,
    pub site: u32,
    pub stream: u32,
    pub params: Vec<Elem>,
    pub fail: u32,
}

/// A runtime call evaluating a tensor primitive.
#[derive(Clone, Debug)]
pub(crate) struct TensorCall {
    pub prim: Prim,
    pub arg_types: Vec<Type>,
    pub fail: u32,
}

/// What compiled code needs to know at run time, by index.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    pub failures: Vec<Failure>,
    pub effects: Vec<EffectCall>,
    pub scalar_draws: Vec<ScalarDraw>,
    pub tensor_calls: Vec<TensorCall>,
    /// Integer primitives that can fail, with their operand types.
    pub checked_prims: Vec<(Prim, Vec<Elem>)>,
    /// Constant tensors (compiled code holds their addresses).
    pub consts: Vec<Box<[f64]>>,
}

/// The state compiled code reads and writes through its `rt` argument.
#[repr(C)]
pub(crate) struct Rt {
    /// The tensor slots of the running call.
    pub frame: *mut u8,
    /// `key.base()`, the run's part of every randomness key.
    pub base: u64,
    /// The run's key.
    pub key: RunKey,
    /// The forcing tables and event records of `enum` and `mvd` sites.
    pub ctx: *mut RunContext,
    /// The compiled function's metadata.
    pub meta: *const Meta,
    /// The error of a failed call.
    pub error: Option<RunError>,
}

type BodyFn = unsafe extern "C" fn(*const u64, *mut u64, *mut Rt) -> i32;
type BatchFn = unsafe extern "C" fn(*const u64, *mut u64, *mut Rt, i64, i64, *mut u64) -> i32;

/// The input words of one call, with the copies of tensors whose own
/// data could not be read in place; borrows the arguments, whose data the
/// words point to.
struct Inputs<'v> {
    words: Vec<u64>,
    copies: Vec<Vec<u64>>,
    _args: std::marker::PhantomData<&'v [Value]>,
}

/// A compiled function.
pub struct JitFunction {
    /// Keeps the code alive; freed on drop.
    module: Option<JITModule>,
    body: BodyFn,
    batch: BatchFn,
    sum: BatchFn,
    meta: Box<Meta>,
    frame_size: usize,
    /// Frames of finished calls, kept for the next ones: a frame holds
    /// every tensor of a call (megabytes for a batched network), and
    /// fresh zeroed memory each step costs page faults in proportion.
    frames: std::sync::Mutex<Vec<Vec<u64>>>,
    inputs: Vec<Type>,
    outputs: Vec<Type>,
    /// Input and output sizes in 8-byte words.
    in_words: usize,
    out_words: usize,
    /// Per output, its first word and its number of words.
    out_layout: Vec<(usize, usize)>,
}

// SAFETY: after `finalize_definitions` the module is never mutated; the
// code and the metadata are read-only, and each call gets its own frame and
// `Rt`. The module is only touched again when it is freed, on drop.
unsafe impl Send for JitFunction {}
unsafe impl Sync for JitFunction {}

impl Drop for JitFunction {
    fn drop(&mut self) {
        if let Some(module) = self.module.take() {
            // SAFETY: no call can be running: calls borrow `self`.
            unsafe { module.free_memory() };
        }
    }
}

impl fmt::Debug for JitFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "JitFunction({} inputs, {} outputs, frame {} bytes)",
            self.inputs.len(),
            self.outputs.len(),
            self.frame_size
        )
    }
}

/// The size of a value of `ty` in the JIT's layout: 8 bytes per f64/i64
/// element, 1 per boolean element, at least one word for a scalar.
pub(crate) fn byte_size(ty: &Type) -> Option<usize> {
    let n = ty.num_elements()?;
    Some(if ty.is_scalar() {
        8
    } else {
        match ty.elem {
            Elem::Bool => n,
            _ => 8 * n,
        }
    })
}

fn words(ty: &Type) -> Option<usize> {
    byte_size(ty).map(|b| b.div_ceil(8))
}

/// Compiles `func` to native code.
pub fn compile(func: &Function) -> Result<JitFunction, Unsupported> {
    let inputs = func.param_types();
    let outputs = func.result_types();
    // One input word per parameter: a scalar, or the address of a tensor.
    if inputs.iter().any(|ty| words(ty).is_none()) {
        return Err(Unsupported {
            reason: "a parameter has a dynamic shape".into(),
        });
    }
    let in_words = inputs.len();
    let out_words = outputs
        .iter()
        .map(words)
        .sum::<Option<usize>>()
        .ok_or_else(|| Unsupported {
            reason: "a result has a dynamic shape".into(),
        })?;
    let compiled = lower::compile(func, in_words, out_words)?;
    let mut out_layout = Vec::with_capacity(outputs.len());
    let mut at = 0;
    for ty in &outputs {
        let n = words_of(ty);
        out_layout.push((at, n));
        at += n;
    }
    Ok(JitFunction {
        module: Some(compiled.module),
        body: compiled.body,
        batch: compiled.batch,
        sum: compiled.sum,
        meta: compiled.meta,
        frame_size: compiled.frame_size,
        frames: std::sync::Mutex::new(Vec::new()),
        inputs,
        outputs,
        in_words,
        out_words,
        out_layout,
    })
}

impl JitFunction {
    /// The input words of a call on `args`: a scalar's bits, or the address
    /// of a tensor's elements — the value's own row-major data when it has
    /// the compiled layout (no copy: parameters are megabytes), else a copy
    /// kept in the returned [`Inputs`] for the call.
    fn pack_inputs<'v>(&self, args: &'v [Value]) -> Inputs<'v> {
        assert_eq!(
            args.len(),
            self.inputs.len(),
            "internal error: a compiled function called with the wrong number of arguments"
        );
        let mut inputs = Inputs {
            words: Vec::with_capacity(self.in_words),
            copies: Vec::new(),
            _args: std::marker::PhantomData,
        };
        for (v, ty) in args.iter().zip(&self.inputs) {
            let word = match v {
                Value::F(x) => x.to_bits(),
                Value::I(x) => *x as u64,
                Value::B(x) => u64::from(*x),
                Value::T(t) => {
                    assert_eq!(
                        t.shape(),
                        ty.shape.as_slice(),
                        "internal error: a compiled function called with a tensor of the wrong shape"
                    );
                    // f64, i64 and bool (one byte, 0 or 1) elements are
                    // stored as compiled code reads them.
                    let data = match &**t {
                        Tensor::F(a) => a.as_slice().map(|d| d.as_ptr() as u64),
                        Tensor::I(a) => a.as_slice().map(|d| d.as_ptr() as u64),
                        Tensor::B(a) => a.as_slice().map(|d| d.as_ptr() as u64),
                    };
                    data.unwrap_or_else(|| {
                        let mut copy = vec![0u64; words_of(ty).max(1)];
                        // SAFETY: the copy was sized for the value's layout.
                        unsafe { helpers::write_value(v, copy.as_mut_ptr() as *mut u8) };
                        let at = copy.as_ptr() as u64;
                        inputs.copies.push(copy);
                        at
                    })
                }
            };
            inputs.words.push(word);
        }
        inputs
    }

    fn unpack_outputs(&self, words: &[u64]) -> Vec<Value> {
        let mut out = Vec::with_capacity(self.outputs.len());
        let mut at = 0;
        for ty in &self.outputs {
            let n = words_of(ty);
            let v = if ty.is_scalar() {
                match ty.elem {
                    Elem::F64 => Value::F(f64::from_bits(words[at])),
                    Elem::I64 => Value::I(words[at] as i64),
                    Elem::Bool => Value::B(words[at] != 0),
                }
            } else {
                // SAFETY: the words hold the tensor in the JIT's layout.
                unsafe { helpers::read_tensor(words[at..].as_ptr() as *const u8, ty) }
            };
            out.push(v);
            at += n;
        }
        out
    }

    /// A frame for one call: a kept one, or a new one. Compiled code writes
    /// every slot before it reads it, so a kept frame's old contents are
    /// never seen.
    fn take_frame(&self) -> Vec<u64> {
        let kept = self.frames.lock().ok().and_then(|mut f| f.pop());
        kept.unwrap_or_else(|| vec![0u64; self.frame_size.div_ceil(8) + 1])
    }

    /// Keeps `frame` for a later call.
    fn keep_frame(&self, frame: Vec<u64>) {
        if let Ok(mut frames) = self.frames.lock() {
            frames.push(frame);
        }
    }

    fn rt(&self, frame: &mut [u64], key: RunKey, ctx: &mut RunContext) -> Rt {
        Rt {
            frame: frame.as_mut_ptr() as *mut u8,
            base: key.base(),
            key,
            ctx: ctx as *mut RunContext,
            meta: &*self.meta as *const Meta,
            error: None,
        }
    }

    /// Runs the compiled function on `args` within `ctx` (as
    /// [`crate::interp::run`] does).
    pub fn run(&self, args: &[Value], ctx: &mut RunContext) -> Result<Vec<Value>, RunError> {
        let inputs = self.pack_inputs(args);
        let mut outputs = vec![0u64; self.out_words];
        let mut frame = self.take_frame();
        let key = ctx.key.unwrap_or(RunKey::new(0, 0, 0));
        let mut rt = self.rt(&mut frame, key, ctx);
        // SAFETY: the buffers are sized for this function's layout and `rt`
        // lives for the whole call.
        let status = unsafe { (self.body)(inputs.words.as_ptr(), outputs.as_mut_ptr(), &mut rt) };
        let error = rt.error.take();
        self.keep_frame(frame);
        if status != 0 {
            return Err(error.unwrap_or_else(|| RunError {
                message: "internal error: compiled code failed without an error".into(),
                origin: Origin::default(),
            }));
        }
        Ok(self.unpack_outputs(&outputs))
    }

    /// Where each output lies in a row of [`JitFunction::run_batch`]:
    /// its first word and its number of words.
    pub fn output_layout(&self) -> &[(usize, usize)] {
        &self.out_layout
    }

    /// The output types.
    pub fn output_types(&self) -> &[Type] {
        &self.outputs
    }

    /// Runs particles `start..end` of step `step` with seed `seed`, one call
    /// each inside compiled code, and returns their outputs as rows of
    /// words in the JIT's layout ([`JitFunction::output_layout`]), row `k`
    /// for particle `start + k` — or the first error with its particle.
    /// Nothing is allocated per particle.
    pub fn run_batch(
        &self,
        args: &[Value],
        seed: u64,
        step: u64,
        start: usize,
        end: usize,
    ) -> Result<Vec<u64>, (usize, RunError)> {
        let n = end.saturating_sub(start);
        self.particle_loop(self.batch, args, seed, step, start, end, self.out_words * n)
    }

    /// Runs particles `start..end` as [`JitFunction::run_batch`] does, but
    /// returns one row: the sum over the particles, taken in particle order
    /// inside compiled code, of every real output (other outputs' words are
    /// zero).
    pub fn run_sum(
        &self,
        args: &[Value],
        seed: u64,
        step: u64,
        start: usize,
        end: usize,
    ) -> Result<Vec<u64>, (usize, RunError)> {
        self.particle_loop(self.sum, args, seed, step, start, end, self.out_words)
    }

    #[allow(clippy::too_many_arguments)]
    fn particle_loop(
        &self,
        entry: BatchFn,
        args: &[Value],
        seed: u64,
        step: u64,
        start: usize,
        end: usize,
        out_len: usize,
    ) -> Result<Vec<u64>, (usize, RunError)> {
        let inputs = self.pack_inputs(args);
        // Zero words are 0.0: the sums start there.
        let mut outputs = vec![0u64; out_len];
        // The scratch row is kept with the frame: each particle writes all
        // of it before it is read.
        let mut frame = self.take_frame();
        let mut scratch = self.take_frame();
        scratch.resize(scratch.len().max(self.out_words.max(1)), 0);
        let key = RunKey::new(seed, step, start as u64);
        let mut ctx = RunContext::new(key);
        let mut rt = self.rt(&mut frame, key, &mut ctx);
        // SAFETY: as in `run`; the output buffer has a row per particle
        // (or the one row of sums), the scratch row one row.
        let status = unsafe {
            entry(
                inputs.words.as_ptr(),
                outputs.as_mut_ptr(),
                &mut rt,
                start as i64,
                end as i64,
                scratch.as_mut_ptr(),
            )
        };
        self.keep_frame(frame);
        self.keep_frame(scratch);
        if status != 0 {
            let particle = rt.key.particle as usize;
            return Err((
                particle,
                rt.error.take().unwrap_or_else(|| RunError {
                    message: "internal error: compiled code failed without an error".into(),
                    origin: Origin::default(),
                }),
            ));
        }
        Ok(outputs)
    }

    /// The words of one row of [`JitFunction::run_batch`].
    pub fn row_words(&self) -> usize {
        self.out_words
    }
}

fn words_of(ty: &Type) -> usize {
    words(ty).unwrap_or(0)
}
