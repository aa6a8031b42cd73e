#pragma once
// Pointwise functions shared by the kernels. The logistic function needs only e = exp(−|z|) ≤ 1,
// so exp never overflows, for float and double alike.
//
// The float path is written so that loops over elements vectorise under GCC's default
// -ftrapping-math: no libm call (a scalar call per element), and no floating-point compare or
// select, which GCC keeps as a jump there (or, allowed to speculate, would evaluate the
// polynomial on unclamped inputs and raise FE_INVALID). The clamp and the sign select work on
// the bits instead; every value is exact and the same on every backend.
#include <cstdint>

#include "kernels/compat.hpp"

namespace hnet::kernels {

// e^−|z| in float without a libm call: |z| capped at 87 (e^−87 ≈ 1.6e−38, near the smallest normal
// float; nothing downstream can tell the difference), Cody–Waite reduction −|z| = n·ln2 + r with
// |r| ≤ ln2/2, Cephes' expf polynomial (within 2 ulp of expf, tested), and 2^n written into the
// exponent bits.
// |z|'s cap: 87.0f; below it, float bits order like the values.
constexpr std::uint32_t exp_neg_abs_cap = 0x42AE0000u;
// e^x / 2^n for x ≤ 0 and the integer n nearest x·log₂e, on a float or a GCC vector of floats
// (lanes::exp_neg_abs): the same operations either way, so the same bits.
template <class F>
KOKKOS_FORCEINLINE_FUNCTION F exp_reduced(F x, F& n) {
  // Round x·log₂e to the nearest integer by adding and removing 1.5·2²³ (no floor instruction).
  n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  F r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  F poly = r * 1.9875691500e-4f + 1.3981999507e-3f;
  poly = poly * r + 8.3334519073e-3f;
  poly = poly * r + 4.1665795894e-2f;
  poly = poly * r + 1.6666665459e-1f;
  poly = poly * r + 5.0000001201e-1f;
  return poly * r * r + r + 1.0f;
}
KOKKOS_INLINE_FUNCTION float exp_neg_abs(float z) {
  using compat::bits_of;
  using compat::float_of;
  const std::uint32_t a = bits_of(z) & 0x7FFFFFFFu;
  float n;
  const float poly = exp_reduced(-float_of(a < exp_neg_abs_cap ? a : exp_neg_abs_cap), n);
  return poly * float_of(static_cast<std::uint32_t>(static_cast<std::int32_t>(n) + 127) << 23);
}
// Double (the gradient checks): libm.
KOKKOS_INLINE_FUNCTION double exp_neg_abs(double z) { return compat::exp(-compat::fabs(z)); }

// `if_nonnegative` where z's sign bit is clear, else `if_negative`.
KOKKOS_INLINE_FUNCTION float select_by_sign(float z, float if_nonnegative, float if_negative) {
  using compat::bits_of;
  using compat::float_of;
  const std::uint32_t negative = 0u - (bits_of(z) >> 31);
  return float_of((bits_of(if_nonnegative) & ~negative) | (bits_of(if_negative) & negative));
}
KOKKOS_INLINE_FUNCTION double select_by_sign(double z, double if_nonnegative, double if_negative) {
  return z >= 0.0 ? if_nonnegative : if_negative;
}

// σ(z) = 1/(1 + e) for z ≥ 0 and e/(1 + e) for z < 0, with e = e^−|z|.
template <class T>
KOKKOS_INLINE_FUNCTION T sigmoid(T z) {
  const T e = exp_neg_abs(z);
  const T r = T(1) / (T(1) + e);
  return select_by_sign(z, r, e * r);
}

template <class T>
KOKKOS_INLINE_FUNCTION T swish(T z) {
  return z * sigmoid(z);
}

// d/dz [z σ(z)] = σ(z) (1 + z (1 − σ(z)))
template <class T>
KOKKOS_INLINE_FUNCTION T swish_derivative(T z) {
  const T s = sigmoid(z);
  return s * (T(1) + z * (T(1) - s));
}

// Host code only (compat.hpp's HNET_HOST_LANES): nvcc's and hipcc's front ends reject the vector
// conditionals below.
#if defined(HNET_HOST_LANES)
// The float functions above on a GCC vector of floats (the host's tile epilogues, linear.hpp):
// lane by lane the same operations in the same order, so the same bits, where GCC leaves the
// scalar functions in a loop over a tile row unvectorised (a swish per element then costs as much
// as the row's 64 FMAs).
namespace lanes {
// Bits and Ints: integer vectors of V's shape; casts between same-sized vectors reinterpret the bits.

template <class V>
inline __attribute__((always_inline)) V exp_neg_abs(V z) {
  typedef std::uint32_t Bits __attribute__((vector_size(sizeof(V))));
  typedef std::int32_t Ints __attribute__((vector_size(sizeof(V))));
  const Bits a = (Bits)z & 0x7FFFFFFFu;
  V n;
  const V poly = exp_reduced(-(V)(a < exp_neg_abs_cap ? a : Bits{} + exp_neg_abs_cap), n);
  return poly * (V)((Bits)(__builtin_convertvector(n, Ints) + 127) << 23);
}

template <class V>
inline __attribute__((always_inline)) V sigmoid(V z) {
  typedef std::uint32_t Bits __attribute__((vector_size(sizeof(V))));
  const V e = exp_neg_abs(z);
  const V r = 1.0f / (1.0f + e);
  const Bits negative = Bits{} - ((Bits)z >> 31);
  return (V)(((Bits)r & ~negative) | ((Bits)(e * r) & negative));
}

template <class V>
inline __attribute__((always_inline)) V swish(V z) {
  return z * sigmoid(z);
}

template <class V>
inline __attribute__((always_inline)) V swish_derivative(V z) {
  const V s = sigmoid(z);
  return s * (1.0f + z * (1.0f - s));
}
}  // namespace lanes
#endif

}  // namespace hnet::kernels
