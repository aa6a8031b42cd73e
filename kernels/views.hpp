#pragma once
// View and execution-space vocabulary shared by every kernel. Everything that crosses the
// host, MPI, HDF5 or checkpoint boundary is LayoutRight, so flat copies are well defined.
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstdint>
#include <type_traits>

namespace hnet {

#if defined(HNET_FORCE_SERIAL)
using ExecSpace = Kokkos::Serial;
#else
using ExecSpace = Kokkos::DefaultExecutionSpace;
#endif
using MemSpace = typename ExecSpace::memory_space;

template <class T, class Space = MemSpace>
using View1 = Kokkos::View<T*, Kokkos::LayoutRight, Space>;
template <class T, class Space = MemSpace>
using View2 = Kokkos::View<T**, Kokkos::LayoutRight, Space>;
template <class T, class Space = MemSpace>
using View3 = Kokkos::View<T***, Kokkos::LayoutRight, Space>;

}  // namespace hnet

namespace hnet::kernels {

// Views in the memory space of execution space E, for kernel signatures:
// template <class E, class T> void op_forward(const E& exec, const V3<E, T>& y, ...).
template <class E, class T>
using V1 = View1<T, typename E::memory_space>;
template <class E, class T>
using V2 = View2<T, typename E::memory_space>;
template <class E, class T>
using V3 = View3<T, typename E::memory_space>;

// Consecutive elements per work item of flat elementwise kernels: a vector's worth (16 floats, two
// AVX2 registers) on host backends, one per thread on GPUs, where consecutive threads must touch
// consecutive elements. A constant of the backend, never of the thread count.
template <class E>
constexpr bool on_host = std::is_same<typename E::memory_space, Kokkos::HostSpace>::value;
template <class E>
KOKKOS_INLINE_FUNCTION constexpr int vector_lanes() {
  return on_host<E> ? 16 : 1;
}

// How a kernel writes its output: `no` assigns it, `yes` adds to what is there. A backward kernel
// adds by default (a gradient with several consumers sums their terms); the first writer of a
// buffer with one consumer assigns, so that buffer need not be zeroed before the backward.
enum class Accumulate { no, yes };

// out = value, or out += value: the branch is the same for every element of a kernel.
template <class T>
KOKKOS_FORCEINLINE_FUNCTION void write_or_add(T& out, const T value, const bool add) {
  out = add ? out + value : value;
}

// An array of `count` T in a team's level-1 scratch, and the scratch size to request for it (each
// array aligned for doubles).
template <class T>
std::size_t scratch_bytes(std::int64_t count) {
  return count * sizeof(T) + alignof(double);
}
template <class T, class Member>
KOKKOS_INLINE_FUNCTION T* scratch_array(const Member& team, std::int64_t count) {
  return static_cast<T*>(team.team_scratch(1).get_shmem_aligned(count * sizeof(T), alignof(double)));
}

// An optional view argument is passed as a default-constructed View.
template <class View>
inline bool present(const View& v) {
  return v.data() != nullptr;
}

}  // namespace hnet::kernels
