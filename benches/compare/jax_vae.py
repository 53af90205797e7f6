"""The VAE gradient step of examples/vae_bench.vprog, hand-written in JAX.

The same estimator as vprog's `fit vae_bN`: the programmable-VI paper's
Table 1 architecture (encoder 784-200-20 with leaky ReLUs giving the mean
and, through softplus, the scale of a 10-dimensional diagonal normal;
decoder 10-200-784 whose outputs are Bernoulli logits), the same 1024
generated binary images, a minibatch of N of them drawn without
replacement, one reparameterized sample per image, the minibatch ELBO
scaled by 1024/N, its gradient, and one Adam step (learning rate 1e-3),
all in one jitted function, in float64 (x64), as vprog computes. Each
batch size is warmed up and then timed one step at a time (with
block_until_ready) until the time budget is spent. Prints one JSON line
per batch size in `vprog bench --json`'s format, plus the framework.

    python jax_vae.py [--seconds 1.0]
"""

import argparse
import json
import statistics
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

N_DATA, PIXELS, HIDDEN, LATENT = 1024, 784, 200, 10
LEARNING_RATE = 1e-3
BATCHES = [64, 128, 256, 512, 1024]


def images():
    i = np.arange(N_DATA, dtype=np.float64)[:, None]
    j = np.arange(PIXELS, dtype=np.float64)[None, :]
    return jnp.asarray((np.sin(12.9898 * i + 78.233 * j) > 0.35).astype(np.float64))


def glorot(key, out_dim, in_dim):
    a = np.sqrt(6.0 / (in_dim + out_dim))
    return jax.random.uniform(key, (out_dim, in_dim), jnp.float64, -a, a)


def init(key):
    ks = jax.random.split(key, 5)
    return {
        "enc_w1": glorot(ks[0], HIDDEN, PIXELS), "enc_b1": jnp.zeros(HIDDEN),
        "enc_wm": glorot(ks[1], LATENT, HIDDEN), "enc_bm": jnp.zeros(LATENT),
        "enc_ws": glorot(ks[2], LATENT, HIDDEN), "enc_bs": jnp.zeros(LATENT),
        "dec_w1": glorot(ks[3], HIDDEN, LATENT), "dec_b1": jnp.zeros(HIDDEN),
        "dec_w2": glorot(ks[4], PIXELS, HIDDEN), "dec_b2": jnp.zeros(PIXELS),
    }


def leaky_relu(x):
    return jnp.maximum(x, 0.01 * x)


def normal_logpdf(x, mean, scale):
    return -0.5 * ((x - mean) / scale) ** 2 - jnp.log(scale) - 0.5 * jnp.log(2 * jnp.pi)


def elbo(params, x, eps, scale):
    h = leaky_relu(x @ params["enc_w1"].T + params["enc_b1"])
    mean = h @ params["enc_wm"].T + params["enc_bm"]
    sd = jax.nn.softplus(h @ params["enc_ws"].T + params["enc_bs"])
    z = mean + sd * eps
    g = leaky_relu(z @ params["dec_w1"].T + params["dec_b1"])
    logits = g @ params["dec_w2"].T + params["dec_b2"]
    log_lik = -jax.nn.softplus(-(2.0 * x - 1.0) * logits)
    log_p = normal_logpdf(z, 0.0, 1.0).sum() + log_lik.sum()
    log_q = normal_logpdf(z, mean, sd).sum()
    return scale * (log_p - log_q)


def make_step(batch):
    scale = N_DATA / batch

    @jax.jit
    def step(params, m, v, t, key, data):
        k_batch, k_eps = jax.random.split(key)
        idx = jax.random.choice(k_batch, N_DATA, (batch,), replace=False)
        eps = jax.random.normal(k_eps, (batch, LATENT), jnp.float64)
        value, grad = jax.value_and_grad(elbo)(params, data[idx], eps, scale)
        t = t + 1
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, grad)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grad)
        # Ascent on the ELBO (what vprog's Adam does).
        params = jax.tree.map(
            lambda p, m, v: p
            + LEARNING_RATE * (m / (1 - 0.9**t)) / (jnp.sqrt(v / (1 - 0.999**t)) + 1e-8),
            params, m, v,
        )
        return params, m, v, t, value

    return step


def bench(batch, seconds, data):
    step = make_step(batch)
    params = init(jax.random.PRNGKey(0))
    zeros = jax.tree.map(jnp.zeros_like, params)
    m, v, t = zeros, zeros, jnp.float64(0.0)
    key = jax.random.PRNGKey(1)
    for _ in range(3):  # compile and warm up
        key, sub = jax.random.split(key)
        params, m, v, t, value = step(params, m, v, t, sub, data)
    jax.block_until_ready(value)
    times = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(times) < 3:
        key, sub = jax.random.split(key)
        start = time.perf_counter()
        params, m, v, t, value = step(params, m, v, t, sub, data)
        jax.block_until_ready(value)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6, len(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.0)
    args = parser.parse_args()
    data = images()
    for batch in BATCHES:
        step_us, steps = bench(batch, args.seconds, data)
        print(json.dumps({
            "bench": f"vae_b{batch}", "step_us": step_us, "steps": steps,
            "framework": f"jax {jax.__version__}",
        }), flush=True)


if __name__ == "__main__":
    main()
