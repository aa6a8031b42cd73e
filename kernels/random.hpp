#pragma once
// Counter-based random numbers: every number is a pure function of integer keys, so a draw is
// identical on every backend, thread count and rank count, and restartable from the keys alone.
// (The Kokkos random pool is not: its state depends on which thread takes which generator.)
#include <cstdint>

#include "kernels/compat.hpp"

namespace hnet::kernels {

// What a stream of random numbers is for; part of every key so two purposes never collide.
enum class Purpose : std::uint64_t {
  identity_features = 1,
  task_inputs = 2,
  latent_noise = 3,
  initialisation = 4,
  beta_draws = 5,
  evaluation_inputs = 6,
  test_data = 7,
  handbuilt = 8,
  size_draws = 9,
  identity_draws = 10,
  identity_positional = 11,
  identity_shift = 12,
};

// splitmix64's finaliser: a bijection on 64-bit integers with full avalanche.
KOKKOS_INLINE_FUNCTION std::uint64_t mix64(std::uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

KOKKOS_INLINE_FUNCTION std::uint64_t combine(std::uint64_t h, std::uint64_t v) {
  return mix64(h ^ mix64(v ^ 0xD1B54A32D192ED03ULL));
}

// A stream is identified by (seed, purpose, a, b, c); elements within it by an index.
struct RngKey {
  std::uint64_t h;
};

KOKKOS_INLINE_FUNCTION RngKey make_key(std::uint64_t seed, Purpose purpose, std::uint64_t a = 0,
                                       std::uint64_t b = 0, std::uint64_t c = 0) {
  std::uint64_t h = mix64(seed);
  h = combine(h, static_cast<std::uint64_t>(purpose));
  h = combine(h, a);
  h = combine(h, b);
  h = combine(h, c);
  return RngKey{h};
}

KOKKOS_INLINE_FUNCTION std::uint64_t random_bits(RngKey key, std::uint64_t element) {
  return combine(key.h, element);
}

// Uniform on the open interval (0, 1): 53 random bits, centred in their cell so 0 never occurs.
KOKKOS_INLINE_FUNCTION double uniform01(RngKey key, std::uint64_t element) {
  return (static_cast<double>(random_bits(key, element) >> 11) + 0.5) * 0x1.0p-53;
}

KOKKOS_INLINE_FUNCTION double uniform(RngKey key, std::uint64_t element, double lo, double hi) {
  return lo + (hi - lo) * uniform01(key, element);
}

// Standard normal by Box–Muller on two uniforms drawn from sub-elements 2e and 2e+1.
// Computed in double and rounded once by the caller, so backends whose libm differs in the last
// bit of double still agree in float.
KOKKOS_INLINE_FUNCTION double normal(RngKey key, std::uint64_t element) {
  const double u1 = uniform01(key, 2 * element);
  const double u2 = uniform01(key, 2 * element + 1);
  const double two_pi = 6.283185307179586476925286766559;
  return compat::sqrt(-2.0 * compat::log(u1)) * compat::cos(two_pi * u2);
}

}  // namespace hnet::kernels
