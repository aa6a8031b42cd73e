// What changes with the training step (src/hnet/schedule.hpp): the input size of a step's networks.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "hnet/deck.hpp"
#include "hnet/schedule.hpp"

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
