#!/usr/bin/env bash
# The VAE gradient step of examples/vae_bench.vprog (Table 1 of the
# programmable-VI paper: encoder 784-200-20, decoder 10-200-784, Bernoulli
# likelihood, reparameterized diagonal normal guide, one Adam step) at batch
# sizes 64 … 1024, in vprog and hand-written in jitted JAX (x64), in the
# same run on the same machine, and the ratio vprog / JAX per batch size.
#
#   benches/compare/jax_vae.sh [SECONDS_PER_BATCH_SIZE]
#
# Uses the virtualenv benches/compare/.venv (gitignored; created with
# pinned JAX if missing, as numpyro_cone.sh does), builds vprog in release
# mode (honouring CARGO_TARGET_DIR), and runs `vprog bench
# examples/vae_bench.vprog --json` and jax_vae.py with the same time budget
# per batch size (default 2 s). The machine should be otherwise idle.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
budget="${1:-2}"
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
echo "vprog bench examples/vae_bench.vprog --json --seconds $budget" >&2
"$vprog" bench "$root/examples/vae_bench.vprog" --json --seconds "$budget" | tee "$results/vprog.jsonl"
echo "jax_vae.py --seconds $budget" >&2
"$venv/bin/python" "$here/jax_vae.py" --seconds "$budget" | tee "$results/jax.jsonl"

"$venv/bin/python" - "$results" <<'PYTHON'
import json
import sys
from pathlib import Path

results = Path(sys.argv[1])
load = lambda name: {b["bench"]: b for b in map(json.loads, (results / name).read_text().splitlines())}
vprog, jax = load("vprog.jsonl"), load("jax.jsonl")
print()
print("VAE gradient step (Table 1 architecture), median of timed steps")
print(f"  {'batch':>6} {'vprog us':>12} {'jax us':>12} {'vprog / jax':>12}")
for name in sorted(vprog, key=lambda n: int(n.split("_b")[1])):
    v, j = vprog[name]["step_us"], jax[name]["step_us"]
    print(f"  {name.split('_b')[1]:>6} {v:12.1f} {j:12.1f} {v / j:12.2f}")
PYTHON
