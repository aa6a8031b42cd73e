#!/usr/bin/env bash
# hnet set-up: installs the Debian packages a purpose needs and builds Kokkos + Kokkos Kernels
# 3.4.1 with the Serial and OpenMP backends from Debian's own trilinos source package.
# Idempotent: every step checks whether it is already done. Safe to re-run.
#
# Usage: scripts/setup.sh [--list] [PURPOSE ...]   (default: run; --list prints the Debian
#        packages of those purposes, one a line, and changes nothing)
#   run    build hnet and run it: compilers, MPI, HDF5, Kokkos, the test frameworks the build
#          compiles against, Graphviz and the Python the reports use (`make run`)
#   test   run, plus what only tests need: Slurm and munge for the private single-node Slurm
#          of the `slurm` tests (`make test`)
#   peer   run, plus PyTorch and /usr/bin/time for the PyTorch peer comparison (perf/peer/)
#
# Environment:
#   HNET_DEPS_PREFIX   where Kokkos/Kokkos Kernels are installed
#                      (default: $HOME/.cache/hnet/kokkos-3.4.1-openmp)
#   HNET_SKIP_APT=1    do not touch Debian packages (e.g. not root, packages already there)
#   HNET_SKIP_KOKKOS=1 do not build Kokkos (you pass -DKokkos_ROOT=... yourself)
set -euo pipefail

prefix="${HNET_DEPS_PREFIX:-${HOME}/.cache/hnet/kokkos-3.4.1-openmp}"
cache_root="$(dirname "$prefix")"
trilinos_version="13.2.0-4"
stamp="$prefix/.hnet-complete"

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

packages_run=(
  build-essential cmake ninja-build pkg-config git dpkg-dev xz-utils
  openmpi-bin libopenmpi-dev libhdf5-openmpi-dev hdf5-tools
  libopenblas-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev libcli11-dev
  graphviz
  python3 python3-h5py python3-matplotlib python3-numpy
)
packages_test=(slurm-wlm munge)
packages_peer=(python3-torch time)

list_only=0
if [ "${1:-}" = --list ]; then list_only=1; shift; fi
packages=("${packages_run[@]}")
for purpose in "${@:-run}"; do
  case "$purpose" in
    run) ;;
    test) packages+=("${packages_test[@]}") ;;
    peer) packages+=("${packages_peer[@]}") ;;
    *) die "unknown purpose '$purpose' (run, test or peer)" ;;
  esac
done
if [ "$list_only" = 1 ]; then printf '%s\n' "${packages[@]}"; exit 0; fi

missing_packages() {
  local p out=()
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || out+=("$p")
  done
  printf '%s\n' "${out[@]}"
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@";
  else die "need root (or sudo) to run: $*  (or set HNET_SKIP_APT=1 and install it yourself)"; fi
}

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then as_root apt-get update -q; apt_updated=1; fi
}

if [ "${HNET_SKIP_APT:-0}" != 1 ]; then
  mapfile -t todo < <(missing_packages)
  if [ "${#todo[@]}" -gt 0 ] && [ -n "${todo[0]}" ]; then
    say "installing Debian packages: ${todo[*]}"
    apt_update_once
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${todo[@]}"
  else
    say "Debian packages: all present"
  fi
fi

if [ "${HNET_SKIP_KOKKOS:-0}" = 1 ]; then
  say "HNET_SKIP_KOKKOS=1: not building Kokkos; pass -DKokkos_ROOT=... to CMake"
  exit 0
fi
if [ -f "$stamp" ]; then
  say "Kokkos + Kokkos Kernels (OpenMP): already built in $prefix"
  exit 0
fi

