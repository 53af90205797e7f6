//! The primitives of the IR and their rules.
//!
//! A primitive is a pure function of its operands with one result. Each one
//! declares, by an exhaustive `match` on [`Prim`]:
//!
//! * its name and attributes in printed IR (this file);
//! * its result type given its operand types (this file, [`Prim::result_type`]);
//! * its scalar kernel (`eval.rs`), which the interpreter maps over tensors
//!   for the elementwise primitives and the constant folder calls;
//! * its forward-mode (jvp) and reverse-mode (vjp) rules as IR emitters
//!   (`ad.rs`);
//! * its batching rule (`batch.rs`), which the vmap transform uses to
//!   replace an independent loop by operations over a leading batch axis.
//!
//! The shape and linear-algebra primitives (`matmul`, `transpose`,
//! `reshape`, `concat`, `slice`, `gather`, `scatter_add`, the axis
//! reductions, `expand`) keep their type rules in `tensor.rs` and their
//! derivative rules in `tensor_ad.rs`; their kernels are tensor kernels of
//! the interpreter, not scalar ones.
//!
//! Adding a primitive therefore fails to compile until every rule exists.
//! Distributions, objectives and layers are not primitives: they are built
//! from these.

pub mod ad;
pub mod batch;
pub mod eval;
mod tensor;
mod tensor_ad;

pub use tensor::AxisReduction;

use crate::ir::{Elem, Type};
use std::fmt;
use std::sync::Arc;

/// A run-time check a `guard` primitive performs on its operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GuardKind {
    /// Every element is finite and > 0.
    Positive,
    /// Every element is finite and ≥ 0.
    NonNegative,
    /// Every element is in [0, 1].
    UnitInterval,
    /// Every element is finite.
    Finite,
    /// A vector of non-negative elements summing to 1 (within 1e-6).
    Probabilities,
    /// A square matrix, lower-triangular, with a positive diagonal.
    LowerTriangularPositiveDiagonal,
    /// An integer ≥ 0.
    NonNegativeInt,
    /// A boolean that is true (a choice-map entry that must be present).
    Present,
}

impl GuardKind {
    /// The name in printed IR.
    pub fn name(self) -> &'static str {
        match self {
            GuardKind::Positive => "positive",
            GuardKind::NonNegative => "nonnegative",
            GuardKind::UnitInterval => "unit_interval",
            GuardKind::Finite => "finite",
            GuardKind::Probabilities => "probabilities",
            GuardKind::LowerTriangularPositiveDiagonal => "lower_triangular",
            GuardKind::NonNegativeInt => "nonnegative_int",
            GuardKind::Present => "present",
        }
    }

    /// The guard named `name`.
    pub fn from_name(name: &str) -> Option<GuardKind> {
        Some(match name {
            "positive" => GuardKind::Positive,
            "nonnegative" => GuardKind::NonNegative,
            "unit_interval" => GuardKind::UnitInterval,
            "finite" => GuardKind::Finite,
            "probabilities" => GuardKind::Probabilities,
            "lower_triangular" => GuardKind::LowerTriangularPositiveDiagonal,
            "nonnegative_int" => GuardKind::NonNegativeInt,
            "present" => GuardKind::Present,
            _ => return None,
        })
    }

    /// What a failing value violates, as the end of a sentence
    /// ("scale must be ...").
    pub fn requirement(self) -> &'static str {
        match self {
            GuardKind::Positive => "positive and finite",
            GuardKind::NonNegative => "non-negative and finite",
            GuardKind::UnitInterval => "in [0, 1]",
            GuardKind::Finite => "finite",
            GuardKind::Probabilities => "non-negative and sum to 1",
            GuardKind::LowerTriangularPositiveDiagonal => {
                "lower-triangular with a positive diagonal"
            }
            GuardKind::NonNegativeInt => "a non-negative integer",
            GuardKind::Present => "present",
        }
    }
}

/// A primitive operation.
#[derive(Clone, Debug, PartialEq)]
pub enum Prim {
    /// An `f64` constant.
    ConstF64(f64),
    /// An `i64` constant.
    ConstI64(i64),
    /// A `bool` constant.
    ConstBool(bool),
    /// An `f64` tensor constant (row-major data).
    ConstTensor {
        /// The shape.
        shape: Vec<usize>,
        /// The elements, row-major. Shared, because a constant can be large
        /// (a data set read by `load_csv`) and passes copy operations.
        data: Arc<[f64]>,
    },

