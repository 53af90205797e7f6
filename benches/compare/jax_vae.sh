#!/usr/bin/env bash
# The VAE gradient step of examples/vae_bench.vprog (Table 1 of the
# programmable-VI paper: encoder 784-200-20, decoder 10-200-784, Bernoulli
# likelihood, reparameterized diagonal normal guide, one Adam step) at batch
# sizes 64 … 1024, in vprog and hand-written in jitted JAX (x64), in the
# same run on the same machine, and the ratio vprog / JAX per batch size.
#
#   benches/compare/jax_vae.sh [SECONDS_PER_BATCH_SIZE] [ROUNDS]
#
# Uses the virtualenv benches/compare/.venv (gitignored; created with
# pinned JAX if missing, as numpyro_cone.sh does), builds vprog in release
# mode (honouring CARGO_TARGET_DIR), and runs `vprog bench
# examples/vae_bench.vprog --json` and jax_vae.py with the same time budget
# per batch size (default 2 s), alternately, ROUNDS times (default 3): a
# shared VM's slow spells then fall on both, and the summary gives each
# framework's median over the rounds, their ratio, and the range of the
# per-round ratios. The machine should be otherwise idle.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
budget="${1:-2}"
rounds="${2:-3}"
jax_version="0.10.2"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import jax, sys; sys.exit(jax.__version__ != '$jax_version')" 2>/dev/null; then
    echo "installing jax $jax_version" >&2
    "$venv/bin/pip" install --quiet "jax[cpu]==$jax_version"
fi

echo "building vprog (release)" >&2
(cd "$root" && cargo build --release --quiet --bin vprog)
vprog="${CARGO_TARGET_DIR:-$root/target}/release/vprog"

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
for round in $(seq 1 "$rounds"); do
    echo "round $round/$rounds: vprog bench examples/vae_bench.vprog --json --seconds $budget" >&2
    "$vprog" bench "$root/examples/vae_bench.vprog" --json --seconds "$budget" | tee -a "$results/vprog.jsonl"
    echo "round $round/$rounds: jax_vae.py --seconds $budget" >&2
    "$venv/bin/python" "$here/jax_vae.py" --seconds "$budget" | tee -a "$results/jax.jsonl"
done

"$venv/bin/python" - "$results" <<'PYTHON'
import json
import statistics
import sys
from pathlib import Path

results = Path(sys.argv[1])


def load(name):
    """Per bench, its step times over the rounds, in round order."""
    times = {}
    for line in (results / name).read_text().splitlines():
        b = json.loads(line)
        times.setdefault(b["bench"], []).append(b["step_us"])
    return times


vprog, jax = load("vprog.jsonl"), load("jax.jsonl")
print()
print(f"VAE gradient step (Table 1 architecture): medians over {len(next(iter(vprog.values())))} rounds")
print(f"  {'batch':>6} {'vprog us':>12} {'jax us':>12} {'vprog / jax':>12} {'per round':>14}")
for name in sorted(vprog, key=lambda n: int(n.split("_b")[1])):
    v, j = statistics.median(vprog[name]), statistics.median(jax[name])
    ratios = [a / b for a, b in zip(vprog[name], jax[name])]
    spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
    print(f"  {name.split('_b')[1]:>6} {v:12.1f} {j:12.1f} {v / j:12.2f} {spread:>14}")
PYTHON
