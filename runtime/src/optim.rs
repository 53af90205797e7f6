//! Optimizers: gradient *ascent* on the objective (variational objectives
//! are lower bounds to maximize), on the parameters' stored values.

use serde::{Deserialize, Serialize};
use vprog_compiler::lower::meta::Optimizer;

/// An optimizer's state across steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// Steps taken.
    pub t: u64,
    /// First moments / velocities, per parameter element.
    pub m: Vec<Vec<f64>>,
    /// Second moments (Adam), per parameter element.
    pub v: Vec<Vec<f64>>,
}

impl OptimizerState {
    /// A fresh state for parameters of the given sizes.
    pub fn new(sizes: &[usize]) -> OptimizerState {
        OptimizerState {
            t: 0,
            m: sizes.iter().map(|&n| vec![0.0; n]).collect(),
            v: sizes.iter().map(|&n| vec![0.0; n]).collect(),
        }
    }
}

/// Applies one ascent step of `opt` to `params` with gradient `grad`,
/// touching only the parameters marked in `active`.
pub fn step(
    opt: &Optimizer,
    state: &mut OptimizerState,
    params: &mut [Vec<f64>],
    grad: &[Vec<f64>],
    active: &[bool],
) {
    state.t += 1;
    let t = state.t as f64;
    for (i, p) in params.iter_mut().enumerate() {
        if !active.get(i).copied().unwrap_or(false) {
            continue;
        }
        let g = &grad[i];
        match *opt {
            Optimizer::Sgd { lr } => {
                for (x, gi) in p.iter_mut().zip(g) {
                    *x += lr * gi;
                }
            }
            Optimizer::Momentum { lr, beta } => {
                for ((x, gi), m) in p.iter_mut().zip(g).zip(state.m[i].iter_mut()) {
                    *m = beta * *m + gi;
                    *x += lr * *m;
                }
            }
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let c1 = 1.0 - beta1.powf(t);
                let c2 = 1.0 - beta2.powf(t);
                // Zipped rather than indexed, so the loop has no bounds
                // checks and vectorizes (the arithmetic is the same).
                let moments = state.m[i].iter_mut().zip(state.v[i].iter_mut());
                for ((x, gi), (m, v)) in p.iter_mut().zip(g).zip(moments) {
                    *m = beta1 * *m + (1.0 - beta1) * gi;
                    *v = beta2 * *v + (1.0 - beta2) * gi * gi;
                    *x += lr * (*m / c1) / ((*v / c2).sqrt() + eps);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each optimizer climbs the concave quadratic −(x − 3)², whose
    /// gradient is −2(x − 3), to its maximum at 3.
    #[test]
    fn optimizers_ascend_a_quadratic() {
        for opt in [
            Optimizer::Sgd { lr: 0.1 },
            Optimizer::Momentum {
                lr: 0.05,
                beta: 0.5,
            },
            Optimizer::Adam {
                lr: 0.1,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
            },
        ] {
            let mut params = vec![vec![0.0]];
            let mut state = OptimizerState::new(&[1]);
            for _ in 0..2000 {
                let g = vec![vec![-2.0 * (params[0][0] - 3.0)]];
                step(&opt, &mut state, &mut params, &g, &[true]);
            }
            assert!(
                (params[0][0] - 3.0).abs() < 1e-3,
                "{opt:?} reached {}",
                params[0][0]
            );
        }
    }
}
