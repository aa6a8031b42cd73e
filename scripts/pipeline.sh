#!/usr/bin/env bash
# The whole analysis of one deck: train (or continue a finished/interrupted run), sweep the β
# grid, draw three generated networks (low, middle, high β), and write the report with plots.
# Usage: scripts/pipeline.sh DECK [BUILD_DIR] [extra 'hnet train' arguments...]
# Under MPI, set HNET_LAUNCH, e.g. HNET_LAUNCH="mpirun -n 4".
set -euo pipefail
deck="${1:?usage: scripts/pipeline.sh DECK [BUILD_DIR] [train args...]}"
build="${2:-build}"
shift $(( $# >= 2 ? 2 : 1 ))
hnet="$build/bin/hnet"
launch=${HNET_LAUNCH:-}
python="$build/bin/hnet-python"  # the Python CMake chose: it imports h5py and matplotlib
[ -x "$hnet" ] || { echo "pipeline: $hnet not found (build first: make build)" >&2; exit 1; }
[ -x "$python" ] || { echo "pipeline: $python not found (configure first: make build)" >&2; exit 1; }

outdir=$("$hnet" deck "$deck" | sed -n 's/^dir = "\(.*\)".*/\1/p')
lo=$("$hnet" deck "$deck" | sed -n 's/^log10_beta_min = \([^ ]*\).*/\1/p')
hi=$("$hnet" deck "$deck" | sed -n 's/^log10_beta_max = \([^ ]*\).*/\1/p')
train_cmd="$launch $hnet train $deck --restart $*"
sweep_cmd="$launch $hnet sweep $deck"

echo "== train: $train_cmd"
$train_cmd
echo "== sweep: $sweep_cmd"
$sweep_cmd --record "$train_cmd"
# Three drawings: low, middle and high β (named after the grid β actually drawn).
for fraction in 0.1 0.5 0.9; do
  beta=$(awk -v lo="$lo" -v hi="$hi" -v f="$fraction" 'BEGIN { printf "%.3g", 10^(lo + f * (hi - lo)) }')
  "$hnet" draw "$outdir/sweep.h5" --beta "$beta"
done
echo "== report"
training=()
for file in "$outdir"/*.h5; do [ "$(basename "$file")" = sweep.h5 ] || training+=("$file"); done
"$python" "$(dirname "$0")/report.py" "$outdir/sweep.h5" --out "$outdir" --training "${training[@]}"
echo "report: $outdir/report.md"
