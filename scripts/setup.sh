#!/usr/bin/env bash
# hnet set-up: installs the Debian packages a purpose needs and builds Kokkos + Kokkos Kernels
# 3.4.1 from Debian's own trilinos source package: with the Serial and OpenMP backends, with CUDA
# on top of them (purpose cuda), or with HIP on Serial (purpose hip).
# Idempotent: every step checks whether it is already done. Safe to re-run.
#
# Usage: scripts/setup.sh [--list] [PURPOSE ...]   (default: run; --list prints the Debian
#        packages of those purposes, one a line, and changes nothing)
#   run    build hnet and run it: compilers, MPI, HDF5, Kokkos, the test frameworks the build
#          compiles against, Graphviz and the Python the reports use (`make run`)
#   test   run, plus what only tests need: Slurm and munge for the private single-node Slurm
#          of the `slurm` tests (`make test`)
#   peer   run, plus PyTorch and /usr/bin/time for the PyTorch peer comparison (perf/peer/)
#   cuda   run, plus nvcc 11.8 (nvidia-cuda-toolkit, from Debian's non-free component, which
#          this adds to the sources if missing) and its host compiler g++-11; Kokkos is built
#          with the CUDA backend (machine code for Ampere sm_80 and Hopper sm_90) instead of the
#          OpenMP-only one
#   hip    run, plus hipcc (ROCm 5.2); Kokkos is built with the HIP backend for gfx908 (MI100:
#          Kokkos 3.4 knows no gfx90a) on Serial
#   Kokkos is built for every GPU purpose named (cuda, hip), or for OpenMP if none is.
#
# Environment:
#   HNET_DEPS_PREFIX   where Kokkos/Kokkos Kernels are installed (one backend per call)
#                      (default: $HOME/.cache/hnet/kokkos-3.4.1-BACKEND, BACKEND openmp,
#                      cuda or hip)
#   HNET_SKIP_APT=1    do not touch Debian packages (e.g. not root, packages already there)
#   HNET_SKIP_KOKKOS=1 do not build Kokkos (you pass -DKokkos_ROOT=... yourself)
set -euo pipefail

trilinos_version="13.2.0-4"

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
packages_cuda=(nvidia-cuda-toolkit g++-11)
packages_hip=(hipcc)

list_only=0
if [ "${1:-}" = --list ]; then list_only=1; shift; fi
packages=("${packages_run[@]}")
backends=()
for purpose in "${@:-run}"; do
  case "$purpose" in
    run) ;;
    test) packages+=("${packages_test[@]}") ;;
    peer) packages+=("${packages_peer[@]}") ;;
    cuda) packages+=("${packages_cuda[@]}"); backends+=(cuda) ;;
    hip) packages+=("${packages_hip[@]}"); backends+=(hip) ;;
    *) die "unknown purpose '$purpose' (run, test, peer, cuda or hip)" ;;
  esac
done
[ "${#backends[@]}" -gt 0 ] || backends=(openmp)
if [ "$list_only" = 1 ]; then printf '%s\n' "${packages[@]}"; exit 0; fi
if [ -n "${HNET_DEPS_PREFIX:-}" ] && [ "${#backends[@]}" -gt 1 ]; then
  die "HNET_DEPS_PREFIX names one Kokkos prefix: set up one backend (${backends[*]}) at a time"
fi

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

# nvidia-cuda-toolkit lives in Debian's non-free component (its dependencies partly in contrib);
# a default bookworm sources list has only main.
need_non_free() {
  [[ " ${backends[*]} " == *" cuda "* ]] || return 1
  dpkg-query -W -f='${Status}' nvidia-cuda-toolkit 2>/dev/null | grep -q 'install ok installed' && return 1
  apt-cache policy nvidia-cuda-toolkit 2>/dev/null | grep -q 'Candidate: [0-9]' && return 1
  return 0
}

if [ "${HNET_SKIP_APT:-0}" != 1 ]; then
  if need_non_free; then
    say "adding contrib and non-free for bookworm (needed for nvidia-cuda-toolkit)"
    as_root tee /etc/apt/sources.list.d/hnet-non-free.sources >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: contrib non-free
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_update_once
  fi
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

prefix_of() { printf '%s\n' "${HNET_DEPS_PREFIX:-${HOME}/.cache/hnet/kokkos-3.4.1-$1}"; }
# What a finished prefix's .hnet-complete holds: a CUDA prefix of an older set-up (sm_80 only,
# empty stamp) cannot run on Hopper and is built again.
stamp_of() { case "$1" in cuda) echo "sm_80 sm_90" ;; *) echo "" ;; esac; }
todo_backends=()
for backend in "${backends[@]}"; do
  prefix=$(prefix_of "$backend")
  if [ -f "$prefix/.hnet-complete" ] && [ "$(cat "$prefix/.hnet-complete")" = "$(stamp_of "$backend")" ]; then
    say "Kokkos + Kokkos Kernels ($backend): already built in $prefix"
  else
    todo_backends+=("$backend")
  fi
done
[ "${#todo_backends[@]}" -gt 0 ] || exit 0

# The trilinos source package is shared by every backend: next to the (first) prefix.
cache_root="$(dirname "$(prefix_of "${todo_backends[0]}")")"
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

