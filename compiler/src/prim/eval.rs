//! Scalar kernels of the elementwise primitives.
//!
//! The interpreter maps [`scalar`] over tensors for every primitive whose
//! [`Prim::is_elementwise`] is true, and the constant folder calls it on
//! constant operands, so there is one definition of each primitive's
//! meaning. Floating-point operations follow IEEE 754 (a `log` of a negative
//! number is NaN, caught by the driver's NaN check); integer division by
//! zero is an error.

use super::Prim;
use crate::special;

/// A scalar operand or result.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// An `f64`.
    F(f64),
    /// An `i64`.
    I(i64),
    /// A `bool`.
    B(bool),
}

impl Scalar {
    /// The value as an `f64` (integers and booleans converted).
    pub fn as_f64(self) -> f64 {
        match self {
            Scalar::F(x) => x,
            Scalar::I(i) => i as f64,
            Scalar::B(b) => f64::from(u8::from(b)),
        }
    }
}

/// An error evaluating a primitive on valid-typed operands.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalError(pub String);

/// The sign of `x`: 1, −1, 0 (for either zero), NaN for NaN.
#[inline]
pub fn sign(x: f64) -> f64 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else if x == 0.0 {
        0.0
    } else {
        f64::NAN
    }
}

/// The larger of `a` and `b`, NaN if either is NaN, `+0` over `−0` (IEEE
/// 754-2019 `maximum`; written with comparisons so that vector loops
/// compute the same).
#[inline]
pub fn maximum(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else if b > a {
        b
    } else if a == b {
        // Equal: the same bits, or zeros of two signs, whose `and` is +0.
        f64::from_bits(a.to_bits() & b.to_bits())
    } else {
        f64::NAN
    }
}

/// The smaller of `a` and `b`, NaN if either is NaN, `−0` under `+0` (IEEE
/// 754-2019 `minimum`).
#[inline]
pub fn minimum(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else if b < a {
        b
    } else if a == b {
        // Equal: the same bits, or zeros of two signs, whose `or` is −0.
        f64::from_bits(a.to_bits() | b.to_bits())
    } else {
        f64::NAN
    }
}

