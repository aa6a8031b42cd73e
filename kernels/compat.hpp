#pragma once
// The one place where Kokkos 3.4 (Debian's trilinos source) and current Kokkos (4.x, 5.x on
// clusters) differ for hnet: math functions, fence labels.
#include <Kokkos_Core.hpp>

#include <cstdint>

namespace hnet::compat {

#if KOKKOS_VERSION >= 30700
#define HNET_KOKKOS_MATH Kokkos
#else
#define HNET_KOKKOS_MATH Kokkos::Experimental
#endif

template <class T> KOKKOS_INLINE_FUNCTION T exp(T x) { return HNET_KOKKOS_MATH::exp(x); }
template <class T> KOKKOS_INLINE_FUNCTION T log(T x) { return HNET_KOKKOS_MATH::log(x); }
template <class T> KOKKOS_INLINE_FUNCTION T sqrt(T x) { return HNET_KOKKOS_MATH::sqrt(x); }
template <class T> KOKKOS_INLINE_FUNCTION T cos(T x) { return HNET_KOKKOS_MATH::cos(x); }
template <class T> KOKKOS_INLINE_FUNCTION T sin(T x) { return HNET_KOKKOS_MATH::sin(x); }
template <class T> KOKKOS_INLINE_FUNCTION T fabs(T x) { return HNET_KOKKOS_MATH::fabs(x); }
template <class T> KOKKOS_INLINE_FUNCTION T log1p(T x) { return HNET_KOKKOS_MATH::log1p(x); }

#undef HNET_KOKKOS_MATH

// A float from its bits and back (std::bit_cast is C++20).
KOKKOS_INLINE_FUNCTION float float_from_bits(std::int32_t bits) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __int_as_float(bits);
#else
  float value;
  __builtin_memcpy(&value, &bits, sizeof value);
  return value;
#endif
}
KOKKOS_INLINE_FUNCTION std::int32_t bits_from_float(float value) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __float_as_int(value);
#else
  std::int32_t bits;
  __builtin_memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

// A double from its bits and back.
KOKKOS_INLINE_FUNCTION double double_from_bits(std::int64_t bits) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return __longlong_as_double(static_cast<long long>(bits));
#else
  double value;
  __builtin_memcpy(&value, &bits, sizeof value);
  return value;
#endif
}
KOKKOS_INLINE_FUNCTION std::int64_t bits_from_double(double value) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
  return static_cast<std::int64_t>(__double_as_longlong(value));
#else
  std::int64_t bits;
  __builtin_memcpy(&bits, &value, sizeof bits);
  return bits;
#endif
}

// Full unrolling of the fixed-size loops of a register tile. GCC unrolls completely only small
// loops by itself; a 6 × 16 tile left rolled keeps its accumulators in memory (measured: 1.3
// instead of 59 GFLOP/s). nvcc and hipcc spell it #pragma unroll. nvcc's host pass knows neither
// spelling (warning 1675-D, or GCC's -Wunknown-pragmas), and host code of a CUDA build is not hot.
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__) || defined(__clang__)
#define HNET_UNROLL _Pragma("unroll")
#elif defined(__CUDACC__)
#define HNET_UNROLL
#elif defined(__GNUC__)
#define HNET_UNROLL _Pragma("GCC unroll 32")
#else
#define HNET_UNROLL
#endif

// Kokkos gained labelled fences in 3.5/3.6; the label then shows up in Kokkos Tools.
template <class ExecSpace>
inline void fence(const ExecSpace& exec, const char* label) {
#if KOKKOS_VERSION >= 30600
  exec.fence(label);
#else
  (void)label;
  exec.fence();
#endif
}

}  // namespace hnet::compat
