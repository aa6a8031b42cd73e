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
  EXPECT_DOUBLE_EQ(hnet::beta_range_high(t, 0).lower, 1) << "no second range without curriculum ends";
}

// Curriculum ends: [lo, lo + 1] and [hi − 1, hi] at once, both widening to meet at (lo + hi)/2.
// The draws cover both ranges (uniformly over their union) and nothing between them.
TEST(Schedule, CurriculumEndsHoldsBothEnds) {
  hnet::TrainConfig t = hnet::default_deck().train;
  t.log10_beta_min = -7, t.log10_beta_max = 1, t.curriculum_hold_steps = 100, t.curriculum_widen_steps = 400;
  t.curriculum_direction = hnet::CurriculumDirection::ends;
  t.batch_beta = 64;
  const auto expect_ranges = [&](std::int64_t step, double low_upper, double high_lower) {
    const hnet::BetaRange low = hnet::beta_range(t, step), high = hnet::beta_range_high(t, step);
    EXPECT_DOUBLE_EQ(low.lower, -7) << "step " << step;
    EXPECT_DOUBLE_EQ(low.upper, low_upper) << "step " << step;
    EXPECT_DOUBLE_EQ(high.lower, high_lower) << "step " << step;
    EXPECT_DOUBLE_EQ(high.upper, 1) << "step " << step;
    int in_low = 0, in_high = 0;
    for (const double b : hnet::draw_log10_betas(t, 3, step)) {
      const bool is_low = b >= -7 && b <= low_upper, is_high = b >= high_lower && b <= 1;
      EXPECT_TRUE(is_low || is_high) << "step " << step << ": " << b;
      in_low += is_low, in_high += is_high;
    }
    // Each range gets its share of the 64 draws (its length over the total), give or take.
    const double low_share = (low_upper + 7) / ((low_upper + 7) + (1 - high_lower));
    EXPECT_NEAR(in_low, 64 * low_share, 16) << "step " << step;
    EXPECT_GT(in_high, 0) << "step " << step;
  };
  expect_ranges(0, -6, 0), expect_ranges(99, -6, 0), expect_ranges(300, -4.5, -1.5), expect_ranges(500, -3, -3);
  expect_ranges(10000, -3, -3);
}

// Curriculum low_then_ends: [lo, lo + 1] alone through the hold (no draw above it), then the
// high range opens at [hi − 1, hi] and both widen to meet at (lo + hi)/2, as with ends.
TEST(Schedule, CurriculumLowThenEndsOpensTheHighRangeAfterTheHold) {
  hnet::TrainConfig t = hnet::default_deck().train;
  t.log10_beta_min = -7, t.log10_beta_max = 1, t.curriculum_hold_steps = 100, t.curriculum_widen_steps = 400;
  t.curriculum_direction = hnet::CurriculumDirection::low_then_ends;
  t.batch_beta = 64;
  for (const std::int64_t step : {0, 50, 99}) {
    EXPECT_DOUBLE_EQ(hnet::beta_range(t, step).upper, -6) << "step " << step;
    EXPECT_DOUBLE_EQ(hnet::beta_range_high(t, step).lower, 1) << "step " << step;
    for (const double b : hnet::draw_log10_betas(t, 3, step)) {
      EXPECT_GE(b, -7) << "step " << step;
      EXPECT_LE(b, -6) << "step " << step;
    }
  }
  const auto count_high = [&](std::int64_t step, double high_lower) {
    int in_high = 0;
    for (const double b : hnet::draw_log10_betas(t, 3, step)) in_high += b >= high_lower;
    return in_high;
  };
  EXPECT_DOUBLE_EQ(hnet::beta_range_high(t, 100).lower, 0);
  EXPECT_GT(count_high(100, 0), 0) << "the high range opens when the widening starts";
  EXPECT_DOUBLE_EQ(hnet::beta_range(t, 300).upper, -4.5);
  EXPECT_DOUBLE_EQ(hnet::beta_range_high(t, 300).lower, -1.5);
  EXPECT_DOUBLE_EQ(hnet::beta_range(t, 500).upper, -3);
  EXPECT_DOUBLE_EQ(hnet::beta_range_high(t, 500).lower, -3);
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

// train.sizes_hold_steps: target.n alone for the hold, then the same draws as without a hold.
TEST(Schedule, SizesHoldTrainsTargetSizeFirst) {
  hnet::Deck deck = hnet::default_deck();
  deck.target.n = 16, deck.train.sizes = {4, 8, 16}, deck.train.sizes_hold_steps = 50;
  for (std::int64_t step = 0; step < 50; ++step) ASSERT_EQ(hnet::step_size(deck, deck.train.sizes, 7, step), 16);
  int smaller = 0;
  for (std::int64_t step = 50; step < 200; ++step) {
    const std::int64_t n = hnet::step_size(deck, deck.train.sizes, 7, step);
    ASSERT_EQ(n, hnet::draw_size(deck.train.sizes, 7, step));
    smaller += n < 16;
  }
  EXPECT_GT(smaller, 50) << "the sizes are not drawn after the hold";
  deck.train.sizes_hold_steps = 0;
  EXPECT_EQ(hnet::step_size(deck, deck.train.sizes, 7, 3), hnet::draw_size(deck.train.sizes, 7, 3));
}

// train.sizes_widen_steps: after the hold the sizes come in by their distance from target.n, the
// farthest only when the widening ends; each step's draw is draw_size over the sizes in reach.
TEST(Schedule, SizesWidenFromTargetSize) {
  hnet::Deck deck = hnet::default_deck();
  deck.target.n = 16, deck.train.sizes = {4, 12, 14, 16, 18, 24}, deck.train.sizes_hold_steps = 10;
  deck.train.sizes_widen_steps = 120;  // farthest distance 12: reach ⌊12·(step − 9)/121⌋
  const auto reach = [&](std::int64_t step) { return hnet::sizes_within_reach(deck, deck.train.sizes, step); };
  using Sizes = std::vector<std::int64_t>;
  EXPECT_EQ(reach(10), (Sizes{16}));
  EXPECT_EQ(reach(29), (Sizes{16}));                   // reach 1
  EXPECT_EQ(reach(30), (Sizes{14, 16, 18}));           // reach 2
  EXPECT_EQ(reach(49), (Sizes{14, 16, 18}));           // reach 3
  EXPECT_EQ(reach(50), (Sizes{12, 14, 16, 18}));       // reach 4
  EXPECT_EQ(reach(89), (Sizes{12, 14, 16, 18}));       // reach 7
  EXPECT_EQ(reach(90), (Sizes{12, 14, 16, 18, 24}));   // reach 8
  EXPECT_EQ(reach(129), (Sizes{12, 14, 16, 18, 24}));  // reach 11
  EXPECT_EQ(reach(130), deck.train.sizes);
  std::map<std::int64_t, int> seen;
  for (std::int64_t step = 10; step < 400; ++step) {
    const std::int64_t n = hnet::step_size(deck, deck.train.sizes, 7, step);
    ASSERT_EQ(n, hnet::draw_size(reach(step), 7, step)) << "step " << step;
    if (step < 30) ASSERT_EQ(n, 16);
    if (step < 130) ASSERT_NE(n, 4) << "the farthest size came in before the widening ended";
    ++seen[n];
  }
  EXPECT_EQ(seen.size(), deck.train.sizes.size()) << "a size is never drawn";
  deck.train.sizes_widen_steps = 0;
  for (std::int64_t step = 10; step < 60; ++step)
    ASSERT_EQ(hnet::step_size(deck, deck.train.sizes, 7, step), hnet::draw_size(deck.train.sizes, 7, step));
}