/// Applies the elementwise primitive `prim` to scalar operands. Callers
/// guarantee the operand types are those the type rule accepts.
pub fn scalar(prim: &Prim, args: &[Scalar]) -> Result<Scalar, EvalError> {
    use Scalar::{B, F, I};
    let bad = || EvalError(format!("{} applied to {:?}", prim.name(), args));
    let f1 = |f: fn(f64) -> f64| match args {
        [F(x)] => Ok(F(f(*x))),
        _ => Err(bad()),
    };
    let f2 = |f: fn(f64, f64) -> f64| match args {
        [F(a), F(b)] => Ok(F(f(*a, *b))),
        _ => Err(bad()),
    };
    let cmp = |f: fn(std::cmp::Ordering) -> bool| match args {
        [F(a), F(b)] => Ok(B(a.partial_cmp(b).is_some_and(f))),
        [I(a), I(b)] => Ok(B(f(a.cmp(b)))),
        [B(a), B(b)] => Ok(B(f(a.cmp(b)))),
        _ => Err(bad()),
    };
    match prim {
        Prim::Neg => match args {
            [F(x)] => Ok(F(-x)),
            [I(x)] => Ok(I(x.wrapping_neg())),
            _ => Err(bad()),
        },
        Prim::Abs => match args {
            [F(x)] => Ok(F(x.abs())),
            [I(x)] => Ok(I(x.wrapping_abs())),
            _ => Err(bad()),
        },
        Prim::Exp => f1(f64::exp),
        Prim::Log => f1(f64::ln),
        Prim::Log1p => f1(f64::ln_1p),
        Prim::Expm1 => f1(f64::exp_m1),
        Prim::Sqrt => f1(f64::sqrt),
        Prim::Sin => f1(f64::sin),
        Prim::Cos => f1(f64::cos),
        Prim::Tan => f1(f64::tan),
        Prim::Atan => f1(f64::atan),
        Prim::Tanh => f1(f64::tanh),
        Prim::Sigmoid => f1(special::sigmoid),
        Prim::Softplus => f1(special::log1p_exp),
        Prim::Sign => f1(sign),
        Prim::Floor => f1(f64::floor),
        Prim::Lgamma => f1(special::ln_gamma),
        Prim::Digamma => f1(special::digamma),
        Prim::Polygamma(n) => match args {
            [F(x)] => Ok(F(special::polygamma(*n, *x))),
            _ => Err(bad()),
        },
        Prim::Add => match args {
            [F(a), F(b)] => Ok(F(a + b)),
            [I(a), I(b)] => Ok(I(a.wrapping_add(*b))),
            _ => Err(bad()),
        },
        Prim::Sub => match args {
            [F(a), F(b)] => Ok(F(a - b)),
            [I(a), I(b)] => Ok(I(a.wrapping_sub(*b))),
            _ => Err(bad()),
        },
        Prim::Mul => match args {
            [F(a), F(b)] => Ok(F(a * b)),
            [I(a), I(b)] => Ok(I(a.wrapping_mul(*b))),
            _ => Err(bad()),
        },
        Prim::Div => match args {
            [F(a), F(b)] => Ok(F(a / b)),
            [I(_), I(0)] => Err(EvalError("integer division by zero".into())),
            [I(a), I(b)] => Ok(I(
                a.div_euclid(*b) - i64::from(b < &0 && a.rem_euclid(*b) != 0)
            )),
            _ => Err(bad()),
        },
        Prim::Rem => match args {
            [I(_), I(0)] => Err(EvalError("integer remainder by zero".into())),
            [I(a), I(b)] => {
                let r = a.rem_euclid(*b);
                Ok(I(if *b < 0 && r != 0 { r + b } else { r }))
            }
            _ => Err(bad()),
        },
        Prim::Pow => f2(f64::powf),
        Prim::Max => match args {
            [F(a), F(b)] => Ok(F(maximum(*a, *b))),
            [I(a), I(b)] => Ok(I(*a.max(b))),
            _ => Err(bad()),
        },
        Prim::Min => match args {
            [F(a), F(b)] => Ok(F(minimum(*a, *b))),
            [I(a), I(b)] => Ok(I(*a.min(b))),
            _ => Err(bad()),
        },
        Prim::GammaP => f2(special::gamma_p),
        Prim::GammaPDa => f2(special::gamma_p_da),
        Prim::Lt => cmp(|o| o.is_lt()),
        Prim::Le => cmp(|o| o.is_le()),
        Prim::Gt => cmp(|o| o.is_gt()),
        Prim::Ge => cmp(|o| o.is_ge()),
        Prim::Eq => cmp(|o| o.is_eq()),
        Prim::Ne => match args {
            [F(a), F(b)] => Ok(B(a != b)),
            [I(a), I(b)] => Ok(B(a != b)),
            [B(a), B(b)] => Ok(B(a != b)),
            _ => Err(bad()),
        },
        Prim::And => match args {
            [B(a), B(b)] => Ok(B(*a && *b)),
            _ => Err(bad()),
        },
        Prim::Or => match args {
            [B(a), B(b)] => Ok(B(*a || *b)),
            _ => Err(bad()),
        },
        Prim::Not => match args {
            [B(a)] => Ok(B(!a)),
            _ => Err(bad()),
        },
        Prim::Select => match args {
            [B(c), a, b] => Ok(if *c { *a } else { *b }),
            _ => Err(bad()),
        },
        Prim::IntToF64 => match args {
            [I(i)] => Ok(F(*i as f64)),
            _ => Err(bad()),
        },
        Prim::BoolToF64 => match args {
            [B(b)] => Ok(F(f64::from(u8::from(*b)))),
            _ => Err(bad()),
        },
        Prim::F64ToInt => match args {
            [F(x)] if x.is_finite() && x.abs() < 9.0e18 => Ok(I(x.floor() as i64)),
            [F(x)] => Err(EvalError(format!("cannot convert {x} to an integer"))),
            _ => Err(bad()),
        },
        Prim::StopGrad => match args {
            [x] => Ok(*x),
            _ => Err(bad()),
        },
        _ => Err(EvalError(format!(
            "{} is not an elementwise primitive",
            prim.name()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_division_rounds_toward_negative_infinity() {
        let div = |a, b| scalar(&Prim::Div, &[Scalar::I(a), Scalar::I(b)]).unwrap();
        let rem = |a, b| scalar(&Prim::Rem, &[Scalar::I(a), Scalar::I(b)]).unwrap();
        assert_eq!(div(7, 2), Scalar::I(3));
        assert_eq!(div(-7, 2), Scalar::I(-4));
        assert_eq!(div(7, -2), Scalar::I(-4));
        assert_eq!(div(-7, -2), Scalar::I(3));
        assert_eq!(rem(-7, 2), Scalar::I(1));
        assert_eq!(rem(7, -2), Scalar::I(-1));
        for a in -9..9 {
            for b in [-3, -2, 2, 3] {
                let (Scalar::I(q), Scalar::I(r)) = (div(a, b), rem(a, b)) else {
                    panic!()
                };
                assert_eq!(q * b + r, a);
            }
        }
        assert!(scalar(&Prim::Div, &[Scalar::I(1), Scalar::I(0)]).is_err());
    }
}
