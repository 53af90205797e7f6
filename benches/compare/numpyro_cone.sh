#!/usr/bin/env bash
# One noisy-cone ELBO step (`fit elbo` in examples/cone.vprog: 64
# reparameterized particles, one SGD step) in NumPyro and in vprog, in the
# same run on the same machine, and the ratio NumPyro / vprog.
#
#   benches/compare/numpyro_cone.sh [SECONDS_PER_FIT]
#
# Creates a virtualenv in benches/compare/.venv (gitignored) with pinned
# NumPyro and JAX (CPU; the script turns x64 on), builds vprog in release
# mode (honouring CARGO_TARGET_DIR), runs `vprog bench examples/cone.vprog
# --json` (every fit; the comparison is for `elbo`) on each back end in
# VPROG_BACKENDS (default "interp jit") and numpyro_cone.py, each with the
# same time budget per fit (default 1 s), and prints the medians and the
# ratios. The machine should be otherwise idle: both sides use every core.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"
budget="${1:-1}"
backends="${VPROG_BACKENDS:-interp jit}"
jax_version="0.10.2"
numpyro_version="0.22.0"

if [ ! -x "$venv/bin/python" ]; then
    echo "creating $venv" >&2
    python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c "import jax, numpyro, sys; sys.exit(jax.__version__ != '$jax_version' or numpyro.__version__ != '$numpyro_version')" 2>/dev/null; then
    echo "installing jax $jax_version and numpyro $numpyro_version" >&2
    "$venv/bin/pip" install --quiet "jax[cpu]==$jax_version" "numpyro==$numpyro_version"
fi

echo "building vprog (release)" >&2
(cd "$root" && cargo build --release --quiet --bin vprog)
vprog="${CARGO_TARGET_DIR:-$root/target}/release/vprog"

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT
for backend in $backends; do
    echo "vprog bench examples/cone.vprog --json --seconds $budget --backend $backend" >&2
    "$vprog" bench "$root/examples/cone.vprog" --json --seconds "$budget" --backend "$backend" \
        | tee "$results/$backend.jsonl"
done

echo "numpyro_cone.py --seconds $budget" >&2
"$venv/bin/python" "$here/numpyro_cone.py" --seconds "$budget" | tee "$results/numpyro.json"

# shellcheck disable=SC2086 # $backends is a list of words.
"$venv/bin/python" - "$results" $backends <<'PYTHON'
import json
import sys
from pathlib import Path

results, backends = Path(sys.argv[1]), sys.argv[2:]
numpyro = json.loads((results / "numpyro.json").read_text())
print()
print("noisy-cone ELBO step (64 particles, SGD), median of timed steps")
print(f"  {'numpyro ' + numpyro['numpyro'] + ' / jax ' + numpyro['jax'] + ':':<32}"
      f"{numpyro['step_us']:10.1f} us  ({numpyro['steps']} steps; "
      f"ELBO over its last 100 steps {numpyro['elbo_last_100']:.3f})")
for backend in backends:
    lines = (results / f"{backend}.jsonl").read_text().splitlines()
    vprog = next(b for b in map(json.loads, lines) if b["bench"] == "elbo")
    print(f"  {'vprog --backend ' + backend + ':':<32}{vprog['step_us']:10.1f} us  "
          f"({vprog['steps']} steps)  numpyro / vprog = "
          f"{numpyro['step_us'] / vprog['step_us']:.2f}")
PYTHON
