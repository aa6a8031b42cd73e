#!/usr/bin/env bash
# One GPU node check of a device build (make build PRESET=cuda|hip): what runs, how fast, and
# against what, in one run. Run from the repository root on the node:
#
#   bash perf/gpu_check.sh [BUILD_DIR] [OUT_DIR] [SECONDS]     # defaults: build-cuda gpu_check 480
#
# Writes to OUT_DIR, one file per part (each part has its own time limit, and the whole stays
# within SECONDS; a part that fails or runs out of time is reported and the next one runs):
#   node.txt            the GPU (nvidia-smi / rocm-smi) and `hnet --version`
#   step_benchmark.txt  hnet_step_benchmark: Kokkos Kernels SGEMM, copy bandwidth, the quick and
#                       paper training steps as GFLOP/s and % of that SGEMM, the kernel profile
#   peer.txt            the PyTorch peer on the same GPU (perf/peer/hnet_peer.py --device), quick
#                       and paper, and torch's float32 SGEMM rate (TF32 off)
#   train.txt           `hnet train` steps/s on the quick and science decks (300 steps), one rank,
#                       then 8 ranks sharing the GPU (parallel.seeds = 8: 8 training seeds at once)
#   ctest.txt           the test suite without the Slurm and lint labels (ctest -LE 'slurm|lint')
# PYTHON (default python3; a command, split at spaces, e.g. "env -u LD_LIBRARY_PATH python3") must
# have torch with the device for peer.txt; MPIEXEC (default mpirun).
set -u
build=${1:-build-cuda}
out=${2:-gpu_check}
budget=${3:-480}
python=${PYTHON:-python3}
mpiexec=${MPIEXEC:-mpirun}
hnet=$build/bin/hnet
mkdir -p "$out" "$out/runs"
start=$(date +%s)

# run_part NAME LIMIT_SECONDS COMMAND...: appends the command's output to OUT/NAME.txt, never
# beyond the whole check's budget.
run_part() {
  local name=$1 limit=$2; shift 2
  local left=$(( budget - ($(date +%s) - start) ))
  (( limit > left )) && limit=$left
  if (( limit < 5 )); then echo "[$name] skipped: the check's $budget s are spent" | tee -a "$out/$name.txt"; return; fi
  echo "=== $(date -u +%H:%M:%S) [$name, ${limit}s] $*" | tee -a "$out/$name.txt"
  timeout --kill-after=5 "$limit" "$@" >>"$out/$name.txt" 2>&1
  local rc=$?
  echo "=== [$name] exit $rc$( ((rc == 124)) && echo ' (time limit)')" | tee -a "$out/$name.txt"
}

run_part node 30 sh -c "nvidia-smi 2>/dev/null || rocm-smi 2>/dev/null; \"$hnet\" --version"

run_part step_benchmark 90 env OMP_NUM_THREADS=4 OMP_PROC_BIND=false "$build/bin/hnet_step_benchmark" --profile_steps=10

run_part peer 40 $python -c "
import time, torch
torch.backends.cuda.matmul.allow_tf32 = False
dev = 'cuda'
for n in (1024, 4096, 8192):
    a = torch.randn(n, n, device=dev); b = torch.randn(n, n, device=dev)
    for _ in range(3): a @ b
    torch.cuda.synchronize(); t = time.perf_counter(); reps = 10
    for _ in range(reps): a @ b
    torch.cuda.synchronize(); dt = (time.perf_counter() - t) / reps
    print(f'torch float32 SGEMM n={n}: {2 * n**3 / dt * 1e-9:.1f} GFLOP/s ({torch.cuda.get_device_name()})')
"
run_part peer 60 $python perf/peer/hnet_peer.py --device cuda --config quick --warmup 5 --steps 50
run_part peer 60 $python perf/peer/hnet_peer.py --device cuda --config paper --warmup 3 --steps 20

# hnet train at each deck: one rank, then 8 ranks (8 training seeds) sharing the GPU.
for deck in quick phases_n8 phases_n16; do
  run_part train 60 "$hnet" train "inputs/$deck.toml" --set train.steps=300 --set 'sweep.steps=[300]' --set parallel.seeds=1 \
    --set output.dir="\"$out/runs/$deck\"" --set output.overwrite=true --set output.log_every=100
done
# OMP_NUM_THREADS=2: each rank's host threads (Kokkos' OpenMP pool) would otherwise claim every core.
run_part train 90 "$mpiexec" -n 8 --oversubscribe -x OMP_NUM_THREADS=2 "$hnet" train inputs/phases_n16.toml \
  --set train.steps=300 --set 'sweep.steps=[300]' --set parallel.seeds=8 --set output.dir="\"$out/runs/phases_n16_x8\"" \
  --set output.overwrite=true --set output.log_every=100
rm -rf "$out/runs"

run_part ctest 600 ctest --test-dir "$build" -LE 'slurm|lint' -j 4 --timeout 240 --output-on-failure
grep -h "PERFORMANCE\|PEER \|SGEMM\|tests passed\|exit " "$out"/*.txt
