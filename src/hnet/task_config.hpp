#pragma once
// Translating the deck's task section into what the kernels take.
#include "hnet/deck.hpp"
#include "hnet/evaluation.hpp"

namespace hnet {

inline kernels::InputKind input_kind(InputDistribution input) {
  return input == InputDistribution::uniform ? kernels::InputKind::uniform : kernels::InputKind::normal;
}

inline kernels::NormKind norm_kind(TargetNorm target) {
  switch (target) {
    case TargetNorm::l1: return kernels::NormKind::l1;
    case TargetNorm::l2sq: return kernels::NormKind::l2sq;
    case TargetNorm::linf: return kernels::NormKind::linf;
  }
  return kernels::NormKind::l1;
}

inline EvaluationConfig evaluation_config(const TaskConfig& task) {
  EvaluationConfig config;
  config.input = input_kind(task.input);
  config.norm = norm_kind(task.target);
  config.samples = task.eval_size;
  config.seed = task.eval_seed;
  return config;
}

}  // namespace hnet
