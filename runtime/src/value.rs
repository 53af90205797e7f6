//! Run-time values of the IR: scalars unboxed, tensors shared.

use ndarray::ArrayD;
use std::fmt;
use std::sync::Arc;
use vprog_compiler::ir::{Elem, Type};
use vprog_compiler::prim::eval::Scalar;

/// The elements of a tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum Tensor {
    /// `f64` elements.
    F(ArrayD<f64>),
    /// `i64` elements.
    I(ArrayD<i64>),
    /// `bool` elements.
    B(ArrayD<bool>),
}

impl Tensor {
    /// The tensor's shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Tensor::F(a) => a.shape(),
            Tensor::I(a) => a.shape(),
            Tensor::B(a) => a.shape(),
        }
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            Tensor::F(a) => a.len(),
            Tensor::I(a) => a.len(),
            Tensor::B(a) => a.len(),
        }
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A value of the IR.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An `f64` scalar.
    F(f64),
    /// An `i64` scalar.
    I(i64),
    /// A `bool` scalar.
    B(bool),
    /// A tensor of rank ≥ 1.
    T(Arc<Tensor>),
}

impl Value {
    /// An `f64` tensor value.
    pub fn from_f64_array(a: ArrayD<f64>) -> Value {
        Value::T(Arc::new(Tensor::F(a)))
    }

    /// An `f64` vector value.
    pub fn vector(v: Vec<f64>) -> Value {
        Value::from_f64_array(ArrayD::from_shape_vec(vec![v.len()], v).expect("vector shape"))
    }

    /// The scalar, if this is one.
    pub fn as_scalar(&self) -> Option<Scalar> {
        match *self {
            Value::F(x) => Some(Scalar::F(x)),
            Value::I(x) => Some(Scalar::I(x)),
            Value::B(x) => Some(Scalar::B(x)),
            Value::T(_) => None,
        }
    }

    /// The value of a scalar.
    pub fn from_scalar(s: Scalar) -> Value {
        match s {
            Scalar::F(x) => Value::F(x),
            Scalar::I(x) => Value::I(x),
            Scalar::B(x) => Value::B(x),
        }
    }

    /// The `f64` scalar, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F(x) => Some(x),
            _ => None,
        }
    }

    /// The `i64` scalar, if this is one.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I(x) => Some(x),
            _ => None,
        }
    }

    /// The `bool` scalar, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            Value::B(x) => Some(x),
            _ => None,
        }
    }

    /// The `f64` tensor, if this is one.
    pub fn as_f64_array(&self) -> Option<&ArrayD<f64>> {
        match self {
            Value::T(t) => match &**t {
                Tensor::F(a) => Some(a),
                _ => None,
            },
            _ => None,
        }
    }

    /// The shape (empty for scalars).
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::T(t) => t.shape(),
            _ => &[],
        }
    }

    /// Every `f64` element, flattened row-major (empty for non-`f64`).
    pub fn f64_elements(&self) -> Vec<f64> {
        match self {
            Value::F(x) => vec![*x],
            Value::T(t) => match &**t {
                Tensor::F(a) => a.iter().copied().collect(),
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    /// Every element converted to `f64` (integers as is, booleans as 0/1),
    /// flattened row-major.
    pub fn as_reals(&self) -> Vec<f64> {
        match self {
            Value::F(x) => vec![*x],
            Value::I(x) => vec![*x as f64],
            Value::B(x) => vec![f64::from(u8::from(*x))],
            Value::T(t) => match &**t {
                Tensor::F(a) => a.iter().copied().collect(),
                Tensor::I(a) => a.iter().map(|&x| x as f64).collect(),
                Tensor::B(a) => a.iter().map(|&x| f64::from(u8::from(x))).collect(),
            },
        }
    }

    /// Whether every `f64` element is finite (true for non-`f64` values).
    pub fn is_finite(&self) -> bool {
        match self {
            Value::F(x) => x.is_finite(),
            Value::T(t) => match &**t {
                Tensor::F(a) => a.iter().all(|x| x.is_finite()),
                _ => true,
            },
            _ => true,
        }
    }

    /// The zero value of an `f64` type.
    pub fn zeros(ty: &Type) -> Value {
        if ty.is_scalar() {
            match ty.elem {
                Elem::F64 => Value::F(0.0),
                Elem::I64 => Value::I(0),
                Elem::Bool => Value::B(false),
            }
        } else {
            let shape = ty.shape.clone();
            Value::T(Arc::new(match ty.elem {
                Elem::F64 => Tensor::F(ArrayD::zeros(shape)),
                Elem::I64 => Tensor::I(ArrayD::zeros(shape)),
                Elem::Bool => Tensor::B(ArrayD::from_elem(shape, false)),
            }))
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::F(x) => write!(f, "{x}"),
            Value::I(x) => write!(f, "{x}"),
            Value::B(x) => write!(f, "{x}"),
            Value::T(t) => match &**t {
                Tensor::F(a) => write!(f, "{a}"),
                Tensor::I(a) => write!(f, "{a}"),
                Tensor::B(a) => write!(f, "{a}"),
            },
        }
    }
}
