#include "hnet/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "kernels/random.hpp"

namespace hnet {

double learning_rate(const TrainConfig& t, std::int64_t step) {
  const double pi = 3.14159265358979323846;
  if (step < t.warmup_steps) return t.lr * static_cast<double>(step + 1) / static_cast<double>(t.warmup_steps);
  const double span = std::max<std::int64_t>(1, t.steps - t.warmup_steps);
  const double progress = std::min(1.0, static_cast<double>(step - t.warmup_steps) / span);
  const double cosine = 0.5 * (1.0 + std::cos(pi * progress));
  return t.lr * (t.lr_final_fraction + (1.0 - t.lr_final_fraction) * cosine);
}

namespace {

// The curriculum's moving end at this step: `start` during the hold, then linearly to `end`.
double moving_end(const TrainConfig& t, std::int64_t step, double start, double end) {
  if (step < t.curriculum_hold_steps) return start;
  if (t.curriculum_widen_steps <= 0) return end;
  const double progress = std::min(1.0, static_cast<double>(step - t.curriculum_hold_steps) /
                                            static_cast<double>(t.curriculum_widen_steps));
  return start + (end - start) * progress;
}

bool two_ranges(const TrainConfig& t) {
  return t.beta_curriculum && (t.curriculum_direction == CurriculumDirection::ends ||
                               t.curriculum_direction == CurriculumDirection::low_then_ends);
}

}  // namespace

BetaRange beta_range(const TrainConfig& t, std::int64_t step) {
  const double lo = t.log10_beta_min, hi = t.log10_beta_max;
  if (!t.beta_curriculum) return {lo, hi};
  switch (t.curriculum_direction) {
    case CurriculumDirection::up: return {lo, moving_end(t, step, std::min(hi, lo + 1.0), hi)};
    case CurriculumDirection::down: return {moving_end(t, step, std::max(lo, hi - 1.0), lo), hi};
    case CurriculumDirection::ends:
    case CurriculumDirection::low_then_ends: {
      const double middle = 0.5 * (lo + hi);
      return {lo, moving_end(t, step, std::min(middle, lo + 1.0), middle)};
    }
  }
  return {lo, hi};
}

BetaRange beta_range_high(const TrainConfig& t, std::int64_t step) {
  const double lo = t.log10_beta_min, hi = t.log10_beta_max;
  if (!two_ranges(t)) return {hi, hi};
  // low_then_ends: the low range alone during the hold; the high one opens when the widening starts.
  if (t.curriculum_direction == CurriculumDirection::low_then_ends && step < t.curriculum_hold_steps) return {hi, hi};
  const double middle = 0.5 * (lo + hi);
  return {moving_end(t, step, std::max(middle, hi - 1.0), middle), hi};
}

double beta_upper(const TrainConfig& t, std::int64_t step) { return beta_range(t, step).upper; }

double kl_warmup_factor(const TrainConfig& t, std::int64_t step) {
  if (t.kl_warmup_steps <= 0) return 1.0;
  return std::min(1.0, static_cast<double>(step + 1) / static_cast<double>(t.kl_warmup_steps));
}

std::vector<double> draw_log10_betas(const TrainConfig& t, std::uint64_t seed, std::int64_t step) {
  const auto key = kernels::make_key(seed, kernels::Purpose::beta_draws, static_cast<std::uint64_t>(step));
  const BetaRange range = beta_range(t, step);
  std::vector<double> betas(t.batch_beta);
  if (!two_ranges(t)) {
    for (std::int64_t b = 0; b < t.batch_beta; ++b) betas[b] = kernels::uniform(key, b, range.lower, range.upper);
    return betas;
  }
  // Uniform over the union: one draw over both lengths, placed in the low range or the high one.
  const BetaRange high = beta_range_high(t, step);
  const double low_length = range.upper - range.lower, high_length = high.upper - high.lower;
  for (std::int64_t b = 0; b < t.batch_beta; ++b) {
    const double x = kernels::uniform(key, b, 0.0, low_length + high_length);
    betas[b] = x < low_length ? range.lower + x : high.lower + (x - low_length);
  }
  return betas;
}

std::vector<std::int64_t> training_sizes(const Deck& deck) {
  return deck.train.sizes.empty() ? std::vector<std::int64_t>{deck.target.n} : deck.train.sizes;
}

namespace {

// How far from target.n the sizes reach at `step` of the widening (the farthest size's distance
// outside it). Integer arithmetic: the same on every machine, and the farthest size comes in only
// when the widening ends.
std::int64_t size_reach(const Deck& deck, const std::vector<std::int64_t>& sizes, std::int64_t step) {
  const std::int64_t n = deck.target.n, widen = deck.train.sizes_widen_steps;
  const std::int64_t since = step - deck.train.sizes_hold_steps;
  std::int64_t farthest = 0;
  for (const std::int64_t s : sizes) farthest = std::max(farthest, std::abs(s - n));
  if (widen <= 0 || since >= widen) return farthest;
  return farthest * (since + 1) / (widen + 1);
}

// Index k < count, uniformly, from (seed, step) alone: draw_size's draw.
std::size_t draw_index(std::size_t count, std::uint64_t seed, std::int64_t step) {
  if (count == 1) return 0;
  const auto key = kernels::make_key(seed, kernels::Purpose::size_draws, static_cast<std::uint64_t>(step));
  const auto k = static_cast<std::size_t>(kernels::uniform(key, 0, 0.0, static_cast<double>(count)));
  return std::min(k, count - 1);
}

}  // namespace

std::vector<std::int64_t> sizes_within_reach(const Deck& deck, const std::vector<std::int64_t>& sizes,
                                             std::int64_t step) {
  const std::int64_t reach = size_reach(deck, sizes, step);
  std::vector<std::int64_t> out;
  for (const std::int64_t s : sizes)
    if (std::abs(s - deck.target.n) <= reach) out.push_back(s);
  return out;
}

// The widening's draw without building the list in reach (no allocation in a step): the k-th size
// in reach, k drawn as draw_size draws it over that list.
std::int64_t step_size(const Deck& deck, const std::vector<std::int64_t>& sizes, std::uint64_t seed,
                       std::int64_t step) {
  if (step < deck.train.sizes_hold_steps) return deck.target.n;
  // Without a widening every size is in reach: draw_size's draw over the whole list.
  const std::int64_t n = deck.target.n, reach = size_reach(deck, sizes, step);
  const auto in_reach = [n, reach](std::int64_t s) { return std::abs(s - n) <= reach; };
  const auto count = static_cast<std::size_t>(std::count_if(sizes.begin(), sizes.end(), in_reach));
  std::size_t k = draw_index(count, seed, step);
  for (const std::int64_t s : sizes)
    if (in_reach(s) && k-- == 0) return s;
  return n;  // not reached: target.n is in reach (a deck check)
}

std::int64_t draw_size(const std::vector<std::int64_t>& sizes, std::uint64_t seed, std::int64_t step) {
  return sizes[draw_index(sizes.size(), seed, step)];
}

std::vector<std::int64_t> saved_model_steps(std::int64_t steps, std::int64_t count) {
  std::vector<std::int64_t> out;
  if (steps <= 0 || count <= 0) return out;
  for (std::int64_t k = 0; k < count; ++k) {
    const double fraction = count == 1 ? 1.0 : static_cast<double>(k) / static_cast<double>(count - 1);
    const auto s = static_cast<std::int64_t>(std::llround(std::pow(static_cast<double>(steps), fraction)));
    if (out.empty() || s > out.back()) out.push_back(std::min(s, steps));
  }
  if (out.back() != steps) out.push_back(steps);
  return out;
}

}  // namespace hnet
