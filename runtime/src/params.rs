//! The values of a program's learnable parameters.
//!
//! Values are stored unconstrained (see `lower::params`): what optimizers
//! update and checkpoints save. The store serializes with serde, so
//! parameters can be saved, loaded and training resumed.

use crate::dist::standard_normal;
use crate::rng::{SiteRng, hash_words};
use crate::value::{Tensor, Value};
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use vprog_compiler::lower::{InitDraw, Program};

/// Values lent by [`ParamStore::lend_values`]; dropping it returns their
/// elements to the store.
struct Lent<'a> {
    store: &'a mut ParamStore,
    values: Vec<Value>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        for (p, v) in self.store.params.iter_mut().zip(self.values.drain(..)) {
            let Value::T(t) = v else {
                continue;
            };
            p.raw = match std::sync::Arc::try_unwrap(t) {
                Ok(Tensor::F(a)) if a.is_standard_layout() => a.into_raw_vec_and_offset().0,
                Ok(other) => Value::T(std::sync::Arc::new(other)).f64_elements(),
                Err(shared) => Value::T(shared).f64_elements(),
            };
        }
    }
}

/// One parameter's stored value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamValue {
    /// The qualified name (`gen.name`).
    pub name: String,
    /// The shape (empty for a scalar).
    pub shape: Vec<usize>,
    /// The unconstrained elements, row-major.
    pub raw: Vec<f64>,
}

/// All parameters of a program, in the program's parameter order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamStore {
    /// The parameters.
    pub params: Vec<ParamValue>,
}

impl ParamStore {
    /// The declared initial values of `program`'s parameters; those
    /// initialized by a draw (`glorot()`, `he()`, `normal(σ)`) are drawn
    /// from `seed` and the parameter's qualified name, so that one seed
    /// always gives one start and adding a parameter does not move the
    /// others.
    pub fn initial(program: &Program, seed: u64) -> ParamStore {
        ParamStore {
            params: program
                .params
                .iter()
                .map(|p| ParamValue {
                    name: p.qualified.clone(),
                    shape: p.shape.clone(),
                    raw: match p.draw {
                        Some(draw) => drawn(draw, &p.shape, seed, &p.qualified),
                        None => p.init.clone(),
                    },
                })
                .collect(),
        }
    }

    /// The stored values as IR values, to pass to compiled programs.
    pub fn values(&self) -> Vec<Value> {
        self.params
            .iter()
            .map(|p| {
                if p.shape.is_empty() {
                    Value::F(p.raw.first().copied().unwrap_or(0.0))
                } else {
                    Value::from_f64_array(
                        ArrayD::from_shape_vec(IxDyn(&p.shape), p.raw.clone())
                            .expect("stored shape matches its data"),
                    )
                }
            })
            .collect()
    }

    /// Calls `f` with the stored values as IR values, like [`Self::values`]
    /// but lending the stored elements instead of copying them (a
    /// network's parameters are megabytes, and a training step reads them
    /// once): they return to the store when `f` is done — or unwinds —
    /// copied back only if `f` kept a value alive.
    pub fn lend_values<T>(&mut self, f: impl FnOnce(&[Value]) -> T) -> T {
        let values = self
            .params
            .iter_mut()
            .map(|p| {
                if p.shape.is_empty() {
                    Value::F(p.raw.first().copied().unwrap_or(0.0))
                } else {
                    let raw = std::mem::take(&mut p.raw);
                    Value::from_f64_array(
                        ArrayD::from_shape_vec(IxDyn(&p.shape), raw)
                            .expect("stored shape matches its data"),
                    )
                }
            })
            .collect();
        let lent = Lent {
            store: self,
            values,
        };
        f(&lent.values)
    }

    /// The constrained value of parameter `i` as programs see it.
    pub fn constrained(&self, program: &Program, i: usize) -> Vec<f64> {
        let c = program.params[i].constraint;
        self.params[i].raw.iter().map(|&r| c.constrain(r)).collect()
    }
}

/// The elements of a parameter of `shape` drawn by `draw`, from a stream
/// keyed by `seed` and the FNV-1a hash of the parameter's `name`.
fn drawn(draw: InitDraw, shape: &[usize], seed: u64, name: &str) -> Vec<f64> {
    let name_hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    let mut rng = SiteRng::from_state(hash_words(&[seed, name_hash, 0x696e_6974]));
    let count: usize = shape.iter().product();
    match draw.element_law(shape) {
        Ok(half_width) => (0..count)
            .map(|_| half_width * (2.0 * rng.open01() - 1.0))
            .collect(),
        Err(sd) => (0..count).map(|_| sd * standard_normal(&mut rng)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> ParamStore {
        let param = |name: &str, shape: Vec<usize>, raw: Vec<f64>| ParamValue {
            name: name.into(),
            shape,
            raw,
        };
        ParamStore {
            params: vec![
                param("g.s", vec![], vec![0.5]),
                param("g.w", vec![2, 3], (0..6).map(f64::from).collect()),
            ],
        }
    }

    #[test]
    fn lent_values_are_the_values_and_come_back() {
        let mut s = store();
        let before = s.clone();
        let seen = s.lend_values(|vs| vs.to_vec() == before.values());
        assert!(seen);
        assert_eq!(s, before);
        // A value kept alive past the loan is copied back instead.
        let kept = s.lend_values(|vs| vs[1].clone());
        assert_eq!(kept, before.values()[1]);
        assert_eq!(s, before);
        // Unwinding out of the loan returns the elements too.
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            s.lend_values(|_| panic!("a bug inside a step"))
        }));
        assert!(unwound.is_err());
        assert_eq!(s, before);
    }
}