    /// `-x` (f64 or i64).
    Neg,
    /// `e^x`.
    Exp,
    /// `ln x`.
    Log,
    /// `ln(1 + x)`.
    Log1p,
    /// `e^x − 1`.
    Expm1,
    /// `√x`.
    Sqrt,
    /// `sin x`.
    Sin,
    /// `cos x`.
    Cos,
    /// `tan x`.
    Tan,
    /// `atan x`.
    Atan,
    /// `tanh x`.
    Tanh,
    /// `1 / (1 + e^−x)`.
    Sigmoid,
    /// `ln(1 + e^x)`.
    Softplus,
    /// `|x|` (f64 or i64).
    Abs,
    /// The sign of `x` (−1, 0, 1); derivative zero.
    Sign,
    /// `⌊x⌋` as f64; derivative zero (and a non-differentiable use).
    Floor,
    /// `ln Γ(x)`.
    Lgamma,
    /// `ψ(x)`.
    Digamma,
    /// `ψ⁽ⁿ⁾(x)` for n ≥ 1.
    Polygamma(u32),

    /// `a + b` (f64 or i64, same types).
    Add,
    /// `a − b`.
    Sub,
    /// `a · b`.
    Mul,
    /// `a / b` (integer division rounds toward −∞).
    Div,
    /// `a mod b` (i64 only; the sign of `b`).
    Rem,
    /// `a^b` (f64).
    Pow,
    /// `max(a, b)`.
    Max,
    /// `min(a, b)`.
    Min,
    /// P(a, x), the regularized lower incomplete gamma function.
    GammaP,
    /// ∂P(a, x)/∂a.
    GammaPDa,

    /// `a < b` (elementwise, bool result).
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
    /// `a && b`.
    And,
    /// `a || b`.
    Or,
    /// `!a`.
    Not,
    /// `select(c, a, b)`: `a` where `c`, else `b` (elementwise; `c` may be
    /// a scalar).
    Select,

    /// i64 → f64.
    IntToF64,
    /// bool → f64 (1 or 0).
    BoolToF64,
    /// f64 → i64, rounding toward −∞ (a non-differentiable use).
    F64ToInt,

    /// A scalar repeated into a tensor of `shape`.
    Broadcast(Vec<usize>),
    /// `broadcast_like(s, t)`: the scalar `s` repeated into the shape of
    /// `t`, known only at run time (a tensor with a dynamic dimension).
    BroadcastLike,
    /// `n` operands of one type stacked along a new leading dimension.
    Pack,
    /// `t[i]` along the leading dimension (checked at run time).
    Index,
    /// `t` with `v` added at `t[i]` (the transpose of `Index`).
    IndexAdd,
    /// The sum of all elements.
    Sum,
    /// `ln Σ e^x` over all elements.
    LogSumExp,
    /// The largest element.
    ReduceMax,
    /// `m · v` (or `mᵀ · v` when transposed) for a matrix and a vector.
    MatVec {
        /// Multiply by the transpose.
        transpose: bool,
    },
    /// `a bᵀ` for two vectors.
    Outer,
    /// `L⁻¹ b` (or `L⁻ᵀ b`) for a lower-triangular `L`, reading only its
    /// lower triangle.
    TriSolve {
        /// Solve with the transpose.
        transpose: bool,
    },
    /// The lower triangle of a matrix (upper entries zeroed).
    Tril,
    /// The diagonal of a square matrix.
    Diagonal,
    /// A square matrix with the vector on its diagonal.
    DiagMatrix,
    /// `op(a) · op(b)` for two matrices, where `op` transposes its operand
    /// when the flag says so: `[n, k] · [k, m] → [n, m]`.
    MatMul {
        /// Multiply by `aᵀ`.
        transpose_a: bool,
        /// Multiply by `bᵀ`.
        transpose_b: bool,
    },
    /// The transpose of a matrix.
    Transpose,
    /// The same elements, row-major, in a new static shape with the same
    /// number of elements.
    Reshape(Vec<usize>),
    /// One or more tensors of one element type joined along their leading
    /// dimension (their other dimensions agree).
    Concat,
    /// Rows `start .. start + len` of the leading dimension.
    Slice {
        /// The first row.
        start: usize,
        /// The number of rows.
        len: usize,
    },
    /// `gather(t, idx)`: the rows `t[idx[0]], t[idx[1]], ...` stacked
    /// (indices checked at run time).
    Gather,
    /// `scatter_add(t, idx, v)`: `t` with row `v[j]` added at `t[idx[j]]`
    /// for every `j`, repeated indices accumulating (the transpose of
    /// `Gather`).
    ScatterAdd,
    /// A reduction over one axis, which the result drops.
    Reduce {
        /// Which reduction.
        op: AxisReduction,
        /// The axis reduced.
        axis: usize,
    },
    /// The operand repeated `n` times along a new axis inserted at `axis`
    /// (the transpose of a sum over that axis).
    Expand {
        /// Where the new axis goes.
        axis: usize,
        /// Its length.
        n: usize,
    },

