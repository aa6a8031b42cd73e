#pragma once
// The hand-built reference networks of model.md §9: what each algorithm looks like when written
// by hand, used to check the evaluation kernels and, later, the classifier.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hnet/evaluation.hpp"
#include "hnet/network.hpp"

namespace hnet {

enum class HandbuiltAlgorithm { double_sided, pudding_minus, pudding_plus, convexity };

const char* to_string(HandbuiltAlgorithm algorithm);
std::optional<HandbuiltAlgorithm> parse_handbuilt_algorithm(const std::string& name);
std::vector<HandbuiltAlgorithm> all_handbuilt_algorithms();

struct HandbuiltOptions {
  HandbuiltAlgorithm algorithm = HandbuiltAlgorithm::double_sided;
  std::int64_t n = 16;
  std::int64_t hidden_ratio = 3;  // m = hidden_ratio * n
  double slope = 16.0;            // a: valley weights ±a, their output weights 1/a or 2/a
  double pool_bias = 20.0;        // pudding: bias of the pool unit
  double pool_weight = 1.0;       // pudding: |weight| from every input into the pool unit
  std::uint64_t seed = 1;         // convexity: draw of the random directions
};

struct HandbuiltResult {
  HostNetwork network;  // with the fitted output bias (and, for convexity, output weight)
  double mse = 0.0;
  double normalised = 0.0;
  double scale = 0.0;  // convexity: the best scale of the random directions; else the slope
};

// Builds the network with b1 = 0 (convexity: at the given direction scale, output weights 1).
HostNetwork build_handbuilt(const HandbuiltOptions& options, double convexity_scale = 1.0);

// Builds, fits the output bias (convexity: output weight, bias and direction scale) on the
// evaluation set, and evaluates the final network through the kernels.
HandbuiltResult fit_handbuilt(const HandbuiltOptions& options, const EvaluationConfig& evaluation);

}  // namespace hnet
