#include <gtest/gtest.h>

#include <cmath>

#include "hnet/evaluation.hpp"
#include "kernels/task_data.hpp"

namespace hk = hnet::kernels;

namespace {
struct Batch {
  Kokkos::View<float***, Kokkos::LayoutRight, Kokkos::HostSpace> x;
  Kokkos::View<float**, Kokkos::LayoutRight, Kokkos::HostSpace> y;
};

Batch draw(std::int64_t batch, std::int64_t samples, std::int64_t n, hk::TaskDataKeys keys,
           hk::InputKind input = hk::InputKind::normal, hk::NormKind norm = hk::NormKind::l1) {
  hnet::View3<float> x("hnet::test::x", batch, samples, n);
  hnet::View2<float> y("hnet::test::y", batch, samples);
  hk::task_data_forward(hnet::ExecSpace(), x, y, keys, input, norm);
  return {Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), x),
          Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), y)};
}
}  // namespace

TEST(TaskData, TargetsAreTheNormOfTheInputs) {
  for (hk::NormKind norm : {hk::NormKind::l1, hk::NormKind::l2sq, hk::NormKind::linf}) {
    const Batch d = draw(3, 50, 7, {}, hk::InputKind::normal, norm);
    for (int b = 0; b < 3; ++b)
      for (int s = 0; s < 50; ++s) {
        double expected = 0;
        for (int i = 0; i < 7; ++i) {
          const double v = d.x(b, s, i);
          if (norm == hk::NormKind::l1) expected += std::fabs(v);
          else if (norm == hk::NormKind::l2sq) expected += v * v;
          else expected = std::fmax(expected, std::fabs(v));
        }
        ASSERT_EQ(d.y(b, s), static_cast<float>(expected)) << "norm " << static_cast<int>(norm);
      }
  }
}

TEST(TaskData, L1TargetVarianceMatchesTheClosedForm) {
  const std::int64_t n = 16, samples = 40000;
  for (hk::InputKind input : {hk::InputKind::normal, hk::InputKind::uniform}) {
    const Batch d = draw(1, samples, n, {}, input);
    double mean = 0, sq = 0;
    for (int s = 0; s < samples; ++s) mean += d.y(0, s);
    mean /= samples;
    for (int s = 0; s < samples; ++s) sq += (d.y(0, s) - mean) * (d.y(0, s) - mean);
    const double expected = hnet::target_variance(input, hk::NormKind::l1, n);
    EXPECT_NEAR(sq / samples, expected, 0.03 * expected);
  }
  EXPECT_NEAR(hnet::target_variance(hk::InputKind::normal, hk::NormKind::l1, 16), 5.8141, 1e-3);
}

TEST(TaskData, UniformInputsStayInTheirInterval) {
  const Batch d = draw(2, 1000, 5, {}, hk::InputKind::uniform);
  double mean = 0;
  for (int b = 0; b < 2; ++b)
    for (int s = 0; s < 1000; ++s)
      for (int i = 0; i < 5; ++i) {
        ASSERT_GE(d.x(b, s, i), -1.0f);
        ASSERT_LE(d.x(b, s, i), 1.0f);
        mean += d.x(b, s, i);
      }
  EXPECT_NEAR(mean / 10000, 0.0, 0.03);
}

TEST(TaskData, SharedInputsAreTheSameForEveryNetwork) {
  hk::TaskDataKeys keys;
  keys.shared_inputs = true;
  const Batch d = draw(3, 20, 4, keys);
  for (int s = 0; s < 20; ++s)
    for (int i = 0; i < 4; ++i) {
      EXPECT_EQ(d.x(1, s, i), d.x(0, s, i));
      EXPECT_EQ(d.x(2, s, i), d.x(0, s, i));
    }
  const Batch fresh = draw(2, 20, 4, {});
  EXPECT_NE(fresh.x(0, 0, 0), fresh.x(1, 0, 0));
}

TEST(TaskData, AnOffsetBatchEqualsTheSliceOfALargerBatch) {
  // A rank that owns networks 3..4 of a step must draw exactly what one rank owning all would.
  hk::TaskDataKeys all;
  all.seed = 42, all.step = 17;
  const Batch whole = draw(5, 30, 6, all);
  hk::TaskDataKeys part = all;
  part.network_offset = 3;
  const Batch slice = draw(2, 30, 6, part);
  for (int b = 0; b < 2; ++b)
    for (int s = 0; s < 30; ++s) {
      ASSERT_EQ(slice.y(b, s), whole.y(b + 3, s));
      for (int i = 0; i < 6; ++i) ASSERT_EQ(slice.x(b, s, i), whole.x(b + 3, s, i));
    }
}

TEST(TaskData, StepAndSeedChangeTheDraw) {
  hk::TaskDataKeys a, b, c;
  b.step = 1;
  c.seed = 1;
  const Batch da = draw(1, 10, 3, a), db = draw(1, 10, 3, b), dc = draw(1, 10, 3, c);
  int same_step = 0, same_seed = 0;
  for (int s = 0; s < 10; ++s)
    for (int i = 0; i < 3; ++i) same_step += da.x(0, s, i) == db.x(0, s, i), same_seed += da.x(0, s, i) == dc.x(0, s, i);
  EXPECT_EQ(same_step, 0);
  EXPECT_EQ(same_seed, 0);
}
