//! vprog inside a Rust program: trains the naive guide of the noisy cone
//! (`examples/cone.vprog`) by maximizing its ELBO, and prints the ELBO.
//!
//! ```text
//! cargo run --release --example embed
//! ```
//!
//! The program is compiled once; `elbo` is one of its top-level
//! definitions, `elbo(cone, naive, data)` from the standard library. The
//! fit is the one `examples/cone.vprog` runs (plain SGD, learning rate
//! 10⁻³, 5000 steps of 64 particles); the published value is −8.08.

use vprog::{Engine, FitOptions};

fn main() -> Result<(), vprog::Error> {
    let engine = Engine::new();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cone.vprog");
    let program = engine.compile_file(path)?;
    let elbo = program.objective("elbo")?;

    let report = engine.fit(
        &elbo,
        FitOptions::sgd(1e-3)
            .steps(5000)
            .particles(64)
            .on_step(|step, objective| {
                if (step + 1) % 1000 == 0 {
                    eprintln!("step {:>4}: objective {objective:.3}", step + 1);
                }
            }),
    )?;
    println!(
        "trained in {:.1} s; mean objective over the last 100 steps {:.4}",
        report.seconds, report.final_objective
    );
    for name in program.param_names() {
        println!("  {name} = {}", program.param(&name)?);
    }

    let estimate = engine.estimate(&elbo, 5000)?;
    println!(
        "ELBO: {:.4} ± {:.4} ({} samples; published −8.08)",
        estimate.mean, estimate.stderr, estimate.samples
    );
    Ok(())
}
