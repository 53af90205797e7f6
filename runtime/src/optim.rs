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

    /// Back to the fresh state, in place.
    pub fn reset(&mut self) {
        self.t = 0;
        for moments in self.m.iter_mut().chain(&mut self.v) {
            moments.fill(0.0);
        }
    }
}

/// Applies one ascent step of `opt` to `params` with gradient `grad`,
/// touching only the parameters marked in `active`.
pub fn step(
    opt: &Optimizer,
    state: &mut OptimizerState,
    params: &mut [Vec<f64>],
    grad: &[&[f64]],
    active: &[bool],
) {
    state.t += 1;
    let t = state.t as f64;
    for (i, p) in params.iter_mut().enumerate() {
        if !active.get(i).copied().unwrap_or(false) {
            continue;
        }
        let g = grad[i];
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
                // The bias corrections as reciprocals: one division per
                // element instead of three (divisions and square roots
                // bound the loop).
                let adam = Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    r1: 1.0 / (1.0 - beta1.powf(t)),
                    r2: 1.0 / (1.0 - beta2.powf(t)),
                };
                adam.update(p, g, &mut state.m[i], &mut state.v[i]);
            }
        }
    }
}

/// One Adam step's constants (`r1`, `r2`: the reciprocals of the bias
/// corrections).
#[derive(Clone, Copy)]
struct Adam {
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    r1: f64,
    r2: f64,
}

impl Adam {
    /// Updates `x` and its moments `m`, `v` with gradient `g`, in a loop
    /// compiled for AVX-512 or AVX2 where the machine has them (square
    /// roots and divisions dominate; the same IEEE operations either way,
    /// so the same bits).
    fn update(self, x: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has the instructions the function uses.
                return unsafe { self.update_avx512(x, g, m, v) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { self.update_avx2(x, g, m, v) };
            }
        }
        self.update_portable(x, g, m, v);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    fn update_avx512(self, x: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        self.update_portable(x, g, m, v);
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn update_avx2(self, x: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        self.update_portable(x, g, m, v);
    }

    #[inline(always)]
    fn update_portable(self, x: &mut [f64], g: &[f64], m: &mut [f64], v: &mut [f64]) {
        let Adam {
            lr,
            beta1,
            beta2,
            eps,
            r1,
            r2,
        } = self;
        for (((x, gi), m), v) in x.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = beta1 * *m + (1.0 - beta1) * gi;
            *v = beta2 * *v + (1.0 - beta2) * gi * gi;
            *x += lr * (*m * r1) / ((*v * r2).sqrt() + eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vectorized Adam update gives the portable loop's bits.
    #[test]
    fn adam_kernels_agree_to_the_bit() {
        let adam = Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            r1: 1.0 / 0.1,
            r2: 1.0 / 0.001,
        };
        let n = 1003;
        let g: Vec<f64> = (0..n)
            .map(|k| (k as f64 * 0.37).sin() * 10f64.powi((k % 7) as i32 - 3))
            .collect();
        let (mut x1, mut m1, mut v1) = (vec![0.5; n], vec![0.01; n], vec![0.02; n]);
        let (mut x2, mut m2, mut v2) = (x1.clone(), m1.clone(), v1.clone());
        adam.update(&mut x1, &g, &mut m1, &mut v1);
        adam.update_portable(&mut x2, &g, &mut m2, &mut v2);
        let bits = |xs: &[f64]| xs.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&x1), bits(&x2));
        assert_eq!(bits(&m1), bits(&m2));
        assert_eq!(bits(&v1), bits(&v2));
    }

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
                let g = [-2.0 * (params[0][0] - 3.0)];
                step(&opt, &mut state, &mut params, &[&g], &[true]);
            }
            assert!(
                (params[0][0] - 3.0).abs() < 1e-3,
                "{opt:?} reached {}",
                params[0][0]
            );
        }
    }
}
