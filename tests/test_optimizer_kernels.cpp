// The optimizer's kernels (kernels/adam.hpp): Adam against a host reference in double, every
// element updated whatever the block split; the gradient norm's chunk sums bit for bit the
// in-order sums, also where a work item's four chunks run past the end.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/adam.hpp"
#include "view_utils.hpp"

namespace {

namespace hk = hnet::kernels;
using hnet::testing::from_vector;
using hnet::testing::to_vector;
using Vec = std::vector<double>;

// A float view of N(0, scale²) numbers; to_vector gives the references their float values.
hnet::View1<float> normal_view(std::int64_t count, unsigned seed, double scale = 1.0) {
  hnet::View1<float> view("hnet::test::values", count);
  hnet::testing::fill_normal(view, seed, scale);
  return view;
}

// 2.5 host blocks plus a ragged tail, so that a block boundary and the end are crossed.
TEST(Adam, MatchesTheHostReferenceOnEveryElement) {
  const std::int64_t count = 5 * hk::adam_detail::host_block / 2 + 37;
  const auto theta = normal_view(count, 1), m = normal_view(count, 2, 0.1), v = normal_view(count, 3, 0.1),
             g = normal_view(count, 4);
  Vec v0 = to_vector(v);
  for (double& x : v0) x = x * x;  // a second moment is not negative
  from_vector(v, v0);
  v0 = to_vector(v);
  const Vec theta0 = to_vector(theta), m0 = to_vector(m), grad = to_vector(g);
  hk::AdamStep s;
  s.lr = 1e-2, s.grad_scale = 0.5, s.t = 7;
  hk::adam_update(hnet::ExecSpace(), theta, m, v, g, s);
  const Vec got_theta = to_vector(theta), got_m = to_vector(m), got_v = to_vector(v);
  const double c1 = 1 - std::pow(s.beta1, 7), c2 = 1 - std::pow(s.beta2, 7);
  for (std::int64_t i = 0; i < count; ++i) {
    const double gi = s.grad_scale * grad[i];
    const double mi = s.beta1 * m0[i] + (1 - s.beta1) * gi;
    const double vi = s.beta2 * v0[i] + (1 - s.beta2) * gi * gi;
    const double want = theta0[i] - s.lr * (mi / c1) / (std::sqrt(vi / c2) + s.eps);
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
    const auto xv = normal_view(count, 5);
    const Vec x = to_vector(xv);
    hnet::View1<double> partial("hnet::test::partial", chunks);
    hk::sum_of_squares_partials(hnet::ExecSpace(), partial, xv, chunk);
    const Vec got = to_vector(partial);
    for (std::int64_t c = 0; c < chunks; ++c) {
      double want = 0.0;
      for (std::int64_t i = c * chunk; i < std::min(count, (c + 1) * chunk); ++i) {
        want += x[i] * x[i];
      }
      EXPECT_EQ(got[c], want) << "count " << count << " chunk " << c;
    }
  }
}

}  // namespace
