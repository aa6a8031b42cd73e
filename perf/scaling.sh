#!/usr/bin/env bash
# Strong and weak scaling of data-parallel training and of the β sweep over MPI ranks, with a
# Markdown table on standard output. Usage: perf/scaling.sh [BUILD_DIR] [MAX_RANKS]
# On a C-core node each rank gets C / ranks OpenMP threads; the 1-thread-per-rank rows measure
# MPI scaling alone. Efficiency: strong T(1)/(R·T(R)), weak T(1)/T(R), both at 1 thread per rank.
set -euo pipefail
build="${1:-build}"
max_ranks="${2:-2}"
hnet="$build/bin/hnet"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_PROC_BIND=false
run() {  # ranks threads args... -> prints the seconds of the measured part
  local ranks=$1 threads=$2; shift 2
  OMP_NUM_THREADS=$threads mpirun -n "$ranks" --oversubscribe --bind-to none "$hnet" "$@" 2>&1
}
seconds_of_train() { sed -n 's/^PERFORMANCE.* seconds=\([0-9.]*\) allreduce_share=\([0-9.]*\).*/\1 \2/p'; }
seconds_of_sweep() { sed -n 's/^sweep: .* networks in \([0-9.]*\) s.*/\1/p'; }

echo "| study | ranks | threads/rank | B_β | seconds | efficiency | allreduce share |"
echo "|---|---|---|---|---|---|---|"
base_strong="" base_weak=""
for ranks in $(seq 1 "$max_ranks"); do
  [ $((8 % ranks)) -eq 0 ] || continue
  read -r t share < <(run "$ranks" 1 train inputs/perf/train_scaling.toml --quiet \
      --set parallel.ranks_per_group="$ranks" | seconds_of_train)
  base_strong=${base_strong:-$t}
  eff=$(awk -v a="$base_strong" -v b="$t" -v r="$ranks" 'BEGIN { printf "%.2f", a / (r * b) }')
  echo "| train strong | $ranks | 1 | 8 | $t | $eff | $share |"
  read -r t share < <(run "$ranks" 1 train inputs/perf/train_scaling.toml --quiet \
      --set parallel.ranks_per_group="$ranks" --set train.batch_beta=$((8 * ranks)) | seconds_of_train)
  base_weak=${base_weak:-$t}
  eff=$(awk -v a="$base_weak" -v b="$t" 'BEGIN { printf "%.2f", a / b }')
  echo "| train weak | $ranks | 1 | $((8 * ranks)) | $t | $eff | $share |"
done
read -r t share < <(run 1 "$max_ranks" train inputs/perf/train_scaling.toml --quiet | seconds_of_train)
echo "| train, OpenMP only | 1 | $max_ranks | 8 | $t | $(awk -v a="$base_strong" -v b="$t" -v r="$max_ranks" 'BEGIN { printf "%.2f", a / (r * b) }') | 0 |"

run 1 "$max_ranks" train inputs/perf/sweep_scaling.toml --quiet > /dev/null
base_sweep=""
for ranks in $(seq 1 "$max_ranks"); do
  t=$(run "$ranks" 1 sweep inputs/perf/sweep_scaling.toml --quiet | seconds_of_sweep)
  base_sweep=${base_sweep:-$t}
  echo "| sweep strong | $ranks | 1 | - | $t | $(awk -v a="$base_sweep" -v b="$t" -v r="$ranks" 'BEGIN { printf "%.2f", a / (r * b) }') | - |"
done
t=$(run 1 "$max_ranks" sweep inputs/perf/sweep_scaling.toml --quiet | seconds_of_sweep)
echo "| sweep, OpenMP only | 1 | $max_ranks | - | $t | $(awk -v a="$base_sweep" -v b="$t" -v r="$max_ranks" 'BEGIN { printf "%.2f", a / (r * b) }') | - |"
