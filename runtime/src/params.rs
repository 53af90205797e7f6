//! The values of a program's learnable parameters.
//!
//! Values are stored unconstrained (see `lower::params`): what optimizers
//! update and checkpoints save. The store serializes with serde, so
//! parameters can be saved, loaded and training resumed.

use crate::dist::standard_normal;
use crate::rng::{SiteRng, hash_words};
use crate::value::Value;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use vprog_compiler::lower::{InitDraw, Program};

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
