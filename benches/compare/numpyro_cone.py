"""One noisy-cone ELBO step in NumPyro, timed like `vprog bench`.

The same model, guide and step as `fit elbo` in examples/cone.vprog: the
noisy cone observed at z = 5, the naive mean-field guide with parameters
mu1, mu2, s1, s2 (scales exp(s)), reparameterized samples, 64 particles,
vectorized, plain SGD with learning rate 1e-3 (NumPyro minimizes -ELBO;
vprog ascends the ELBO: the same step). `svi.update` is jit-compiled,
warmed up, and timed one call at a time (with block_until_ready) until
the time budget is spent; like vprog's stepper, the trajectory starts
over from the initial parameters after the fit's 5000 steps. Prints one
JSON line in `vprog bench --json`'s format, plus the framework's name.

    python numpyro_cone.py [--seconds 1.0]
"""

import argparse
import json
import statistics
import time

import jax

# vprog computes in f64; so must the comparison.
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpyro  # noqa: E402
import numpyro.distributions as dist  # noqa: E402
from numpyro import optim  # noqa: E402
from numpyro.infer import SVI, Trace_ELBO  # noqa: E402

PARTICLES = 64
LEARNING_RATE = 1e-3
FIT_STEPS = 5000
Z = 5.0


def cone():
    """The model: a point (x, y) near the circle of radius sqrt(z)."""
    x = numpyro.sample("x", dist.Normal(0.0, 10.0))
    y = numpyro.sample("y", dist.Normal(0.0, 10.0))
    r = x * x + y * y
    numpyro.sample("z", dist.Normal(r, 0.1 + r / 100.0), obs=jnp.float64(Z))


def naive():
    """The naive guide: independent normals (reparameterized by default)."""
    mu1 = numpyro.param("mu1", jnp.float64(0.0))
    mu2 = numpyro.param("mu2", jnp.float64(0.0))
    s1 = numpyro.param("s1", jnp.float64(1.0))
    s2 = numpyro.param("s2", jnp.float64(1.0))
    numpyro.sample("x", dist.Normal(mu1, jnp.exp(s1)))
    numpyro.sample("y", dist.Normal(mu2, jnp.exp(s2)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0,
                        help="time budget, warm-up included (a fifth is warm-up)")
    parser.add_argument("--max-steps", type=int, default=1_000_000)
    args = parser.parse_args()

    svi = SVI(cone, naive, optim.SGD(LEARNING_RATE),
              Trace_ELBO(num_particles=PARTICLES, vectorize_particles=True))
    initial = svi.init(jax.random.PRNGKey(0))
    update = jax.jit(svi.update)

    state = initial
    steps_in_trajectory = 0
    losses = []

    def step():
        nonlocal state, steps_in_trajectory
        if steps_in_trajectory == FIT_STEPS:
            state, steps_in_trajectory = initial, 0
        state, loss = update(state)
        jax.block_until_ready((state, loss))
        steps_in_trajectory += 1
        if len(losses) < FIT_STEPS:
            losses.append(float(loss))

    # Compile outside the budget, then warm up for a fifth of it.
    compile_start = time.perf_counter()
    step()
    compile_seconds = time.perf_counter() - compile_start
    start = time.perf_counter()
    warmup = 1
    while warmup < 3 or time.perf_counter() - start < args.seconds / 5:
        step()
        warmup += 1

    micros = []
    while True:
        begun = time.perf_counter()
        step()
        micros.append((time.perf_counter() - begun) * 1e6)
        if time.perf_counter() - start >= args.seconds or len(micros) >= args.max_steps:
            break

    # A check that this is the same problem: the mean ELBO estimate of the
    # last 100 steps of the first trajectory (`trajectory_steps` long; after
    # the full 5000, vprog's fit reports about -8 there).
    tail = losses[-100:]
    print(json.dumps({
        "bench": "elbo",
        "step_us": statistics.median(micros),
        "steps": len(micros),
        "framework": "numpyro",
        "p10_us": statistics.quantiles(micros, n=10)[0] if len(micros) > 1 else micros[0],
        "p90_us": statistics.quantiles(micros, n=10)[-1] if len(micros) > 1 else micros[0],
        "compile_seconds": compile_seconds,
        "trajectory_steps": len(losses),
        "elbo_last_100": -sum(tail) / len(tail),
        "jax": jax.__version__,
        "numpyro": numpyro.__version__,
    }))


if __name__ == "__main__":
    main()
