#pragma once
// What changes with the training step (model.md §7): the learning rate, the β range of the
// curriculum, the KL warm-up factor and the β values drawn for a step.
#include <cstdint>
#include <vector>

#include "hnet/deck.hpp"

namespace hnet {

// Linear warm-up over warmup_steps, then cosine decay to lr_final_fraction·lr at the last step.
double learning_rate(const TrainConfig& train, std::int64_t step);

// The log₁₀β sampling range [lower, upper] at this step. Curriculum up: [lo, lo + 1] for
// curriculum_hold_steps, then the upper end rises linearly to hi over curriculum_widen_steps;
// down: [hi − 1, hi], then the lower end falls to lo. Without the curriculum: [lo, hi].
// Curriculum ends samples two ranges at once, this one at the low end ([lo, lo + 1], its upper
// end rising to the middle (lo + hi)/2) and beta_range_high's at the top ([hi − 1, hi], its lower
// end falling to the middle), so that they meet at the end of the widening. Curriculum
// low_then_ends holds the low range alone and opens the high one when the widening starts.
struct BetaRange {
  double lower, upper;
};
BetaRange beta_range(const TrainConfig& train, std::int64_t step);
// The second range of curricula ends and low_then_ends (empty, [hi, hi], where there is none).
BetaRange beta_range_high(const TrainConfig& train, std::int64_t step);
double beta_upper(const TrainConfig& train, std::int64_t step);  // beta_range(...).upper

double kl_warmup_factor(const TrainConfig& train, std::int64_t step);

// log₁₀β of every network of the step (global indices 0..batch_beta−1), uniform in
// beta_range(step) (with curriculum ends: over the union of both ranges), from (seed, step) alone.
std::vector<double> draw_log10_betas(const TrainConfig& train, std::uint64_t seed, std::int64_t step);

// The input sizes n the networks are trained at: train.sizes, or target.n alone when it is empty.
std::vector<std::int64_t> training_sizes(const Deck& deck);

// The input size of every network of the step: one of `sizes`, uniformly, from (seed, step) alone.
std::int64_t draw_size(const std::vector<std::int64_t>& sizes, std::uint64_t seed, std::int64_t step);

// The sizes a step may draw during the widening (train.sizes_widen_steps = W after a hold of S
// steps): those of `sizes` within ⌊D·(step − S + 1)/(W + 1)⌋ of target.n, D the farthest size's
// distance, so the reach grows from the sizes nearest target.n to all of them; `sizes` itself
// outside the widening.
std::vector<std::int64_t> sizes_within_reach(const Deck& deck, const std::vector<std::int64_t>& sizes,
                                             std::int64_t step);

// The input size of the step: target.n for the first train.sizes_hold_steps steps, then draw_size
// over sizes_within_reach.
std::int64_t step_size(const Deck& deck, const std::vector<std::int64_t>& sizes, std::uint64_t seed,
                       std::int64_t step);

// The steps at which models are saved: `count` log-spaced steps in [1, steps], always including
// the last. Distinct and increasing.
std::vector<std::int64_t> saved_model_steps(std::int64_t steps, std::int64_t count);

}  // namespace hnet
