//! The values of a program's learnable parameters.
//!
//! Values are stored unconstrained (see `lower::params`): what optimizers
//! update and checkpoints save. The store serializes with serde, so
//! parameters can be saved, loaded and training resumed.

use crate::value::Value;
use ndarray::{ArrayD, IxDyn};
use serde::{Deserialize, Serialize};
use vprog_compiler::lower::Program;

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
    /// The declared initial values of `program`'s parameters.
    pub fn initial(program: &Program) -> ParamStore {
        ParamStore {
            params: program
                .params
                .iter()
                .map(|p| ParamValue {
                    name: p.qualified.clone(),
                    shape: p.shape.clone(),
                    raw: p.init.clone(),
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
