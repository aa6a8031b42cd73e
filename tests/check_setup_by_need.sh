#!/usr/bin/env bash
# Set-up by need: `make run` installs what building and running need, never PyTorch or Slurm
# (only the PyTorch peer comparison and the slurm tests use them); `make test` adds Slurm;
# PRESET=cuda adds nvcc 11.8 and g++-11, and nothing when Kokkos_ROOT names the user's own Kokkos.
# Reads the package lists (scripts/setup.sh --list) and what each make target would run (make -n);
# installs nothing. Usage: check_setup_by_need.sh SOURCE_DIR
set -euo pipefail
src="${1:?usage: check_setup_by_need.sh SOURCE_DIR}"
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
has() { grep -qx -- "$2" <<<"$1"; }

run=$(bash "$src/scripts/setup.sh" --list run)
test=$(bash "$src/scripts/setup.sh" --list test)
peer=$(bash "$src/scripts/setup.sh" --list peer)
cuda=$(bash "$src/scripts/setup.sh" --list cuda)
for p in python3-torch slurm-wlm munge; do
  ! has "$run" "$p" || fail "setup.sh run installs $p"
done
for p in cmake libopenmpi-dev libhdf5-openmpi-dev graphviz python3-h5py python3-matplotlib; do
  has "$run" "$p" || fail "setup.sh run lacks $p"
done
for p in slurm-wlm munge; do has "$test" "$p" || fail "setup.sh test lacks $p"; done
! has "$test" python3-torch || fail "setup.sh test installs python3-torch, which no test uses"
has "$peer" python3-torch || fail "setup.sh peer lacks python3-torch"
for p in nvidia-cuda-toolkit g++-11; do
  has "$cuda" "$p" || fail "setup.sh cuda lacks $p"
  ! has "$test" "$p" || fail "setup.sh test installs $p"
done

# The make targets pass their purpose on (a preset with a setup step, so the set-up runs).
run_plan=$(make -s -n -C "$src" run PRESET=openmp)
test_plan=$(make -s -n -C "$src" test PRESET=openmp)
grep -q 'scripts/setup.sh run$' <<<"$run_plan" || fail "make run does not run 'setup.sh run':
$run_plan"
grep -q 'scripts/setup.sh test$' <<<"$test_plan" || fail "make test does not run 'setup.sh test':
$test_plan"
cuda_plan=$(env -u Kokkos_ROOT make -s -n -C "$src" build PRESET=cuda)
grep -q 'scripts/setup.sh run cuda$' <<<"$cuda_plan" || fail "make build PRESET=cuda does not run 'setup.sh run cuda':
$cuda_plan"
own_plan=$(make -s -n -C "$src" build PRESET=cuda Kokkos_ROOT=/opt/own-kokkos)
! grep -q 'scripts/setup.sh' <<<"$own_plan" || fail "make build PRESET=cuda Kokkos_ROOT=... runs the set-up:
$own_plan"
echo "set-up by need: make run installs $(wc -l <<<"$run") packages (no PyTorch, no Slurm); make test adds: $(comm -13 <(sort <<<"$run") <(sort <<<"$test") | tr '\n' ' ')"
