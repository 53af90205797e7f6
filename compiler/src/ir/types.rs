//! IR types: an element type and a static shape.
//!
//! Every IR value is a tensor of `f64`, `i64` or `bool` with a shape fixed
//! at compile time; scalars are rank-0 tensors. A dimension may be
//! [`DYNAMIC`] only as the leading dimension of the values a `for` loop with
//! non-constant bounds stacks (its per-iteration outputs).

use std::fmt;

/// A dimension whose extent is known only at run time.
pub const DYNAMIC: usize = usize::MAX;

/// The element type of an IR value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Elem {
    /// 64-bit floating point; the only differentiable element type.
    F64,
    /// 64-bit signed integer.
    I64,
    /// Boolean.
    Bool,
}

impl Elem {
    /// The element type's name in printed IR.
    pub fn name(self) -> &'static str {
        match self {
            Elem::F64 => "f64",
            Elem::I64 => "i64",
            Elem::Bool => "bool",
        }
    }
}

/// The type of an IR value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Type {
    /// The element type.
    pub elem: Elem,
    /// The shape; empty for scalars.
    pub shape: Vec<usize>,
}

impl Type {
    /// The `f64` scalar type.
    pub fn f64() -> Type {
        Type::scalar(Elem::F64)
    }

    /// The `i64` scalar type.
    pub fn i64() -> Type {
        Type::scalar(Elem::I64)
    }

    /// The `bool` scalar type.
    pub fn bool() -> Type {
        Type::scalar(Elem::Bool)
    }

    /// The scalar of `elem`.
    pub fn scalar(elem: Elem) -> Type {
        Type {
            elem,
            shape: Vec::new(),
        }
    }

    /// A tensor of `elem` with `shape`.
    pub fn tensor(elem: Elem, shape: Vec<usize>) -> Type {
        Type { elem, shape }
    }

    /// An `f64` vector of length `n`.
    pub fn vector(n: usize) -> Type {
        Type::tensor(Elem::F64, vec![n])
    }

    /// Whether this is a rank-0 value.
    pub fn is_scalar(&self) -> bool {
        self.shape.is_empty()
    }

    /// Whether values of this type carry derivatives.
    pub fn is_differentiable(&self) -> bool {
        self.elem == Elem::F64
    }

    /// The number of elements, if every dimension is static.
    pub fn num_elements(&self) -> Option<usize> {
        self.shape.iter().try_fold(
            1usize,
            |acc, &d| {
                if d == DYNAMIC { None } else { Some(acc * d) }
            },
        )
    }

    /// This type with a leading dimension `n` added (the type of `n` stacked
    /// values of this type).
    pub fn stacked(&self, n: usize) -> Type {
        let mut shape = Vec::with_capacity(self.shape.len() + 1);
        shape.push(n);
        shape.extend_from_slice(&self.shape);
        Type::tensor(self.elem, shape)
    }

    /// The type of one element along the leading dimension.
    pub fn unstacked(&self) -> Option<Type> {
        if self.shape.is_empty() {
            None
        } else {
            Some(Type::tensor(self.elem, self.shape[1..].to_vec()))
        }
    }

    /// The scalar type of this type's elements.
    pub fn element_type(&self) -> Type {
        Type::scalar(self.elem)
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.elem.name())?;
        if !self.shape.is_empty() {
            f.write_str("[")?;
            for (i, &d) in self.shape.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if d == DYNAMIC {
                    f.write_str("?")?;
                } else {
                    write!(f, "{d}")?;
                }
            }
            f.write_str("]")?;
        }
        Ok(())
    }
}