src_dir="$cache_root/src"
mkdir -p "$src_dir"
tarball=$(ls "$src_dir"/trilinos_13.2.0.orig.tar.* 2>/dev/null | head -n 1 || true)
if [ -z "$tarball" ]; then
  if ! apt-get source --help >/dev/null 2>&1 || ! grep -rqs 'deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/ ; then
    say "adding a deb-src line for bookworm (needed for Debian's trilinos source package)"
    as_root tee /etc/apt/sources.list.d/hnet-deb-src.sources >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=0
  fi
  apt_update_once
  say "downloading Debian source package trilinos=$trilinos_version (about 166 MB)"
  (cd "$src_dir" && apt-get source --download-only "trilinos=$trilinos_version")
  tarball=$(ls "$src_dir"/trilinos_13.2.0.orig.tar.* 2>/dev/null | head -n 1 || true)
  [ -n "$tarball" ] || die "trilinos source tarball not found in $src_dir after download"
fi

extract="$src_dir/trilinos-extract"
if [ ! -f "$extract/.done" ]; then
  say "extracting packages/kokkos and packages/kokkos-kernels from $(basename "$tarball")"
  rm -rf "$extract"; mkdir -p "$extract"
  tar -xf "$tarball" -C "$extract" --wildcards '*/packages/kokkos/*' '*/packages/kokkos-kernels/*'
  touch "$extract/.done"
fi
top=$(find "$extract" -mindepth 1 -maxdepth 1 -type d | head -n 1)
kokkos_src="$top/packages/kokkos"
kernels_src="$top/packages/kokkos-kernels"
[ -f "$kokkos_src/CMakeLists.txt" ] || die "no Kokkos sources in $kokkos_src"

jobs="$(nproc)"
build="$cache_root/build"
rm -rf "$build"; mkdir -p "$build"

say "building Kokkos 3.4.1 (Serial + OpenMP) into $prefix"
cmake -S "$kokkos_src" -B "$build/kokkos" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_CXX_STANDARD=17 -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON \
  -DKokkos_ENABLE_TESTS=OFF -DKokkos_ENABLE_EXAMPLES=OFF >"$build/kokkos-configure.log" 2>&1 \
  || { tail -n 40 "$build/kokkos-configure.log"; die "Kokkos configure failed (log: $build/kokkos-configure.log)"; }
cmake --build "$build/kokkos" -j "$jobs" >"$build/kokkos-build.log" 2>&1 \
  || { tail -n 40 "$build/kokkos-build.log"; die "Kokkos build failed (log: $build/kokkos-build.log)"; }
cmake --install "$build/kokkos" >/dev/null

say "building Kokkos Kernels 3.4.1 (BLAS;BATCHED, OpenBLAS TPL, no ETI) into $prefix"
cmake -S "$kernels_src" -B "$build/kernels" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
  -DCMAKE_CXX_STANDARD=17 -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
  -DKokkos_ROOT="$prefix" \
  -DKokkosKernels_ENABLED_COMPONENTS="BLAS;BATCHED" \
  -DKokkosKernels_ENABLE_TPL_BLAS=ON \
  -DKokkosKernels_INST_DOUBLE=OFF -DKokkosKernels_INST_FLOAT=OFF \
  -DKokkosKernels_INST_OFFSET_INT=OFF -DKokkosKernels_INST_OFFSET_SIZE_T=OFF \
  -DKokkosKernels_INST_ORDINAL_INT=OFF -DKokkosKernels_INST_ORDINAL_INT64_T=OFF \
  -DKokkosKernels_INST_LAYOUTLEFT=OFF -DKokkosKernels_INST_LAYOUTRIGHT=OFF \
  -DKokkosKernels_ENABLE_TESTS=OFF -DKokkosKernels_ENABLE_EXAMPLES=OFF \
  >"$build/kernels-configure.log" 2>&1 \
  || { tail -n 40 "$build/kernels-configure.log"; die "Kokkos Kernels configure failed (log: $build/kernels-configure.log)"; }
cmake --build "$build/kernels" -j "$jobs" >"$build/kernels-build.log" 2>&1 \
  || { tail -n 40 "$build/kernels-build.log"; die "Kokkos Kernels build failed (log: $build/kernels-build.log)"; }
cmake --install "$build/kernels" >/dev/null

touch "$stamp"
rm -rf "$build"
say "done: Kokkos + Kokkos Kernels in $prefix"
