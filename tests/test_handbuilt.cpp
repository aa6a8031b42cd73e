#include <gtest/gtest.h>

#include "hnet/handbuilt.hpp"

namespace {
hnet::HandbuiltResult fit(hnet::HandbuiltAlgorithm algorithm, double slope = 16, double pool_bias = 20,
                          std::uint64_t seed = 1) {
  hnet::HandbuiltOptions o;
  o.algorithm = algorithm;
  o.slope = slope;
  o.pool_bias = pool_bias;
  o.seed = seed;
  return hnet::fit_handbuilt(o, hnet::EvaluationConfig{});
}
using A = hnet::HandbuiltAlgorithm;
}  // namespace

// The table of model.md §9 (x ~ N(0, I16), m = 48, output bias fitted), within 5 %.
TEST(Handbuilt, ConstantPredictorLosesTheTargetVariance) {
  hnet::HostNetwork zero(16, 48);
  const auto first = hnet::evaluate({zero}, {});
  double mean = 0;
  for (float t : first.targets) mean += t;
  zero.b1 = static_cast<float>(mean / first.targets.size());
  const auto eval = hnet::evaluate({zero}, {});
  EXPECT_NEAR(eval.mse[0], 5.81, 0.05 * 5.81);
  EXPECT_NEAR(eval.normalised[0], 1.0, 0.05);
}

TEST(Handbuilt, DoubleSidedSlope16) { EXPECT_NEAR(fit(A::double_sided, 16).mse, 1.5e-3, 0.05 * 1.5e-3); }
TEST(Handbuilt, DoubleSidedSlope4) { EXPECT_NEAR(fit(A::double_sided, 4).mse, 3.7e-2, 0.05 * 3.7e-2); }
TEST(Handbuilt, PuddingMinusPoolBias20) { EXPECT_NEAR(fit(A::pudding_minus, 16, 20).mse, 1.5e-3, 0.05 * 1.5e-3); }
TEST(Handbuilt, PuddingMinusPoolBias10) { EXPECT_NEAR(fit(A::pudding_minus, 16, 10).mse, 2.3e-2, 0.05 * 2.3e-2); }

TEST(Handbuilt, PuddingPlusMirrorsPuddingMinus) {
  // Normal inputs are symmetric, so the mirror image is as good, up to sampling noise.
  const double minus = fit(A::pudding_minus, 16, 10).mse, plus = fit(A::pudding_plus, 16, 10).mse;
  EXPECT_NEAR(plus, minus, 0.15 * minus);
}

TEST(Handbuilt, ConvexityLandsInThePublishedRange) {
  for (std::uint64_t seed : {1, 2, 3}) {
    const auto r = fit(A::convexity, 16, 20, seed);
    EXPECT_GE(r.mse, 2.8) << "seed " << seed;
    EXPECT_LE(r.mse, 3.9) << "seed " << seed;
    for (float w : r.network.w1) EXPECT_GT(w, 0.0f) << "output weights must share one sign";
  }
}

TEST(Handbuilt, AlgorithmNamesRoundTrip) {
  for (A a : hnet::all_handbuilt_algorithms()) EXPECT_EQ(hnet::parse_handbuilt_algorithm(hnet::to_string(a)), a);
  EXPECT_FALSE(hnet::parse_handbuilt_algorithm("pudding").has_value());
}

TEST(Handbuilt, ShapesFollowN) {
  hnet::HandbuiltOptions o;
  o.n = 5;
  const auto net = hnet::build_handbuilt(o);
  EXPECT_EQ(net.n, 5);
  EXPECT_EQ(net.m, 15);
  EXPECT_EQ(net.weight0(2, 4), 16.0f);
  EXPECT_EQ(net.weight0(2, 5), -16.0f);
  EXPECT_EQ(net.weight0(2, 6), 0.0f);
}