    /// The identity with derivative zero.
    StopGrad,
    /// The identity, checking its operand at run time; a failure names the
    /// operation's origin and `what` (e.g. "normal: scale").
    Guard {
        /// What is checked.
        kind: GuardKind,
        /// What the operand is, for the message.
        what: String,
    },

    /// `f(x₁, ..., xₙ)` for the host function `id`: a function of real
    /// scalars registered by the embedding program, evaluated by the
    /// runtime through its host registry. Its derivative is the sum of its
    /// partial derivatives ([`Prim::HostPartial`]), which the host supplies.
    Host {
        /// The host function's index in the registry.
        id: u32,
        /// Its number of operands.
        arity: u32,
    },
    /// `∂f/∂x_wrt (x₁, ..., xₙ)` for the host function `id`, as its
    /// registered derivative computes it. Not differentiable itself.
    HostPartial {
        /// The host function's index in the registry.
        id: u32,
        /// Its number of operands.
        arity: u32,
        /// The operand the derivative is taken with respect to.
        wrt: u32,
    },
}

/// A type error in applying a primitive (a compiler bug when it happens
/// after lowering; the verifier reports it).
#[derive(Clone, Debug, PartialEq)]
pub struct PrimTypeError(pub String);

impl fmt::Display for PrimTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, PrimTypeError> {
    Err(PrimTypeError(msg.into()))
}

