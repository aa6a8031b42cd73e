#pragma once
// The one place where Kokkos 3.4 (Debian's trilinos source) and current Kokkos (4.x, 5.x on
// clusters) differ for hnet: math functions, fence labels.
#include <Kokkos_Core.hpp>

#include <cstdint>
#include <type_traits>

// Host code compiled by GCC or Clang themselves, where GCC's vector extensions, inline asm and the
// x86 intrinsics serve the host's kernels. nvcc's and hipcc's front ends reject the vector
// conditionals, and their builds run the training step on the device, so their host code keeps
// the scalar paths.
#if defined(__GNUC__) && !defined(__CUDA_ARCH__) && !defined(__HIP_DEVICE_COMPILE__) && !defined(__NVCC__) && \
    !defined(__HIPCC__)
#define HNET_HOST_LANES 1
#endif
#if defined(__AVX__) && defined(HNET_HOST_LANES)
#include <immintrin.h>
#endif

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

// The host's vector register width in bytes, as the compile target sets it.
#if defined(__AVX512F__)
constexpr int host_vector_bytes = 64;
#elif defined(__AVX__)
constexpr int host_vector_bytes = 32;
#else
constexpr int host_vector_bytes = 16;
#endif

#if defined(HNET_HOST_LANES) && (defined(__x86_64__) || defined(__aarch64__))
// x (a float, a double or a GCC vector of them) passes through an empty asm that claims to change
// it in its register: the compiler can neither see through it nor fuse across it. Vectors wider
// than the host's registers go through memory.
template <class V>
inline __attribute__((always_inline)) void opaque(V& x) {
  if constexpr (static_cast<int>(sizeof(V)) > host_vector_bytes) {
    asm("" : "+m"(x));
  } else {
#if defined(__x86_64__) && defined(__AVX512F__)
    asm("" : "+v"(x));
#elif defined(__x86_64__)
    asm("" : "+x"(x));
#else
    asm("" : "+w"(x));
#endif
  }
}
#endif

#if defined(HNET_HOST_LANES)
// r[j][l] ↔ r[l][j]: N vectors of N lanes (GCC vector types) transposed in registers, in log₂ N
// rounds; the round of block size s swaps the off-diagonal s × s blocks of every 2s × 2s block, a
// pair of two-vector shuffles per pair of rows.
template <class V, int N>
inline __attribute__((always_inline)) void transpose_square(V (&r)[N]) {
  typedef std::remove_reference_t<decltype(r[0][0])> Lane;
  typedef std::conditional_t<sizeof(Lane) == 4, std::int32_t, std::int64_t> Index;
  typedef Index Mask __attribute__((vector_size(sizeof(V))));
  static_assert(sizeof(V) == N * sizeof(Lane), "N vectors of N lanes");
#pragma GCC unroll 8
  for (int s = N / 2; s >= 1; s /= 2) {
    Mask keep, take;  // row j (bit s clear) and row j + s after the swap, from (r[j], r[j + s])
#pragma GCC unroll 64
    for (int l = 0; l < N; ++l) keep[l] = (l & s) ? N + l - s : l, take[l] = (l & s) ? N + l : l + s;
#pragma GCC unroll 64
    for (int j = 0; j < N; ++j)
      if (!(j & s)) {
        const V a = r[j], b = r[j + s];
        r[j] = __builtin_shuffle(a, b, keep), r[j + s] = __builtin_shuffle(a, b, take);
      }
  }
}
#endif

// Makes the values w[0..N) opaque to the compiler, so a product stored there stays a rounded
// product instead of becoming an FMA with the add it feeds (GCC contracts across statements by
// default, also in vectorised code, where __builtin_assoc_barrier is dropped). Where two code
// paths must sum the same products to the same bits (kernels/pairwise_sum.hpp's blocks against
// its one-at-a-time adds), the one whose products feed adds directly needs it. On the host the
// values pass through vector registers by an empty asm (free); device compilers keep x·y + z apart
// where it matters to hnet already (one path only), so there it does nothing.
template <class T, int N>
KOKKOS_FORCEINLINE_FUNCTION void keep_rounded(T (&w)[N]) {
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__) || !defined(__GNUC__)
  (void)w;
#elif defined(HNET_HOST_LANES) && (defined(__x86_64__) || defined(__aarch64__))
  constexpr int bytes = host_vector_bytes, per = bytes / static_cast<int>(sizeof(T));
  typedef T V __attribute__((vector_size(bytes)));
  for (int k = 0; k < N / per; ++k) {
    V v;
    __builtin_memcpy(&v, &w[k * per], sizeof v);
    opaque(v);
    __builtin_memcpy(&w[k * per], &v, sizeof v);
  }
  for (int k = N / per * per; k < N; ++k) opaque(w[k]);
#else  // through memory: slow, but GPU builds sum on the device
  asm volatile("" : : "r"(&w[0]) : "memory");
#endif
}

// dst[0 .. n) = src[0 .. n) for floats, n a multiple of 8, with non-temporal (streaming) stores
// where the host has them and dst is 32-byte aligned: for results far larger than the caches,
// written once and read back only after many other kernels (P(β): 73 MB at paper size), which a
// plain store first reads into cache (a write-allocate, as much traffic again) and then evicts.
// Returns whether it streamed; the caller then ends its writes with stream_fence() before other
// threads read them. The values are the same either way.
#if defined(__AVX__) && defined(HNET_HOST_LANES)
inline bool store_streaming(float* dst, const float* src, std::int64_t n) {
  if (reinterpret_cast<std::uintptr_t>(dst) % 32 != 0) return false;
  for (std::int64_t k = 0; k < n; k += 8) _mm256_stream_ps(dst + k, _mm256_loadu_ps(src + k));
  return true;
}
inline void stream_fence() { _mm_sfence(); }
#else
KOKKOS_INLINE_FUNCTION bool store_streaming(float*, const float*, std::int64_t) { return false; }
KOKKOS_INLINE_FUNCTION void stream_fence() {}
#endif

// The bits of a float or double as the unsigned integer of its size, and back (std::bit_cast is
// C++20): the device intrinsics on GPUs, a memcpy that compiles to a register move on the host.
template <class To, class From>
inline To host_bit_cast(const From from) {
  static_assert(sizeof(To) == sizeof(From), "a bit cast keeps the size");
  To to;
  __builtin_memcpy(&to, &from, sizeof to);
  return to;
}
#if defined(__CUDA_ARCH__) || defined(__HIP_DEVICE_COMPILE__)
KOKKOS_INLINE_FUNCTION std::uint32_t bits_of(float x) { return __float_as_uint(x); }
KOKKOS_INLINE_FUNCTION float float_of(std::uint32_t u) { return __uint_as_float(u); }
KOKKOS_INLINE_FUNCTION std::uint64_t bits_of(double x) { return static_cast<std::uint64_t>(__double_as_longlong(x)); }
KOKKOS_INLINE_FUNCTION double double_of(std::uint64_t u) { return __longlong_as_double(static_cast<long long>(u)); }
#else
KOKKOS_INLINE_FUNCTION std::uint32_t bits_of(float x) { return host_bit_cast<std::uint32_t>(x); }
KOKKOS_INLINE_FUNCTION float float_of(std::uint32_t u) { return host_bit_cast<float>(u); }
KOKKOS_INLINE_FUNCTION std::uint64_t bits_of(double x) { return host_bit_cast<std::uint64_t>(x); }
KOKKOS_INLINE_FUNCTION double double_of(std::uint64_t u) { return host_bit_cast<double>(u); }
#endif

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
