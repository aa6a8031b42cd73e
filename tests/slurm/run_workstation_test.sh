#!/usr/bin/env bash
# ctest hnet_job_scripts_mpirun_workstation: job_scripts/mpirun_workstation.sh really runs a
# tiny deck on 2 MPI ranks (one world: the results file records 2 ranks), a second call finds
# the finished run and leaves it at step 20, and HNET_COMMAND=sweep evaluates it.
# Usage: tests/slurm/run_workstation_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "${1:?usage: run_workstation_test.sh SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: run_workstation_test.sh SOURCE_DIR BUILD_DIR}" && pwd)
fail() { printf 'workstation test: FAIL: %s\n' "$*" >&2; exit 1; }
command -v h5dump >/dev/null || fail "h5dump not found: run scripts/setup.sh (hdf5-tools)"
tmp=$(mktemp -d /tmp/hnet-workstation.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cd "$src"
attribute() { h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *\([0-9-]*\).*/\1/p'; }
tiny=(--set target.n=4 --set model.d=8 --set model.heads=2 --set model.blocks=1 --set model.latent=2
      --set model.identity_dim=4 --set model.phi_hidden=8 --set model.phi_dim=4 --set train.batch_beta=4
      --set train.batch_x=32 --set train.steps=20 --set parallel.ranks_per_group=2 --set "output.dir=$tmp/run"
      --set task.eval_size=256 --set sweep.beta_points=2 --set sweep.generation_seeds=1 --set "sweep.sizes=[]"
      --set sweep.posterior_mean=false)

for call in first second; do
  HNET_RANKS=2 HNET_THREADS=1 job_scripts/mpirun_workstation.sh inputs/quick.toml "$build" "${tiny[@]}" \
    >"$tmp/$call.log" 2>&1 || { cat "$tmp/$call.log"; fail "$call call of mpirun_workstation.sh failed"; }
  step=$(attribute "$tmp/run/seed0.h5" next_step)
  ranks=$(attribute "$tmp/run/seed0.h5" mpi_ranks)
  if [ "$step" != 20 ] || [ "$ranks" != 2 ]; then
    cat "$tmp/$call.log"; fail "after the $call call: next_step=$step mpi_ranks=$ranks, expected 20 and 2"
  fi
done
grep -q 'restarting from' "$tmp/second.log" || { cat "$tmp/second.log"; fail "the second call did not restart"; }
HNET_COMMAND=sweep HNET_RANKS=2 HNET_THREADS=1 job_scripts/mpirun_workstation.sh inputs/quick.toml "$build" \
  "${tiny[@]}" --quiet >"$tmp/sweep.log" 2>&1 || { cat "$tmp/sweep.log"; fail "HNET_COMMAND=sweep failed"; }
[ -f "$tmp/run/sweep.h5" ] || { cat "$tmp/sweep.log"; fail "the sweep wrote no $tmp/run/sweep.h5"; }
echo "workstation test: 2 ranks trained to step 20, the second call restarted, the sweep wrote sweep.h5"
