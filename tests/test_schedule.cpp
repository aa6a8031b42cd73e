// What changes with the training step (src/hnet/schedule.hpp): the β range of the curriculum and
// the input size of a step's networks.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "hnet/deck.hpp"
#include "hnet/schedule.hpp"

// The curriculum's range: up holds [lo, lo + 1] and raises the upper end; down holds [hi − 1, hi]
// and lowers the lower end; off is [lo, hi]. Every draw lies in the step's range.
TEST(Schedule, CurriculumRangeRisesOrFalls) {
  hnet::TrainConfig t = hnet::default_deck().train;
  t.log10_beta_min = -7, t.log10_beta_max = 1, t.curriculum_hold_steps = 100, t.curriculum_widen_steps = 400;
  const auto expect_range = [&](std::int64_t step, double lower, double upper) {
    const hnet::BetaRange r = hnet::beta_range(t, step);
    EXPECT_DOUBLE_EQ(r.lower, lower) << "step " << step;
    EXPECT_DOUBLE_EQ(r.upper, upper) << "step " << step;
    EXPECT_DOUBLE_EQ(hnet::beta_upper(t, step), upper);
    for (const double b : hnet::draw_log10_betas(t, 3, step)) {
      EXPECT_GE(b, lower) << "step " << step;
      EXPECT_LE(b, upper) << "step " << step;
    }
  };
  t.curriculum_direction = hnet::CurriculumDirection::up;
  expect_range(0, -7, -6), expect_range(99, -7, -6), expect_range(300, -7, -2.5), expect_range(500, -7, 1);
  expect_range(10000, -7, 1);
  t.curriculum_direction = hnet::CurriculumDirection::down;
  expect_range(0, 0, 1), expect_range(99, 0, 1), expect_range(300, -3.5, 1), expect_range(500, -7, 1);
  t.curriculum_widen_steps = 0;
  expect_range(100, -7, 1);
  t.beta_curriculum = false;
  expect_range(0, -7, 1);
}

TEST(Schedule, TrainingSizesDefaultToTheTargetSize) {
  hnet::Deck deck = hnet::default_deck();
  EXPECT_EQ(hnet::training_sizes(deck), (std::vector<std::int64_t>{deck.target.n}));
  deck.train.sizes = {8, 12, 16};
  EXPECT_EQ(hnet::training_sizes(deck), (std::vector<std::int64_t>{8, 12, 16}));
}

// Every size is drawn, about equally often, and the draw depends on (seed, step) alone.
TEST(Schedule, SizeDrawsAreUniformAndReproducible) {
  const std::vector<std::int64_t> sizes = {8, 12, 16};
  std::map<std::int64_t, int> count;
  for (std::int64_t step = 0; step < 3000; ++step) {
    const std::int64_t n = hnet::draw_size(sizes, 7, step);
    ++count[n];
    ASSERT_EQ(n, hnet::draw_size(sizes, 7, step));
  }
  ASSERT_EQ(count.size(), 3u);
  for (const auto& [n, c] : count) EXPECT_NEAR(c, 1000, 120) << "size " << n;
  int differ = 0;
  for (std::int64_t step = 0; step < 100; ++step) differ += hnet::draw_size(sizes, 7, step) != hnet::draw_size(sizes, 8, step);
  EXPECT_GT(differ, 30) << "the run seed does not change the draws";
  EXPECT_EQ(hnet::draw_size({16}, 7, 5), 16);
}
