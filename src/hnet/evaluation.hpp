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

// The evaluation set for `batch` networks of size n → m, drawn once and reused by every run():
// a sweep evaluates thousands of batches on the same inputs.
class Evaluator {
 public:
  Evaluator(const EvaluationConfig& config, std::int64_t batch, std::int64_t n, std::int64_t m);
  // Runs every network (at most `batch`, all n → m) through the generated-MLP kernel, one launch.
  BatchEvaluation run(const std::vector<HostNetwork>& nets);

 private:
  EvaluationConfig config_;
  NetworkBatch nets_;
  View3<float> x_, z_;
  View2<float> y_, pred_;
  View1<double> loss_;
};

// One-off evaluation: an Evaluator for exactly these networks.
BatchEvaluation evaluate(const std::vector<HostNetwork>& nets, const EvaluationConfig& config);

}  // namespace hnet
