//! One optimization step of the noisy-cone ELBO (`fit elbo` in
//! `examples/cone.vprog`: 64 reparameterized particles, one SGD step), three
//! ways, side by side in one criterion group:
//!
//! * `hand_written` — the estimator and its gradient written by hand
//!   (`support/cone_by_hand.rs`, derivation included), on one thread: the
//!   floor a compiled step can aim for;
//! * `hand_written_rayon` — the same arithmetic with the particles spread
//!   over rayon's threads the way vprog's driver spreads them, which
//!   isolates the driver's parallel overhead;
//! * `vprog_interp`, `vprog_jit` — vprog's own step (`Trainer::step` via
//!   the benchmark stepper, the code `vprog run` and `vprog bench`
//!   execute) on the interpreter and on the JIT (`--backend interp|jit`).
//!
//! All three draw the same variates from the same counter-based keys
//! (`tests/cone_baseline.rs` proves the per-particle estimates equal), and
//! each follows the fit's trajectory, starting over after its 5000 steps.
//!
//! ```text
//! cargo bench --bench cone_baseline
//! ```

#[path = "support/cone_by_hand.rs"]
mod cone_by_hand;
#[path = "support/cone_vprog.rs"]
mod cone_vprog;

use cone_by_hand::Guide;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use vprog::runtime::backend::Backend;
use vprog::runtime::bench::Stepper;

/// Steps along the hand-written fit's trajectory, starting over after
/// `steps` steps as `vprog::runtime::bench::Stepper` does.
struct HandStepper {
    guide: Guide,
    step: u64,
    steps: u64,
    seed: u64,
}

impl HandStepper {
    fn next(&mut self, take_step: fn(&mut Guide, u64, u64) -> f64) -> f64 {
        if self.step >= self.steps {
            self.guide = Guide::INITIAL;
            self.step = 0;
        }
        let value = take_step(&mut self.guide, self.seed, self.step);
        self.step += 1;
        value
    }
}

fn cone_elbo_step(c: &mut Criterion) {
    let prepared = cone_vprog::cone_elbo();
    let options = prepared.options.clone();
    let mut group = c.benchmark_group("cone_elbo_step");

    for (name, take_step) in [
        (
            "hand_written",
            cone_by_hand::step_sequential as fn(&mut Guide, u64, u64) -> f64,
        ),
        ("hand_written_rayon", cone_by_hand::step_parallel),
    ] {
        let mut stepper = HandStepper {
            guide: Guide::INITIAL,
            step: 0,
            steps: options.steps as u64,
            seed: options.seed,
        };
        group.bench_function(name, |b| b.iter(|| black_box(stepper.next(take_step))));
    }

    for (name, backend) in [
        ("vprog_interp", Backend::Interp),
        ("vprog_jit", Backend::Jit),
    ] {
        let objective = prepared.on(backend);
        let mut stepper = Stepper::new(&objective, &prepared.session.store, options.clone());
        group.bench_function(name, |b| {
            b.iter(|| black_box(stepper.step().expect("the cone ELBO step is finite")))
        });
    }
    group.finish();
}

criterion_group!(benches, cone_elbo_step);
criterion_main!(benches);
