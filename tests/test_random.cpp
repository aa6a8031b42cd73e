#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/random.hpp"
#include "kernels/views.hpp"

namespace hk = hnet::kernels;

TEST(Random, UniformIsInOpenUnitIntervalWithMeanHalf) {
  const auto key = hk::make_key(7, hk::Purpose::test_data, 1, 2, 3);
  double sum = 0.0;
  const int count = 200000;
  for (int e = 0; e < count; ++e) {
    const double u = hk::uniform01(key, e);
    ASSERT_GT(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / count, 0.5, 0.003);
}

TEST(Random, NormalHasStandardMoments) {
  const auto key = hk::make_key(11, hk::Purpose::test_data);
  const int count = 200000;
  double m1 = 0, m2 = 0, m4 = 0;
  for (int e = 0; e < count; ++e) {
    const double z = hk::normal(key, e);
    m1 += z, m2 += z * z, m4 += z * z * z * z;
  }
  m1 /= count, m2 /= count, m4 /= count;
  EXPECT_NEAR(m1, 0.0, 0.01);
  EXPECT_NEAR(m2, 1.0, 0.01);
  EXPECT_NEAR(m4, 3.0, 0.06);
}

TEST(Random, KeysSeparateStreams) {
  // Neighbouring keys must give unrelated streams: correlation of normals near 0.
  const int count = 50000;
  const hk::RngKey keys[] = {hk::make_key(1, hk::Purpose::task_inputs, 0, 0),
                             hk::make_key(1, hk::Purpose::task_inputs, 0, 1),
                             hk::make_key(1, hk::Purpose::task_inputs, 1, 0),
                             hk::make_key(2, hk::Purpose::task_inputs, 0, 0),
                             hk::make_key(1, hk::Purpose::latent_noise, 0, 0)};
  for (int a = 0; a < 5; ++a)
    for (int b = a + 1; b < 5; ++b) {
      double c = 0;
      for (int e = 0; e < count; ++e) c += hk::normal(keys[a], e) * hk::normal(keys[b], e);
      EXPECT_NEAR(c / count, 0.0, 0.03) << "streams " << a << " and " << b;
    }
}

TEST(Random, GoldenValuesPinTheGenerator) {
  // These bits define every random stream of hnet (identity features, data, noise): a change
  // here silently changes every result and checkpoint, so it must be deliberate.
  const auto key = hk::make_key(1, hk::Purpose::identity_features, 0, 0, 0);
  EXPECT_EQ(hk::random_bits(key, 0), 0x9dc1f7709377fa26ULL);
  EXPECT_EQ(hk::random_bits(key, 1), 0xb4de8515a53cd131ULL);
  EXPECT_DOUBLE_EQ(hk::normal(key, 0), -0.26548514441482407);
  EXPECT_DOUBLE_EQ(hk::uniform01(key, 3), 0.65615700318920256);
}

// normal() computes ln and cos without libm (so that loops of draws vectorise): within an ulp or
// two of libm in double, over random arguments and the edges of the reductions.
TEST(Random, LogAndCosineFollowLibmWithinUlps) {
  const auto key = hk::make_key(13, hk::Purpose::test_data);
  std::vector<double> args = {0x1.0p-54, 0x1.0p-53, 0.5, 0.70710678118654746, 0.70710678118654757,
                              0.70710678118654768, 1.0 - 0x1.0p-53, 0.125, 0.25, 0.375, 0.625, 0.75, 0.875};
  for (int e = 0; e < 100000; ++e) args.push_back(hk::uniform01(key, e));
  for (const double u : args) {
    const double log_libm = std::log(u);
    EXPECT_LE(std::fabs(hk::log_positive(u) - log_libm), 2 * std::fabs(std::nextafter(log_libm, 0.0) - log_libm)) << u;
    const long double angle = 6.283185307179586476925286766559L * static_cast<long double>(u);
    EXPECT_LE(std::fabs(static_cast<long double>(hk::cos_two_pi(u)) - std::cos(angle)), 2.5e-16L) << u;
  }
}

// The draws as float, what every caller keeps: those of libm's Box–Muller (differences in the last
// bit of double reach a float only at a rounding tie, about once in 10⁸ draws).
TEST(Random, NormalDrawsRoundToTheFloatsOfLibmBoxMuller) {
  const auto key = hk::make_key(17, hk::Purpose::test_data, 4);
  int differ = 0;
  for (int e = 0; e < 1000000; ++e) {
    const std::uint64_t first = 2 * static_cast<std::uint64_t>(e);
    const double u1 = hk::uniform01(key, first), u2 = hk::uniform01(key, first + 1);
    const double libm = std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586476925286766559 * u2);
    const double ours = hk::normal(key, e);
    // libm rounds 2π·u2 first: up to 4.4e-16 in the angle, times the radius sqrt(−2 ln u1) ≤ 8.6.
    EXPECT_NEAR(ours, libm, 4e-15 + 1e-15 * std::fabs(libm)) << e;
    differ += static_cast<float>(ours) != static_cast<float>(libm);
  }
  EXPECT_LE(differ, 1);
}

namespace {
// normal(key, e) for e < count, drawn on hnet's execution space. A function of its own: nvcc
// takes no device lambda inside a TEST body (a private member function).
hnet::View1<float> draw_normals(const hk::RngKey& key, int count) {
  hnet::View1<float> device("hnet::test::normals", count);
  Kokkos::parallel_for(
      "hnet::test::draw", Kokkos::RangePolicy<hnet::ExecSpace>(0, count),
      KOKKOS_LAMBDA(const int e) { device(e) = static_cast<float>(hk::normal(key, e)); });
  return device;
}
}  // namespace

TEST(Random, DeviceDrawsEqualHostDrawsBitwise) {
  const int count = 4096;
  const auto key = hk::make_key(5, hk::Purpose::test_data, 9);
  const hnet::View1<float> device = draw_normals(key, count);
  auto host = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), device);
  for (int e = 0; e < count; ++e) {
    const float expected = static_cast<float>(hk::normal(key, e));
    ASSERT_EQ(std::memcmp(&expected, &host(e), sizeof(float)), 0) << "element " << e;
  }
}
