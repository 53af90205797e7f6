//! The hand-written noisy-cone baseline of `benches/cone_baseline.rs`
//! computes the very estimator vprog compiles for `fit elbo` in
//! `examples/cone.vprog`: for the same run keys, each particle's value and
//! gradient equal vprog's (`estimator::particle` on the compiled gradient
//! program), and whole SGD steps follow vprog's fit — on both back
//! ends.

#[path = "../benches/support/cone_by_hand.rs"]
mod cone_by_hand;
#[path = "../benches/support/cone_vprog.rs"]
mod cone_vprog;

use cone_by_hand::{Guide, PARTICLES};
use cone_vprog::PreparedFit;
use vprog::runtime::backend::Backend;
use vprog::runtime::estimator::particle;
use vprog::runtime::fit::Trainer;
use vprog::runtime::rng::RunKey;

/// The agreement asked of two computations of one number, relative to its
/// size (absolute below 1): the two differ only in the order of their
/// floating-point operations.
const TOLERANCE: f64 = 1e-9;

fn assert_close(hand: f64, vprog: f64, what: &str) {
    assert!(
        (hand - vprog).abs() <= TOLERANCE * vprog.abs().max(1.0),
        "{what}: by hand {hand}, vprog {vprog}"
    );
}

/// The indices of `naive.mu1`, `naive.mu2`, `naive.s1`, `naive.s2` among
/// the program's parameters.
fn guide_indices(fit: &PreparedFit) -> [usize; 4] {
    ["naive.mu1", "naive.mu2", "naive.s1", "naive.s2"].map(|name| fit.param_index(name))
}

/// Sets the guide's parameters in the session's store.
fn set_guide(fit: &mut PreparedFit, guide: &Guide) {
    let values = [guide.mu1, guide.mu2, guide.s1, guide.s2];
    for (index, value) in guide_indices(fit).into_iter().zip(values) {
        fit.session.store.params[index].raw = vec![value];
    }
}

/// The guide's parameters as stored in the session.
fn stored_guide(fit: &PreparedFit) -> Guide {
    let [mu1, mu2, s1, s2] = guide_indices(fit).map(|i| fit.session.store.params[i].raw[0]);
    Guide { mu1, mu2, s1, s2 }
}

#[test]
fn the_fit_starts_where_the_baseline_does() {
    let fit = cone_vprog::cone_elbo();
    assert_eq!(stored_guide(&fit), Guide::INITIAL);
    assert_eq!(fit.options.particles, PARTICLES);
    assert_eq!(
        fit.options.optimizer,
        vprog::compiler::lower::meta::Optimizer::Sgd {
            lr: cone_by_hand::LEARNING_RATE
        }
    );
}

#[test]
fn each_particle_equals_vprogs_estimate_and_gradient() {
    let mut fit = cone_vprog::cone_elbo();
    let indices = guide_indices(&fit);
    let backends = [fit.on(Backend::Interp), fit.on(Backend::Jit)];
    let guides = [
        Guide::INITIAL,
        Guide {
            mu1: 0.7,
            mu2: -1.3,
            s1: 0.2,
            s2: -0.5,
        },
    ];
    for guide in guides {
        set_guide(&mut fit, &guide);
        let params = fit.session.store.values();
        for step in [0, 1, 4999] {
            for (p, backend) in
                (0..PARTICLES as u64).flat_map(|p| backends.iter().map(move |b| (p, b)))
            {
                let key = RunKey::new(fit.options.seed, step, p);
                let hand = cone_by_hand::particle(&guide, key);
                let vprog = particle(backend, &params, key, true).expect("a finite run");
                let what = |part: &str| {
                    format!("{part} at {guide:?}, step {step}, particle {p}, {backend:?}")
                };
                assert_close(hand.value, vprog.value, &what("the value"));
                let gradient = vprog.gradient.expect("a gradient");
                for (k, &index) in indices.iter().enumerate() {
                    let component = gradient[index].as_f64().expect("a scalar gradient");
                    assert_close(hand.gradient[k], component, &what(&format!("∂θ{k}")));
                }
            }
        }
    }
}

#[test]
fn hand_written_steps_follow_vprogs_fit() {
    for backend in [Backend::Interp, Backend::Jit] {
        steps_follow_the_fit_on(backend);
    }
}

fn steps_follow_the_fit_on(backend: Backend) {
    let mut fit = cone_vprog::cone_elbo();
    let prepared = fit.on(backend);
    let mut trainer = Trainer::new(&prepared, &fit.session.store, fit.options.clone());
    let mut sequential = Guide::INITIAL;
    let mut parallel = Guide::INITIAL;
    for step in 0..25 {
        let value = trainer.step(&mut fit.session.store).expect("a finite step");
        let by_hand = cone_by_hand::step_sequential(&mut sequential, fit.options.seed, step);
        assert_eq!(
            cone_by_hand::step_parallel(&mut parallel, fit.options.seed, step),
            by_hand
        );
        assert_eq!(parallel, sequential);
        assert_close(
            by_hand,
            value,
            &format!("the objective of step {step} ({backend})"),
        );
    }
    let stored = stored_guide(&fit);
    for (hand, vprog) in [
        (sequential.mu1, stored.mu1),
        (sequential.mu2, stored.mu2),
        (sequential.s1, stored.s1),
        (sequential.s2, stored.s2),
    ] {
        assert_close(
            hand,
            vprog,
            &format!("a parameter after 25 steps ({backend})"),
        );
    }
}
