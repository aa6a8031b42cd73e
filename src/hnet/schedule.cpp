#include "hnet/schedule.hpp"

#include <algorithm>
#include <cmath>

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

BetaRange beta_range(const TrainConfig& t, std::int64_t step) {
  const double lo = t.log10_beta_min, hi = t.log10_beta_max;
  if (!t.beta_curriculum) return {lo, hi};
  const bool down = t.curriculum_direction == CurriculumDirection::down;
  const double start = down ? std::max(lo, hi - 1.0) : std::min(hi, lo + 1.0), end = down ? lo : hi;
  double moving = end;  // the end of the range that moves: upper (up) or lower (down)
  if (step < t.curriculum_hold_steps) {
    moving = start;
  } else if (t.curriculum_widen_steps > 0) {
    const double progress = std::min(1.0, static_cast<double>(step - t.curriculum_hold_steps) /
                                              static_cast<double>(t.curriculum_widen_steps));
    moving = start + (end - start) * progress;
  }
  return down ? BetaRange{moving, hi} : BetaRange{lo, moving};
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
  for (std::int64_t b = 0; b < t.batch_beta; ++b) betas[b] = kernels::uniform(key, b, range.lower, range.upper);
  return betas;
}

std::vector<std::int64_t> training_sizes(const Deck& deck) {
  return deck.train.sizes.empty() ? std::vector<std::int64_t>{deck.target.n} : deck.train.sizes;
}

std::int64_t draw_size(const std::vector<std::int64_t>& sizes, std::uint64_t seed, std::int64_t step) {
  if (sizes.size() == 1) return sizes.front();
  const auto key = kernels::make_key(seed, kernels::Purpose::size_draws, static_cast<std::uint64_t>(step));
  const double count = static_cast<double>(sizes.size());
  const auto k = static_cast<std::size_t>(kernels::uniform(key, 0, 0.0, count));
  return sizes[std::min(k, sizes.size() - 1)];
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
