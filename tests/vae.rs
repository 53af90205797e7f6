//! The variational autoencoder of `examples/vae_digits.vprog` on the UCI
//! digits (`data/digits.csv`, binarized at pixel > 8): trained for 5000
//! Adam steps on minibatches of 128 of the first 1500 images, its ELBO on
//! the last 297 images must reach −20.0 nats per image (the bar; a
//! hand-coded JAX VAE of this setup reaches about −18.7).
//!
//! The run is seeded, so the number is deterministic; the estimate's
//! standard error (100 passes over the test set) is ≈ 0.01 nats, far
//! inside the margin, so the check measures the training, not the noise.

use std::process::Command;

#[test]
fn the_digits_vae_reaches_the_test_elbo_bar() {
    let out = Command::new(env!("CARGO_BIN_EXE_vprog"))
        .args(["run", "examples/vae_digits.vprog", "--json", "--seed", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run vprog");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vprog failed:\n{stderr}");
    assert!(
        !stderr.contains("runs on the interpreter"),
        "the JIT fell back: {stderr}"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let test_elbo = lines
        .iter()
        .find(|l| l["report"] == "test_elbo")
        .expect("a test_elbo report");
    let value = test_elbo["value"].as_f64().expect("a number");
    let stderr_of_estimate = test_elbo["stderr"].as_f64().expect("a number");
    eprintln!("test_elbo = {value:.4} ± {stderr_of_estimate:.4}");
    assert!(
        stderr_of_estimate < 0.1,
        "the estimate is too noisy: {test_elbo}"
    );
    assert!(
        value >= -20.0,
        "test ELBO {value:.4} is below −20.0 nats per image"
    );
}
