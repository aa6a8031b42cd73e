// The optimizer's kernels (kernels/adam.hpp): Adam against a host reference in double, every
// element updated whatever the block split; the gradient norm's chunk sums bit for bit the
// in-order sums, also where a work item's four chunks run past the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/adam.hpp"
#include "view_utils.hpp"

namespace {

namespace hk = hnet::kernels;
using hnet::testing::from_vector;
using hnet::testing::to_vector;
using Vec = std::vector<double>;

hnet::View1<float> float_view(const Vec& values) {
  hnet::View1<float> view("hnet::test::values", values.size());
  from_vector(view, values);
  return view;
}

Vec random_vector(std::size_t size, unsigned seed, double scale = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, scale);
  Vec v(size);
  for (double& x : v) x = normal(rng);
  return v;
}

// 2.5 host blocks plus a ragged tail, so that a block boundary and the end are crossed.
TEST(Adam, MatchesTheHostReferenceOnEveryElement) {
  const std::int64_t count = 5 * hk::adam_detail::host_block / 2 + 37;
  const Vec theta0 = random_vector(count, 1), m0 = random_vector(count, 2, 0.1), grad = random_vector(count, 4);
  Vec v0 = random_vector(count, 3, 0.1);
  for (double& x : v0) x = x * x;
  hk::AdamStep s;
  s.lr = 1e-2, s.grad_scale = 0.5, s.t = 7;
  const auto theta = float_view(theta0), m = float_view(m0), v = float_view(v0), g = float_view(grad);
  hk::adam_update(hnet::ExecSpace(), theta, m, v, g, s);
  const Vec got_theta = to_vector(theta), got_m = to_vector(m), got_v = to_vector(v);
  const double c1 = 1 - std::pow(s.beta1, 7), c2 = 1 - std::pow(s.beta2, 7);
  for (std::int64_t i = 0; i < count; ++i) {
    const double gi = s.grad_scale * static_cast<float>(grad[i]);
    const double mi = s.beta1 * static_cast<float>(m0[i]) + (1 - s.beta1) * gi;
    const double vi = s.beta2 * static_cast<float>(v0[i]) + (1 - s.beta2) * gi * gi;
    const double want = static_cast<float>(theta0[i]) - s.lr * (mi / c1) / (std::sqrt(vi / c2) + s.eps);
    ASSERT_NEAR(got_m[i], mi, 1e-6 * (1 + std::fabs(mi))) << i;
    ASSERT_NEAR(got_v[i], vi, 1e-6 * (1 + std::fabs(vi))) << i;
    ASSERT_NEAR(got_theta[i], want, 1e-6 * (1 + std::fabs(want))) << i;
  }
}

// Chunk sums of x² in double, each in order: 11 whole chunks and a short one (the last work item
// of four chunks runs past the end), and an exact multiple of four chunks.
TEST(GradientNorm, ChunkSumsAreTheInOrderSums) {
  const std::int64_t chunk = 256;
  for (const std::int64_t count : {11 * chunk + 100, 8 * chunk}) {
    const std::int64_t chunks = (count + chunk - 1) / chunk;
    const Vec x = random_vector(count, 5);
    const auto xv = float_view(x);
    hnet::View1<double> partial("hnet::test::partial", chunks);
    hk::sum_of_squares_partials(hnet::ExecSpace(), partial, xv, chunk);
    const Vec got = to_vector(partial);
    for (std::int64_t c = 0; c < chunks; ++c) {
      double want = 0.0;
      for (std::int64_t i = c * chunk; i < std::min(count, (c + 1) * chunk); ++i) {
        const double value = static_cast<float>(x[i]);
        want += value * value;
      }
      EXPECT_EQ(got[c], want) << "count " << count << " chunk " << c;
    }
  }
}

}  // namespace
