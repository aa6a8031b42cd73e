#!/usr/bin/env bash
# Carry a build to a node whose image lacks hnet's libraries (a GPU node with its own OS image, a
# container without HDF5 or OpenMPI): pack it here, unpack it there.
#
#   bash perf/pack_build.sh pack BUILD_DIR PACK.tar.xz     # here, from the repository root
#   bash perf/pack_build.sh unpack PACK.tar.xz             # there, from the repository root
#
# pack: BUILD_DIR without its object files (binaries, CTest files, the label checker), the shared
# libraries they and OpenMPI's runtime link (except the C and C++ runtimes, which the node has),
# OpenMPI's runtime (orterun, orted, its components and help files) and h5diff.
# unpack (as root; the node is expected to be a scratch machine): BUILD_DIR back in place, OpenMPI
# at its own paths where the node has none, the packed libraries in /opt/hnet-libs, and
# the CTest files pointed at this checkout, this node's python3 and cmake. Then, in the same shell:
#   export LD_LIBRARY_PATH=/opt/hnet-libs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
#   PYTHON="env -u LD_LIBRARY_PATH python3" bash perf/gpu_check.sh BUILD_DIR OUT 470
# (the node's own Python, for the PyTorch peer, keeps its own libraries). Debian 12 paths; an
# OpenMPI of another layout needs the launcher of its own.
set -euo pipefail

openmpi_paths=(usr/lib/x86_64-linux-gnu/openmpi usr/lib/x86_64-linux-gnu/pmix2 usr/share/openmpi etc/openmpi)
openmpi_programs=(orterun orted ompi_info h5diff)

pack() {
  local build=$1 pack=$2 stage
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/root/usr/bin" "$stage/lib"
  find "$build" -path '*/CMakeFiles' -prune -o -type f \( -name '*.cmake' -o -path "$build/bin/*" -o -name '*.so' \
    -o -name CMakeCache.txt \) -print | tar cf - -T - | tar xf - -C "$stage"
  local p
  for p in "${openmpi_paths[@]}"; do
    [[ -e /$p ]] && mkdir -p "$stage/root/$(dirname "$p")" && cp -a "/$p" "$stage/root/$p"
  done
  for p in "${openmpi_programs[@]}"; do cp -L "$(command -v "$p")" "$stage/root/usr/bin/"; done
  # Every shared library the binaries and OpenMPI's runtime reach, except glibc's and the C++ runtime.
  local skip='^(libc|libm|libdl|libpthread|librt|libresolv|ld-linux-x86-64|libstdc\+\+|libgcc_s|linux-vdso)\.'
  { find "$stage/$build" -type f \( -perm -u+x -o -name '*.so' \); find "$stage/root" -type f; } |
    while read -r f; do ldd "$f" 2>/dev/null | awk '$3 ~ /^\// {print $1, $3}' || true; done | sort -u |
    while read -r name path; do
      [[ $name =~ $skip ]] || cp -Ln "$path" "$stage/lib/$name"
    done
  tar cf - -C "$stage" "$build" root lib | xz -T0 -6 >"$pack"
  echo "pack_build: $pack ($(du -h "$pack" | cut -f1)): $build, $(ls "$stage/lib" | wc -l) libraries, OpenMPI's runtime"
}

unpack() {
  local pack=$1 stage build p
  stage=$(mktemp -d)
  tar xJf "$pack" -C "$stage"
  build=$(cd "$stage" && ls -d */ | grep -v -x -e root/ -e lib/ | head -1)
  build=${build%/}
  rm -rf "$build" && mv "$stage/$build" "$build"
  for p in "${openmpi_paths[@]}"; do
    [[ -e $stage/root/$p && ! -e /$p ]] && mkdir -p "/$(dirname "$p")" && cp -a "$stage/root/$p" "/$p"
  done
  for p in "${openmpi_programs[@]}"; do [[ -e /usr/bin/$p ]] || cp "$stage/root/usr/bin/$p" /usr/bin/; done
  [[ -e /usr/bin/mpirun ]] || ln -s orterun /usr/bin/mpirun
  [[ -e /usr/bin/mpiexec ]] || ln -s orterun /usr/bin/mpiexec
  # All of them, the node's own copies notwithstanding: one consistent set under hnet's binaries
  # (the node's newer C and C++ runtimes serve them).
  mkdir -p /opt/hnet-libs && cp "$stage"/lib/* /opt/hnet-libs/
  # The CTest files name the paths of the machine that built them.
  local built_in
  built_in=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
  find "$build" -name '*.cmake' -exec sed -i -e "s#$built_in#$PWD#g" -e "s#/usr/bin/python3#$(command -v python3)#g" \
    -e "s#/usr/bin/cmake#$(command -v cmake)#g" {} +
  rm -rf "$stage"
  echo "pack_build: $build unpacked, $(ls /opt/hnet-libs | wc -l) libraries in /opt/hnet-libs"
}

case ${1:-} in
  pack) pack "${2:?BUILD_DIR}" "${3:?PACK.tar.xz}" ;;
  unpack) unpack "${2:?PACK.tar.xz}" ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d' >&2; exit 2 ;;
esac
