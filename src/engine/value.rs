//! Values crossing between Rust and vprog, and simulated traces.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use vprog_runtime::value::{Tensor, Value as RuntimeValue};

/// A vprog value seen from Rust: a number, or an array of them. Arguments
/// of generative functions and the choices of a [`Trace`] are `Value`s.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    /// A `real`.
    Real(f64),
    /// An `int`.
    Int(i64),
    /// A `bool`.
    Bool(bool),
    /// An array: its shape and its elements (scalars), row-major.
    Array {
        /// The dimensions, outermost first.
        shape: Vec<usize>,
        /// The elements, row-major.
        elements: Vec<Value>,
    },
}

impl Value {
    /// A one-dimensional array of reals.
    pub fn reals(data: &[f64]) -> Value {
        Value::Array {
            shape: vec![data.len()],
            elements: data.iter().map(|&x| Value::Real(x)).collect(),
        }
    }

    /// The value as a real, if it is a scalar number (an `int` converts).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Real(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }

    /// The value as an integer, if it is an `int`.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    /// The value as a boolean, if it is a `bool`.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// Every element as a real, row-major (booleans as 0 and 1).
    pub fn to_f64_vec(&self) -> Vec<f64> {
        match self {
            Value::Real(x) => vec![*x],
            Value::Int(i) => vec![*i as f64],
            Value::Bool(b) => vec![f64::from(u8::from(*b))],
            Value::Array { elements, .. } => elements.iter().flat_map(Value::to_f64_vec).collect(),
        }
    }

    /// The shape: empty for a scalar.
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::Array { shape, .. } => shape,
            _ => &[],
        }
    }

    /// The element `i` along the leading dimension of an array.
    pub fn index(&self, i: usize) -> Option<Value> {
        let Value::Array { shape, elements } = self else {
            return None;
        };
        let (&n, inner) = shape.split_first()?;
        if i >= n {
            return None;
        }
        let size: usize = inner.iter().product();
        let part = elements[i * size..(i + 1) * size].to_vec();
        Some(if inner.is_empty() {
            part.into_iter().next()?
        } else {
            Value::Array {
                shape: inner.to_vec(),
                elements: part,
            }
        })
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Value {
        Value::Real(x)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<Vec<f64>> for Value {
    fn from(v: Vec<f64>) -> Value {
        Value::reals(&v)
    }
}

impl From<&RuntimeValue> for Value {
    fn from(v: &RuntimeValue) -> Value {
        match v {
            RuntimeValue::F(x) => Value::Real(*x),
            RuntimeValue::I(i) => Value::Int(*i),
            RuntimeValue::B(b) => Value::Bool(*b),
            RuntimeValue::T(t) => {
                let shape = t.shape().to_vec();
                let elements = match &**t {
                    Tensor::F(a) => a.iter().map(|&x| Value::Real(x)).collect(),
                    Tensor::I(a) => a.iter().map(|&x| Value::Int(x)).collect(),
                    Tensor::B(a) => a.iter().map(|&x| Value::Bool(x)).collect(),
                };
                Value::Array { shape, elements }
            }
        }
    }
}

impl fmt::Display for Value {
    /// Reals print in their shortest round-trip form with a decimal point
    /// (`6.0`, `0.1`, `1e-7`), arrays nested by dimension (`[[1.0, 2.0]]`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn nested(f: &mut fmt::Formatter<'_>, shape: &[usize], elements: &[Value]) -> fmt::Result {
            let Some((&n, inner)) = shape.split_first() else {
                return match elements.first() {
                    Some(e) => write!(f, "{e}"),
                    None => Ok(()),
                };
            };
            let size: usize = inner.iter().product();
            f.write_str("[")?;
            for i in 0..n {
                if i > 0 {
                    f.write_str(", ")?;
                }
                nested(f, inner, &elements[i * size..(i + 1) * size])?;
            }
            f.write_str("]")
        }
        match self {
            Value::Real(x) => write!(f, "{x:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Array { shape, elements } => nested(f, shape, elements),
        }
    }
}

/// One run of a generative function: its random choices by address, their
/// log density, and its return value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// The choices made, by address (`x`, `a/x` for the choice `x` of the
    /// traced call `a`); a choice made in a loop holds the array of its
    /// values, and a choice made under an `if` that did not run is absent.
    pub choices: BTreeMap<String, Value>,
    /// For a choice made under an `if` inside a loop: which iterations
    /// made it (row-major over the loops); its array holds placeholder
    /// values elsewhere.
    pub made: BTreeMap<String, Vec<bool>>,
    /// The log density of the choices, `log p(choices)`.
    pub log_density: f64,
    /// The return value, when it is made of numbers (a tuple's or record's
    /// leaves are flattened into an array of reals).
    pub retval: Option<Value>,
}

impl Trace {
    /// The value of the choice at `address`.
    pub fn get(&self, address: &str) -> Option<&Value> {
        self.choices.get(address)
    }

    /// The addresses of the choices made, in order.
    pub fn addresses(&self) -> impl Iterator<Item = &str> {
        self.choices.keys().map(String::as_str)
    }
}
