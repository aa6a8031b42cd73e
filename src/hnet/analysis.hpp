#pragma once
// Recognising the algorithm a generated network uses (model.md §9.1): order parameters read
// from θ alone, then the classification rule. Computed in double from the float weights so that
// the stored order parameters can be recomputed bit for bit from a saved network.
#include <cstdint>
#include <vector>

#include "hnet/deck.hpp"
#include "hnet/network.hpp"

namespace hnet {

enum class AlgorithmClass : int { trivial = 0, convexity = 1, double_sided = 2, pudding_minus = 3, pudding_plus = 4 };

// "trivial", "convexity", "double-sided", "pudding-minus", "pudding-plus" (the pudding and
// double-sided names match the hand-built networks'); "?" for a value outside the enum.
const char* to_string(AlgorithmClass algorithm_class);
std::vector<AlgorithmClass> all_algorithm_classes();

// The defaults are the reference deck's; thresholds_from() is how a run gets its own.
struct ClassifierThresholds {
  double trivial_loss = 0.9;        // normalised loss above which no algorithm is credited
  double convexity_o1 = 0.35;       // O1 below which the network is convexity
  double double_sided_o2 = 0.5;     // O2 above which it is double-sided
  double pudding_o3 = 0.0;          // O3 above which pudding is (−), else (+)
  double valley_kappa = 0.5;        // κ_j above which a unit can be a valley unit
  double valley_importance = 0.05;  // ... and c_j above this fraction of max c
};

ClassifierThresholds thresholds_from(const SweepConfig& sweep);

struct OrderParameters {
  double o1 = 0;           // specialisation Σ c_j κ_j / Σ c_j
  double o2 = 0;           // fraction of inputs with both a positive and a negative valley unit
  double o3 = 0;           // polarity Σ_valley c_j s_j / Σ_valley c_j
  double coverage = 0;     // fraction of inputs with at least one valley unit
  double duplication = 0;  // valley units per covered input
  std::int64_t valley_units = 0;
};

// Per hidden unit j: c_j = |W1[j]|·‖W0[:,j]‖₂; i*(j) = argmax_i |W0[i,j]| (ties: smallest i),
// s_j = sign W0[i*,j]; κ_j = W0[i*,j]² / Σ_i W0[i,j]². A unit is a valley unit if
// κ_j > valley_kappa and c_j > valley_importance · max c (both strict).
//
// Degenerate networks give zeros, never NaN: a unit with ‖W0[:,j]‖ = 0 gets κ_j = 1/n (the
// isotropic value; it has c_j = 0, so it never counts anyway); Σ c = 0 gives O1 = 0 and no
// valley units; no valley units give O3 = duplication = 0; n = 0 gives O2 = coverage = 0.
// Throws std::invalid_argument if the weight arrays do not match n, m or hold a non-finite value
// (a diverged network has no algorithm to read; its loss already makes it trivial).
OrderParameters order_parameters(const HostNetwork& net, const ClassifierThresholds& t);

// The rule of model.md §9.1, first match wins: normalised loss > trivial_loss → trivial;
// O1 < convexity_o1 → convexity; O2 > double_sided_o2 → double-sided; O3 > pudding_o3 →
// pudding (−); else pudding (+). A non-finite loss (diverged network) is trivial.
AlgorithmClass classify(double normalised_loss, const OrderParameters& op, const ClassifierThresholds& t);

}  // namespace hnet
