#!/usr/bin/env bash
# ctest hnet_slurm_single_node: runs the job scripts through a real Slurm. It starts a private
# single-node cluster on this machine (Debian 12's slurm-wlm 22.05 and munge, installed by
# scripts/setup.sh test), all state under a temporary directory and on free ports so that it cannot
# disturb a system Slurm, then submits with tiny decks:
#   1. cpu_openmp.sbatch, 2 ranks x 1 thread, through `sbatch --wait`: results file at step 20
#      written by one 2-rank MPI world (srun --mpi=pmix really wired the ranks together);
#   2. auto_resume.sbatch, 8 steps per job: the chain resubmits itself (afterany) until the
#      results file reaches train.steps = 20, which takes exactly three training jobs;
#   3. sweep_ensemble.sbatch as a 2-task job array: two seeds, each trained and swept.
# The daemons it started are stopped on every exit path (trap), jobs first.
#
# Usage: tests/slurm/run_slurm_test.sh SOURCE_DIR BUILD_DIR
# Needs root: slurmd starts job steps as the submitting user and must be root for that.
# HNET_SLURM_KEEP=1 keeps the temporary directory (logs, slurm.conf) for inspection.
set -euo pipefail

src=$(cd "${1:?usage: run_slurm_test.sh SOURCE_DIR BUILD_DIR}" && pwd)
build=$(cd "${2:?usage: run_slurm_test.sh SOURCE_DIR BUILD_DIR}" && pwd)
started=$(date +%s)
say() { printf '[slurm-test %3ds] %s\n' "$(( $(date +%s) - started ))" "$*"; }
fail() { printf '[slurm-test] FAIL: %s\n' "$*" >&2; exit 1; }

# --- preconditions: say precisely what is missing ------------------------------------------
[ "$(id -u)" = 0 ] || fail "must run as root (slurmd launches job steps as the submitting user); run ctest as root"
for tool in munged munge unmunge slurmctld slurmd sbatch sinfo squeue scontrol scancel srun h5dump; do
  command -v "$tool" >/dev/null ||
    fail "'$tool' not found: run 'bash scripts/setup.sh test' (it installs slurm-wlm, munge and hdf5-tools)"
done
[ -x "$build/bin/hnet" ] || fail "$build/bin/hnet not built"
python="$build/bin/hnet-python"  # the Python CMake chose (cmake/HnetPython.cmake)
[ -x "$python" ] || fail "$python not found: configure the build with CMake first"

# --- a private cluster in a temporary directory -------------------------------------------
# /tmp, not the build tree: munge's socket path must stay under the 108-byte limit of AF_UNIX.
tmp=$(mktemp -d /tmp/hnet-slurm.XXXXXX)
chmod 711 "$tmp"
mkdir -p "$tmp/munge" "$tmp/state" "$tmp/spool" "$tmp/log" "$tmp/jobs"
record="$build/tests/slurm_test_last_run"

