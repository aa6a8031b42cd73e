#pragma once
// Evaluating generated networks on the fixed evaluation set of model.md §8: the same inputs for
// every network, drawn from (eval_seed) alone.
#include <cstdint>
#include <vector>

#include "hnet/network.hpp"
#include "kernels/task_data.hpp"

namespace hnet {

struct EvaluationConfig {
  kernels::InputKind input = kernels::InputKind::normal;
  kernels::NormKind norm = kernels::NormKind::l1;
  std::int64_t samples = 16384;
  std::uint64_t seed = 20231205;
};

// Var of the target under the input distribution (model.md §1), the loss of the best constant
// predictor; 0 where no closed form exists (linf), in which case evaluate() uses the sample variance.
double target_variance(kernels::InputKind input, kernels::NormKind norm, std::int64_t n);

struct BatchEvaluation {
  std::vector<double> mse;                // per network
  std::vector<double> normalised;         // mse / target variance
  std::vector<std::vector<float>> predictions;  // per network, per evaluation sample
  std::vector<float> targets;             // per evaluation sample
  double target_variance = 0.0;
};

// Runs every network on the evaluation set through the generated-MLP kernel (one launch).
BatchEvaluation evaluate(const std::vector<HostNetwork>& nets, const EvaluationConfig& config);

}  // namespace hnet
