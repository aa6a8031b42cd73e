#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "mlp_case.hpp"

using namespace hnet::testing;

TEST(GeneratedMlp, ForwardMatchesTheHostReference) {
  MlpCase<double> c(3, 17, 5, 7, 1);
  const std::vector<double> loss = c.forward();
  for (std::int64_t b = 0; b < c.batch; ++b) EXPECT_NEAR(loss[b], reference_loss(c, b), 1e-12 * (1 + loss[b]));
}

TEST(GeneratedMlp, FloatForwardAgreesWithDouble) {
  MlpCase<double> cd(2, 64, 8, 24, 3);
  MlpCase<float> cf(2, 64, 8, 24, 3);
  const auto ld = cd.forward(), lf = cf.forward();
  for (int b = 0; b < 2; ++b) EXPECT_NEAR(lf[b], ld[b], 1e-4 * ld[b]);
}

TEST(GeneratedMlp, BatchEqualsItsMembersRunAlone) {
  MlpCase<float> all(4, 33, 6, 18, 11);
  const auto loss_all = all.forward();
  all.backward({1.0, 1.0, 1.0, 1.0});
  const auto dw0_all = to_host(all.dw0);
  for (std::int64_t b = 0; b < 4; ++b) {
    MlpCase<float> one(1, 33, 6, 18, 0);
    auto sub3 = [b](auto& dst, auto& src) {
      for (std::size_t k = 0; k < dst.extent(1); ++k)
        for (std::size_t l = 0; l < dst.extent(2); ++l) dst(0, k, l) = src(b, k, l);
    };
    auto sub2 = [b](auto& dst, auto& src) {
      for (std::size_t k = 0; k < dst.extent(1); ++k) dst(0, k) = src(b, k);
    };
    sub3(one.hx, all.hx), sub3(one.hw0, all.hw0), sub2(one.hy, all.hy), sub2(one.hb0, all.hb0), sub2(one.hw1, all.hw1);
    one.hb1(0) = all.hb1(b);
    const auto loss_one = one.forward();
    one.backward({1.0});
    const auto dw0_one = to_host(one.dw0);
    EXPECT_EQ(loss_one[0], loss_all[b]);
    const std::size_t block = dw0_one.size();
    EXPECT_EQ(std::memcmp(dw0_one.data(), dw0_all.data() + b * block, block * sizeof(double)), 0);
  }
}

TEST(GeneratedMlp, TwoRunsAreBitIdentical) {
  std::vector<double> first, second;
  for (auto* out : {&first, &second}) {
    MlpCase<float> c(5, 129, 8, 24, 21);
    const auto loss = c.forward();
    c.backward({0.5, -0.25, 1.0, 2.0, -1.0});
    *out = loss;
    for (auto v : {to_host(c.dw0), to_host(c.db0), to_host(c.dw1), to_host(c.db1)}) out->insert(out->end(), v.begin(), v.end());
  }
  ASSERT_EQ(first.size(), second.size());
  EXPECT_EQ(std::memcmp(first.data(), second.data(), first.size() * sizeof(double)), 0);
}
