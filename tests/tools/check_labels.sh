#!/usr/bin/env bash
# Runs programs under the Kokkos Tools label checker (label_checker.cpp) and judges its reports.
#
#   check_labels.sh hnet TOOL HNET SOURCE_DIR MPIEXEC   (ctest hnet_kokkos_tools_labels)
#     runs hnet train (3 steps, 1 rank and 2 ranks), generate, sweep and handbuilt on a tiny deck
#     and fails if any of them launched a kernel or allocated a View without an "hnet::" label.
#   check_labels.sh probe TOOL PROBE                     (ctest hnet_kokkos_tools_rejects_unlabelled)
#     runs unlabelled_probe.cpp and fails unless the checker reports exactly its bad launches
#     and allocations and accepts its good ones.
# A report file per process is required: without one the library did not load (or the process
# did not reach Kokkos::finalize), and a silent pass would prove nothing.
set -euo pipefail
mode="${1:?usage: check_labels.sh hnet|probe TOOL ...}"
tool="${2:?usage: check_labels.sh hnet|probe TOOL ...}"
[ -f "$tool" ] || { echo "label check: tool library $tool not built" >&2; exit 1; }
tmp=$(mktemp -d /tmp/hnet-labels.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# Kokkos 3.x reads KOKKOS_PROFILE_LIBRARY, 4.x KOKKOS_TOOLS_LIBS (and the old name, deprecated).
export KOKKOS_PROFILE_LIBRARY="$tool" KOKKOS_TOOLS_LIBS="$tool"
failures=0
problem() { printf 'label check: %s\n' "$*" >&2; failures=$(( failures + 1 )); }

# run NAME PROCESSES COMMAND...: run it with reports going to $tmp/NAME; expect PROCESSES reports.
run() {
  local name="$1" processes="$2"; shift 2
  mkdir -p "$tmp/$name"
  if ! HNET_LABEL_CHECK_DIR="$tmp/$name" "$@" >"$tmp/$name.log" 2>&1; then
    tail -n 20 "$tmp/$name.log" >&2
    problem "$name: command failed: $*"
    return 0
  fi
  local reports
  reports=$(find "$tmp/$name" -name 'labels.*.txt' | wc -l)
  [ "$reports" = "$processes" ] ||
    problem "$name: $reports report(s) for $processes process(es): the tool library did not load or a process did not finalize Kokkos"
}

case "$mode" in
  hnet)
    hnet="${3:?}"; src="${4:?}"; mpiexec="${5:?}"
    deck="$src/inputs/quick.toml"
    tiny=(--set target.n=4 --set model.d=8 --set model.heads=2 --set model.blocks=1 --set model.latent=2
          --set model.identity_dim=4 --set model.phi_hidden=8 --set model.phi_dim=4 --set train.batch_beta=4
          --set train.batch_x=32 --set train.steps=3 --set task.eval_size=256 --set sweep.beta_points=2
          --set sweep.generation_seeds=1 --set "sweep.sizes=[8]" --set sweep.posterior_mean=true)
    export OMP_NUM_THREADS=2 OMP_PROC_BIND=false
    run train 1 "$hnet" train "$deck" "${tiny[@]}" --set "output.dir=$tmp/run1" --quiet
    # Two ranks of one group: the gradient reduction kernels run only there.
    OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
      run train_2_ranks 2 "$mpiexec" -n 2 -x KOKKOS_PROFILE_LIBRARY -x KOKKOS_TOOLS_LIBS -x HNET_LABEL_CHECK_DIR \
      "$hnet" train "$deck" "${tiny[@]}" --set parallel.ranks_per_group=2 --set "output.dir=$tmp/run2" --quiet
    run generate 1 "$hnet" generate "$deck" "${tiny[@]}" --beta 1e-3 --output "$tmp/generated.h5"
    run sweep 1 "$hnet" sweep "$deck" "${tiny[@]}" --set "output.dir=$tmp/run1" --quiet
    run handbuilt 1 "$hnet" handbuilt --deck "$deck" --set task.eval_size=256 --n 4
    kernels=0
    for report in "$tmp"/*/labels.*.txt; do
      [ -f "$report" ] || continue
      command=$(basename "$(dirname "$report")")
      while IFS=$'\t' read -r kind _ count name; do
        problem "$command: $kind '$name' ($count times) is not labelled \"hnet::...\""
      done < <(grep -P '\tUNLABELLED\t' "$report" || true)
      n=$(grep -cP '^kernel\tok\t[0-9]+\thnet::' "$report" || true)
      [ "$n" -gt 0 ] || problem "$command: its report lists no hnet:: kernel at all ($report)"
      kernels=$(( kernels + n ))
    done
    [ "$failures" = 0 ] || { echo "label check: $failures problem(s)" >&2; exit 1; }
    echo "label check: train (1 and 2 ranks), generate, sweep, handbuilt: $kernels distinct hnet:: kernels" \
      "per process summed; every kernel and allocation labelled"
    ;;
  probe)
    probe="${3:?}"
    OMP_NUM_THREADS=1 run probe 1 "$probe"
    report=$(find "$tmp/probe" -name 'labels.*.txt' | head -n 1)
    [ -n "$report" ] || { echo "label check: probe wrote no report" >&2; exit 1; }
    verdict() { awk -F'\t' -v kind="$1" -v name="$2" '$1 == kind && $4 == name {print $2}' "$report"; }
    [ "$(verdict kernel hnet::probe::labelled)" = ok ] || problem "the labelled kernel was not accepted"
    [ "$(verdict kernel 'Kokkos::View::initialization [hnet::probe::good]')" = ok ] ||
      problem "the initialisation of an hnet:: View was not accepted"
    [ "$(verdict allocation hnet::probe::good)" = ok ] || problem "the hnet:: View's allocation was not accepted"
    [ "$(verdict kernel probe::wrong_prefix)" = UNLABELLED ] || problem "a kernel labelled 'probe::wrong_prefix' passed"
    [ "$(verdict kernel 'Kokkos::View::initialization [probe_view]')" = UNLABELLED ] ||
      problem "the initialisation of View 'probe_view' passed"
    [ "$(verdict allocation probe_view)" = UNLABELLED ] || problem "the allocation of View 'probe_view' passed"
    [ "$(verdict allocation '[unlabeled]')" = UNLABELLED ] ||
      problem "a label-less allocate() outside any kernel passed"
    # The unlabelled parallel_for and the ""-labelled parallel_reduce appear under mangled names.
    mangled=$(awk -F'\t' '$1 == "kernel" && $2 == "UNLABELLED" && $4 !~ /^(probe::|Kokkos::)/' "$report" | wc -l)
    [ "$mangled" = 2 ] || problem "expected the 2 unlabelled launches under their functor names, found $mangled"
    if [ "$failures" != 0 ]; then cat "$report" >&2; echo "label check: $failures problem(s)" >&2; exit 1; fi
    echo "label check: the probe's 6 unlabelled kernels and allocations were all rejected, its labelled ones accepted"
    ;;
  *) echo "usage: check_labels.sh hnet|probe TOOL ..." >&2; exit 2 ;;
esac
