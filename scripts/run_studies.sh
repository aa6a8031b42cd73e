#!/usr/bin/env bash
# Runs study decks (train with --restart, then sweep) one after another and writes one
# comparison table. Usage: scripts/run_studies.sh [DECK ...]   (default: inputs/studies/*.toml)
# Under MPI: HNET_LAUNCH="mpirun -n 4" scripts/run_studies.sh ...; BUILD_DIR selects the build.
set -euo pipefail
build="${BUILD_DIR:-build}"
launch=${HNET_LAUNCH:-}
decks=("$@")
[ ${#decks[@]} -gt 0 ] || decks=(inputs/studies/*.toml)
dirs=()
for deck in "${decks[@]}"; do
  dir=$("$build/bin/hnet" deck "$deck" | sed -n 's/^dir = "\(.*\)".*/\1/p')
  echo "== $deck -> $dir"
  $launch "$build/bin/hnet" train "$deck" --restart
  $launch "$build/bin/hnet" sweep "$deck"
  dirs+=("$dir")
done
"$build/bin/hnet-python" "$(dirname "$0")/compare_studies.py" "${dirs[@]}" --markdown results/studies/comparison.md
echo "table: results/studies/comparison.md"
