#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "gradcheck.hpp"
#include "mlp_case.hpp"

using namespace hnet::testing;

TEST(GeneratedMlpGradcheck, BackwardMatchesFiniteDifferencesForEveryParameter) {
  MlpCase<double> c(3, 9, 4, 6, 5);
  std::mt19937_64 rng(99);
  std::normal_distribution<double> normal;
  std::vector<double> upstream(c.batch);
  for (double& g : upstream) g = normal(rng);  // random upstream gradient dJ/dL_b
  auto objective = [&]() {
    const auto loss = c.forward();
    double j = 0;
    for (std::int64_t b = 0; b < c.batch; ++b) j += upstream[b] * loss[b];
    return j;
  };
  objective();
  c.backward(upstream);
  const auto gw0 = to_host(c.dw0), gb0 = to_host(c.db0), gw1 = to_host(c.dw1), gb1 = to_host(c.db1);
  using hnet::testing::check_gradient;
  EXPECT_EQ(check_gradient("W0", c.hw0.data(), gw0.data(), gw0.size(), objective), 0);
  EXPECT_EQ(check_gradient("b0", c.hb0.data(), gb0.data(), gb0.size(), objective), 0);
  EXPECT_EQ(check_gradient("W1", c.hw1.data(), gw1.data(), gw1.size(), objective), 0);
  EXPECT_EQ(check_gradient("b1", c.hb1.data(), gb1.data(), gb1.size(), objective), 0);
}

TEST(GeneratedMlpGradcheck, ParameterGradientsAccumulate) {
  MlpCase<double> c(2, 8, 3, 5, 7);
  c.forward();
  c.backward({0.7, -1.3});
  const auto once = to_host(c.dw0);
  c.backward({0.7, -1.3});
  const auto twice = to_host(c.dw0);
  for (std::size_t k = 0; k < once.size(); ++k) EXPECT_NEAR(twice[k], 2 * once[k], 1e-12 * (1 + std::fabs(once[k])));
}