# Debian's nvcc 11.8 (/usr/bin/nvcc) with its newest supported host compiler, g++-11 (g++ 12 is
# too new for it). nvcc_wrapper would take the first nvcc on PATH and g++, and nvcc the first
# ptxas/fatbinary on PATH: a newer CUDA under /usr/local mixed with Debian's nvcc fails ("ptxas
# fatal: Value 'sm_35' is not defined"). The wrapper in the prefix is pinned to Debian's nvcc
# and g++-11, with /usr/bin first on PATH; CUDA_ROOT and NVCC_WRAPPER_DEFAULT_COMPILER still
# override it.
pin_nvcc_wrapper() {  # SOURCE DESTINATION
  mkdir -p "$(dirname "$2")"
  awk '
    /^default_arch="sm_35"$/ { print "default_arch=\"sm_80\"  # hnet set-up"; next }
    /^host_compiler=\$\{NVCC_WRAPPER_DEFAULT_COMPILER:-"g\+\+"\}$/ {
      print "host_compiler=${NVCC_WRAPPER_DEFAULT_COMPILER:-\"g++-11\"}  # hnet set-up: what nvcc 11.8 supports"; next }
    /^#Compose compilation command$/ {
      print "# hnet set-up: Kokkos 3.4 names no Hopper architecture and refuses compute_80 code on a 9.x"
      print "# device, so its -arch=sm_80 becomes machine code for both Ampere (sm_80) and Hopper (sm_90)"
      print "cuda_args=\"${cuda_args//-arch=sm_80/-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90}\""
      print; next }
    /^nvcc_compiler=nvcc$/ {
      print "# hnet set-up: Debian'"'"'s nvcc 11.8, and its ptxas, fatbinary, nvlink before any other CUDA on PATH"
      print "nvcc_compiler=/usr/bin/nvcc"
      print "[ -n \"$CUDA_ROOT\" ] || PATH=\"/usr/bin:$PATH\""; next }
    { print }' "$1" >"$2.tmp"
  chmod +x "$2.tmp"; mv "$2.tmp" "$2"
  [ "$(grep -c 'hnet set-up' "$2")" = 4 ] || die "could not pin nvcc 11.8, g++-11 and sm_80 + sm_90 in $2"
}

build_kokkos() {
  local backend=$1 prefix build what cxx=() kokkos_flags=() kernels_flags=()
  prefix=$(prefix_of "$backend")
  build="$(dirname "$prefix")/build-$backend"
  rm -rf "$build"; mkdir -p "$build"
  case "$backend" in
    openmp)
      what="Serial + OpenMP"
      kokkos_flags=(-DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON) ;;
    cuda)
      # CUDA lambdas (KOKKOS_LAMBDA on the device: --expt-extended-lambda); machine code for
      # Ampere sm_80 and Hopper sm_90 (pin_nvcc_wrapper). Kokkos Kernels without cuBLAS: hnet's
      # one GEMM then runs Kokkos Kernels' own kernel, and the binaries need no libcublas.
      what="Serial + OpenMP + CUDA, sm_80 + sm_90"
      pin_nvcc_wrapper "$kokkos_src/bin/nvcc_wrapper" "$prefix/bin/nvcc_wrapper"
      cxx=(-DCMAKE_CXX_COMPILER="$prefix/bin/nvcc_wrapper" -DCUDAToolkit_ROOT=/usr)
      kokkos_flags=(-DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_OPENMP=ON -DKokkos_ENABLE_CUDA=ON
                    -DKokkos_ENABLE_CUDA_LAMBDA=ON -DKokkos_ARCH_AMPERE80=ON)
      kernels_flags=(-DCMAKE_CXX_COMPILER="$prefix/bin/nvcc_wrapper" -DCUDAToolkit_ROOT=/usr
                     -DKokkosKernels_ENABLE_TPL_CUBLAS=OFF -DKokkosKernels_ENABLE_TPL_CUSPARSE=OFF) ;;
    hip)
      what="Serial + HIP, gfx908"
      cxx=(-DCMAKE_CXX_COMPILER=hipcc)
      kokkos_flags=(-DKokkos_ENABLE_SERIAL=ON -DKokkos_ENABLE_HIP=ON -DKokkos_ARCH_VEGA908=ON)
      kernels_flags=(-DCMAKE_CXX_COMPILER=hipcc -DKokkosKernels_ENABLE_TPL_ROCBLAS=OFF) ;;
  esac

  say "building Kokkos 3.4.1 ($what) into $prefix"
  cmake -S "$kokkos_src" -B "$build/kokkos" -G Ninja "${cxx[@]}" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_CXX_STANDARD=17 -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    "${kokkos_flags[@]}" \
    -DKokkos_ENABLE_TESTS=OFF -DKokkos_ENABLE_EXAMPLES=OFF >"$build/kokkos-configure.log" 2>&1 \
    || { tail -n 40 "$build/kokkos-configure.log"; die "Kokkos configure failed (log: $build/kokkos-configure.log)"; }
  cmake --build "$build/kokkos" -j "$jobs" >"$build/kokkos-build.log" 2>&1 \
    || { tail -n 40 "$build/kokkos-build.log"; die "Kokkos build failed (log: $build/kokkos-build.log)"; }
  cmake --install "$build/kokkos" >/dev/null
  # Kokkos installs its own copy of the wrapper over the pinned one.
  if [ "$backend" = cuda ]; then pin_nvcc_wrapper "$kokkos_src/bin/nvcc_wrapper" "$prefix/bin/nvcc_wrapper"; fi

  say "building Kokkos Kernels 3.4.1 (BLAS;BATCHED, OpenBLAS TPL, no ETI) into $prefix"
  cmake -S "$kernels_src" -B "$build/kernels" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
    -DCMAKE_CXX_STANDARD=17 -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DKokkos_ROOT="$prefix" "${kernels_flags[@]}" \
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

  stamp_of "$backend" >"$prefix/.hnet-complete"
  rm -rf "$build"
  say "done: Kokkos + Kokkos Kernels ($backend) in $prefix"
}

for backend in "${todo_backends[@]}"; do build_kokkos "$backend"; done
