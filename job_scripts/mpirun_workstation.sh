#!/usr/bin/env bash
# The run of cpu_openmp.sbatch on a workstation without Slurm: R MPI ranks started by mpirun,
# each with cores/R OpenMP threads on cores of its own.
#
#   job_scripts/mpirun_workstation.sh DECK [BUILD_DIR] [hnet args...]
#
#   DECK        input deck (or HNET_DECK)
#   BUILD_DIR   build directory holding bin/hnet (or HNET_BUILD_DIR; default: build)
#   args...     passed on to hnet, e.g. --set parallel.seeds=2 --stop-after-steps 1000
#
# Environment (all optional):
#   HNET_RANKS          MPI ranks (default 1); a multiple of parallel.ranks_per_group
#   HNET_THREADS        OpenMP threads per rank (default: cores / ranks, at least 1)
#   HNET_COMMAND        hnet subcommand: train (default; run as `train DECK --restart`) or sweep
#   HNET_OMP_PROC_BIND  OMP_PROC_BIND (default: close when each rank has cores of its own,
#                       false when ranks x threads oversubscribe the cores)
#   HNET_OMP_PLACES     OMP_PLACES (default: cores)
#   HNET_MPIRUN         the launcher (default: mpirun)
#   HNET_DRY_RUN=1      print the command instead of running it
#
# With Open MPI each rank is bound to HNET_THREADS cores (--map-by slot:PE=T --bind-to core),
# the mpirun counterpart of srun --cpus-per-task=T --cpu-bind=cores. When R x T exceeds the
# cores the ranks are left unbound and --oversubscribe is added: binding several ranks to the
# same core would serialise them. As root, Open MPI also needs --allow-run-as-root, added here.
# Other MPIs get a plain `mpirun -n R` with OMP_NUM_THREADS exported.
set -euo pipefail

die() { printf 'mpirun_workstation.sh: error: %s\n' "$*" >&2; exit 1; }

deck="${1:-${HNET_DECK:-}}"
[ -n "$deck" ] || die "usage: job_scripts/mpirun_workstation.sh DECK [BUILD_DIR] [hnet args...]"
[ $# -gt 0 ] && shift
build="${HNET_BUILD_DIR:-build}"
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then build="$1"; shift; fi
hnet="$build/bin/hnet"
[ -f "$deck" ] || die "deck '$deck' not found (from $(pwd))"
[ -x "$hnet" ] || die "'$hnet' not found: build first (make build)"

cores=$(nproc)
ranks="${HNET_RANKS:-1}"
[ "$ranks" -ge 1 ] 2>/dev/null || die "HNET_RANKS must be a positive integer, not '$ranks'"
threads="${HNET_THREADS:-$(( cores / ranks > 0 ? cores / ranks : 1 ))}"
[ "$threads" -ge 1 ] 2>/dev/null || die "HNET_THREADS must be a positive integer, not '$threads'"
oversubscribed=$(( ranks * threads > cores ))

export OMP_NUM_THREADS="$threads"
if [ "$oversubscribed" = 1 ]; then export OMP_PROC_BIND="${HNET_OMP_PROC_BIND:-false}"
else export OMP_PROC_BIND="${HNET_OMP_PROC_BIND:-close}"; fi
export OMP_PLACES="${HNET_OMP_PLACES:-cores}"

mpirun="${HNET_MPIRUN:-mpirun}"
launch=("$mpirun" -n "$ranks")
if "$mpirun" --version 2>/dev/null | grep -q 'Open MPI'; then
  if [ "$oversubscribed" = 1 ]; then launch+=(--oversubscribe --bind-to none)
  else launch+=(--map-by "slot:PE=$threads" --bind-to core); fi
  # Open MPI passes only variables named with -x to the ranks of a remote node; say it for all.
  launch+=(-x OMP_NUM_THREADS -x OMP_PROC_BIND -x OMP_PLACES)
  [ "$(id -u)" = 0 ] && launch+=(--allow-run-as-root)
fi

case "${HNET_COMMAND:-train}" in
  train) run=("$hnet" train "$deck" --restart "$@") ;;
  sweep) run=("$hnet" sweep "$deck" "$@") ;;
  *) die "HNET_COMMAND must be train or sweep, not '$HNET_COMMAND'" ;;
esac
echo "mpirun_workstation.sh: $ranks rank(s) x $threads thread(s) on $cores core(s)," \
  "OMP_PROC_BIND=$OMP_PROC_BIND OMP_PLACES=$OMP_PLACES"
echo "mpirun_workstation.sh: ${launch[*]} ${run[*]}"
[ "${HNET_DRY_RUN:-0}" = 1 ] && exit 0
exec "${launch[@]}" "${run[@]}"
