#pragma once
// Counter-based random numbers: every number is a pure function of integer keys, so a draw is
// identical on every backend, thread count and rank count, and restartable from the keys alone.
// (The Kokkos random pool is not: its state depends on which thread takes which generator.)
#include <cstdint>

#include "kernels/compat.hpp"
#include "kernels/views.hpp"

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

// The two functions of Box–Muller without a libm call, so that loops of draws vectorise (a libm
// call per element kept them scalar: 30–40 ns a draw, against under 1 ns for the hash). Both are
// fdlibm's algorithms without their special cases, within 1 ulp in double; every select works on
// integer bits (GCC keeps a floating-point select as a jump under -ftrapping-math).

// ln u for a positive normal double u (here a uniform, 2⁻⁵⁴ ≤ u < 1): u = 2^k·m with m in
// [√2/2, √2), and ln m from fdlibm's e_log.c polynomial in s = f/(2 + f), f = m − 1.
KOKKOS_INLINE_FUNCTION double log_positive(double u) {
  using compat::bits_of;
  using compat::double_of;
  const std::uint64_t bits = bits_of(u), mantissa = bits & 0x000FFFFFFFFFFFFFull;
  const std::uint64_t above = mantissa >= 0x6A09E667F3BCDull ? 1 : 0;  // mantissa of √2: m halved, k + 1
  const double m = double_of(mantissa | (above ? 0x3FE0000000000000ull : 0x3FF0000000000000ull));
  const double k = static_cast<double>(static_cast<std::int64_t>((bits >> 52) & 0x7FF) - 1023 +
                                       static_cast<std::int64_t>(above));
  const double f = m - 1.0, hfsq = 0.5 * f * f, s = f / (2.0 + f), z = s * s, w = z * z;
  const double t1 = w * (3.999999999940941908e-01 + w * (2.222219843214978396e-01 + w * 1.531383769920937332e-01));
  const double t2 = z * (6.666666666666735130e-01 +
                         w * (2.857142874366239149e-01 + w * (1.818357216161805012e-01 + w * 1.479819860511658591e-01)));
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
  return k * ln2_hi - ((hfsq - (s * (hfsq + t2 + t1) + k * ln2_lo)) - f);
}

// cos(2π·t) for 0 ≤ t < 1: t = q/4 + r with q the nearest integer to 4t and |r| ≤ 1/8 (exact),
// then ±cos or ±sin of x = 2π·r, |x| ≤ π/4, from fdlibm's k_cos.c and k_sin.c polynomials.
KOKKOS_INLINE_FUNCTION double cos_two_pi(double t) {
  using compat::bits_of;
  using compat::double_of;
  const double shifter = 0x1.8p52;  // adding it rounds 4t to an integer, held in the low bits
  const double shifted = 4.0 * t + shifter;
  const std::uint64_t quadrant = bits_of(shifted) & 3;
  const double x = (t - 0.25 * (shifted - shifter)) * 6.283185307179586476925286766559;
  const double z = x * x, w = z * z;
  const double r = z * (4.16666666666666019037e-02 + z * (-1.38888888888741095749e-03 + z * 2.48015872894767294178e-05)) +
                   w * w * (-2.75573143513906633035e-07 + z * (2.08757232129817482790e-09 + z * -1.13596475577881948265e-11));
  const double hz = 0.5 * z, one_minus_hz = 1.0 - hz;
  const double cos_x = one_minus_hz + (((1.0 - one_minus_hz) - hz) + z * r);
  const double sin_tail =
      8.33333333332248946124e-03 +
      z * (-1.98412698298579493134e-04 +
           z * (2.75573137070700676789e-06 + z * (-2.50507602534068634195e-08 + z * 1.58969099521155010221e-10)));
  const double sin_x = x + z * x * (-1.66666666666666324348e-01 + z * sin_tail);
  // quadrant 0: cos x, 1: −sin x, 2: −cos x, 3: sin x.
  const std::uint64_t take_sin = 0 - (quadrant & 1), negate = ((quadrant + 1) >> 1 & 1) << 63;
  return double_of(((bits_of(cos_x) & ~take_sin) | (bits_of(sin_x) & take_sin)) ^ negate);
}

// Standard normal by Box–Muller on two uniforms drawn from sub-elements 2e and 2e+1.
// Computed in double and rounded once by the caller, so backends whose arithmetic differs in the
// last bit of double still agree in float.
KOKKOS_INLINE_FUNCTION double normal(RngKey key, std::uint64_t element) {
  const double u1 = uniform01(key, 2 * element);
  const double u2 = uniform01(key, 2 * element + 1);
  return compat::sqrt(-2.0 * log_positive(u1)) * cos_two_pi(u2);
}

// out[i] = sample(key, i) for i0 ≤ i < min(i0 + L, count): a work item's L consecutive draws of one
// network. A whole block is a fixed-length loop of draws alone, which vectorises on CPUs (a draw in
// a loop with other work stays scalar); callers launch a work item per block of L with their key.
template <int L, class T, class Sample>
KOKKOS_INLINE_FUNCTION void draw_block(T* const out, const std::int64_t i0, const std::int64_t count, const RngKey key,
                                       const Sample& sample) {
  if (i0 + L <= count) {
    for (int j = 0; j < L; ++j) out[i0 + j] = sample(key, static_cast<std::uint64_t>(i0 + j));
  } else {
    for (std::int64_t i = i0; i < count; ++i) out[i] = sample(key, static_cast<std::uint64_t>(i));
  }
}

}  // namespace hnet::kernels
