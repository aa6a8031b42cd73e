#!/usr/bin/env bash
# ctest hnet_job_scripts_dry_run: the launch lines the GPU scripts and the workstation script
# build, without GPUs or Slurm (HNET_DRY_RUN=1 prints the command instead of running it).
#   - cuda/hip pick --kokkos-num-devices below Kokkos 4.2 and --kokkos-map-device-id-by=mpi_rank
#     from 4.2 on, reading the version from the build's Kokkos package or HNET_KOKKOS_VERSION;
#   - the flag chosen for this build's own Kokkos is accepted by its hnet (a flag Kokkos does not
#     know reaches hnet's command line parser and fails the run);
#   - HNET_GPU_MAPPING=slurm hands devices out through srun and passes no Kokkos flag;
#   - mpirun_workstation.sh binds ranks to cores unless they oversubscribe them.
# Usage: tests/slurm/check_dry_run.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src="${1:?usage: check_dry_run.sh SOURCE_DIR BUILD_DIR}"
build="${2:?usage: check_dry_run.sh SOURCE_DIR BUILD_DIR}"
cd "$src"
deck=inputs/quick.toml
errors=0
problem() { printf 'dry run: %s\n' "$*" >&2; errors=$(( errors + 1 )); }
# expect DESCRIPTION PATTERN OUTPUT: OUTPUT has a line matching the extended regex PATTERN.
expect() { grep -Eq -- "$2" <<<"$3" || problem "$1: no match for '$2' in:"$'\n'"$3"; }
reject() { ! grep -Eq -- "$2" <<<"$3" || problem "$1: unexpected '$2' in:"$'\n'"$3"; }
# Slurm's job variables from the environment this test runs in must not leak into the scripts.
clean=(env -u SLURM_GPUS_ON_NODE -u SLURM_NTASKS_PER_NODE -u SLURM_NTASKS -u SLURM_JOB_NUM_NODES
       -u SLURM_CPUS_PER_TASK -u CUDA_VISIBLE_DEVICES -u ROCR_VISIBLE_DEVICES -u HIP_VISIBLE_DEVICES
       -u HNET_KOKKOS_VERSION -u HNET_GPU_MAPPING -u HNET_GPUS_PER_NODE -u HNET_SRUN_MPI HNET_DRY_RUN=1)

kokkos=$("$build/bin/hnet" --version | sed -n 's/^Kokkos \([0-9][0-9.]*\).*/\1/p')
for script in cuda hip; do
  out=$("${clean[@]}" SLURM_NTASKS_PER_NODE=4 SLURM_GPUS_ON_NODE=4 SLURM_CPUS_PER_TASK=8 \
        bash "job_scripts/$script.sbatch" "$deck" "$build" --set train.steps=5 2>&1)
  # This build's Kokkos (3.4 from scripts/setup.sh, or whatever the build uses).
  case "$kokkos" in
    3.*|4.0.*|4.1.*) expect "$script, Kokkos $kokkos" '--kokkos-num-devices=4$' "$out" ;;
    *) expect "$script, Kokkos $kokkos" '--kokkos-map-device-id-by=mpi_rank$' "$out" ;;
  esac
  expect "$script" "srun --mpi=pmix --cpus-per-task=8 --gpu-bind=none $build/bin/hnet train $deck --restart --set train.steps=5 " "$out"
  flag=$(sed -n 's/.* \(--kokkos-[a-z-]*=[a-z0-9_]*\)$/\1/p' <<<"$out" | tail -n 1)
  [ -n "$flag" ] || problem "$script: no Kokkos flag in the command"
  "$build/bin/hnet" --version "$flag" >/dev/null 2>&1 ||
    problem "$script: this build's hnet (Kokkos $kokkos) rejects the flag the script chose: $flag"

  for version in 4.1.0 4.2.0 5.0.1; do
    out=$("${clean[@]}" HNET_KOKKOS_VERSION=$version SLURM_NTASKS=8 SLURM_JOB_NUM_NODES=2 HNET_GPUS_PER_NODE=4 \
          bash "job_scripts/$script.sbatch" "$deck" "$build" 2>&1)
    if [ "$version" = 4.1.0 ]; then expect "$script, Kokkos $version" '--kokkos-num-devices=4$' "$out"
    else expect "$script, Kokkos $version" '--kokkos-map-device-id-by=mpi_rank$' "$out"; fi
    expect "$script, Kokkos $version" '4 rank\(s\) per node' "$out"
  done

  out=$("${clean[@]}" HNET_GPU_MAPPING=slurm HNET_GPUS_PER_NODE=2 bash "job_scripts/$script.sbatch" "$deck" "$build" 2>&1)
  expect "$script, slurm mapping" 'srun .*--gpus-per-task=1' "$out"
  reject "$script, slurm mapping" '--kokkos-' "$out"

  out=$("${clean[@]}" bash "job_scripts/$script.sbatch" "$deck" "$build" 2>&1) && problem "$script ran without GPUs"
  expect "$script without GPUs" 'no GPUs in this allocation' "$out"
done

out=$("${clean[@]}" HNET_RANKS=2 HNET_THREADS=1 bash job_scripts/mpirun_workstation.sh "$deck" "$build" 2>&1)
if mpirun --version 2>/dev/null | grep -q 'Open MPI'; then
  expect "workstation, 2x1" 'mpirun -n 2 --map-by slot:PE=1 --bind-to core' "$out"
  out=$("${clean[@]}" HNET_RANKS=$(( $(nproc) + 1 )) HNET_THREADS=1 bash job_scripts/mpirun_workstation.sh "$deck" "$build" 2>&1)
  expect "workstation, oversubscribed" '--oversubscribe --bind-to none' "$out"
  expect "workstation, oversubscribed" 'OMP_PROC_BIND=false' "$out"
fi

[ "$errors" = 0 ] || { echo "dry run: $errors problem(s)" >&2; exit 1; }
echo "dry run: cuda/hip device mapping for Kokkos $kokkos, 4.1, 4.2, 5.0 and the workstation launch line are as documented"