# alive PID: the process runs (a zombie awaiting its parent does not count).
alive() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
daemon_pids=()
waiting=""
cleanup() {
  local rc=$? pid i
  trap - EXIT INT TERM
  [ -n "$waiting" ] && { kill "$waiting" 2>/dev/null || true; }
  if [ -n "${SLURM_CONF:-}" ] && [ -f "${SLURM_CONF}" ] && [ "${#daemon_pids[@]}" -gt 0 ]; then
    # Jobs first: their slurmstepd processes outlive a stopped slurmd.
    local jobs=()
    mapfile -t jobs < <(squeue -h -o %i 2>/dev/null || true)
    if [ "${#jobs[@]}" -gt 0 ]; then
      say "cancelling leftover jobs: ${jobs[*]}"
      scancel --full "${jobs[@]}" 2>/dev/null || true
      for i in $(seq 1 30); do [ -z "$(squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.5; done
    fi
  fi
  for (( i = ${#daemon_pids[@]} - 1; i >= 0; i-- )); do kill "${daemon_pids[i]}" 2>/dev/null || true; done
  for pid in "${daemon_pids[@]}"; do
    for i in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && { kill -9 "$pid" 2>/dev/null || true; }
  done
  [ "${#daemon_pids[@]}" -gt 0 ] && say "stopped daemons ${daemon_pids[*]}"
  if [ "$rc" != 0 ]; then
    for log in "$tmp"/log/*; do
      [ -s "$log" ] || continue
      echo "----- $(basename "$log") (last 40 lines)"; tail -n 40 "$log"
    done
    for log in "$tmp"/jobs/*.out; do
      [ -f "$log" ] || continue
      echo "----- job output $(basename "$log") (last 40 lines)"; tail -n 40 "$log"
    done
  fi
  if [ "${HNET_SLURM_KEEP:-0}" = 1 ]; then say "kept $tmp"; else rm -rf "$tmp"; rm -f "$record"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'say "interrupted (SIGINT)"; exit 130' INT
trap 'say "interrupted (SIGTERM)"; exit 143' TERM
# A run killed before its trap ran (ctest's timeout sends SIGKILL) leaves daemons behind; they
# are found through this record and stopped, but only if their command line names that run's
# directory, so nothing this test did not start is touched.
mkdir -p "$(dirname "$record")"
if [ -f "$record" ]; then
  old=$(cat "$record")
  stale=()
  for pid_file in "$old"/*.pid; do
    [ -f "$pid_file" ] || continue
    pid=$(cat "$pid_file")
    if alive "$pid" && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF "$old"; then
      say "stopping process $pid left by an earlier run in $old"
      kill "$pid" 2>/dev/null || true
      stale+=("$pid")
    fi
  done
  # slurmctld writes its state while it shuts down: wait, or removing the directory races it.
  for pid in ${stale[@]+"${stale[@]}"}; do
    for i in $(seq 1 40); do alive "$pid" || break; sleep 0.25; done
    alive "$pid" && { kill -9 "$pid" 2>/dev/null || true; }
  done
  rm -rf "$old" || true
fi
echo "$tmp" >"$record"

# COMMAND...: run it in the background and wait, so that a signal reaches the traps at once
# instead of after a `sbatch --wait` that may take minutes.
wait_for() {
  local rc=0
  "$@" &
  waiting=$!
  echo "$waiting" >"$tmp/waiting.pid"
  wait "$waiting" || rc=$?
  waiting=""
  return "$rc"
}

start_daemon() {  # NAME COMMAND...: start in the foreground mode, in the background
  local name="$1"; shift
  "$@" >"$tmp/log/$name.out" 2>&1 &
  daemon_pids+=("$!")
  echo "$!" >"$tmp/$name.pid"
}

# munge with its own key and socket, so a system munged (if any) is neither needed nor used.
dd if=/dev/urandom of="$tmp/munge/munge.key" bs=1024 count=1 status=none
chmod 700 "$tmp/munge"; chmod 600 "$tmp/munge/munge.key"
socket="$tmp/munge/munge.socket"
start_daemon munged munged --foreground --force --key-file="$tmp/munge/munge.key" --socket="$socket" \
  --pid-file="$tmp/munge/munged.pid" --seed-file="$tmp/munge/munged.seed" --log-file="$tmp/log/munged.log"
# The socket's directory must be searchable for munge clients (mode 711, not 700).
for i in $(seq 1 40); do [ -S "$socket" ] && break; sleep 0.25; done
chmod 711 "$tmp/munge"
[ -S "$socket" ] || fail "munged did not create its socket $socket (log: $(tail -n 3 "$tmp/log/munged.out" 2>/dev/null))"
munge -S "$socket" -n | unmunge -S "$socket" >/dev/null ||
  fail "munge credentials do not round-trip through $socket"

host=$(hostname -s)
node=$(slurmd -C 2>/dev/null | head -n 1) || true
case "$node" in NodeName=*) ;; *) fail "slurmd -C could not describe this machine: '$node'" ;; esac
node="${node%% UpTime=*}"
node_name=$(sed -n 's/^NodeName=\([^ ]*\).*/\1/p' <<<"$node")
cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$node")
[ "${cpus:-0}" -ge 2 ] || fail "this machine has ${cpus:-?} CPU(s); the test needs 2 (one job of 2 ranks)"
read -r ctld_port slurmd_port < <("$python" -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])')

export SLURM_CONF="$tmp/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# A throw-away single-node cluster for hnet's tests (tests/slurm/run_slurm_test.sh).
ClusterName=hnettest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
StateSaveLocation=$tmp/state
SlurmdSpoolDir=$tmp/spool
SlurmctldPidFile=$tmp/slurmctld.pidfile
SlurmdPidFile=$tmp/slurmd.pidfile
SlurmctldLogFile=$tmp/log/slurmctld.log
SlurmdLogFile=$tmp/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# No cgroups: the test must run in containers and VMs without a delegated cgroup tree.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
KillWait=5
MailProg=/bin/true
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=test Nodes=$node_name Default=YES MaxTime=INFINITE State=UP
EOF
say "cluster in $tmp: $node; ports $ctld_port/$slurmd_port"
start_daemon slurmctld slurmctld -D -f "$SLURM_CONF"
start_daemon slurmd slurmd -D -f "$SLURM_CONF" -N "$node_name"

state=""
for i in $(seq 1 120); do
  state=$(sinfo -h -N -n "$node_name" -o %t 2>/dev/null | head -n 1 || true)
  [ "$state" = idle ] && break
  for name in munged slurmctld slurmd; do
    alive "$(cat "$tmp/$name.pid")" ||
      fail "$name exited during start-up: $(tail -n 5 "$tmp/log/$name.out" "$tmp/log/$name.log" 2>/dev/null | tr '\n' ' ')"
  done
  sleep 0.5
done
[ "$state" = idle ] || fail "node $node_name is '${state:-not reported}' after 60 s, not idle: $(sinfo -R -h 2>/dev/null)"
say "node $node_name idle"

# --- the tiny deck --------------------------------------------------------------------------
deck="$src/inputs/quick.toml"
tiny=(--set target.n=4 --set model.d=8 --set model.heads=2 --set model.blocks=1 --set model.latent=2
      --set model.identity_dim=4 --set model.phi_hidden=8 --set model.phi_dim=4 --set train.batch_beta=4
      --set train.batch_x=32 --set train.steps=20 --set output.log_every=5 --set output.checkpoint_every=5)
attribute() {  # FILE NAME: an integer attribute of the file's root group
  h5dump -a "/$2" "$1" 2>/dev/null | sed -n 's/^ *(0): *\([0-9-]*\).*/\1/p'
}
cd "$src"

# 1. cpu_openmp.sbatch ---------------------------------------------------------------------
out="$tmp/cpu_openmp"
say "1/3 sbatch --wait cpu_openmp.sbatch (2 ranks x 1 thread, 20 steps)"
rc=0
wait_for timeout 150 sbatch --wait --nodes=1 --ntasks-per-node=2 --cpus-per-task=1 --time=5 \
  --output="$tmp/jobs/cpu_openmp-%j.out" job_scripts/cpu_openmp.sbatch "$deck" "$build" \
  "${tiny[@]}" --set parallel.ranks_per_group=2 --set "output.dir=$out" || rc=$?
[ "$rc" = 0 ] || fail "cpu_openmp.sbatch: sbatch --wait returned $rc"
log=$(ls "$tmp"/jobs/cpu_openmp-*.out)
grep -q 'OMP_NUM_THREADS=1 ' "$log" || fail "cpu_openmp.sbatch did not set OMP_NUM_THREADS from --cpus-per-task"
[ -f "$out/seed0.h5" ] || fail "cpu_openmp.sbatch wrote no results file $out/seed0.h5"
step=$(attribute "$out/seed0.h5" next_step)
[ "$step" = 20 ] || fail "cpu_openmp.sbatch: next_step is '$step', expected 20"
ranks=$(attribute "$out/seed0.h5" mpi_ranks)
[ "$ranks" = 2 ] || fail "cpu_openmp.sbatch: the results file says $ranks MPI rank(s), expected one world of 2"
say "1/3 ok: $out/seed0.h5 next_step=$step mpi_ranks=$ranks"

# 2. auto_resume.sbatch --------------------------------------------------------------------
out="$tmp/auto_resume"
say "2/3 auto_resume.sbatch (8 steps per job, 20 steps in all)"
first=$(HNET_STEPS_PER_JOB=8 HNET_SBATCH_ARGS="--output=$tmp/jobs/auto_resume-%j.out" \
  sbatch --parsable --nodes=1 --ntasks-per-node=1 --cpus-per-task=2 --time=5 --output="$tmp/jobs/auto_resume-%j.out" \
  job_scripts/auto_resume.sbatch "$deck" "$build" "${tiny[@]}" --set "output.dir=$out") ||
  fail "could not submit auto_resume.sbatch"
deadline=$(( $(date +%s) + 150 ))
while [ -n "$(squeue -h -o %i)" ]; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the auto_resume chain (first job $first) still runs after 150 s: $(squeue -h)"
  sleep 1
done
step=$(attribute "$out/seed0.h5" next_step)
[ "$step" = 20 ] || fail "auto_resume chain ended with next_step '$step', expected 20"
trained=$(grep -l 'PERFORMANCE' "$tmp"/jobs/auto_resume-*.out | wc -l)
[ "$trained" = 3 ] || fail "auto_resume chain trained in $trained job(s), expected 3 (8 + 8 + 4 steps)"
grep -q 'run finished: every results file is at step 20' "$tmp"/jobs/auto_resume-*.out ||
  fail "no job of the chain reported the finished run"
grep -q 'restarting from' "$tmp"/jobs/auto_resume-*.out || fail "no job of the chain restarted from a checkpoint"
say "2/3 ok: chain from job $first trained in $trained jobs to next_step=$step"

# 3. sweep_ensemble.sbatch -----------------------------------------------------------------
out="$tmp/ensemble"
say "3/3 sbatch --wait --array=0-1 sweep_ensemble.sbatch (2 seeds, train + sweep each)"
rc=0
wait_for timeout 180 sbatch --wait --array=0-1 --nodes=1 --ntasks-per-node=1 --cpus-per-task=1 --time=5 \
  --output="$tmp/jobs/ensemble-%A_%a.out" job_scripts/sweep_ensemble.sbatch "$deck" "$build" \
  "${tiny[@]}" --set task.eval_size=256 --set sweep.beta_points=2 --set sweep.generation_seeds=1 \
  --set "sweep.sizes=[]" --set sweep.posterior_mean=false --set "output.dir=$out" || rc=$?
[ "$rc" = 0 ] || fail "sweep_ensemble.sbatch: sbatch --wait returned $rc"
base=$("$build/bin/hnet" deck "$deck" | awk '/^\[/ {s = $0} !found && s == "[train]" && $1 == "seed" {print $3; found = 1}')
for member in 0 1; do
  [ -f "$out/member$member/sweep.h5" ] || fail "ensemble member $member wrote no $out/member$member/sweep.h5"
  seed=$(attribute "$out/member$member/seed0.h5" seed)
  [ "$seed" = $(( base + member )) ] || fail "ensemble member $member trained seed $seed, expected $(( base + member ))"
done
say "3/3 ok: members 0 and 1 trained seeds $base and $(( base + 1 )) and wrote sweep.h5"
say "PASS"