impl Prim {
    /// The primitive's name in printed IR.
    pub fn name(&self) -> &'static str {
        match self {
            Prim::ConstF64(_) | Prim::ConstI64(_) | Prim::ConstBool(_) => "const",
            Prim::ConstTensor { .. } => "const_tensor",
            Prim::Neg => "neg",
            Prim::Exp => "exp",
            Prim::Log => "log",
            Prim::Log1p => "log1p",
            Prim::Expm1 => "expm1",
            Prim::Sqrt => "sqrt",
            Prim::Sin => "sin",
            Prim::Cos => "cos",
            Prim::Tan => "tan",
            Prim::Atan => "atan",
            Prim::Tanh => "tanh",
            Prim::Sigmoid => "sigmoid",
            Prim::Softplus => "softplus",
            Prim::Abs => "abs",
            Prim::Sign => "sign",
            Prim::Floor => "floor",
            Prim::Lgamma => "lgamma",
            Prim::Digamma => "digamma",
            Prim::Polygamma(_) => "polygamma",
            Prim::Add => "add",
            Prim::Sub => "sub",
            Prim::Mul => "mul",
            Prim::Div => "div",
            Prim::Rem => "rem",
            Prim::Pow => "pow",
            Prim::Max => "max",
            Prim::Min => "min",
            Prim::GammaP => "gamma_p",
            Prim::GammaPDa => "gamma_p_da",
            Prim::Lt => "lt",
            Prim::Le => "le",
            Prim::Gt => "gt",
            Prim::Ge => "ge",
            Prim::Eq => "eq",
            Prim::Ne => "ne",
            Prim::And => "and",
            Prim::Or => "or",
            Prim::Not => "not",
            Prim::Select => "select",
            Prim::IntToF64 => "int_to_f64",
            Prim::BoolToF64 => "bool_to_f64",
            Prim::F64ToInt => "f64_to_int",
            Prim::Broadcast(_) => "broadcast",
            Prim::BroadcastLike => "broadcast_like",
            Prim::Pack => "pack",
            Prim::Index => "index",
            Prim::IndexAdd => "index_add",
            Prim::Sum => "sum",
            Prim::LogSumExp => "logsumexp",
            Prim::ReduceMax => "reduce_max",
            Prim::MatVec { transpose: false } => "matvec",
            Prim::MatVec { transpose: true } => "matvec_t",
            Prim::Outer => "outer",
            Prim::TriSolve { transpose: false } => "trisolve",
            Prim::TriSolve { transpose: true } => "trisolve_t",
            Prim::Tril => "tril",
            Prim::Diagonal => "diagonal",
            Prim::DiagMatrix => "diag_matrix",
            Prim::MatMul {
                transpose_a: false,
                transpose_b: false,
            } => "matmul",
            Prim::MatMul {
                transpose_a: true,
                transpose_b: false,
            } => "matmul_tn",
            Prim::MatMul {
                transpose_a: false,
                transpose_b: true,
            } => "matmul_nt",
            Prim::MatMul {
                transpose_a: true,
                transpose_b: true,
            } => "matmul_tt",
            Prim::Transpose => "transpose",
            Prim::Reshape(_) => "reshape",
            Prim::Concat => "concat",
            Prim::Slice { .. } => "slice",
            Prim::Gather => "gather",
            Prim::ScatterAdd => "scatter_add",
            Prim::Reduce { op, .. } => op.prim_name(),
            Prim::Expand { .. } => "expand",
            Prim::StopGrad => "stop_grad",
            Prim::Guard { .. } => "guard",
            Prim::Host { .. } => "host",
            Prim::HostPartial { .. } => "host_partial",
        }
    }

    /// Whether the primitive applies a scalar function elementwise to
    /// operands of one shape (the interpreter maps [`eval::scalar`] over
    /// them).
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Prim::Neg
                | Prim::Exp
                | Prim::Log
                | Prim::Log1p
                | Prim::Expm1
                | Prim::Sqrt
                | Prim::Sin
                | Prim::Cos
                | Prim::Tan
                | Prim::Atan
                | Prim::Tanh
                | Prim::Sigmoid
                | Prim::Softplus
                | Prim::Abs
                | Prim::Sign
                | Prim::Floor
                | Prim::Lgamma
                | Prim::Digamma
                | Prim::Polygamma(_)
                | Prim::Add
                | Prim::Sub
                | Prim::Mul
                | Prim::Div
                | Prim::Rem
                | Prim::Pow
                | Prim::Max
                | Prim::Min
                | Prim::GammaP
                | Prim::GammaPDa
                | Prim::Lt
                | Prim::Le
                | Prim::Gt
                | Prim::Ge
                | Prim::Eq
                | Prim::Ne
                | Prim::And
                | Prim::Or
                | Prim::Not
                | Prim::Select
                | Prim::IntToF64
                | Prim::BoolToF64
                | Prim::F64ToInt
                | Prim::StopGrad
        )
    }

    /// Whether the primitive's result depends on its operands only through
    /// a non-differentiable test (a comparison, a cast to an integer, a
    /// rounding): a pathwise-differentiated random value must not reach one.
    pub fn is_non_differentiable_use(&self) -> bool {
        matches!(
            self,
            Prim::Lt
                | Prim::Le
                | Prim::Gt
                | Prim::Ge
                | Prim::Eq
                | Prim::Ne
                | Prim::F64ToInt
                | Prim::Floor
                | Prim::Sign
        )
    }

    /// The result type of the primitive applied to operands of types `args`.
    pub fn result_type(&self, args: &[Type]) -> Result<Type, PrimTypeError> {
        let arity = |n: usize| -> Result<(), PrimTypeError> {
            if args.len() == n {
                Ok(())
            } else {
                err(format!(
                    "{} takes {n} operand(s), got {}",
                    self.name(),
                    args.len()
                ))
            }
        };
        let f64_like = |t: &Type| -> Result<(), PrimTypeError> {
            if t.elem == Elem::F64 {
                Ok(())
            } else {
                err(format!("{} needs f64 operands, got {t}", self.name()))
            }
        };
        let same = |a: &Type, b: &Type| -> Result<(), PrimTypeError> {
            if a == b {
                Ok(())
            } else {
                err(format!(
                    "{} needs operands of one type, got {a} and {b}",
                    self.name()
                ))
            }
        };
        match self {
            Prim::ConstF64(_) => arity(0).map(|_| Type::f64()),
            Prim::ConstI64(_) => arity(0).map(|_| Type::i64()),
            Prim::ConstBool(_) => arity(0).map(|_| Type::bool()),
            Prim::ConstTensor { shape, data } => {
                arity(0)?;
                if shape.iter().product::<usize>() != data.len() {
                    return err("const_tensor data does not match its shape");
                }
                Ok(Type::tensor(Elem::F64, shape.clone()))
            }
            Prim::Neg | Prim::Abs => {
                arity(1)?;
                if args[0].elem == Elem::Bool {
                    return err(format!("{} needs a number", self.name()));
                }
                Ok(args[0].clone())
            }
            Prim::Exp
            | Prim::Log
            | Prim::Log1p
            | Prim::Expm1
            | Prim::Sqrt
            | Prim::Sin
            | Prim::Cos
            | Prim::Tan
            | Prim::Atan
            | Prim::Tanh
            | Prim::Sigmoid
            | Prim::Softplus
            | Prim::Sign
            | Prim::Floor
            | Prim::Lgamma
            | Prim::Digamma
            | Prim::Polygamma(_)
            | Prim::StopGrad => {
                arity(1)?;
                f64_like(&args[0])?;
                Ok(args[0].clone())
            }
            Prim::Add | Prim::Sub | Prim::Mul | Prim::Div | Prim::Max | Prim::Min => {
                arity(2)?;
                same(&args[0], &args[1])?;
                if args[0].elem == Elem::Bool {
                    return err(format!("{} needs numbers", self.name()));
                }
                Ok(args[0].clone())
            }
            Prim::Rem => {
                arity(2)?;
                same(&args[0], &args[1])?;
                if args[0].elem != Elem::I64 {
                    return err("rem needs integers");
                }
                Ok(args[0].clone())
            }
            Prim::Pow | Prim::GammaP | Prim::GammaPDa => {
                arity(2)?;
                same(&args[0], &args[1])?;
                f64_like(&args[0])?;
                Ok(args[0].clone())
            }
            Prim::Lt | Prim::Le | Prim::Gt | Prim::Ge | Prim::Eq | Prim::Ne => {
                arity(2)?;
                same(&args[0], &args[1])?;
                Ok(Type::tensor(Elem::Bool, args[0].shape.clone()))
            }
            Prim::And | Prim::Or => {
                arity(2)?;
                same(&args[0], &args[1])?;
                if args[0].elem != Elem::Bool {
                    return err(format!("{} needs booleans", self.name()));
                }
                Ok(args[0].clone())
            }
            Prim::Not => {
                arity(1)?;
                if args[0].elem != Elem::Bool {
                    return err("not needs a boolean");
                }
                Ok(args[0].clone())
            }
            Prim::Select => {
                arity(3)?;
                same(&args[1], &args[2])?;
                if args[0].elem != Elem::Bool
                    || !(args[0].shape.is_empty() || args[0].shape == args[1].shape)
                {
                    return err(format!(
                        "select needs a boolean condition of shape [] or {:?}, got {}",
                        args[1].shape, args[0]
                    ));
                }
                Ok(args[1].clone())
            }
            Prim::IntToF64 | Prim::BoolToF64 => {
                arity(1)?;
                let want = if matches!(self, Prim::IntToF64) {
                    Elem::I64
                } else {
                    Elem::Bool
                };
                if args[0].elem != want {
                    return err(format!("{} needs {}", self.name(), want.name()));
                }
                Ok(Type::tensor(Elem::F64, args[0].shape.clone()))
            }
            Prim::F64ToInt => {
                arity(1)?;
                f64_like(&args[0])?;
                Ok(Type::tensor(Elem::I64, args[0].shape.clone()))
            }
            Prim::Broadcast(shape) => {
                arity(1)?;
                if !args[0].is_scalar() {
                    return err(format!("broadcast needs a scalar, got {}", args[0]));
                }
                if shape.contains(&crate::ir::DYNAMIC) {
                    return err("broadcast to a dynamic shape needs broadcast_like");
                }
                Ok(Type::tensor(args[0].elem, shape.clone()))
            }
            Prim::BroadcastLike => {
                arity(2)?;
                if !args[0].is_scalar() {
                    return err(format!("broadcast_like needs a scalar, got {}", args[0]));
                }
                Ok(Type::tensor(args[0].elem, args[1].shape.clone()))
            }
            Prim::Pack => {
                if args.is_empty() {
                    return err("pack needs at least one operand");
                }
                for a in &args[1..] {
                    same(&args[0], a)?;
                }
                Ok(args[0].stacked(args.len()))
            }
            Prim::Index => {
                arity(2)?;
                if args[1] != Type::i64() {
                    return err(format!("index needs an i64 index, got {}", args[1]));
                }
                args[0]
                    .unstacked()
                    .ok_or_else(|| PrimTypeError("index of a scalar".into()))
            }
            Prim::IndexAdd => {
                arity(3)?;
                if args[1] != Type::i64() {
                    return err(format!("index_add needs an i64 index, got {}", args[1]));
                }
                match args[0].unstacked() {
                    Some(elem) if elem == args[2] => Ok(args[0].clone()),
                    _ => err(format!(
                        "index_add of {} into {} does not fit",
                        args[2], args[0]
                    )),
                }
            }
            Prim::Sum | Prim::LogSumExp | Prim::ReduceMax => {
                arity(1)?;
                if matches!(self, Prim::Sum) && args[0].elem == Elem::Bool {
                    return err("sum needs numbers");
                }
                if !matches!(self, Prim::Sum) {
                    f64_like(&args[0])?;
                }
                Ok(args[0].element_type())
            }
            Prim::MatVec { transpose } => {
                arity(2)?;
                f64_like(&args[0])?;
                f64_like(&args[1])?;
                let (m, v) = (&args[0].shape, &args[1].shape);
                if m.len() != 2 || v.len() != 1 {
                    return err(format!(
                        "matvec needs a matrix and a vector, got {} and {}",
                        args[0], args[1]
                    ));
                }
                let (rows, cols) = if *transpose {
                    (m[1], m[0])
                } else {
                    (m[0], m[1])
                };
                if cols != v[0] {
                    return err(format!(
                        "matvec of {} and {} does not fit",
                        args[0], args[1]
                    ));
                }
                Ok(Type::vector(rows))
            }
            Prim::Outer => {
                arity(2)?;
                f64_like(&args[0])?;
                f64_like(&args[1])?;
                if args[0].shape.len() != 1 || args[1].shape.len() != 1 {
                    return err("outer needs two vectors");
                }
                Ok(Type::tensor(
                    Elem::F64,
                    vec![args[0].shape[0], args[1].shape[0]],
                ))
            }
            Prim::TriSolve { .. } => {
                arity(2)?;
                f64_like(&args[0])?;
                f64_like(&args[1])?;
                let (m, v) = (&args[0].shape, &args[1].shape);
                if m.len() != 2 || m[0] != m[1] || v.len() != 1 || v[0] != m[0] {
                    return err(format!(
                        "trisolve needs an n×n matrix and an n-vector, got {} and {}",
                        args[0], args[1]
                    ));
                }
                Ok(args[1].clone())
            }
            Prim::Tril => {
                arity(1)?;
                f64_like(&args[0])?;
                if args[0].shape.len() != 2 {
                    return err("tril needs a matrix");
                }
                Ok(args[0].clone())
            }
            Prim::Diagonal => {
                arity(1)?;
                f64_like(&args[0])?;
                let m = &args[0].shape;
                if m.len() != 2 || m[0] != m[1] {
                    return err("diagonal needs a square matrix");
                }
                Ok(Type::vector(m[0]))
            }
            Prim::DiagMatrix => {
                arity(1)?;
                f64_like(&args[0])?;
                if args[0].shape.len() != 1 {
                    return err("diag_matrix needs a vector");
                }
                let n = args[0].shape[0];
                Ok(Type::tensor(Elem::F64, vec![n, n]))
            }
            Prim::MatMul { .. }
            | Prim::Transpose
            | Prim::Reshape(_)
            | Prim::Concat
            | Prim::Slice { .. }
            | Prim::Gather
            | Prim::ScatterAdd
            | Prim::Reduce { .. }
            | Prim::Expand { .. } => tensor::result_type(self, args),
            Prim::Guard { kind, .. } => {
                arity(1)?;
                let want = match kind {
                    GuardKind::NonNegativeInt => Elem::I64,
                    GuardKind::Present => Elem::Bool,
                    _ => Elem::F64,
                };
                if args[0].elem != want {
                    return err(format!("guard<{}> needs {}", kind.name(), want.name()));
                }
                Ok(args[0].clone())
            }
            Prim::Host { arity: n, .. } | Prim::HostPartial { arity: n, .. } => {
                arity(*n as usize)?;
                if let Prim::HostPartial { wrt, .. } = self
                    && wrt >= n
                {
                    return err(format!("host_partial with respect to operand {wrt} of {n}"));
                }
                for a in args {
                    if *a != Type::f64() {
                        return err(format!("{} needs real scalars, got {a}", self.name()));
                    }
                }
                Ok(Type::f64())
            }
        }
    }
}
